"""The claims audit, the reproductions and the figures of the claims issue."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from snakemake.utils import validate

from conftest import REPO
from ketamine_meta.analyses.claims import (
    NOT_SUPPORTED,
    NOT_TESTABLE,
    PARTLY,
    SUPPORTED,
    VERDICTS,
    Evidence,
    audit_claims,
    range_verdict,
)
from ketamine_meta.analyses.protocol import Pooling
from ketamine_meta.cli.commands import main
from ketamine_meta.stats.model import ModelSpec

AUDIT = REPO / "results/tables/claims_audit.csv"
CLAIMS = REPO / "data/raw/claims.csv"


@pytest.fixture(scope="module")
def audit() -> pd.DataFrame:
    return pd.read_csv(AUDIT, keep_default_na=False, na_values=[""])


def test_every_claim_has_exactly_one_verdict(audit):
    claims = pd.read_csv(CLAIMS)
    assert list(audit["claim_id"]) == list(claims["claim_id"])
    assert set(audit["verdict"]) <= set(VERDICTS)


def test_every_verdict_rests_on_a_number_or_a_reason(audit):
    tested = audit[audit["verdict"] != NOT_TESTABLE]
    # A tested claim shows what was computed, with numbers in it, and why it got its verdict.
    assert tested["computed"].str.contains(r"\d").all()
    assert (tested["why"].str.len() > 20).all()
    untested = audit[audit["verdict"] == NOT_TESTABLE]
    assert (untested["why"].str.len() > 20).all()


def test_at_least_twenty_claims_are_tested(audit):
    assert (audit["verdict"] != NOT_TESTABLE).sum() >= 20


@pytest.mark.parametrize(
    ("claim_id", "test"),
    [
        ("C38", "response_24h_drug_vs_placebo"),
        ("C39", "smd_overall_range"),
        ("C08", "smd_ratio_to_benchmark"),
        ("C37", "peak_at_24h"),
        ("C40", "routes_no_difference"),
        ("C41", "racemic_vs_esketamine"),
        ("C74", "esketamine_largest_trial"),
        ("C63", "response_share"),
        ("C43", "iv_dose_share"),
        ("C45", "in_dose_share"),
        ("C47", "bioavailability_equivalents"),
        ("C54", "relapse_median"),
        ("C18", "dissociation_vs_placebo"),
        ("C01", "no_long_term_daily_dosing"),
        ("C61", "long_term_harms_scarce"),
    ],
)
def test_the_issues_claims_are_tested(audit, claim_id, test):
    row = audit.set_index("claim_id").loc[claim_id]
    assert row["test"] == test
    # Not testable only by the minimum-information rule (PROTOCOL.md §13).
    assert row["verdict"] != NOT_TESTABLE or "insufficient information" in row["why"]


def test_long_term_claims_have_tests_that_can_fail(audit):
    """Issue 19 §6: C01 and C61 were "supported" by a test that returned it whatever the data.

    C01 (no long-term data on daily dosing) is an absence claim, C61 (little formal long-term
    safety evidence) a scarcity claim (PROTOCOL.md §14); each names what it counted.
    """
    rows = audit.set_index("claim_id")
    assert rows.loc["C01", "why"].startswith("0 daily-dosed arms were followed beyond 12 weeks")
    assert "daily-dosed arms:" in rows.loc["C01", "computed"]
    assert "trials report harms beyond 12 weeks" in rows.loc["C61", "why"]


@pytest.mark.parametrize("claim_id", ["C17", "C58"])
def test_claims_about_a_named_study_are_judged_on_that_study(audit, claim_id):
    """PROTOCOL.md §13: Acevedo-Diaz's study (C17) and the study C58 links are not in the
    package, so other trials' numbers are context, not a verdict."""
    row = audit.set_index("claim_id").loc[claim_id]
    assert row["verdict"] == NOT_TESTABLE
    assert "which is not in the data package (PROTOCOL.md §13" in row["why"]
    assert row["computed"].startswith("not judged") and pd.isna(row["estimate"])


def test_the_c58_evidence_keeps_post_course_relapse_apart(audit):
    """PROTOCOL.md §15: KetECT's after-course arm is not continued-treatment evidence."""
    row = audit.set_index("claim_id").loc["C58"]
    assert "Ekstrand2022" not in row["computed"] and "Daly2019" in row["computed"]


def test_the_c67_and_c76_reasons_are_true(audit):
    """Singh 2016a's day-15 MADRS rows exist (without per-arm n); Su 2023 reports
    derealization counts (a racemic trial against midazolam)."""
    rows = audit.set_index("claim_id")
    assert "dropouts could be read" not in rows.loc["C67", "why"]
    assert "Singh2016a MADRS change at 336 h" in rows.loc["C67", "computed"]
    assert rows.loc["C67", "test"] == "dosing_frequency_no_difference"
    assert "Su2023 (derealization)" in rows.loc["C76", "computed"]
    assert rows.loc["C76", "test"] == "enantiomer_dissociation"


def test_a_thin_pooled_estimate_is_not_testable(audit):
    """PROTOCOL.md §13: two trials of suicidal-ideation scores are too few for a verdict."""
    row = audit.set_index("claim_id").loc["C65"]
    assert row["test"] == "suicidal_ideation" and row["k"] == 2
    assert row["verdict"] == NOT_TESTABLE and row["why"].startswith("insufficient information")


def test_the_smd_claim_matches_the_pooled_table(audit):
    pooled = pd.read_csv(REPO / "results/tables/pooled_smd_24h_by_route.csv").set_index("subgroup")
    row = audit.set_index("claim_id").loc["C39"]
    assert row["estimate"] == pytest.approx(pooled.loc["overall", "estimate"], rel=1e-9)
    assert row["k"] == pooled.loc["overall", "k"]


@pytest.mark.parametrize(
    ("estimate", "low", "high", "expected"),
    [
        (0.7, 0.5, 0.9, SUPPORTED),
        (0.55, 0.4, 0.75, PARTLY),
        (0.3, 0.1, 0.5, NOT_SUPPORTED),
    ],
)
def test_range_verdict(estimate, low, high, expected):
    assert range_verdict(estimate, low, high, 0.6, 1.0) == expected


def test_a_claim_without_an_entry_is_refused():
    claims = pd.read_csv(CLAIMS).head(2)
    evidence = Evidence({}, Pooling(ModelSpec("REML", "knha", 0.95)), 0.2)
    with pytest.raises(ValueError, match="without an entry"):
        audit_claims(claims, {claims["claim_id"][0]: {"not_testable": "x"}}, evidence)


def test_claims_config_is_valid_and_complete():
    mapping = yaml.safe_load((REPO / "config/claims.yaml").read_text())
    validate(mapping, str(REPO / "workflow/schemas/claims.schema.yaml"))
    assert set(mapping["claims"]) == set(pd.read_csv(CLAIMS)["claim_id"])


def test_reproductions_table(tmp_path):
    table = pd.read_csv(REPO / "results/tables/reproductions.csv")
    assert len(table) >= 5
    assert {"cochrane2021", "kishimoto2016", "jad2020_route", "papakostas2020", "an2021"} <= set(
        table["review_id"]
    )
    assert table["ours"].notna().all() and (table["gap_reason"].str.len() > 20).all()
    cochrane = table.set_index("reproduction").loc["cochrane2021_smd_24h"]
    # Published SMD -0.87 (negative favours ketamine) turned to this project's orientation.
    assert cochrane["published"] == pytest.approx(0.87)
    assert cochrane["published_ci_low"] == pytest.approx(0.48)
    schema = str(REPO / "workflow/schemas/reproductions.schema.yaml")
    for path in (REPO / "config/reproductions").glob("*.yaml"):
        validate(yaml.safe_load(path.read_text()), schema)


FIGURES = [
    "forest_smd_24h_by_route",
    "forest_rr_response_24h_by_enantiomer",
    "response_time_course",
    "effect_size_benchmark",
    "relapse_survival_by_route",
    "relapse_survival_by_enantiomer",
    "bioavailability_dose_equivalence",
    "dose_response_smd_24h",
    "funnel_smd_24h",
    "adverse_event_rr_blood_pressure",
    "adverse_event_rr_dissociation",
    "dissociation_vs_effect",
    "prisma_flow",
    "cost_per_responder",
]


@pytest.mark.parametrize("stem", FIGURES)
def test_every_figure_exists_in_both_formats(stem):
    for fmt in ("svg", "png"):
        assert (REPO / f"results/figures/{stem}.{fmt}").stat().st_size > 5_000


def test_cost_per_responder_uses_the_documents_costs():
    table = pd.read_csv(REPO / "results/tables/cost_per_responder.csv")
    claims = pd.read_csv(CLAIMS).set_index("claim_id")
    iv = table.set_index("arm_type").loc["racemic IV"]
    assert iv["course_cost_usd"] == claims.loc["C12", "value_low"]
    assert iv["cost_per_responder"] == pytest.approx(
        iv["course_cost_usd"] / iv["response_proportion"]
    )
    assert np.all(table["cost_per_responder_low"] <= table["cost_per_responder"])


def test_explain_traces_a_pooled_number_to_urls(capsys):
    """The pooled estimate explained, then each comparison's numbers and sources."""
    assert main(["explain", "smd_24h", "iv", "--root", str(REPO)]) == 0
    out = capsys.readouterr().out
    pooled = pd.read_csv(REPO / "results/tables/pooled_smd_24h_by_route.csv").set_index("subgroup")
    iv = pooled.loc["IV"]
    first, second = out.splitlines()[:2]
    assert first == (
        f"pooled estimate (IV): {iv['estimate']:.3f} [{iv['ci_low']:.3f}, {iv['ci_high']:.3f}], "
        f"k = {int(iv['k'])} (REML, {iv['test']})"
    )
    by_study = pd.read_csv(REPO / "results/tables/smd_24h_by_study.csv")
    iv_rows = by_study[by_study["route"] == "IV"]
    assert second == f"{len(iv_rows)} row(s) from {iv_rows['study_id'].nunique()} trial(s)"
    assert "https://" in out and "at: " in out
    murrough = by_study[by_study["study_id"] == "Murrough2013"].squeeze()
    assert (
        f"drug arm: mean {murrough['mean_treat']:g}, SD {murrough['sd_treat']:.4g}, "
        f"n {murrough['n_treat_analysed']:g}"
    ) in out


@pytest.mark.parametrize("analysis", ["rr_response_24h", "relapse", "claims", "adverse_events"])
def test_explain_covers_every_results_table(analysis, capsys):
    assert main(["explain", analysis, "--root", str(REPO)]) == 0
    assert "row(s) from" in capsys.readouterr().out


def test_explain_refuses_an_unknown_subgroup_and_lists_the_valid_ones(capsys):
    assert main(["explain", "smd_24h", "XX", "--root", str(REPO)]) == 2
    err = capsys.readouterr().err
    assert "no subgroup 'XX'" in err and "valid (any case):" in err and "IV" in err
