"""The time-course model of the ketamine data (PROTOCOL.md §19), on the committed tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO
from ketamine_meta.analyses.time_course import fit_cells
from ketamine_meta.stats.meta_analysis import confidence_level
from ketamine_meta.stats.multilevel import REPORTED_DIGITS

TABLES = REPO / "results" / "tables"
CONFIG = yaml.safe_load((REPO / "config" / "config.yaml").read_text())


@pytest.fixture(scope="module")
def cells() -> pd.DataFrame:
    return pd.read_csv(TABLES / "time_course_smd.csv", keep_default_na=False, na_values=[""])


@pytest.fixture(scope="module")
def observed() -> pd.DataFrame:
    return pd.read_csv(TABLES / "time_course_smd_observed.csv")


def test_every_cell_is_informed_by_its_observed_comparisons(cells, observed):
    primary = cells[cells["model"] == "primary"].set_index(["group", "window"])
    counts = observed.groupby(["group", "window"]).size()
    assert primary["k"].to_dict() == counts.to_dict()
    assert (primary["ci_low"] < primary["estimate"]).all()
    assert (primary["estimate"] < primary["ci_high"]).all()


def test_models_are_the_configured_ones(cells):
    settings = CONFIG["time_course"]
    models = list(dict.fromkeys(cells["model"]))
    assert models[0] == "primary"
    assert set(cells.loc[cells["model"] == "primary", "structure"]) == {settings["structures"][0]}
    expected = {f"structure {s}" for s in settings["structures"][1:]} | {
        f"sampling correlation {c:g}"
        for c in settings["sampling_correlation_range"]
        if c != settings["sampling_correlation"]
    }
    assert set(models[1:]) == expected


def test_only_observed_groups_and_windows_are_estimated(cells, observed):
    primary = cells[cells["model"] == "primary"]
    assert set(zip(primary["group"], primary["window"], strict=True)) == set(
        zip(observed["group"], observed["window"], strict=True)
    )
    assert set(primary["group"]) <= set(CONFIG["time_course"]["groups"])


def test_a_boundary_autocorrelation_is_flagged(cells):
    edge = cells["rho"].abs() > 0.999
    assert cells.loc[edge, "note"].str.contains("do not identify").all()
    assert not cells.loc[~edge, "note"].fillna("").str.contains("do not identify").any()


def test_one_comparison_per_cell_reproduces_its_own_estimate(observed):
    """With a single observation in a cell and no shared parameters pulling it, the modelled
    g is that observation."""
    single = observed[observed["comparison_id"] == observed["comparison_id"].iloc[0]].head(1)
    rows = pd.concat([single, observed[observed["group"] != single["group"].iloc[0]]])
    table = fit_cells(rows, "AR", 0.5, 0.95, "check")
    own = table[(table["group"] == single["group"].iloc[0])]
    assert own["estimate"].iloc[0] == pytest.approx(single["yi"].iloc[0], abs=1e-8)


def test_the_committed_models_are_refitted_from_the_committed_observed_g(cells, observed):
    """fit_cells (per-comparison covariance blocks) reproduces every model of the table from the
    g it was fitted to, to the REPORTED_DIGITS significant digits the table is written with
    (half a unit in the last digit)."""
    level = confidence_level(CONFIG["pooling"]["level"])
    models = cells[["model", "structure", "sampling_correlation", "method"]].drop_duplicates()
    for model, structure, correlation, method in models.itertuples(index=False):
        refit = fit_cells(observed, structure, correlation, level, model, method)
        table = cells[cells["model"] == model].reset_index(drop=True)
        assert refit[["group", "window"]].equals(table[["group", "window"]]), model
        for name in ("estimate", "se", "ci_low", "ci_high", "rho"):
            np.testing.assert_allclose(
                refit[name], table[name], rtol=0.5 * 10.0 ** (1 - REPORTED_DIGITS), err_msg=name
            )
