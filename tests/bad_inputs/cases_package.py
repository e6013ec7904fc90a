"""Bad-input classes of the package area (issue 24); the builders are those of cases.py.

A package's descriptor cannot change the rules it is checked by (the canonical schema,
workflow/schemas/datapackage.schema.json), no file is read through a link, and cells that
look alike but differ (leading whitespace before a formula, non-ASCII digits, invisible
characters, keys differing only in case or Unicode form) are refused.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

from bad_inputs.cases import VALIDATE, Case, cell, chain, descriptor, write

#: The live package's trials, counted as the case is built (the corpus runs on a copy of it).
STUDIES_CSV = Path(__file__).resolve().parents[2] / "data" / "raw" / "studies.csv"
STUDY_ROWS = len(list(csv.DictReader(io.StringIO(STUDIES_CSV.read_text(encoding="utf-8")))))

CANONICAL = "the canonical schema (workflow/schemas/datapackage.schema.json)"


def field(resource: str, name: str, edit: Callable[[dict], None]) -> Callable[[Path], None]:
    """Edit one field of the package copy's descriptor."""

    def change(data: dict) -> None:
        fields = next(r for r in data["resources"] if r["name"] == resource)["schema"]["fields"]
        edit(next(f for f in fields if f["name"] == name))

    return descriptor(change)


def schema(resource: str, edit: Callable[[dict], None]) -> Callable[[Path], None]:
    """Edit one resource's schema in the package copy's descriptor."""
    return descriptor(lambda d: edit(next(r for r in d["resources"] if r["name"] == resource)))


def linked_table(table: str) -> Callable[[Path], None]:
    """Replace a table by a link to a file outside the package."""

    def build(tmp: Path) -> None:
        outside = tmp / "outside.txt"
        outside.write_text("SECRET first line\n")
        (tmp / "pkg" / table).unlink()
        (tmp / "pkg" / table).symlink_to(outside)

    return build


def _documentation_only(data: dict) -> None:
    data.update(name="renamed", version="9.9.9", contributors=[{"title": "Someone"}])
    data["resources"][0]["title"] = "Another title"
    data["resources"][0]["schema"]["fields"][0]["description"] = "Reworded."
    data["resources"][0]["schema"]["fields"][1]["example"] = "An example"


NESTED_TOO_DEEP = '{"resources": ' + "[" * 10_000 + "]" * 10_000 + "}"

CASES: list[Case] = [
    # The descriptor states rules that differ from the canonical schema.
    Case(
        "canonical_relaxed_pattern",
        "a descriptor relaxing a pattern",
        VALIDATE,
        1,
        [
            "datapackage.json: resources[0] 'studies' schema.fields[0] 'study_id': "
            f"constraints.pattern is '.*' in the package but '[A-Z][A-Za-z]+[0-9]{{4}}[a-z]?' "
            f"in {CANONICAL}"
        ],
        field("studies", "study_id", lambda f: f["constraints"].update(pattern=".*")),
    ),
    Case(
        "canonical_type_any",
        'a descriptor widening a type to "any"',
        VALIDATE,
        1,
        ["resources[2] 'outcomes' schema.fields[7] 'sd': type is 'any' in the package but "],
        field("outcomes", "sd", lambda f: f.update(type="any")),
    ),
    Case(
        "canonical_changed_constraint",
        "a descriptor turning an exclusive minimum into an inclusive one",
        VALIDATE,
        1,
        [
            "'sd': constraints.exclusiveMinimum is absent in the package but 0 in",
            "'sd': constraints.minimum is 0 in the package but absent in",
        ],
        field("outcomes", "sd", lambda f: f.update(constraints={"minimum": 0})),
    ),
    Case(
        "canonical_new_field",
        "a descriptor adding a field",
        VALIDATE,
        1,
        ["resources[0] 'studies' schema.fields[13]: name 'extra' is not a field of the canonical"],
        schema("studies", lambda r: r["schema"]["fields"].append({"name": "extra"})),
    ),
    Case(
        "canonical_missing_field",
        "a descriptor dropping a field",
        VALIDATE,
        1,
        ["resources[0] 'studies': schema.fields: field 'note' of the canonical schema", "missing"],
        schema("studies", lambda r: r["schema"]["fields"].pop()),
    ),
    Case(
        "canonical_name_as_path",
        "a resource named ../../raw/outcomes (once written to data/raw/outcomes.csv)",
        VALIDATE,
        1,
        [
            "resources[2]: name '../../raw/outcomes' is not a resource of the canonical schema",
            "resource 'outcomes' of the canonical schema",
        ],
        descriptor(lambda d: d["resources"][2].update(name="../../raw/outcomes")),
    ),
    Case(
        "canonical_duplicate_resource",
        "a resource listed twice",
        VALIDATE,
        1,
        ["resources[16] 'studies': a second resource named 'studies' (the first is resources[0])"],
        descriptor(lambda d: d["resources"].append(d["resources"][0])),
    ),
    Case(
        "canonical_extra_resource",
        "a resource the canonical schema does not have",
        VALIDATE,
        1,
        ["resources[16]: name 'notes' is not a resource of the canonical schema"],
        descriptor(lambda d: d["resources"].append({**d["resources"][0], "name": "notes"})),
    ),
    Case(
        "canonical_other_path",
        "a resource moved to another file",
        VALIDATE,
        1,
        ["resources[5] 'relapse': path is 'relapse_v2.csv' in the package but 'relapse.csv' in"],
        descriptor(lambda d: d["resources"][5].update(path="relapse_v2.csv")),
    ),
    Case(
        "canonical_changed_key",
        "a primary key narrowed to one column",
        VALIDATE,
        1,
        ["resources[1] 'arms': schema.primaryKey lacks 'study_id' compared with"],
        schema("arms", lambda r: r["schema"].update(primaryKey=["arm_id"])),
    ),
    Case(
        "canonical_unknown_rule_key",
        "a Table Schema key the canonical schema does not use (bareNumber)",
        VALIDATE,
        1,
        ["'n': bareNumber is false in the package but absent in"],
        field("outcomes", "n", lambda f: f.update(bareNumber=False)),
    ),
    Case(
        "canonical_wrong_json_types",
        'constraints "x", a pattern 5 and fields {}',
        VALIDATE,
        1,
        [
            "'study_id': constraints is 'x' in the package but an object in",
            "'arm_id': constraints.pattern is 5 in the package but '[A-Za-z][A-Za-z0-9_]*' in",
            "resources[2] 'outcomes': schema.fields is an object in the package but a list",
        ],
        chain(
            field("studies", "study_id", lambda f: f.update(constraints="x")),
            field("arms", "arm_id", lambda f: f["constraints"].update(pattern=5)),
            schema("outcomes", lambda r: r["schema"].update(fields={})),
        ),
    ),
    Case(
        "canonical_catastrophic_pattern",
        "a pattern (a+)+b that backtracks for minutes on a cell of 34 a's (never compiled)",
        VALIDATE,
        1,
        ["'study_id': constraints.pattern is '(a+)+b' in the package"],
        chain(
            field("studies", "study_id", lambda f: f["constraints"].update(pattern="(a+)+b")),
            cell("studies.csv", 1, "study_id", "a" * 34),
        ),
    ),
    Case(
        "canonical_documentation_differs",
        "a descriptor whose titles, descriptions, examples and version differ (passes)",
        VALIDATE,
        0,
        [f"studies: {STUDY_ROWS} rows valid"],
        descriptor(_documentation_only),
    ),
    Case(
        "descriptor_nested_too_deeply",
        "a descriptor nested 10,000 levels deep",
        VALIDATE,
        2,
        ["datapackage.json", "nested too deeply"],
        write("pkg/datapackage.json", NESTED_TOO_DEEP),
    ),
    Case(
        "descriptor_repeated_key",
        "a descriptor with a key twice in one object",
        VALIDATE,
        2,
        ["datapackage.json", "key 'resources' appears twice"],
        write("pkg/datapackage.json", '{"resources": [], "resources": []}'),
    ),
    # Files read through a link.
    Case(
        "table_is_a_link",
        "a table that is a symbolic link to a file outside the package",
        VALIDATE,
        2,
        ["pkg/studies.csv: is a symbolic link", "nothing was read from it"],
        linked_table("studies.csv"),
    ),
    # Cells that look like something else.
    Case(
        "formula_after_space",
        "a formula behind a leading space",
        VALIDATE,
        1,
        ["studies.csv", "row 1", "column 'locator'", "text starting with '='", "formula"],
        cell("studies.csv", 1, "locator", ' =HYPERLINK("http://x","y")'),
    ),
    Case(
        "formula_after_newline",
        "a formula behind a leading line break (shown escaped, on one line)",
        VALIDATE,
        1,
        ["arms.csv", "row 1", "column 'note'", "value '\\n=1+1'", "formula"],
        cell("arms.csv", 1, "note", "\n=1+1"),
    ),
    Case(
        "formula_after_no_break_space",
        "a formula behind a leading no-break space",
        VALIDATE,
        1,
        ["sources.csv", "row 1", "column 'citation'", "value '\\xa0@SUM(1)'", "formula"],
        cell("sources.csv", 1, "citation", "\u00a0@SUM(1)"),
    ),
    Case(
        "number_in_arabic_indic_digits",
        "an integer written in Arabic-Indic digits",
        VALIDATE,
        1,
        ["arms.csv", "row 3", "column 'n_randomized'", "U+0661", "not an ASCII digit"],
        cell("arms.csv", 3, "n_randomized", "\u0661\u0668"),
    ),
    Case(
        "number_with_underscore",
        "a number with an underscore (Python reads 1_2.6 as 12.6)",
        VALIDATE,
        1,
        ["outcomes.csv", "row 3", "column 'mean'", "value '1_2.6'", "not a number"],
        cell("outcomes.csv", 3, "mean", "1_2.6"),
    ),
    Case(
        "invisible_character",
        "a zero-width space in a text cell",
        VALIDATE,
        1,
        ["studies.csv", "row 1", "column 'country'", "invisible character U+200B"],
        cell("studies.csv", 1, "country", "USA\u200b"),
    ),
    Case(
        "key_differs_only_in_case",
        "two arms of one trial whose ids differ only in letter case",
        VALIDATE,
        1,
        [
            "arms.csv, row 2 (line 3), column 'study_id, arm_id', value 'Murrough2013 | KET05'",
            "primary key collides with row 1 ('Murrough2013 | ket05')",
        ],
        cell("arms.csv", 2, "arm_id", "KET05"),
    ),
    Case(
        "key_differs_only_in_unicode_form",
        "two adverse events whose names differ only in full-width letters",
        VALIDATE,
        1,
        ["adverse_events.csv", "row 3", "primary key collides with row 1"],
        cell("adverse_events.csv", 3, "event", "\uff44\uff45\uff52\uff45\uff41lization"),
    ),
    Case(
        "exclusive_maximum",
        "a 100 % confidence level (exclusiveMaximum 1, unchecked before)",
        VALIDATE,
        1,
        ["relapse.csv", "row 5", "column 'ci_level'", "must be less than 1"],
        cell("relapse.csv", 5, "ci_level", "1"),
    ),
]
