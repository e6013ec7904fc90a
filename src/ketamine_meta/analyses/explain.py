"""Trace a pooled number to its comparisons, data rows and sources (``ketamine-meta explain``)."""

from __future__ import annotations

import pandas as pd

#: Analyses that can be explained: the per-comparison table behind each pooled table.
ANALYSES = {
    "smd_24h": "results/tables/smd_24h_by_study.csv",
    "rr_response_24h": "results/tables/rr_response_24h_by_study.csv",
    "adverse_events": "results/tables/adverse_event_rr.csv",
}
SUBGROUP_COLUMNS = ("route", "enantiomer", "event", "study_id")


def select_rows(table: pd.DataFrame, subgroup: str | None) -> pd.DataFrame:
    """Rows of ``table`` in ``subgroup`` (a route, enantiomer, event or study); all if None."""
    if subgroup is None:
        return table
    for column in SUBGROUP_COLUMNS:
        if column in table and (table[column] == subgroup).any():
            return table[table[column] == subgroup]
    raise KeyError(subgroup)


def explain(table: pd.DataFrame, sources: pd.DataFrame, subgroup: str | None = None) -> str:
    """Text listing each comparison with its estimate and, per arm, source, URL and locator."""
    rows = select_rows(table, subgroup)
    rows = rows[rows.get("study_id", pd.Series(dtype=str)) != "overall"]
    by_id = sources.set_index("source_id")
    lines = [f"{len(rows)} comparisons from {rows['study_id'].nunique()} trials"]
    for _, row in rows.iterrows():
        basis = row.get("data_basis", "")
        lines.append(
            f"\n{row.get('label', row['study_id'])}: "
            f"yi = {row['yi']:.4f}, vi = {row['vi']:.4f} {basis}"
        )
        for side in ("treat", "ctrl", ""):
            key = f"source_id_{side}" if side else "source_id"
            if key not in row or pd.isna(row[key]):
                continue
            locator = row[f"locator_{side}" if side else "locator"]
            source = by_id.loc[row[key]] if row[key] in by_id.index else None
            url = source["url"] if source is not None else "(source not in sources.csv)"
            label = {"treat": "drug arm", "ctrl": "control arm", "": "rows"}[side]
            lines.append(f"  {label}: {row[key]} <{url}>\n    at: {locator}")
            if (
                side == "treat"
                and row.get("source_id_ctrl") == row[key]
                and row.get("locator_ctrl") == locator
            ):
                break
    return "\n".join(lines) + "\n"
