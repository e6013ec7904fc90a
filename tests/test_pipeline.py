"""End-to-end runs of the Snakemake workflow in temporary copies of the repository."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from conftest import REPO, results_digest, run_snakemake, tree_digest

pytestmark = pytest.mark.pipeline

EXPECTED_RESULTS = {
    "tables/pooled_smd_24h_by_route.csv",
    "tables/smd_24h_by_study.csv",
    "figures/forest_smd_24h_by_route.svg",
    "figures/forest_smd_24h_by_route.png",
}


def test_pipeline_produces_every_result(pipeline_run):
    produced = set(tree_digest(pipeline_run / "results"))
    assert EXPECTED_RESULTS <= produced


def test_committed_results_are_what_the_pipeline_produces(pipeline_run):
    """results/ in the repository is byte for byte what a clean run writes.

    The committed results come from a clean run on the committing machine and the compared
    ones from this test's own clean run (on CI, another machine): two independent runs, so
    this also shows that clean runs are byte-identical.
    """
    committed = results_digest(REPO / "results")
    produced = results_digest(pipeline_run / "results")
    assert produced == committed


def test_data_raw_is_never_written(pipeline_run):
    assert tree_digest(pipeline_run / "data/raw") == tree_digest(REPO / "data/raw")


def test_second_run_has_nothing_to_do(pipeline_run):
    result = run_snakemake(pipeline_run, "--dry-run")
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr


# What every job waits for, run first whatever the priorities: nothing competes with them.
RUN_START = {"pull", "validate", "effect_sizes", "output_registry"}


def test_the_audit_notebooks_chain_goes_first(pipeline_run):
    """Every rule the audit notebook (the slowest job) waits for goes ahead of the others.

    Otherwise, on two cores, Snakemake starts the notebook last and runs it alone
    (``CRITICAL_PATH`` in ``workflow/rules/common.smk``). A rule added to its chain without
    the priority fails here.
    """
    graph = run_snakemake(pipeline_run, "--forceall", "--rulegraph").stdout
    names = dict(re.findall(r'^\s*(\d+)\[label = "(\w+)"', graph, re.M))
    parents: dict[str, set[str]] = {}
    for parent, child in re.findall(r"^\s*(\d+) -> (\d+)", graph, re.M):
        parents.setdefault(names[child], set()).add(names[parent])
    chain, todo = {"audit_notebook"}, ["audit_notebook"]
    while todo:
        for parent in parents.get(todo.pop(), ()):
            if parent not in chain:
                chain.add(parent)
                todo.append(parent)
    dry_run = run_snakemake(pipeline_run, "--forceall", "--dry-run").stdout
    ahead = set(re.findall(r"^rule (\w+):\n(?:    .*\n)*?    priority: [1-9]\d*$", dry_run, re.M))
    assert "claims_audit" in chain and "efficacy_tables" in chain
    assert ahead == chain - RUN_START


def test_svg_carries_no_timestamp(pipeline_run):
    svg = (pipeline_run / "results/figures/forest_smd_24h_by_route.svg").read_text()
    assert "<dc:date>" not in svg
    assert not re.search(r"20\d\d-\d\d-\d\dT\d\d:\d\d", svg)


def test_pooled_table_columns_and_rows(pipeline_run):
    pooled = pd.read_csv(pipeline_run / "results/tables/pooled_smd_24h_by_route.csv")
    required = [
        "analysis",
        "subgroup",
        "k",
        "trials",
        "n",
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "pi_low",
        "pi_high",
        "tau2",
        "i2",
        "q",
        "q_p",
        "method",
    ]
    assert list(pooled.columns[: len(required)]) == required
    by_study = pd.read_csv(pipeline_run / "results/tables/smd_24h_by_study.csv")
    routes = sorted(by_study["route"].unique())
    assert list(pooled["subgroup"]) == [*routes, "overall", "test for subgroup differences"]
    overall = pooled.set_index("subgroup").loc["overall"]
    assert overall["k"] == len(by_study)
    assert overall["trials"] == by_study["study_id"].nunique()
    assert overall["ci_low"] < overall["estimate"] < overall["ci_high"]
    assert overall["pi_low"] <= overall["ci_low"]


def test_every_rule_writes_its_log(pipeline_run):
    logs = {p.name for p in (pipeline_run / "logs").glob("*.log")}
    assert {
        "pull.log",
        "validate.log",
        "effect_sizes.log",
        "efficacy_tables.log",
        "efficacy_figures.log",
        "response_tables.log",
        "response_figures.log",
        "safety_tables.log",
        "safety_figures.log",
        "dose_tables.log",
        "dose_figures.log",
    } <= logs


def test_report_is_generated(report_html):
    html = report_html.read_text(errors="replace")
    assert "forest_smd_24h_by_route.svg" in html
    assert "Hartung-Knapp" in html
    # Laid out for a laptop's width: the headline above the workflow graph, wide tables
    # scrolling inside the page (workflow/report/report.css, embedded).
    assert "#rulegraph {\n  flex-basis: 100%;" in html
    assert "overflow-x: auto;" in html


def test_report_lists_every_table_page_and_the_notebook(report_html, pipeline_run):
    html = report_html.read_text(errors="replace")
    pages = sorted((pipeline_run / "results/report/tables").glob("*.html"))
    assert len(pages) == len(list((pipeline_run / "results/tables").glob("*.csv")))
    for page in pages:
        assert f"{page.stem}.html" in html, page.name
        # Each page carries its own caption, rendered from the config by the same job.
        caption = (pipeline_run / "results/report/captions" / f"{page.stem}.rst").read_text()
        assert len(caption) > 80, page.stem
    assert "audit.html" in html
    by_population = "drug against control, per population"
    assert by_population in (
        pipeline_run / "results/report/captions/pooled_smd_24h_by_population.rst"
    ).read_text().replace("\n", " ")
    assert '"caption": "<p>Pooled standardized mean difference' in html


def test_snakemake_lint_reports_no_errors(pipeline_run):
    result = run_snakemake(pipeline_run, "--lint")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
