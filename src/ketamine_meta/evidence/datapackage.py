"""Parse and validate the extracted-trial data package against its Table Schema descriptor.

The descriptor (``data/raw/datapackage.json``) follows the Frictionless Data Package and Table
Schema specifications: per field a ``type`` and ``constraints`` (``required``, ``enum``,
``minimum``, ``exclusiveMinimum``, ``maximum``, ``pattern``), per table a ``primaryKey`` and
``foreignKeys``. On top of the schema, :func:`cross_field_problems` checks rules no schema can
state (responders cannot exceed n, a spread must accompany a mean, ...).

Every problem names the file, the data row (1-based, header excluded), the file line, the column
and the offending value, so that a reviewer can open the CSV at that line.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Mapping
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
        return ", ".join(where) + f": {self.message}"


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
#: A signed plain number, which spreadsheets read as a number whatever its first character.
PLAIN_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def formula_problem(value: str) -> str | None:
    """Why a text cell is refused as a possible spreadsheet formula, or None.

    A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return and is not
    a plain number would run as a formula when a reviewer opens a results CSV in a
    spreadsheet (OWASP "CSV Injection"); the package refuses it rather than rewriting it.
    """
    if FORMULA_START.match(value) and not PLAIN_NUMBER.match(value):
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
    if field_type == "integer":
        if not re.fullmatch(r"[+-]?\d+", value):
            raise ValueError("not an integer")
        return int(value)
    if field_type == "number":
        number = float(value)
        if not math.isfinite(number):
            raise ValueError("not a finite number")
        return number
    if field_type == "year":
        if not re.fullmatch(r"\d{4}", value):
            raise ValueError("not a four-digit year")
        return int(value)
    return value


def _constraint_problem(value: object, constraints: Mapping) -> str | None:
    if "enum" in constraints and value not in constraints["enum"]:
        return f"not one of the allowed values {constraints['enum']}"
    if "minimum" in constraints and value < constraints["minimum"]:
        return f"below the minimum {constraints['minimum']}"
    if "exclusiveMinimum" in constraints and value <= constraints["exclusiveMinimum"]:
        return f"must be greater than {constraints['exclusiveMinimum']}"
    if "maximum" in constraints and value > constraints["maximum"]:
        return f"above the maximum {constraints['maximum']}"
    if "pattern" in constraints and not re.fullmatch(constraints["pattern"], str(value)):
        return f"does not match the pattern {constraints['pattern']}"
    return None


def _row_line(table: ParsedTable, row: int) -> int | None:
    return 1 if row == 0 else table.lines.get(row)


def validate_table(table: ParsedTable, schema: Mapping) -> tuple[pd.DataFrame, list[Problem]]:
    """Check one table against its Table Schema and return it with typed columns.

    Checks the header (every schema field present, no unknown column), each cell's type and
    constraints, and the uniqueness of the primary key. Empty cells are missing values (NA).
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
        constraints = field.get("constraints", {})
        values: list = []
        for row, raw in frame[name].items():
            cell = raw.strip()
            if cell == "":
                values.append(pd.NA)
                if constraints.get("required"):
                    problems.append(
                        Problem(
                            table.file, row, _row_line(table, row), name, raw, "value is required"
                        )
                    )
                continue
            try:
                value = _cast(cell, field.get("type", "string"))
            except ValueError as exc:
                values.append(pd.NA)
                message = f"{exc} (expected {field.get('type')})"
                problems.append(Problem(table.file, row, _row_line(table, row), name, raw, message))
                continue
            values.append(value)
            message = _constraint_problem(value, constraints)
            if field.get("type", "string") == "string":
                message = message or formula_problem(raw)
            if message:
                problems.append(Problem(table.file, row, _row_line(table, row), name, raw, message))
        typed[name] = values
    out = pd.DataFrame(typed, index=frame.index)
    out = out.astype(
        {n: _pandas_dtype(f.get("type", "string")) for n, f in fields.items() if n in out}
    )
    problems += _duplicate_key_problems(table, out, schema.get("primaryKey"))
    return out, problems


def _pandas_dtype(field_type: str) -> str:
    return {"integer": "Int64", "year": "Int64", "number": "Float64"}.get(field_type, "string")


def _as_list(key: str | list[str] | None) -> list[str]:
    if key is None:
        return []
    return [key] if isinstance(key, str) else list(key)


def _duplicate_key_problems(
    table: ParsedTable, frame: pd.DataFrame, primary_key: str | list[str] | None
) -> list[Problem]:
    key = _as_list(primary_key)
    if not key or not set(key) <= set(frame.columns):
        return []
    duplicated = frame.duplicated(subset=key, keep="first")
    return [
        Problem(
            table.file,
            row,
            _row_line(table, row),
            ", ".join(key),
            " | ".join(str(frame.at[row, k]) for k in key),
            "duplicate primary key: an earlier row has the same value",
        )
        for row in frame.index[duplicated]
    ]


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


#: Tables the analyses cannot run without a row of.
REQUIRED_ROWS = ("studies", "arms", "outcomes", "sources")


def validate_package(descriptor: Mapping, texts: Mapping[str, str]) -> dict[str, pd.DataFrame]:
    """Validate every resource of a data package and return its typed tables.

    Parameters
    ----------
    descriptor : mapping
        The parsed ``datapackage.json``.
    texts : mapping
        Resource path (as in the descriptor) to the file's text.

    Returns
    -------
    dict
        Resource name to a typed DataFrame (index = 1-based data row).

    Raises
    ------
    DataPackageError
        Listing every problem found; nothing is returned unless the package is clean.
    """
    problems: list[Problem] = []
    parsed: dict[str, ParsedTable] = {}
    typed: dict[str, pd.DataFrame] = {}
    schemas = {r["name"]: r["schema"] for r in descriptor["resources"]}
    for resource in descriptor["resources"]:
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
        typed[resource["name"]], table_problems = validate_table(table, resource["schema"])
        problems += table_problems
    for name in REQUIRED_ROWS:
        if (
            name in typed
            and typed[name].empty
            and name in parsed
            and parsed[name].frame.columns.size
        ):
            path = next(r["path"] for r in descriptor["resources"] if r["name"] == name)
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


def _missing_columns(frame: pd.DataFrame, schema: Mapping) -> Iterable[str]:
    return [f["name"] for f in schema["fields"] if f["name"] not in frame.columns]
