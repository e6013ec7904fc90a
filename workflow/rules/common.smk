# Shared settings and input functions of the workflow.

import json
from pathlib import Path

from ketamine_meta.package_source import package_members, source_kind

PACKAGE_DIR = "data/processed/package"
VALIDATED_DIR = "data/processed/validated"
TABLES = [
    "studies",
    "arms",
    "outcomes",
    "contrasts",
    "sources",
    "extraction_gaps",
    "extraction_audit",
    "screening",
]
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
    root = Path(source)
    descriptor = root / "datapackage.json"
    members = package_members(descriptor.read_bytes()) if descriptor.exists() else []
    docs = [d for d in ("README.md", "CHANGELOG.md") if (root / d).exists()]
    return [str(root / m) for m in [*members, *docs]]


def get_validated_tables(wildcards=None):
    return {name: f"{VALIDATED_DIR}/{name}.csv" for name in TABLES}


def get_figure_paths(stem):
    return [f"results/figures/{stem}.{fmt}" for fmt in config["figures"]["formats"]]


def get_final_outputs():
    return [
        f"results/tables/pooled_smd_{TIMEPOINT_LABEL}_by_route.csv",
        f"results/tables/smd_{TIMEPOINT_LABEL}_by_study.csv",
        *get_figure_paths(f"forest_smd_{TIMEPOINT_LABEL}_by_route"),
    ]
