"""The validator on small in-memory packages, and the descriptor's completeness."""

from __future__ import annotations

import copy
import csv
import io

import pytest

from conftest import REPO
from ketamine_meta.evidence.datapackage import (
    CANONICAL_SCHEMA,
    DataPackageError,
    parse_csv_text,
    validate_package,
)
from ketamine_meta.evidence.package_files import read_canonical_schema

CANONICAL = read_canonical_schema(REPO / CANONICAL_SCHEMA)


def table_text(header: list[str], rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


@pytest.fixture
def small_package(descriptor):
    """One trial, two arms, one outcome per arm, one source: valid."""
    fields = {
        r["name"]: [f["name"] for f in r["schema"]["fields"]] for r in descriptor["resources"]
    }
    src = {"source_id": "s1", "locator": "Table 2"}
    texts = {
        "studies.csv": table_text(
            fields["studies"],
            [
                {
                    "study_id": "Doe2020",
                    "title": "T",
                    "year": "2020",
                    "design": "parallel",
                    "population": "TRD",
                    "setting": "standard",
                    **src,
                }
            ],
        ),
        "arms.csv": table_text(
            fields["arms"],
            [
                {
                    "study_id": "Doe2020",
                    "arm_id": "ket",
                    "drug": "racemic_ketamine",
                    "route": "IV",
                    "dose": "0.5",
                    "dose_unit": "mg_per_kg",
                    **src,
                },
                {
                    "study_id": "Doe2020",
                    "arm_id": "pbo",
                    "drug": "saline_placebo",
                    "route": "IV",
                    **src,
                },
            ],
        ),
        "outcomes.csv": table_text(
            fields["outcomes"],
            [
                {
                    "study_id": "Doe2020",
                    "arm_id": arm,
                    "outcome": "response",
                    "scale": "MADRS",
                    "timepoint_h": "24",
                    "n": "20",
                    "events": ev,
                    "data_basis": "primary",
                    **src,
                }
                for arm, ev in (("ket", "10"), ("pbo", "2"))
            ],
        ),
        "sources.csv": table_text(
            fields["sources"],
            [
                {
                    "source_id": "s1",
                    "citation": "Doe 2020",
                    "url": "https://example.org/doe",
                    "source_kind": "journal",
                }
            ],
        ),
    }
    # Every other table of the package, empty.
    for resource in descriptor["resources"]:
        texts.setdefault(resource["path"], table_text(fields[resource["name"]], []))
    return texts


def problems_of(descriptor, texts) -> list:
    with pytest.raises(DataPackageError) as info:
        validate_package(descriptor, texts, CANONICAL)
    return info.value.problems


def test_small_package_is_valid(descriptor, small_package):
    tables = validate_package(descriptor, small_package, CANONICAL)
    assert tables["outcomes"]["events"].tolist() == [10, 2]


def test_every_problem_is_reported_not_just_the_first(descriptor, small_package):
    texts = dict(small_package)
    texts["arms.csv"] = texts["arms.csv"].replace(",IV,", ",XX,", 2)
    texts["outcomes.csv"] = texts["outcomes.csv"].replace(",10,", ",99,")
    found = problems_of(descriptor, texts)
    assert {(p.file, p.column) for p in found} == {
        ("arms.csv", "route"),
        ("outcomes.csv", "events"),
    }
    assert len(found) == 3


def test_unknown_column_and_missing_column(descriptor, small_package):
    texts = dict(small_package)
    texts["sources.csv"] = texts["sources.csv"].replace("citation", "citaton", 1)
    columns = {p.column for p in problems_of(descriptor, texts)}
    assert {"citaton", "citation"} <= columns


def test_score_row_needs_the_spread_its_sd_source_names(descriptor, small_package):
    texts = dict(small_package)
    outcomes = next(r for r in descriptor["resources"] if r["name"] == "outcomes")
    fields = [f["name"] for f in outcomes["schema"]["fields"]]
    texts["outcomes.csv"] += table_text(
        fields,
        [
            {
                "study_id": "Doe2020",
                "arm_id": "ket",
                "outcome": "depression_score",
                "scale": "MADRS",
                "timepoint_h": "24",
                "n": "20",
                "mean": "15",
                "sd_source": "from_se",
                "value_type": "endpoint",
                "data_basis": "primary",
                "source_id": "s1",
                "locator": "Table 2",
            }
        ],
    ).split("\n", 1)[1]
    (problem,) = problems_of(descriptor, texts)
    assert (problem.row, problem.column) == (3, "se")


def test_quoted_newline_keeps_row_and_line_apart():
    text = 'a,b\n"x\ny",1\nz,2,3\n'
    table, problems = parse_csv_text(text, "t.csv")
    assert list(table.frame.index) == [1]
    (problem,) = problems
    assert (problem.row, problem.line) == (2, 4)


def test_descriptor_documents_every_field(descriptor):
    for resource in descriptor["resources"]:
        assert resource.get("description"), resource["name"]
        for field in resource["schema"]["fields"]:
            assert field.get("description"), f"{resource['name']}.{field['name']}"
            assert field.get("type") in {"string", "integer", "number", "year"}
    assert descriptor["version"].count(".") == 2
    assert (REPO / "data/raw/CHANGELOG.md").read_text().count(descriptor["version"]) >= 1


def test_contrast_needs_a_coherent_spread(descriptor, small_package):
    contrasts = next(r for r in descriptor["resources"] if r["name"] == "contrasts")
    fields = [f["name"] for f in contrasts["schema"]["fields"]]
    base = {
        "study_id": "Doe2020",
        "arm_id_treat": "ket",
        "arm_id_ctrl": "pbo",
        "outcome": "depression_score",
        "scale": "MADRS",
        "timepoint_h": "24",
        "measure": "LSMD",
        "n_treat": "20",
        "n_ctrl": "20",
        "data_basis": "primary",
        "source_id": "s1",
        "locator": "Abstract",
    }
    texts = dict(small_package)
    texts["contrasts.csv"] = table_text(
        fields,
        [
            {**base, "estimate": "-3.8"},
            {**base, "timepoint_h": "4", "estimate": "3.8", "ci_low": "-6.5", "ci_high": "-1.1"},
        ],
    )
    found = {(p.row, p.column) for p in problems_of(descriptor, texts)}
    assert found == {(1, "se"), (2, "estimate")}


def test_a_descriptor_cannot_change_the_rules(descriptor, small_package):
    """A stricter vocabulary in the package's descriptor is refused, not applied: the rules
    are the canonical schema's (the package's own IV arms stay valid under them)."""
    strict = copy.deepcopy(descriptor)
    arms = next(r for r in strict["resources"] if r["name"] == "arms")
    next(f for f in arms["schema"]["fields"] if f["name"] == "route")["constraints"]["enum"] = [
        "IN"
    ]
    (problem,) = problems_of(strict, small_package)
    assert problem.file == "datapackage.json"
    assert str(problem) == (
        "datapackage.json: resources[1] 'arms' schema.fields[3] 'route': constraints.enum "
        "lacks 'IV', 'PO', 'SL', 'IM', 'SC' compared with the canonical schema "
        "(workflow/schemas/datapackage.schema.json)"
    )


def _fields_of(descriptor, name):
    resource = next(r for r in descriptor["resources"] if r["name"] == name)
    return [f["name"] for f in resource["schema"]["fields"]]


def test_relapse_rows_are_coherent(descriptor, small_package):
    base = {
        "study_id": "Doe2020",
        "arm_id": "ket",
        "regimen": "continued",
        "source_id": "s1",
        "locator": "Table 3",
    }
    texts = dict(small_package)
    texts["relapse.csv"] = table_text(
        _fields_of(descriptor, "relapse"),
        [
            {**base, "measure": "proportion_relapsed", "time_days": "84", "value": "0.4"},
            {**base, "measure": "proportion_relapsed", "time_days": "168", "value": "40"},
            {**base, "measure": "relapse_count", "n": "10", "events": "12"},
            {**base, "measure": "hazard_ratio", "value": "0.5", "ci_low": "0.6", "ci_high": "0.9"},
            {**base, "measure": "hazard_ratio", "arm_id_ctrl": "pbo", "value": "0.5"},
            {**base, "measure": "hazard_ratio", "arm_id_ctrl": "xyz", "value": "0.5"},
        ],
    )
    found = {(p.row, p.column) for p in problems_of(descriptor, texts)}
    assert found == {
        (2, "value"),
        (3, "events"),
        (4, "arm_id_ctrl"),
        (4, "value"),
        (6, "arm_id_ctrl"),
    }


def test_adverse_events_cannot_outnumber_the_arm(descriptor, small_package):
    base = {"study_id": "Doe2020", "arm_id": "ket", "source_id": "s1", "locator": "Table 2"}
    texts = dict(small_package)
    texts["adverse_events.csv"] = table_text(
        _fields_of(descriptor, "adverse_events"),
        [
            {**base, "event": "dissociation", "events": "5", "n": "20"},
            {**base, "event": "nausea", "events": "25", "n": "20"},
        ],
    )
    problems = problems_of(descriptor, texts)
    assert [(p.row, p.column, p.value) for p in problems] == [(2, "events", "25")]
    assert "events exceed n" in str(problems[0])


def test_risk_of_bias_vocabulary(descriptor, small_package):
    texts = dict(small_package)
    row = {
        "study_id": "Doe2020",
        "tool": "RoB1",
        "domain": "allocation_concealment",
        "source_id": "s1",
        "locator": "RoB table",
    }
    texts["risk_of_bias.csv"] = table_text(
        _fields_of(descriptor, "risk_of_bias"),
        [{**row, "judgement": "unclear"}, {**row, "domain": "blinding", "judgement": "low"}],
    )
    assert {(p.row, p.column) for p in problems_of(descriptor, texts)} == {(2, "domain")}
