"""What a valid data package still lacks: the warnings of ``validate`` about unfinished trials.

A package can pass every schema and cross-field rule and still be incomplete as a review: a
trial added to ``studies.csv`` without its screening record is missing from the PRISMA flow's
decisions, one without a risk-of-bias judgement enters the summary of findings as "not
assessed", an arm without outcomes contributes nothing, and a cell left as the scaffold's
placeholder (``ketamine-meta new-trial``) has no provenance yet. None of these stops the
pipeline (a trial may be entered in several sittings); each is reported by name, with the
file and data row to open, every time the package is validated (``ketamine-meta validate``
and the workflow's ``validate`` rule).

A gap already logged is not a warning: the package's rule is that a number looked for and not
found is listed in ``extraction_gaps.csv`` with the reason. A trial whose missing judgement,
identifier or results has such a row (its ``what`` naming risk of bias, a PMID, or any
result) is complete as far as the reachable sources allow.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pandas as pd

#: How a cell the scaffold could not fill starts (``ketamine-meta new-trial``).
PLACEHOLDER = "TODO"


def completeness_warnings(tables: Mapping[str, pd.DataFrame]) -> list[str]:
    """One line per unfinished part of a validated package, trial by trial.

    Parameters
    ----------
    tables : mapping
        Resource name to the typed table of :func:`~ketamine_meta.evidence.datapackage.
        validate_package` (index = 1-based data row).

    Returns
    -------
    list of str
        ``"<study>: <what is missing> (<file> ...)"`` lines, in the order of ``studies.csv``
        and then of the tables; empty when nothing is missing.
    """
    return [*_trial_warnings(tables), *_placeholder_warnings(tables)]


def _trial_warnings(tables: Mapping[str, pd.DataFrame]) -> Iterator[str]:
    studies = tables["studies"]
    screened = tables["screening"]
    included = set(screened.loc[screened["decision"] == "include", "candidate_id"])
    judged = set(tables["risk_of_bias"]["study_id"]) | _logged(tables, "risk.of.bias|RoB")
    identified = _logged(tables, "PMID")
    logged = set(tables["extraction_gaps"]["study_id"])
    arms = tables["arms"]
    with_rows = _arms_with_rows(tables)
    for row, study in studies.iterrows():
        study_id = study["study_id"]
        where = f"studies.csv row {row}"
        if study_id not in included:
            yield (
                f"{study_id}: no screening record with decision 'include' "
                f"(screening.csv candidate_id {study_id}; {where}): the PRISMA flow counts it "
                "as included without a screening decision"
            )
        if study_id not in judged:
            yield (
                f"{study_id}: no risk-of-bias judgement (risk_of_bias.csv): the summary of "
                "findings counts it as not assessed"
            )
        if pd.isna(study["pmid"]) and pd.isna(study["registration"]) and study_id not in identified:
            yield f"{study_id}: neither a PMID nor a registry id ({where})"
        for arm_row, arm in arms[arms["study_id"] == study_id].iterrows():
            if (study_id, arm["arm_id"]) not in with_rows and study_id not in logged:
                yield (
                    f"{study_id}: arm {arm['arm_id']} has no outcome, contrast, adverse-event "
                    f"or relapse row (arms.csv row {arm_row})"
                )


def _logged(tables: Mapping[str, pd.DataFrame], pattern: str) -> set[str]:
    """Trials with an ``extraction_gaps.csv`` row whose ``what`` matches ``pattern``."""
    gaps = tables["extraction_gaps"]
    named = gaps["what"].astype("string").str.contains(pattern, case=False, na=False)
    return set(gaps.loc[named, "study_id"])


def _arms_with_rows(tables: Mapping[str, pd.DataFrame]) -> set[tuple[str, str]]:
    """(study, arm) pairs that some result row refers to."""
    pairs: set[tuple[str, str]] = set()
    for name, columns in (
        ("outcomes", ("arm_id",)),
        ("contrasts", ("arm_id_treat", "arm_id_ctrl")),
        ("adverse_events", ("arm_id",)),
        ("relapse", ("arm_id", "arm_id_ctrl")),
    ):
        table = tables[name]
        for column in columns:
            named = table[table[column].notna()]
            pairs |= set(zip(named["study_id"], named[column], strict=True))
    return pairs


def _placeholder_warnings(tables: Mapping[str, pd.DataFrame]) -> Iterator[str]:
    """Cells still holding the scaffold's placeholder, located to the file, row and column."""
    for name, table in tables.items():
        text = table.select_dtypes(include=["object", "string"])
        for column in text.columns:
            marked = text[column].astype("string").str.startswith(PLACEHOLDER, na=False)
            for row in marked[marked].index:
                key = "study_id" if "study_id" in table else "candidate_id"
                owner = table.at[row, key] if key in table else None
                prefix = f"{owner}: " if isinstance(owner, str) else ""
                yield f"{prefix}{name}.csv row {row}, column {column}: still a placeholder"
