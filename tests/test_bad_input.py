"""Bad input: a clear message naming file, row, column and value, a non-zero exit, and no
output written. Each case edits one cell (or line) of a temporary copy of data/raw."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
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


def run_and_check(repo: Path, expected: list[str], early: bool = True) -> str:
    before = tree_digest(repo / "results")
    result = run_snakemake(repo)
    message = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in message, message[-3000:]
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in:\n{message[-3000:]}"
    assert tree_digest(repo / "results") == before, "results/ changed after a failed run"
    if early:
        # Refused before the analyses: not even the effect sizes were computed.
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


# --- Hardening: hostile inputs through the whole workflow -------------------------------


def test_descriptor_path_traversal_writes_nothing_outside_the_package(repo):
    """A resource path of ../../raw/outcomes.csv once made pull overwrite data/raw."""
    descriptor = repo / "data/raw/datapackage.json"
    data = json.loads(descriptor.read_text())
    data["resources"][2]["path"] = "../../raw/outcomes.csv"
    descriptor.write_text(json.dumps(data, indent=2))
    raw_before = tree_digest(repo / "data/raw")
    run_and_check(repo, ["resources[2].path", "../../raw/outcomes.csv", "inside the package"])
    assert tree_digest(repo / "data/raw") == raw_before
    assert not (repo / "data/processed/package").exists()


def test_header_only_outcomes_are_refused_before_any_analysis(repo):
    path = repo / "data/raw/outcomes.csv"
    path.write_text(path.read_text().split("\n", 1)[0] + "\n")
    run_and_check(repo, ["outcomes.csv", "no data rows"])


def test_nan_confidence_level_is_refused(repo):
    config = repo / "config/config.yaml"
    config.write_text(config.read_text().replace("level: 0.95", "level: .nan"))
    run_and_check(repo, ["pooling.level", "not a confidence level"])


def test_yaml_alias_bomb_is_refused_quickly(repo):
    config = repo / "config/config.yaml"
    bomb = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    bomb += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 8)]
    config.write_text(config.read_text() + "\n".join(bomb) + "\n")
    run_and_check(repo, ["config/config.yaml", "expands to more than"])


def test_a_late_failure_restores_the_committed_results(repo):
    """Analyses rewrite tables, then the claims audit fails: results/ is put back whole."""
    outcomes = repo / "data/raw/outcomes.csv"
    row = first_row(outcomes, study_id="Murrough2013", outcome="depression_score")
    edit_cell(outcomes, row, "mean", "-30.5")
    claims = repo / "config/claims.yaml"
    claims.write_text(
        claims.read_text().replace("{test: smd_overall_range}", "{test: no_such_test}", 1)
    )
    message = run_and_check(repo, ["unknown test 'no_such_test'"], early=False)
    assert "results/ restored" in message


def test_stale_lock_after_a_kill_is_cleared(repo):
    locks = repo / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    (locks / "0.input.lock").write_text("stale")
    snakemake = Path(sys.executable).with_name("snakemake")
    result = subprocess.run(
        [sys.executable, "tools/clear_stale_lock.py", str(snakemake)],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "removed a stale Snakemake lock" in result.stdout
    assert not any(locks.iterdir()) if locks.exists() else True
