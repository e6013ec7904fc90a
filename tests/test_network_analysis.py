"""The network meta-analysis of the ketamine data (PROTOCOL.md §18), on the committed tables
and on constructed trials."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import REPO
from ketamine_meta.analyses.network import node_of, trial_arms
from ketamine_meta.stats.meta_analysis import random_effects

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
    for outcome in ("smd", "rr"):
        effects = _effects(outcome)
        primary = effects[effects["analysis"] == "primary"]
        parts = primary.groupby("part")["reference"].first().to_dict()
        assert parts[1] == "inert placebo"
        assert set(parts.values()) == {"inert placebo", "midazolam"}
        merged = effects[effects["analysis"] != "primary"]
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


def test_direct_shares_and_pscores_are_in_range():
    for outcome in ("smd", "rr"):
        effects = _effects(outcome)
        assert effects["direct_share"].between(0, 1).all()
        assert effects["pscore"].between(0, 1).all()
        wholly_indirect = effects[effects["k_direct"] == 0]
        np.testing.assert_allclose(wholly_indirect["direct_share"], 0.0)


def test_a_network_without_loops_says_there_is_nothing_to_split():
    table = pd.read_csv(TABLES / "nma_smd_24h_inconsistency.csv")
    between = table[table["quantity"].str.startswith("Q between")]
    assert (between["df"] == 0).all() and (between["statistic"] == 0).all()
    assert table["note"].fillna("").str.contains("no comparison has both direct").any()
