"""Figures of safety (:mod:`ketamine_meta.figures.safety_plots`): the adverse-event risk
ratios per trial and pooled, and dissociation against effect, read back for small tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ketamine_meta.figures.plotting import MAX_TRIAL_ROWS
from ketamine_meta.figures.safety_plots import (
    adverse_event_plot,
    dissociation_slope_text,
    dissociation_vs_effect_plot,
)
from ketamine_meta.stats.distributions import norm_ppf
from ketamine_meta.stats.meta_analysis import OVERALL_LABEL

Z = norm_ppf(0.975)
EVENTS = pd.DataFrame(
    {
        "event": ["dissociation"] * 3 + ["nausea"],
        "study_id": ["A", "B", OVERALL_LABEL, "A"],
        "label": ["A (racemic IV)", "B (esketamine IN)", "Pooled (2 trials)", "A (racemic IV)"],
        "yi": [np.log(4.0), np.log(2.0), np.log(3.0), 0.0],
        "vi": [0.25, 0.16, np.nan, 0.2],
        "ci_low": [np.nan, np.nan, np.log(1.5), np.nan],
        "ci_high": [np.nan, np.nan, np.log(6.0), np.nan],
    }
)


def test_adverse_event_plot_trials_sorted_then_the_pooled_row():
    ax = adverse_event_plot(EVENTS, "dissociation").axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "B (esketamine IN)",
        "A (racemic IV)",
        "Pooled (2 trials)",
    ]
    # Each row: its CI line, then its point, on the risk-ratio scale.
    b_ci, b_point, a_ci, _, pooled_ci, pooled_point = ax.lines[:6]
    np.testing.assert_allclose(b_ci.get_xdata(), np.exp(np.log(2.0) + np.array([-1, 1]) * Z * 0.4))
    np.testing.assert_allclose(a_ci.get_xdata(), np.exp(np.log(4.0) + np.array([-1, 1]) * Z * 0.5))
    np.testing.assert_allclose(pooled_ci.get_xdata(), [1.5, 6.0])
    assert pooled_point.get_xdata()[0] == pytest.approx(3.0)
    assert pooled_point.get_marker() == "D" and b_point.get_marker() == "s"
    # The pooled row is set apart by half a row.
    assert list(b_ci.get_ydata()) == [2.0, 2.0] and list(pooled_ci.get_ydata()) == [-0.5, -0.5]
    assert ax.get_xscale() == "log" and 1 in ax.get_xticks()
    assert ax.get_title() == "Adverse event: dissociation"
    assert ax.get_xlabel() == "Risk ratio (drug / control)"


def test_too_many_trials_leave_only_the_pooled_row():
    many = pd.concat(
        [EVENTS.iloc[[0]].assign(study_id=f"T{i}") for i in range(MAX_TRIAL_ROWS + 1)]
        + [EVENTS.iloc[[2]]]
    )
    ax = adverse_event_plot(many, "dissociation").axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Pooled (2 trials)"]
    assert ax.get_title() == (
        f"Adverse event: dissociation ({MAX_TRIAL_ROWS + 1} trials, rows in the table)"
    )


TABLE = pd.DataFrame(
    {
        "label": ["A", "B", "C"],
        "dissociation_share": [0.3, 0.1, 0.5],
        "yi": [0.9, 0.3, 0.5],
        "vi": [0.1, 0.05, 0.05],
    }
)


def test_dissociation_vs_effect_plot_places_and_names_each_comparison():
    ax = dissociation_vs_effect_plot(TABLE, "Slope 0.50").axes[0]
    (series,) = ax.containers
    np.testing.assert_allclose(np.asarray(series.lines[0].get_xdata(), float), [30, 10, 50])
    np.testing.assert_allclose(np.asarray(series.lines[0].get_ydata(), float), [0.9, 0.3, 0.5])
    labels = [t for t in ax.texts if t.get_text() in {"A", "B", "C"}]
    assert [t.get_text() for t in labels] == ["A", "B", "C"]
    # Alternately above and below the point.
    assert [t.xyann[1] for t in labels] == [10, -14, 10]
    assert ax.get_xlim() == (0, 100) and ax.get_title() == "Slope 0.50"


def test_dissociation_slope_text():
    fitted = pd.DataFrame(
        {
            "term": ["intercept", "share"],
            "estimate": [0.2, 1.234],
            "pval": [0.5, 0.0456],
            "k": [5, 5],
            "note": ["", ""],
        }
    )
    assert dissociation_slope_text(fitted) == "Slope 1.23 per unit share, p = 0.046, k = 5"
    note = "k = 2: a meta-regression is not estimable (no CADSS scores could be read)"
    short = pd.DataFrame([{"term": "share", "k": 2, "note": note}])
    assert dissociation_slope_text(short) == note
