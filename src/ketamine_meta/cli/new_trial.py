"""``ketamine-meta new-trial``: the skeleton rows a new trial needs, in every table of the package.

A trial enters the package through six tables (CONTRIBUTING.md): the study, its randomized
arms, the source the numbers are read from, its screening record (the PRISMA flow), the
extraction gaps (risk of bias "not assessed" until a published review's judgement is entered)
and, last, its outcome rows. The scaffold writes the first five from a few options, leaving a
``TODO`` placeholder in every cell only a person reading the source can fill (a locator, the
reason for inclusion); ``validate`` names each placeholder until it is replaced
(:mod:`ketamine_meta.evidence.completeness`). The rows appended are checked against the
canonical schema before anything is written, and every file is written in full to a
temporary name and renamed, so a refused call leaves the package as it was.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import re
from collections.abc import Mapping
from pathlib import Path

from ketamine_meta.cli.errors import UsageError
from ketamine_meta.evidence.completeness import PLACEHOLDER, completeness_warnings
from ketamine_meta.evidence.datapackage import DataPackageError, validate_package
from ketamine_meta.evidence.package_files import (
    read_canonical_schema,
    read_package_dir,
    source_tree_canonical_schema,
)
from ketamine_meta.evidence.package_source import PackageSourceError

DRUGS = ("racemic_ketamine", "esketamine", "arketamine")
STUDY_ID = re.compile(r"(?P<author>[A-Z][A-Za-z]+)(?P<year>[0-9]{4})[a-z]?")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``new-trial`` subcommand to the ``ketamine-meta`` parser."""
    p = sub.add_parser(
        "new-trial",
        help="append the skeleton rows of a new trial to a data package",
        description="Appends to PACKAGE: the study (studies.csv), one row per --arm "
        "(arms.csv), the source (sources.csv, unless its id exists), an 'include' screening "
        "record (screening.csv) and extraction-gap rows saying risk of bias is not assessed and "
        "outcomes are not yet extracted (extraction_gaps.csv). Cells only the source can "
        f"fill hold '{PLACEHOLDER}: ...'; `ketamine-meta validate` lists each one left. "
        "Then add the outcome rows (CONTRIBUTING.md).",
    )
    p.add_argument("study_id", help="first author and year, e.g. Smith2027 (Smith2027b if taken)")
    p.add_argument("--package", required=True, help="the data package directory (data/raw)")
    p.add_argument(
        "--arm",
        action="append",
        required=True,
        metavar="ARM_ID:DRUG:ROUTE[:DOSE:UNIT]",
        help="a randomized arm, e.g. ket05:racemic_ketamine:IV:0.5:mg_per_kg or "
        "pbo:saline_placebo:IV; give one --arm per arm (at least two)",
    )
    p.add_argument("--source-id", required=True, help="id of the source, e.g. smith2027_pmc")
    p.add_argument("--url", help="the source's URL (needed when the source id is new)")
    p.add_argument("--citation", help="the source's citation (needed when the source id is new)")
    p.add_argument(
        "--source-kind",
        default="journal",
        help="journal, PMC, registry, review, conference, aggregator or repository_copy",
    )
    p.add_argument("--title", default="", help="the trial report's title")
    p.add_argument("--design", default="parallel", help="parallel or crossover")
    p.add_argument("--population", default="TRD", help="MDD, TRD, bipolar or mixed")
    p.add_argument("--setting", default="standard", help="standard or surgical_anaesthesia")
    p.add_argument("--pmid", default="", help="PubMed id")
    p.add_argument("--registration", default="", help="registry id, e.g. NCT01234567")
    p.set_defaults(func=cmd_new_trial)


def cmd_new_trial(args: argparse.Namespace) -> int:
    """Append the skeleton rows of ``args.study_id`` to the package; print what is left."""
    root = Path(args.package)
    match = STUDY_ID.fullmatch(args.study_id)
    if not match:
        raise UsageError(
            f"study id '{args.study_id}': not first author then year (e.g. Smith2027, Smith2027b)"
        )
    canonical = read_canonical_schema(source_tree_canonical_schema())
    try:
        descriptor, texts = read_package_dir(root)
    except PackageSourceError as exc:
        raise UsageError(str(exc)) from exc
    paths = {r["name"]: r["path"] for r in canonical["resources"]}
    if any(row["study_id"] == args.study_id for row in _rows(texts[paths["studies"]])):
        raise UsageError(f"{root / paths['studies']}: study_id '{args.study_id}' is already there")
    new_rows = skeleton_rows(
        args,
        match,
        _source_known(texts[paths["sources"]], args.source_id),
        _allowed(canonical, "screening", "comparator"),
    )
    updated = {
        paths[name]: _appended(texts[paths[name]], rows) for name, rows in new_rows.items() if rows
    }
    try:
        tables = validate_package(descriptor, {**texts, **updated}, canonical)
    except DataPackageError as exc:
        raise UsageError(f"the new rows would not validate: {exc}") from exc
    _write_all(root, updated)
    for path, rows in sorted((paths[n], r) for n, r in new_rows.items() if r):
        print(f"{root / path}: {len(rows)} row(s) added")
    for warning in completeness_warnings(tables):
        if warning.startswith(f"{args.study_id}:"):
            print(f"to do: {warning}")
    return 0


def skeleton_rows(
    args: argparse.Namespace, match: re.Match, source_known: bool, comparators: frozenset[str]
) -> dict[str, list[dict[str, str]]]:
    """The rows of each table (by resource name) that the new trial starts with.

    The screening record's comparator is the control arm's drug where the screening log has
    that value (``comparators``, its allowed values), else "unclear".
    """
    arms = [_arm(text) for text in args.arm]
    if len(arms) < 2:
        raise UsageError("--arm: a randomized trial has at least two arms; give one --arm each")
    drugs = [a for a in arms if a["drug"] in DRUGS]
    controls = [a for a in arms if a["drug"] not in DRUGS]
    if not drugs:
        raise UsageError("--arm: no arm of racemic_ketamine, esketamine or arketamine")
    study, source = args.study_id, args.source_id
    locate = f"{PLACEHOLDER}: where in {source} (table, row, column, or abstract sentence)"
    rows: dict[str, list[dict[str, str]]] = {"sources": []}
    if not source_known:
        if not (args.url and args.citation):
            raise UsageError(f"--source-id '{source}' is new: give its --url and --citation")
        rows["sources"] = [
            {
                "source_id": source,
                "citation": args.citation,
                "url": args.url,
                "source_kind": args.source_kind,
            }
        ]
    rows["studies"] = [
        {
            "study_id": study,
            "title": args.title,
            "year": match["year"],
            "pmid": args.pmid,
            "registration": args.registration,
            "design": args.design,
            "population": args.population,
            "setting": args.setting,
            "source_id": source,
            "locator": locate,
        }
    ]
    rows["arms"] = [
        {"study_id": study, **arm, "source_id": source, "locator": locate} for arm in arms
    ]
    rows["screening"] = [
        {
            "candidate_id": study,
            "first_author": match["author"],
            "year": match["year"],
            "title": args.title,
            "design": args.design,
            "drug": drugs[0]["drug"],
            "route": drugs[0]["route"],
            "comparator": _comparator(controls, comparators),
            "population": args.population,
            "found_in": f"{PLACEHOLDER}: the search or list the trial was found in",
            "source_id": source,
            "locator": locate,
            "decision": "include",
            "reason": f"{PLACEHOLDER}: how it meets PROTOCOL.md §2 (design, population, control)",
        }
    ]
    rows["extraction_gaps"] = [
        {
            "study_id": study,
            "what": "risk of bias: not assessed",
            "reason": f"{PLACEHOLDER}: no published review's RoB judgement entered yet "
            "(risk_of_bias.csv takes a review's judgement with that review as the source)",
        },
        {
            "study_id": study,
            "what": "outcome rows not yet extracted",
            "reason": f"{PLACEHOLDER}: add outcomes.csv rows per arm, or log here what the "
            "source lacks",
        },
    ]
    return rows


def _allowed(canonical: Mapping, resource: str, field: str) -> frozenset[str]:
    """The allowed values of ``resource.field`` in the canonical schema."""
    schema = next(r["schema"] for r in canonical["resources"] if r["name"] == resource)
    return frozenset(next(f for f in schema["fields"] if f["name"] == field)["constraints"]["enum"])


def _comparator(controls: list[dict[str, str]], comparators: frozenset[str]) -> str:
    if not controls:
        return "none"
    return controls[0]["drug"] if controls[0]["drug"] in comparators else "unclear"


def _arm(text: str) -> dict[str, str]:
    """``ARM_ID:DRUG:ROUTE[:DOSE:UNIT]`` as an ``arms.csv`` row's own cells."""
    parts = text.split(":")
    if len(parts) not in (3, 5):
        raise UsageError(
            f"--arm '{text}': expected ARM_ID:DRUG:ROUTE or ARM_ID:DRUG:ROUTE:DOSE:UNIT"
        )
    dose, unit = parts[3:5] if len(parts) == 5 else ("", "")
    return {
        "arm_id": parts[0],
        "drug": parts[1],
        "route": parts[2],
        "dose": dose,
        "dose_unit": unit,
    }


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _source_known(text: str, source_id: str) -> bool:
    return any(row["source_id"] == source_id for row in _rows(text))


def _appended(text: str, rows: list[Mapping[str, str]]) -> str:
    """``text`` (a CSV file) with ``rows`` added at the end, in its own column order."""
    header = next(csv.reader(io.StringIO(text)))
    unknown = sorted({key for row in rows for key in row} - set(header))
    if unknown:
        raise UsageError(f"the package's tables lack column(s) {', '.join(unknown)}")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, header, lineterminator="\n")
    writer.writerows(rows)
    return text + ("" if text.endswith("\n") else "\n") + buffer.getvalue()


def _write_all(root: Path, updated: Mapping[str, str]) -> None:
    """Write every file to a temporary name first, then rename them all."""
    staged = []
    try:
        for path, text in updated.items():
            temporary = root / f".{path}.new-trial"
            temporary.write_text(text, encoding="utf-8", newline="")
            staged.append((temporary, root / path))
        for temporary, target in staged:
            os.replace(temporary, target)
    finally:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
