"""The fast workflow test: the whole workflow on the small package of .test/.

`snakemake --directory .test` (``make test-workflow``) runs every rule of the workflow on
eleven trials (tools/make_test_package.py) with the repository's own configuration, as the
Snakemake workflow catalog's .test layout does.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from conftest import REPO, copy_repo, run_snakemake, tree_digest

sys.path.insert(0, str(REPO / "tools"))
from make_test_package import TEST_STUDIES, subset_package

TEST_DIR = REPO / ".test"
# The second configuration (the catalog's several .test configs): 28 days and DL, not 24 h and
# REML, so that nothing of the workflow may assume the primary timepoint or the estimator.
DAY_28 = TEST_DIR / "config_28d"


def test_test_config_is_the_repository_config():
    """Only the data differ between the fast test and the real run."""
    test_config = yaml.safe_load((TEST_DIR / "config/config.yaml").read_text())
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    assert test_config == config


def _differences(ours, theirs, path=()) -> dict[tuple, tuple]:
    if isinstance(ours, dict) and isinstance(theirs, dict):
        found = {}
        for key in ours.keys() | theirs.keys():
            found |= _differences(ours.get(key), theirs.get(key), (*path, key))
        return found
    return {} if ours == theirs else {path: (ours, theirs)}


def test_the_second_test_config_changes_only_timepoint_estimator_and_windows():
    day_28 = yaml.safe_load((DAY_28 / "config/config.yaml").read_text())
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    assert _differences(day_28, config) == {
        ("data", "source"): ("../data/raw", "data/raw"),
        ("pooling", "timepoint_h"): (672, 24),
        ("pooling", "method"): ("DL", "REML"),
        ("multiverse", "windows"): (
            [
                {"name": "600-700 h", "low_h": 600, "high_h": 700},
                {"name": "500-800 h", "low_h": 500, "high_h": 800},
            ],
            config["multiverse"]["windows"],
        ),
    }
    # The claims and reproductions are the small test's own.
    for name in ("claims.yaml", "reproductions"):
        assert (DAY_28 / "config" / name).resolve() == (TEST_DIR / "config" / name).resolve()


def _rows(path) -> list[tuple]:
    return list(pd.read_csv(path, dtype=str, keep_default_na=False).itertuples(index=False))


def test_small_package_is_what_the_tool_writes(tmp_path):
    """The rows of the eleven trials are what the tool selects from the live package today; a
    table of no particular trial (sources, claims, ...) may have grown since the small package
    was cut, so its rows need only all still be there. A trial added to the live package
    leaves this green; a corrected row of one of the eight says: rerun
    tools/make_test_package.py."""
    subset_package(REPO / "data/raw", tmp_path / "raw", TEST_STUDIES)
    descriptor = json.loads((REPO / "data/raw/datapackage.json").read_text())
    for resource in descriptor["resources"]:
        produced = _rows(tmp_path / "raw" / resource["path"])
        committed = _rows(TEST_DIR / "data/raw" / resource["path"])
        per_trial = any(
            key["reference"]["resource"] in ("studies", "arms")
            for key in resource["schema"].get("foreignKeys", [])
        )
        if per_trial or resource["name"] == "studies":
            assert committed == produced, f"{resource['path']}: rerun tools/make_test_package.py"
        else:
            missing = set(committed) - set(produced)
            assert not missing, (
                f"{resource['path']}: rows gone from data/raw: {sorted(missing)[:3]}"
            )


def test_small_package_keeps_only_its_trials_and_their_rows():
    studies = pd.read_csv(TEST_DIR / "data/raw/studies.csv")
    assert sorted(studies["study_id"]) == sorted(TEST_STUDIES)
    for table in ("arms", "outcomes", "contrasts", "adverse_events", "relapse"):
        rows = pd.read_csv(TEST_DIR / f"data/raw/{table}.csv")
        full = pd.read_csv(REPO / f"data/raw/{table}.csv")
        assert set(rows["study_id"]) <= set(TEST_STUDIES), table
        assert len(rows) == full["study_id"].isin(TEST_STUDIES).sum(), table


@pytest.mark.pipeline
def test_whole_workflow_runs_on_the_small_package(tmp_path):
    work = copy_repo(tmp_path / "repo")
    for derived in ("results", "data/processed"):
        shutil.rmtree(work / ".test" / derived, ignore_errors=True)
    raw_before = tree_digest(work / ".test/data/raw")

    result = run_snakemake(work, "--directory", ".test")

    assert result.returncode == 0, result.stderr[-4000:]
    produced = work / ".test/results"
    # Every table and figure of the full run, and each table's report page.
    for folder, pattern in (("tables", "*.csv"), ("figures", "*.*"), ("report/tables", "*")):
        expected = {p.name for p in (REPO / "results" / folder).glob(pattern)}
        assert {p.name for p in (produced / folder).glob(pattern)} == expected, folder
    pooled = pd.read_csv(produced / "tables/pooled_smd_24h_by_route.csv").set_index("subgroup")
    by_study = pd.read_csv(produced / "tables/smd_24h_by_study.csv")
    assert set(by_study["study_id"]) <= set(TEST_STUDIES)
    assert pooled.loc["overall", "k"] == len(by_study)
    assert tree_digest(work / ".test/data/raw") == raw_before
    # The repository's own results are untouched by a run in .test.
    assert tree_digest(work / "results/tables") == tree_digest(REPO / "results/tables")
    claims = pd.read_csv(produced / "tables/claims_audit.csv")
    missing = claims[claims["why"].str.contains("in the data package", na=False)]
    assert set(missing["verdict"]) == {"not testable with these data"}
    assert len(missing) >= 1


@pytest.mark.pipeline
def test_whole_workflow_runs_with_another_timepoint_and_estimator(tmp_path):
    """Every registered output of the 28-day DL configuration is written, named for 672 h, with
    DL fits, and ``explain`` traces its analyses from that run's registry."""
    work = copy_repo(tmp_path / "repo")
    directory = work / ".test/config_28d"
    result = run_snakemake(work, "--directory", ".test/config_28d")

    assert result.returncode == 0, result.stderr[-4000:]
    registry = json.loads((directory / "results/outputs.json").read_text())
    assert "smd_672h" in registry["traced"] and "smd_24h" not in registry["traced"]
    stems = [t["stem"] for s in registry["slices"].values() for t in s["tables"].values()]
    assert not [stem for stem in stems if "24h" in stem]
    for stem in stems:
        assert (directory / f"results/tables/{stem}.csv").is_file(), stem
        assert (directory / f"results/report/tables/{stem}.html").is_file(), stem
    pooled = pd.read_csv(directory / "results/tables/pooled_smd_672h_by_route.csv")
    assert set(pooled["method"].dropna()) == {"DL"}
    by_study = pd.read_csv(directory / "results/tables/smd_672h_by_study.csv")
    assert set(by_study["timepoint_h"]) <= set(range(600, 701))
    explained = subprocess.run(
        [sys.executable, "-m", "ketamine_meta.cli.commands", "explain", "smd_672h",
         "--root", str(directory)],
        capture_output=True, text=True, check=False, cwd=work,
    )  # fmt: skip
    assert explained.returncode == 0, explained.stderr
    assert f"{len(by_study)} row(s) from" in explained.stdout
