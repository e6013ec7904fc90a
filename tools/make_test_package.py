"""Write the small data package of the fast workflow test (.test/data/raw) from data/raw.

Usage: python tools/make_test_package.py [SOURCE_DIR] [TARGET_DIR]

The selected trials (:data:`TEST_STUDIES`) cover every stage of the workflow at a fraction
of its size: both routes and both enantiomers at 24 h, a midazolam and a saline control, a
crossover, a head-to-head trial of racemic ketamine against esketamine, a randomized
withdrawal trial for relapse, and three trials with day-28 scores, so that the second test
configuration (.test/config_28d: a 28-day primary timepoint) pools several trials. Rows of
every table that refer (through the descriptor's foreign keys) to a trial left out are
dropped; tables that refer to no trial are kept whole. Values are copied, never edited, so
every row keeps its source and locator.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import sys
from pathlib import Path

TEST_STUDIES = (
    "Murrough2013",
    "Fava2020",
    "Lapidus2014",
    "Daly2018",
    "Canuso2018",
    "Fu2020",
    "CorreiaMelo2020",
    "Daly2019",
    # Day 28 (the second test configuration's primary timepoint).
    "Fedgchin2019",
    "Popova2019",
    "OchsRoss2020",
)


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _write(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")


def _as_list(fields: str | list[str]) -> list[str]:
    return [fields] if isinstance(fields, str) else list(fields)


def subset_package(source: Path, target: Path, studies: tuple[str, ...]) -> dict[str, int]:
    """Copy ``source`` to ``target`` keeping only ``studies``; return rows kept per table."""
    descriptor = json.loads((source / "datapackage.json").read_text(encoding="utf-8"))
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
    tables = {r["name"]: _read(source / r["path"]) for r in descriptor["resources"]}
    tables["studies"] = (
        tables["studies"][0],
        [row for row in tables["studies"][1] if row["study_id"] in studies],
    )
    kept_keys: dict[str, dict[tuple[str, ...], set]] = {}
    # Resources are listed parents first (studies, arms, ...), so one pass settles every key.
    for resource in descriptor["resources"]:
        header, rows = tables[resource["name"]]
        for key in resource["schema"].get("foreignKeys", []):
            parent = key["reference"]["resource"]
            if parent == "sources":
                continue
            fields = tuple(_as_list(key["fields"]))
            parent_fields = tuple(_as_list(key["reference"]["fields"]))
            allowed = kept_keys.setdefault(parent, {}).get(parent_fields)
            if allowed is None:
                allowed = {tuple(r[f] for f in parent_fields) for r in tables[parent][1]}
                kept_keys[parent][parent_fields] = allowed
            rows = [r for r in rows if tuple(r[f] for f in fields) in allowed]
        tables[resource["name"]] = (header, rows)
        _write(target / resource["path"], header, rows)
    return {name: len(rows) for name, (_, rows) in tables.items()}


def main(argv: list[str]) -> int:
    """Entry point."""
    source = Path(argv[1]) if len(argv) > 1 else Path("data/raw")
    target = Path(argv[2]) if len(argv) > 2 else Path(".test/data/raw")
    for name, count in subset_package(source, target, TEST_STUDIES).items():
        print(f"{name}: {count} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
