"""The canonical text of result tables (:mod:`ketamine_meta.io.tables`): the same numbers
give the same bytes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ketamine_meta.io.tables import SIGNIFICANT_DIGITS, to_csv_text, write_table


def test_floats_are_written_to_twelve_significant_digits():
    frame = pd.DataFrame({"study": ["A", "B"], "yi": [1 / 3, 2.0], "k": [3, 10]})
    assert SIGNIFICANT_DIGITS == 12
    assert to_csv_text(frame) == "study,yi,k\nA,0.333333333333,3\nB,2,10\n"


def test_last_bit_noise_does_not_change_the_bytes():
    value = 0.1 + 0.2  # 0.30000000000000004
    assert to_csv_text(pd.DataFrame({"x": [value]})) == to_csv_text(pd.DataFrame({"x": [0.3]}))


def test_fewer_digits_for_an_optimiser_s_results_and_empty_cells():
    frame = pd.DataFrame({"tau2": [0.0123456789, np.nan], "k": [5, 2]})
    assert to_csv_text(frame, significant_digits=4) == "tau2,k\n0.01235,5\n,2\n"


def test_unix_line_endings_without_the_index():
    text = to_csv_text(pd.DataFrame({"a": [1]}, index=["row"]))
    assert text == "a\n1\n" and "\r" not in text


def test_write_table_writes_the_canonical_text(tmp_path):
    frame = pd.DataFrame({"term": ["a", "b"], "estimate": [1 / 3, 2.0]})
    write_table(tmp_path / "t.csv", frame)
    assert (tmp_path / "t.csv").read_bytes() == b"term,estimate\na,0.333333333333\nb,2\n"


def test_the_fast_float_text_is_pandas_own():
    """Floats are formatted without pandas' per-value machinery, to the same bytes: signs,
    zeros, infinities, float32, duplicate column names, nullable and object columns."""
    rng = np.random.default_rng(20261207)
    floats = rng.normal(size=2000) * 10.0 ** rng.integers(-9, 9, 2000)
    floats[:6] = [np.nan, np.inf, -np.inf, -0.0, 1e300, 5e-324]
    frame = pd.DataFrame(
        {
            "x": floats,
            "label": ["a,b", 'say "g"'] * 1000,
            "single": np.where(np.abs(floats) < 1e30, floats, 1.5).astype(np.float32),
            "nullable": pd.array([1.5, None] * 1000, dtype="Float64"),
            "mixed": pd.Series([0.1 + 0.2, "text"] * 1000, dtype=object),
            "k": np.arange(2000),
        }
    )
    frame.columns = ["x", "label", "x", "nullable", "mixed", "k"]
    for digits in (4, SIGNIFICANT_DIGITS):
        expected = frame.to_csv(index=False, float_format=f"%.{digits}g", lineterminator="\n")
        assert to_csv_text(frame, digits) == expected
    assert to_csv_text(frame.iloc[:0]) == "x,label,x,nullable,mixed,k\n"
