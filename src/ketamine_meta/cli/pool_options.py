"""What ``ketamine-meta pool`` does the way metafor's ``rma`` does it.

- **Missing values** (``--na-action``): rows with a missing value in a column the model uses
  are left out with a note naming them, as ``na.action = na.omit``; ``fail`` refuses the file.
- **The model named**: a ``model`` column says random-effects, equal-effects or
  fixed-effects (metafor's ``EE`` and ``FE``, the same fit under two names), beside ``method``
  and ``test``.
- **Back-transformation** (``--transf``): the estimate and the bounds of its intervals carried
  back to the scale of a ratio, proportion or correlation, as ``predict(res, transf = exp)``;
  the standard error, on the model's scale, is then left out.
- **Meta-regression** (``--mods``): ``rma(yi, vi, mods = ~ a + b)``, one row per coefficient
  with the model's QM, QE, tau^2, I^2 and R^2 beside it.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd

from ketamine_meta.cli.errors import UsageError
from ketamine_meta.stats.meta_regression import meta_regression
from ketamine_meta.stats.model import ModelSpec
from ketamine_meta.stats.tau2 import COMMON_EFFECT_METHODS
from ketamine_meta.stats.transforms import back_transform

NA_ACTIONS = ("omit", "fail")
#: Rows named in the note on omitted rows; more are counted.
NAMED_ROWS = 20
#: Columns of a pooled table that are values on the model's scale, carried back by --transf.
TRANSFORMED_COLUMNS = ("estimate", "ci_low", "ci_high", "pi_low", "pi_high")


def omit_missing(frame: pd.DataFrame, columns: list[str], path: str, action: str) -> pd.DataFrame:
    """The rows of ``frame`` with a value in every one of ``columns`` (their numbers kept).

    With ``action="fail"`` a missing value is refused instead, naming its row and column.
    """
    missing = frame[columns].isna().to_numpy()
    incomplete = missing.any(axis=1)
    if not incomplete.any():
        return frame
    position = int(np.flatnonzero(incomplete)[0])
    if action == "fail":
        column = columns[int(np.flatnonzero(missing[position])[0])]
        raise UsageError(
            f"{path}: row {frame.index[position] + 1}, column '{column}': value is missing "
            "(--na-action omit leaves such rows out)"
        )
    if incomplete.all():
        raise UsageError(f"{path}: every row lacks a value in {', '.join(columns)}")
    rows = [str(row) for row in frame.index[incomplete] + 1]
    named = ", ".join(rows[:NAMED_ROWS]) + (
        f" and {len(rows) - NAMED_ROWS} more" * (len(rows) > NAMED_ROWS)
    )
    print(
        f"ketamine-meta pool: note: {path}: {len(rows)} row(s) with a missing value in "
        f"{', '.join(columns)} left out (na.action = na.omit): row(s) {named}",
        file=sys.stderr,
    )
    return frame[~incomplete]


def model_label(model: ModelSpec) -> str:
    """The model as metafor prints it: random-effects, or equal- or fixed-effects."""
    if model.method in COMMON_EFFECT_METHODS:
        return "equal-effects" if model.method == "EE" else "fixed-effects"
    return "random-effects"


def back_transformed_table(
    table: pd.DataFrame, name: str, sizes: np.ndarray | None = None
) -> pd.DataFrame:
    """``table`` with its estimates and interval bounds carried back by ``name``.

    The standard error belongs to the model's scale and is dropped, as metafor's
    ``predict(..., transf = )`` drops it; the test statistic and p-value do not change; a
    ``transf`` column names the transformation.
    """
    out = table.drop(columns=["se"])
    for column in TRANSFORMED_COLUMNS:
        out[column] = back_transform(name, out[column].to_numpy(dtype=float), sizes)
    out.insert(out.columns.get_loc("method"), "transf", name)
    return out


def design_matrix(frame: pd.DataFrame, mods: list[str]) -> tuple[np.ndarray, list[str]]:
    """The model matrix of ``mods = ~ a + b`` and its column names, as R's model.matrix.

    An intercept, then each numeric column as it is, and each text column as a factor: one
    indicator per level but the first (levels in sorted order), named column then level.
    """
    columns, terms = [np.ones(len(frame))], ["intercept"]
    for mod in mods:
        values = frame[mod]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            columns.append(values.to_numpy(dtype=float))
            terms.append(mod)
            continue
        labels = values.astype(str).to_numpy()
        for level in sorted(set(labels))[1:]:
            columns.append((labels == level).astype(float))
            terms.append(f"{mod}{level}")
    return np.column_stack(columns), terms


def regression_table(frame: pd.DataFrame, args: argparse.Namespace, model: ModelSpec):
    """``pool --mods``: one row per coefficient, the model's statistics beside each."""
    x, terms = design_matrix(frame, args.mods)
    yi = frame[args.yi].to_numpy(dtype=float)
    vi = frame[args.vi].to_numpy(dtype=float)
    try:
        fit = meta_regression(yi, vi, x, terms, model.method, model.test, model.level)
    except ValueError as exc:
        raise UsageError(f"{args.input}: --mods {' '.join(args.mods)}: {exc}") from exc
    table = fit.coefficients.copy()
    table.insert(0, "analysis", args.analysis)
    fit_columns = {
        "k": fit.k,
        "p": fit.p,
        "tau2": fit.tau2,
        "i2": fit.i2,
        "h2": fit.h2,
        "r2": fit.r2,
        "qe": fit.qe,
        "qe_df": fit.qe_df,
        "qe_p": fit.qe_p,
        "qm": fit.qm,
        "qm_df": fit.qm_df,
        "qm_df2": fit.qm_df2,
        "qm_p": fit.qm_p,
        "model": model_label(model),
        "method": model.method,
        "test": model.test,
    }
    return table.assign(**fit_columns)
