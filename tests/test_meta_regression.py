"""Mixed-effects meta-regression (``stats.meta_regression``) on data with answers by hand.

metafor's values for the BCG meta-regressions are compared in ``test_metafor_parity_engine.py``;
here each expected number follows from the formulas of the module docstring. The four studies
of :data:`Y` share one variance, 0.04, and fall in two groups (0.1, 0.3 and 0.5, 0.7) whose
spread within is smaller than chance: every estimator but SJ puts tau^2 at 0, and the
weighted least squares answers are the group means 0.2 and 0.6.
"""

from __future__ import annotations

import numpy as np
import pytest

from ketamine_meta.stats.distributions import norm_sf
from ketamine_meta.stats.meta_analysis import random_effects, subgroup_difference_test
from ketamine_meta.stats.meta_regression import (
    meta_regression,
    meta_regression_batch,
    subgroups_common_tau2,
)

Y = np.array([0.1, 0.3, 0.5, 0.7])
V = np.full(4, 0.04)
GROUP = np.array([0.0, 0.0, 1.0, 1.0])
X = np.column_stack([np.ones(4), GROUP])
TERMS = ["intercept", "group"]
#: Heterogeneous data for the properties that need tau^2 > 0.
Y_HET = np.array([0.1, 0.5, 0.6, 1.3, 0.2, 0.9, -0.2, 0.4])
V_HET = np.array([0.02, 0.05, 0.03, 0.08, 0.04, 0.06, 0.03, 0.05])
DOSE = np.array([0.5, 1.0, 0.5, 1.0, 0.2, 0.8, 0.0, 0.4])


def test_one_binary_moderator_is_the_difference_of_the_group_means():
    """tau^2 = 0: the slope is 0.6 - 0.2 with SE sqrt(0.04/2 + 0.04/2) = 0.2, z = 2."""
    fit = meta_regression(Y, V, X, TERMS, "DL", "z")
    coefficients = fit.coefficients.set_index("term")
    assert fit.tau2 == 0
    np.testing.assert_allclose(coefficients["estimate"], [0.2, 0.4], rtol=1e-12)
    np.testing.assert_allclose(coefficients["se"], [np.sqrt(0.02), 0.2], rtol=1e-12)
    assert coefficients.loc["group", "statistic"] == pytest.approx(2.0, rel=1e-12)
    assert coefficients.loc["group", "pval"] == pytest.approx(2 * norm_sf(2.0), rel=1e-12)
    # QM of one moderator is z^2; QE is the within-group spread: (4 x 0.1^2) / 0.04 = 1.
    assert (fit.qm, fit.qm_df) == (pytest.approx(4.0, rel=1e-12), 1)
    assert (fit.qe, fit.qe_df) == (pytest.approx(1.0, rel=1e-12), 2)
    # chi^2 on 2 df: P(Q >= 1) = exp(-1/2).
    assert fit.qe_p == pytest.approx(np.exp(-0.5), rel=1e-12)
    assert (fit.i2, fit.h2) == (0.0, 1.0)


def test_the_moderator_test_is_the_test_for_subgroup_differences():
    """With tau^2 = 0 in each group and overall, QM is Cochran's Q between the groups."""
    fit = meta_regression(Y, V, X, TERMS, "DL", "z")
    groups = {
        "a": random_effects(Y[:2], V[:2], "DL", "z"),
        "b": random_effects(Y[2:], V[2:], "DL", "z"),
    }
    between = subgroup_difference_test(groups)
    assert fit.qm == pytest.approx(between.q, rel=1e-12)
    assert fit.qm_p == pytest.approx(between.pval, rel=1e-12)


@pytest.mark.parametrize("method", ["REML", "ML", "DL", "PM", "EB"])
def test_every_estimator_finds_no_residual_heterogeneity_below_chance(method):
    fit = meta_regression(Y, V, X, TERMS, method, "z")
    assert fit.tau2 == pytest.approx(0.0, abs=1e-12)
    assert fit.coefficients["estimate"].iloc[1] == pytest.approx(0.4, rel=1e-10)


def test_knapp_hartung_scales_the_covariance_by_the_residual_mean_square():
    """s^2 = QE / (k - p) = 1/2: SE 0.2 sqrt(1/2), F = t^2 = 8 on (1, 2) df.

    On 2 df the two-sided t p-value has a closed form, 1 - t / sqrt(t^2 + 2).
    """
    fit = meta_regression(Y, V, X, TERMS, "DL", "knha")
    slope = fit.coefficients.set_index("term").loc["group"]
    t = 0.4 / (0.2 * np.sqrt(0.5))
    assert slope["se"] == pytest.approx(0.2 * np.sqrt(0.5), rel=1e-12)
    assert slope["statistic"] == pytest.approx(t, rel=1e-12)
    assert slope["pval"] == pytest.approx(1 - t / np.sqrt(t**2 + 2), rel=1e-10)
    assert (fit.qm, fit.qm_df, fit.qm_df2) == (pytest.approx(8.0, rel=1e-12), 1, 2.0)
    assert fit.qm_p == pytest.approx(1 - t / np.sqrt(t**2 + 2), rel=1e-10)
    # t quantile on 2 df at 0.975: sqrt(2) q / sqrt(1 - q^2) with q = 2 x 0.975 - 1.
    crit = np.sqrt(2) * 0.95 / np.sqrt(1 - 0.95**2)
    assert slope["ci_high"] - slope["estimate"] == pytest.approx(crit * slope["se"], rel=1e-10)
    np.testing.assert_allclose(fit.vcov, 0.5 * meta_regression(Y, V, X, TERMS, "DL", "z").vcov)


def test_the_ad_hoc_correction_never_narrows_below_the_wald_standard_error():
    """s^2 = 1/2 < 1 is truncated to 1: the SE is the z test's, the intervals t's."""
    adhoc = meta_regression(Y, V, X, TERMS, "DL", "adhoc").coefficients
    wald = meta_regression(Y, V, X, TERMS, "DL", "z").coefficients
    np.testing.assert_allclose(adhoc["se"], wald["se"], rtol=1e-12)
    assert (adhoc["ci_high"] > wald["ci_high"]).all()


def test_the_moderator_explains_all_heterogeneity():
    """Intercept only, DL finds tau^2 = (Q - 3) / (100 - 25) = (5 - 3) / 75; with the group, 0."""
    assert random_effects(Y, V, "DL", "z").tau2 == pytest.approx(2 / 75, rel=1e-12)
    assert meta_regression(Y, V, X, TERMS, "DL", "z").r2 == 100.0
    without_intercept = meta_regression(Y, V, np.column_stack([1 - GROUP, GROUP]), ["a", "b"], "DL")
    assert np.isnan(without_intercept.r2)
    # No intercept: the omnibus test covers every coefficient.
    assert without_intercept.qm_df == 2


def test_a_line_without_noise_is_recovered_exactly():
    dose = np.array([0.0, 0.5, 1.0, 2.0, 3.0])
    fit = meta_regression(
        1 + 2 * dose,
        [0.1, 0.2, 0.05, 0.3, 0.1],
        np.column_stack([np.ones(5), dose]),
        ["intercept", "dose"],
        "REML",
        "z",
    )
    np.testing.assert_allclose(fit.coefficients["estimate"], [1.0, 2.0], rtol=1e-12)
    assert fit.qe == pytest.approx(0.0, abs=1e-20)
    assert fit.tau2 == 0


def test_subgroups_with_a_common_tau2_are_the_two_parametrizations_of_one_model():
    """Cell means without intercept; their difference is the slope of the model with one."""
    groups = np.where(DOSE >= 0.5, "high", "low")
    estimates, between = subgroups_common_tau2(Y_HET, V_HET, groups, "REML", "z")
    slope = between.coefficients.set_index("term").loc["subgroup[low]"]
    cells = estimates.set_index("subgroup")
    assert between.tau2 > 0.01  # a shared tau^2 that is not 0: the comparison could fail
    assert list(cells.index) == ["high", "low"]
    assert list(cells["k"]) == [int((groups == "high").sum()), int((groups == "low").sum())]
    assert slope["estimate"] == pytest.approx(
        cells.loc["low", "estimate"] - cells.loc["high", "estimate"], rel=1e-9
    )
    difference_se = np.sqrt(cells.loc["low", "se"] ** 2 + cells.loc["high", "se"] ** 2)
    assert slope["se"] == pytest.approx(difference_se, rel=1e-9)
    assert between.qm == pytest.approx(slope["statistic"] ** 2, rel=1e-9)


def test_adding_a_multiple_of_a_moderator_moves_only_its_coefficient():
    """y + c x: the residuals, hence tau^2 and every SE, are unchanged."""
    x = np.column_stack([np.ones(Y_HET.size), DOSE])
    base = meta_regression(Y_HET, V_HET, x, ["intercept", "dose"])
    shifted = meta_regression(Y_HET + 0.7 * DOSE, V_HET, x, ["intercept", "dose"])
    assert shifted.tau2 == pytest.approx(base.tau2, rel=1e-8)
    assert base.tau2 > 0.01
    np.testing.assert_allclose(
        shifted.coefficients["estimate"], base.coefficients["estimate"] + [0.0, 0.7], rtol=1e-8
    )
    np.testing.assert_allclose(shifted.coefficients["se"], base.coefficients["se"], rtol=1e-8)


def test_reordering_the_columns_reorders_the_coefficients():
    x = np.column_stack([np.ones(Y_HET.size), DOSE, DOSE**2])
    terms = ["intercept", "dose", "dose2"]
    fit = meta_regression(Y_HET, V_HET, x, terms, "ML", "knha").coefficients.set_index("term")
    turned = meta_regression(Y_HET, V_HET, x[:, [2, 0, 1]], [terms[i] for i in (2, 0, 1)], "ML")
    turned_coefficients = turned.coefficients.set_index("term").loc[terms]
    for column in ("estimate", "se", "pval"):
        np.testing.assert_allclose(turned_coefficients[column], fit[column], rtol=1e-8)


@pytest.mark.parametrize(
    ("x", "terms", "message"),
    [
        (X, ["intercept"], "1 term names for 2 columns"),
        (np.column_stack([np.ones(4), GROUP, GROUP**2, np.arange(4)]), list("abcd"), "4 studies"),
        (np.column_stack([np.ones(4), GROUP, 2 * GROUP]), list("abc"), "not of full rank"),
    ],
)
def test_a_model_the_data_cannot_fit_is_refused(x, terms, message):
    with pytest.raises(ValueError, match=message):
        meta_regression(Y, V, x, terms)


def test_the_batch_path_refuses_an_estimator_without_one():
    with pytest.raises(ValueError, match="not 'PM'"):
        meta_regression_batch(np.vstack([Y, Y]), np.vstack([V, V]), X, TERMS, "PM")
