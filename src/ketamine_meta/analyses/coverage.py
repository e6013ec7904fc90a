"""What the data package covers: trials by route, enantiomer and timepoint."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ketamine_meta.analyses.comparisons import ENANTIOMER

#: Outcomes that measure efficacy (dropouts are counted with safety, not here).
EFFICACY_OUTCOMES = frozenset(
    {
        "depression_score",
        "response",
        "remission",
        "suicidal_ideation_score",
        "suicidal_ideation_remission",
    }
)
#: Timepoint windows (hours after the first dose), upper bounds inclusive.
TIMEPOINT_BINS = [0, 4, 30, 96, 200, 400, 700, np.inf]
TIMEPOINT_LABELS = ["≤4 h", "24 h", "48-96 h", "7 d", "14 d", "21-28 d", ">28 d"]


def coverage_table(
    arms: pd.DataFrame, outcomes: pd.DataFrame, contrasts: pd.DataFrame
) -> pd.DataFrame:
    """Count trials with post-baseline data, by route and enantiomer of their drug arms.

    A trial counts in a timepoint column when ``outcomes`` (an efficacy outcome,
    :data:`EFFICACY_OUTCOMES`) or ``contrasts`` holds any row for it in that window (baseline
    rows excluded). A trial with drug arms of several routes or
    enantiomers counts once in each of their rows.

    Returns
    -------
    pandas.DataFrame
        Index ``(route, enantiomer)``; a column per window of :data:`TIMEPOINT_LABELS` and
        ``trials`` (all trials with that route and enantiomer, with or without outcome data).
    """
    active = arms[arms["drug"].isin(list(ENANTIOMER))].assign(
        enantiomer=lambda a: a["drug"].map(ENANTIOMER)
    )
    groups = active[["study_id", "route", "enantiomer"]].dropna().drop_duplicates()
    efficacy = outcomes[outcomes["outcome"].isin(EFFICACY_OUTCOMES)]
    times = pd.concat(
        [efficacy[["study_id", "timepoint_h"]], contrasts[["study_id", "timepoint_h"]]]
    )
    times = times[times["timepoint_h"].astype(float) > 0].copy()
    times["window"] = pd.cut(
        times["timepoint_h"].astype(float), TIMEPOINT_BINS, labels=TIMEPOINT_LABELS
    )
    joined = groups.merge(times[["study_id", "window"]].drop_duplicates(), on="study_id")
    table = (
        joined.groupby(["route", "enantiomer", "window"], observed=False)["study_id"]
        .nunique()
        .unstack("window")
        .reindex(columns=TIMEPOINT_LABELS)
    )
    trials = groups.groupby(["route", "enantiomer"])["study_id"].nunique().rename("trials")
    table = table.reindex(trials.index).fillna(0).astype(int)
    return pd.concat([trials, table], axis=1).sort_index()


def coverage_markdown(table: pd.DataFrame) -> str:
    """Render :func:`coverage_table` as a Markdown table."""
    header = ["route", "enantiomer", *table.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for (route, enantiomer), row in table.iterrows():
        cells = [route, enantiomer, *(str(int(v)) for v in row)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
