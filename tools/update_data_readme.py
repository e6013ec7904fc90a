"""Rewrite the generated blocks of data/raw/README.md (coverage, counts) from the tables.

Usage: python tools/update_data_readme.py [--check]
With --check, exit 1 if the README is out of date instead of rewriting it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from ketamine_meta.coverage import coverage_markdown, coverage_table

RAW = Path(__file__).resolve().parents[1] / "data" / "raw"
START, END = "<!-- coverage:start -->", "<!-- coverage:end -->"


def generated_block() -> str:
    """The Markdown between the coverage markers, computed from the current tables."""
    names = ("studies", "arms", "outcomes", "contrasts", "extraction_audit", "screening")
    tables = {n: pd.read_csv(RAW / f"{n}.csv") for n in names}
    counts = (
        f"{len(tables['studies'])} trials, {len(tables['arms'])} arms, "
        f"{len(tables['outcomes'])} arm-level outcome rows, "
        f"{len(tables['contrasts'])} reported contrasts.\n\n"
    )
    table = coverage_table(tables["arms"], tables["outcomes"], tables["contrasts"])
    return "\n".join(
        [counts + coverage_markdown(table), audit_summary(tables), screening_summary(tables)]
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
    return (
        f"Double extraction (`extraction_audit.csv`): a second extractor, blind to the first "
        f"pass, re-read {audit['item'].nunique()} rows with 24 h numbers. Of "
        f"{compared} values both recorded, {agreed} agree ({agreed / compared:.0%}), "
        f"{int(counts.get('identical_after_orientation', 0))} of them after turning the source's "
        f"sign to treatment minus control; {int(counts.get('not_independently_checked', 0))} "
        "derived values (counts from percentages, n from degrees of freedom or other tables) "
        f"were not re-read independently. {unaudited_24h_rows(tables)} rows at 24 h added "
        "since have not been double-extracted yet.\n"
    )


def unaudited_24h_rows(tables: dict[str, pd.DataFrame]) -> int:
    """Rows with 24 h numbers (outcomes and contrasts) that the audit does not cover."""
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
    rows = pd.concat([tables[name][columns] for name in ("outcomes", "contrasts")])
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
