"""The hardening review's findings as unit tests: each fails on the code before it.

Path traversal through the descriptor, files read through symbolic links, spreadsheet formula
injection (also behind leading whitespace), numbers Python reads but a reader would not
(``1_6.5``, non-ASCII digits), invisible characters and keys that differ only in case or
Unicode form, unbounded work (a YAML alias bomb, a trickling server, an archive with a huge
member), identifiers read back as missing values, and confidence levels outside their domain.
"""

from __future__ import annotations

import csv
import gzip
import http.server
import io
import shutil
import tarfile
import threading
import time

import numpy as np
import pandas as pd
import pytest

from conftest import REPO
from ketamine_meta.evidence import package_source
from ketamine_meta.evidence.configuration import ConfigError, check_config, check_yaml_file
from ketamine_meta.evidence.datapackage import (
    DataPackageError,
    Problem,
    formula_problem,
    parse_csv_text,
    validate_package,
    validate_table,
)
from ketamine_meta.evidence.package_files import (
    local_package_files,
    package_file,
    read_local_package,
    read_package_dir,
    read_validated_table,
)
from ketamine_meta.evidence.package_source import (
    PackageSourceError,
    download,
    parse_descriptor,
    safe_member_path,
    unpack_archive,
)
from ketamine_meta.io.tables import to_csv_text
from ketamine_meta.stats.model import confidence_level


@pytest.mark.parametrize(
    "path",
    [
        "../raw/outcomes.csv",
        "../../README.md",
        "/etc/passwd",
        "a/../../b.csv",
        "C:x.csv",
        "sub\\x.csv",
        "./studies.csv",
        "a//b.csv",
        "",
        "datapackage.json",
    ],
)
def test_unsafe_resource_paths_are_refused(path):
    with pytest.raises(PackageSourceError, match="inside the package"):
        safe_member_path(path, "datapackage.json: resources[0].path")


@pytest.mark.parametrize("path", ["studies.csv", "tables/arms.csv", "a-b_c.1.csv"])
def test_safe_resource_paths_pass(path):
    assert safe_member_path(path, "x") == path


def test_malformed_descriptor_names_line_and_column():
    with pytest.raises(PackageSourceError, match=r"not valid JSON \(line 2, column 1"):
        parse_descriptor(b'{"resources": [\n', "pkg")


@pytest.mark.parametrize(
    ("cell", "refused"),
    [
        ("=1+1", True),
        ("+cmd", True),
        ("-2+3+cmd|' /C calc'!A0", True),
        ("@SUM(A1)", True),
        ("\t=1", True),
        ("-16.5", False),
        ("+3", False),
        ("-1e-3", False),
        ("Table 2", False),
        ("a = b", False),
    ],
)
def test_formula_cells_are_refused_but_signed_numbers_pass(cell, refused):
    assert (formula_problem(cell) is not None) == refused


@pytest.fixture
def package(tmp_path):
    """A copy of the repository's data package, and a file outside it."""
    shutil.copytree(REPO / "data" / "raw", tmp_path / "pkg")
    (tmp_path / "outside.txt").write_text("SECRET first line\n")
    return tmp_path / "pkg"


def test_a_table_linked_outside_is_refused_unread(package):
    """A table linked to a system file had its first line printed in the error."""
    (package / "studies.csv").unlink()
    (package / "studies.csv").symlink_to(package.parent / "outside.txt")
    with pytest.raises(PackageSourceError) as info:
        read_package_dir(package)
    assert str(info.value).startswith(f"{package / 'studies.csv'}: is a symbolic link;")
    assert "SECRET" not in str(info.value)
    assert "outside.txt" not in str(info.value)


def test_a_linked_readme_is_not_pulled(package):
    """pull copied a README linked outside the package into data/processed/package."""
    (package / "README.md").unlink()
    (package / "README.md").symlink_to(package.parent / "outside.txt")
    assert package / "README.md" in local_package_files(package)
    with pytest.raises(PackageSourceError, match=r"README\.md: is a symbolic link"):
        read_local_package(package)


def test_a_dangling_link_is_refused_not_skipped(package):
    (package / "CHANGELOG.md").unlink()
    (package / "CHANGELOG.md").symlink_to(package.parent / "nowhere.md")
    with pytest.raises(PackageSourceError, match=r"CHANGELOG\.md: is a symbolic link"):
        read_local_package(package)


def test_a_linked_descriptor_is_refused(package):
    (package.parent / "elsewhere.json").write_bytes((package / "datapackage.json").read_bytes())
    (package / "datapackage.json").unlink()
    (package / "datapackage.json").symlink_to(package.parent / "elsewhere.json")
    with pytest.raises(PackageSourceError, match=r"datapackage\.json: is a symbolic link"):
        read_package_dir(package)
    # The listing keeps the descriptor alone, so that pull reads it and says why.
    assert local_package_files(package) == [package / "datapackage.json"]
    with pytest.raises(PackageSourceError, match=r"datapackage\.json: is a symbolic link"):
        read_local_package(package)


def test_a_folder_link_and_an_escaping_member_are_refused(package):
    (package / "tables").symlink_to(package.parent, target_is_directory=True)
    with pytest.raises(PackageSourceError, match=r"tables/outside\.txt: is inside .*tables, a"):
        package_file(package, "tables/outside.txt")
    with pytest.raises(PackageSourceError, match="resolves outside the package"):
        package_file(package, "../outside.txt")
    assert package_file(package, "studies.csv") == package / "studies.csv"


def _one_column(values: list[str], field: dict, key: bool = False):
    """validate_table on a one-column table (column 'c') holding ``values``."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([["c"], *([v] for v in values)])
    table, problems = parse_csv_text(out.getvalue(), "t.csv")
    assert problems == []
    schema = {"fields": [{"name": "c", **field}], **({"primaryKey": "c"} if key else {})}
    return validate_table(table, schema)


@pytest.mark.parametrize(
    "cell", [' =HYPERLINK("http://x","y")', "\n=1+1", "\u00a0=1+1", "\r\n@SUM(1)", "  +cmd"]
)
def test_a_formula_behind_whitespace_is_refused(cell):
    """The check ran on the raw cell but the stripped one was kept, and reached results."""
    _, problems = _one_column([cell], {"type": "string"})
    (problem,) = problems
    assert "formula" in problem.message
    assert "\n" not in str(problem)


def test_the_value_kept_is_the_value_checked():
    frame, problems = _one_column(["  Table 2 ", "-1.5"], {"type": "string"})
    assert problems == []
    assert frame["c"].tolist() == ["Table 2", "-1.5"]


@pytest.mark.parametrize(
    ("cell", "field_type", "message"),
    [
        ("\u0661\u0662\u0663", "integer", "the digit '\u0661' (U+0661) is not an ASCII digit"),
        ("\u0661\u0662.5", "number", "(U+0661) is not an ASCII digit"),
        ("\uff12\uff10\uff12\uff10", "year", "(U+FF12) is not an ASCII digit"),
        ("\u00b2", "integer", "(U+00B2) is not an ASCII digit"),
        ("1_6.5", "number", "not a number"),
        ("1_6", "integer", "not an integer"),
        ("inf", "number", "not a number"),
        ("nan", "number", "not a number"),
        ("0x10", "number", "not a number"),
        ("1e999", "number", "not a finite number"),
    ],
)
def test_only_plain_ascii_numbers_are_read(cell, field_type, message):
    _, problems = _one_column([cell], {"type": field_type})
    (problem,) = problems
    assert message in problem.message
    assert (problem.row, problem.column, problem.value) == (1, "c", cell)


def test_plain_numbers_still_pass():
    frame, problems = _one_column(["+1.5e3", "-.5", "5.", "12"], {"type": "number"})
    assert problems == []
    assert frame["c"].tolist() == [1500.0, -0.5, 5.0, 12.0]


@pytest.mark.parametrize(
    ("cell", "code"),
    [("Daly2018\u200b", "U+200B"), ("\ufeffDaly2018", "U+FEFF"), ("Da\u2060ly", "U+2060")],
)
def test_an_invisible_character_is_refused(cell, code):
    _, problems = _one_column([cell], {"type": "string"})
    (problem,) = problems
    assert problem.message.startswith(f"invisible character {code} (")
    assert "\\u" in str(problem), "the character is shown by its code"


def test_keys_that_differ_only_in_case_or_unicode_form_collide():
    values = ["Daly2018", "daly2018", "\uff24aly2018", "Fava2018", "Daly2018"]
    _, problems = _one_column(values, {"type": "string"}, key=True)
    assert [(p.row, p.value, p.message) for p in problems] == [
        (
            2,
            "daly2018",
            "primary key collides with row 1 ('Daly2018'): keys may not differ only "
            "in letter case or Unicode form",
        ),
        (
            3,
            "\uff24aly2018",
            "primary key collides with row 1 ('Daly2018'): keys may not differ "
            "only in letter case or Unicode form",
        ),
        (5, "Daly2018", "duplicate primary key: row 1 has the same value"),
    ]


def test_a_referenced_key_that_is_not_the_primary_key_collides_too():
    """A foreign key that targets another table's non-primary columns needs them unique."""
    canonical = {
        "resources": [
            {
                "name": "drugs",
                "path": "drugs.csv",
                "schema": {
                    "fields": [{"name": "id", "type": "integer"}, {"name": "code"}],
                    "primaryKey": "id",
                },
            },
            {
                "name": "doses",
                "path": "doses.csv",
                "schema": {
                    "fields": [{"name": "code"}],
                    "foreignKeys": [
                        {"fields": "code", "reference": {"resource": "drugs", "fields": "code"}}
                    ],
                },
            },
        ]
    }
    texts = {"drugs.csv": "id,code\n1,KET\n2,ket\n", "doses.csv": "code\nket\n"}
    with pytest.raises(DataPackageError) as info:
        validate_package(canonical, texts, canonical)
    (problem,) = info.value.problems
    assert (problem.file, problem.row, problem.column) == ("drugs.csv", 2, "code")
    assert problem.message.startswith("key collides with row 1 ('KET')")


def test_a_problem_is_one_line_whatever_its_value():
    problem = Problem("t.csv", 1, 2, "c", "a\nb\u2028c\u200b", "bad")
    assert str(problem) == "t.csv, row 1 (line 2), column 'c', value 'a\\nb\\u2028c\\u200b': bad"


def test_an_identifier_that_reads_as_missing_stays_text(tmp_path):
    """An arm called NA passed validation, then became NaN when the tables were re-read."""
    path = tmp_path / "arms.csv"
    path.write_text(to_csv_text(pd.DataFrame({"arm_id": ["NA", "None", "pbo"], "n": [1, 2, None]})))
    frame = read_validated_table(path)
    assert frame["arm_id"].tolist() == ["NA", "None", "pbo"]
    assert frame["n"].isna().tolist() == [False, False, True]


def _tar_gz(members: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue())


def test_an_archive_member_over_the_bound_is_refused_unread(monkeypatch):
    monkeypatch.setattr(package_source, "MAX_MEMBER_BYTES", 1024)
    archive = _tar_gz({"pkg/datapackage.json": b"{}", "pkg/big.csv": bytes(10_000)})
    with pytest.raises(PackageSourceError, match=r"'pkg/big\.csv' is 10000 bytes"):
        unpack_archive(archive, "release.tar.gz")


class _Trickle(http.server.BaseHTTPRequestHandler):
    """Sends a byte every 0.2 s: each read succeeds, the download never ends."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        try:
            for _ in range(100):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            pass

    def log_message(self, *args):
        pass


def test_a_trickling_server_meets_the_overall_deadline():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
    # Closing does not wait for the trickling handler (it stops by itself after 20 s).
    server.daemon_threads = True
    server.block_on_close = False
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/release.tar.gz"
    start = time.monotonic()
    try:
        with pytest.raises(PackageSourceError, match=r"not finished after 1 s"):
            download(url, deadline_s=1.0, read_timeout_s=5.0)
    finally:
        server.shutdown()
        server.server_close()
    assert time.monotonic() - start < 5


def test_a_yaml_alias_bomb_is_refused_without_expanding(tmp_path):
    path = tmp_path / "config.yaml"
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    path.write_text("\n".join(lines) + "\n")
    start = time.monotonic()
    with pytest.raises(ConfigError, match="expands to more than"):
        check_yaml_file(path)
    assert time.monotonic() - start < 5


def test_a_deep_yaml_document_is_refused(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("a: " + "[" * 100 + "]" * 100 + "\n")
    with pytest.raises(ConfigError, match="nested deeper than"):
        check_yaml_file(path)


@pytest.mark.parametrize(
    ("value", "expected"), [(0.95, 0.95), (0.5, 0.5), (95, 0.95), (99.9, 0.999), (50, 0.5)]
)
def test_confidence_levels_as_fractions_or_metafor_percentages(value, expected):
    assert confidence_level(value) == pytest.approx(expected)


@pytest.mark.parametrize("value", [np.nan, np.inf, -0.95, 0, 1, 2, 49, 100, 150])
def test_confidence_levels_outside_the_domain_are_refused(value):
    with pytest.raises(ValueError, match="not a confidence level"):
        confidence_level(value)


def test_config_level_is_checked_and_normalized():
    config = {"pooling": {"level": 95}}
    check_config(config)
    assert config["pooling"]["level"] == 0.95
    with pytest.raises(ConfigError, match=r"pooling\.level"):
        check_config({"pooling": {"level": float("nan")}})
