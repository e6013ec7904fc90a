"""The multiverse on a real single-node SLURM cluster (Debian's slurm-wlm), started by
tools/slurm_cluster.py, through Snakemake's SLURM executor and workflow/profiles/slurm: the
gathered tables must equal the local run's byte for byte.

Skipped without slurm-wlm on a workstation; .ci/run installs it and sets
KETAMINE_META_REQUIRE_SLURM=1, under which a missing cluster fails the test instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import yaml

from conftest import REPO, copy_repo, tree_digest

sys.path.insert(0, str(REPO / "tools"))
from slurm_cluster import client_env, start, stop

pytestmark = pytest.mark.pipeline

TARGETS = [
    "results/multiverse/multiverse_smd_24h.csv.gz",
    "results/multiverse/data_specifications_smd_24h.csv",
    "results/tables/multiverse_summary_smd_24h.csv",
]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if shutil.which("slurmctld") is None:
        if os.environ.get("KETAMINE_META_REQUIRE_SLURM") == "1":
            pytest.fail("slurm-wlm is not installed")
        pytest.skip("slurm-wlm is not installed (apt-get install slurm-wlm)")
    base = tmp_path_factory.mktemp("slurm")
    start(base)
    yield base
    stop(base)


def test_multiverse_on_slurm_equals_the_local_run(cluster, pipeline_run, tmp_path):
    work = copy_repo(tmp_path / "repo")
    shutil.rmtree(work / "results" / "multiverse")
    env = {**client_env(cluster), "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg", "LC_ALL": "C.UTF-8"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--profile",
            "workflow/profiles/slurm",
            # A test cluster answers at once; a real one is polled every 30 s or more.
            "--slurm-init-seconds-before-status-checks",
            "1",
            "--seconds-between-status-checks",
            "2",
            *TARGETS,
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    # The jobs really went through the cluster: each chunk was an sbatch job.
    submitted = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if "has been submitted with SLURM jobid" in line
    ]
    chunks = yaml.safe_load((REPO / "config/config.yaml").read_text())["multiverse"]["chunks"]
    assert sum("rule_multiverse_chunk" in line for line in submitted) == chunks, submitted
    for target in TARGETS:
        assert (work / target).read_bytes() == (pipeline_run / target).read_bytes(), target
    assert tree_digest(work / "data/raw") == tree_digest(REPO / "data/raw")
