"""The multiverse of the 24 h SMD and of 24 h response, and the inclusion multiverse
(PROTOCOL.md §21)."""

from __future__ import annotations

import gzip
import importlib.util
import math
from types import SimpleNamespace

import jinja2
import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO, validated_package
from ketamine_meta.analyses import multiverse
from ketamine_meta.analyses.comparisons import ComparisonRules
from ketamine_meta.analyses.multiverse import (
    DATA_CHOICES,
    NOT_APPLICABLE,
    chunk_specifications,
    data_specifications,
    inclusion_subsets,
    multiverse_outcome,
    multiverse_summary,
    primary_specification,
    specification_comparisons,
)
from ketamine_meta.analyses.protocol import Protocol
from ketamine_meta.stats.meta_analysis import random_effects

CONFIG = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
SETTINGS = CONFIG["multiverse"]
POOLING = CONFIG["pooling"]
RESULTS = REPO / "results"
SMD = multiverse_outcome(SETTINGS, "smd")
RESPONSE = multiverse_outcome(SETTINGS, "rr_response")
#: Each outcome's specifications and data specifications (the SMD's keeps its first name).
FILES = {
    "smd": ("multiverse_smd_24h.csv.gz", "data_specifications_smd_24h.csv"),
    "rr_response": (
        "multiverse_rr_response_24h.csv.gz",
        "data_specifications_rr_response_24h.csv",
    ),
}
#: The primary specification: placebo of either kind, either score basis, r 0.5 (as if
#: parallel for a count), split arms, every population and data basis, all trials, 20-30 h.
PRIMARY = {
    "control_set": "inert or active placebo",
    "multi_arm": "split",
    "population": "all",
    "data_basis": "primary and secondary",
    "risk_of_bias": "all trials",
    "window": "20-30 h",
}
PRIMARY_SMD = {**PRIMARY, "score_basis": "change or endpoint", "crossover": "paired r 0.5"}
PRIMARY_RESPONSE = {**PRIMARY, "score_basis": NOT_APPLICABLE, "crossover": "as if parallel"}


def read_multiverse(outcome: str) -> pd.DataFrame:
    specifications, choices = FILES[outcome]
    specs = pd.read_csv(RESULTS / "multiverse" / specifications)
    choices = pd.read_csv(RESULTS / "multiverse" / choices, keep_default_na=False, na_values=[""])
    return specs.merge(choices, on="data_spec")


def primary_rows(table: pd.DataFrame, choices: dict) -> pd.DataFrame:
    chosen = np.logical_and.reduce([table[c] == v for c, v in choices.items()])
    model = (table["estimator"] == POOLING["method"]) & (table["test"] == POOLING["test"])
    return table[chosen & model].set_index("subgroup")


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return read_multiverse("smd")


@pytest.fixture(scope="module")
def response() -> pd.DataFrame:
    return read_multiverse("rr_response")


@pytest.fixture(scope="module")
def tables():
    return validated_package(REPO / "data/raw")


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
    pd.testing.assert_frame_equal(specs, data_specifications(SETTINGS, SMD))


def test_the_response_space_is_the_product_of_its_applicable_choices():
    """Score basis and the crossover correlation do not change a log RR (§21.1)."""
    without_r = [e["name"] for e in SETTINGS["crossover"] if e["value"] in (None, "exclude")]
    assert without_r == ["as if parallel", "parallel trials only"]
    sizes = [
        len(SETTINGS["control_sets"]),
        len(without_r),
        len(SETTINGS["multi_arm"]),
        len(SETTINGS["populations"]),
        len(SETTINGS["data_bases"]),
        len(SETTINGS["risk_of_bias"]),
        len(SETTINGS["windows"]),
    ]
    specs = data_specifications(SETTINGS, RESPONSE)
    assert len(specs) == math.prod(sizes)
    assert set(specs["score_basis"]) == {NOT_APPLICABLE}
    assert sorted(set(specs["crossover"])) == sorted(without_r)
    assert not specs.duplicated(list(DATA_CHOICES)).any()
    committed = pd.read_csv(
        RESULTS / "multiverse" / FILES["rr_response"][1], keep_default_na=False, na_values=[""]
    )
    pd.testing.assert_frame_equal(committed, specs, check_dtype=False)


@pytest.mark.parametrize("outcome", [SMD, RESPONSE], ids=lambda o: o["name"])
def test_chunks_partition_the_space(outcome):
    chunks = SETTINGS["chunks"]
    rules = ComparisonRules(**CONFIG["comparisons"])
    parts = [
        chunk_specifications(SETTINGS, c, chunks, rules, outcome)["data_spec"]
        for c in range(chunks)
    ]
    together = sorted(pd.concat(parts))
    assert together == list(range(len(data_specifications(SETTINGS, outcome))))


@pytest.mark.parametrize("outcome", ["smd", "rr_response"])
def test_every_specification_is_fitted_once(outcome):
    table = read_multiverse(outcome)
    per_spec = table.groupby(["data_spec", "estimator", "test", "subgroup"]).size()
    assert (per_spec == 1).all()
    overall = table[table["subgroup"] == "overall"]
    entry = multiverse_outcome(SETTINGS, outcome)
    expected = (
        len(data_specifications(SETTINGS, entry))
        * len(SETTINGS["estimators"])
        * len(SETTINGS["tests"])
    )
    assert len(overall) == expected
    assert overall["specification"].is_unique


def test_the_primary_specification_is_the_primary_analysis(table):
    """Placebo of either kind, either score basis, r 0.5, split arms, every population and
    data basis, all trials, 20-30 h, REML, Hartung-Knapp: the committed headline."""
    primary = primary_rows(table, PRIMARY_SMD)
    assert set(primary["data_spec"]) == {primary_specification(SETTINGS, SMD)["data_spec"]}
    headline = pd.read_csv(RESULTS / "tables/pooled_smd_24h_by_route.csv").set_index("subgroup")
    for subgroup, key in (("overall", "overall"), ("route: IN", "IN"), ("route: IV", "IV")):
        assert primary.loc[subgroup, "estimate"] == pytest.approx(
            headline.loc[key, "estimate"], abs=1e-9
        )
        assert primary.loc[subgroup, "ci_low"] == pytest.approx(
            headline.loc[key, "ci_low"], abs=1e-9
        )


def test_the_primary_response_specification_is_the_headline_rr(response):
    """The headline (pooled.select_at, pool_rr_by) selects the primary window and analysis set
    and fits the pooling model: the primary response specification, as if parallel (counts of
    crossover trials always are)."""
    primary = primary_rows(response, PRIMARY_RESPONSE)
    assert set(primary["data_spec"]) == {0}
    assert primary_specification(SETTINGS, RESPONSE)[list(PRIMARY_RESPONSE)].to_dict() == (
        PRIMARY_RESPONSE
    )
    headline = pd.read_csv(RESULTS / "tables/pooled_rr_response_24h_by_enantiomer.csv")
    headline = headline[headline["subgroup"] != "test for subgroup differences"]
    assert set(headline["method"]) == {POOLING["method"]}
    assert set(headline["test"]) == {POOLING["test"]}
    headline = headline.set_index("subgroup")
    pairs = [(s if s == "overall" else f"enantiomer: {s}", s) for s in headline.index]
    assert len(pairs) >= 3
    for label, key in pairs:
        for column in ("k", "estimate", "ci_low", "ci_high", "tau2"):
            assert primary.loc[label, column] == pytest.approx(
                headline.loc[key, column], abs=1e-9
            ), (label, column)


@pytest.mark.parametrize(
    ("outcome", "summary"),
    [
        ("smd", "multiverse_summary_smd_24h.csv"),
        ("rr_response", "multiverse_summary_rr_response_24h.csv"),
    ],
)
def test_summary_is_the_table(outcome, summary):
    committed = pd.read_csv(RESULTS / "tables" / summary)
    recomputed = multiverse_summary(read_multiverse(outcome))
    pd.testing.assert_frame_equal(
        committed.set_index("subgroup"),
        recomputed.set_index("subgroup"),
        check_dtype=False,
        atol=1e-10,
    )


@pytest.mark.parametrize("outcome", ["smd", "rr_response"])
def test_the_compressed_table_is_byte_reproducible(outcome):
    raw = (RESULTS / "multiverse" / FILES[outcome][0]).read_bytes()
    assert raw[4:8] == b"\x00\x00\x00\x00"  # gzip header mtime 0
    assert gzip.decompress(raw).startswith(b"specification,data_spec,")


@pytest.mark.parametrize("caption", ["multiverse_curve", "multiverse_distribution"])
@pytest.mark.parametrize("outcome", ["smd", "rr_response"])
def test_figure_captions_count_the_specifications_of_the_outcome(caption, outcome):
    """The captions compute the space's size from the config: it is the library's."""
    template = (REPO / "workflow" / "report" / f"{caption}.rst").read_text()
    snakemake = SimpleNamespace(config=CONFIG, wildcards=SimpleNamespace(outcome=outcome))
    text = (
        jinja2.Environment(undefined=jinja2.StrictUndefined)
        .from_string(template)
        .render(snakemake=snakemake)
    )
    specs = len(data_specifications(SETTINGS, multiverse_outcome(SETTINGS, outcome)))
    models = len(SETTINGS["estimators"]) * len(SETTINGS["tests"])
    assert f"{specs:,} data specifications" in text
    assert f"{specs * models:,} specifications" in text
    if caption == "multiverse_curve":
        assert ", ".join(SETTINGS["estimators"]) in text


# --- The inclusion multiverse (§21.2) -------------------------------------------------------


def test_inclusion_subsets_leave_out_at_most_drop_trials():
    trials = [f"T{i}" for i in range(7)]
    subsets = inclusion_subsets(trials, 2)
    assert len(subsets) == math.comb(7, 0) + math.comb(7, 1) + math.comb(7, 2)
    assert len(set(subsets)) == len(subsets)
    assert min(len(s) for s in subsets) == 5 and tuple(trials) in subsets
    assert inclusion_subsets(["A", "B"], 2) == [("A",), ("B",), ("A", "B")]


def test_the_benchmark_uses_the_library_inclusion_subsets():
    spec = importlib.util.spec_from_file_location("bench", REPO / "benchmarks/multiverse.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.inclusion_subsets is multiverse.inclusion_subsets


@pytest.fixture(scope="module")
def inclusion() -> pd.DataFrame:
    return pd.read_csv(RESULTS / "tables/multiverse_inclusion_smd_24h.csv").set_index("subgroup")


def test_inclusion_counts_the_subsets_of_each_subgroup(inclusion):
    drop = SETTINGS["inclusion_drop"]
    for subgroup, row in inclusion.iterrows():
        k = int(row["trials"])
        expected = sum(math.comb(k, j) for j in range(min(drop, k - 1) + 1))
        assert row["subsets"] == expected, subgroup
    assert set(inclusion["method"]) == {POOLING["method"]}
    assert set(inclusion["test"]) == {POOLING["test"]}
    headline = pd.read_csv(RESULTS / "tables/pooled_smd_24h_by_route.csv").set_index("subgroup")
    assert inclusion.loc["overall", "estimate"] == pytest.approx(
        headline.loc["overall", "estimate"], abs=1e-9
    )
    assert inclusion.loc["overall", "k"] == headline.loc["overall", "k"]


def test_inclusion_extremes_are_the_scalar_fits_without_the_named_trials(tables, inclusion):
    """Each subgroup's smallest and largest estimate, refitted by random_effects on the
    primary specification's comparisons without the trials the table names."""
    protocol = Protocol.from_config(
        {
            "windows": CONFIG["windows"],
            "timepoint_h": POOLING["timepoint_h"],
            "analysis_set": CONFIG["analysis_set"],
        }
    )
    rules = ComparisonRules(**CONFIG["comparisons"])
    specs = data_specifications(SETTINGS, SMD).iloc[[0]]
    [(_, rows)] = specification_comparisons(tables, rules, protocol, SETTINGS, specs, SMD)
    for subgroup, row in inclusion.iterrows():
        if subgroup == "overall":
            group = rows
        else:
            column, _, level = subgroup.partition(": ")
            group = rows[rows[column] == level]
        assert group["study_id"].nunique() == row["trials"]
        for extreme in ("min", "max"):
            dropped = row[f"dropped_for_{extreme}_estimate"]
            left_out = [] if dropped == "none" else dropped.split("; ")
            kept = group[~group["study_id"].isin(left_out)]
            fit = random_effects(
                kept["yi"], kept["vi"], POOLING["method"], POOLING["test"], POOLING["level"]
            )
            assert fit.estimate == pytest.approx(row[f"{extreme}_estimate"], abs=1e-9), (
                subgroup,
                extreme,
            )
