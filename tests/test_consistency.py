"""What a reader sees first agrees everywhere: the summary of findings, the landing page, the
README headline, the claims audit and PROTOCOL.md (issue 19, "Done when").

Reads the committed results: each number below is printed in more than one place, and a
change that moves it in one place only fails here.
"""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from conftest import REPO

TABLES = REPO / "results" / "tables"
CONFIG = yaml.safe_load((REPO / "config" / "config.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def overall() -> pd.Series:
    pooled = pd.read_csv(TABLES / "pooled_smd_24h_by_route.csv").set_index("subgroup")
    return pooled.loc["overall"]


@pytest.fixture(scope="module")
def headline_sof() -> pd.Series:
    sof = pd.read_csv(TABLES / "summary_of_findings.csv")
    return sof[sof["comparator"] == "inert or active placebo"].squeeze()


def test_the_rated_headline_is_the_primary_estimate(overall, headline_sof):
    for column in ("estimate", "ci_low", "ci_high", "trials"):
        assert headline_sof[column] == pytest.approx(overall[column], rel=1e-12), column


def test_the_claims_audit_judges_the_primary_estimate(overall):
    audit = pd.read_csv(TABLES / "claims_audit.csv")
    judged = audit[audit["test"] == "smd_overall_range"].squeeze()
    for column in ("estimate", "ci_low", "ci_high", "trials"):
        assert judged[column] == pytest.approx(overall[column], rel=1e-12), column


@pytest.mark.parametrize("page", ["README.md", "results/report/landing.rst"])
def test_the_first_pages_print_the_estimate_and_its_certainty(page, overall, headline_sof):
    # The landing page escapes reStructuredText markup (a colon) with backslashes.
    text = (REPO / page).read_text(encoding="utf-8").replace("\\", "")
    interval = f"{overall['estimate']:.2f} [{overall['ci_low']:.2f}, {overall['ci_high']:.2f}]"
    assert interval in text
    assert f"(GRADE): {headline_sof['certainty']}" in text


def test_protocol_states_the_configured_model():
    protocol = (REPO / "PROTOCOL.md").read_text(encoding="utf-8")
    pooling = CONFIG["pooling"]
    assert f"`pooling.test: {pooling['test']}`" in protocol
    assert f"`pooling.min_trials` ({pooling['min_trials']})" in protocol
    assert f"`comparisons.multi_arm: {CONFIG['comparisons']['multi_arm']}`" in protocol


DOMAINS = ("risk_of_bias", "inconsistency", "indirectness", "imprecision", "publication_bias")


@pytest.mark.parametrize("page", ["README.md", "results/report/landing.rst"])
def test_the_first_pages_name_every_downgrade_of_the_headline(page, headline_sof):
    """Each GRADE domain the summary of findings downgrades is named where the certainty is
    printed, with the SoF's own reason (a downgrade for small-study effects included)."""
    text = (REPO / page).read_text(encoding="utf-8").replace("\\", "")
    for domain in DOMAINS:
        named = f"{domain.replace('_', ' ')} ({headline_sof[domain]})" in text
        assert named == (headline_sof[f"downgrade_{domain}"] > 0), domain
