"""The multiverse of the 24 h SMD and of 24 h response, its summary over distinct analyses,
and the inclusion multiverse (PROTOCOL.md §21)."""

from __future__ import annotations

import gzip
import importlib.util
import itertools
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
    INCLUSION_COLUMNS,
    NOT_APPLICABLE,
    SUMMARY_COLUMNS,
    choice_effects,
    chunk_specifications,
    data_set_fingerprint,
    data_specifications,
    estimand_groups,
    estimand_subgroups,
    inclusion_multiverse,
    inclusion_subsets,
    multiverse_outcome,
    multiverse_summary,
    primary_specification,
    row_hashes,
    specification_comparisons,
)
from ketamine_meta.analyses.protocol import Pooling, Protocol
from ketamine_meta.figures.multiverse_plots import specification_curve
from ketamine_meta.stats.meta_analysis import random_effects
from ketamine_meta.stats.model import ModelSpec

CONFIG = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
SETTINGS = CONFIG["multiverse"]
POOLING = Pooling.from_config(CONFIG["pooling"])
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
#: parallel for a count), combined arms, every population and data basis, all trials, 20-30 h.
PRIMARY = {
    "control_set": "inert or active placebo",
    "multi_arm": "combine",
    "population": "all",
    "data_basis": "primary and secondary",
    "risk_of_bias": "all trials",
    "window": "20-30 h",
}
PRIMARY_SMD = {**PRIMARY, "score_basis": "change or endpoint", "crossover": "paired r 0.5"}
PRIMARY_RESPONSE = {**PRIMARY, "score_basis": NOT_APPLICABLE, "crossover": "as if parallel"}


def read_multiverse(outcome: str) -> pd.DataFrame:
    specifications, choices = FILES[outcome]
    specs = pd.read_csv(RESULTS / "multiverse" / specifications, dtype={"data_set": str})
    choices = pd.read_csv(RESULTS / "multiverse" / choices, keep_default_na=False, na_values=[""])
    return specs.merge(choices, on="data_spec")


def primary_rows(table: pd.DataFrame, choices: dict) -> pd.DataFrame:
    chosen = np.logical_and.reduce([table[c] == v for c, v in choices.items()])
    model = (table["estimator"] == POOLING.model.method) & (table["test"] == POOLING.model.test)
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
    """Placebo of either kind, either score basis, r 0.5, combined arms, every population and
    data basis, all trials, 20-30 h, REML, ad hoc Hartung-Knapp: the committed headline."""
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
    assert set(headline["method"]) == {POOLING.model.method}
    assert set(headline["test"]) == {POOLING.model.test}
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
    committed = pd.read_csv(RESULTS / "tables" / summary, keep_default_na=False, na_values=[""])
    recomputed = multiverse_summary(
        read_multiverse(outcome), SETTINGS["estimand_choices"], POOLING.model
    )
    pd.testing.assert_frame_equal(committed, recomputed, check_dtype=False, atol=1e-10)


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
    assert set(inclusion["method"]) == {POOLING.model.method}
    assert set(inclusion["test"]) == {POOLING.model.test}
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
            "timepoint_h": POOLING.timepoint_h,
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
            fit = random_effects(kept["yi"], kept["vi"], **POOLING.model.arguments)
            assert fit.estimate == pytest.approx(row[f"{extreme}_estimate"], abs=1e-9), (
                subgroup,
                extreme,
            )


def test_a_window_without_comparisons_has_no_inclusion_rows(tables):
    """An analysis set that no comparison meets (a window no trial reports, here a control
    type none has) crashed the job."""
    protocol = Protocol.from_config(
        {
            "windows": CONFIG["windows"],
            "timepoint_h": POOLING.timepoint_h,
            "analysis_set": CONFIG["analysis_set"],
        }
    )
    empty_window = {**SETTINGS, "control_sets": [{"name": "none", "value": ["no_such_control"]}]}
    table = inclusion_multiverse(
        tables,
        ComparisonRules(**CONFIG["comparisons"]),
        protocol,
        empty_window,
        POOLING.model,
        SMD,
    )
    assert table.empty and list(table.columns) == INCLUSION_COLUMNS


# --- Counting analyses, not labels (§21.3) --------------------------------------------------


def test_a_fingerprint_is_the_data_sets_numbers_not_their_order():
    rows = pd.DataFrame(
        {"study_id": ["A", "B", "B"], "yi": [0.5, 0.3, -0.0], "vi": [0.1, 0.2, 0.05]}
    )

    def fingerprint(frame: pd.DataFrame) -> str:
        return data_set_fingerprint(row_hashes(frame))

    same = fingerprint(rows)
    assert same.startswith("D") and len(same) == 17
    assert fingerprint(rows.iloc[[2, 0, 1]]) == same  # order
    assert fingerprint(rows.assign(yi=[0.5 + 1e-13, 0.3, 0.0])) == same  # to 10 decimals
    assert fingerprint(rows.assign(yi=[0.5 + 1e-6, 0.3, 0.0])) != same
    assert fingerprint(rows.assign(study_id=["A", "B", "C"])) != same
    assert fingerprint(rows.iloc[:2]) != same


#: A synthetic multiverse with known duplicates: 2 estimands (control set) x 3 score bases x
#: 3 crossover handlings x 2 data bases, 2 estimators x 1 CI method. "endpoint only" pools
#: nothing; the data basis and the two other score bases change nothing; under "inert or
#: active placebo" r 0.5 and r 0.2 pool data set X1 (4 trials) and "as if parallel" X2 (5
#: trials), and only "as if parallel" has a route-IV comparison (Z); under "inert placebo"
#: every crossover handling pools Y.
SYNTHETIC_LEVELS = {
    "control_set": ["inert or active placebo", "inert placebo"],
    "score_basis": ["change or endpoint", "change only", "endpoint only"],
    "crossover": ["paired r 0.5", "paired r 0.2", "as if parallel"],
    "multi_arm": ["split"],
    "population": ["all"],
    "data_basis": ["primary and secondary", "primary only"],
    "risk_of_bias": ["all trials"],
    "window": ["20-30 h"],
}
#: data set: trials, and per estimator (estimate, ci_low); X1's REML and DL numbers coincide
#: (tau² = 0) and are still two fits.
SYNTHETIC_FITS = {
    "X1": (4, {"REML": (0.5, 0.1), "DL": (0.5, 0.1)}),
    "X2": (5, {"REML": (0.2, -0.1), "DL": (0.3, 0.05)}),
    "Y": (3, {"REML": (0.4, 0.2), "DL": (0.45, 0.25)}),
    "Z": (1, {"REML": (0.9, -0.5), "DL": (0.9, -0.4)}),
}
SYNTHETIC_MODEL = ModelSpec("REML", "knha")


def _synthetic_data_sets(spec: dict) -> dict[str, str]:
    if spec["score_basis"] == "endpoint only":
        return {}
    if spec["control_set"] == "inert placebo":
        return {"overall": "Y"}
    if spec["crossover"] == "as if parallel":
        return {"overall": "X2", "route: IV": "Z"}
    return {"overall": "X1"}


@pytest.fixture(scope="module")
def synthetic() -> pd.DataFrame:
    rows = []
    specs = itertools.product(*SYNTHETIC_LEVELS.values())
    for data_spec, values in enumerate(specs):
        spec = dict(zip(SYNTHETIC_LEVELS, values, strict=True))
        data_sets = _synthetic_data_sets(spec) or {"overall": None}
        for estimator in ("REML", "DL"):
            for subgroup, data_set in data_sets.items():
                trials, fits = SYNTHETIC_FITS.get(data_set, (0, {}))
                estimate, ci_low = fits.get(estimator, (np.nan, np.nan))
                rows.append(
                    {
                        "specification": f"{data_spec}-{estimator}-knha",
                        "data_spec": data_spec,
                        **spec,
                        "estimator": estimator,
                        "test": "knha",
                        "subgroup": subgroup,
                        "data_set": data_set,
                        "k": trials,
                        "trials": trials,
                        "estimate": estimate,
                        "ci_low": ci_low,
                        "ci_high": estimate + 0.3,
                    }
                )
    return pd.DataFrame(rows)


def test_the_summary_counts_distinct_data_sets_and_fits(synthetic):
    summary = multiverse_summary(synthetic, ["control_set"], SYNTHETIC_MODEL)
    assert list(summary.columns) == SUMMARY_COLUMNS
    summary = summary.set_index(["estimand", "subgroup"])
    assert list(summary.index) == [
        ("control_set: inert or active placebo", "overall"),
        ("control_set: inert or active placebo", "route: IV"),
        ("control_set: inert placebo", "overall"),
    ]
    both = summary.loc[("control_set: inert or active placebo", "overall")]
    # 3 score bases x 3 crossover x 2 data bases x 2 models; endpoint only pools nothing.
    assert (both["specifications"], both["without_comparisons"]) == (36, 12)
    # Of the 24 fitted specifications: 2 data sets, 4 fits (X1's coinciding REML and DL
    # count twice); kept: 3 crossover handlings x 2 models.
    assert (both["data_sets"], both["fits"], both["kept_specifications"]) == (2, 4, 6)
    assert (both["trials_min"], both["trials_max"]) == (4, 5)
    # REML: X1 above zero, X2 not. Fits: X1 twice, X2-DL above zero, X2-REML not. The raw
    # share of today's summary counts X1 twice as often: (16 + 4) / 24.
    assert both["share_data_sets_ci_above_zero"] == 0.5
    assert both["share_ci_above_zero"] == 0.75
    raw = synthetic[(synthetic["control_set"] == "inert or active placebo") & (synthetic["k"] > 0)]
    assert (raw[raw["subgroup"] == "overall"]["ci_low"] > 0).mean() == pytest.approx(20 / 24)
    assert both["median_estimate"] == pytest.approx(0.4)
    assert (both["min_estimate"], both["max_estimate"], both["median_k"]) == (0.2, 0.5, 4.5)
    assert both["choices_varied"] == "crossover"
    assert both["choices_without_effect"] == "score_basis; data_basis"
    assert both["empty_levels"] == "score_basis: endpoint only"
    route = summary.loc[("control_set: inert or active placebo", "route: IV")]
    assert (route["specifications"], route["data_sets"], route["fits"]) == (8, 1, 2)
    assert route["kept_specifications"] == 2
    assert route["choices_varied"] == "none"
    assert route["empty_levels"] == (
        "score_basis: endpoint only; crossover: paired r 0.5; crossover: paired r 0.2"
    )
    inert = summary.loc[("control_set: inert placebo", "overall")]
    assert (inert["data_sets"], inert["fits"], inert["kept_specifications"]) == (1, 2, 2)
    assert inert["choices_varied"] == "none"
    assert inert["choices_without_effect"] == "score_basis; crossover; data_basis"
    assert (inert["trials_min"], inert["trials_max"], inert["share_ci_above_zero"]) == (3, 3, 1)


def test_without_estimand_choices_one_question_pools_every_control_set(synthetic):
    summary = multiverse_summary(synthetic, [], SYNTHETIC_MODEL).set_index("subgroup")
    assert set(summary["estimand"]) == {"all specifications"}
    assert summary.loc["overall", "data_sets"] == 3
    assert summary.loc["overall", "choices_varied"] == "control_set; crossover"


def test_a_choice_that_changes_a_data_set_somewhere_varies():
    """A choice has no effect only if no combination of the other choices reveals one."""
    grid = pd.DataFrame(
        {
            "data_spec": range(4),
            "population": ["all", "all", "unipolar", "unipolar"],
            "window": ["20-30 h", "12-48 h", "20-30 h", "12-48 h"],
            "data_set": ["A", "A", "B", "C"],
        }
    )
    effects = choice_effects(grid, ["population", "window"])
    assert effects.varied == ("population", "window")
    assert effects.without_effect == () and effects.empty_levels == ()
    assert list(effects.kept) == [0, 1, 2, 3]


def test_the_summary_needs_the_primary_model_among_the_fits(synthetic):
    with pytest.raises(ValueError, match=r"primary model \(REML, adhoc\)"):
        multiverse_summary(synthetic, ["control_set"], ModelSpec("REML", "adhoc"))


def test_the_curve_draws_the_kept_specifications_of_the_primary_estimand(synthetic):
    figure = specification_curve(synthetic, ["control_set"])
    title = figure.axes[0].get_title()
    assert "overall, control set: inert or active placebo" in title
    assert "6 specifications, 2 distinct data sets, 4 distinct fits, 4-5 trials" in title
    assert "75% of the fits with the CI above 0" in title
    panel = [t.get_text() for t in figure.axes[1].get_yticklabels()]
    assert "data basis: primary only" not in panel and "crossover: as if parallel" in panel


@pytest.mark.parametrize("outcome", ["smd", "rr_response"])
def test_the_committed_summary_counts_distinct_analyses(outcome):
    """Recounted from the specification table without its fingerprints: a fit is a model's
    numbers (k, trials, estimate, CI, tau²), the same in every specification that pools the
    same data. Today's summary counted raw specifications, over every control set at once."""
    summary = pd.read_csv(
        RESULTS / "tables" / f"multiverse_summary_{outcome}_24h.csv",
        keep_default_na=False,
        na_values=[""],
    )
    assert list(summary.columns) == SUMMARY_COLUMNS
    table = read_multiverse(outcome)
    key = ["estimator", "test", "k", "trials", "estimate", "ci_low", "ci_high", "tau2"]
    models = len(SETTINGS["estimators"]) * len(SETTINGS["tests"])
    for _, row in summary.iterrows():
        control_set = row["estimand"].removeprefix("control_set: ")
        chosen = table["control_set"] == control_set
        rows = table[chosen & (table["subgroup"] == row["subgroup"])]
        assert row["specifications"] == len(rows)
        fits = rows[rows["k"] > 0].round(9).drop_duplicates(key)
        assert row["fits"] == len(fits), (row["estimand"], row["subgroup"])
        assert row["share_ci_above_zero"] == pytest.approx((fits["ci_low"] > 0).mean())
        assert row["trials_min"] == fits["trials"].min()
        assert row["trials_max"] == fits["trials"].max()
        # Every data set is pooled by every model.
        assert row["fits"] == row["data_sets"] * models


@pytest.mark.parametrize("outcome", ["smd", "rr_response"])
def test_the_kept_specifications_keep_every_distinct_data_set(outcome):
    """Fixing the choices without effect and leaving out the empty levels loses no data set."""
    table = read_multiverse(outcome)
    for estimand, subgroup, group, effects in estimand_subgroups(
        table, SETTINGS["estimand_choices"]
    ):
        fitted = group[group["k"] > 0]
        kept = fitted[fitted["data_spec"].isin(effects.kept)]
        assert set(kept["data_set"]) == set(fitted["data_set"]), (estimand, subgroup)
        for choice in effects.without_effect:
            others = [c for c in DATA_CHOICES if c != choice]
            per_others = fitted.groupby([*others, "estimator", "test"])["data_set"]
            assert (per_others.nunique() == 1).all(), (estimand, subgroup, choice)


def test_the_groups_give_their_choice_effects_when_asked_and_the_same_ones():
    table = read_multiverse("smd")
    eager = list(estimand_subgroups(table, SETTINGS["estimand_choices"]))
    lazy = list(estimand_groups(table, SETTINGS["estimand_choices"]))
    assert [(e, s) for e, s, _, _ in lazy] == [(e, s) for e, s, _, _ in eager]
    for (_, _, group, effects_of), (_, _, same, effects) in zip(lazy, eager, strict=True):
        pd.testing.assert_frame_equal(group, same)
        computed = effects_of()
        assert computed.varied == effects.varied and computed.empty_levels == effects.empty_levels
        np.testing.assert_array_equal(computed.kept, effects.kept)


def test_each_distinct_data_set_gets_its_own_posterior_whatever_else_is_fitted():
    """PROTOCOL.md §23: a data set's posterior is the scalar fit of its trials, the same bytes
    whether it is fitted alone or beside others (it is padded to its own width)."""
    from ketamine_meta.stats.bayes import BayesSpec, bayesian_meta_analysis
    from ketamine_meta.stats.bayes_priors import LogTTau2Prior

    spec = BayesSpec(LogTTau2Prior(-2.99, 2.16, 5))
    vectors = [
        (np.array([0.4, 0.7, 0.2]), np.array([0.05, 0.08, 0.04])),
        (np.array([0.9]), np.array([0.1])),
        (np.array([0.4, 0.7, 0.2]), np.array([0.05, 0.08, 0.04])),
        (np.linspace(0.1, 0.9, 9), np.full(9, 0.06)),
    ]
    names = ["a", "b", "a", "c"]
    together = multiverse.bayes_by_data_set(vectors, names, spec)
    assert list(together.index) == ["a", "b", "c"]
    alone = multiverse.bayes_by_data_set(vectors[3:], names[3:], spec)
    assert together.loc["c"].tolist() == alone.loc["c"].tolist()
    fit = bayesian_meta_analysis(*vectors[0], spec)
    mu = fit.coefficient()
    expected = [mu.quantile(0.5), mu.quantile(0.025), mu.quantile(0.975), fit.prob_above(0.0)]
    np.testing.assert_allclose(together.loc["a"], expected, rtol=0, atol=1e-13)


def test_the_committed_multiverse_carries_the_primary_prior_posterior():
    """Every fitted row of the committed SMD multiverse has its data set's posterior, the same
    on every estimator and test of that data set."""
    table = pd.read_csv(REPO / "results" / "multiverse" / "multiverse_smd_24h.csv.gz")
    fitted = table[table["k"] > 0]
    assert fitted[list(multiverse.BAYES_COLUMNS)].notna().all().all()
    per_data_set = fitted.groupby("data_set")[list(multiverse.BAYES_COLUMNS)].nunique()
    assert (per_data_set == 1).all().all()
    assert (
        (fitted["bayes_ci_low"] < fitted["bayes_estimate"])
        & (fitted["bayes_estimate"] < fitted["bayes_ci_high"])
    ).all()
