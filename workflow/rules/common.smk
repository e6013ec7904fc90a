# Shared settings and input functions of the workflow.

import shutil
from pathlib import Path

from ketamine_meta.evidence.package_files import local_package_files
from ketamine_meta.evidence.package_source import source_kind

PACKAGE_DIR = "data/processed/package"
VALIDATED_DIR = "data/processed/validated"
TIMEPOINT_LABEL = f"{config['pooling']['timepoint_h']:g}h"
# PROTOCOL.md §6-§10: the windows, the primary timepoint and the primary analysis set, as the
# library's Protocol.from_config reads them.
PROTOCOL = {
    "windows": config["windows"],
    "timepoint_h": config["pooling"]["timepoint_h"],
    "analysis_set": config["analysis_set"],
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
    return [
        f"results/tables/pooled_smd_{TIMEPOINT_LABEL}_by_route.csv",
        f"results/tables/pooled_smd_{TIMEPOINT_LABEL}_by_enantiomer.csv",
        f"results/tables/pooled_smd_{TIMEPOINT_LABEL}_by_control_type.csv",
        f"results/tables/pooled_smd_{TIMEPOINT_LABEL}_by_population.csv",
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
        *get_figure_paths("forest_response_by_enantiomer"),
        *get_figure_paths("response_time_course"),
        *get_figure_paths(f"funnel_smd_{TIMEPOINT_LABEL}"),
        *get_figure_paths("prisma_flow"),
        *get_figure_paths("blood_pressure"),
        *get_figure_paths("dissociation_adverse_events"),
        "results/tables/iv_equivalent_dose_by_route.csv",
        "results/tables/iv_equivalent_dose_by_comparison.csv",
        f"results/tables/dose_response_smd_{TIMEPOINT_LABEL}.csv",
        "results/tables/cost_per_responder.csv",
        "results/tables/reproductions.csv",
        "results/tables/claims_audit.csv",
        *get_figure_paths("effect_size_benchmark"),
        *get_figure_paths("bioavailability_dose_equivalence"),
        *get_figure_paths("dose_response"),
        *get_figure_paths("cost_per_responder"),
        *get_figure_paths("dissociation_vs_effect"),
        "results/notebooks/audit.html",
        "results/tables/data_package_summary.csv",
    ]


def figure_outputs(stem, caption, label):
    """The figure's file in every configured format, each marked for the report."""
    return {
        fmt: report(
            f"results/figures/{stem}.{fmt}",
            caption=f"../report/{caption}.rst",
            category="Figures",
            labels={"figure": label, "format": fmt},
        )
        for fmt in config["figures"]["formats"]
    }


# Committed results are never left half-updated: the tables and figures are copied aside when
# a run starts, put back if it fails, and the copy dropped when it succeeds.
RESULTS_SNAPSHOT = Path(".snakemake/results-snapshot")
SNAPSHOT_DIRS = ("results/tables", "results/figures")


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
    print("ketamine-meta: the run failed; results/ restored to what it was before the run")
