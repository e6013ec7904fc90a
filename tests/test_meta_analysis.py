"""Unit and property tests of the random-effects engine (metafor values: test_metafor_parity)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketamine_meta.stats.meta_analysis import (
    SUBGROUP_TEST_LABEL,
    combine_within_clusters,
    i2_h2_from_q,
    percent_weights,
    pool_by_subgroup,
    random_effects,
    tau2_estimate,
)

studies = st.lists(
    st.tuples(st.floats(-2, 2, allow_nan=False), st.floats(0.005, 1.0, allow_nan=False)),
    min_size=2,
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(studies, st.randoms(use_true_random=False))
def test_reordering_studies_changes_nothing(data, rnd):
    yi, vi = map(np.array, zip(*data, strict=True))
    order = list(range(len(yi)))
    rnd.shuffle(order)
    a, b = random_effects(yi, vi), random_effects(yi[order], vi[order])
    for field in ("estimate", "se", "ci_low", "ci_high", "pi_low", "pi_high", "tau2", "q"):
        assert getattr(b, field) == pytest.approx(getattr(a, field), rel=1e-7, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(studies)
def test_tau2_estimators_are_non_negative(data):
    yi, vi = map(np.array, zip(*data, strict=True))
    for method in ("REML", "DL", "PM", "ML", "SJ", "EB"):
        assert tau2_estimate(yi, vi, method) >= 0, method


def test_identical_estimates_give_zero_heterogeneity():
    fit = random_effects([0.3, 0.3, 0.3], [0.01, 0.02, 0.03])
    assert fit.tau2 == 0
    assert fit.q == pytest.approx(0)
    assert fit.estimate == pytest.approx(0.3)


def test_single_study_is_reported_not_pooled():
    # metafor: k = 1 sets test = "z", tau^2 = 0, and the PI equals the CI.
    fit = random_effects([0.5], [0.04])
    assert (fit.k, fit.tau2, fit.test) == (1, 0.0, "z")
    assert fit.ci_low == pytest.approx(0.5 - 1.959964 * 0.2, rel=1e-6)
    assert (fit.pi_low, fit.pi_high) == (fit.ci_low, fit.ci_high)


@pytest.mark.parametrize(
    ("yi", "vi", "message"),
    [
        ([], [], "at least one"),
        ([0.1, 0.2], [0.01], "differ in length"),
        ([0.1, 0.2], [0.01, 0.0], "positive"),
        ([0.1, np.nan], [0.01, 0.02], "finite"),
        ([0.1, 0.2], [0.01, np.nan], "finite"),
    ],
)
def test_bad_input_is_refused(yi, vi, message):
    with pytest.raises(ValueError, match=message):
        random_effects(yi, vi)


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="unknown tau"):
        random_effects([0.1, 0.2], [0.01, 0.02], method="XX")


def test_subgroup_table_layout():
    data = pd.DataFrame(
        {
            "yi": [0.2, 0.5, 0.4, 0.9, 1.1],
            "vi": [0.02, 0.03, 0.05, 0.04, 0.06],
            "route": ["IV", "IV", "IV", "IN", "IN"],
            "n_total": [40, 50, 30, 60, 45],
        }
    )
    table, fits, overall = pool_by_subgroup(data, by="route", analysis="demo")
    assert list(table["subgroup"]) == ["IN", "IV", "overall", SUBGROUP_TEST_LABEL]
    assert list(table["n"][:3]) == [105, 120, 225]
    assert table.iloc[-1]["q_df"] == 1
    assert overall.k == 5 and fits["IV"].k == 3


def test_a_trial_of_one_comparison_keeps_its_estimate_bit_for_bit():
    yi, vi = [0.1, 0.7, 0.3], [0.013, 0.07, 0.021]
    means = combine_within_clusters(yi, vi, ["c", "a", "b"])
    assert list(means.cluster) == ["c", "a", "b"]
    assert list(means.yi) == yi and list(means.vi) == vi
    assert list(means.size) == [1, 1, 1]


def test_subgroups_count_trials_when_the_trials_are_named():
    """Two comparisons of trial "b" enter each pooled estimate once (PROTOCOL.md §11)."""
    data = pd.DataFrame(
        {
            "yi": [0.2, 0.5, 0.4, 0.9, 1.1],
            "vi": [0.02, 0.03, 0.05, 0.04, 0.06],
            "route": ["IV", "IV", "IV", "IN", "IN"],
            "trial": ["a", "b", "b", "c", "d"],
            "n_total": [40, 25, 25, 60, 45],
        }
    )
    table, fits, overall = pool_by_subgroup(data, by="route", analysis="demo", cluster="trial")
    rows = table.set_index("subgroup")
    assert rows.loc["IV", ["k", "trials", "q_df"]].tolist() == [3, 2, 1]
    assert rows.loc["overall", ["k", "trials", "q_df"]].tolist() == [5, 4, 3]
    assert (
        rows.loc["IV", "dependence"]
        == "b: 2 comparisons combined within the trial (inverse variance)"
    )
    assert rows.loc["IN", "dependence"] == ""
    b = combine_within_clusters([0.5, 0.4], [0.03, 0.05], ["b", "b"])
    expected = random_effects([0.2, *b.yi], [0.02, *b.vi])
    assert fits["IV"].estimate == pytest.approx(expected.estimate, rel=1e-12)
    assert fits["IV"].ci_low == pytest.approx(expected.ci_low, rel=1e-12)
    assert overall.k == 4


def test_percent_weights_are_the_fit_s_weights_scaled_to_100():
    """metafor weights(res): the fit's 1 / (v + tau^2), in percent of their sum."""
    yi, vi = np.array([0.1, 0.5, 0.3, 0.9]), np.array([0.02, 0.05, 0.04, 0.1])
    fit = random_effects(yi, vi, method="DL", test="z")
    weights = percent_weights(vi, fit.tau2)
    assert weights.sum() == pytest.approx(100, rel=1e-14)
    assert weights == pytest.approx(100 * fit.weights / fit.weights.sum(), rel=1e-14)


def test_common_effect_i2_and_h2_from_q_on_its_df():
    """I^2 = max(0, (Q - df) / Q), H^2 = Q / df; 0 and 1 without df; 0 when Q is below df."""
    i2, h2 = i2_h2_from_q([12.0, 1.0, 5.0], [3, 3, 0])
    assert i2.tolist() == pytest.approx([75.0, 0.0, 0.0])
    assert h2.tolist() == pytest.approx([4.0, 1 / 3, 1.0])
