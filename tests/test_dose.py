"""Dose (:mod:`ketamine_meta.analyses.dose`): bioavailability by route, IV-equivalent doses,
the dose-response meta-regression and the cost per responder, on small hand-made tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import CONFIG
from ketamine_meta.analyses import dose
from ketamine_meta.analyses.protocol import Pooling
from ketamine_meta.stats.distributions import t_ppf
from ketamine_meta.stats.meta_regression import meta_regression

#: The repository's pooling settings, as the analyses take them: the one place this file
#: builds them.
POOLING = Pooling.from_config(CONFIG["pooling"])
#: The same random-effects model, as the engine's arguments (the expected values).
MODEL = POOLING.model.arguments

BIOAVAILABILITY = pd.DataFrame(
    {
        "route": ["IV", "IN", "IN", "IN", "IN", "oral"],
        "enantiomer": ["racemic", "racemic", "racemic", "racemic", "esketamine", "racemic"],
        "bioavailability_pct": [100, 40, 50, 30, 48, np.nan],
        "range_low_pct": [np.nan, np.nan, np.nan, 25, np.nan, 16],
        "range_high_pct": [np.nan, np.nan, np.nan, np.nan, np.nan, 20],
        # Two formulations of one source (one cohort) and a second cohort: the source's rows
        # count once, as their median (45), then the median of 45 and 30 is used.
        "source_id": ["iv", "s1", "s1", "s2", "s3", "s4"],
        "cohort": pd.Series([None] * 6, dtype="string"),
    }
)


def test_bioavailability_is_the_median_over_cohorts():
    table = dose.bioavailability_by_route(BIOAVAILABILITY, reference_mg=35).set_index(
        ["route", "enantiomer"]
    )
    # Oral has a range but no point estimate: no row.
    assert sorted(table.index) == [("IN", "esketamine"), ("IN", "racemic"), ("IV", "racemic")]
    racemic_in = table.loc[("IN", "racemic")]
    assert racemic_in["bioavailability"] == pytest.approx(0.375)
    assert (racemic_in["low"], racemic_in["high"]) == (0.25, 0.5)
    assert (racemic_in["sources"], racemic_in["cohorts"]) == (2, 2)
    assert racemic_in["equivalent_dose_mg"] == pytest.approx(35 / 0.375)
    # Its range: the highest bioavailability gives the lowest dose.
    assert (racemic_in["equivalent_dose_low_mg"], racemic_in["equivalent_dose_high_mg"]) == (
        pytest.approx(70.0),
        pytest.approx(140.0),
    )
    assert table.loc[("IV", "racemic"), "equivalent_dose_mg"] == 35


def test_arm_doses_are_in_mg_for_the_body_weight():
    arms = pd.DataFrame(
        {
            "study_id": ["a", "a", "b", "c"],
            "arm_id": ["a1", "a2", "b1", "c1"],
            "route": ["IV", "IV", "IN", "IN"],
            "drug": ["racemic_ketamine", "saline", "racemic_ketamine", "racemic_ketamine"],
            "dose": [0.5, None, 50.0, None],
            "dose_unit": ["mg_per_kg", None, "mg", None],
        }
    )
    table = dose.arm_doses(arms, "racemic_ketamine", body_weight_kg=70)
    assert table.columns.tolist() == dose.ARM_DOSE_COLUMNS
    assert table[["arm_id", "dose_mg"]].values.tolist() == [["a1", 35.0], ["b1", 50.0]]


def test_a_named_cohort_counts_once_across_sources():
    shared = BIOAVAILABILITY.assign(
        cohort=pd.Series([None, "c", "c", "c", None, None], dtype="string")
    )
    table = dose.bioavailability_by_route(shared, reference_mg=35).set_index(
        ["route", "enantiomer"]
    )
    # One cohort: the median of its three rows (30, 40, 50).
    assert table.loc[("IN", "racemic"), "bioavailability"] == pytest.approx(0.40)
    assert (table.loc[("IN", "racemic"), "sources"], table.loc[("IN", "racemic"), "cohorts"]) == (
        2,
        1,
    )


BY_STUDY = pd.DataFrame(
    {
        "study_id": ["A", "B", "C", "D"],
        "comparison_id": ["A:k-vs-p", "B:e-vs-p", "C:k-vs-p", "D:k-vs-p"],
        "label": ["A", "B", "C", "D"],
        "route": ["IV", "IN", "IN", "oral"],
        "enantiomer": ["racemic", "esketamine", "arketamine", "racemic"],
        "yi": [0.8, 0.4, 0.3, 0.2],
        "vi": [0.1, 0.05, 0.08, 0.1],
        "dose_treat": [0.5, 56.0, 70.0, 1.0],
        "dose_unit_treat": ["mg_per_kg", "mg", "mg", "mg_per_kg"],
    }
)


def test_iv_equivalent_doses():
    routes = dose.bioavailability_by_route(BIOAVAILABILITY, reference_mg=35)
    doses = dose.iv_equivalent_doses(BY_STUDY, routes, body_weight_kg=70).set_index("study_id")
    assert doses["dose_mg_per_kg"].tolist() == [0.5, 0.8, 1.0, 1.0]
    # IV is 100%; esketamine IN has its own 48%; arketamine IN falls back to racemic IN
    # (37.5%); oral has no point estimate.
    np.testing.assert_allclose(doses["bioavailability"].iloc[:3], [1.0, 0.48, 0.375])
    assert np.isnan(doses.loc["D", "bioavailability"])
    np.testing.assert_allclose(doses["iv_equivalent_mg_per_kg"].iloc[:3], [0.5, 0.384, 0.375])
    assert np.isnan(doses.loc["D", "iv_equivalent_mg_per_kg"])


DOSES = pd.DataFrame(
    {
        "study_id": ["A", "A", "B", "C", "D", "E"],
        "iv_equivalent_mg_per_kg": [0.1, 0.5, 0.2, 0.4, 0.5, np.nan],
        "yi": [0.1, 0.7, 0.35, 0.45, 0.9, 2.0],
        "vi": [0.05, 0.05, 0.04, 0.06, 0.08, 0.1],
    }
)


def test_dose_response_is_the_meta_regression_on_the_dose():
    table, line = dose.dose_response(DOSES, POOLING)
    rows = DOSES.dropna()
    x = np.column_stack([np.ones(len(rows)), rows["iv_equivalent_mg_per_kg"]])
    fit = meta_regression(
        rows["yi"],
        rows["vi"],
        x,
        ["intercept", "iv_equivalent_mg_per_kg"],
        **MODEL,
    )
    np.testing.assert_allclose(table["estimate"], fit.coefficients["estimate"], rtol=1e-12)
    assert table["k"].tolist() == [5, 5] and table["trials"].tolist() == [4, 4]
    assert set(table["dependence"]) == {
        "A: 2 dose arms kept apart (shared control split), treated as independent"
    }
    # The line spans the observed doses, through the fitted coefficients.
    assert (line["dose"].iloc[0], line["dose"].iloc[-1], len(line)) == (0.1, 0.5, 50)
    intercept, slope = fit.coefficients["estimate"]
    np.testing.assert_allclose(line["estimate"], intercept + slope * line["dose"], rtol=1e-12)
    crit = t_ppf(0.5 + MODEL["level"] / 2, fit.k - fit.p)
    design = np.array([1.0, 0.1])
    se = np.sqrt(design @ fit.vcov @ design)
    assert line["ci_high"].iloc[0] == pytest.approx(line["estimate"].iloc[0] + crit * se)


RATES = pd.DataFrame(
    {
        "arm_type": ["racemic IV", "esketamine IN"],
        "proportion": [0.5, 0.4],
        "ci_low": [0.4, 0.25],
        "ci_high": [0.6, 0.5],
        "k": [3, 5],
        "trials": [3, 3],
        "dependence": ["", "X: 3 arms combined"],
        "display": ["", ""],
    }
)
COSTS = [
    {"access_route": "clinic", "arm_type": "racemic IV", "course_cost_usd": 4800, "claims": ["C1"]},
    {"access_route": "spray", "arm_type": "esketamine IN", "course_cost_usd": 6400, "claims": []},
    {
        "access_route": "troche",
        "arm_type": "racemic oral",
        "course_cost_usd": 200,
        "claims": ["C2", "C3"],
    },
]


def test_cost_per_responder_divides_the_cost_by_the_response_proportion():
    table = dose.cost_per_responder(RATES, COSTS).set_index("access_route")
    clinic = table.loc["clinic"]
    assert clinic["cost_per_responder"] == pytest.approx(9600)
    # The upper bound of the cost comes from the lower bound of the proportion.
    assert (clinic["cost_per_responder_low"], clinic["cost_per_responder_high"]) == (
        pytest.approx(8000),
        pytest.approx(12000),
    )
    spray = table.loc["spray"]
    assert spray["cost_per_responder"] == pytest.approx(16000)
    assert (spray["k"], spray["trials"], spray["dependence"]) == (5, 3, "X: 3 arms combined")
    troche = table.loc["troche"]
    assert np.isnan(troche["cost_per_responder"]) and troche["k"] == 0
    assert troche["claims"] == "C2;C3"


def test_dose_response_below_three_doses_fits_nothing_and_says_why():
    doses = pd.DataFrame(
        {
            "study_id": ["A", "B", "C"],
            "yi": [0.4, 0.6, 0.5],
            "vi": [0.05, 0.04, 0.06],
            "iv_equivalent_mg_per_kg": [0.5, 0.75, np.nan],
        }
    )
    coefficients, line = dose.dose_response(doses, POOLING)
    assert coefficients["term"].tolist() == ["intercept", "iv_equivalent_mg_per_kg"]
    assert set(coefficients["k"]) == {2} and set(coefficients["trials"]) == {2}
    assert set(coefficients["note"]) == {
        "k = 2 comparisons with an IV-equivalent dose: a meta-regression needs 3, "
        "so no dose-response is estimated"
    }
    assert "estimate" not in coefficients
    assert line.empty and list(line.columns) == ["dose", "estimate", "ci_low", "ci_high"]
    # With a third dose the model is fitted and the note is empty.
    fitted, line = dose.dose_response(doses.fillna({"iv_equivalent_mg_per_kg": 1.0}), POOLING)
    assert set(fitted["note"]) == {""} and len(line) == 50
