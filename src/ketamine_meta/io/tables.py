"""Canonical text form of result tables, so that the same numbers give the same bytes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

#: Twelve significant digits by default: far below the 1e-6 parity tolerance, and free of the
#: last-bit noise of closed-form and Fisher-scoring results between BLAS kernels and thread
#: counts (.ci/run regenerates the committed results under several of each).
SIGNIFICANT_DIGITS = 12


def to_csv_text(frame: pd.DataFrame, significant_digits: int = SIGNIFICANT_DIGITS) -> str:
    """Render ``frame`` as CSV with a fixed float format and Unix line endings, no index.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table.
    significant_digits : int
        Digits written of every float. A table of an iterative optimiser's results passes the
        precision that optimiser guarantees (e.g.
        :data:`ketamine_meta.stats.multilevel.REPORTED_DIGITS`): digits beyond it depend on
        the order of floating-point operations, which differs between BLAS kernels.
    """
    float_format = f"%.{significant_digits}g"
    return _floats_as_text(frame, float_format).to_csv(
        index=False, float_format=float_format, lineterminator="\n"
    )


def _floats_as_text(frame: pd.DataFrame, float_format: str) -> pd.DataFrame:
    """``frame`` with each NumPy float column written as ``float_format % value``, NaN empty.

    The text pandas' ``to_csv(float_format=...)`` writes, without its per-value machinery
    (seconds on the multiverse's tables of a million numbers). Nullable extension columns are
    left to pandas.
    """
    text = frame.copy(deep=False)
    for position, dtype in enumerate(frame.dtypes):
        if isinstance(dtype, np.dtype) and dtype.kind == "f":
            text.isetitem(
                position,
                [
                    "" if value != value else float_format % value
                    for value in frame.iloc[:, position].tolist()
                ],
            )
    return text


def write_table(path: str | Path, frame: pd.DataFrame) -> None:
    """Write ``frame`` to ``path`` as :func:`to_csv_text` renders it."""
    Path(path).write_text(to_csv_text(frame))
