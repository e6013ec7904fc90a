"""Small-study effects (``stats.publication_bias``) on funnels whose answers are known.

metafor's ``regtest``, ``ranktest`` and ``trimfill`` values are compared in
``test_metafor_parity_engine.py``. Here: a funnel symmetric about its centre at every
precision has no Egger slope and its centre as the limit estimate; points on a line give
the line's intercept; a perfect rank order has Kendall's tau 1 and the exact p-value
2 / k!; trim-and-fill mirrors what it trims about the trimmed estimate.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ketamine_meta.stats.meta_analysis import random_effects
from ketamine_meta.stats.publication_bias import (
    egger_test,
    funnel_data,
    rank_correlation_test,
    trim_and_fill,
)

#: Two studies at each standard error, at the same distance above and below the centre.
SEI = np.array([0.1, 0.1, 0.2, 0.2, 0.3, 0.3])
DEVIATION = np.array([0.05, -0.05, 0.2, -0.2, 0.1, -0.1])
#: A funnel missing its lower left: the small studies all show large effects.
Y_ASYMMETRIC = np.array([0.1, 0.2, 0.3, 0.35, 0.5, 0.7, 0.9])
V_ASYMMETRIC = np.array([0.01, 0.015, 0.02, 0.03, 0.05, 0.08, 0.1])


@pytest.mark.parametrize("centre", [0.0, 0.3])
@pytest.mark.parametrize(("method", "test"), [("REML", "knha"), ("DL", "z"), ("PM", "adhoc")])
def test_a_symmetric_funnel_has_no_slope_and_its_centre_as_limit(centre, method, test):
    """At each SE the weighted mean is the centre: the regression on SE is flat through it."""
    result = egger_test(random_effects(centre + DEVIATION, SEI**2, method, test))
    assert result.statistic == pytest.approx(0.0, abs=1e-12)
    assert result.pval == pytest.approx(1.0, abs=1e-12)
    assert result.limit_estimate == pytest.approx(centre, abs=1e-12)
    assert result.limit_ci_low < centre < result.limit_ci_high
    assert result.df == 4.0 if test != "z" else math.isnan(result.df)


def test_points_on_a_line_give_its_intercept_as_the_limit_estimate():
    """y = 0.2 + 1.5 SE exactly: tau^2 = 0 and the limit (SE -> 0) is 0.2."""
    result = egger_test(random_effects(0.2 + 1.5 * SEI, SEI**2, "DL", "z"))
    assert result.limit_estimate == pytest.approx(0.2, rel=1e-12)
    assert result.statistic > 0  # the slope is positive: small studies show more


def test_the_funnel_region_is_the_estimate_plus_minus_z_standard_errors():
    frame = funnel_data([0.1, 0.5], [0.04, 0.25], estimate=0.3, level=0.95)
    z = 1.959963984540054
    np.testing.assert_allclose(frame["sei"], [0.2, 0.5])
    np.testing.assert_allclose(frame["funnel_low"], [0.3 - 0.2 * z, 0.3 - 0.5 * z], rtol=1e-14)
    np.testing.assert_allclose(frame["funnel_high"], [0.3 + 0.2 * z, 0.3 + 0.5 * z], rtol=1e-14)
    assert list(frame["yi"]) == [0.1, 0.5]
    narrower = funnel_data([0.1], [0.04], estimate=0.3, level=0.9)
    assert narrower["funnel_high"].iloc[0] == pytest.approx(0.3 + 0.2 * 1.6448536269514722)


@pytest.mark.parametrize("direction", [1, -1])
def test_a_perfect_rank_order_has_tau_one_and_exact_p_two_over_k_factorial(direction):
    """The standardized deviates rise with the variance (or fall): tau = +-1 and, with no
    ties and k < 50, the exact two-sided p is 2 / 5! = 1/60."""
    y = direction * np.array([-1.0, 0.0, 1.0, 2.0, 3.0])
    tau, pval = rank_correlation_test(y, [0.1, 0.2, 0.3, 0.4, 0.5])
    assert tau == pytest.approx(direction, abs=1e-12)
    assert pval == pytest.approx(2 / math.factorial(5), rel=1e-12)


def test_trim_and_fill_mirrors_the_trimmed_studies_about_the_trimmed_estimate():
    fit = random_effects(Y_ASYMMETRIC, V_ASYMMETRIC, "REML", "knha")
    result = trim_and_fill(fit)
    k0 = result.k0
    assert result.side == "left" and k0 > 0
    # The k0 largest estimates are trimmed; the model refitted to the rest (by Wald z) is the
    # centre about which they are mirrored, with their own variances.
    centre = random_effects(Y_ASYMMETRIC[:-k0], V_ASYMMETRIC[:-k0], "REML", "z").estimate
    np.testing.assert_allclose(result.filled_yi, 2 * centre - Y_ASYMMETRIC[-k0:], rtol=1e-9)
    np.testing.assert_array_equal(result.filled_vi, V_ASYMMETRIC[-k0:])
    # The filled model pools the observed and the imputed studies, by the fit's estimator
    # with Wald z, and moves towards the missing side.
    refit = random_effects(
        np.append(Y_ASYMMETRIC, result.filled_yi),
        np.append(V_ASYMMETRIC, result.filled_vi),
        "REML",
        "z",
    )
    assert result.filled.k == Y_ASYMMETRIC.size + k0
    assert (result.filled.model.method, result.filled.model.test) == ("REML", "z")
    assert result.filled.estimate == pytest.approx(refit.estimate, rel=1e-12)
    assert result.filled.estimate < fit.estimate


@pytest.mark.parametrize("estimator", ["L0", "R0"])
def test_a_reflected_funnel_is_filled_on_the_other_side(estimator):
    """-y: the same studies trimmed, on the right, and every filled number negated."""
    left = trim_and_fill(random_effects(Y_ASYMMETRIC, V_ASYMMETRIC, "REML", "knha"), estimator)
    right = trim_and_fill(random_effects(-Y_ASYMMETRIC, V_ASYMMETRIC, "REML", "knha"), estimator)
    assert (left.side, right.side) == ("left", "right")
    assert right.k0 == left.k0 > 0
    assert right.se_k0 == pytest.approx(left.se_k0, rel=1e-12)
    np.testing.assert_allclose(right.filled_yi, -left.filled_yi, rtol=1e-9)
    assert right.filled.estimate == pytest.approx(-left.filled.estimate, rel=1e-9)


def test_a_side_given_is_the_side_filled():
    """Forced to the right of this funnel, where the small studies are not missing: nothing."""
    fit = random_effects(Y_ASYMMETRIC, V_ASYMMETRIC, "REML", "knha")
    result = trim_and_fill(fit, side="right")
    assert (result.side, result.k0) == ("right", 0)
    assert trim_and_fill(fit, side="left").k0 == trim_and_fill(fit).k0 > 0


@pytest.mark.parametrize("estimator", ["L0", "R0"])
def test_a_funnel_with_nothing_missing_is_returned_as_it_is(estimator):
    """Deviations of 0.1, 0.2 and 0.3 each way about 0.3, in an order whose signed ranks call
    for no study under either estimator: k0 = 0, and the fit itself is returned."""
    y = np.array([0.4, 0.2, 0.1, 0.5, 0.0, 0.6])
    fit = random_effects(y, [0.01, 0.02, 0.03, 0.04, 0.05, 0.06], "DL", "z")
    result = trim_and_fill(fit, estimator)
    assert result.k0 == 0
    assert result.filled is fit
    assert result.filled_yi.size == result.filled_vi.size == 0


def test_trim_and_fill_needs_two_studies():
    with pytest.raises(ValueError, match="at least 2 studies"):
        trim_and_fill(random_effects([0.3], [0.04]))
