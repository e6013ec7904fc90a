"""Reading a data package directory (:mod:`ketamine_meta.evidence.package_files`): the
descriptor's tables as text, no file through a link, located errors for bytes that are not
CSV text, and validated tables read back without guessing missing values."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from conftest import REPO
from ketamine_meta.evidence.datapackage import CANONICAL_SCHEMA
from ketamine_meta.evidence.package_files import (
    decode_table_bytes,
    local_package_files,
    package_file,
    read_canonical_schema,
    read_local_package,
    read_package_dir,
    read_table_text,
    read_validated_table,
    read_validated_tables,
    source_tree_canonical_schema,
    validated_path,
)
from ketamine_meta.evidence.package_source import PackageSourceError

DESCRIPTOR = {
    "name": "tiny",
    "resources": [
        {"name": "studies", "path": "studies.csv"},
        {"name": "arms", "path": "tables/arms.csv"},
    ],
}


@pytest.fixture
def package(tmp_path):
    root = tmp_path / "package"
    (root / "tables").mkdir(parents=True)
    (root / "datapackage.json").write_text(json.dumps(DESCRIPTOR))
    # A byte-order mark as a spreadsheet program writes it.
    (root / "studies.csv").write_bytes(b"\xef\xbb\xbfstudy_id\nA\n")
    (root / "README.md").write_text("# tiny\n")
    return root


def test_the_schema_is_the_source_tree_s():
    assert source_tree_canonical_schema() == REPO / CANONICAL_SCHEMA
    canonical = read_canonical_schema(source_tree_canonical_schema())
    assert "studies" in {r["name"] for r in canonical["resources"]}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file: the canonical schema"),
        ("{not json", "not a readable canonical schema"),
        (
            '{"resources": [{"name": "a", "path": "a.csv", "schema": {"fields": []}},'
            ' {"name": "a", "path": "b.csv", "schema": {"fields": []}}]}',
            "unique plain-identifier",
        ),
        (
            '{"resources": [{"name": "a", "path": "../a.csv", "schema": {"fields": []}}]}',
            "a path inside the package",
        ),
    ],
)
def test_an_unusable_canonical_schema_is_refused(tmp_path, content, message):
    path = tmp_path / "schema.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(PackageSourceError, match=message):
        read_canonical_schema(path)


def test_the_listed_tables_present_are_read_as_text(package):
    descriptor, texts = read_package_dir(package)
    assert descriptor == DESCRIPTOR
    # The BOM is dropped; the arms table does not exist and is left out for validation.
    assert texts == {"studies.csv": "study_id\nA\n"}


def test_no_descriptor_is_not_a_package(tmp_path):
    with pytest.raises(PackageSourceError, match=r"datapackage\.json: no such file"):
        read_package_dir(tmp_path)


def test_a_linked_table_or_folder_is_not_read(package, tmp_path):
    outside = tmp_path / "secret.csv"
    outside.write_text("x\n1\n")
    (package / "tables" / "arms.csv").symlink_to(outside)
    with pytest.raises(PackageSourceError, match=r"arms\.csv: is a symbolic link"):
        read_package_dir(package)
    (package / "tables" / "arms.csv").unlink()
    (package / "tables").rmdir()
    (package / "tables").symlink_to(tmp_path)
    with pytest.raises(PackageSourceError, match=r"is inside .*tables, a symbolic link"):
        package_file(package, "tables/arms.csv")


def test_a_directory_is_not_a_table(package):
    (package / "tables" / "arms.csv").mkdir()
    with pytest.raises(PackageSourceError, match="is a directory, not a CSV table"):
        read_table_text(package / "tables" / "arms.csv")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"a\nb\n\x00c\n", "t.csv: line 3: NUL byte"),
        (b"a\ncaf\xe9\n", "t.csv: line 2: byte 0xe9 is not UTF-8"),
    ],
)
def test_bytes_that_are_not_csv_text_are_located(data, message):
    with pytest.raises(PackageSourceError, match=message):
        decode_table_bytes(data, "t.csv")
    assert decode_table_bytes("café\n".encode(), "t.csv") == "café\n"


def test_the_local_package_files_descriptor_tables_and_docs(package):
    assert local_package_files(package) == [
        package / "datapackage.json",
        package / "studies.csv",
        package / "tables" / "arms.csv",
        package / "README.md",
    ]
    files = read_local_package(package)
    assert sorted(files) == ["README.md", "datapackage.json", "studies.csv"]
    assert files["studies.csv"].startswith(b"\xef\xbb\xbf")
    (package / "datapackage.json").write_text("{}")
    assert local_package_files(package) == [package / "datapackage.json"]
    assert local_package_files(package / "tables") == []


def test_a_validated_table_keeps_na_as_text(tmp_path):
    path = tmp_path / "arms.csv"
    path.write_text("study_id,arm_id,dose\nA,NA,\nB,None,0.5\n")
    table = read_validated_table(path)
    assert table["arm_id"].tolist() == ["NA", "None"]
    assert pd.isna(table.loc[0, "dose"]) and table.loc[1, "dose"] == 0.5


def test_a_declared_table_is_found_among_the_files_and_an_undeclared_one_refused(tmp_path):
    folder = tmp_path / "validated"
    folder.mkdir()
    for name in ("arms", "studies"):
        (folder / f"{name}.csv").write_text("study_id\nA\n")
    declared = [str(folder / "arms.csv")]
    assert validated_path(declared, "arms") == folder / "arms.csv"
    assert validated_path(folder, "studies") == folder / "studies.csv"
    with pytest.raises(KeyError, match="'studies' is not among the declared inputs"):
        validated_path(declared, "studies")
    tables = read_validated_tables(declared, ("arms",))
    assert list(tables) == ["arms"] and tables["arms"]["study_id"].tolist() == ["A"]
