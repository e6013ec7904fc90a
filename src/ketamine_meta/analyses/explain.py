"""Trace a pooled number to its comparisons, data rows and sources (``ketamine-meta explain``).

For each explainable analysis, the workflow's registry (``results/outputs.json``, read by
:func:`explainable`) names the per-comparison table and the pooled table of the results;
:func:`explain` prints the pooled estimate being explained (with its CI and model), then every
row behind it: the estimate, each arm's mean, SD and n (or events and n), and the source, URL
and locator of each arm's numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ketamine_meta.evidence.vocabulary import code_of
from ketamine_meta.stats.meta_analysis import OVERALL_LABEL, SUBGROUP_TEST_LABEL


@dataclass(frozen=True)
class Explainable:
    """An analysis ``explain`` can trace: its rows, its pooled table and how they match."""

    rows: str
    #: The pooled tables a subgroup's estimate is looked up in, in order (by route, then by
    #: each moderator); none where the rows are not pooled by a model.
    pooled: tuple[str, ...] = ()
    #: Columns of ``rows`` a subgroup name may match, in order.
    subgroup_columns: tuple[str, ...] = ("route", "enantiomer", "study_id")
    #: The scale the pooled table is on: ``ratio`` tables hold logs, shown exponentiated.
    scale: str = "identity"


def explainable(traced: Mapping[str, Mapping]) -> dict[str, Explainable]:
    """The analyses ``explain`` can trace, by name, from the workflow's registry.

    ``traced`` is the ``traced`` block of ``results/outputs.json``
    (:meth:`ketamine_meta.io.outputs.OutputRegistry.traced`): each slice of the workflow
    registers which of its tables can be traced, so the names follow the configuration (the
    primary timepoint among them) and nothing here lists a path.
    """
    return {
        name: Explainable(
            entry["rows"],
            _paths(entry.get("pooled")),
            tuple(entry.get("subgroup_columns", Explainable.subgroup_columns)),
            entry.get("scale", "identity"),
        )
        for name, entry in traced.items()
    }


def _paths(pooled: str | Sequence[str] | None) -> tuple[str, ...]:
    """The pooled tables of a registry entry.

    A list, or one path in a registry written before several were traced.
    """
    if isinstance(pooled, str):
        return (pooled,)
    return tuple(pooled or ())


#: What a reader should know of a source of this kind beside its URL: an aggregator's copy (a
#: mirror, a document-sharing site) is the weakest kind of source, and a repository copy
#: is someone's stored copy of the original its citation names.
SOURCE_CAVEATS = {"aggregator": ": weak source", "repository_copy": ": a copy, cite the original"}


def subgroups(table: pd.DataFrame, analysis: Explainable) -> list[str]:
    """Every value a subgroup argument may take for this table, sorted."""
    values = set()
    for column in analysis.subgroup_columns:
        if column in table:
            values |= set(table[column].dropna().astype(str))
    return sorted(values - {OVERALL_LABEL})


def select_rows(
    table: pd.DataFrame, subgroup: str | None, analysis: Explainable
) -> tuple[pd.DataFrame, str | None]:
    """Rows of ``table`` in ``subgroup`` and the column it matched.

    ``subgroup`` is a code of the tables or the name a figure prints for it
    (:func:`~ketamine_meta.evidence.vocabulary.code_of`), matched case-insensitively.

    Raises
    ------
    KeyError
        If no column of ``analysis.subgroup_columns`` holds that value.
    """
    if subgroup is None:
        return table, None
    code = code_of(subgroup)
    for column in analysis.subgroup_columns:
        if column not in table:
            continue
        matches = table[column].astype(str).str.casefold() == code.casefold()
        if matches.any():
            return table[matches], column
    raise KeyError(subgroup)


def explain(
    table: pd.DataFrame,
    sources: pd.DataFrame,
    subgroup: str | None = None,
    pooled: Sequence[pd.DataFrame] = (),
    analysis: Explainable | None = None,
) -> str:
    """Text: the pooled estimate explained, then each row with its numbers and sources.

    ``pooled`` are the pooled tables (by route, then by each moderator), searched in order
    for the subgroup; ``analysis`` says how ``table`` and ``pooled`` are matched (default:
    an :class:`Explainable` of per-comparison rows by route, enantiomer or study).
    """
    analysis = analysis or Explainable("")
    rows, column = select_rows(table, subgroup, analysis)
    if "study_id" in rows:
        rows = rows[rows["study_id"] != OVERALL_LABEL]
    lines = [_pooled_line(pooled, rows, subgroup, column, analysis)]
    trials = rows["study_id"].nunique() if "study_id" in rows else len(rows)
    lines.append(f"{len(rows)} row(s) from {trials} trial(s)")
    by_id = sources.set_index("source_id")
    for _, row in rows.iterrows():
        lines += _row_lines(row, by_id)
    return "\n".join(lines) + "\n"


def _pooled_line(
    pooled: Sequence[pd.DataFrame],
    rows: pd.DataFrame,
    subgroup: str | None,
    column: str | None,
    analysis: Explainable,
) -> str:
    """The pooled estimate of the subgroup (or overall) with CI, k and model, where pooled."""
    tables = [table for table in pooled if "subgroup" in table]
    if not tables:
        return "pooled estimate: none (this table lists rows, not a pooled model)"
    wanted = OVERALL_LABEL if subgroup is None else code_of(subgroup)
    for table in tables:
        level = table[table["subgroup"] != SUBGROUP_TEST_LABEL]
        hits = level[level["subgroup"].astype(str).str.casefold() == wanted.casefold()]
        if not hits.empty:
            return _estimate_text(hits.iloc[0], analysis)
    return f"pooled estimate: none for {subgroup} (a single trial, or not pooled on its own)"


def _estimate_text(row: pd.Series, analysis: Explainable) -> str:
    values = np.array([row["estimate"], row["ci_low"], row["ci_high"]], dtype=float)
    if analysis.scale == "ratio":
        values = np.exp(values)
    model = ", ".join(str(row[c]) for c in ("method", "test") if c in row and pd.notna(row[c]))
    return (
        f"pooled estimate ({row['subgroup']}): {values[0]:.3f} [{values[1]:.3f}, "
        f"{values[2]:.3f}], k = {int(row['k'])}" + (f" ({model})" if model else "")
    )


def _row_lines(row: pd.Series, by_id: pd.DataFrame) -> list[str]:
    label = row.get("label", row.get("claim_id", row.get("study_id", "")))
    if "yi" in row and pd.notna(row.get("yi")):
        head = f"\n{label}: yi = {row['yi']:.4f}, vi = {row['vi']:.4f} {row.get('data_basis', '')}"
    elif "verdict" in row:
        head = f"\n{label} ({row['test'] or 'not tested'}): {row['verdict']}; {row['why']}"
    else:
        head = f"\n{label} {row.get('arm_id', '')}: {row.get('data_basis', '')}"
    lines = [head.rstrip()]
    if str(row.get("data_basis", "")).startswith("reported"):
        # A contrast as the source reported it: its arms have no means of their own.
        lines.append(
            f"  {row['data_basis']}: {row['contrast_estimate']:g}"
            + (f", SE {row['contrast_se']:.4g}" if pd.notna(row["contrast_se"]) else "")
            + f"; n {row['n_treat_analysed']:g} drug, {row['n_ctrl_analysed']:g} control"
        )
        return lines + _source_lines(row, by_id)
    for side in ("treat", "ctrl"):
        numbers = _arm_numbers(row, side)
        if numbers:
            lines.append(f"  {'drug' if side == 'treat' else 'control'} arm: {numbers}")
    lines += _source_lines(row, by_id)
    return lines


def _arm_numbers(row: pd.Series, side: str) -> str:
    """``mean -16.5, SD 11.0, n 47`` or ``events 30 of 47`` for one arm, where the row has them."""
    n = row.get(f"n_{side}_analysed", row.get(f"n_{side}"))
    if pd.notna(row.get(f"mean_{side}")):
        return f"mean {row[f'mean_{side}']:g}, SD {row[f'sd_{side}']:.4g}, n {n:g}"
    if pd.notna(row.get(f"events_{side}")):
        return f"events {row[f'events_{side}']:g} of {n:g}"
    return ""


def _source_lines(row: pd.Series, by_id: pd.DataFrame) -> list[str]:
    lines, seen = [], set()
    for side in ("treat", "ctrl", ""):
        key = f"source_id_{side}" if side else "source_id"
        if key not in row or pd.isna(row[key]):
            continue
        locator = row[f"locator_{side}" if side else "locator"]
        if (row[key], locator) in seen:
            continue
        seen.add((row[key], locator))
        source = by_id.loc[row[key]] if row[key] in by_id.index else None
        url = source["url"] if source is not None else "(source not in sources.csv)"
        kind = source.get("source_kind", "") if source is not None else ""
        flag = f" [{kind}{SOURCE_CAVEATS.get(kind, '')}]" if kind else ""
        label = {"treat": "drug arm", "ctrl": "control arm", "": "rows"}[side]
        lines.append(f"  {label}: {row[key]} <{url}>{flag}\n    at: {locator}")
    return lines
