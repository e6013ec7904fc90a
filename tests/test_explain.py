"""``ketamine-meta explain`` (:mod:`ketamine_meta.analyses.explain`): a pooled number traced
to its comparisons, arm data and sources.

The tables are built here: three comparisons of three trials by two routes, pooled by the
engine, written to a temporary directory and read back as the command reads the pipeline's
results; the explanation must quote the pooled model's own numbers and every row's data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ketamine_meta.analyses.explain import (
    SOURCE_CAVEATS,
    Explainable,
    explain,
    explainable,
    select_rows,
    subgroups,
)
from ketamine_meta.stats.meta_analysis import OVERALL_LABEL, pool_by_subgroup

ROWS = pd.DataFrame(
    {
        "study_id": ["Alpha2001", "Beta2002", "Gamma2003"],
        "label": ["Alpha 2001", "Beta 2002", "Gamma 2003"],
        "route": ["IV", "IV", "IN"],
        "enantiomer": ["racemic", "racemic", "esketamine"],
        "yi": [0.8, 0.4, 0.3],
        "vi": [0.10, 0.05, 0.02],
        "n_total": [40, 60, 200],
        "data_basis": ["arm-level", "arm-level", "reported LSMD"],
        "mean_treat": [-12.0, -10.5, np.nan],
        "sd_treat": [8.0, 9.25, np.nan],
        "n_treat_analysed": [20, 30, 100],
        "mean_ctrl": [-5.0, -7.0, np.nan],
        "sd_ctrl": [9.0, 8.5, np.nan],
        "n_ctrl_analysed": [20, 30, 100],
        "contrast_estimate": [np.nan, np.nan, -3.5],
        "contrast_se": [np.nan, np.nan, 1.25],
        "source_id_treat": ["alpha_paper", "beta_mirror", "gamma_paper"],
        "locator_treat": ["Table 2", "Figure 3", "Abstract"],
        "source_id_ctrl": ["alpha_paper", "beta_mirror", "gamma_paper"],
        "locator_ctrl": ["Table 2", "Figure 4", "Abstract"],
    }
)
#: The SMD rows matched to their pooled table by route (or enantiomer, or a trial).
SMD = Explainable("rows.csv", ("pooled.csv",), ("route", "enantiomer", "study_id"))
SOURCES = pd.DataFrame(
    {
        "source_id": ["alpha_paper", "beta_mirror", "gamma_paper"],
        "url": ["https://a.example/1", "https://b.example/2", "https://g.example/3"],
        "source_kind": ["journal", "aggregator", "journal"],
    }
)


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    """The rows, their pooled table by route and the sources, through CSV files."""
    root = tmp_path_factory.mktemp("explain")
    pooled, fits, overall = pool_by_subgroup(ROWS, "route", "smd_depression_24h", "REML", "knha")
    for name, frame in (("rows", ROWS), ("pooled", pooled), ("sources", SOURCES)):
        frame.to_csv(root / f"{name}.csv", index=False)
    read = {name: pd.read_csv(root / f"{name}.csv") for name in ("rows", "pooled", "sources")}
    return read, fits, overall


def test_the_overall_estimate_is_quoted_from_the_pooled_table(traced):
    read, _, overall = traced
    text = explain(read["rows"], read["sources"], None, [read["pooled"]], SMD)
    first, second = text.splitlines()[:2]
    assert first == (
        f"pooled estimate ({OVERALL_LABEL}): {overall.estimate:.3f} "
        f"[{overall.ci_low:.3f}, {overall.ci_high:.3f}], k = 3 (REML, knha)"
    )
    assert second == "3 row(s) from 3 trial(s)"


def test_a_subgroup_shows_its_own_estimate_and_only_its_rows(traced):
    read, fits, _ = traced
    text = explain(read["rows"], read["sources"], "iv", [read["pooled"]], SMD)
    iv = fits["IV"]
    assert text.startswith(
        f"pooled estimate (IV): {iv.estimate:.3f} [{iv.ci_low:.3f}, {iv.ci_high:.3f}], k = 2"
    )
    assert "2 row(s) from 2 trial(s)" in text
    assert "Gamma 2003" not in text


def test_each_row_carries_its_arm_data_and_sources(traced):
    read, _, _ = traced
    text = explain(read["rows"], read["sources"], "Alpha2001", [read["pooled"]], SMD)
    assert text.splitlines()[2:] == [
        "",
        "Alpha 2001: yi = 0.8000, vi = 0.1000 arm-level",
        "  drug arm: mean -12, SD 8, n 20",
        "  control arm: mean -5, SD 9, n 20",
        # One source at one locator for both arms: listed once.
        "  drug arm: alpha_paper <https://a.example/1> [journal]",
        "    at: Table 2",
    ]
    # A study id is not a pooled subgroup of the route table: the text says so.
    assert text.startswith("pooled estimate: none for Alpha2001 (a single trial, or not pooled")


def test_a_weak_source_and_a_reported_contrast_are_flagged(traced):
    read, _, _ = traced
    beta = explain(read["rows"], read["sources"], "Beta2002", (), SMD)
    assert f"beta_mirror <https://b.example/2> [aggregator{SOURCE_CAVEATS['aggregator']}]" in beta
    assert "    at: Figure 3" in beta and "    at: Figure 4" in beta
    assert beta.startswith("pooled estimate: none (this table lists rows, not a pooled model)")
    gamma = explain(read["rows"], read["sources"], "Gamma2003", (), SMD)
    assert "  reported LSMD: -3.5, SE 1.25; n 100 drug, 100 control" in gamma
    assert "mean" not in gamma


def test_a_ratio_table_is_shown_exponentiated(traced):
    read, _, overall = traced
    ratio = Explainable("rows.csv", ("pooled.csv",), ("route", "study_id"), "ratio")
    text = explain(read["rows"], read["sources"], None, [read["pooled"]], ratio)
    low, high = np.exp([overall.ci_low, overall.ci_high])
    assert text.startswith(
        f"pooled estimate ({OVERALL_LABEL}): {np.exp(overall.estimate):.3f} [{low:.3f}, {high:.3f}]"
    )


def test_subgroup_names_and_matching(traced):
    read, _, _ = traced
    analysis = SMD
    assert subgroups(read["rows"], analysis) == [
        "Alpha2001",
        "Beta2002",
        "Gamma2003",
        "IN",
        "IV",
        "esketamine",
        "racemic",
    ]
    rows, column = select_rows(read["rows"], "ESKETAMINE", analysis)
    assert column == "enantiomer" and rows["study_id"].tolist() == ["Gamma2003"]
    assert select_rows(read["rows"], None, analysis)[1] is None
    with pytest.raises(KeyError, match="oral"):
        select_rows(read["rows"], "oral", analysis)


def test_the_registry_s_traced_tables_become_explainable_analyses():
    traced = {
        "smd_24h": {
            "rows": "results/tables/smd_24h_by_study.csv",
            "pooled": "results/tables/pooled_smd_24h_by_route.csv",
            "subgroup_columns": ["route", "study_id"],
        },
        "adverse_events": {"rows": "results/tables/adverse_event_rr.csv", "scale": "ratio"},
    }
    assert explainable(traced) == {
        "smd_24h": Explainable(
            "results/tables/smd_24h_by_study.csv",
            ("results/tables/pooled_smd_24h_by_route.csv",),
            ("route", "study_id"),
            "identity",
        ),
        "adverse_events": Explainable(
            "results/tables/adverse_event_rr.csv",
            (),
            Explainable.subgroup_columns,
            "ratio",
        ),
    }


def test_a_subgroup_is_found_in_the_moderator_s_table_by_its_printed_name(traced):
    """explain smd_24h esketamine: the route table has no esketamine row, the enantiomer
    table has; "Intravenous" as the figures print it finds IV."""
    read, _, _ = traced
    by_route = read["pooled"]
    by_enantiomer = by_route.assign(
        subgroup=by_route["subgroup"].replace({"IV": "esketamine"}), estimate=0.46
    )
    text = explain(read["rows"], read["sources"], "Esketamine", [by_route, by_enantiomer], SMD)
    assert text.startswith("pooled estimate (esketamine): 0.460 [")
    printed = explain(read["rows"], read["sources"], "Intravenous", [by_route], SMD)
    assert printed.startswith("pooled estimate (IV): ")
    assert select_rows(read["rows"], "intravenous", SMD)[1] == "route"
