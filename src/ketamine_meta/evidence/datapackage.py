"""Parse and validate the extracted-trial data package against the project's canonical schema.

The rules are those of the canonical descriptor (:data:`CANONICAL_SCHEMA`), which follows the
Frictionless Data Package and Table Schema specifications: per field a ``type`` and
``constraints`` (``required``, ``unique``, ``enum``, ``minimum``, ``exclusiveMinimum``,
``maximum``, ``exclusiveMaximum``, ``pattern``), per table a ``primaryKey`` and ``foreignKeys``.
A package's own ``datapackage.json`` must state the same rules (:func:`descriptor_differences`)
but is never the source of them. On top of the schema, :func:`cross_field_problems` checks
rules no schema can state (responders cannot exceed n, a spread must accompany a mean, ...).

Every problem names the file, the data row (1-based, header excluded), the file line, the column
and the offending value, so that a reviewer can open the CSV at that line.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

import pandas as pd

#: How many problems an error message lists before summarising the rest.
MAX_LISTED_PROBLEMS = 40


@dataclass(frozen=True)
class Problem:
    """One validation failure, located to the cell.

    ``row`` is the 1-based data row (the header is row 0) and ``line`` the 1-based line of the
    file, which differ when a quoted field spans lines.
    """

    file: str
    row: int | None
    line: int | None
    column: str | None
    value: str | None
    message: str

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}" + (f" (line {self.line})" if self.line else ""))
        if self.column is not None:
            where.append(f"column '{self.column}'")
        if self.value is not None:
            where.append(f"value '{self.value}'")
        return printable(", ".join(where) + f": {self.message}")


def printable(text: str) -> str:
    r"""``text`` with every unprintable character escaped (``\n``, ``\u200b``, ``\xa0``).

    A problem is one line, and a character a reader cannot see is shown by its code.
    """
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )


class DataPackageError(ValueError):
    """Raised when the data package fails validation; carries every :class:`Problem`."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        listed = "\n".join(f"  - {p}" for p in problems[:MAX_LISTED_PROBLEMS])
        more = len(problems) - MAX_LISTED_PROBLEMS
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(f"data package is invalid ({len(problems)} problem(s)):\n{listed}{tail}")


@dataclass(frozen=True)
class ParsedTable:
    """A CSV read as strings (index: data-row number), and the line each data row starts on."""

    file: str
    frame: pd.DataFrame
    lines: dict[int, int]


def parse_csv_text(text: str, file: str) -> tuple[ParsedTable, list[Problem]]:
    """Parse CSV text into a table of strings, reporting ragged or truncated rows.

    Parameters
    ----------
    text : str
        The file's content.
    file : str
        The file name used in problems.

    Returns
    -------
    ParsedTable, list of Problem
        The rows that have exactly as many fields as the header, and a problem for every row
        that does not (a truncated file ends in such a row) or that the CSV reader rejects.
    """
    problems: list[Problem] = []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return ParsedTable(file, pd.DataFrame(), {}), [
            Problem(file, None, 1, None, None, "the file is empty: no header row")
        ]
    header = [h.strip() for h in header]
    header_problem = _header_problem(header, file)
    if header_problem:
        return ParsedTable(file, pd.DataFrame(), {}), [header_problem]
    rows: list[list[str]] = []
    numbers: list[int] = []
    lines: dict[int, int] = {}
    row_number = 0
    while True:
        start_line = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(_unreadable_row(text, header, file, row_number + 1, start_line, exc))
            break
        row_number += 1
        if not fields or fields == [""]:
            continue
        if len(fields) != len(header):
            column = header[len(fields)] if len(fields) < len(header) else None
            problems.append(
                Problem(
                    file,
                    row_number,
                    start_line,
                    column,
                    None,
                    f"row has {len(fields)} fields but the header has {len(header)}"
                    + (" (truncated row?)" if len(fields) < len(header) else ""),
                )
            )
            continue
        rows.append(fields)
        numbers.append(row_number)
        lines[row_number] = start_line
    # The index is the data-row number, kept even where a ragged row was dropped.
    frame = pd.DataFrame(rows, columns=header, index=numbers, dtype="string").fillna("")
    return ParsedTable(file, frame, lines), problems


def _header_problem(header: list[str], file: str) -> Problem | None:
    """A header that cannot be read column by column: a repeated name, or another delimiter."""
    if len(header) == 1 and ";" in header[0]:
        return Problem(
            file,
            0,
            1,
            None,
            header[0][:60],
            "the header is one column containing ';': the file looks semicolon-delimited; "
            "tables must be comma-separated",
        )
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        return Problem(file, 0, 1, repeated[0], None, "column name appears twice in the header")
    return None


#: First characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection).
FORMULA_START = re.compile(r"^[=+\-@\t\r]")
#: A signed plain number in ASCII digits, the only form a number cell may take (Python's
#: ``float`` would also read ``1_6.5``, Arabic-Indic digits and ``inf``); spreadsheets read it as a
#: number whatever its first character.
PLAIN_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
PLAIN_INTEGER = re.compile(r"[+-]?[0-9]+")
PLAIN_YEAR = re.compile(r"[0-9]{4}")


def formula_problem(value: str) -> str | None:
    """Why a text cell is refused as a possible spreadsheet formula, or None.

    A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return and is not
    a plain number would run as a formula when a reviewer opens a results CSV in a
    spreadsheet (OWASP "CSV Injection"); the package refuses it rather than rewriting it.
    """
    if FORMULA_START.match(value) and not PLAIN_NUMBER.fullmatch(value):
        return (
            f"text starting with {value[0]!r} is refused: a spreadsheet would run it as a "
            "formula (OWASP CSV injection)"
        )
    return None


def _unreadable_row(
    text: str, header: list[str], file: str, row: int, line: int, exc: csv.Error
) -> Problem:
    """Describe a row the CSV reader gave up on, typically a file cut inside a quoted field.

    Closing the open quote lets the row be split, which shows the column it stopped in.
    """
    rest = "\n".join(text.splitlines()[line - 1 :])
    try:
        fields = next(csv.reader(io.StringIO(rest + '"', newline="")))
    except (csv.Error, StopIteration):
        fields = []
    column = header[len(fields) - 1] if 0 < len(fields) <= len(header) else None
    value = fields[-1] if fields else None
    hint = " (truncated row?)" if "end of data" in str(exc) else ""
    return Problem(file, row, line, column, value, f"unreadable CSV: {exc}{hint}")


def _cast(value: str, field_type: str) -> object:
    """``value`` as its field type; a number is plain ASCII (:data:`PLAIN_NUMBER`) or refused."""
    if field_type not in ("integer", "number", "year"):
        return value
    foreign = next((c for c in value if c.isdigit() and not c.isascii()), None)
    if foreign:
        raise ValueError(f"the digit '{foreign}' (U+{ord(foreign):04X}) is not an ASCII digit 0-9")
    if field_type == "integer":
        if not PLAIN_INTEGER.fullmatch(value):
            raise ValueError("not an integer")
        return int(value)
    if field_type == "year":
        if not PLAIN_YEAR.fullmatch(value):
            raise ValueError("not a four-digit year")
        return int(value)
    if not PLAIN_NUMBER.fullmatch(value):
        raise ValueError("not a number")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError("not a finite number")
    return number


def invisible_character_problem(value: str) -> str | None:
    """Why a cell holding an invisible format character (Unicode category Cf) is refused.

    A zero-width space or joiner, a direction mark or a byte-order mark makes two values that
    look the same differ (``Daly2018`` and ``Daly2018`` followed by U+200B), so a key could
    be repeated unseen or a reference fail for no visible reason.
    """
    hidden = next((c for c in value if unicodedata.category(c) == "Cf"), None)
    if hidden is None:
        return None
    name = unicodedata.name(hidden, "format character")
    return f"invisible character U+{ord(hidden):04X} ({name}): retype the value without it"


def _constraint_problem(value: object, constraints: Mapping) -> str | None:
    if "enum" in constraints and value not in constraints["enum"]:
        return f"not one of the allowed values {constraints['enum']}"
    if "minimum" in constraints and value < constraints["minimum"]:
        return f"below the minimum {constraints['minimum']}"
    if "exclusiveMinimum" in constraints and value <= constraints["exclusiveMinimum"]:
        return f"must be greater than {constraints['exclusiveMinimum']}"
    if "maximum" in constraints and value > constraints["maximum"]:
        return f"above the maximum {constraints['maximum']}"
    if "exclusiveMaximum" in constraints and value >= constraints["exclusiveMaximum"]:
        return f"must be less than {constraints['exclusiveMaximum']}"
    if "pattern" in constraints and not re.fullmatch(constraints["pattern"], str(value)):
        return f"does not match the pattern {constraints['pattern']}"
    return None


def _row_line(table: ParsedTable, row: int) -> int | None:
    return 1 if row == 0 else table.lines.get(row)


def validate_table(
    table: ParsedTable, schema: Mapping, keys: Iterable[list[str]] = ()
) -> tuple[pd.DataFrame, list[Problem]]:
    """Check one table against its Table Schema and return it with typed columns.

    Checks the header (every schema field present, no unknown column), each cell
    (:func:`_typed_cell`), and that no two rows share a value of the primary key or of any of
    ``keys`` (:func:`_key_problems`). Empty cells are missing values (NA).
    """
    problems: list[Problem] = []
    fields = {f["name"]: f for f in schema["fields"]}
    frame = table.frame
    for column in frame.columns:
        if column not in fields:
            problems.append(
                Problem(table.file, 0, 1, column, None, "column is not in the table schema")
            )
    typed: dict[str, list] = {}
    for name, field in fields.items():
        if name not in frame.columns:
            problems.append(
                Problem(table.file, 0, 1, name, None, "required column is missing from the header")
            )
            continue
        values: list = []
        for row, raw in frame[name].items():
            value, message = _typed_cell(raw, field)
            values.append(value)
            if message:
                problems.append(Problem(table.file, row, _row_line(table, row), name, raw, message))
        typed[name] = values
    out = pd.DataFrame(typed, index=frame.index)
    out = out.astype(
        {n: _pandas_dtype(f.get("type", "string")) for n, f in fields.items() if n in out}
    )
    primary_key = _as_list(schema.get("primaryKey"))
    for key in _distinct([primary_key, *keys]):
        problems += _key_problems(table, out, key, "primary key" if key == primary_key else "key")
    return out, problems


def _typed_cell(raw: str, field: Mapping) -> tuple[object, str | None]:
    """A cell's typed value (NA if empty or unreadable) and why it is refused, if it is.

    The value checked is the value kept: the cell without surrounding whitespace, so that
    `` =HYPERLINK(...)`` is refused as a formula like ``=HYPERLINK(...)``.
    """
    cell = raw.strip()
    constraints = field.get("constraints", {})
    if cell == "":
        return pd.NA, "value is required" if constraints.get("required") else None
    hidden = invisible_character_problem(cell)
    if hidden:
        return pd.NA, hidden
    field_type = field.get("type", "string")
    try:
        value = _cast(cell, field_type)
    except ValueError as exc:
        return pd.NA, f"{exc} (expected {field_type})"
    message = _constraint_problem(value, constraints)
    if field_type == "string":
        message = message or formula_problem(cell)
    return value, message


def _pandas_dtype(field_type: str) -> str:
    return {"integer": "Int64", "year": "Int64", "number": "Float64"}.get(field_type, "string")


def _as_list(key: str | list[str] | None) -> list[str]:
    if key is None:
        return []
    return [key] if isinstance(key, str) else list(key)


def _distinct(keys: Iterable[list[str]]) -> list[list[str]]:
    """The non-empty keys, each once, in order."""
    distinct: list[list[str]] = []
    for key in keys:
        if key and key not in distinct:
            distinct.append(key)
    return distinct


def folded(value: object) -> object:
    """A key value as compared for collisions: text case-folded under NFKC, others as they are.

    ``Daly2018``, ``daly2018`` and ``Daly2018`` in full-width letters fold alike.
    """
    if not isinstance(value, str):
        return value
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())


def _key_problems(
    table: ParsedTable, frame: pd.DataFrame, key: list[str], label: str
) -> list[Problem]:
    """Rows whose ``key`` repeats an earlier row's, exactly or up to case and Unicode form.

    Keys that differ only in letter case or Unicode normalization look alike to a reader and
    to case-insensitive tools (a spreadsheet's lookup, a file system), so they are refused as
    a collision; the problem names the earlier row and its value.
    """
    if not set(key) <= set(frame.columns):
        return []
    problems: list[Problem] = []
    first: dict[tuple, tuple[int, tuple]] = {}
    for row, values in zip(frame.index, frame[key].itertuples(index=False, name=None), strict=True):
        earlier = first.setdefault(tuple(folded(v) for v in values), (row, values))
        if earlier[0] == row:
            continue
        shown = " | ".join(str(v) for v in values)
        if earlier[1] == values:
            message = f"duplicate {label}: row {earlier[0]} has the same value"
        else:
            message = (
                f"{label} collides with row {earlier[0]} "
                f"('{' | '.join(str(v) for v in earlier[1])}'): keys may not differ only in "
                "letter case or Unicode form"
            )
        problems.append(
            Problem(table.file, row, _row_line(table, row), ", ".join(key), shown, message)
        )
    return problems


def foreign_key_problems(
    tables: Mapping[str, pd.DataFrame],
    parsed: Mapping[str, ParsedTable],
    schemas: Mapping[str, Mapping],
) -> list[Problem]:
    """Check every ``foreignKeys`` entry: each referencing value must exist in its target."""
    problems: list[Problem] = []
    for name, schema in schemas.items():
        frame = tables.get(name)
        for fk in schema.get("foreignKeys", []):
            fields = _as_list(fk["fields"])
            target = fk["reference"]["resource"] or name
            target_fields = _as_list(fk["reference"]["fields"])
            if frame is None or target not in tables:
                continue
            # A table whose header is already reported as broken is not checked further.
            if not set(fields) <= set(frame.columns):
                continue
            if not set(target_fields) <= set(tables[target].columns):
                continue
            known = set(tables[target][target_fields].itertuples(index=False, name=None))
            for row, values in zip(
                frame.index, frame[fields].itertuples(index=False, name=None), strict=True
            ):
                if any(pd.isna(v) for v in values) or values in known:
                    continue
                problems.append(
                    Problem(
                        parsed[name].file,
                        row,
                        _row_line(parsed[name], row),
                        ", ".join(fields),
                        " | ".join(str(v) for v in values),
                        f"no matching {', '.join(target_fields)} in {parsed[target].file}",
                    )
                )
    return problems


#: Which spread column each ``sd_source`` needs, for depression-score rows.
SPREAD_COLUMNS = {
    "reported": ("sd",),
    "from_se": ("se",),
    "from_ci": ("ci_low", "ci_high"),
}


def cross_field_problems(outcomes: pd.DataFrame, parsed: ParsedTable) -> list[Problem]:
    """Rules across columns of ``outcomes`` that a Table Schema cannot express.

    Rows may be incomplete (a source gives a mean but not its n): that is recorded honestly
    and such rows simply cannot enter an effect size. What must hold is consistency:

    - count outcomes (response, remission, ...) need ``events``, and ``events <= n``;
    - score outcomes need ``mean``; a spread needs ``sd_source`` to say which it is, and an
      ``sd_source`` needs its spread (``sd`` for reported, ``se`` for from_se, both CI bounds
      for from_ci), with ``ci_low < ci_high``; scores also need ``value_type``.
    """
    problems: list[Problem] = []

    def add(row: int, column: str, value: object, message: str) -> None:
        shown = "" if pd.isna(value) else str(value)
        problems.append(Problem(parsed.file, row, _row_line(parsed, row), column, shown, message))

    for row, rec in outcomes.iterrows():
        if rec["outcome"] in COUNT_OUTCOMES:
            if pd.isna(rec["events"]):
                add(row, "events", rec["events"], f"a {rec['outcome']} row needs events")
            elif not pd.isna(rec["n"]) and rec["events"] > rec["n"]:
                add(row, "events", rec["events"], f"events exceed n ({rec['n']})")
        elif rec["outcome"] in SCORE_OUTCOMES:
            for column in ("mean", "value_type"):
                if pd.isna(rec[column]):
                    add(row, column, rec[column], f"a {rec['outcome']} row needs {column}")
            spreads = [c for c in ("sd", "se", "ci_low", "ci_high") if not pd.isna(rec[c])]
            if spreads and pd.isna(rec["sd_source"]):
                add(
                    row,
                    "sd_source",
                    rec["sd_source"],
                    f"say which spread is reported ({', '.join(spreads)} given)",
                )
            for column in SPREAD_COLUMNS.get(rec["sd_source"], ()):
                if pd.isna(rec[column]):
                    add(row, column, rec[column], f"sd_source '{rec['sd_source']}' needs {column}")
            low, high = rec["ci_low"], rec["ci_high"]
            if not pd.isna(low) and not pd.isna(high) and low >= high:
                add(row, "ci_low", low, f"ci_low must be below ci_high ({high})")
    return problems


def contrast_problems(contrasts: pd.DataFrame, parsed: ParsedTable) -> list[Problem]:
    """Rules across columns of ``contrasts``: a spread must be given, and be coherent.

    A contrast needs its ``se`` or both CI bounds (an SMD may instead give both group sizes);
    ``ci_low < ci_high`` and the estimate lies inside its interval (a sign flipped without
    flipping the bounds breaks this).
    """
    problems: list[Problem] = []
    for row, rec in contrasts.iterrows():
        line = _row_line(parsed, row)
        low, high = rec["ci_low"], rec["ci_high"]
        no_spread = pd.isna(rec["se"]) and (pd.isna(low) or pd.isna(high))
        # A standardized difference's variance follows from the group sizes alone.
        sized_smd = rec["measure"] in ("SMD_d", "SMD_g") and not (
            pd.isna(rec["n_treat"]) or pd.isna(rec["n_ctrl"])
        )
        if no_spread and not sized_smd:
            message = "give the se, both ci_low and ci_high, or (for an SMD) both group sizes"
            problems.append(Problem(parsed.file, row, line, "se", "", message))
        if pd.isna(low) or pd.isna(high):
            continue
        if low >= high:
            message = f"ci_low must be below ci_high ({high})"
            problems.append(Problem(parsed.file, row, line, "ci_low", str(low), message))
        elif not low <= rec["estimate"] <= high:
            message = f"estimate lies outside its interval [{low}, {high}]"
            problems.append(
                Problem(parsed.file, row, line, "estimate", str(rec["estimate"]), message)
            )
    return problems


#: Relapse measures whose value is a proportion.
PROPORTION_MEASURES = frozenset({"proportion_relapsed", "km_survival"})


def relapse_problems(
    relapse: pd.DataFrame, parsed: ParsedTable, arms: pd.DataFrame
) -> list[Problem]:
    """Rules across columns of ``relapse``.

    Proportions lie in [0, 1]; events do not exceed n; a relapse count has its events; a
    hazard ratio names its comparator arm (an arm of the same trial) and its interval holds
    the estimate; any interval is ordered.
    """
    problems: list[Problem] = []
    known_arms = set(zip(arms["study_id"], arms["arm_id"], strict=True))

    def add(row: int, column: str, value: object, message: str) -> None:
        shown = "" if pd.isna(value) else str(value)
        problems.append(Problem(parsed.file, row, _row_line(parsed, row), column, shown, message))

    for row, rec in relapse.iterrows():
        measure, value = rec["measure"], rec["value"]
        if measure in PROPORTION_MEASURES and not pd.isna(value) and value > 1:
            add(row, "value", value, f"a {measure} is a proportion between 0 and 1")
        if measure == "relapse_count" and pd.isna(rec["events"]):
            add(row, "events", rec["events"], "a relapse_count row needs events")
        if not pd.isna(rec["events"]) and not pd.isna(rec["n"]) and rec["events"] > rec["n"]:
            add(row, "events", rec["events"], f"events exceed n ({rec['n']})")
        if measure == "hazard_ratio":
            ctrl = rec["arm_id_ctrl"]
            if pd.isna(ctrl) or (rec["study_id"], ctrl) not in known_arms:
                add(
                    row,
                    "arm_id_ctrl",
                    ctrl,
                    "a hazard ratio needs the comparator arm of the same trial",
                )
        elif not pd.isna(rec["arm_id_ctrl"]):
            add(
                row,
                "arm_id_ctrl",
                rec["arm_id_ctrl"],
                "only a hazard_ratio row has a comparator arm",
            )
        low, high = rec["ci_low"], rec["ci_high"]
        if not pd.isna(low) and not pd.isna(high):
            if low >= high:
                add(row, "ci_low", low, f"ci_low must be below ci_high ({high})")
            elif not pd.isna(value) and not low <= value <= high:
                add(row, "value", value, f"value lies outside its interval [{low}, {high}]")
    return problems


def adverse_event_problems(events: pd.DataFrame, parsed: ParsedTable) -> list[Problem]:
    """Participants with an adverse event cannot outnumber the arm's safety population."""
    problems = []
    for row, rec in events.iterrows():
        if not pd.isna(rec["n"]) and rec["events"] > rec["n"]:
            line = _row_line(parsed, row)
            message = f"events exceed n ({rec['n']})"
            problems.append(Problem(parsed.file, row, line, "events", str(rec["events"]), message))
    return problems


COUNT_OUTCOMES = frozenset(
    {
        "response",
        "remission",
        "suicidal_ideation_remission",
        "relapse",
        "dropout",
        "dropout_adverse_event",
    }
)
SCORE_OUTCOMES = frozenset({"depression_score", "suicidal_ideation_score"})


#: The project's canonical descriptor, relative to the repository root: the rules every data
#: package is validated against, whatever its own ``datapackage.json`` says.
CANONICAL_SCHEMA = "workflow/schemas/datapackage.schema.json"
#: A resource name; the validate stage writes ``NAME.csv``, so it must be a plain identifier.
RESOURCE_NAME = re.compile(r"[a-z][a-z0-9_]*")
#: Keys that document a resource, its schema or a field without changing how it is validated.
#: At the package level every key but ``resources`` is documentation.
RESOURCE_DOCUMENTATION = frozenset(
    {"title", "description", "sources", "licenses", "type", "format", "mediatype", "encoding"}
)
SCHEMA_DOCUMENTATION = frozenset({"$schema", "title", "description"})
FIELD_DOCUMENTATION = frozenset({"title", "description", "example", "unit"})
#: How many differences from the canonical schema are reported at most.
MAX_DIFFERENCES = 200


class _Absent:
    """A key a descriptor does not have."""

    def __repr__(self) -> str:
        return "absent"


ABSENT = _Absent()


def descriptor_differences(descriptor: object, canonical: Mapping) -> list[Problem]:
    """Every way the rules of a package's descriptor differ from the canonical schema's.

    The rules of the data package are the project's, kept in one canonical descriptor
    (:data:`CANONICAL_SCHEMA`): each resource's ``name``, ``path`` and ``schema`` (every
    field's ``name``, ``type``, ``format`` and ``constraints``; ``primaryKey``,
    ``foreignKeys``, ``missingValues``). A package's own ``datapackage.json``, including one
    pulled from ``data.source``, must state exactly these rules, and validation then uses the
    canonical ones only, so that no package can relax a pattern, widen a type, add or drop a
    field or a resource, or move a file. Documentation may differ: the package-level metadata
    (name, title, version, licenses, ...) and the keys in :data:`RESOURCE_DOCUMENTATION`,
    :data:`SCHEMA_DOCUMENTATION` and :data:`FIELD_DOCUMENTATION`; any other key counts as a
    rule. Resources and fields are matched by name, so their order is free.

    Any JSON value is compared safely: the walk goes no deeper than the canonical schema
    does, and nothing from the descriptor (a regular expression, say) is compiled or run.

    Parameters
    ----------
    descriptor : object
        The parsed ``datapackage.json`` of the package.
    canonical : mapping
        The parsed canonical schema.

    Returns
    -------
    list of Problem
        One per difference, on ``datapackage.json``, naming the difference by its path in the
        descriptor (``resources[2] 'outcomes' schema.fields[7] 'sd': constraints.minimum ...``).
    """
    if not isinstance(descriptor, Mapping):
        lines: Iterator[str] = iter([f"is {_shown(descriptor)}, not an object"])
    else:
        lines = _named_differences(
            "",
            "resources",
            descriptor.get("resources", ABSENT),
            canonical["resources"],
            "resource",
            _resource_differences,
        )
    # A hostile descriptor can differ a million times over; the first few say enough.
    listed = list(itertools.islice(lines, MAX_DIFFERENCES))
    if next(lines, None) is not None:
        listed.append(f"more than {MAX_DIFFERENCES} differences; the rest are not listed")
    return [Problem("datapackage.json", None, None, None, None, line) for line in listed]


def _located(where: str, text: str) -> str:
    return f"{where}: {text}" if where else text


def _named_differences(
    where: str,
    key: str,
    entries: object,
    canonical: list[Mapping],
    noun: str,
    compare: Callable[[str, Mapping, Mapping], Iterator[str]],
) -> Iterator[str]:
    """Differences of a list of named entries (resources, fields), matched by name."""
    if not isinstance(entries, list):
        yield from _value_differences(where, key, entries, canonical)
        return
    expected = {entry["name"]: entry for entry in canonical}
    listed = ", ".join(expected)
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries):
        at = f"{where} {key}[{i}]".lstrip()
        name = entry.get("name", ABSENT) if isinstance(entry, Mapping) else ABSENT
        if not isinstance(entry, Mapping):
            yield f"{at}: is {_shown(entry)}, not an object"
        elif not isinstance(name, str):
            yield (
                f"{at}: name is {_shown(name)} in the package; the canonical schema "
                f"({CANONICAL_SCHEMA}) names each {noun}: {listed}"
            )
        elif name not in expected:
            yield (
                f"{at}: name {_shown(name)} is not a {noun} of the canonical schema "
                f"({CANONICAL_SCHEMA}), which has: {listed}"
            )
        elif name in seen:
            yield (
                f"{at} {_shown(name)}: a second {noun} named {_shown(name)} "
                f"(the first is {key}[{seen[name]}]); each is listed once"
            )
        else:
            seen[name] = i
            yield from compare(f"{at} {_shown(name)}", entry, expected[name])
    for name in expected:
        if name not in seen:
            yield _located(
                where.strip(),
                f"{key}: {noun} {_shown(name)} of the canonical schema ({CANONICAL_SCHEMA}) is "
                "missing from the package",
            )


def _resource_differences(where: str, resource: Mapping, canonical: Mapping) -> Iterator[str]:
    yield from _keyed_differences(
        where, "", resource, canonical, RESOURCE_DOCUMENTATION | {"schema"}
    )
    schema = resource.get("schema", ABSENT)
    if not isinstance(schema, Mapping):
        yield from _value_differences(where, "schema", schema, canonical["schema"])
        return
    yield from _keyed_differences(
        where, "schema.", schema, canonical["schema"], SCHEMA_DOCUMENTATION | {"fields"}
    )
    yield from _named_differences(
        where,
        "schema.fields",
        schema.get("fields", ABSENT),
        canonical["schema"]["fields"],
        "field",
        _field_differences,
    )


def _field_differences(where: str, field: Mapping, canonical: Mapping) -> Iterator[str]:
    return _keyed_differences(where, "", field, canonical, FIELD_DOCUMENTATION)


def _keyed_differences(
    where: str, prefix: str, value: Mapping, canonical: Mapping, skipped: frozenset[str]
) -> Iterator[str]:
    """Key by key, every key of either object except the ``skipped`` ones."""
    for key in [*canonical, *(k for k in value if k not in canonical)]:
        if key not in skipped:
            yield from _value_differences(
                where, f"{prefix}{key}", value.get(key, ABSENT), canonical.get(key, ABSENT)
            )


def _value_differences(where: str, key: str, value: object, canonical: object) -> Iterator[str]:
    """How ``value`` differs from ``canonical``: objects key by key, lists entry by entry.

    The walk follows the canonical value, so it ends where the canonical value ends however
    deep ``value`` is nested.
    """
    if isinstance(canonical, Mapping) and isinstance(value, Mapping):
        yield from _keyed_differences(where, f"{key}.", value, canonical, frozenset())
        return
    nested = isinstance(canonical, list) and any(isinstance(c, Mapping | list) for c in canonical)
    if nested and isinstance(value, list) and len(value) == len(canonical):
        for i, (entry, expected) in enumerate(zip(value, canonical, strict=True)):
            yield from _value_differences(where, f"{key}[{i}]", entry, expected)
        return
    if _same(value, canonical):
        return
    canon = f"the canonical schema ({CANONICAL_SCHEMA})"
    if isinstance(canonical, list) and isinstance(value, list) and not nested:
        text = f"{key} {_list_change(value, canonical)} compared with {canon}"
    elif isinstance(canonical, list) and isinstance(value, list):
        text = f"{key} has {len(value)} entries in the package but {len(canonical)} in {canon}"
    else:
        text = f"{key} is {_shown(value)} in the package but {_shown(canonical)} in {canon}"
    yield _located(where, text)


def _list_change(value: list, canonical: list) -> str:
    """What a list of plain values adds to or lacks from the canonical one (an ``enum``)."""
    added = [v for v in value if not any(_same(v, c) for c in canonical)]
    lacking = [c for c in canonical if not any(_same(v, c) for v in value)]
    change = []
    if added:
        change.append("adds " + _listed(added))
    if lacking:
        change.append("lacks " + _listed(lacking))
    return " and ".join(change) or "lists the same values in another order or more than once"


def _listed(values: list, shown: int = 5) -> str:
    more = f" and {len(values) - shown} more" if len(values) > shown else ""
    return ", ".join(_shown(v) for v in values[:shown]) + more


def _same(value: object, canonical: object) -> bool:
    """JSON equality, strict about types (``true`` is not ``1``, ``"0"`` is not ``0``).

    Bounded by the canonical value's depth.
    """
    if isinstance(canonical, bool) or isinstance(value, bool):
        return type(value) is type(canonical) and value == canonical
    if isinstance(canonical, int | float):
        return isinstance(value, int | float) and value == canonical
    if isinstance(canonical, list):
        return (
            isinstance(value, list)
            and len(value) == len(canonical)
            and all(_same(v, c) for v, c in zip(value, canonical, strict=True))
        )
    if isinstance(canonical, Mapping):
        return (
            isinstance(value, Mapping)
            and value.keys() == canonical.keys()
            and all(_same(value[k], canonical[k]) for k in canonical)
        )
    return type(value) is type(canonical) and value == canonical


def _shown(value: object, width: int = 60) -> str:
    """A JSON value in a message: a plain value as written, shortened; else its kind."""
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    text = repr(value)
    return text if len(text) <= width else text[: width - 4] + "...'"


#: Tables the analyses cannot run without a row of.
REQUIRED_ROWS = ("studies", "arms", "outcomes", "sources")


def validate_package(
    descriptor: Mapping, texts: Mapping[str, str], canonical: Mapping
) -> dict[str, pd.DataFrame]:
    """Validate every resource of a data package against the canonical schema.

    The package's descriptor must state the canonical rules (:func:`descriptor_differences`);
    the tables are then checked against the canonical schemas only.

    Parameters
    ----------
    descriptor : mapping
        The package's parsed ``datapackage.json``.
    texts : mapping
        Resource path (as in the descriptor) to the file's text.
    canonical : mapping
        The parsed canonical schema (:data:`CANONICAL_SCHEMA`).

    Returns
    -------
    dict
        Resource name to a typed DataFrame (index = 1-based data row).

    Raises
    ------
    DataPackageError
        Listing every difference from the canonical rules, or else every problem found in the
        tables; nothing is returned unless the package is clean.
    """
    differences = descriptor_differences(descriptor, canonical)
    if differences:
        raise DataPackageError(differences)
    resources = canonical["resources"]
    problems: list[Problem] = []
    parsed: dict[str, ParsedTable] = {}
    typed: dict[str, pd.DataFrame] = {}
    schemas = {r["name"]: r["schema"] for r in resources}
    for resource in resources:
        path = resource["path"]
        if path not in texts:
            problems.append(
                Problem(path, None, None, None, None, "file listed in datapackage.json is missing")
            )
            continue
        table, parse_problems = parse_csv_text(texts[path], path)
        problems += parse_problems
        if table.frame.columns.empty:
            # No usable header (empty file, another delimiter, a repeated name): its
            # problem is reported; checking its columns would only repeat it.
            continue
        parsed[resource["name"]] = table
        typed[resource["name"]], table_problems = validate_table(
            table, resource["schema"], _referenced_keys(resource["name"], schemas)
        )
        problems += table_problems
    for name in REQUIRED_ROWS:
        if (
            name in typed
            and typed[name].empty
            and name in parsed
            and parsed[name].frame.columns.size
        ):
            path = next(r["path"] for r in resources if r["name"] == name)
            problems.append(
                Problem(path, None, 2, None, None, "no data rows: the analyses need at least one")
            )
    problems += foreign_key_problems(typed, parsed, schemas)
    if "outcomes" in typed and not _missing_columns(typed["outcomes"], schemas["outcomes"]):
        problems += cross_field_problems(typed["outcomes"], parsed["outcomes"])
    if "contrasts" in typed and not _missing_columns(typed["contrasts"], schemas["contrasts"]):
        problems += contrast_problems(typed["contrasts"], parsed["contrasts"])
    if (
        "relapse" in typed
        and "arms" in typed
        and not _missing_columns(typed["relapse"], schemas["relapse"])
    ):
        problems += relapse_problems(typed["relapse"], parsed["relapse"], typed["arms"])
    if "adverse_events" in typed and not _missing_columns(
        typed["adverse_events"], schemas["adverse_events"]
    ):
        problems += adverse_event_problems(typed["adverse_events"], parsed["adverse_events"])
    if problems:
        raise DataPackageError(problems)
    return typed


def _referenced_keys(name: str, schemas: Mapping[str, Mapping]) -> list[list[str]]:
    """Column groups of table ``name`` that identify a row besides its primary key.

    The columns other tables' (or its own) ``foreignKeys`` reference, and each field
    constrained ``unique``.
    """
    keys = [
        _as_list(fk["reference"]["fields"])
        for referring, schema in schemas.items()
        for fk in schema.get("foreignKeys", [])
        if (fk["reference"]["resource"] or referring) == name
    ]
    unique = [
        [f["name"]] for f in schemas[name]["fields"] if f.get("constraints", {}).get("unique")
    ]
    return keys + unique


def _missing_columns(frame: pd.DataFrame, schema: Mapping) -> Iterable[str]:
    return [f["name"] for f in schema["fields"] if f["name"] not in frame.columns]
