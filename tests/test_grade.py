"""Risk of bias and the GRADE summary of findings (PROTOCOL.md §20).

The summary of findings is computed from the data package with the configured rules (not
read from the committed results), so that these tests check the rules, whatever the
committed tables say.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from conftest import CONFIG, POOLING, PROTOCOL, REPO, RULES, validated_package
from ketamine_meta.analyses.comparisons import build_effect_sizes
from ketamine_meta.analyses.grade import (
    CERTAINTY,
    CONCERNS,
    HIGH,
    LOW,
    adverse_event_comparisons,
    control_risk,
    dissociative_comparisons,
    imprecision,
    inconsistency,
    is_dissociative,
    one_comparison_per_trial,
    optimal_information_size,
    overall_risk_of_bias,
    publication_bias,
    summary_of_findings,
    traffic_light,
    trial_level_effects,
    unblinding_judgement,
    worse,
)
from ketamine_meta.analyses.pooling import select_smd_at
from ketamine_meta.stats.meta_analysis import random_effects

SETTINGS = CONFIG["grade"]
UNBLINDING = SETTINGS["functional_unblinding"]


def rob(rows):
    return pd.DataFrame(rows, columns=["study_id", "domain", "judgement"])


@pytest.fixture(scope="module")
def tables() -> dict:
    return validated_package(REPO / "data" / "raw")


@pytest.fixture(scope="module")
def effects(tables) -> pd.DataFrame:
    return trial_level_effects(tables, RULES)


@pytest.fixture(scope="module")
def sof(tables, effects) -> pd.DataFrame:
    return summary_of_findings(
        tables, effects, PROTOCOL, CONFIG["network"]["nodes"], POOLING, SETTINGS
    )


def row(sof: pd.DataFrame, outcome: str, formulation: str, comparator: str = "inert placebo"):
    match = sof[
        (sof["outcome"] == outcome)
        & (sof["formulation"] == formulation)
        & (sof["comparator"] == comparator)
    ]
    assert len(match) == 1, (outcome, formulation, comparator)
    return match.iloc[0]


# --- Risk of bias and functional unblinding (§20, §20.1) -----------------------------------


def test_overall_judgement_follows_the_protocol():
    table = rob(
        [
            ("a", "d1", "low"),
            ("a", "d2", "low"),
            ("a", "d3", "low"),
            ("a", "d4", "low"),
            ("b", "d1", "low"),
            ("b", "d2", "high"),
            ("c", "d1", "low"),
            ("c", "d2", "unclear"),
            ("d", "d1", "low"),
            ("d", "d2", "low"),  # too few domains for "low"
        ]
    )
    overall = overall_risk_of_bias(table, min_domains=4)
    assert overall.to_dict() == {
        "a": "low",
        "b": "high",
        "c": "some concerns",
        "d": "some concerns",
    }


@pytest.mark.parametrize(
    ("control", "dissociative", "outcome", "expected"),
    [
        ("inert_placebo", True, "depression_score", HIGH),
        ("inert_placebo", True, "response", HIGH),
        ("inert_placebo", False, "depression_score", CONCERNS),
        # Midazolam mimics sedation, not dissociation: no longer exempt.
        ("active_placebo", True, "depression_score", CONCERNS),
        ("active_placebo", False, "depression_score", None),
        ("active_treatment", True, "depression_score", None),
        # Dropouts and harms take at most some concerns.
        ("inert_placebo", True, "dropout", CONCERNS),
        ("inert_placebo", True, "dissociation", CONCERNS),
    ],
)
def test_functional_unblinding_by_control_and_dose(control, dissociative, outcome, expected):
    assert unblinding_judgement(control, dissociative, outcome, UNBLINDING) == expected


def test_functional_unblinding_can_only_add_concern():
    """PROTOCOL.md v1.5 said "some concerns at most"; the rule is "at least" (a floor)."""
    assert worse(LOW, HIGH) == HIGH
    assert worse(HIGH, CONCERNS) == HIGH
    assert worse(LOW, None) == LOW
    assert worse("not assessed", CONCERNS) == "not assessed"
    assert worse("not assessed", HIGH) == HIGH
    # v1.5 kept a midazolam trial judged low at low.
    assert worse(LOW, unblinding_judgement("active_placebo", True, "response", UNBLINDING)) == (
        CONCERNS
    )


@pytest.mark.parametrize(
    ("drug", "route", "dose", "unit", "expected"),
    [
        ("esketamine", "IN", 28.0, "mg", True),
        ("esketamine", "IN", np.nan, "mg", True),  # flexible dose: any esketamine IN dose
        ("racemic_ketamine", "IV", 0.5, "mg_per_kg", True),
        ("racemic_ketamine", "IV", 0.1, "mg_per_kg", False),  # Fava 2020's lowest arm
        ("racemic_ketamine", "IV", np.nan, None, False),  # dose not given
        # Kudoh 2002 (data 0.5.0): a validated table's empty cells are pd.NA, not NaN.
        ("racemic_ketamine", "IV", pd.NA, pd.NA, False),
        ("esketamine", pd.NA, 56.0, "mg", False),  # route not stated
        ("racemic_ketamine", "IN", 50.0, "mg", False),
        ("racemic_ketamine", "PO", 1.0, "mg_per_kg", False),
        ("arketamine", "IV", 60.0, "mg", False),
    ],
)
def test_dissociative_doses(drug, route, dose, unit, expected):
    arm = {"drug": drug, "route": route, "dose": dose, "dose_unit": unit}
    assert is_dissociative(arm, UNBLINDING["dissociative_doses"]) is expected


def test_combined_arms_are_dissociative_when_any_arm_is(tables):
    comparisons = pd.DataFrame(
        {"study_id": ["Fava2020"], "comparison_id": ["Fava2020:ket01+ket05-vs-mdz"]}
    )
    arms = pd.DataFrame(
        {
            "study_id": ["Fava2020"] * 3,
            "arm_id": ["ket01", "ket05", "mdz"],
            "drug": ["racemic_ketamine", "racemic_ketamine", "midazolam"],
            "route": ["IV"] * 3,
            "dose": [0.1, 0.5, np.nan],
            "dose_unit": ["mg_per_kg", "mg_per_kg", None],
        }
    )
    flags = dissociative_comparisons(comparisons, arms, UNBLINDING["dissociative_doses"])
    assert flags.tolist() == [True]
    assert dissociative_comparisons(
        comparisons.assign(comparison_id=["Fava2020:ket01-vs-mdz"]),
        arms,
        UNBLINDING["dissociative_doses"],
    ).tolist() == [False]


def test_traffic_light_judges_functional_unblinding_per_comparison(tables, effects):
    table = traffic_light(tables["risk_of_bias"], effects, tables["arms"], SETTINGS)
    flags = table[table["domain"] == "functional_unblinding"].set_index("study_id")["judgement"]
    # Esketamine IN against intranasal placebo; racemic IV 0.5 mg/kg against midazolam
    # (v1.5: "low", midazolam exempt); racemic IN 50 mg against saline.
    assert flags["Fu2020"] == HIGH
    assert flags["Grunebaum2018"] == CONCERNS
    assert flags["Lapidus2014"] == CONCERNS


def test_functional_unblinding_changes_ratings(sof):
    """v1.5's flag could only raise "low" to "some concerns"; no trial is low overall, so it
    changed nothing. Against inert placebo at a dissociative dose it is now "high"."""
    esketamine = row(sof, "Depression score at 24 h", "esketamine IN")
    assert esketamine["rob_high_share"] == pytest.approx(1.0)
    assert esketamine["downgrade_risk_of_bias"] == 2
    changed = sof[sof["certainty"] != sof["certainty_without_unblinding"]]
    assert len(changed) >= 1
    assert changed["risk_of_bias"].str.contains("functional unblinding").all()
    levels = {c: i for i, c in enumerate(CERTAINTY)}
    assert (sof["certainty"].map(levels) >= sof["certainty_without_unblinding"].map(levels)).all()


# --- Rows, trials and control risk (§20.2) --------------------------------------------------


def test_every_row_pools_one_comparison_per_trial(sof):
    assert (sof["k"] == sof["trials"]).all()
    assert sof["dependence"].str.len().gt(0).all()


def test_dose_arms_of_one_trial_are_one_trial(sof):
    """v1.5 pooled Daly 2018's three dose arms at 7 d (k = 3) and Perception 2022's two
    arketamine arms for dropouts (k = 2) as if they were trials."""
    week = row(sof, "Depression score at 7 d", "esketamine IN")
    assert (week["k"], week["trials"], week["studies"]) == (1, 1, "Daly2018")
    assert "Daly2018 esk28+esk56+esk84 vs pbo" in week["dependence"]
    assert week["inconsistency"] == "single trial: not assessable"
    assert week["downgrade_imprecision"] == 2
    arketamine = row(sof, "Dropouts, any reason (latest visit)", "arketamine")
    assert (arketamine["k"], arketamine["trials"]) == (1, 1)
    assert "Perception2022 ark60+arklow vs pbo" in arketamine["dependence"]
    # Both arketamine arms against the whole placebo arm: (2 + 0) / (33 + 35) over 3 / 34.
    assert arketamine["estimate"] == pytest.approx((2 / 68) / (3 / 34), rel=1e-12)
    assert arketamine["control_risk"] == pytest.approx(3 / 34, rel=1e-12)


def test_a_trial_entering_a_row_twice_is_refused():
    group = pd.DataFrame(
        {"study_id": ["A", "A", "B"], "comparison_id": ["A:x-vs-p", "A:y-vs-q", "B:x-vs-p"]}
    )
    with pytest.raises(ValueError, match=r"trial A gives 2 comparisons \(A:x-vs-p, A:y-vs-q\)"):
        one_comparison_per_trial(group, "Response at 24 h", "esketamine IN")


def test_control_risk_is_each_trials_whole_control_arm_once(sof):
    """v1.5 counted a third of Daly 2018's split placebo: 0.222 where 10 / 64 is right."""
    response = row(sof, "Response at 24 h", "esketamine IN")
    assert response["control_risk"] == pytest.approx(10 / 64, rel=1e-12)
    assert response["corresponding_risk"] == pytest.approx(10 / 64 * response["estimate"])


def test_control_risk_counts_a_shared_arm_once():
    rows = pd.DataFrame(
        {
            "study_id": ["A", "A", "B"],
            "comparison_id": ["A:x-vs-p", "A:y-vs-p", "B:x-vs-p1+p2"],
            "events_ctrl": [4.0, 4.0, 6.0],
            "n_ctrl": [20.0, 20.0, 40.0],
        }
    )
    assert control_risk(rows) == pytest.approx(10 / 60)


def test_dropouts_for_lack_of_efficacy_are_not_a_harm(sof, effects):
    """Singh 2016a's all-cause dropouts (16 of 17 and 15 of 16 on placebo) are mostly
    non-responders leaving the blinded phase; v1.5 pooled them as RR 0.37 [0.35, 0.39]."""
    any_reason = sof[sof["outcome"] == "Dropouts, any reason (latest visit)"]
    assert not any_reason["studies"].str.contains("Singh2016a").any()
    tolerability = row(sof, "Dropouts due to adverse events (latest visit)", "racemic IV")
    assert (tolerability["studies"], tolerability["k"]) == ("Singh2016a", 1)
    singh = effects[
        (effects["study_id"] == "Singh2016a") & (effects["outcome"] == "dropout_adverse_event")
    ]
    assert len(singh) == 1
    assert tolerability["estimate"] == pytest.approx(float(np.exp(singh["yi"].iloc[0])))
    assert "Singh2016a" in {entry["study_id"] for entry in SETTINGS["efficacy_exit_trials"]}


def test_adverse_events_combine_dose_arms_against_the_whole_placebo_arm(tables):
    events = adverse_event_comparisons(tables["adverse_events"], tables["arms"], tables["studies"])
    takahashi = events[
        (events["study_id"] == "Takahashi2021") & (events["outcome"] == "dissociation")
    ].iloc[0]
    # Esk28 14/41, esk56 10/41, esk84 22/40 against placebo 7/80 (Table 4).
    assert (takahashi["events_treat"], takahashi["n_treat"]) == (46.0, 122.0)
    assert (takahashi["events_ctrl"], takahashi["n_ctrl"]) == (7.0, 80.0)
    assert takahashi["yi"] == pytest.approx(np.log((46 / 122) / (7 / 80)))


# --- Certainty (§20.3) ----------------------------------------------------------------------


def test_optimal_information_size_of_a_small_smd():
    # 2 x 2 (z_0.975 + z_0.8)^2 / 0.2^2 = 785 participants.
    assert optimal_information_size("SMD", np.nan, SETTINGS) == pytest.approx(784.9, abs=0.1)


def fit_of(estimate: float, low: float, high: float, k: int = 4):
    """A fit-like record with the fields the rules read."""
    return type(
        "Fit",
        (),
        {"estimate": estimate, "ci_low": low, "ci_high": high, "k": k, "i2": 0.0, "tau2": 0.0},
    )()


@pytest.mark.parametrize(
    ("ci", "n", "trials", "level"),
    [
        ((0.41, 1.54), 18, 1, 2),  # one 18-patient crossover: a single trial below the OIS
        ((0.23, 0.68), 589, 4, 1),  # four trials, 589 patients: below the OIS
        ((0.23, 0.68), 900, 4, 0),  # above the OIS, CI excludes no effect
        ((-0.05, 0.68), 900, 4, 1),  # CI includes no effect
        ((-0.25, 0.68), 900, 4, 2),  # CI includes an important benefit and harm (±0.2)
        ((0.23, 0.68), 300, 4, 2),  # far below the OIS (< 50 %)
    ],
)
def test_imprecision_follows_grade(ci, n, trials, level):
    got, why = imprecision(fit_of(0.5, *ci), n, trials, "SMD", np.nan, SETTINGS)
    assert got == level, why


def test_a_single_small_trial_is_not_rated_like_four_trials(sof):
    lapidus = row(sof, "Depression score at 24 h", "racemic IN")
    esketamine = row(sof, "Depression score at 24 h", "esketamine IN")
    assert (lapidus["n"], lapidus["trials"]) == (18, 1)
    assert lapidus["downgrade_imprecision"] == 2
    assert "single trial below the optimal information size" in lapidus["imprecision"]
    # Four trials at data version 0.4.2, six at 0.5.0: never rated down as far as one trial.
    assert esketamine["trials"] >= 4
    assert esketamine["downgrade_imprecision"] < lapidus["downgrade_imprecision"]


def test_imprecision_of_ratios_reads_rr_thresholds():
    # RR CI 0.70 to 1.30 crosses both 0.80 and 1.25.
    level, why = imprecision(fit_of(0.0, np.log(0.7), np.log(1.3)), 5000, 5, "logRR", 0.3, SETTINGS)
    assert level == 2
    assert "CI [0.70, 1.30]" in why and "RR 0.80 and 1.25" in why


def test_imprecision_reads_the_interval(sof):
    crosses = np.where(sof["measure"] == "risk ratio", 1.0, 0.0)
    includes = (sof["ci_low"] <= crosses) & (crosses <= sof["ci_high"])
    assert (sof.loc[includes, "downgrade_imprecision"] >= 1).all()
    assert sof.loc[includes, "imprecision"].str.contains("CI .* includes no effect").all()


def test_inconsistency_and_publication_bias_count_trials(sof):
    for _, r in sof.iterrows():
        if r["trials"] == 1:
            assert r["inconsistency"] == "single trial: not assessable"
        else:
            assert f"over {r['trials']} trials" in r["inconsistency"]
        if r["trials"] < POOLING.small_study_min_trials:
            assert f"({r['trials']} trials < 10)" in r["publication_bias"]
        else:
            assert re.fullmatch(
                rf"Egger p = [0-9.]+ \({r['trials']} trials\)", r["publication_bias"]
            )
    fit = random_effects(np.linspace(0, 1, 4), np.full(4, 0.1), **POOLING.model.arguments)
    assert publication_bias(fit, 4) == (0, "not assessed (4 trials < 10)")


def test_prediction_intervals_of_ratios_are_ratios():
    """v1.5 printed the blood-pressure PI as a log RR ("PI [0.88, 1.59]" for RR 2.4-4.9)."""
    yi = np.log([2.0, 4.0, 1.2, 6.0])
    fit = random_effects(yi, np.full(4, 0.05), **POOLING.model.arguments)
    assert fit.tau2 > 0
    level, why = inconsistency(fit, 4, ratio=True)
    low, high = np.exp(fit.pi_low), np.exp(fit.pi_high)
    assert f"PI [{low:.2f}, {high:.2f}]" in why
    assert level == int(fit.i2 > 50)
    assert "no prediction interval" in inconsistency(fit, 2, ratio=True)[1]
    flat = random_effects(np.log([2.0, 2.1, 1.9]), np.full(3, 0.05), **POOLING.model.arguments)
    assert "τ² = 0" in inconsistency(flat, 3, ratio=True)[1]


def test_printed_prediction_intervals_contain_the_estimate(sof):
    for _, r in sof.iterrows():
        found = re.search(r"PI \[([-\d.,]+), ([-\d.,]+)\]", r["inconsistency"])
        if found:
            low, high = (float(v.replace(",", "")) for v in found.groups())
            assert low <= r["estimate"] <= high, r["outcome"]


# --- The table ------------------------------------------------------------------------------


def test_the_headline_is_rated(sof, tables):
    """The primary 24 h estimate and racemic IV against midazolam have a certainty."""
    headline = row(
        sof,
        "Depression score at 24 h (primary analysis: inert or active placebo)",
        "any ketamine",
        "inert or active placebo",
    )
    effects, _ = build_effect_sizes(
        tables["studies"], tables["arms"], tables["outcomes"], tables["contrasts"], RULES
    )
    primary = select_smd_at(effects, PROTOCOL)
    if RULES.multi_arm == "combine":  # the primary analysis pools one comparison per trial
        fit = random_effects(primary["yi"], primary["vi"], **POOLING.model.arguments)
        assert headline["estimate"] == pytest.approx(fit.estimate, abs=1e-12)
    assert headline["trials"] == primary["study_id"].nunique()
    assert headline["certainty"] in CERTAINTY
    midazolam = row(sof, "Depression score at 24 h, against midazolam", "racemic IV", "midazolam")
    assert midazolam["certainty"] in CERTAINTY
    assert midazolam["trials"] >= 2


def test_certainty_is_the_sum_of_downgrades(sof):
    levels = sof[[c for c in sof.columns if c.startswith("downgrade_")]].sum(axis=1)
    expected = [CERTAINTY[min(n, 3)] for n in levels]
    assert list(sof["certainty"]) == expected


def test_every_downgrade_has_its_reason(sof):
    for domain in (
        "risk_of_bias",
        "inconsistency",
        "indirectness",
        "imprecision",
        "publication_bias",
    ):
        assert sof[domain].str.len().gt(0).all(), domain


def test_corresponding_risks_are_risks(sof):
    ratios = sof[sof["measure"] == "risk ratio"]
    for column in ("control_risk", "corresponding_risk", "corresponding_low", "corresponding_high"):
        assert ratios[column].between(0, 1).all(), column


def test_the_24h_row_is_the_pooled_inert_placebo_comparisons(sof, effects):
    """Esketamine IN against inert placebo at 24 h: the trial-level inert-placebo rows of the
    24 h window, pooled by the primary model."""
    rows = select_smd_at(effects, PROTOCOL)
    rows = rows[
        (rows["control_type"] == "inert_placebo")
        & (rows["enantiomer"] == "esketamine")
        & (rows["route"] == "IN")
    ]
    fit = random_effects(rows["yi"], rows["vi"], **POOLING.model.arguments)
    got = row(sof, "Depression score at 24 h", "esketamine IN")
    assert got["estimate"] == pytest.approx(fit.estimate, abs=1e-12)
    assert got["k"] == len(rows) == rows["study_id"].nunique()


def test_protocol_no_longer_states_the_inverse_of_the_code():
    """PROTOCOL.md v1.5 §20: "its blinding domains count as some concerns at most", where the
    code raises a judgement to at least some concerns."""
    assert "count as some concerns at most" not in (REPO / "PROTOCOL.md").read_text()
