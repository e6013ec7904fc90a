"""Benchmark: the Bayesian batch fit on many meta-analyses of 2-10 trials, against the scalar fit.

Simulates ``--datasets`` meta-analyses (k drawn from 2 to 10, NaN-padded), fits them all with
:func:`ketamine_meta.stats.bayes.bayesian_batch` (half-normal(0.5) on tau, uniform on mu, the
probabilities above 0, 0.2 and 0.5), and fits the first ``--scalar`` of them one by one with
:func:`~ketamine_meta.stats.bayes.bayesian_meta_analysis`, in the same run: the time per
meta-analysis of each path, their ratio, the batch's peak traced memory, and the largest
difference between the two on the rows both fitted. Usage (from the repository root)::

    .venv/bin/python benchmarks/bayes_batch.py [--datasets 100000] [--scalar 500]

Writes ``benchmarks/results/bayes_batch.json``. A measurement, not a test: nothing here asserts
a speed.
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc
from pathlib import Path

import numpy as np

from ketamine_meta.stats.bayes import (
    BAYES_BLOCK_CELLS,
    NODES_PER_PANEL,
    PANELS,
    BayesSpec,
    bayesian_batch,
    bayesian_meta_analysis,
)
from ketamine_meta.stats.bayes_priors import HalfNormalPrior

HERE = Path(__file__).resolve().parent
THRESHOLDS = (0.0, 0.2, 0.5)


def simulate(datasets: int, seed: int = 20261207) -> tuple[np.ndarray, np.ndarray]:
    """SMD-like estimates around 0.5, tau^2 of 0, 0.02 or 0.1, and 2 to 10 trials each."""
    rng = np.random.default_rng(seed)
    k = rng.integers(2, 11, size=datasets)
    vi = rng.uniform(0.02, 0.25, size=(datasets, 10))
    tau2 = rng.choice([0.0, 0.02, 0.1], size=(datasets, 1))
    yi = rng.normal(0.5, np.sqrt(vi + tau2))
    absent = np.arange(10)[None, :] >= k[:, None]
    yi[absent] = np.nan
    vi[absent] = np.nan
    return yi, vi


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", type=int, default=100_000)
    parser.add_argument("--scalar", type=int, default=500)
    args = parser.parse_args()
    spec = BayesSpec(HalfNormalPrior(0.5))
    yi, vi = simulate(args.datasets)
    bayesian_batch(yi[:5], vi[:5], spec)  # first-call costs are not part of the timing

    tracemalloc.start()
    start = time.perf_counter()
    batch = bayesian_batch(yi, vi, spec, THRESHOLDS).to_frame()
    batch_s = time.perf_counter() - start
    peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()

    start = time.perf_counter()
    scalar = []
    for row in range(args.scalar):
        k = int(np.isfinite(yi[row]).sum())
        scalar.append(bayesian_meta_analysis(yi[row, :k], vi[row, :k], spec).summary(THRESHOLDS))
    scalar_s = time.perf_counter() - start
    max_diff = max(
        abs(batch.at[row, column] - fit[column])
        for row, fit in enumerate(scalar)
        for column in batch.columns
        if column in fit
    )
    result = {
        "datasets": args.datasets,
        "trials_per_dataset": "2-10",
        "spec": str(spec),
        "quadrature_nodes": PANELS * NODES_PER_PANEL,
        "block_cells": BAYES_BLOCK_CELLS,
        "batch_s": round(batch_s, 2),
        "batch_ms_per_dataset": round(1000 * batch_s / args.datasets, 4),
        "batch_peak_traced_mb": round(peak_mb, 1),
        "scalar_datasets": args.scalar,
        "scalar_ms_per_dataset": round(1000 * scalar_s / args.scalar, 3),
        "speedup_per_dataset": round((scalar_s / args.scalar) / (batch_s / args.datasets), 1),
        "max_abs_diff_batch_vs_scalar": float(max_diff),
    }
    (HERE / "results" / "bayes_batch.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
