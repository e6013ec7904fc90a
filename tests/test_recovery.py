"""`make` recovers by itself: from a run killed with SIGKILL, and from a result edited by hand.

Both start from a copy of the shared pipeline run (a complete run's results, Snakemake
metadata and processed data) and run ``tools/run_pipeline.py``, the command `make` runs; the
results must come back byte for byte as the clean run wrote them.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import results_digest
from ketamine_meta.io.manifest import edited_files, manifest_text

pytestmark = pytest.mark.pipeline

ENV = {**os.environ, "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg", "LC_ALL": "C.UTF-8"}
EDITED = "results/tables/pooled_smd_24h_by_route.csv"


@pytest.fixture
def finished_run(pipeline_run, tmp_path) -> Path:
    """A private copy of a finished run, Snakemake's metadata included."""
    return Path(shutil.copytree(pipeline_run, tmp_path / "run", symlinks=True))


def run_pipeline(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "tools/run_pipeline.py", "--cores", "2", *args],
        cwd=workdir,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=900,
    )


def partly_written(workdir: Path, incomplete: Path) -> bool:
    """Whether an output that Snakemake marks incomplete (marker: its path, base64) exists."""
    markers = incomplete.iterdir() if incomplete.is_dir() else []
    return any(
        (workdir / base64.urlsafe_b64decode(marker.name).decode()).exists() for marker in markers
    )


def test_the_manifest_lists_every_committed_output_with_its_hash(pipeline_run):
    manifest = (pipeline_run / "results/manifest.tsv").read_text().splitlines()
    paths = [line.split("\t")[0] for line in manifest[1:]]
    assert manifest[0] == "path\tsha256\tbytes"
    assert paths == sorted(paths)
    assert EDITED in paths and "results/report/landing.rst" in paths
    assert not any(p.startswith("results/notebooks/") for p in paths)
    # Every file the committed results hold, but the manifest itself, is listed.
    committed = {f"results/{p}" for p in results_digest(pipeline_run / "results")}
    assert committed - set(paths) == {"results/manifest.tsv"}


def test_edited_files_names_only_the_file_whose_bytes_changed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name, text in (("a.csv", "x\n1\n"), ("b.csv", "x\n2\n")):
        Path(name).write_text(text)
    Path("manifest.tsv").write_text(manifest_text(["b.csv", "a.csv"]))
    assert edited_files("manifest.tsv") == []
    Path("b.csv").write_text("x\n3\n")
    Path("a.csv").unlink()
    assert edited_files("manifest.tsv") == ["b.csv"]
    assert edited_files("no-such-manifest.tsv") == []


def test_a_result_edited_by_hand_is_named_and_rebuilt_not_propagated(finished_run):
    clean = results_digest(finished_run / "results")
    table = finished_run / EDITED
    lines = table.read_text().splitlines()
    header, first = lines[0].split(","), lines[1].split(",")
    first[header.index("estimate")] = "9.99"
    table.write_text("\n".join([lines[0], ",".join(first), *lines[2:]]) + "\n")

    result = run_pipeline(finished_run)

    assert result.returncode == 0, result.stderr[-3000:]
    assert f"{EDITED} differs from what the pipeline wrote" in result.stderr
    assert results_digest(finished_run / "results") == clean


def test_a_run_killed_with_sigkill_is_recovered_by_the_next_make(finished_run):
    clean = results_digest(finished_run / "results")
    incomplete = finished_run / ".snakemake" / "incomplete"
    run = subprocess.Popen(
        [sys.executable, "tools/run_pipeline.py", "--cores", "1", "--forcerun", "validate"],
        cwd=finished_run,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    # Killed once a job has begun writing an output Snakemake marks incomplete.
    deadline = time.monotonic() + 300
    while not partly_written(finished_run, incomplete):
        assert run.poll() is None and time.monotonic() < deadline, "no job was started"
        time.sleep(0.02)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    # The state a hard kill leaves: a lock, and outputs marked incomplete, on which plain
    # Snakemake stops.
    assert any((finished_run / ".snakemake" / "locks").iterdir())
    plain = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "1", "--nolock", "-n"],
        cwd=finished_run,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert plain.returncode != 0 and "incomplete" in (plain.stdout + plain.stderr).lower()

    result = run_pipeline(finished_run)

    assert result.returncode == 0, result.stderr[-3000:]
    assert "removed a stale Snakemake lock" in result.stdout
    assert results_digest(finished_run / "results") == clean


def _ran(result: subprocess.CompletedProcess) -> set[str]:
    """The rules of the jobs a run executed, from Snakemake's job listing."""
    return {
        line.split()[1].rstrip(":")
        for line in (result.stdout + result.stderr).splitlines()
        if line.startswith(("localrule ", "localcheckpoint ", "rule ", "checkpoint "))
    }


def test_a_job_reruns_only_when_a_table_it_reads_changed_in_content(finished_run):
    """A package file touched without change reruns nothing; one changed mean of outcomes.csv
    reruns what reads outcomes, not relapse, whose tables did not change (the validate
    checkpoint and the checksums of declared tables, workflow/rules/common.smk)."""
    outcomes = finished_run / "data/raw/outcomes.csv"
    os.utime(outcomes)
    untouched = run_pipeline(finished_run)
    assert untouched.returncode == 0, untouched.stderr[-3000:]
    assert _ran(untouched) <= {"all"}, _ran(untouched)

    lines = outcomes.read_text().splitlines()
    header = lines[0].split(",")
    row = next(
        i for i, line in enumerate(lines[1:], 1)
        if line.split(",")[header.index("timepoint_h")] == "24"
        and line.split(",")[header.index("mean")]
    )  # fmt: skip
    cells = lines[row].split(",")
    cells[header.index("mean")] = f"{float(cells[header.index('mean')]) + 0.1:g}"
    lines[row] = ",".join(cells)
    outcomes.write_text("\n".join(lines) + "\n")
    relapse = (finished_run / "results/tables/relapse_by_study.csv").stat().st_mtime_ns

    edited = run_pipeline(finished_run)

    assert edited.returncode == 0, edited.stderr[-3000:]
    ran = _ran(edited)
    assert {"validate", "effect_sizes", "efficacy_tables", "efficacy_figures"} <= ran
    assert not ran & {"relapse_tables", "relapse_survival_figure"}, ran
    assert (finished_run / "results/tables/relapse_by_study.csv").stat().st_mtime_ns == relapse
