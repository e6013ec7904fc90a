"""Safety (:mod:`ketamine_meta.analyses.safety`): adverse-event risk ratios against each
trial's control, pooled over trials, and dissociation against effect; on hand-made tables.

Log risk ratio of ``a`` events of ``n1`` against ``c`` of ``n2``: ``ln((a/n1) / (c/n2))``
with variance ``1/a - 1/n1 + 1/c - 1/n2`` (Handbook 6.4.1.2).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import CONFIG
from ketamine_meta.analyses import safety
from ketamine_meta.analyses.protocol import Pooling
from ketamine_meta.stats.meta_analysis import OVERALL_LABEL, combine_within_clusters, random_effects
from ketamine_meta.stats.meta_regression import meta_regression

#: The repository's pooling settings, as the analyses take them: the one place this file
#: builds them.
POOLING = Pooling.from_config(CONFIG["pooling"])
#: The same random-effects model, as the engine's arguments (the expected values).
MODEL = POOLING.model.arguments

ARMS = pd.DataFrame(
    {
        "study_id": ["A", "A", "B", "B", "B", "C", "C", "C"],
        "arm_id": ["ket", "pbo", "esk28", "esk56", "pbo", "ket", "mdz", "sal"],
        "drug": [
            "racemic_ketamine",
            "saline_placebo",
            "esketamine",
            "esketamine",
            "intranasal_placebo",
            "racemic_ketamine",
            "midazolam",
            "saline_placebo",
        ],
        "route": ["IV", "IV", "IN", "IN", "IN", "IV", "IV", "IV"],
        "dose": [0.5, np.nan, 28, 56, np.nan, 0.5, np.nan, np.nan],
        "dose_unit": ["mg_per_kg", None, "mg", "mg", None, "mg_per_kg", None, None],
    }
)
ADVERSE_EVENTS = pd.DataFrame(
    {
        "study_id": ["A", "A", "B", "B", "B", "C", "C", "C", "A", "A"],
        "arm_id": ["ket", "pbo", "esk28", "esk56", "pbo", "ket", "mdz", "sal", "ket", "pbo"],
        "event": ["Dissociation"] * 8 + ["nausea", "nausea"],
        "events": [12, 2, 10, 16, 4, 9, 1, 1, 5, 3],
        "n": [40, 40, 30, 30, 60, 20, 20, 20, 40, 40],
        "source_id": ["s"] * 10,
        "locator": ["Table 3"] * 10,
    }
)


def log_rr(a, n1, c, n2):
    return np.log((a / n1) / (c / n2)), 1 / a - 1 / n1 + 1 / c - 1 / n2


def test_each_drug_arm_against_its_trial_s_control():
    table = safety.adverse_event_risk_ratios(ADVERSE_EVENTS, ARMS, "dissociation")
    # Matched whatever the case; trial C has two controls: no single comparison, left out.
    assert table["arm_id"].tolist() == ["ket", "esk28", "esk56"]
    a = table.iloc[0]
    yi, vi = log_rr(12, 40, 2, 40)
    assert (a["yi"], a["vi"]) == (pytest.approx(yi), pytest.approx(vi))
    assert a["label"] == "A (racemic IV 0.5 mg/kg)" and a["n_total"] == 80
    # Trial B's placebo arm is split between its two dose arms: 2 events of 30 each.
    esk56 = table.iloc[2]
    yi, vi = log_rr(16, 30, 2, 30)
    assert (esk56["yi"], esk56["vi"]) == (pytest.approx(yi), pytest.approx(vi))
    assert esk56["label"] == "B (esketamine IN 56 mg)" and esk56["n_total"] == 60
    # The control's own counts are reported as entered.
    assert (esk56["events_ctrl"], esk56["n_ctrl"]) == (4, 60)


def test_the_pooled_row_fits_one_estimate_per_trial():
    table = safety.adverse_event_table(ADVERSE_EVENTS, ARMS, ["dissociation", "nausea"], POOLING)
    dissociation = table[table["event"] == "dissociation"]
    per_arm = dissociation[dissociation["study_id"] != OVERALL_LABEL]
    overall = dissociation[dissociation["study_id"] == OVERALL_LABEL].iloc[0]
    means = combine_within_clusters(per_arm["yi"], per_arm["vi"], per_arm["study_id"])
    fit = random_effects(means.yi, means.vi, **MODEL)
    assert overall["yi"] == pytest.approx(fit.estimate, rel=1e-12)
    assert overall["ci_low"] == pytest.approx(fit.ci_low, rel=1e-12)
    assert (overall["k"], overall["trials"], overall["label"]) == (3, 2, "Pooled (2 trials)")
    assert overall["dependence"].startswith("B: 2")
    # Two trials are fewer than the minimum: the row is not shown as an answer.
    assert overall["display"].startswith("too few trials (2 of 3)")
    # One trial reports nausea: its row and a pooled row of one trial.
    nausea = table[table["event"] == "nausea"]
    assert nausea["study_id"].tolist() == ["A", OVERALL_LABEL]


def test_an_event_no_trial_reports_gives_an_empty_table():
    assert safety.adverse_event_table(ADVERSE_EVENTS, ARMS, ["seizure"], POOLING).empty


def test_dissociation_against_effect_joins_the_drug_arm_s_share():
    events = safety.adverse_event_table(ADVERSE_EVENTS, ARMS, ["dissociation"], POOLING)
    by_study = pd.DataFrame(
        {
            "study_id": ["A", "B", "B", "D"],
            "comparison_id": ["A:ket-vs-pbo", "B:esk28-vs-pbo", "B:esk56-vs-pbo", "D:x-vs-pbo"],
            "label": ["A", "B 28", "B 56", "D"],
            "route": ["IV", "IN", "IN", "IV"],
            "yi": [0.9, 0.3, 0.5, 0.1],
            "vi": [0.1, 0.05, 0.05, 0.1],
        }
    )
    table = safety.dissociation_vs_effect(by_study, events)
    assert table["comparison_id"].tolist() == ["A:ket-vs-pbo", "B:esk28-vs-pbo", "B:esk56-vs-pbo"]
    np.testing.assert_allclose(table["dissociation_share"], [12 / 40, 10 / 30, 16 / 30])


def test_the_dissociation_slope_needs_three_comparisons():
    table = pd.DataFrame(
        {
            "study_id": ["A", "B", "B"],
            "yi": [0.9, 0.3, 0.5],
            "vi": [0.1, 0.05, 0.05],
            "dissociation_share": [0.3, 0.1, 0.5],
        }
    )
    short = safety.dissociation_slope(table.iloc[:2], POOLING)
    assert short.to_dict("records") == [
        {
            "term": "share",
            "k": 2,
            "trials": 2,
            "dependence": "",
            "note": "k = 2: a meta-regression is not estimable (no CADSS scores could be read)",
        }
    ]
    fitted = safety.dissociation_slope(table, POOLING)
    x = np.column_stack([np.ones(3), table["dissociation_share"]])
    fit = meta_regression(table["yi"], table["vi"], x, ["intercept", "share"], **MODEL)
    assert fitted["term"].tolist() == ["intercept", "share"]
    np.testing.assert_allclose(fitted["estimate"], fit.coefficients["estimate"], rtol=1e-12)
    assert set(fitted["note"]) == {""} and set(fitted["k"]) == {3}
    # Two points of trial B (two arms against one control) are said to be treated as independent.
    assert set(fitted["trials"]) == {2}
    assert set(fitted["dependence"]) == {"B: 2 arms treated as independent"}
