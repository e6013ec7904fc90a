"""Canonical text form of result tables, so that the same numbers give the same bytes."""

from __future__ import annotations

import pandas as pd

#: Twelve significant digits: far below the 1e-6 parity tolerance, and free of the last-bit
#: noise that differs between BLAS builds.
FLOAT_FORMAT = "%.12g"


def to_csv_text(frame: pd.DataFrame) -> str:
    """Render ``frame`` as CSV with a fixed float format and Unix line endings, no index."""
    return frame.to_csv(index=False, float_format=FLOAT_FORMAT, lineterminator="\n")
