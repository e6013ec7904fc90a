"""``pool``'s metafor conventions (:mod:`ketamine_meta.cli.pool_options`): na.omit, the model
named, back-transformed tables and R's model matrix. Values against metafor are in
tests/test_cli_metafor.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ketamine_meta.cli.errors import UsageError
from ketamine_meta.cli.pool_options import (
    NAMED_ROWS,
    back_transformed_table,
    design_matrix,
    model_label,
    omit_missing,
)
from ketamine_meta.stats.model import ModelSpec


def test_rows_with_a_missing_value_are_left_out_with_their_numbers(capsys):
    frame = pd.DataFrame({"yi": [0.1, np.nan, 0.3, 0.4], "vi": [0.1, 0.2, np.nan, 0.1]})
    kept = omit_missing(frame, ["yi", "vi"], "in.csv", "omit")
    assert kept.index.tolist() == [0, 3]
    err = capsys.readouterr().err
    assert err == (
        "ketamine-meta pool: note: in.csv: 2 row(s) with a missing value in yi, vi left out "
        "(na.action = na.omit): row(s) 2, 3\n"
    )


def test_many_omitted_rows_are_counted_after_the_first_ones(capsys):
    frame = pd.DataFrame({"yi": [np.nan] * (NAMED_ROWS + 5) + [0.2], "vi": 0.1})
    omit_missing(frame, ["yi", "vi"], "in.csv", "omit")
    err = capsys.readouterr().err
    assert "25 row(s)" in err and "row(s) 1, 2, 3," in err
    assert err.endswith(f", {NAMED_ROWS} and 5 more\n")


def test_fail_refuses_the_first_missing_cell_and_nothing_left_is_refused():
    frame = pd.DataFrame({"yi": [0.1, 0.2], "vi": [0.1, np.nan]})
    with pytest.raises(UsageError, match=r"in.csv: row 2, column 'vi': value is missing"):
        omit_missing(frame, ["yi", "vi"], "in.csv", "fail")
    with pytest.raises(UsageError, match="every row lacks a value in yi, vi"):
        omit_missing(frame.assign(vi=np.nan), ["yi", "vi"], "in.csv", "omit")
    assert omit_missing(frame.iloc[:1], ["yi", "vi"], "in.csv", "fail") is not None


def test_the_model_is_named_as_metafor_prints_it():
    assert model_label(ModelSpec("REML", "z")) == "random-effects"
    assert model_label(ModelSpec("EE", "z")) == "equal-effects"
    assert model_label(ModelSpec("FE", "z")) == "fixed-effects"


def test_a_back_transformed_table_drops_the_standard_error_and_names_the_transformation():
    table = pd.DataFrame(
        {
            "estimate": [np.log(2.0)],
            "se": [0.1],
            "ci_low": [0.0],
            "ci_high": [np.log(4.0)],
            "pi_low": [np.nan],
            "pi_high": [np.nan],
            "method": ["REML"],
            "pval": [0.01],
        }
    )
    out = back_transformed_table(table, "exp")
    assert list(out.columns) == [
        *["estimate", "ci_low", "ci_high", "pi_low", "pi_high", "transf", "method", "pval"]
    ]
    assert out.iloc[0][["estimate", "ci_low", "ci_high"]].tolist() == pytest.approx([2, 1, 4])
    assert np.isnan(out.iloc[0]["pi_low"]) and out.iloc[0]["pval"] == 0.01


def test_the_model_matrix_is_r_s_with_factors_in_sorted_levels():
    frame = pd.DataFrame({"dose": [0.5, 1.0, 0.5], "route": ["oral", "iv", "in"]})
    x, terms = design_matrix(frame, ["dose", "route"])
    assert terms == ["intercept", "dose", "routeiv", "routeoral"]
    assert x.tolist() == [[1, 0.5, 0, 1], [1, 1.0, 1, 0], [1, 0.5, 0, 0]]
