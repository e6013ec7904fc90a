"""Draw the seeded random 20% of safety and durability rows for blind double extraction.

Usage: python tools/sample_audit_rows.py
Prints one line per sampled row (table, 1-based data row, trial) in the order the second
extractor received them. Each draw (:data:`DRAWS`) covers the rows a data version added since
the previous draw: rows are only ever appended, so a later trial never changes an earlier
draw, and rows added after the last draw are not yet sampled. The second passes are recorded
in data/raw/extraction_audit.csv (item = table prefix + data row); tests/test_data_slice.py
checks that every drawn row is there. When a data version adds safety rows, add its draw here
(the frame sizes after it) and double-extract the rows it prints (CONTRIBUTING.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

RAW = Path(__file__).resolve().parents[1] / "data" / "raw"
SEED = 20261124
SHARE = 0.2
#: Per draw: the data version, its seed, and the size of each frame (:func:`frames`) the
#: draw reaches; it samples the rows beyond the previous draw's sizes. The first draw (made
#: at 0.2.0 over the tables as they stood at 0.4.2) keeps its original seed.
DRAWS = (
    ("0.4.2", SEED, {"outcomes": 22, "adverse_events": 88, "relapse": 16}),
    ("0.5.0", SEED + 1, {"outcomes": 47, "adverse_events": 315, "relapse": 16}),
)
#: Table prefixes of extraction_audit.csv item ids.
PREFIX = {"outcomes": "O", "adverse_events": "AE", "relapse": "R"}


def frames(raw: Path = RAW) -> dict[str, pd.DataFrame]:
    """The rows the audit samples from: dropouts, adverse events and relapse."""
    outcomes = pd.read_csv(raw / "outcomes.csv")
    return {
        "outcomes": outcomes[outcomes["outcome"].isin(["dropout", "dropout_adverse_event"])],
        "adverse_events": pd.read_csv(raw / "adverse_events.csv"),
        "relapse": pd.read_csv(raw / "relapse.csv"),
    }


def sample(raw: Path = RAW) -> list[tuple[str, int, str]]:
    """(table, data row, study_id) of the sampled rows: each draw table by table, one RNG each."""
    tables = frames(raw)
    reached = dict.fromkeys(tables, 0)
    drawn = []
    for _, seed, sizes in DRAWS:
        rng = np.random.default_rng(seed)
        for table, frame in tables.items():
            added = frame.iloc[reached[table] : sizes[table]]
            reached[table] = sizes[table]
            if added.empty:
                continue
            size = max(1, int(np.ceil(SHARE * len(added))))
            for i in np.sort(rng.choice(len(added), size=size, replace=False)):
                drawn.append((table, int(added.index[i]) + 1, added.iloc[i]["study_id"]))
    return drawn


def main() -> int:
    """Print the sample."""
    for table, row, study in sample():
        print(f"{PREFIX[table]}{row}\t{table}\trow {row}\t{study}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
