"""Bad input: a clear message naming file, row, column and value, a non-zero exit, and no
output written. Each case edits one cell (or line) of a temporary copy of data/raw."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from conftest import copy_repo, run_snakemake, tree_digest

pytestmark = pytest.mark.pipeline


def edit_cell(path: Path, row: int, column: str, value: str) -> None:
    """Set one cell of a CSV (row is the 1-based data row)."""
    rows = list(csv.DictReader(path.open(newline="", encoding="utf-8")))
    rows[row - 1][column] = value
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")


def first_row(path: Path, **match: str) -> int:
    for i, rec in enumerate(csv.DictReader(path.open(newline="", encoding="utf-8")), start=1):
        if all(rec[k] == v for k, v in match.items()):
            return i
    raise LookupError(match)


@pytest.fixture
def repo(tmp_path) -> Path:
    return copy_repo(tmp_path / "repo")


def run_and_check(repo: Path, expected: list[str]) -> str:
    before = tree_digest(repo / "results")
    result = run_snakemake(repo)
    message = result.stdout + result.stderr
    assert result.returncode != 0
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in:\n{message[-3000:]}"
    assert tree_digest(repo / "results") == before, "results/ changed after a failed run"
    assert not (repo / "data/processed/effect_sizes.csv").exists()
    return message


def test_responders_exceed_n(repo):
    path = repo / "data/raw/outcomes.csv"
    row = first_row(path, outcome="response")
    n = int(list(csv.DictReader(path.open()))[row - 1]["n"])
    edit_cell(path, row, "events", str(n + 5))
    run_and_check(repo, ["outcomes.csv", f"row {row}", "column 'events'", "events exceed n"])


def test_negative_sd(repo):
    path = repo / "data/raw/outcomes.csv"
    row = first_row(path, sd_source="reported")
    edit_cell(path, row, "sd", "-3.2")
    run_and_check(repo, ["outcomes.csv", f"row {row}", "column 'sd'", "value '-3.2'"])


def test_unknown_route(repo):
    path = repo / "data/raw/arms.csv"
    edit_cell(path, 1, "route", "transdermal")
    run_and_check(
        repo,
        [
            "arms.csv",
            "row 1",
            "column 'route'",
            "value 'transdermal'",
            "not one of the allowed values",
        ],
    )


def test_missing_source(repo):
    path = repo / "data/raw/outcomes.csv"
    edit_cell(path, 2, "source_id", "no_such_source")
    run_and_check(
        repo, ["outcomes.csv", "row 2", "column 'source_id'", "no_such_source", "sources.csv"]
    )


def test_duplicate_study_id(repo):
    path = repo / "data/raw/studies.csv"
    first = next(csv.DictReader(path.open()))["study_id"]
    edit_cell(path, 2, "study_id", first)
    run_and_check(
        repo,
        ["studies.csv", "row 2", "column 'study_id'", f"value '{first}'", "duplicate primary key"],
    )


def test_non_numeric_n(repo):
    path = repo / "data/raw/outcomes.csv"
    row = first_row(path, outcome="response")
    edit_cell(path, row, "n", "twelve")
    run_and_check(
        repo, ["outcomes.csv", f"row {row}", "column 'n'", "value 'twelve'", "not an integer"]
    )


def test_truncated_csv(repo):
    path = repo / "data/raw/outcomes.csv"
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    cut = len("\n".join(lines[:-1])) + 1 + len(lines[-1]) // 3
    path.write_text(text[:cut], encoding="utf-8")
    last_row = len(lines) - 1
    run_and_check(repo, ["outcomes.csv", f"row {last_row}", "column '", "truncated row"])


def test_bad_config_value(repo):
    config = repo / "config/config.yaml"
    config.write_text(config.read_text().replace("method: REML", "method: REMLX"))
    run_and_check(repo, ["method", "REMLX"])


def test_data_raw_is_never_written(repo):
    before = tree_digest(repo / "data/raw")
    result = run_snakemake(repo, "--forceall")
    assert result.returncode == 0, result.stderr[-3000:]
    assert tree_digest(repo / "data/raw") == before
