"""Benchmark: the whole pipeline on a synthetic evidence base of N trials (``make scale``).

Writes a package of N simulated trials (``ketamine-meta synth``, fixed seed) into a working
directory under ``benchmarks/scratch/``, with a copy of ``config/`` whose ``data.source``
points at it, and runs the workflow there (``snakemake --directory``): every rule, as
``make`` runs it, on 2 cores by default. Records in ``benchmarks/results/scale.json``, under
the number of trials:

- wall seconds of the run, and the peak resident memory of its largest process (the
  kernel's ``ru_maxrss`` over every finished descendant, as ``/usr/bin/time -v`` reports);
- the numbers of trials, effect-size comparisons (rows of the effect-size table, every
  outcome and time) and multiverse specifications (rows of the gathered table);
- seconds per rule (start-up and work, from the entry scripts' logs, as benchmarks/pipeline.py).

Runs of other sizes already in the file are kept, so ``make scale TRIALS=500`` then
``TRIALS=5000`` gives the cost growth. Usage, from the repository root after ``make``::

    .venv/bin/python benchmarks/scale.py --trials 5000 [--seed 1] [--cores 2] [--keep]

A measurement, not a test.
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

# The per-rule timing of benchmarks/pipeline.py, a sibling script rather than a package.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from pipeline import jobs_by_log, per_rule_times

ROOT = Path(__file__).resolve().parents[1]
SCRATCH = ROOT / "benchmarks" / "scratch"
RESULT = ROOT / "benchmarks" / "results" / "scale.json"


def prepare(workdir: Path, trials: int, seed: int) -> None:
    """The synthetic package and a config pointing at it, in a new ``workdir``."""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "ketamine-meta"),
            "synth",
            "--trials",
            str(trials),
            "--seed",
            str(seed),
            "--out",
            str(workdir / "synthetic"),
        ],
        check=True,
    )
    shutil.copytree(ROOT / "config", workdir / "config")
    config_path = workdir / "config" / "config.yaml"
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    config["data"]["source"] = "synthetic"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def run_pipeline(workdir: Path, cores: int) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) of the largest process, and what Snakemake printed."""
    command = [
        str(ROOT / ".venv" / "bin" / "snakemake"),
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        str(cores),
    ]
    start = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if completed.returncode != 0:
        sys.exit(f"the pipeline failed on {workdir}:\n{completed.stderr[-4000:]}")
    # ru_maxrss of RUSAGE_CHILDREN: the largest of every waited-for descendant, in KiB.
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return wall, peak_mb, completed.stdout + completed.stderr


def counts(workdir: Path) -> dict[str, int]:
    """Trials, effect-size comparisons and multiverse specifications of the run.

    Specifications are counted per outcome, overall (one per data specification, estimator
    and CI method) and with the route and enantiomer subgroups (the rows of the table).
    """
    studies = (workdir / "synthetic" / "studies.csv").read_text(encoding="utf-8")
    effects = workdir / "data" / "processed" / "effect_sizes.csv"
    result = {
        "trials": studies.count("\n") - 1,
        "comparisons": effects.read_text(encoding="utf-8").count("\n") - 1,
        "specifications": 0,
        "specification_rows": 0,
    }
    for path in sorted((workdir / "results" / "multiverse").glob("multiverse_*.csv.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            header = handle.readline().rstrip("\n").split(",")
            subgroup = header.index("subgroup")
            rows = [line.split(",")[subgroup] for line in handle]
        result["specification_rows"] += len(rows)
        result["specifications"] += sum(value == "overall" for value in rows)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args()
    workdir = SCRATCH / f"scale-{args.trials}"
    prepare(workdir, args.trials, args.seed)
    try:
        wall, peak_mb, printed = run_pipeline(workdir, args.cores)
        run = {
            "seed": args.seed,
            "cores": args.cores,
            "wall_s": round(wall, 1),
            "peak_rss_mb": round(peak_mb),
            **counts(workdir),
            "rules": per_rule_times(workdir, jobs_by_log(printed)),
        }
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    runs = json.loads(RESULT.read_text(encoding="utf-8")) if RESULT.exists() else {}
    runs[str(args.trials)] = run
    RESULT.write_text(
        json.dumps(dict(sorted(runs.items(), key=lambda kv: int(kv[0]))), indent=2) + "\n",
        encoding="utf-8",
    )
    print(
        f"{run['trials']} trials, {run['comparisons']} comparisons, {run['specifications']} "
        f"specifications ({run['specification_rows']} rows with subgroups): {run['wall_s']} s, "
        f"peak {run['peak_rss_mb']} MB "
        f"(targets for 5,000 trials: <= 300 s, <= 2,048 MB)"
    )


if __name__ == "__main__":
    main()
