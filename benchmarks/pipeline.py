"""Benchmark: where the everyday pipeline's time goes, and the three targets of `make`.

In a fresh clone of this checkout's HEAD (under ``benchmarks/scratch/``, removed afterwards),
with this checkout's ``.venv`` standing in for the set-up, it times:

- ``full``: ``make`` from the fresh clone, the whole pipeline and the report;
- ``noop``: ``make`` again, nothing to do;
- ``edit``: ``make`` after one number of ``data/raw/outcomes.csv`` is changed (the first
  mean of a 24 h row, plus 0.1), as a user correcting an extraction would.

For the ``full`` run it splits every job into start-up (interpreter, Snakemake's script
preamble and imports) and work, from the two lines each entry script logs
(``ketamine_meta.io.logs``: ``start-up`` and ``process`` seconds, read from the kernel's
process start time), and sums them per rule. Jobs run inside Snakemake's own process
(``run:`` blocks) have no process of their own and are counted under "Snakemake". Usage,
from the repository root after ``make``::

    .venv/bin/python benchmarks/pipeline.py [--cores 2] [--repeat 3]

Writes ``benchmarks/results/pipeline.json``; prints a table per rule. Times are medians over
``--repeat`` runs of each scenario. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import shutil
import statistics
import subprocess
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRATCH = ROOT / "benchmarks" / "scratch"
RESULT = ROOT / "benchmarks" / "results" / "pipeline.json"
TARGETS_S = {"full": 25.0, "noop": 2.0, "edit": 15.0}
JOB_HEADER = re.compile(r"^(?:local)?(?:rule|checkpoint) (\w+):$")
LOG_LINE = re.compile(r"^\s+log: (\S+)")
TIMING = re.compile(r"^INFO (start-up|process) ([0-9.]+) s(?:, peak ([0-9]+) MB)?$")


def fresh_clone(destination: Path) -> None:
    """A clone of HEAD, as a new user has it (committed results, no data/processed)."""
    shutil.rmtree(destination, ignore_errors=True)
    destination.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "clone", "-q", str(ROOT), str(destination)], check=True)


def run_make(clone: Path, cores: int) -> tuple[float, str]:
    """Wall seconds of ``make`` in ``clone`` and what Snakemake printed.

    ``STAMP=`` and ``BIN=`` point make at this checkout's virtual environment, so the set-up
    (creating .venv from the lock) is left out, as the targets ask.
    """
    command = ["make", f"BIN={ROOT / '.venv' / 'bin'}", "STAMP=", f"CORES={cores}"]
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=clone, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, completed.stdout + completed.stderr


def edit_one_number(clone: Path) -> str:
    """Add 0.1 to the first reported mean of a 24 h row of outcomes.csv; describe the edit."""
    path = clone / "data" / "raw" / "outcomes.csv"
    text = path.read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    index = next(i for i, row in enumerate(rows) if row["timepoint_h"] == "24" and row["mean"])
    old = rows[index]["mean"]
    rows[index]["mean"] = f"{float(old) + 0.1:g}"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")
    return f"outcomes.csv row {index + 2}, mean {old} -> {rows[index]['mean']}"


def jobs_by_log(snakemake_output: str) -> dict[str, str]:
    """The rule of every job, keyed by its log file, from Snakemake's job listing."""
    rule_of_log, rule = {}, None
    for line in snakemake_output.splitlines():
        if header := JOB_HEADER.match(line):
            rule = header.group(1)
        elif (log := LOG_LINE.match(line)) and rule:
            rule_of_log[log.group(1).rstrip(",")] = rule
    return rule_of_log


def per_rule_times(clone: Path, rule_of_log: dict[str, str]) -> dict[str, dict[str, float]]:
    """Jobs, process, start-up and work seconds summed per rule, and the largest job's peak
    memory (MB), from the jobs' logs."""
    totals: dict[str, dict[str, float]] = defaultdict(
        lambda: {"jobs": 0, "process_s": 0.0, "start_up_s": 0.0, "work_s": 0.0, "peak_mb": 0.0}
    )
    for log, rule in rule_of_log.items():
        path = clone / log
        times, peak = {}, 0.0
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                if match := TIMING.match(line):
                    times[match.group(1)] = float(match.group(2))
                    peak = float(match.group(3) or peak)
        entry = totals[rule]
        entry["jobs"] += 1
        entry["peak_mb"] = max(entry["peak_mb"], peak)
        if {"start-up", "process"} <= times.keys():
            entry["process_s"] += times["process"]
            entry["start_up_s"] += times["start-up"]
            entry["work_s"] += times["process"] - times["start-up"]
    return {rule: {k: round(v, 2) for k, v in t.items()} for rule, t in sorted(totals.items())}


def print_rules(rules: dict[str, dict[str, float]]) -> None:
    print(f"{'rule':36} {'jobs':>4} {'process s':>10} {'start-up s':>11} {'work s':>8} {'MB':>6}")
    for rule, t in sorted(rules.items(), key=lambda item: -item[1]["process_s"]):
        print(
            f"{rule:36} {t['jobs']:>4.0f} {t['process_s']:>10.2f} "
            f"{t['start_up_s']:>11.2f} {t['work_s']:>8.2f} {t['peak_mb']:>6.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    clone = SCRATCH / "pipeline"
    walls: dict[str, list[float]] = defaultdict(list)
    rules: dict[str, dict[str, float]] = {}
    try:
        for repeat in range(args.repeat):
            fresh_clone(clone)
            wall, printed = run_make(clone, args.cores)
            walls["full"].append(wall)
            if repeat == 0:
                rules = per_rule_times(clone, jobs_by_log(printed))
            walls["noop"].append(run_make(clone, args.cores)[0])
            edit = edit_one_number(clone)
            walls["edit"].append(run_make(clone, args.cores)[0])
    finally:
        shutil.rmtree(SCRATCH, ignore_errors=True)
    in_jobs = sum(t["process_s"] for t in rules.values())
    start_up = sum(t["start_up_s"] for t in rules.values())
    result = {
        "cores": args.cores,
        "repeats": args.repeat,
        "edit": edit,
        **{
            f"{scenario}_wall_s": round(statistics.median(values), 2)
            for scenario, values in walls.items()
        },
        **{
            f"{scenario}_runs_s": [round(v, 2) for v in values]
            for scenario, values in walls.items()
        },
        "targets_s": TARGETS_S,
        "full_jobs": int(sum(t["jobs"] for t in rules.values())),
        "full_job_processes_s": round(in_jobs, 2),
        "full_start_up_s": round(start_up, 2),
        "full_work_s": round(in_jobs - start_up, 2),
        "rules": rules,
    }
    RESULT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print_rules(rules)
    print(
        f"\n{result['full_jobs']} jobs: {in_jobs:.1f} s in job processes, of which start-up "
        f"{start_up:.1f} s and work {in_jobs - start_up:.1f} s (summed over {args.cores} cores)"
    )
    for scenario, target in TARGETS_S.items():
        print(f"{scenario:5} make: {result[f'{scenario}_wall_s']:6.1f} s (target <= {target:g} s)")


if __name__ == "__main__":
    main()
