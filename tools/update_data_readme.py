"""Rewrite the generated blocks of data/raw/README.md (coverage, counts) from the tables.

Usage: python tools/update_data_readme.py [--check]
With --check, exit 1 if the README is out of date instead of rewriting it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from ketamine_meta.analyses.coverage import EFFICACY_OUTCOMES, coverage_markdown, coverage_table

RAW = Path(__file__).resolve().parents[1] / "data" / "raw"
START, END = "<!-- coverage:start -->", "<!-- coverage:end -->"


def generated_block() -> str:
    """The Markdown between the coverage markers, computed from the current tables."""
    names = (
        "studies",
        "arms",
        "outcomes",
        "contrasts",
        "adverse_events",
        "relapse",
        "trial_traits",
        "risk_of_bias",
        "extraction_audit",
        "screening",
    )
    tables = {n: pd.read_csv(RAW / f"{n}.csv") for n in names}
    counts = (
        f"{len(tables['studies'])} trials, {len(tables['arms'])} arms, "
        f"{len(tables['outcomes'])} arm-level outcome rows, "
        f"{len(tables['contrasts'])} reported contrasts.\n\n"
    )
    table = coverage_table(tables["arms"], tables["outcomes"], tables["contrasts"])
    return "\n".join(
        [
            counts + coverage_markdown(table),
            safety_summary(tables),
            audit_summary(tables),
            screening_summary(tables),
        ]
    )


def _trials(frame: pd.DataFrame) -> int:
    return frame["study_id"].nunique()


def safety_summary(tables: dict[str, pd.DataFrame]) -> str:
    """One paragraph on safety, durability, trial characteristics and risk of bias."""
    outcomes = tables["outcomes"]
    dropouts = outcomes[outcomes["outcome"].isin(["dropout", "dropout_adverse_event"])]
    relapse, traits, rob = tables["relapse"], tables["trial_traits"], tables["risk_of_bias"]
    complete_rob = rob.groupby(["study_id", "tool"])["domain"].nunique()
    trait_counts = traits.groupby("trait")["study_id"].nunique().sort_index()
    return (
        f"Safety: dropout counts for {_trials(dropouts)} trials ({len(dropouts)} rows); "
        f"adverse-event incidences for {_trials(tables['adverse_events'])} trials "
        f"({len(tables['adverse_events'])} rows); no trial's blood-pressure change or CADSS "
        "score could be read. "
        f"Durability (`relapse.csv`): {_trials(relapse)} trials ({len(relapse)} rows: "
        + ", ".join(f"{m} {c}" for m, c in relapse["measure"].value_counts().sort_index().items())
        + "). "
        "Trial characteristics (`trial_traits.csv`, trials with each): "
        + ", ".join(f"{t} {c}" for t, c in trait_counts.items())
        + ". "
        f"Risk of bias (`risk_of_bias.csv`, as published reviews judged it): {_trials(rob)} "
        f"trials, {int((complete_rob >= 7).sum())} with all seven RoB 1 domains.\n"
    )


def screening_summary(tables: dict[str, pd.DataFrame]) -> str:
    """One paragraph on the screening log, screening.csv."""
    log = tables["screening"]
    studies = set(tables["studies"]["study_id"])
    decided = log.groupby("candidate_id")["decision"].agg(
        lambda d: "include" if (d == "include").any() else d.iloc[0]
    )
    include = decided[decided == "include"].index
    return (
        f"Screening (`screening.csv`): {len(decided)} candidate trials; "
        f"{len(include)} included ({len(set(include) & studies)} of them in the package, "
        f"{len(set(include) - studies)} still to extract), "
        f"{int((decided == 'exclude').sum())} excluded, {int((decided == 'unclear').sum())} "
        "unclear.\n"
    )


def audit_summary(tables: dict[str, pd.DataFrame]) -> str:
    """One paragraph on the double extraction recorded in extraction_audit.csv."""
    audit = tables["extraction_audit"]
    counts = audit["agreement"].value_counts()
    compared = int(counts.get("identical", 0) + counts.get("identical_after_orientation", 0))
    compared += int(counts.get("disagree", 0))
    agreed = compared - int(counts.get("disagree", 0))
    items = audit.drop_duplicates("item")["table"].value_counts()
    rows = {
        name: len(tables[name]) for name in ("outcomes", "contrasts", "adverse_events", "relapse")
    }
    share = items.sum() / sum(rows.values())
    return (
        f"Double extraction (`extraction_audit.csv`): a second extractor, blind to the first "
        f"pass, re-read {audit['item'].nunique()} rows ("
        + ", ".join(f"{items.get(name, 0)} of {n} {name}" for name, n in rows.items())
        + f"; {share:.0%} of all rows): every row with 24 h numbers at the time, then a random 20% "
        f"(seed 20261124) of the safety and durability rows. Of {compared} values both "
        f"recorded, {agreed} agree ({agreed / compared:.0%}), "
        f"{int(counts.get('identical_after_orientation', 0))} of them after turning the source's "
        f"sign to treatment minus control; {int(counts.get('not_independently_checked', 0))} "
        "derived values (counts from percentages, n from degrees of freedom or other tables) "
        "were not re-read independently, and "
        f"{int(counts.get('not_comparable', 0))} were recorded as different quantities by the "
        f"two passes. {unaudited_24h_rows(tables)} efficacy rows at 24 h have not been "
        "double-extracted.\n"
    )


def unaudited_24h_rows(tables: dict[str, pd.DataFrame]) -> int:
    """Efficacy rows with 24 h numbers (outcomes and contrasts) the audit does not cover."""
    audit = tables["extraction_audit"]
    audited = set(
        zip(
            audit["study_id"],
            audit["outcome"],
            audit["scale"],
            audit["timepoint_h"].astype(float),
            strict=True,
        )
    )
    columns = ["study_id", "outcome", "scale", "timepoint_h"]
    outcomes = tables["outcomes"]
    efficacy = outcomes[outcomes["outcome"].isin(EFFICACY_OUTCOMES)]
    rows = pd.concat([efficacy[columns], tables["contrasts"][columns]])
    at_24h = rows[rows["timepoint_h"] == 24]
    return sum(key not in audited for key in at_24h.itertuples(index=False, name=None))


def render(readme: str) -> str:
    """``readme`` with its coverage block replaced by :func:`generated_block`."""
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{generated_block()}{END}{tail}"


def main(argv: list[str]) -> int:
    """Entry point."""
    path = RAW / "README.md"
    current = path.read_text(encoding="utf-8")
    updated = render(current)
    if "--check" in argv:
        return int(updated != current)
    path.write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
