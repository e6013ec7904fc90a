"""The data package against frictionless, the reference Data Package v2 implementation.

The project's validator (``ketamine_meta.evidence.datapackage``) implements the Table Schema
checks itself so that every message names file, row, column and value, and adds the
cross-field rules Table Schema cannot express. These tests hold its generic checks to
frictionless: the committed package must be valid for both, and each generic corruption of
the bad-input corpus must be reported by frictionless too, with the same error class at the
same row and field.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from bad_inputs.cases import CASES
from frictionless import validate

PACKAGE = Path(__file__).resolve().parents[1] / "data" / "raw"

# Corpus case -> (frictionless error type, table, 1-based data row, field). Only the classes
# Table Schema itself defines; the project's cross-field rules (events > n, relapse shares)
# have no frictionless counterpart.
GENERIC_CASES = {
    "unknown_enum": ("constraint-error", "arms", 1, "route"),
    "bad_data_basis": ("constraint-error", "outcomes", 1, "data_basis"),
    "required_empty": ("constraint-error", "studies", 1, "setting"),
    "non_integer": ("type-error", "arms", 3, "n_randomized"),
    "bad_year": ("type-error", "studies", 1, "year"),
    "negative_sd": ("constraint-error", "outcomes", 3, "sd"),
    "duplicate_key": ("primary-key", "studies", 2, None),
    "foreign_key": ("foreign-key", "studies", 1, None),
}


def _errors(report) -> list[tuple[str, str, int, str | None]]:
    """(type, resource name, 1-based data row, field) of every error in a report."""
    found = []
    for task in report.tasks:
        for error in task.errors:
            row = getattr(error, "row_number", None)
            found.append(
                (
                    error.type,
                    task.name,
                    row - 1 if row else None,  # frictionless counts the header as row 1
                    getattr(error, "field_name", None),
                )
            )
    return found


def test_descriptor_declares_data_package_v2():
    descriptor = json.loads((PACKAGE / "datapackage.json").read_text(encoding="utf-8"))
    assert descriptor["$schema"] == "https://datapackage.org/profiles/2.0/datapackage.json"
    assert "profile" not in descriptor
    assert {r["type"] for r in descriptor["resources"]} == {"table"}


def test_frictionless_accepts_the_package():
    report = validate(PACKAGE / "datapackage.json")
    assert _errors(report) == []
    assert report.valid
    assert len(report.tasks) == len(
        json.loads((PACKAGE / "datapackage.json").read_text(encoding="utf-8"))["resources"]
    )


def test_generic_cases_cover_every_table_schema_class_in_the_corpus():
    """A new Table Schema class in the corpus must be added here to be cross-checked."""
    corpus_ids = {case.id for case in CASES}
    assert set(GENERIC_CASES) <= corpus_ids


@pytest.mark.parametrize("case_id", sorted(GENERIC_CASES))
def test_frictionless_reports_the_same_generic_error(case_id, tmp_path):
    case = next(c for c in CASES if c.id == case_id)
    shutil.copytree(PACKAGE, tmp_path / "pkg")
    case.build(tmp_path)
    error_type, table, row, field = GENERIC_CASES[case_id]

    found = _errors(validate(tmp_path / "pkg" / "datapackage.json"))

    assert (error_type, table, row, field) in found, found
