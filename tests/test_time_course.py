"""The time-course model of the ketamine data (PROTOCOL.md §19), on the committed tables and
on constructed trials."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO
from ketamine_meta.analyses.protocol import Pooling
from ketamine_meta.analyses.time_course import POOLED, fit_cells, window_contrasts
from ketamine_meta.figures.time_course_plots import time_course_plot
from ketamine_meta.stats.meta_analysis import random_effects
from ketamine_meta.stats.model import ModelSpec
from ketamine_meta.stats.multilevel import REPORTED_DIGITS

TABLES = REPO / "results" / "tables"
CONFIG = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
SETTINGS = CONFIG["time_course"]
POOLING = Pooling.from_config(CONFIG["pooling"])
LEVEL = POOLING.model.level


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(TABLES / name, keep_default_na=False, na_values=[""])


@pytest.fixture(scope="module")
def cells() -> pd.DataFrame:
    return _read("time_course_smd.csv")


@pytest.fixture(scope="module")
def observed() -> pd.DataFrame:
    return _read("time_course_smd_observed.csv")


@pytest.fixture(scope="module")
def contrasts() -> pd.DataFrame:
    return _read("time_course_smd_contrasts.csv")


# --- The committed tables -----------------------------------------------------------------------


def test_a_trial_enters_each_cell_once(observed):
    """Dose arms of one formulation are combined: Daly 2018 is one trial, not three."""
    assert not observed.duplicated(["study_id", "group", "window"]).any()
    daly = observed[observed["study_id"] == "Daly2018"]
    assert set(daly["comparison_id"]) == {"Daly2018:esk28+esk56+esk84-vs-pbo"}


def test_the_correlation_over_windows_is_fixed_not_estimated(cells):
    """The v1.5 fits put rho at +1 or -1 by the sampling correlation: it is now stated."""
    assert "rho" not in cells.columns
    primary = cells[cells["model"] == "primary"]
    assert set(primary["rho_fixed"]) == {SETTINGS["random_correlation"]}
    sensitivity = cells[cells["model"].str.startswith("random-effects correlation")]
    assert set(sensitivity["rho_fixed"]) == set(SETTINGS["random_correlation_range"]) - {
        SETTINGS["random_correlation"]
    }
    assert cells["converged"].all()


def test_cells_count_trials_and_name_them(cells, observed):
    primary = cells[cells["model"] == "primary"].set_index(["group", "window"])
    trials = observed.groupby(["group", "window"])["study_id"].agg(lambda s: ";".join(sorted(s)))
    assert primary["studies"].to_dict() == trials.to_dict()
    assert (primary["k_trials"] == primary["studies"].str.count(";") + 1).all()


def test_a_cell_of_one_trial_prints_no_estimate(cells):
    """Racemic IN at 24 h is Lapidus 2014 alone; esketamine IN at 7 d is Daly 2018 alone."""
    few = cells[cells["k_trials"] < SETTINGS["min_trials"]]
    assert {("racemic IN", "24 h"), ("esketamine IN", "7 d")} <= set(
        zip(few["group"], few["window"], strict=True)
    )
    assert few[["estimate", "se", "ci_low", "ci_high"]].isna().all().all()
    for _, row in few.iterrows():
        assert row["studies"] in row["note"] and "not pooled" in row["note"]
    shown = cells[cells["k_trials"] >= SETTINGS["min_trials"]]
    assert shown[["estimate", "ci_low", "ci_high"]].notna().all().all()
    assert (shown["ci_low"] < shown["estimate"]).all()
    assert (shown["estimate"] < shown["ci_high"]).all()


def test_models_are_the_configured_ones(cells):
    models = list(dict.fromkeys(cells["model"]))
    assert models[0] == "primary"
    assert set(cells.loc[cells["model"] == "primary", "structure"]) == {SETTINGS["structures"][0]}
    expected = (
        {f"structure {s}" for s in SETTINGS["structures"][1:]}
        | {
            f"random-effects correlation {c:g}"
            for c in SETTINGS["random_correlation_range"]
            if c != SETTINGS["random_correlation"]
        }
        | {
            f"sampling correlation {c:g}"
            for c in SETTINGS["sampling_correlation_range"]
            if c != SETTINGS["sampling_correlation"]
        }
    )
    assert set(models[1:]) == expected


def test_only_observed_groups_and_windows_are_estimated(cells, observed):
    primary = cells[cells["model"] == "primary"]
    assert set(zip(primary["group"], primary["window"], strict=True)) == set(
        zip(observed["group"], observed["window"], strict=True)
    )
    assert set(primary["group"]) <= set(SETTINGS["groups"])


def test_every_trial_with_two_windows_has_its_contrasts(contrasts, observed):
    """d = g(later) - g(earlier) of the same trial, SE from the assumed sampling correlation."""
    trial_rows = contrasts[contrasts["study_id"] != POOLED]
    r = SETTINGS["sampling_correlation"]
    expected = 0
    for (study, group), rows in observed.groupby(["study_id", "group"]):
        rows = rows.sort_values("position").reset_index(drop=True)
        for i in range(len(rows)):
            for j in range(i + 1, len(rows)):
                expected += 1
                a, b = rows.iloc[i], rows.iloc[j]
                row = trial_rows[
                    (trial_rows["study_id"] == study)
                    & (trial_rows["group"] == group)
                    & (trial_rows["window_from"] == a["window"])
                    & (trial_rows["window_to"] == b["window"])
                ]
                variance = (
                    a["vi"]
                    + b["vi"]
                    - 2 * r ** (b["position"] - a["position"]) * np.sqrt(a["vi"] * b["vi"])
                )
                assert row["estimate"].iloc[0] == pytest.approx(b["yi"] - a["yi"], rel=1e-9)
                assert row["se"].iloc[0] == pytest.approx(np.sqrt(variance), rel=1e-9)
    assert len(trial_rows) == expected > 0


def test_contrasts_are_pooled_over_enough_trials_only(contrasts):
    trial_rows = contrasts[contrasts["study_id"] != POOLED]
    pooled = contrasts[contrasts["study_id"] == POOLED].set_index(
        ["group", "window_from", "window_to"]
    )
    counts = trial_rows.groupby(["group", "window_from", "window_to"]).size()
    assert set(pooled.index) == set(counts[counts >= SETTINGS["min_trials"]].index)
    for key, row in pooled.iterrows():
        rows = trial_rows.set_index(["group", "window_from", "window_to"]).loc[[key]]
        fit = random_effects(rows["estimate"], rows["se"] ** 2, **POOLING.model.arguments)
        assert row["k_trials"] == len(rows)
        assert row["estimate"] == pytest.approx(fit.estimate, rel=1e-9)
        assert row["ci_low"] == pytest.approx(fit.ci_low, rel=1e-9)


def test_the_committed_models_are_refitted_from_the_committed_observed_g(cells, observed):
    """fit_cells (per-trial covariance blocks) reproduces every model of the table from the g
    it was fitted to, to the REPORTED_DIGITS significant digits the table is written with
    (half a unit in the last digit)."""
    models = cells[
        ["model", "structure", "sampling_correlation", "rho_fixed", "method"]
    ].drop_duplicates()
    for model, structure, correlation, rho, method in models.itertuples(index=False):
        refit = fit_cells(
            observed, structure, correlation, rho, LEVEL, model, method, SETTINGS["min_trials"]
        )
        table = cells[cells["model"] == model].reset_index(drop=True)
        assert refit[["group", "window"]].equals(table[["group", "window"]]), model
        for name in ("estimate", "se", "ci_low", "ci_high"):
            np.testing.assert_allclose(
                refit[name], table[name], rtol=0.5 * 10.0 ** (1 - REPORTED_DIGITS), err_msg=name
            )


def test_the_figure_draws_no_curve_through_cells(cells, observed):
    """Every line of the figure is one trial's own course: none joins modelled cells, and
    none crosses from one trial to another."""
    figure = time_course_plot(cells, observed, LEVEL, SETTINGS["min_trials"])
    (ax, *_) = figure.axes
    courses = {
        tuple(np.round(rows.sort_values("position")["yi"], 9))
        for _, rows in observed.groupby(["study_id", "group"])
    }
    # Lines in data coordinates drawn as lines (the zero line spans the axes; error bars'
    # markers are not joined).
    joined = [
        line
        for line in ax.lines
        if line.get_transform() == ax.transData
        and len(line.get_ydata()) > 1
        and line.get_linestyle() not in ("None", "", " ")
    ]
    assert joined
    for line in joined:
        assert tuple(np.round(np.asarray(line.get_ydata(), float), 9)) in courses


# --- Constructed trials -------------------------------------------------------------------------


def _observed(rows: list[tuple[str, str, int, float, float]]) -> pd.DataFrame:
    windows = {0: ("2 h", 2.0), 1: ("24 h", 24.0), 2: ("7 d", 168.0)}
    return pd.DataFrame(
        [
            {
                "study_id": study,
                "comparison_id": f"{study}:a-vs-p",
                "group": group,
                "window": windows[position][0],
                "position": position,
                "nominal_h": windows[position][1],
                "yi": yi,
                "vi": vi,
            }
            for study, group, position, yi, vi in rows
        ]
    )


CONSTRUCTED = _observed(
    [
        ("s1", "A", 0, 0.6, 0.05),
        ("s1", "A", 1, 0.5, 0.05),
        ("s2", "A", 0, 0.4, 0.04),
        ("s2", "A", 1, 0.45, 0.04),
        ("s3", "A", 1, 0.3, 0.02),
        ("s3", "A", 2, 0.1, 0.03),
        ("s4", "B", 1, 0.9, 0.1),
    ]
)


def test_a_one_trial_cell_is_fitted_but_blank():
    table = fit_cells(CONSTRUCTED, "AR", 0.5, 1.0, 0.95, "check", "REML", 2).set_index(
        ["group", "window"]
    )
    assert table.loc[("A", "24 h"), "k_trials"] == 3
    assert np.isfinite(table.loc[("A", "24 h"), "estimate"])
    for cell, trial in ((("A", "7 d"), "s3"), (("B", "24 h"), "s4")):
        assert np.isnan(table.loc[cell, "estimate"]) and np.isnan(table.loc[cell, "ci_high"])
        assert f"1 trial ({trial})" in table.loc[cell, "note"]
    assert set(table["rho_fixed"]) == {1.0}


def test_window_contrast_variance_uses_the_sampling_correlation():
    table = window_contrasts(CONSTRUCTED, 0.5, ModelSpec("REML", "knha", 0.95), 2)
    s1 = table[(table["study_id"] == "s1")].iloc[0]
    assert s1["estimate"] == pytest.approx(-0.1)
    # 0.05 + 0.05 - 2 * 0.5 * 0.05 = 0.05
    assert s1["se"] == pytest.approx(np.sqrt(0.05))
    s3 = table[(table["study_id"] == "s3")].iloc[0]
    # One window apart (24 h to 7 d): 0.02 + 0.03 - 2 * 0.5 * sqrt(0.0006).
    assert s3["se"] == pytest.approx(np.sqrt(0.05 - np.sqrt(0.0006)))
    pooled = table[table["study_id"] == POOLED]
    assert list(zip(pooled["window_from"], pooled["window_to"], strict=True)) == [("2 h", "24 h")]
    assert pooled["studies"].iloc[0] == "s1;s2"
