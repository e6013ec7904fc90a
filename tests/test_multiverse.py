"""The multiverse of the 24 h SMD (PROTOCOL.md §21)."""

from __future__ import annotations

import gzip
import math

import pandas as pd
import pytest
import yaml

from conftest import REPO
from ketamine_meta.analyses.comparisons import ComparisonRules
from ketamine_meta.analyses.multiverse import (
    DATA_CHOICES,
    chunk_specifications,
    data_specifications,
    multiverse_summary,
)

CONFIG = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
SETTINGS = CONFIG["multiverse"]
RESULTS = REPO / "results"


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    specs = pd.read_csv(RESULTS / "multiverse/multiverse_smd_24h.csv.gz")
    choices = pd.read_csv(
        RESULTS / "multiverse/data_specifications.csv", keep_default_na=False, na_values=[""]
    )
    return specs.merge(choices, on="data_spec")


def test_the_space_is_the_product_of_the_choices():
    sizes = [
        len(SETTINGS[key])
        for key in (
            "control_sets",
            "score_bases",
            "crossover",
            "multi_arm",
            "populations",
            "data_bases",
            "risk_of_bias",
            "windows",
        )
    ]
    specs = data_specifications(SETTINGS)
    assert len(specs) == math.prod(sizes)
    assert not specs.duplicated(list(DATA_CHOICES)).any()


def test_chunks_partition_the_space():
    chunks = SETTINGS["chunks"]
    rules = ComparisonRules(**CONFIG["comparisons"])
    parts = [chunk_specifications(SETTINGS, c, chunks, rules)["data_spec"] for c in range(chunks)]
    together = sorted(pd.concat(parts))
    assert together == list(range(len(data_specifications(SETTINGS))))


def test_every_specification_is_fitted_once(table):
    per_spec = table.groupby(["data_spec", "estimator", "test", "subgroup"]).size()
    assert (per_spec == 1).all()
    overall = table[table["subgroup"] == "overall"]
    expected = (
        len(data_specifications(SETTINGS)) * len(SETTINGS["estimators"]) * len(SETTINGS["tests"])
    )
    assert len(overall) == expected


def test_the_primary_specification_is_the_primary_analysis(table):
    """Placebo of either kind, either score basis, r 0.5, split arms, every population and
    data basis, all trials, 20-30 h, REML, Hartung-Knapp: the committed headline."""
    primary = table[
        (table["control_set"] == "inert or active placebo")
        & (table["score_basis"] == "change or endpoint")
        & (table["crossover"] == "paired r 0.5")
        & (table["multi_arm"] == "split")
        & (table["population"] == "all")
        & (table["data_basis"] == "primary and secondary")
        & (table["risk_of_bias"] == "all trials")
        & (table["window"] == "20-30 h")
        & (table["estimator"] == "REML")
        & (table["test"] == "knha")
    ].set_index("subgroup")
    headline = pd.read_csv(RESULTS / "tables/pooled_smd_24h_by_route.csv").set_index("subgroup")
    for subgroup, key in (("overall", "overall"), ("route: IN", "IN"), ("route: IV", "IV")):
        assert primary.loc[subgroup, "estimate"] == pytest.approx(
            headline.loc[key, "estimate"], abs=1e-9
        )
        assert primary.loc[subgroup, "ci_low"] == pytest.approx(
            headline.loc[key, "ci_low"], abs=1e-9
        )


def test_summary_is_the_table(table):
    committed = pd.read_csv(RESULTS / "tables/multiverse_summary_smd_24h.csv")
    recomputed = multiverse_summary(table)
    pd.testing.assert_frame_equal(
        committed.set_index("subgroup"),
        recomputed.set_index("subgroup"),
        check_dtype=False,
        atol=1e-10,
    )


def test_the_compressed_table_is_byte_reproducible():
    raw = (RESULTS / "multiverse/multiverse_smd_24h.csv.gz").read_bytes()
    assert raw[4:8] == b"\x00\x00\x00\x00"  # gzip header mtime 0
    assert gzip.decompress(raw).startswith(b"specification,data_spec,")
