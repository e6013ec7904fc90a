"""Parity of every statistic with R's metafor.

Reference values come from ``tests/reference/make_metafor_references.R`` (the R call that
produced each scenario is stored beside its values as ``r_call``). ``.ci/run`` regenerates
that file with Debian's r-cran-metafor and fails if it drifts from the committed copy.

Tolerance: relative 1e-6 everywhere. The only iterative statistic here is tau^2 by REML; the
reference is converged with ``threshold = 1e-10`` and ours with 1e-12, so the optimizer needs
no looser bound. An absolute 1e-9 floor covers quantities that are exactly 0 in one
implementation and a rounding residue in the other (tau^2 at its boundary, I^2 then).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from parity_grid import (
    ALL_SCENARIOS,
    ESCALC_SCENARIOS,
    RMA_FIELDS,
    RMA_SCENARIOS,
    SUBGROUP_SCENARIOS,
)

import frozen
from conftest import REPO
from frozen import FROZEN, POOLING
from ketamine_meta.analyses.efficacy import pool_smd_by_route
from ketamine_meta.evidence.package_files import read_validated_table
from ketamine_meta.stats.effect_sizes import log_risk_ratio, smd
from ketamine_meta.stats.meta_analysis import (
    OVERALL_LABEL,
    POOLED_COLUMNS,
    SUBGROUP_TEST_LABEL,
    combine_within_clusters,
    pool_by_subgroup,
    random_effects,
)


@pytest.fixture(scope="module")
def frozen_by_study() -> pd.DataFrame:
    """The 24 h SMD comparisons today's code builds from the package frozen at 0.4.2."""
    return frozen.frozen_by_study()


# ---- issue 19: the ad hoc correction (the primary CI method) and the trial as the unit ----
#: Random-effects fits with test = "adhoc", where the truncation binds and where it does not,
#: and the model of one estimate per trial (aggregate(struct = "ID")).
ADHOC_RMA = [
    f"rma_{data}_{method}_adhoc" for data in ("bcg", "normand1999") for method in ("REML", "DL")
] + [
    "rma_homogeneous_REML_adhoc",
    "rma_k2_REML_adhoc",
    "rma_k2_agreeing_REML_adhoc",
    "rma_k3_agreeing_REML_adhoc",
    "aggregate_id_rma_REML_adhoc",
]
ADHOC_SUBGROUP = ["subgroup_bcg_alloc_REML_adhoc"]
AGGREGATE = ["aggregate_id_clusters"]
#: The engine's families with test = "adhoc" (tested in test_metafor_parity_engine.py).
ADHOC_SUBGROUP_COMMON = ["subgroup_common_tau2_bcg_alloc_adhoc"]
ADHOC_LEAVE_ONE_OUT = ["leave1out_bcg_REML_adhoc"]
ADHOC_CUMULATIVE = ["cumul_bcg_year_REML_adhoc"]
ADHOC_INFLUENCE = ["influence_bcg_REML_adhoc"]
ADHOC_REGTEST = [f"regtest_{d}_REML_adhoc" for d in ("bcg", "hackshaw1998")]
ADHOC_RANKTEST = [f"ranktest_{d}_REML_adhoc" for d in ("bcg", "hackshaw1998")]
ADHOC_TRIMFILL = [f"trimfill_{d}_L0_adhoc" for d in ("hackshaw1998", "bcg")]
ISSUE19_SCENARIOS = set(
    ADHOC_RMA
    + ADHOC_SUBGROUP
    + AGGREGATE
    + ADHOC_SUBGROUP_COMMON
    + ADHOC_LEAVE_ONE_OUT
    + ADHOC_CUMULATIVE
    + ADHOC_INFLUENCE
    + ADHOC_REGTEST
    + ADHOC_RANKTEST
    + ADHOC_TRIMFILL
)


def trial_level(inp: dict) -> tuple[np.ndarray, np.ndarray]:
    """The scenario's estimates, one per trial where it names trials (``cluster``)."""
    if "cluster" not in inp:
        return np.asarray(inp["yi"], dtype=float), np.asarray(inp["vi"], dtype=float)
    means = combine_within_clusters(inp["yi"], inp["vi"], inp["cluster"])
    return means.yi, means.vi


RTOL = 1e-6
ATOL = 1e-9


def close(actual, expected) -> None:
    np.testing.assert_allclose(
        np.asarray(actual, dtype=float), np.asarray(expected, dtype=float), rtol=RTOL, atol=ATOL
    )


def test_reference_grid_is_complete(reference):
    """Every scenario the R script writes has a test, and every test has its scenario."""
    assert set(reference) == ALL_SCENARIOS | ISSUE19_SCENARIOS


def test_grid_is_at_least_the_issue_minimum(reference):
    # Issue 4 asks for a grid of at least 25 scenarios.
    assert len(reference) >= 25


def test_reference_records_versions_and_calls(reference):
    import json

    doc = json.loads((REPO / "tests/reference/metafor_reference.json").read_text())
    assert doc["metafor_version"] and doc["r_version"].startswith("R version")
    assert all(s["r_call"] for s in reference.values())


@pytest.mark.parametrize("scenario", sorted(ESCALC_SCENARIOS))
def test_escalc(reference, scenario):
    ref = reference[scenario]
    inp = ref["input"]
    if ESCALC_SCENARIOS[scenario] == "SMD":
        yi, vi = smd(inp["m1"], inp["sd1"], inp["n1"], inp["m2"], inp["sd2"], inp["n2"])
    else:
        yi, vi = log_risk_ratio(inp["events1"], inp["n1"], inp["events2"], inp["n2"])
    close(yi, ref["values"]["yi"])
    close(vi, ref["values"]["vi"])


@pytest.mark.parametrize("scenario", RMA_SCENARIOS + ADHOC_RMA)
@pytest.mark.parametrize("field", RMA_FIELDS)
def test_rma(reference, scenario, field):
    ref = reference[scenario]
    fit = random_effects(*trial_level(ref["input"]), ref["input"]["method"], ref["input"]["test"])
    close(getattr(fit, field), ref["values"][field])


def test_the_ad_hoc_correction_binds_where_trials_agree(reference):
    """k = 2 and k = 3 trials that agree: untruncated Hartung-Knapp would be narrower than
    Wald; the ad hoc interval is the Wald SE on t(k - 1), as metafor's."""
    for scenario in ("rma_k2_agreeing_REML_adhoc", "rma_k3_agreeing_REML_adhoc"):
        inp = reference[scenario]["input"]
        adhoc = random_effects(inp["yi"], inp["vi"], "REML", "adhoc")
        knha = random_effects(inp["yi"], inp["vi"], "REML", "knha")
        assert adhoc.se == pytest.approx(adhoc.se_wald, rel=1e-12)
        assert knha.ci_high - knha.ci_low < adhoc.ci_high - adhoc.ci_low


@pytest.mark.parametrize("scenario", AGGREGATE)
def test_comparisons_of_a_trial_combine_as_metafor_aggregates(reference, scenario):
    ref = reference[scenario]
    means = combine_within_clusters(*(ref["input"][k] for k in ("yi", "vi", "cluster")))
    assert list(means.cluster) == ref["values"]["cluster"]
    close(means.yi, ref["values"]["yi"])
    close(means.vi, ref["values"]["vi"])


@pytest.mark.parametrize("scenario", SUBGROUP_SCENARIOS + ADHOC_SUBGROUP)
def test_subgroups_and_difference_test(reference, scenario):
    ref = reference[scenario]
    inp = ref["input"]
    columns = [k for k in ("yi", "vi", "groups", "cluster") if k in inp]
    data = pd.DataFrame({k: inp[k] for k in columns})
    table, fits, _ = pool_by_subgroup(
        data,
        by="groups",
        analysis="x",
        method=inp.get("method", "REML"),
        test=inp.get("test", "knha"),
        n=None,
        cluster="cluster" if "cluster" in inp else None,
    )
    assert sorted(fits) == sorted(ref["values"]["subgroups"])
    for name, expected in ref["values"]["subgroups"].items():
        for field in RMA_FIELDS:
            close(getattr(fits[name], field), expected[field])
    test_row = table.set_index("subgroup").loc[SUBGROUP_TEST_LABEL]
    close(test_row["q"], ref["values"]["q_between"])
    close(test_row["q_df"], ref["values"]["q_between_df"])
    close(test_row["q_p"], ref["values"]["q_between_p"])


def numbers(column: pd.Series) -> np.ndarray:
    """A nullable column as floats (missing as NaN)."""
    return pd.to_numeric(column).astype(float).to_numpy()


def test_frozen_by_study_table_is_what_the_code_builds(frozen_by_study):
    """The table R reads (the pipeline's output at data version 0.4.2) is what today's code
    builds from the frozen package: same comparisons, arms and numbers going into escalc."""
    written = read_validated_table(FROZEN / "smd_24h_by_study.csv")
    assert list(frozen_by_study["comparison_id"]) == list(written["comparison_id"])
    for column in (
        "n_treat",
        "n_ctrl",
        "mean_treat",
        "sd_treat",
        "mean_ctrl",
        "sd_ctrl",
        "yi",
        "vi",
    ):
        close(
            pd.to_numeric(frozen_by_study[column]).astype(float),
            pd.to_numeric(written[column]).astype(float),
        )


def test_project_effect_sizes_match_escalc(reference, frozen_by_study):
    """The pipeline's Hedges' g per comparison equals metafor's on the same arm data."""
    ref = reference["project_escalc_smd_24h"]
    assert list(frozen_by_study["comparison_id"]) == ref["input"]["comparison_id"]
    close(frozen_by_study["yi"], ref["values"]["yi"])
    close(frozen_by_study["vi"], ref["values"]["vi"])


# Every numeric column of the results table that metafor also reports.
POOLED_TABLE_FIELDS = [c for c in POOLED_COLUMNS if c in RMA_FIELDS]


@pytest.mark.parametrize("column", POOLED_TABLE_FIELDS)
def test_project_pooled_table_matches_metafor(reference, frozen_by_study, column):
    """The pooled-by-route table the pipeline builds agrees with metafor, subgroup by subgroup.

    ``k`` of the table counts comparisons and metafor's (of one estimate per trial) is the
    table's ``trials``. A prediction interval the table leaves empty (PROTOCOL.md §11: fewer
    than 3 trials, or tau^2 = 0) says why in ``pi_note``.
    """
    pooled = pool_smd_by_route(frozen_by_study, POOLING).set_index("subgroup")
    subgroups = reference["project_subgroup_smd_24h_route"]["values"]["subgroups"]
    overall = reference["project_rma_smd_24h_overall"]["values"]
    ours = "trials" if column == "k" else column
    for name, expected in {**subgroups, OVERALL_LABEL: overall}.items():
        if column in ("pi_low", "pi_high") and pd.isna(pooled.loc[name, column]):
            assert isinstance(pooled.loc[name, "pi_note"], str), name
            continue
        close(pooled.loc[name, ours], expected[column])
    between = reference["project_subgroup_smd_24h_route"]["values"]
    close(pooled.loc[SUBGROUP_TEST_LABEL, "q"], between["q_between"])
