"""Sensitivity analyses (``stats.sensitivity``) against refitting the model by hand.

metafor's ``leave1out``, ``cumul``, ``influence`` and ``baujat`` values on the BCG data are
compared in ``test_metafor_parity_engine.py``. Here every row is checked against what it
claims to be: the model refitted (with the fit's own estimator, test and level) on the subset
of studies it names, and the diagnostics against their formulas on those refits.
"""

from __future__ import annotations

import numpy as np
import pytest

from ketamine_meta.stats.meta_analysis import random_effects
from ketamine_meta.stats.sensitivity import (
    SUMMARY_COLUMNS,
    baujat,
    cumulative,
    influence,
    leave_one_out,
)

Y = np.array([0.1, 0.5, 0.6, 1.3, 0.2, 0.9, -0.2, 0.4])
V = np.array([0.02, 0.05, 0.03, 0.08, 0.04, 0.06, 0.03, 0.05])
MODELS = [("REML", "knha", 0.95), ("DL", "z", 0.9), ("PM", "adhoc", 0.95), ("SJ", "knha", 0.8)]


def refit(keep, fit):
    """The fit's model on the studies ``keep`` selects."""
    return random_effects(fit.yi[keep], fit.vi[keep], **fit.model.arguments)


def assert_row_is_fit(row, expected) -> None:
    for column in SUMMARY_COLUMNS:
        assert row[column] == pytest.approx(getattr(expected, column), rel=1e-9, abs=1e-12), column


@pytest.mark.parametrize(("method", "test", "level"), MODELS)
def test_leave_one_out_has_k_rows_each_the_refit_without_that_study(method, test, level):
    fit = random_effects(Y, V, method, test, level)
    table = leave_one_out(fit)
    assert list(table.columns) == ["omitted", *SUMMARY_COLUMNS]
    assert list(table["omitted"]) == list(range(1, Y.size + 1))
    for i, row in table.iterrows():
        assert_row_is_fit(row, refit(np.arange(Y.size) != i, fit))


def test_leave_one_out_names_the_studies_by_their_labels():
    table = leave_one_out(random_effects(Y[:3], V[:3]), labels=["Ames", "Berg", "Cole"])
    assert list(table["omitted"]) == ["Ames", "Berg", "Cole"]
    # Without Cole the two others are pooled: the row is theirs.
    assert table.iloc[2]["estimate"] == pytest.approx(random_effects(Y[:2], V[:2]).estimate)


@pytest.mark.parametrize(("method", "test", "level"), MODELS)
def test_cumulative_adds_the_studies_in_order_and_ends_at_the_fit(method, test, level):
    fit = random_effects(Y, V, method, test, level)
    year = np.array([2004, 2001, 2010, 2003, 2008, 2002, 2012, 2006])
    table = cumulative(fit, year, labels=[f"s{i}" for i in range(Y.size)])
    order = np.argsort(year)
    assert list(table["added"]) == [f"s{i}" for i in order]
    for step, row in table.iterrows():
        assert_row_is_fit(row, refit(order[: step + 1], fit))
    assert_row_is_fit(table.iloc[-1], fit)


def test_the_first_cumulative_step_is_the_first_study_alone():
    """One study: the estimate is its own, with its own SE and no heterogeneity."""
    first = cumulative(random_effects(Y, V, "REML", "z"), np.arange(Y.size)).iloc[0]
    assert first["estimate"] == Y[0]
    assert first["se"] == pytest.approx(np.sqrt(V[0]), rel=1e-12)
    assert (first["tau2"], first["q"]) == (0.0, 0.0)


def test_studies_of_one_year_are_added_in_input_order():
    table = cumulative(random_effects(Y[:4], V[:4]), [2020, 2019, 2020, 2019])
    assert list(table["added"]) == [2, 4, 1, 3]


@pytest.mark.parametrize(("method", "test"), [("REML", "z"), ("DL", "knha")])
def test_influence_diagnostics_are_their_formulas_on_the_refits(method, test):
    fit = random_effects(Y, V, method, test)
    table = influence(fit)
    deleted = [refit(np.arange(Y.size) != i, fit) for i in range(Y.size)]
    estimate = np.array([d.estimate for d in deleted])
    variance = np.array([d.se**2 for d in deleted])
    np.testing.assert_allclose(table["tau2_del"], [d.tau2 for d in deleted], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(table["qe_del"], [d.q for d in deleted], rtol=1e-9)
    np.testing.assert_allclose(table["cook_d"], (fit.estimate - estimate) ** 2 / fit.se**2)
    np.testing.assert_allclose(table["cov_r"], variance / fit.se**2, rtol=1e-9)
    # Hat values are the shares of the random-effects weights: they add up to 1 (100%).
    assert table["hat"].sum() == pytest.approx(1.0, rel=1e-12)
    assert table["weight"].sum() == pytest.approx(100.0, rel=1e-12)
    np.testing.assert_allclose(table["hat"], fit.weights / fit.weights.sum())


def test_the_studentized_residual_of_a_z_fit():
    """Wald z: s^2 = 1 and r_i = (y_i - mu_(-i)) / sqrt(v_i + tau^2_(-i) + V_(-i))."""
    fit = random_effects(Y, V, "REML", "z")
    deleted = [refit(np.arange(Y.size) != i, fit) for i in range(Y.size)]
    expected = [
        (Y[i] - d.estimate) / np.sqrt(V[i] + d.tau2 + d.se**2) for i, d in enumerate(deleted)
    ]
    np.testing.assert_allclose(influence(fit)["rstudent"], expected, rtol=1e-9)


def test_an_outlier_is_the_one_study_flagged():
    y = np.array([0.3, 0.25, 0.35, 0.28, 0.32, 0.3, 1.5])
    v = np.array([0.02, 0.03, 0.02, 0.04, 0.03, 0.02, 0.02])
    table = influence(random_effects(y, v, "REML", "z"), labels=list("abcdefg"))
    assert list(table.loc[table["influential"], "study"]) == ["g"]
    assert table["rstudent"].abs().idxmax() == 6


def test_baujat_contributions_add_up_to_q_when_tau2_is_zero():
    """tau^2 = 0: x_i = (y_i - mu)^2 / v_i, whose sum is Cochran's Q."""
    fit = random_effects([0.2, 0.3, 0.25, 0.35], [0.04, 0.05, 0.06, 0.04], "DL", "z")
    table = baujat(fit, labels=list("abcd"))
    assert fit.tau2 == 0
    assert table["heterogeneity_contribution"].sum() == pytest.approx(fit.q, rel=1e-12)
    assert list(table["study"]) == list("abcd")


def test_baujat_influence_is_the_squared_shift_over_the_deleted_variance():
    fit = random_effects(Y, V, "REML", "knha")
    deleted = [refit(np.arange(Y.size) != i, fit) for i in range(Y.size)]
    expected = [(d.estimate - fit.estimate) ** 2 / d.se**2 for d in deleted]
    table = baujat(fit)
    np.testing.assert_allclose(table["influence_on_estimate"], expected, rtol=1e-9)
    np.testing.assert_allclose(
        table["heterogeneity_contribution"], (Y - fit.estimate) ** 2 / (V + fit.tau2)
    )


@pytest.mark.parametrize("analysis", [leave_one_out, influence])
def test_deleting_a_study_needs_two(analysis):
    with pytest.raises(ValueError, match="at least 2 studies"):
        analysis(random_effects([0.3], [0.04]))
