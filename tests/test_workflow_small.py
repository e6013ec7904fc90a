"""The fast workflow test: the whole workflow on the small package of .test/.

`snakemake --directory .test` (``make test-workflow``) runs every rule of the workflow on
eight trials (tools/make_test_package.py) with the repository's own configuration, as the
Snakemake workflow catalog's .test layout does.
"""

from __future__ import annotations

import json
import shutil
import sys

import pandas as pd
import pytest
import yaml

from conftest import REPO, copy_repo, run_snakemake, tree_digest

sys.path.insert(0, str(REPO / "tools"))
from make_test_package import TEST_STUDIES, subset_package

TEST_DIR = REPO / ".test"


def test_test_config_is_the_repository_config():
    """Only the data differ between the fast test and the real run."""
    test_config = yaml.safe_load((TEST_DIR / "config/config.yaml").read_text())
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    assert test_config == config


def _rows(path) -> list[tuple]:
    return list(pd.read_csv(path, dtype=str, keep_default_na=False).itertuples(index=False))


def test_small_package_is_what_the_tool_writes(tmp_path):
    """The rows of the eight trials are what the tool selects from the live package today; a
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
