"""A data package cannot change the rules it is checked by (issue 24).

Every package is validated against the project's canonical schema
(workflow/schemas/datapackage.schema.json); its own datapackage.json must state the same rules
and is refused, one line per difference, when it does not. Before, a descriptor could relax
a pattern, widen a type, name a resource ``../../raw/outcomes`` (which the validate stage
wrote to data/raw/outcomes.csv) or carry a pattern that backtracked for minutes.
"""

from __future__ import annotations

import copy
import json
import time

import pytest

from conftest import REPO, copy_repo, run_snakemake, tree_digest
from ketamine_meta.evidence.datapackage import (
    CANONICAL_SCHEMA,
    DataPackageError,
    descriptor_differences,
    validate_package,
)
from ketamine_meta.evidence.package_files import (
    read_canonical_schema,
    read_package_dir,
    source_tree_canonical_schema,
)
from ketamine_meta.evidence.package_source import PackageSourceError, parse_descriptor

CANONICAL = read_canonical_schema(REPO / CANONICAL_SCHEMA)
SAYS = "in the canonical schema (workflow/schemas/datapackage.schema.json)"


def differences(descriptor: object) -> list[str]:
    return [str(p) for p in descriptor_differences(descriptor, CANONICAL)]


def edited(descriptor: dict, edit) -> dict:
    changed = copy.deepcopy(descriptor)
    edit(changed)
    return changed


def field(descriptor: dict, resource: str, name: str) -> dict:
    fields = next(r for r in descriptor["resources"] if r["name"] == resource)["schema"]["fields"]
    return next(f for f in fields if f["name"] == name)


def test_the_repository_package_states_the_canonical_rules(descriptor):
    assert differences(descriptor) == []


def test_the_canonical_schema_holds_rules_only():
    """One copy of the rules, without the descriptor's documentation."""
    assert set(CANONICAL) == {"resources"}
    for resource in CANONICAL["resources"]:
        assert set(resource) == {"name", "path", "schema"}
        assert set(resource["schema"]) <= {"fields", "primaryKey", "foreignKeys", "missingValues"}
        for entry in resource["schema"]["fields"]:
            assert set(entry) <= {"name", "type", "format", "constraints"}


def test_the_command_line_finds_the_repository_copy():
    assert source_tree_canonical_schema() == REPO / CANONICAL_SCHEMA


def test_documentation_and_order_may_differ(descriptor):
    def rewrite(d):
        d.update(name="other", version="9.0.0", contributors=[{"title": "X"}], licenses=[])
        d["resources"].reverse()
        studies = next(r for r in d["resources"] if r["name"] == "studies")
        studies["title"] = "Trials"
        studies["schema"]["fields"].reverse()
        studies["schema"]["fields"][0].update(description="Other words.", example="x", unit="h")
        field(d, "outcomes", "sd")["constraints"]["exclusiveMinimum"] = 0.0

    assert differences(edited(descriptor, rewrite)) == []


def _set(resource: str, name: str, **values):
    return lambda d: field(d, resource, name).update(values)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda d: field(d, "studies", "study_id")["constraints"].update(pattern=".*"),
            [
                "resources[0] 'studies' schema.fields[0] 'study_id': constraints.pattern is '.*' "
                f"in the package but '[A-Z][A-Za-z]+[0-9]{{4}}[a-z]?' {SAYS}"
            ],
        ),
        (
            _set("outcomes", "sd", type="any"),
            [
                "resources[2] 'outcomes' schema.fields[7] 'sd': type is 'any' in the package but "
                f"'number' {SAYS}"
            ],
        ),
        (
            _set("outcomes", "sd", constraints={"minimum": 0}),
            [
                "resources[2] 'outcomes' schema.fields[7] 'sd': constraints.exclusiveMinimum is "
                f"absent in the package but 0 {SAYS}",
                "resources[2] 'outcomes' schema.fields[7] 'sd': constraints.minimum is 0 in the "
                f"package but absent {SAYS}",
            ],
        ),
        (
            lambda d: field(d, "studies", "study_id")["constraints"].update(required=1),
            [
                "resources[0] 'studies' schema.fields[0] 'study_id': constraints.required is 1 in "
                f"the package but true {SAYS}"
            ],
        ),
        (
            lambda d: d["resources"][5].update(path="relapse_v2.csv"),
            [
                "resources[5] 'relapse': path is 'relapse_v2.csv' in the package but "
                f"'relapse.csv' {SAYS}"
            ],
        ),
        (
            lambda d: d["resources"][4]["schema"]["foreignKeys"][0]["reference"].update(
                resource="studies"
            ),
            [
                "resources[4] 'adverse_events': schema.foreignKeys[0].reference.resource is "
                f"'studies' in the package but 'arms' {SAYS}"
            ],
        ),
        (
            lambda d: d["resources"][0]["schema"].update(uniqueKeys=[["title"]]),
            [
                "resources[0] 'studies': schema.uniqueKeys is a list of 1 in the package but "
                f"absent {SAYS}"
            ],
        ),
        (
            lambda d: d["resources"].pop(11),
            [
                "resources: resource 'claims' of the canonical schema "
                "(workflow/schemas/datapackage.schema.json) is missing from the package"
            ],
        ),
    ],
    ids=[
        "relaxed_pattern",
        "type_any",
        "exclusive_to_inclusive",
        "true_is_not_1",
        "other_path",
        "other_reference",
        "unknown_key",
        "missing_resource",
    ],
)
def test_each_difference_is_named_by_its_path(descriptor, edit, expected):
    assert differences(edited(descriptor, edit)) == [f"datapackage.json: {e}" for e in expected]


def test_a_resource_name_is_never_a_path(descriptor):
    found = differences(
        edited(descriptor, lambda d: d["resources"][2].update(name="../../raw/outcomes"))
    )
    assert len(found) == 2
    assert found[0].startswith(
        "datapackage.json: resources[2]: name '../../raw/outcomes' is not a resource of the "
        "canonical schema (workflow/schemas/datapackage.schema.json), which has: studies, arms, "
    )
    assert "resource 'outcomes' of the canonical schema" in found[1]


def test_duplicate_and_extra_resources_and_fields_are_refused(descriptor):
    def add(d):
        d["resources"].append(copy.deepcopy(d["resources"][1]))
        d["resources"].append({**d["resources"][0], "name": "notes"})
        d["resources"][0]["schema"]["fields"].append({"name": "title", "type": "string"})

    found = differences(edited(descriptor, add))
    assert found == [
        "datapackage.json: resources[0] 'studies' schema.fields[13] 'title': a second field "
        "named 'title' (the first is schema.fields[1]); each is listed once",
        "datapackage.json: resources[16] 'arms': a second resource named 'arms' (the first is "
        "resources[1]); each is listed once",
        found[2],
    ]
    assert found[2].startswith("datapackage.json: resources[17]: name 'notes' is not a resource")


DEEP = 500


def _deep(levels: int) -> list:
    value: list = []
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize(
    "hostile",
    [
        [],
        "x",
        {"resources": {}},
        {"resources": [5, None, "x"]},
        {"resources": [{"name": ["studies"]}, {"name": {"a": 1}}, {}]},
        {"resources": [{"name": "studies", "schema": "https://example.org/schema.json"}]},
        {"resources": [{"name": "studies", "path": 5, "schema": {"fields": {}}}]},
        {"resources": [{"name": "studies", "schema": {"fields": [5, [], {"name": None}]}}]},
        {"resources": [{"name": "studies", "schema": {"fields": [{"name": "study_id"}] * 3}}]},
        {
            "resources": [
                {
                    "name": "arms",
                    "schema": {
                        "fields": [{"name": "route", "constraints": {"enum": _deep(DEEP)}}],
                        "primaryKey": _deep(DEEP),
                        "foreignKeys": [_deep(DEEP), {"reference": _deep(DEEP)}],
                    },
                }
            ]
        },
    ],
)
def test_any_json_value_is_refused_in_one_line_per_difference(hostile):
    found = differences(hostile)
    assert found
    assert all(line.startswith("datapackage.json: ") and "\n" not in line for line in found)


def test_a_descriptor_nested_ten_thousand_deep_is_refused_in_one_line():
    text = '{"resources": ' + "[" * 10_000 + "]" * 10_000 + "}"
    with pytest.raises(PackageSourceError) as info:
        parse_descriptor(text, "pkg")
    assert str(info.value) == (
        "pkg: datapackage.json: arrays or objects nested too deeply to read; a descriptor is a "
        "few levels deep"
    )


def test_a_key_given_twice_is_refused():
    with pytest.raises(PackageSourceError, match="key 'pattern' appears twice in one object"):
        parse_descriptor('{"resources": [{"path": "a.csv", "pattern": 1, "pattern": 2}]}', "")


def test_a_catastrophic_pattern_is_refused_quickly(descriptor):
    """(a+)+b on 34 a's ran for more than 300 s; the descriptor's pattern is never used."""
    _, texts = read_package_dir(REPO / "data" / "raw")
    hostile = edited(
        descriptor,
        lambda d: field(d, "studies", "study_id")["constraints"].update(pattern="(a+)+b"),
    )
    first_id = texts["studies.csv"].split("\n")[1].split(",")[0]
    texts = {**texts, "studies.csv": texts["studies.csv"].replace(first_id, "a" * 34, 1)}
    start = time.monotonic()
    with pytest.raises(DataPackageError) as info:
        validate_package(hostile, texts, CANONICAL)
    assert time.monotonic() - start < 5
    assert [p.file for p in info.value.problems] == ["datapackage.json"]
    assert "constraints.pattern is '(a+)+b' in the package" in str(info.value)


def test_the_canonical_schema_must_name_resources_plainly(tmp_path):
    bad = copy.deepcopy(CANONICAL)
    bad["resources"][2]["name"] = "../../raw/outcomes"
    path = tmp_path / "datapackage.schema.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(PackageSourceError, match="unique plain-identifier name"):
        read_canonical_schema(path)
    with pytest.raises(PackageSourceError, match="no such file: the canonical schema"):
        read_canonical_schema(tmp_path / "absent.json")


@pytest.mark.pipeline
def test_the_workflow_refuses_a_descriptor_that_changes_the_rules(tmp_path):
    """A resource named ../../raw/outcomes once made validate overwrite data/raw/outcomes.csv
    and exit 0; with a relaxed pattern beside it, both differences are named and nothing is
    written."""
    repo = copy_repo(tmp_path / "repo")
    path = repo / "data/raw/datapackage.json"
    data = json.loads(path.read_text())
    data["resources"][2]["name"] = "../../raw/outcomes"
    field(data, "studies", "study_id")["constraints"]["pattern"] = ".*"
    path.write_text(json.dumps(data, indent=2))
    raw_before, results_before = tree_digest(repo / "data/raw"), tree_digest(repo / "results")

    result = run_snakemake(repo)

    message = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in message, message[-3000:]
    assert "resources[2]: name '../../raw/outcomes' is not a resource of the canonical" in message
    assert "'study_id': constraints.pattern is '.*' in the package" in message
    assert tree_digest(repo / "data/raw") == raw_before
    assert tree_digest(repo / "results") == results_before
    assert not (repo / "data/processed/validated").exists()


def test_a_million_differences_are_cut_short():
    start = time.monotonic()
    found = differences({"resources": [5] * 1_000_000})
    assert time.monotonic() - start < 5
    assert len(found) == 201
    assert found[0] == "datapackage.json: resources[0]: is 5, not an object"
    assert found[-1] == "datapackage.json: more than 200 differences; the rest are not listed"
