"""What a valid package still lacks (``evidence.completeness``), on tables built here.

``test_new_trial.py`` follows the warnings through ``ketamine-meta validate`` on a copy of the
repository's package; here each rule is checked on a package of one or two trials, small
enough that every expected line is written out: a complete trial gives none, each gap one
line naming the file and row, and a gap logged in ``extraction_gaps.csv`` none.
"""

from __future__ import annotations

import pandas as pd
import pytest

from ketamine_meta.evidence.completeness import PLACEHOLDER, completeness_warnings


def table(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    """A typed table as validation gives it: index = 1-based data row."""
    frame = pd.DataFrame(rows, columns=columns)
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    return frame


def package(**changes: list[dict]) -> dict[str, pd.DataFrame]:
    """One complete trial, Ames2020 (two arms, one outcome row each), with ``changes``."""
    rows = {
        "studies": [{"study_id": "Ames2020", "pmid": 111, "registration": None, "design": "x"}],
        "screening": [{"candidate_id": "Ames2020", "decision": "include", "found_in": "PubMed"}],
        "risk_of_bias": [{"study_id": "Ames2020", "overall": "low"}],
        "extraction_gaps": [],
        "arms": [
            {"study_id": "Ames2020", "arm_id": "ket"},
            {"study_id": "Ames2020", "arm_id": "pbo"},
        ],
        "outcomes": [
            {"study_id": "Ames2020", "arm_id": "ket", "scale": "MADRS"},
            {"study_id": "Ames2020", "arm_id": "pbo", "scale": "MADRS"},
        ],
        "contrasts": [],
        "adverse_events": [],
        "relapse": [],
        "sources": [{"source_id": "ames2020", "citation": "Ames A. A trial. 2020"}],
    }
    rows |= changes
    columns = {
        "studies": ["study_id", "pmid", "registration", "design"],
        "screening": ["candidate_id", "decision", "found_in"],
        "risk_of_bias": ["study_id", "overall"],
        "extraction_gaps": ["study_id", "what"],
        "arms": ["study_id", "arm_id"],
        "outcomes": ["study_id", "arm_id", "scale"],
        "contrasts": ["study_id", "arm_id_treat", "arm_id_ctrl"],
        "adverse_events": ["study_id", "arm_id"],
        "relapse": ["study_id", "arm_id", "arm_id_ctrl"],
        "sources": ["source_id", "citation"],
    }
    return {name: table(rows[name], columns[name]) for name in columns}


def test_a_complete_trial_gives_no_warning():
    assert completeness_warnings(package()) == []


def test_each_missing_part_is_named_with_its_file_and_row():
    tables = package(
        studies=[
            {"study_id": "Ames2020", "pmid": 111, "registration": None, "design": "x"},
            {"study_id": "Bell2021", "pmid": None, "registration": None, "design": "x"},
        ],
        arms=[
            {"study_id": "Ames2020", "arm_id": "ket"},
            {"study_id": "Ames2020", "arm_id": "pbo"},
            {"study_id": "Bell2021", "arm_id": "esk"},
        ],
    )
    assert completeness_warnings(tables) == [
        "Bell2021: no screening record with decision 'include' (screening.csv candidate_id "
        "Bell2021; studies.csv row 2): the PRISMA flow counts it as included without a "
        "screening decision",
        "Bell2021: no risk-of-bias judgement (risk_of_bias.csv): the summary of findings counts "
        "it as not assessed",
        "Bell2021: neither a PMID nor a registry id (studies.csv row 2)",
        "Bell2021: arm esk has no outcome, contrast, adverse-event or relapse row (arms.csv row 3)",
    ]


def test_a_screening_record_that_excludes_is_no_inclusion():
    tables = package(
        screening=[{"candidate_id": "Ames2020", "decision": "exclude", "found_in": "PubMed"}]
    )
    (warning,) = completeness_warnings(tables)
    assert warning.startswith("Ames2020: no screening record with decision 'include'")


def test_a_registry_id_stands_for_a_missing_pmid():
    studies = [{"study_id": "Ames2020", "pmid": None, "registration": "NCT1", "design": "x"}]
    assert completeness_warnings(package(studies=studies)) == []


@pytest.mark.parametrize(
    ("table_name", "row"),
    [
        ("contrasts", {"study_id": "Ames2020", "arm_id_treat": "ket", "arm_id_ctrl": "pbo"}),
        ("relapse", {"study_id": "Ames2020", "arm_id": "ket", "arm_id_ctrl": "pbo"}),
    ],
)
def test_an_arm_named_by_a_contrast_or_relapse_row_has_results(table_name, row):
    tables = package(outcomes=[], **{table_name: [row]})
    assert completeness_warnings(tables) == []


def test_an_arm_with_only_adverse_events_has_results():
    tables = package(
        outcomes=[{"study_id": "Ames2020", "arm_id": "ket", "scale": "MADRS"}],
        adverse_events=[{"study_id": "Ames2020", "arm_id": "pbo"}],
    )
    assert completeness_warnings(tables) == []


def test_results_of_another_trial_do_not_count_for_an_arm_of_the_same_name():
    tables = package(
        studies=[
            {"study_id": "Ames2020", "pmid": 111, "registration": None, "design": "x"},
            {"study_id": "Bell2021", "pmid": 222, "registration": None, "design": "x"},
        ],
        screening=[
            {"candidate_id": "Ames2020", "decision": "include", "found_in": "PubMed"},
            {"candidate_id": "Bell2021", "decision": "include", "found_in": "PubMed"},
        ],
        risk_of_bias=[{"study_id": "Ames2020", "overall": "low"}, {"study_id": "Bell2021"}],
        arms=[
            {"study_id": "Ames2020", "arm_id": "ket"},
            {"study_id": "Ames2020", "arm_id": "pbo"},
            {"study_id": "Bell2021", "arm_id": "ket"},
        ],
    )
    assert completeness_warnings(tables) == [
        "Bell2021: arm ket has no outcome, contrast, adverse-event or relapse row (arms.csv row 3)"
    ]


#: The warnings of a trial with no judgement, no identifier and no result rows.
NO_JUDGEMENT = "no risk-of-bias judgement"
NO_IDENTIFIER = "neither a PMID nor a registry id"
NO_RESULTS = "has no outcome, contrast, adverse-event or relapse row"


def kind(warning: str) -> str:
    """Which of the three a warning is."""
    (found,) = [k for k in (NO_JUDGEMENT, NO_IDENTIFIER, NO_RESULTS) if k in warning]
    return found


@pytest.mark.parametrize(
    ("what", "left"),
    [
        ("risk of bias: not assessed", [NO_IDENTIFIER]),
        ("RoB 2 judgement not reported", [NO_IDENTIFIER]),
        ("PMID: none found", [NO_JUDGEMENT]),
        ("outcome rows not yet extracted", [NO_JUDGEMENT, NO_IDENTIFIER]),
    ],
)
def test_a_logged_gap_silences_what_it_names_and_the_missing_results(what, left):
    """A judgement or an identifier is silenced by a gap naming it; results by any gap of the
    trial (the gap says why its numbers are not there)."""
    bare = package(
        studies=[{"study_id": "Ames2020", "pmid": None, "registration": None, "design": "x"}],
        risk_of_bias=[],
        outcomes=[],
    )
    before = completeness_warnings(bare)
    assert [kind(w) for w in before] == [NO_JUDGEMENT, NO_IDENTIFIER, NO_RESULTS, NO_RESULTS]
    gaps = table([{"study_id": "Ames2020", "what": what}], ["study_id", "what"])
    after = completeness_warnings({**bare, "extraction_gaps": gaps})
    assert [kind(w) for w in after] == left


def test_a_placeholder_cell_is_located_to_its_file_row_and_column():
    tables = package(
        screening=[
            {"candidate_id": "Ames2020", "decision": "include", "found_in": f"{PLACEHOLDER}: where"}
        ],
        sources=[
            {"source_id": "ames2020", "citation": "Ames A. A trial. 2020"},
            {"source_id": "bell2021", "citation": f"{PLACEHOLDER} citation"},
        ],
    )
    assert completeness_warnings(tables) == [
        "Ames2020: screening.csv row 1, column found_in: still a placeholder",
        "sources.csv row 2, column citation: still a placeholder",
    ]


def test_a_placeholder_must_start_the_cell():
    tables = package(
        sources=[{"source_id": "ames2020", "citation": f"Ames A. {PLACEHOLDER}. 2020"}]
    )
    assert completeness_warnings(tables) == []
