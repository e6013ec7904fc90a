"""Reproductions of published meta-analyses: judged only on a comparable trial set (§22).

Issue 19 §6: ``reproductions.csv`` said "agree" on rows that pooled one trial against a
review's four to eight. PROTOCOL.md §22: a row is judged only when ours pools at least half
of the review's trials for that estimate and at least 3; otherwise it says "not comparable"
and why.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from snakemake.utils import validate

from conftest import REPO, validated_package
from ketamine_meta.analyses.comparisons import ComparisonRules, build_effect_sizes
from ketamine_meta.analyses.protocol import windows_from_config
from ketamine_meta.analyses.reproductions import (
    NOT_COMPARABLE,
    ComparabilityRules,
    reproduce,
    reproductions_table,
)

CONFIG = yaml.safe_load((REPO / "config/config.yaml").read_text())
RULES = ComparabilityRules(
    **yaml.safe_load((REPO / "config/claims.yaml").read_text())["reproduction_rules"]
)
SPECS = {
    p.stem: yaml.safe_load(p.read_text()) for p in (REPO / "config/reproductions").glob("*.yaml")
}
COMMITTED = REPO / "results/tables/reproductions.csv"


@pytest.mark.parametrize(
    ("ours", "review", "comparable"),
    [
        (1, 8, False),
        (3, 8, False),
        (4, 8, True),
        (2, 4, False),  # half, but fewer than 3
        (3, 4, True),
        (3, 6, True),
        (3, 5, True),
        (5, 4, False),  # more than the review pooled: the sets differ
        (3, np.nan, False),  # the review's count is not stated
    ],
)
def test_comparability_needs_half_of_the_reviews_trials_and_three(ours, review, comparable):
    reason = RULES.not_comparable(ours, review)
    assert (reason is None) == comparable
    if not comparable:
        assert "\n" not in reason and len(reason) > 20


def test_the_configured_rule_is_the_protocols():
    assert (RULES.min_share, RULES.min_trials) == (0.5, 3)
    assert RULES.needed(8) == 4 and RULES.needed(4) == 3 and RULES.needed(7) == 4


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    """The reproductions table computed from the package by the live code."""
    package = validated_package(REPO / "data/raw")
    effects, _ = build_effect_sizes(
        package["studies"],
        package["arms"],
        package["outcomes"],
        package["contrasts"],
        ComparisonRules(**CONFIG["comparisons"]),
    )
    windows = windows_from_config(CONFIG["windows"])
    return reproductions_table(SPECS, effects, package["published_estimates"], windows, RULES)


def _check_judgements(rows: pd.DataFrame) -> None:
    """Every row: not comparable below the rule, else agreement from the difference's CI."""
    for _, row in rows.iterrows():
        trials = len(str(row["ours_trials"]).split(";")) if row["ours_k"] > 0 else 0
        reason = RULES.not_comparable(trials, row["review_trials"])
        if reason:
            assert row["agreement"] == NOT_COMPARABLE, row["reproduction"]
            assert row["comparability"] == f"{NOT_COMPARABLE}: {reason}"
        else:
            inside = row["difference_ci_low"] <= 0 <= row["difference_ci_high"]
            assert row["agreement"] == ("agree" if inside else "differ"), row["reproduction"]
            assert row["comparability"].startswith("comparable: ours pools")


def test_rows_with_too_few_of_the_reviews_trials_are_not_comparable(table):
    _check_judgements(table)
    rows = table.set_index("reproduction")
    # Cochrane 2021's placebo SMD: ours pools Lapidus 2014 alone against the review's 8.
    assert rows.loc["cochrane2021_smd_24h", "agreement"] == NOT_COMPARABLE
    assert (
        "ours pools 1 of the review's 8 trials" in rows.loc["cochrane2021_smd_24h", "comparability"]
    )
    # Kishimoto 2016 does not state how many trials gave its day-1 g.
    assert "not stated" in rows.loc["kishimoto2016_g_day1", "comparability"]
    # An 2021's count comes from its subgroup's label (5 + 1 trials).
    assert rows.loc["an2021_response_24h", "review_trials"] == 6


def test_the_committed_table_says_not_comparable_below_the_rule():
    """Fails on the table committed before §22: every row said "agree"."""
    committed = pd.read_csv(COMMITTED)
    assert {"review_trials", "comparability"} <= set(committed.columns)
    _check_judgements(committed)


def test_a_review_count_is_needed_where_the_published_row_has_none():
    published = validated_package(REPO / "data/raw")["published_estimates"]
    for name, spec in SPECS.items():
        key = spec["published"]
        row = published[
            (published["review_id"] == spec["review_id"])
            & (published["outcome"] == key["outcome"])
            & (published["timepoint"] == key["timepoint"])
            & (published["subgroup"] == key["subgroup"])
            & (published["measure"] == key["measure"])
        ]
        if "review_trials" in spec:
            assert row["k"].isna().all(), f"{name}: the published row gives k; drop review_trials"
            assert spec["review_trials"]["source"]


def test_reproduction_specs_are_valid():
    schema = str(REPO / "workflow/schemas/reproductions.schema.yaml")
    for spec in SPECS.values():
        validate(spec, schema)


def test_a_row_without_comparisons_is_not_comparable():
    spec = SPECS["cochrane2021_smd_24h"]
    spec = {**spec, "ours": {**spec["ours"], "enantiomers": ["arketamine"]}}
    package = validated_package(REPO / "data/raw")
    effects, _ = build_effect_sizes(
        package["studies"],
        package["arms"],
        package["outcomes"],
        package["contrasts"],
        ComparisonRules(**CONFIG["comparisons"]),
    )
    row = reproduce("none", spec, effects, package["published_estimates"], rules=RULES)
    assert row["ours_k"] == 0 and row["agreement"] == NOT_COMPARABLE
