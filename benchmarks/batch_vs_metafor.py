"""Benchmark: many meta-analyses of k = 10, REML + Hartung-Knapp, batch path vs metafor.

Runs both in one process run on the same simulated data and reports the time ratio, the
peak-memory ratio and the largest absolute difference per statistic. Usage (from the
repository root, with R and metafor installed)::

    .venv/bin/python benchmarks/batch_vs_metafor.py [--datasets 10000] [--k 10]

The recorded run is ``--datasets 100000`` (about 13 minutes, nearly all of it metafor's).
Writes ``benchmarks/results/batch_vs_metafor.json``. This is a measurement, not a test:
nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

from ketamine_meta.stats.meta_analysis import fit_batch

HERE = Path(__file__).resolve().parent
STATISTICS = ["estimate", "se", "ci_low", "ci_high", "pval", "tau2"]


def simulate(datasets: int, k: int, seed: int = 20261124) -> tuple[np.ndarray, np.ndarray]:
    """Estimates around 0.5 with tau^2 drawn per dataset and sampling variances of SMDs."""
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.02, 0.25, size=(datasets, k))
    tau2 = rng.choice([0.0, 0.02, 0.1], size=(datasets, 1))
    yi = rng.normal(0.5, np.sqrt(vi + tau2))
    return yi, vi


def run_python(yi: np.ndarray, vi: np.ndarray) -> tuple[pd.DataFrame, float, float]:
    fit_batch(yi[:10], vi[:10])  # import and first-call costs are not part of the timing
    tracemalloc.start()
    start = time.perf_counter()
    fit = fit_batch(yi, vi, method="REML", test="knha")
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return pd.DataFrame({s: getattr(fit, s) for s in STATISTICS}), seconds, peak


def run_metafor(yi: np.ndarray, vi: np.ndarray) -> tuple[pd.DataFrame, dict]:
    datasets, k = yi.shape
    long = pd.DataFrame(
        {"dataset": np.repeat(np.arange(datasets), k), "yi": yi.ravel(), "vi": vi.ravel()}
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        long.to_csv(tmp / "in.csv", index=False, float_format="%.17g")
        subprocess.run(
            [
                "Rscript",
                str(HERE / "metafor_loop.R"),
                tmp / "in.csv",
                tmp / "out.csv",
                tmp / "t.json",
            ],
            check=True,
        )
        out = pd.read_csv(tmp / "out.csv").sort_values("dataset").reset_index(drop=True)
        timing = json.loads((tmp / "t.json").read_text())
    return out[STATISTICS], timing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=10_000)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()
    yi, vi = simulate(args.datasets, args.k)
    ours, seconds, peak_mb = run_python(yi, vi)
    theirs, timing = run_metafor(yi, vi)
    differences = {s: float(np.max(np.abs(ours[s] - theirs[s]))) for s in STATISTICS}
    report = {
        "datasets": args.datasets,
        "k": args.k,
        "method": "REML",
        "test": "knha",
        "python_seconds": round(seconds, 4),
        "metafor_seconds": round(timing["seconds"], 4),
        "speedup": round(timing["seconds"] / seconds, 1),
        "python_peak_mb": round(peak_mb, 1),
        "metafor_max_used_mb": round(timing["max_used_mb"], 1),
        "metafor_refits_with_step_halving": timing["step_halving_refits"],
        "max_abs_difference": differences,
        "largest_difference": max(differences.values()),
        "r_version": timing["r_version"],
        "metafor_version": timing["metafor_version"],
        "command": f"python benchmarks/batch_vs_metafor.py --datasets {args.datasets} --k {args.k}",
    }
    out = HERE / "results" / "batch_vs_metafor.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
