"""The hardening review's findings as unit tests: each fails on the code before it.

Path traversal through the descriptor, spreadsheet formula injection, unbounded work (a YAML
alias bomb, a trickling server, an archive with a huge member), identifiers read back as
missing values, and confidence levels outside their domain.
"""

from __future__ import annotations

import gzip
import http.server
import io
import tarfile
import threading
import time

import numpy as np
import pandas as pd
import pytest

from ketamine_meta.cli.tables import to_csv_text
from ketamine_meta.evidence import package_source
from ketamine_meta.evidence.configuration import ConfigError, check_config, check_yaml_file
from ketamine_meta.evidence.datapackage import formula_problem
from ketamine_meta.evidence.package_files import read_validated_table
from ketamine_meta.evidence.package_source import (
    PackageSourceError,
    download,
    parse_descriptor,
    safe_member_path,
    unpack_archive,
)
from ketamine_meta.stats.meta_analysis import confidence_level


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
