"""Mantel-Haenszel and Peto pooling (``stats.sparse``) on tables small enough to do by hand.

metafor's ``rma.mh`` and ``rma.peto`` values are compared in ``test_metafor_parity_engine.py``.
Here: one 2x2 table, where each pooled estimator is that table's own estimate and each
variance formula reduces to the textbook one; identical tables, whose pool is the table with
1/k of its variance and no heterogeneity; and zero cells, which the raw-count estimators pool
without a continuity correction.
"""

from __future__ import annotations

import numpy as np
import pytest

from ketamine_meta.stats.distributions import norm_sf
from ketamine_meta.stats.sparse import mantel_haenszel, peto

#: One table: 6 of 10 events under treatment, 2 of 10 under control.
A, N1, C, N2 = 6, 10, 2, 10
B, D = N1 - A, N2 - C


def test_one_table_odds_ratio_and_woolf_variance():
    """Robins-Breslow-Greenland for one table: 1/a + 1/b + 1/c + 1/d."""
    result = mantel_haenszel([A], [N1], [C], [N2], "OR")
    assert result.estimate == pytest.approx(np.log(A * D / (B * C)), rel=1e-12)
    assert result.se == pytest.approx(np.sqrt(1 / A + 1 / B + 1 / C + 1 / D), rel=1e-12)
    assert (result.k, result.q, result.q_p, result.i2, result.h2) == (1, 0.0, 1.0, 0.0, 1.0)
    assert (result.measure, result.method) == ("OR", "MH")


def test_one_table_risk_ratio_and_its_variance():
    """Greenland-Robins for one table: 1/a - 1/n1 + 1/c - 1/n2."""
    result = mantel_haenszel([A], [N1], [C], [N2], "RR")
    assert result.estimate == pytest.approx(np.log((A / N1) / (C / N2)), rel=1e-12)
    assert result.se == pytest.approx(np.sqrt(1 / A - 1 / N1 + 1 / C - 1 / N2), rel=1e-12)


def test_one_table_risk_difference_and_its_binomial_variance():
    """Sato's variance for one table: p1 (1 - p1) / n1 + p2 (1 - p2) / n2 = 0.024 + 0.016."""
    result = mantel_haenszel([A], [N1], [C], [N2], "RD")
    assert result.estimate == pytest.approx(0.4, rel=1e-12)
    assert result.se == pytest.approx(0.2, rel=1e-12)


def test_one_table_peto_odds_ratio():
    """E = 8 x 10/20 = 4, V = 8 x 12 x (1/2)(1/2) / 19 = 24/19: log OR = 2 / V = 19/12."""
    result = peto([A], [N1], [C], [N2])
    assert result.estimate == pytest.approx(19 / 12, rel=1e-12)
    assert result.se == pytest.approx(np.sqrt(19 / 24), rel=1e-12)
    assert (result.measure, result.method) == ("OR", "Peto")


def test_the_interval_and_test_are_wald_at_the_level():
    result = mantel_haenszel([A], [N1], [C], [N2], "OR", level=0.9)
    z = 1.6448536269514722
    assert result.ci_low == pytest.approx(result.estimate - z * result.se, rel=1e-12)
    assert result.ci_high == pytest.approx(result.estimate + z * result.se, rel=1e-12)
    assert result.statistic == pytest.approx(result.estimate / result.se, rel=1e-12)
    assert result.pval == pytest.approx(2 * norm_sf(result.statistic), rel=1e-12)


@pytest.mark.parametrize("measure", ["OR", "RR", "RD"])
def test_k_identical_tables_pool_to_the_table_with_a_kth_of_its_variance(measure):
    one = mantel_haenszel([A], [N1], [C], [N2], measure)
    three = mantel_haenszel([A] * 3, [N1] * 3, [C] * 3, [N2] * 3, measure)
    assert three.estimate == pytest.approx(one.estimate, rel=1e-12)
    assert three.se == pytest.approx(one.se / np.sqrt(3), rel=1e-12)
    assert three.k == 3
    assert three.q == pytest.approx(0.0, abs=1e-12)
    assert three.i2 == 0.0


def test_identical_tables_under_peto_have_no_heterogeneity():
    result = peto([A] * 4, [N1] * 4, [C] * 4, [N2] * 4)
    assert result.estimate == pytest.approx(19 / 12, rel=1e-12)
    assert result.se == pytest.approx(np.sqrt(19 / 24 / 4), rel=1e-12)
    assert result.q == pytest.approx(0.0, abs=1e-12)


def test_a_zero_cell_needs_no_correction_for_the_pooled_odds_ratio():
    """0/10 vs 2/10 and 3/10 vs 5/10: (0 + 3 x 5/20) / (10 x 2/20 + 7 x 5/20) = 3/11."""
    result = mantel_haenszel([0, 3], [10, 10], [2, 5], [10, 10], "OR")
    assert np.exp(result.estimate) == pytest.approx(3 / 11, rel=1e-12)
    assert np.isfinite(result.se) and result.k == 2


def test_a_table_without_events_changes_the_pool_but_not_the_heterogeneity_count():
    """0/10 vs 0/10 adds nothing to the MH sums or to Peto's; it is left out of Q's k."""
    counts = ([0, 3], [10, 10], [2, 5], [10, 10])
    with_empty = ([0, 3, 0], [10, 10, 10], [2, 5, 0], [10, 10, 10])
    for pool in (lambda *c: mantel_haenszel(*c, "OR"), peto):
        plain, padded = pool(*counts), pool(*with_empty)
        assert padded.estimate == pytest.approx(plain.estimate, rel=1e-12)
        assert padded.se == pytest.approx(plain.se, rel=1e-12)
        assert padded.q == pytest.approx(plain.q, rel=1e-12)
        assert padded.k == plain.k == 2


def test_swapping_the_arms_negates_the_log_odds_ratio():
    events1, n1, events2, n2 = [6, 3, 1], [10, 12, 9], [2, 5, 0], [10, 11, 8]
    for pool in (lambda *c: mantel_haenszel(*c, "OR"), peto):
        forward, swapped = pool(events1, n1, events2, n2), pool(events2, n2, events1, n1)
        assert swapped.estimate == pytest.approx(-forward.estimate, rel=1e-12)
        assert swapped.se == pytest.approx(forward.se, rel=1e-12)


def test_an_unknown_measure_is_refused():
    with pytest.raises(ValueError, match="unknown measure 'HR'"):
        mantel_haenszel([A], [N1], [C], [N2], "HR")
