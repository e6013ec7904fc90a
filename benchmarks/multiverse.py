"""Benchmark: the multiverse of the 24 h SMD on the real data, at scale.

Fits every specification of the configured space (PROTOCOL.md §21) and, on top, the
leave-trials-out inclusion multiverse: for every data specification of the overall 24 h SMD,
every subset of its trials of size at least k - 2. Reports specifications per second, and
the ratio against a loop of single fits (``random_effects``) on a 1,000-specification
sample. Usage (from the repository root, after ``make``)::

    .venv/bin/python benchmarks/multiverse.py

Writes ``benchmarks/results/multiverse.json``. A measurement, not a test.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import yaml

from ketamine_meta.analyses.comparisons import ComparisonRules
from ketamine_meta.analyses.multiverse import (
    data_specifications,
    fit_by_width,
    fit_specifications,
    inclusion_subsets,
    padded,
    specification_comparisons,
)
from ketamine_meta.analyses.protocol import Protocol
from ketamine_meta.evidence.package_files import read_validated_tables
from ketamine_meta.stats.meta_analysis import fit_batch, random_effects

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = 1_000


def main() -> None:
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    settings = config["multiverse"]
    protocol = Protocol.from_config(
        {"windows": config["windows"], "timepoint_h": 24, "analysis_set": config["analysis_set"]}
    )
    tables = read_validated_tables(
        ROOT / "data/processed/validated",
        ("studies", "arms", "outcomes", "contrasts", "risk_of_bias"),
    )
    specs = data_specifications(settings)
    start = time.perf_counter()
    table = fit_specifications(
        tables, ComparisonRules(**config["comparisons"]), protocol, settings, specs, 0.95
    )
    space_seconds = time.perf_counter() - start

    # Inclusion multiverse: every subset of each data specification's trials (all but at
    # most two), fitted in one batch per estimator and method.
    start = time.perf_counter()
    vectors = []
    base = ComparisonRules(**config["comparisons"])
    for _, rows in specification_comparisons(tables, base, protocol, settings, specs):
        for subset in inclusion_subsets(sorted(set(rows["study_id"]))):
            chosen = rows[rows["study_id"].isin(subset)]
            vectors.append((chosen["yi"].to_numpy(float), chosen["vi"].to_numpy(float)))
    fits = fit_by_width(vectors, settings["estimators"], settings["tests"], 0.95)
    fitted = len(vectors) * len(fits)
    inclusion_seconds = time.perf_counter() - start

    # The loop of single fits on a sample, against the batch on the same sample.
    rng = np.random.default_rng(20261130)
    sample = rng.choice(len(vectors), size=min(SAMPLE, len(vectors)), replace=False)
    start = time.perf_counter()
    for i in sample:
        y, v = vectors[i]
        random_effects(y, v, method="REML", test="knha")
    loop_seconds = time.perf_counter() - start
    start = time.perf_counter()
    yi, vi = padded([vectors[i] for i in sample])
    fit_batch(yi, vi, method="REML", test="knha")
    batch_seconds = time.perf_counter() - start

    total = len(table) + fitted
    result = {
        "space_rows": len(table),
        "space_seconds": round(space_seconds, 3),
        "inclusion_specifications": fitted,
        "inclusion_seconds": round(inclusion_seconds, 3),
        "total_specifications": total,
        "total_seconds": round(space_seconds + inclusion_seconds, 3),
        "specifications_per_second": round(total / (space_seconds + inclusion_seconds)),
        "sample": len(sample),
        "loop_seconds": round(loop_seconds, 4),
        "batch_seconds": round(batch_seconds, 4),
        "batch_speedup_vs_loop": round(loop_seconds / batch_seconds, 1),
    }
    out = ROOT / "benchmarks/results/multiverse.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(
        f"{total:,} specifications in {result['total_seconds']} s "
        "(target: >= 100,000 specifications of the 24 h SMD in <= 60 s)"
    )


if __name__ == "__main__":
    main()
