# Shared settings and input functions of the workflow.

from ketamine_meta.package_files import local_package_files
from ketamine_meta.package_source import source_kind

PACKAGE_DIR = "data/processed/package"
VALIDATED_DIR = "data/processed/validated"
TIMEPOINT_LABEL = f"{config['pooling']['timepoint_h']:g}h"


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


def get_figure_paths(stem):
    return [f"results/figures/{stem}.{fmt}" for fmt in config["figures"]["formats"]]


def get_final_outputs():
    return [
        f"results/tables/pooled_smd_{TIMEPOINT_LABEL}_by_route.csv",
        f"results/tables/pooled_smd_{TIMEPOINT_LABEL}_by_enantiomer.csv",
        f"results/tables/smd_{TIMEPOINT_LABEL}_by_study.csv",
        f"results/tables/subgroup_tests_smd_{TIMEPOINT_LABEL}.csv",
        f"results/tables/leave_one_out_smd_{TIMEPOINT_LABEL}.csv",
        f"results/tables/influence_smd_{TIMEPOINT_LABEL}.csv",
        f"results/tables/cumulative_smd_{TIMEPOINT_LABEL}_by_year.csv",
        f"results/tables/heterogeneity_smd_{TIMEPOINT_LABEL}.csv",
        f"results/tables/publication_bias_smd_{TIMEPOINT_LABEL}.csv",
        f"results/tables/sensitivity_smd_{TIMEPOINT_LABEL}_crossover_correlation.csv",
        f"results/tables/pooled_response_rate_{TIMEPOINT_LABEL}_by_arm_type.csv",
        *get_figure_paths(f"forest_smd_{TIMEPOINT_LABEL}_by_route"),
        "results/tables/relapse_by_study.csv",
        "results/tables/relapse_pooled.csv",
        "results/tables/relapse_reproduction.csv",
        *get_figure_paths("relapse_survival_by_route"),
        *get_figure_paths("relapse_survival_by_enantiomer"),
    ]
