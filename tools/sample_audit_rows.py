"""Draw the seeded random 20% of safety and durability rows for blind double extraction.

Usage: python tools/sample_audit_rows.py
Prints one line per sampled row (table, 1-based data row, trial) in the order the second
extractor received them. The sample of data version 0.2.0 is recorded in
data/raw/extraction_audit.csv; tests/test_data_slice.py checks the two agree.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

RAW = Path(__file__).resolve().parents[1] / "data" / "raw"
SEED = 20261124
SHARE = 0.2
#: Table prefixes of extraction_audit.csv item ids.
PREFIX = {"outcomes": "O", "adverse_events": "AE", "relapse": "R"}


def sample(raw: Path = RAW) -> list[tuple[str, int, str]]:
    """(table, data row, study_id) of the sampled rows, drawn table by table with one RNG."""
    rng = np.random.default_rng(SEED)
    outcomes = pd.read_csv(raw / "outcomes.csv")
    frames = {
        "outcomes": outcomes[outcomes["outcome"].isin(["dropout", "dropout_adverse_event"])],
        "adverse_events": pd.read_csv(raw / "adverse_events.csv"),
        "relapse": pd.read_csv(raw / "relapse.csv"),
    }
    drawn = []
    for table, frame in frames.items():
        size = max(1, int(np.ceil(SHARE * len(frame))))
        for i in np.sort(rng.choice(len(frame), size=size, replace=False)):
            drawn.append((table, int(frame.index[i]) + 1, frame.iloc[i]["study_id"]))
    return drawn


def main() -> int:
    """Print the sample."""
    for table, row, study in sample():
        print(f"{PREFIX[table]}{row}\t{table}\trow {row}\t{study}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
