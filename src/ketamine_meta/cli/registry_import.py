"""``ketamine-meta import-registry``: a trial's posted registry results as package rows.

Reads a ClinicalTrials.gov API v2 study record (``https://clinicaltrials.gov/api/v2/studies/
NCTxxxxxxxx``), or a records file holding the study under ``--key``, and a reviewed mapping
(``data/registry_maps/NCT*.yaml``); writes the rows the mapping makes, in the package's
columns, to a new directory for review: ``outcomes.csv``, ``contrasts.csv`` and
``adverse_events.csv`` (those with rows), ``unmapped.txt`` (everything in the record the mapping
did not name or that could not be imported, also printed to standard error) and, with
``--package``, ``already_in_package.txt`` (imported rows whose key the package holds, with
whether their values agree). The logic is :mod:`ketamine_meta.evidence.registry`; this module
reads and writes. Nothing is written under the package: a person appends the rows.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import shutil
import sys
import tempfile
from pathlib import Path

import pandas as pd

from ketamine_meta.cli.errors import UsageError
from ketamine_meta.evidence.configuration import ConfigError, load_checked_yaml
from ketamine_meta.evidence.datapackage import formula_problem
from ketamine_meta.evidence.package_files import (
    read_canonical_schema,
    read_package_dir,
    source_tree_canonical_schema,
)
from ketamine_meta.evidence.package_source import PackageSourceError
from ketamine_meta.evidence.registry import (
    TABLES,
    MappingError,
    RecordError,
    compare_with_package,
    import_registry,
    study_record,
)
from ketamine_meta.io.tables import to_csv_text

#: The mapping's schema, in the source tree beside ``src`` (the project is installed editable).
MAPPING_SCHEMA = (
    Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "registry_mapping.schema.yaml"
)
#: Largest record file read: a whole records file of several trials is a few megabytes.
MAX_RECORD_BYTES = 64 * 1024 * 1024


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``import-registry`` to the command's subparsers."""
    p = sub.add_parser(
        "import-registry",
        help="turn a trial's ClinicalTrials.gov results into data package rows by a mapping",
        description="Apply a reviewed mapping to a ClinicalTrials.gov API v2 study record and "
        "write the package rows it makes (outcomes, contrasts, adverse events) to a new "
        "directory, with everything the mapping did not name listed in unmapped.txt.",
    )
    p.add_argument("record", metavar="FILE.json", help="the API v2 study record (or records file)")
    p.add_argument("--map", required=True, metavar="MAPPING.yaml", help="the reviewed mapping")
    p.add_argument("--out", required=True, metavar="DIR", help="new directory for the rows")
    p.add_argument(
        "--key",
        help="the key the study sits under in a records file (top level or one level down)",
    )
    p.add_argument(
        "--package",
        metavar="DIR",
        help="data package directory: mapped arms must be the study's arms there, and rows "
        "it already holds are compared",
    )
    p.set_defaults(func=cmd_import_registry)


def cmd_import_registry(args: argparse.Namespace) -> int:
    """Import the record's mapped results and write them, with the unmapped list, to ``--out``."""
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{args.out}: exists and is not an empty directory; give a new one")
    if not out.parent.is_dir():
        raise UsageError(f"{args.out}: directory {out.parent} does not exist")
    record, where = _read_record(args.record, args.key)
    try:
        mapping = load_checked_yaml(args.map, MAPPING_SCHEMA)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    if args.key and args.key.startswith("NCT") and args.key != mapping["nct_id"]:
        raise UsageError(f"{args.map}: nct_id: {mapping['nct_id']!r}, but --key is {args.key!r}")
    try:
        canonical = read_canonical_schema(source_tree_canonical_schema())
        package = _package_tables(args.package) if args.package else None
    except PackageSourceError as exc:
        raise UsageError(str(exc)) from None
    arms = None
    if package is not None:
        arms = {r["arm_id"] for r in package["arms"] if r.get("study_id") == mapping["study_id"]}
    try:
        imported = import_registry(record, mapping, canonical, arms)
    except MappingError as exc:
        raise UsageError(f"{args.map}: {exc}") from None
    except RecordError as exc:
        raise UsageError(f"{args.record}: {where + ': ' if where else ''}{exc}") from None
    texts = _table_texts(imported.tables, canonical)
    texts["unmapped.txt"] = "".join(f"{line}\n" for line in imported.unmapped)
    held = compare_with_package(imported.tables, package, canonical) if package else []
    if held:
        texts["already_in_package.txt"] = "".join(f"{line}\n" for line in held)
    _write_directory(out, texts)
    _report(imported.tables, imported.unmapped, held, out)
    return 0


def _read_record(path: str, key: str | None) -> tuple[dict, str]:
    """The study record in the JSON file, and where in it (duplicate keys and NaN refused)."""
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"{path}: no such file")
    size = file.stat().st_size
    if size > MAX_RECORD_BYTES:
        raise UsageError(f"{path}: {size} bytes, more than the {MAX_RECORD_BYTES} read")
    try:
        document = json.loads(
            file.read_bytes().decode("utf-8"),
            object_pairs_hook=_unique_keys,
            parse_constant=_refuse_constant,
        )
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{path}: line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg})"
        ) from None
    except ValueError as exc:
        raise UsageError(f"{path}: {exc}") from None
    try:
        return study_record(document, key)
    except RecordError as exc:
        raise UsageError(f"{path}: {exc}") from None


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object, refused when a key repeats (a loader would keep the later value)."""
    seen: dict[str, object] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"the key {key!r} appears twice in one object")
        seen[key] = value
    return seen


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def _package_tables(root: str) -> dict[str, list[dict[str, str]]]:
    """The package's arms and importable tables as rows of text, by table name."""
    if not Path(root).is_dir():
        raise UsageError(f"{root}: not a directory (give the data package's directory)")
    descriptor, texts = read_package_dir(root)
    paths = {r["name"]: r["path"] for r in descriptor["resources"]}
    tables = {}
    for name in ("arms", *TABLES):
        if paths.get(name) not in texts:
            raise UsageError(f"{root}: the package has no {name} table")
        tables[name] = list(csv.DictReader(io.StringIO(texts[paths[name]], newline="")))
    return tables


def _table_texts(tables: dict[str, list[dict]], canonical: dict) -> dict[str, str]:
    """Each non-empty table as CSV text in the package's columns, formula-like cells refused."""
    texts = {}
    for name, rows in tables.items():
        if not rows:
            continue
        columns = next(r for r in canonical["resources"] if r["name"] == name)["schema"]["fields"]
        frame = pd.DataFrame(rows, columns=[f["name"] for f in columns])
        for row, record in enumerate(rows, start=1):
            for column, value in record.items():
                reason = formula_problem(value) if isinstance(value, str) else None
                if reason:
                    raise UsageError(f"{name}.csv: row {row}, column '{column}': {reason}")
        texts[f"{name}.csv"] = to_csv_text(frame)
    return texts


def _write_directory(out: Path, texts: dict[str, str]) -> None:
    """Write every file into a temporary directory beside ``out``, then rename it to ``out``."""
    partial = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        for name, text in texts.items():
            (partial / name).write_text(text, encoding="utf-8", newline="")
        partial.rename(out)  # replaces an empty directory in one step
    finally:
        shutil.rmtree(partial, ignore_errors=True)  # gone once renamed


def _report(tables: dict, unmapped: list[str], held: list[str], out: Path) -> None:
    written = ", ".join(f"{len(rows)} {name}" for name, rows in tables.items() if rows)
    print(f"wrote {written or 'no rows'} to {out}")
    print(f"not imported ({len(unmapped)}; also in {out / 'unmapped.txt'}):", file=sys.stderr)
    for line in unmapped:
        print(f"  {line}", file=sys.stderr)
    if held:
        print(f"already in the package ({len(held)}):", file=sys.stderr)
        for line in held:
            print(f"  {line}", file=sys.stderr)
