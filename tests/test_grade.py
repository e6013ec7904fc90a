"""Risk of bias and the GRADE summary of findings (PROTOCOL.md §20)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO
from ketamine_meta.analyses.grade import (
    CERTAINTY,
    _optimal_information_size,
    overall_risk_of_bias,
    trial_judgement,
)

TABLES = REPO / "results" / "tables"
SETTINGS = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["grade"]


def rob(rows):
    return pd.DataFrame(rows, columns=["study_id", "domain", "judgement"])


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


def test_functional_unblinding_caps_inert_placebo_trials_at_some_concerns():
    overall = pd.Series({"a": "low"})
    assert trial_judgement("a", overall, "inert_placebo", SETTINGS) == "some concerns"
    assert trial_judgement("a", overall, "active_placebo", SETTINGS) == "low"
    assert trial_judgement("z", overall, "active_placebo", SETTINGS) == "not assessed"


def test_optimal_information_size_of_a_small_smd():
    # 2 x 2 (z_0.975 + z_0.8)^2 / 0.2^2 = 785 participants.
    assert _optimal_information_size("SMD", np.nan, SETTINGS) == pytest.approx(784.9, abs=0.1)


@pytest.fixture(scope="module")
def sof() -> pd.DataFrame:
    return pd.read_csv(TABLES / "summary_of_findings.csv", keep_default_na=False, na_values=[""])


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


def test_imprecision_reads_the_interval(sof):
    crosses = np.where(sof["measure"] == "risk ratio", 1.0, 0.0)
    includes = (sof["ci_low"] <= crosses) & (crosses <= sof["ci_high"])
    assert (sof.loc[includes, "downgrade_imprecision"] >= 1).all()
    assert sof.loc[includes, "imprecision"].str.contains("CI includes no effect").all()


def test_corresponding_risks_are_risks(sof):
    ratios = sof[sof["measure"] == "risk ratio"]
    for column in ("control_risk", "corresponding_risk", "corresponding_low", "corresponding_high"):
        assert ratios[column].between(0, 1).all(), column


def test_the_24h_row_is_the_pooled_inert_placebo_comparisons(sof):
    """Esketamine IN against inert placebo at 24 h: the inert-placebo rows of the primary
    24 h analysis, pooled the same way."""
    from ketamine_meta.stats.meta_analysis import random_effects

    by_study = pd.read_csv(TABLES / "smd_24h_by_study.csv")
    rows = by_study[
        (by_study["control_type"] == "inert_placebo")
        & (by_study["enantiomer"] == "esketamine")
        & (by_study["route"] == "IN")
    ]
    fit = random_effects(rows["yi"], rows["vi"], method="REML", test="knha")
    row = sof[
        (sof["outcome"] == "Depression score at 24 h") & (sof["formulation"] == "esketamine IN")
    ].iloc[0]
    assert row["estimate"] == pytest.approx(fit.estimate, abs=1e-9)
    assert row["k"] == len(rows)
