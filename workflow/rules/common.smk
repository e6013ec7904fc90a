# Shared settings and input functions of the workflow.

import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import jinja2

from ketamine_meta.evidence.package_files import local_package_files
from ketamine_meta.evidence.package_source import source_kind
from ketamine_meta.figures.headline import headline_tables

PACKAGE_DIR = "data/processed/package"
VALIDATED_DIR = "data/processed/validated"
TIMEPOINT_LABEL = f"{config['pooling']['timepoint_h']:g}h"
# Files of the workflow itself are found from this file, so that the workflow also runs in
# another working directory (`snakemake --directory .test`, the catalog's test layout).
WORKFLOW_DIR = Path(workflow.current_basedir).parent
REPORT_CAPTIONS = WORKFLOW_DIR / "report"
AUDIT_NOTEBOOK = WORKFLOW_DIR.parent / "notebooks" / "audit.py"
# Moderators with a pooled-SMD table of their own (route has its own rule and figure).
SMD_MODERATORS = ("enantiomer", "control_type", "population")
# PROTOCOL.md §18: the network's outcomes (Hedges' g, log risk ratio of response) and tables.
NMA_OUTCOMES = ("smd", "rr")
NMA_TABLES = ("effects", "league", "inconsistency", "graph")
# PROTOCOL.md §6-§10: the windows, the primary timepoint and the primary analysis set, as the
# library's Protocol.from_config reads them.
PROTOCOL = {
    "windows": config["windows"],
    "timepoint_h": config["pooling"]["timepoint_h"],
    "analysis_set": config["analysis_set"],
}


# The tables the headline of the landing page and of the README is read from
# (tools/update_readme_headline.py reads the same).
HEADLINE_TABLES = {
    name: f"results/tables/{stem}.csv"
    for name, stem in headline_tables(TIMEPOINT_LABEL).items()
}


def get_source_files(wildcards):
    """Files of a local data package or archive, so that editing one reruns the pipeline.

    A URL source has no local inputs: its identity is the (url, sha256) pair in params.
    """
    source = config["data"]["source"]
    kind = source_kind(source)
    if kind == "url":
        return []
    if kind == "archive":
        return [source]
    return [str(p) for p in local_package_files(source)]


def get_reproduction_specs():
    """Every reproduction specification, so that adding one reruns the table."""
    return sorted(str(p) for p in Path("config/reproductions").glob("*.yaml"))


def get_figure_paths(stem):
    return [f"results/figures/{stem}.{fmt}" for fmt in config["figures"]["formats"]]


def get_final_outputs():
    """Every table and figure, each table's report page, and the report's landing page."""
    results = [
        f"results/tables/pooled_smd_{TIMEPOINT_LABEL}_by_route.csv",
        *(
            f"results/tables/pooled_smd_{TIMEPOINT_LABEL}_by_{moderator}.csv"
            for moderator in SMD_MODERATORS
        ),
        f"results/tables/smd_{TIMEPOINT_LABEL}_by_study.csv",
        f"results/tables/subgroup_tests_smd_{TIMEPOINT_LABEL}.csv",
        f"results/tables/leave_one_out_smd_{TIMEPOINT_LABEL}.csv",
        f"results/tables/influence_smd_{TIMEPOINT_LABEL}.csv",
        f"results/tables/cumulative_smd_{TIMEPOINT_LABEL}_by_year.csv",
        f"results/tables/heterogeneity_smd_{TIMEPOINT_LABEL}.csv",
        f"results/tables/publication_bias_smd_{TIMEPOINT_LABEL}.csv",
        f"results/tables/sensitivity_smd_{TIMEPOINT_LABEL}_crossover_correlation.csv",
        f"results/tables/sensitivity_smd_{TIMEPOINT_LABEL}_analysis_sets.csv",
        f"results/tables/enantiomer_head_to_head_{TIMEPOINT_LABEL}.csv",
        f"results/tables/pooled_response_rate_{TIMEPOINT_LABEL}_by_arm_type.csv",
        *get_figure_paths(f"forest_smd_{TIMEPOINT_LABEL}_by_route"),
        "results/tables/relapse_by_study.csv",
        "results/tables/relapse_pooled.csv",
        "results/tables/relapse_reproduction.csv",
        "results/tables/durability_evidence.csv",
        *get_figure_paths("relapse_survival_by_route"),
        *get_figure_paths("relapse_survival_by_enantiomer"),
        f"results/tables/rr_response_{TIMEPOINT_LABEL}_by_study.csv",
        f"results/tables/pooled_rr_response_{TIMEPOINT_LABEL}_by_enantiomer.csv",
        "results/tables/response_time_course.csv",
        "results/tables/adverse_event_rr.csv",
        *get_figure_paths(f"forest_rr_response_{TIMEPOINT_LABEL}_by_enantiomer"),
        *get_figure_paths("response_time_course"),
        *get_figure_paths(f"funnel_smd_{TIMEPOINT_LABEL}"),
        *get_figure_paths("prisma_flow"),
        *get_figure_paths("adverse_event_rr_blood_pressure"),
        *get_figure_paths("adverse_event_rr_dissociation"),
        "results/tables/iv_equivalent_dose_by_route.csv",
        "results/tables/iv_equivalent_dose_by_comparison.csv",
        f"results/tables/dose_response_smd_{TIMEPOINT_LABEL}.csv",
        "results/tables/cost_per_responder.csv",
        "results/tables/reproductions.csv",
        "results/tables/claims_audit.csv",
        *get_figure_paths("effect_size_benchmark"),
        *get_figure_paths("bioavailability_dose_equivalence"),
        *get_figure_paths(f"dose_response_smd_{TIMEPOINT_LABEL}"),
        *get_figure_paths("cost_per_responder"),
        *get_figure_paths("dissociation_vs_effect"),
        "results/tables/time_course_smd.csv",
        "results/tables/time_course_smd_observed.csv",
        "results/tables/time_course_smd_contrasts.csv",
        *get_figure_paths("time_course_smd"),
        "results/tables/summary_of_findings.csv",
        "results/tables/risk_of_bias_by_trial.csv",
        f"results/tables/sensitivity_smd_{TIMEPOINT_LABEL}_risk_of_bias.csv",
        "results/report/summary_of_findings.html",
        *get_figure_paths("risk_of_bias_traffic_light"),
        *get_figure_paths("risk_of_bias_summary"),
        *(
            path
            for outcome in (entry["name"] for entry in config["multiverse"]["outcomes"])
            for path in [
                f"results/multiverse/multiverse_{outcome}_{TIMEPOINT_LABEL}.csv.gz",
                f"results/tables/multiverse_summary_{outcome}_{TIMEPOINT_LABEL}.csv",
                *get_figure_paths(f"multiverse_curve_{outcome}_{TIMEPOINT_LABEL}"),
                *get_figure_paths(
                    f"multiverse_distribution_{outcome}_{TIMEPOINT_LABEL}"
                ),
            ]
        ),
        *[
            f"results/multiverse/data_specifications_{outcome['name']}_{TIMEPOINT_LABEL}.csv"
            for outcome in config["multiverse"]["outcomes"]
        ],
        f"results/tables/multiverse_inclusion_smd_{TIMEPOINT_LABEL}.csv",
        *(
            path
            for outcome in NMA_OUTCOMES
            for path in [
                *(
                    f"results/tables/nma_{outcome}_{TIMEPOINT_LABEL}_{part}.csv"
                    for part in NMA_TABLES
                ),
                *get_figure_paths(f"network_graph_{outcome}_{TIMEPOINT_LABEL}"),
                *get_figure_paths(f"league_{outcome}_{TIMEPOINT_LABEL}"),
                *get_figure_paths(f"nma_forest_{outcome}_{TIMEPOINT_LABEL}"),
            ]
        ),
        "results/notebooks/audit.html",
        "results/tables/data_package_summary.csv",
        "results/tables/what_changed.csv",
        "results/what_changed.md",
    ]
    pages = [
        path.replace("results/tables/", "results/report/tables/").replace(
            ".csv", ".html"
        )
        for path in results
        if path.startswith("results/tables/")
    ]
    return [*results, *pages, "results/report/landing.rst"]


def figure_outputs(stem, caption, category):
    """The figure's file in every configured format, each marked for the report under the
    category of the question it answers (shared with that question's tables, report.smk)
    and labelled with its file stem, as tables are.
    """
    return {
        fmt: report(
            f"results/figures/{stem}.{fmt}",
            caption=f"../report/{caption}.rst",
            category=category,
            subcategory="Figures",
            labels={"figure": stem, "format": fmt},
        )
        for fmt in config["figures"]["formats"]
    }


def figure_set_outputs(figures, category):
    """Several figures of one rule, ``{name: (stem, caption)}``: every format of each, keyed
    ``NAME_FORMAT`` (what plotting.save_figures reads)."""
    return {
        f"{name}_{fmt}": path
        for name, (stem, caption) in figures.items()
        for fmt, path in figure_outputs(stem, caption, category).items()
    }


# Committed results are never left half-updated: the tables and figures are copied aside when
# a run starts, put back if it fails, and the copy dropped when it succeeds.
RESULTS_SNAPSHOT = Path(".snakemake/results-snapshot")
SNAPSHOT_DIRS = (
    "results/tables",
    "results/figures",
    "results/report",
    "results/multiverse",
)


def snapshot_results():
    shutil.rmtree(RESULTS_SNAPSHOT, ignore_errors=True)
    for folder in SNAPSHOT_DIRS:
        if Path(folder).is_dir():
            shutil.copytree(folder, RESULTS_SNAPSHOT / folder)


def restore_results():
    if not RESULTS_SNAPSHOT.is_dir():
        return
    for folder in SNAPSHOT_DIRS:
        saved = RESULTS_SNAPSHOT / folder
        shutil.rmtree(folder, ignore_errors=True)
        if saved.is_dir():
            shutil.copytree(saved, folder)
    shutil.rmtree(RESULTS_SNAPSHOT, ignore_errors=True)
    print(
        "ketamine-meta: the run failed; results/ restored to what it was before the run"
    )


# Each table's caption (under workflow/report) and report category, by table stem under
# results/tables. One rule renders any of them to results/report/tables/STEM.html; the
# category is the question the table answers, shared with that question's figures.
REPORT_TABLES = {
    f"pooled_smd_{TIMEPOINT_LABEL}_by_route": ("pooled_smd_by_route", "Efficacy"),
    **{
        f"pooled_smd_{TIMEPOINT_LABEL}_by_{moderator}": (
            "pooled_smd_by_moderator",
            "Efficacy",
        )
        for moderator in SMD_MODERATORS
    },
    f"smd_{TIMEPOINT_LABEL}_by_study": ("smd_by_study", "Efficacy"),
    f"enantiomer_head_to_head_{TIMEPOINT_LABEL}": (
        "enantiomer_head_to_head",
        "Efficacy",
    ),
    f"pooled_response_rate_{TIMEPOINT_LABEL}_by_arm_type": (
        "pooled_response_rate",
        "Response",
    ),
    f"rr_response_{TIMEPOINT_LABEL}_by_study": ("rr_response_by_study", "Response"),
    f"pooled_rr_response_{TIMEPOINT_LABEL}_by_enantiomer": (
        "pooled_rr_response_by_enantiomer",
        "Response",
    ),
    "response_time_course": ("response_time_course_table", "Response"),
    "time_course_smd": ("time_course_table", "Efficacy"),
    "summary_of_findings": ("summary_of_findings", "Certainty"),
    f"multiverse_summary_smd_{TIMEPOINT_LABEL}": ("multiverse_summary", "Sensitivity"),
    f"multiverse_summary_rr_response_{TIMEPOINT_LABEL}": (
        "multiverse_summary_rr_response",
        "Sensitivity",
    ),
    f"multiverse_inclusion_smd_{TIMEPOINT_LABEL}": (
        "multiverse_inclusion",
        "Sensitivity",
    ),
    "risk_of_bias_by_trial": ("risk_of_bias_by_trial", "Certainty"),
    f"sensitivity_smd_{TIMEPOINT_LABEL}_risk_of_bias": (
        "sensitivity_risk_of_bias",
        "Certainty",
    ),
    "time_course_smd_observed": ("time_course_observed", "Efficacy"),
    "time_course_smd_contrasts": ("time_course_contrasts", "Efficacy"),
    f"subgroup_tests_smd_{TIMEPOINT_LABEL}": ("subgroup_tests_smd", "Sensitivity"),
    f"leave_one_out_smd_{TIMEPOINT_LABEL}": ("leave_one_out_smd", "Sensitivity"),
    f"influence_smd_{TIMEPOINT_LABEL}": ("influence_smd", "Sensitivity"),
    f"cumulative_smd_{TIMEPOINT_LABEL}_by_year": ("cumulative_smd", "Sensitivity"),
    f"heterogeneity_smd_{TIMEPOINT_LABEL}": ("heterogeneity_smd", "Sensitivity"),
    f"publication_bias_smd_{TIMEPOINT_LABEL}": ("publication_bias_smd", "Sensitivity"),
    f"sensitivity_smd_{TIMEPOINT_LABEL}_crossover_correlation": (
        "crossover_correlation_sensitivity",
        "Sensitivity",
    ),
    f"sensitivity_smd_{TIMEPOINT_LABEL}_analysis_sets": (
        "analysis_set_sensitivity",
        "Sensitivity",
    ),
    "relapse_by_study": ("relapse_by_study", "Relapse"),
    "relapse_pooled": ("relapse_pooled", "Relapse"),
    "relapse_reproduction": ("relapse_reproduction", "Relapse"),
    "durability_evidence": ("durability_evidence", "Relapse"),
    "adverse_event_rr": ("adverse_event_rr", "Safety"),
    "iv_equivalent_dose_by_route": ("iv_equivalent_dose_by_route", "Dose"),
    "iv_equivalent_dose_by_comparison": ("iv_equivalent_dose_by_comparison", "Dose"),
    f"dose_response_smd_{TIMEPOINT_LABEL}": ("dose_response_table", "Dose"),
    "cost_per_responder": ("cost_per_responder_table", "Claims"),
    "reproductions": ("reproductions", "Claims"),
    "claims_audit": ("claims_audit", "Claims"),
    "data_package_summary": ("data_package_summary", "Data and audit"),
    "what_changed": ("what_changed", "Data and audit"),
    **{
        f"nma_{outcome}_{TIMEPOINT_LABEL}_{part}": (f"nma_{part}", "Network")
        for outcome in NMA_OUTCOMES
        for part in NMA_TABLES
    },
}


def table_caption(table):
    """The table's own caption, rendered with the config (and the moderator it is split by):
    the text of its page in the report."""
    caption, _ = REPORT_TABLES[table]
    moderator = table.rpartition("_by_")[2]
    template = (REPORT_CAPTIONS / f"{caption}.rst").read_text(encoding="utf-8")
    # Snakemake renders the caption through Jinja again when it builds the report: a brace
    # in a config value is written as a Jinja literal, so that it is shown, not evaluated.
    environment = jinja2.Environment(
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=lambda value: str(value).replace("{", "{{ '{' }}"),
    )
    return environment.from_string(template).render(
        snakemake=SimpleNamespace(
            config=config, wildcards=SimpleNamespace(moderator=moderator)
        )
    )


def table_page_outputs():
    """Each table's HTML page, marked for the report under its question's category with its
    own caption (a file written by the same job: captions are read when the report is made).
    """
    return {
        table: report(
            f"results/report/tables/{table}.html",
            caption=os.path.abspath(f"results/report/captions/{table}.rst"),
            category=category,
            subcategory="Tables",
            labels={"table": table},
        )
        for table, (_, category) in REPORT_TABLES.items()
    }
