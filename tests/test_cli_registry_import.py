"""The ``import-registry`` command's own work (:mod:`ketamine_meta.cli.registry_import`):
reading the record file, comparing with a package, writing the directory. The mapping logic
is :mod:`ketamine_meta.evidence.registry`, tested through the command in
tests/test_registry_import.py; here the command function is called directly.
"""

from __future__ import annotations

import argparse
import json
import shutil

import pytest

from conftest import REPO
from ketamine_meta.cli import registry_import
from ketamine_meta.cli.errors import UsageError

NCT = "NCT04599855"
RECORD = REPO / "tests" / "fixtures" / "registry" / f"{NCT}.json"
MAPPING = REPO / "data" / "registry_maps" / f"{NCT}.yaml"
#: Janik 2025's placebo arm at 24 h in outcomes.csv, as the registry posts it.
PLACEBO_24H = "Janik2025,pbo,depression_score,MADRS,24,195,-9.7,10.27,"


def _args(out, package=None, key=NCT, record=RECORD) -> argparse.Namespace:
    return argparse.Namespace(
        record=str(record), map=str(MAPPING), out=str(out), key=key, package=package
    )


def test_the_mapping_schema_is_the_repository_s():
    assert registry_import.MAPPING_SCHEMA == (
        REPO / "workflow" / "schemas" / "registry_mapping.schema.yaml"
    )
    assert registry_import.MAPPING_SCHEMA.is_file()


def test_rows_the_package_holds_are_compared_not_duplicated(tmp_path, capsys):
    out = tmp_path / "out"
    assert registry_import.cmd_import_registry(_args(out, str(REPO / "data" / "raw"))) == 0
    held = (out / "already_in_package.txt").read_text().splitlines()
    # Every imported row (6 outcomes, 4 contrasts) is Janik 2025's, entered from this record.
    assert len(held) == 10
    assert all(line.endswith("all values agree") for line in held)
    assert held[3] == (
        "outcomes: Janik2025 / pbo / depression_score / MADRS / 24 / change is already in the "
        "package (source janik2025_mh_ctgov): all values agree"
    )
    assert capsys.readouterr().out == f"wrote 6 outcomes, 4 contrasts to {out}\n"


def test_a_value_that_differs_from_the_package_is_named(tmp_path, capsys):
    package = tmp_path / "raw"
    shutil.copytree(REPO / "data" / "raw", package)
    outcomes = package / "outcomes.csv"
    text = outcomes.read_text()
    assert text.count(PLACEBO_24H) == 1
    outcomes.write_text(text.replace(PLACEBO_24H, PLACEBO_24H.replace("-9.7,", "-9.9,")))
    out = tmp_path / "out"
    assert registry_import.cmd_import_registry(_args(out, str(package))) == 0
    held = (out / "already_in_package.txt").read_text().splitlines()
    differing = [line for line in held if not line.endswith("all values agree")]
    assert len(differing) == 1
    assert differing[0].startswith("outcomes: Janik2025 / pbo / depression_score / MADRS / 24 /")
    assert "mean" in differing[0] and "-9.7" in differing[0] and "-9.9" in differing[0]
    capsys.readouterr()


def test_a_key_naming_another_trial_is_refused(tmp_path):
    """The record under another trial's key is not the one the mapping was reviewed for."""
    stored = json.loads(RECORD.read_text())
    record = tmp_path / "records.json"
    record.write_text(json.dumps({"NCT00000001": stored["ctgov_results"][NCT]}))
    args = _args(tmp_path / "out", key="NCT00000001", record=record)
    with pytest.raises(UsageError, match=f"nct_id: '{NCT}', but --key is 'NCT00000001'"):
        registry_import.cmd_import_registry(args)
    assert not (tmp_path / "out").exists()


def test_a_record_file_larger_than_the_limit_is_not_read(tmp_path, monkeypatch):
    monkeypatch.setattr(registry_import, "MAX_RECORD_BYTES", 100)
    size = RECORD.stat().st_size
    with pytest.raises(UsageError, match=f"{size} bytes, more than the 100 read"):
        registry_import.cmd_import_registry(_args(tmp_path / "out"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff{}", "not UTF-8 text \\(byte 0\\)"),
        (b'{"a": 1, "a": 2}', "the key 'a' appears twice in one object"),
        (b'{"a": Infinity}', "Infinity is not a number JSON allows"),
    ],
)
def test_a_record_file_that_is_not_strict_json_is_refused(tmp_path, content, message):
    record = tmp_path / "record.json"
    record.write_bytes(content)
    with pytest.raises(UsageError, match=message):
        registry_import.cmd_import_registry(_args(tmp_path / "out", record=record))


def test_a_package_without_a_table_is_refused(tmp_path):
    package = tmp_path / "raw"
    shutil.copytree(REPO / "data" / "raw", package)
    (package / "datapackage.json").write_text(
        (package / "datapackage.json").read_text().replace('"adverse_events"', '"side_effects"')
    )
    with pytest.raises(UsageError, match="the package has no adverse_events table"):
        registry_import.cmd_import_registry(_args(tmp_path / "out", str(package)))
    with pytest.raises(UsageError, match="not a directory"):
        registry_import.cmd_import_registry(_args(tmp_path / "out", str(tmp_path / "none")))


def test_the_command_is_registered_with_its_options():
    parser = argparse.ArgumentParser()
    registry_import.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["import-registry", "r.json", "--map", "m.yaml", "--out", "o"])
    assert (args.record, args.map, args.out, args.key, args.package) == (
        "r.json",
        "m.yaml",
        "o",
        None,
        None,
    )
    assert args.func is registry_import.cmd_import_registry
