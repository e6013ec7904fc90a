"""What a reader sees first: the headline estimates and the caveats that change their reading.

The report's landing page (:func:`ketamine_meta.figures.report_pages.headline_rst`) and the
README's headline (``results/report/headline.md``, spliced in by ``tools/update_readme.py``)
are both rendered from
:func:`headline`, so the two cannot disagree with each other or with the results tables they
read. Every number is read from a table the pipeline writes; nothing is typed.

A pooled row below the minimum information of PROTOCOL.md §11 (its ``display`` column says
why) is not shown as an answer: its cell gives the reason and the trial-level results
instead. Beside the numbers stand, in words, the caveats that change how they read
(PROTOCOL.md §12, §16, §20): route, enantiomer and control type are confounded; one trial
compares the enantiomers head to head; small trials show larger effects; and the certainty
of the overall estimate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from ketamine_meta.analyses.changes import registered_stem
from ketamine_meta.analyses.protocol import Pooling
from ketamine_meta.figures.labels import model_text, p_text
from ketamine_meta.stats.meta_analysis import OVERALL_LABEL, SUBGROUP_TEST_LABEL
from ketamine_meta.stats.model import ModelSpec

#: How route and control codes read in sentences.
ROUTE_WORDS = {"IV": "intravenous", "IN": "intranasal", "IM": "intramuscular", "oral": "oral"}
CONTROL_WORDS = {
    "inert_placebo": "inert placebo",
    "active_placebo": "active placebo (midazolam)",
    "active_treatment": "an active treatment",
}
#: The summary-of-findings row that rates the overall estimate (analyses.grade).
HEADLINE_SOF_COMPARATOR = "inert or active placebo"


#: The tables the headline reads, by name: each a (slice, key) of the workflow's registry of
#: outputs (``results/outputs.json``), which names its file.
HEADLINE_TABLES = {
    "pooled_by_route": ("efficacy", "pooled_by_route"),
    "pooled_by_enantiomer": ("efficacy", "pooled_by_enantiomer"),
    "rr_by_enantiomer": ("response", "rr_pooled"),
    "smd_by_study": ("efficacy", "by_study"),
    "rr_by_study": ("response", "rr_by_study"),
    "head_to_head": ("efficacy", "head_to_head"),
    "publication_bias": ("efficacy", "publication_bias"),
    "summary_of_findings": ("certainty", "summary"),
}


def headline_tables(registry: Mapping) -> dict[str, str]:
    """The stems of the tables the headline reads, by name, from ``results/outputs.json``."""
    return {name: registered_stem(registry, table) for name, table in HEADLINE_TABLES.items()}


@dataclass(frozen=True)
class HeadlineRow:
    """One row of a headline table, as plain text (renderers add their own markup)."""

    label: str
    k: int
    trials: int
    n: int
    estimate: str
    prediction: str


@dataclass(frozen=True)
class Headline:
    """The headline: the model named, its confidence level, two tables, the caveats in words."""

    model: str
    level: float
    timepoint: str
    smd_rows: list[HeadlineRow]
    rr_rows: list[HeadlineRow]
    statements: list[str]


def _bounds(low: float, high: float, scale=lambda x: x) -> str:
    return f"[{scale(low):.2f}, {scale(high):.2f}]"


def _interval(estimate: float, low: float, high: float, scale=lambda x: x) -> str:
    return f"{scale(estimate):.2f} {_bounds(low, high, scale)}"


def _trial_results(by_study: pd.DataFrame, model: ModelSpec, scale) -> str:
    """Each trial's own estimate and Wald interval: what a reader gets instead of a pool.

    The intervals are at ``model``'s level, as the pooled ones beside them.
    """
    crit = model.crit()
    parts = []
    for row in by_study.sort_values("label").itertuples(index=False):
        half = crit * math.sqrt(row.vi)
        parts.append(f"{row.label} {_interval(row.yi, row.yi - half, row.yi + half, scale)}")
    return "; ".join(parts)


def _rows(
    pooled: pd.DataFrame, by_study: pd.DataFrame, by: str, model: ModelSpec, scale
) -> list[HeadlineRow]:
    """The overall row first, then each subgroup of ``by`` (named in words)."""
    rows = []
    pooled = pooled[pooled["subgroup"] != SUBGROUP_TEST_LABEL]
    ordered = pd.concat(
        [pooled[pooled["subgroup"] == OVERALL_LABEL], pooled[pooled["subgroup"] != OVERALL_LABEL]]
    )
    for row in ordered.itertuples(index=False):
        overall = row.subgroup == OVERALL_LABEL
        named = ROUTE_WORDS.get(row.subgroup, row.subgroup) if by == "route" else row.subgroup
        label = "all trials" if overall else f"{by}: {named}"
        members = by_study if overall else by_study[by_study[by].astype(str) == row.subgroup]
        if isinstance(row.display, str) and row.display:
            estimate = f"{row.display}: {_trial_results(members, model, scale)}"
        else:
            estimate = _interval(row.estimate, row.ci_low, row.ci_high, scale)
        prediction = (
            row.pi_note
            if isinstance(row.pi_note, str) and row.pi_note
            else _bounds(row.pi_low, row.pi_high, scale)
        )
        rows.append(
            HeadlineRow(label, int(row.k), int(row.trials), int(row.n), estimate, prediction)
        )
    return rows


def _confounding(smd_by_study: pd.DataFrame) -> str:
    """Which control type each route met, and which routes each enantiomer came by."""
    by_route = [
        f"every {ROUTE_WORDS.get(route, route)} comparison is against "
        + " or ".join(CONTROL_WORDS.get(c, c) for c in sorted(set(rows["control_type"])))
        for route, rows in smd_by_study.groupby("route")
    ]
    by_enantiomer = [
        f"every {enantiomer} comparison is "
        + " or ".join(ROUTE_WORDS.get(r, r) for r in sorted(set(rows["route"])))
        for enantiomer, rows in smd_by_study.groupby("enantiomer")
    ]
    return (
        "Route, enantiomer and control type are confounded in these trials: "
        + "; ".join(by_route + by_enantiomer)
        + ". A difference between subgroups may come from any of the three, or from the "
        "populations and eras of the trials (PROTOCOL.md §12)."
    )


def _head_to_head(head_to_head: pd.DataFrame) -> str:
    within = head_to_head[head_to_head["evidence"] == "within trial"]
    between = head_to_head[head_to_head["evidence"] != "within trial"]
    if within.empty:
        text = "No trial compares racemic ketamine with esketamine directly."
    else:
        row = within.iloc[0]
        count = "One trial compares" if len(within) == 1 else f"{len(within)} trials compare"
        text = (
            f"{count} racemic ketamine with esketamine directly "
            f"({row['study_id']}, {int(row['n_racemic'])} and {int(row['n_esketamine'])} "
            f"patients): g {_interval(row['estimate'], row['ci_low'], row['ci_high'])}, "
            "racemic minus esketamine."
        )
    if len(between):
        row = between.iloc[0]
        text += (
            f" Between trials, the difference in g is "
            f"{_interval(row['estimate'], row['ci_low'], row['ci_high'])}, confounded as above."
        )
    return text


def _small_studies(publication_bias: pd.DataFrame) -> str:
    egger = publication_bias[publication_bias["test"].str.startswith("Egger")]
    parts = []
    for row in egger.itertuples(index=False):
        parts.append(
            f"over {row.level} (k = {int(row.k)}), Egger's t = {row.statistic:.2f}, "
            f"{p_text(row.pval)}, and the estimate for a trial of infinite size is "
            f"{_interval(row.estimate, row.ci_low, row.ci_high)}"
        )
    notes = {row.note for row in egger.itertuples(index=False) if isinstance(row.note, str)}
    notes_text = " ".join(note[0].upper() + note[1:] + "." for note in sorted(notes))
    return f"Small-study effects: {'; '.join(parts)}. {notes_text}".strip()


def _certainty(sof: pd.DataFrame, timepoint: str) -> str:
    rated = sof[sof["comparator"] == HEADLINE_SOF_COMPARATOR]
    if rated.empty:
        return ""
    row = rated.iloc[0]
    reasons = [
        f"{name.replace('_', ' ')} ({row[name]})"
        for name in (
            "risk_of_bias",
            "inconsistency",
            "indirectness",
            "imprecision",
            "publication_bias",
        )
        if row[f"downgrade_{name}"] > 0
    ]
    return (
        f"Certainty of the overall estimate at {timepoint} (GRADE): {row['certainty']}"
        + (", downgraded for " + "; ".join(reasons) if reasons else "")
        + "."
    )


def headline(tables: Mapping[str, pd.DataFrame], pooling: Pooling) -> Headline:
    """The headline of the results tables.

    Parameters
    ----------
    tables
        ``pooled_by_route``, ``pooled_by_enantiomer`` (pooled g), ``rr_by_enantiomer`` (pooled
        log risk ratio of response), ``smd_by_study`` and ``rr_by_study`` (their trial rows),
        ``head_to_head``, ``publication_bias`` and ``summary_of_findings``: the results tables
        of those names.
    pooling
        The configuration's pooling: the primary timepoint, and the model whose level the
        intervals have.
    """
    overall = tables["pooled_by_route"].set_index("subgroup").loc[OVERALL_LABEL]
    timepoint = f"{pooling.timepoint_h:g} h"
    model = pooling.model
    smd = tables["smd_by_study"]
    smd_rows = _rows(tables["pooled_by_route"], smd, "route", model, lambda x: x) + [
        row
        for row in _rows(tables["pooled_by_enantiomer"], smd, "enantiomer", model, lambda x: x)
        if row.label != "all trials"
    ]
    rr_rows = _rows(
        tables["rr_by_enantiomer"], tables["rr_by_study"], "enantiomer", model, math.exp
    )
    statements = [
        _confounding(smd),
        _head_to_head(tables["head_to_head"]),
        _small_studies(tables["publication_bias"]),
        _certainty(tables["summary_of_findings"], timepoint),
    ]
    return Headline(
        model=model_text(overall["method"], overall["test"]),
        level=model.level,
        timepoint=timepoint,
        smd_rows=smd_rows,
        rr_rows=rr_rows,
        statements=[s for s in statements if s],
    )


def headline_markdown(result: Headline) -> str:
    """The README's headline block: the g table, the response table and the caveats."""
    ci = f"{result.level:.0%} CI"

    def table(rows: list[HeadlineRow], measure: str, prediction: bool) -> list[str]:
        header = f"| subgroup | k (trials) | n | {measure} [{ci}] |" + (
            " prediction interval |" if prediction else ""
        )
        lines = [header, "|---" * (5 if prediction else 4) + "|"]
        for row in rows:
            cells = [row.label, f"{row.k} ({row.trials})", str(row.n), row.estimate]
            cells += [row.prediction] if prediction else []
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        return lines

    return "\n".join(
        [
            f"Headline at {result.timepoint}: random-effects models ({result.model}); "
            "Hedges' g > 0 and a risk ratio > 1 favour the drug.",
            "",
            *table(result.smd_rows, "Hedges' g", True),
            "",
            *table(result.rr_rows, "risk ratio of response", False),
            "",
            *(f"- {statement}" for statement in result.statements),
        ]
    )
