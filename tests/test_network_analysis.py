"""The network meta-analysis of the ketamine data (PROTOCOL.md §18), on the committed tables
and on constructed trials."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import REPO
from frozen import frozen_network_effects
from ketamine_meta.analyses.network import PartRules, analyse_network, node_of, trial_arms
from ketamine_meta.stats.meta_analysis import random_effects
from ketamine_meta.stats.network import TrialArms

TABLES = REPO / "results" / "tables"
NODES = [
    {"drug": "racemic_ketamine", "routes": ["IV"], "node": "racemic IV"},
    {"drug": "racemic_ketamine", "routes": ["IN"], "node": "racemic IN"},
    {"drug": "esketamine", "routes": ["IN"], "node": "esketamine IN"},
    {"drug": "saline_placebo", "routes": ["any"], "node": "inert placebo"},
]


def _effects(outcome: str) -> pd.DataFrame:
    return pd.read_csv(TABLES / f"nma_{outcome}_24h_effects.csv")


def test_node_of_uses_the_route_then_any():
    assert node_of("racemic_ketamine", "IV", NODES) == "racemic IV"
    assert node_of("saline_placebo", "IV", NODES) == "inert placebo"
    assert node_of("esketamine", "IV", NODES) is None


def comparison(study, treat, ctrl, yi, vi, n_ctrl=20.0, events_ctrl=5.0):
    return {
        "study_id": study,
        "comparison_id": f"{study}:{treat}-vs-{ctrl}",
        "node_treat": treat,
        "node_ctrl": ctrl,
        "yi": yi,
        "vi": vi,
        "n_ctrl": n_ctrl,
        "events_ctrl": events_ctrl,
    }


def test_multi_arm_trial_shares_its_comparator_covariance():
    rows = pd.DataFrame(
        [
            comparison("s1", "A", "P", 0.5, 0.15, n_ctrl=25.0),
            comparison("s1", "B", "P", 0.8, 0.16, n_ctrl=25.0),
            comparison("s1", "B", "A", 0.3, 0.12),  # implied by the two above
        ]
    )
    trials, excluded = trial_arms(rows, "SMD")
    (trial,) = trials
    assert trial.treatments == ("P", "A", "B")
    assert trial.effects == (0.0, 0.5, 0.8)
    # cov = 1/n of the comparator arm; each arm keeps the rest of its variance.
    assert trial.variances == pytest.approx((1 / 25, 0.15 - 1 / 25, 0.16 - 1 / 25))
    assert list(excluded["comparison_id"]) == ["s1:B-vs-A"]
    assert "implied by the trial's comparisons against P" in excluded["reason"].iloc[0]


def test_log_risk_ratio_covariance_is_the_comparator_arms():
    rows = pd.DataFrame(
        [
            comparison("s1", "A", "P", 0.5, 0.4, n_ctrl=30.0, events_ctrl=6.0),
            comparison("s1", "B", "P", 0.7, 0.5, n_ctrl=30.0, events_ctrl=6.0),
        ]
    )
    (trial,), _ = trial_arms(rows, "logRR")
    assert trial.variances[0] == pytest.approx(1 / 6 - 1 / 30)


def test_merged_nodes_relabel_before_building_trials():
    rows = pd.DataFrame(
        [comparison("s1", "A", "midazolam", 0.5, 0.1), comparison("s2", "A", "P", 0.4, 0.1)]
    )
    trials, _ = trial_arms(rows, "SMD", [{"node": "P", "replaces": ["P", "midazolam"]}])
    assert [t.treatments for t in trials] == [("P", "A"), ("P", "A")]


def test_midazolam_and_inert_placebo_stay_apart_in_the_primary_network():
    """In the trials of data version 0.4.2 no trial links the two controls."""
    for outcome in ("smd", "rr"):
        effects = frozen_network_effects(outcome)
        primary = effects[effects["analysis"] == "primary"]
        parts = primary.groupby("part")["reference"].first().to_dict()
        assert parts[1] == "inert placebo"
        assert set(parts.values()) == {"inert placebo", "midazolam"}
        merged = effects[effects["analysis"].str.contains("midazolam as inert placebo")]
        assert set(merged["part"]) == {1}
        assert set(merged["reference"]) == {"inert placebo"}


@pytest.mark.pipeline
def test_a_star_part_reproduces_the_pairwise_random_effects_model(pipeline_run):
    """Esketamine IN against inert placebo: the only comparison with several trials in part 1,
    so the network's REML estimate is the pairwise REML estimate of its trials (Wald z)."""
    comparisons = pd.read_csv(pipeline_run / "data/processed/nma_smd_comparisons.csv")
    rows = comparisons[
        (comparisons["node_treat"] == "esketamine IN")
        & (comparisons["node_ctrl"] == "inert placebo")
    ]
    pairwise = random_effects(rows["yi"], rows["vi"], method="REML", test="z")
    effects = _effects("smd")
    network = effects[
        (effects["analysis"] == "primary") & (effects["treatment"] == "esketamine IN")
    ]
    assert network["estimate"].iloc[0] == pytest.approx(pairwise.estimate, abs=1e-6)
    assert network["ci_low"].iloc[0] == pytest.approx(pairwise.ci_low, abs=1e-6)
    assert network["k_direct"].iloc[0] == len(rows)


def test_direct_shares_are_in_range():
    for outcome in ("smd", "rr"):
        effects = _effects(outcome)
        assert effects["direct_share"].between(0, 1).all()
        wholly_indirect = effects[effects["k_direct"] == 0]
        np.testing.assert_allclose(wholly_indirect["direct_share"], 0.0)


@pytest.mark.parametrize("outcome", ["smd", "rr"])
def test_pscores_rank_within_a_part_of_three_nodes_only(outcome):
    """A part's P-scores (its reference's included) average 1/2; parts share no reference,
    so there is no P-score column across parts, and a two-node part ranks nothing (the
    response network's part 2: Murrough 2013 alone)."""
    effects = _effects(outcome)
    assert "pscore" not in effects.columns
    for (_, _), part in effects.groupby(["analysis", "part"]):
        scores = [*part["pscore_in_part"], part["reference_pscore_in_part"].iloc[0]]
        if len(part) + 1 < 3:
            assert np.isnan(scores).all()
            assert part["note"].str.contains("two nodes: no P-score").all()
        else:
            assert np.mean(scores) == pytest.approx(0.5)
            assert np.all((np.array(scores) >= 0) & (np.array(scores) <= 1))
    if outcome == "rr":
        primary = effects[effects["analysis"] == "primary"]
        assert primary.loc[primary["part"] == 2, "pscore_in_part"].isna().all()


@pytest.mark.parametrize("outcome", ["smd", "rr"])
def test_nodes_resting_on_one_trial_are_flagged(outcome):
    effects = _effects(outcome)
    assert (effects["single_trial"] == (effects["k_trials"] == 1)).all()
    single = effects[effects["single_trial"]]
    assert single["note"].str.contains("rests on one trial").all()
    racemic_in = effects[
        (effects["analysis"] == "primary") & (effects["treatment"] == "racemic IN")
    ]
    assert racemic_in["note"].iloc[0].startswith("rests on one trial (Lapidus2014)")


@pytest.mark.parametrize("outcome", ["smd", "rr"])
def test_a_prediction_interval_needs_an_estimated_positive_tau2(outcome):
    """tau² = 0 (the midazolam part of the g network) or not estimable (the response
    network's one-trial part): no PI, and the note says why; never a PI equal to the CI."""
    effects = _effects(outcome)
    no_pi = effects["pi_low"].isna()
    assert (no_pi == effects["pi_high"].isna()).all()
    assert no_pi[effects["tau2"].isna() | (effects["tau2"] == 0)].all()
    assert effects.loc[no_pi, "note"].str.contains("no prediction interval").all()
    shown = effects[~no_pi]
    assert ((shown["pi_low"] < shown["ci_low"]) & (shown["ci_high"] < shown["pi_high"])).all()


def test_log_risk_ratios_are_labelled_as_such():
    for outcome, scale in (("smd", "Hedges' g"), ("rr", "log RR")):
        for table in ("effects", "league", "inconsistency"):
            frame = pd.read_csv(TABLES / f"nma_{outcome}_24h_{table}.csv")
            assert set(frame["scale"]) == {scale}, (outcome, table)


@pytest.mark.parametrize("outcome", ["smd", "rr"])
def test_a_q_on_no_degrees_of_freedom_is_not_estimable(outcome):
    """Both networks are trees: no closed loop, so no Q between designs; the response
    network's part 2 has no degree of freedom at all. None of them is printed as Q = 0."""
    table = pd.read_csv(TABLES / f"nma_{outcome}_24h_inconsistency.csv")
    q = table[table["quantity"].str.startswith("Q ")]
    none = q[q["df"] == 0]
    assert len(none) >= q["quantity"].str.startswith("Q between").sum() > 0
    assert none["statistic"].isna().all() and none["pval"].isna().all()
    assert none["note"].str.startswith("not estimable: 0 degrees of freedom").all()
    assert q.loc[q["df"] > 0, "statistic"].notna().all()
    assert table["note"].fillna("").str.contains("no comparison has both direct").any()


def test_a_two_node_single_trial_part_says_what_it_cannot_estimate():
    """One trial of A against P: the estimate is the trial's; rank, tau², PI and every Q
    are not estimable."""
    trials = [TrialArms("s1", ("P", "A"), (0.0, 0.4), (0.02, 0.03))]
    comparisons = pd.DataFrame([comparison("s1", "A", "P", 0.4, 0.05) | {"n_treat": 20.0}])
    tables = analyse_network(
        trials, comparisons, "P", {"P"}, "REML", 0.95, "primary", PartRules("log RR", 3)
    )
    (row,) = tables.effects.to_dict("records")
    assert row["estimate"] == pytest.approx(0.4)
    assert row["single_trial"] and row["scale"] == "log RR"
    assert np.isnan([row["pscore_in_part"], row["tau2"], row["pi_low"]]).all()
    assert row["note"].startswith("rests on one trial (s1); two nodes: no P-score")
    assert "tau² not estimable" in row["note"]
    q = tables.inconsistency[tables.inconsistency["quantity"].str.startswith("Q ")]
    assert q["statistic"].isna().all() and (q["df"] == 0).all()
    assert q["note"].str.startswith("not estimable").all()


def test_a_sensitivity_network_leaves_fava_2020_s_low_dose_arm_out():
    """PROTOCOL.md §16, §18: Fava 2020's 0.1 mg/kg d is one of three trials behind racemic IV
    against midazolam (data version 0.4.2); the network without it is reported beside the
    primary."""
    effects = frozen_network_effects("smd").set_index(["analysis", "treatment"])
    primary = effects.loc[("primary", "racemic IV")]
    without = effects.loc[("without Fava 2020 0.1 mg/kg", "racemic IV")]
    assert without["k_trials"] == primary["k_trials"] - 1
    assert without["estimate"] != pytest.approx(primary["estimate"], abs=1e-3)
    # Nodes that Fava 2020 does not inform are unchanged.
    for node in ("esketamine IN", "racemic IN"):
        assert effects.loc[("without Fava 2020 0.1 mg/kg", node), "estimate"] == pytest.approx(
            effects.loc[("primary", node), "estimate"], rel=1e-12
        )
