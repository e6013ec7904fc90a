"""Shared fixtures: the repository root, temporary copies of it, and Snakemake runs."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from hypothesis import settings

from ketamine_meta.analyses import pooling
from ketamine_meta.analyses.comparisons import ComparisonRules, build_effect_sizes
from ketamine_meta.analyses.protocol import Pooling, Protocol
from ketamine_meta.evidence.datapackage import CANONICAL_SCHEMA, validate_package
from ketamine_meta.evidence.package_files import read_canonical_schema, read_package_dir

# Property tests run the same examples on every machine (a CI failure can be replayed) and
# without a per-example deadline (the first call pays for SciPy's imports).
settings.register_profile("ketamine-meta", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("ketamine-meta")

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "tests" / "reference" / "metafor_reference.json"
#: The project's rules for every data package (workflow/schemas/datapackage.schema.json).
CANONICAL = read_canonical_schema(REPO / CANONICAL_SCHEMA)
#: The repository's configuration, and the rules the pipeline builds from it.
CONFIG = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
POOLING = Pooling.from_config(CONFIG["pooling"])
RULES = ComparisonRules(**CONFIG["comparisons"])
PROTOCOL = Protocol.from_config(
    {
        "windows": CONFIG["windows"],
        "timepoint_h": POOLING.timepoint_h,
        "analysis_set": CONFIG["analysis_set"],
    }
)


def validated_package(root: Path) -> dict:
    """The typed tables of the package at ``root``, validated against :data:`CANONICAL`."""
    return validate_package(*read_package_dir(root), CANONICAL)


#: The configured rules, and the same with a shared arm split between its comparisons.
RULE_SETS = {"configured": RULES, "split": replace(RULES, multi_arm="split")}


@pytest.fixture(scope="module")
def tables() -> dict:
    """The repository's data package, validated."""
    return validated_package(REPO / "data/raw")


@pytest.fixture(scope="module", params=list(RULE_SETS))
def rules(request) -> ComparisonRules:
    """Each of :data:`RULE_SETS`: a test using it (or a fixture below) runs under both."""
    return RULE_SETS[request.param]


@pytest.fixture(scope="module")
def effects(tables, rules):
    """The package's comparisons under ``rules``."""
    frame, _ = build_effect_sizes(
        tables["studies"], tables["arms"], tables["outcomes"], tables["contrasts"], rules
    )
    return frame


@pytest.fixture(scope="module")
def smd(effects):
    """The SMD rows pooled at the primary time point."""
    return pooling.select_smd_at(effects, PROTOCOL)


@pytest.fixture(scope="module")
def rr(effects):
    """The response risk-ratio rows pooled at the primary time point."""
    return pooling.select_at(effects, "response", "logRR", PROTOCOL)


#: What a temporary copy of the repository leaves out: environments, caches, derived data.
COPY_IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".snakemake",
    "data/processed",
    "logs",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    "*.egg-info",
    "report.html",
    ".lock-venv",
)


def copy_repo(destination: Path) -> Path:
    """Copy the working tree (minus environments and derived data) to ``destination``."""
    shutil.copytree(REPO, destination, ignore=COPY_IGNORE)
    shutil.rmtree(destination / "data" / "processed", ignore_errors=True)
    shutil.rmtree(destination / "logs", ignore_errors=True)
    return destination


def run_snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    """Run Snakemake of this environment in ``workdir``; never raises on failure."""
    env = {**os.environ, "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg", "LC_ALL": "C.UTF-8"}
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def tree_digest(root: Path) -> dict[str, str]:
    """SHA-256 of every file below ``root``, by relative path."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def results_digest(root: Path) -> dict[str, str]:
    """:func:`tree_digest` of a results directory without its HTML renderings.

    The Snakemake report and the executed audit notebook are not committed (.gitignore):
    they embed run-specific details, while every table and figure must be byte-identical.
    """
    return {
        k: v
        for k, v in tree_digest(root).items()
        if k != "report.html" and not k.startswith("notebooks/")
    }


@pytest.fixture(scope="session")
def report_html(pipeline_run) -> Path:
    """The Snakemake report of the shared pipeline run, as ``make`` writes it."""
    stylesheet = ["--report-stylesheet", "workflow/report/report.css"]
    result = run_snakemake(pipeline_run, "--report", "results/report.html", *stylesheet)
    assert result.returncode == 0, result.stderr[-3000:]
    return pipeline_run / "results" / "report.html"


@pytest.fixture(scope="session")
def reference() -> dict[str, dict]:
    """metafor's reference values, by scenario id."""
    doc = json.loads(REFERENCE.read_text())
    return {s["id"]: s for s in doc["scenarios"]}


@pytest.fixture(scope="session")
def descriptor() -> dict:
    """The data package descriptor."""
    return json.loads((REPO / "data" / "raw" / "datapackage.json").read_text())


@pytest.fixture(scope="session")
def pipeline_run(tmp_path_factory) -> Path:
    """One clean, forced run of the whole pipeline in a temporary copy, shared by tests."""
    work = copy_repo(tmp_path_factory.mktemp("pipeline") / "repo")
    result = run_snakemake(work, "--forceall")
    assert result.returncode == 0, result.stderr[-4000:]
    return work


#: The workflow's registry of outputs (results/outputs.json) as ``explain`` reads it, with one
#: traced analysis, smd_24h: what a test's stand-in results directory needs.
EXPLAIN_REGISTRY = json.dumps(
    {
        "formats": [],
        "slices": {},
        "traced": {
            "smd_24h": {
                "rows": "results/tables/smd_24h_by_study.csv",
                "pooled": "results/tables/pooled_smd_24h_by_route.csv",
                "subgroup_columns": ["route", "study_id"],
                "scale": "identity",
            }
        },
    }
)
