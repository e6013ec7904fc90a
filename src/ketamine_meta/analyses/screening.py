"""Screening: the counts of the PRISMA 2020 flow diagram, from the screening log."""

from __future__ import annotations

import pandas as pd

#: Screening reasons, grouped for the flow diagram by their leading words.
EXCLUSION_GROUPS = [
    ("not randomized", "not randomized"),
    ("not depression", "not a depressive episode"),
    ("children", "children or adolescents"),
    ("adolescents", "children or adolescents"),
    ("duplicate", "duplicate or secondary report"),
    ("secondary", "duplicate or secondary report"),
    ("registry record without results", "no results published"),
    ("protocol", "no results published"),
]


def prisma_counts(
    screening: pd.DataFrame, studies: pd.DataFrame, by_study: pd.DataFrame, relapse: pd.DataFrame
) -> tuple[dict[str, int], dict[str, int]]:
    """Counts of the flow diagram, and exclusions grouped by reason (:data:`EXCLUSION_GROUPS`).

    A candidate counts as included if any of its records says include, else by its last
    record's decision (a later screening record settles an earlier "unclear"). Every trial of
    ``studies`` counts as included whatever the log says: the counts are derived from the
    package, so a trial entered without its screening record is still in the flow (and
    ``validate`` names it, :mod:`ketamine_meta.evidence.completeness`).
    """
    decided = screening.groupby("candidate_id").agg(
        decision=("decision", lambda d: "include" if (d == "include").any() else d.iloc[-1]),
        reason=("reason", "last"),
    )
    in_package = set(studies["study_id"])
    included = set(decided.index[decided["decision"] == "include"]) | in_package
    undecided = decided[~decided.index.isin(in_package)]
    counts = {
        "records": len(screening),
        "candidates": len(set(decided.index) | in_package),
        "excluded": int((undecided["decision"] == "exclude").sum()),
        "unclear": int((undecided["decision"] == "unclear").sum()),
        "included": len(included),
        "extracted": len(in_package),
        "to_extract": len(included - in_package),
        "in_primary": by_study["study_id"].nunique(),
        "with_relapse": relapse["study_id"].nunique(),
    }
    reasons: dict[str, int] = {}
    for reason in undecided.loc[undecided["decision"] == "exclude", "reason"].fillna(""):
        group = next((g for key, g in EXCLUSION_GROUPS if key in reason.lower()), "other")
        reasons[group] = reasons.get(group, 0) + 1
    return counts, dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))
