"""Figures of dose (:mod:`ketamine_meta.figures.dose_plots`): what each figure draws and
labels, read back from the Matplotlib objects for small hand-made tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ketamine_meta.figures.dose_plots import (
    bioavailability_plot,
    cost_per_responder_plot,
    dose_response_plot,
    dose_response_text,
)
from ketamine_meta.figures.plotting import ROUTE_NAMES

DOSES = pd.DataFrame(
    {
        "route": ["IV", "IV", "IN"],
        "iv_equivalent_mg_per_kg": [0.2, 0.5, 0.4],
        "yi": [0.3, 0.8, 0.5],
        "vi": [0.04, 0.08, 0.02],
    }
)
LINE = pd.DataFrame(
    {
        "dose": [0.2, 0.35, 0.5],
        "estimate": [0.3, 0.5, 0.7],
        "ci_low": [0.0, 0.2, 0.3],
        "ci_high": [0.6, 0.8, 1.1],
    }
)


def test_dose_response_plot_places_each_comparison_by_route():
    ax = dose_response_plot(DOSES, LINE, "Slope 1.23").axes[0]
    assert ax.get_xlabel() == "IV-equivalent dose (mg/kg)"
    assert ax.get_ylabel() == "Hedges' g at 24 h"
    assert ax.get_title() == "Slope 1.23"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        ROUTE_NAMES["IN"],
        ROUTE_NAMES["IV"],
    ]
    points = {c.get_label(): c for c in ax.collections if c.get_label() in ROUTE_NAMES.values()}
    np.testing.assert_allclose(points[ROUTE_NAMES["IV"]].get_offsets(), [[0.2, 0.3], [0.5, 0.8]])
    # Bubble area by precision: the most precise comparison (IN, vi 0.02) is the largest.
    assert points[ROUTE_NAMES["IN"]].get_sizes()[0] == pytest.approx(280)
    np.testing.assert_allclose(points[ROUTE_NAMES["IV"]].get_sizes(), [30 + 125, 30 + 62.5])
    fitted = ax.lines[0]
    np.testing.assert_allclose(fitted.get_xdata(), LINE["dose"])
    np.testing.assert_allclose(fitted.get_ydata(), LINE["estimate"])


def test_bioavailability_plot_bars_are_the_dose_equal_to_the_reference_iv_dose():
    routes = pd.DataFrame(
        {
            "route": ["IN", "IV", "XX"],
            "equivalent_dose_mg": [70.0, 35.0, 350.0],
            "equivalent_dose_low_mg": [70.0, 35.0, 350.0],
            "equivalent_dose_high_mg": [140.0, 35.0, 350.0],
        }
    )
    arms = pd.DataFrame({"route": ["IN", "IN", "IV", "XX"], "dose_mg": [56.0, 84.0, 35.0, 10.0]})
    ax = bioavailability_plot(routes, arms, reference_mg=35, body_weight_kg=70).axes[0]
    # Routes in their fixed order; one not in the order is left out.
    assert [t.get_text() for t in ax.get_xticklabels()] == [ROUTE_NAMES["IV"], ROUTE_NAMES["IN"]]
    assert [p.get_height() for p in ax.patches] == pytest.approx([70.0, 35.0])
    # The IN range as a line from 70 to 140 mg; IV has no spread.
    (spread,) = ax.lines
    assert list(spread.get_ydata()) == pytest.approx([70.0, 140.0])
    offsets = np.vstack([c.get_offsets() for c in ax.collections])
    assert sorted(offsets[:, 1]) == [35.0, 56.0, 84.0]
    assert ax.get_ylabel() == "Dose for a 70 kg adult (mg)"
    assert ax.get_title().startswith("Bars: dose equivalent to 35 mg IV (0.5 mg/kg)")


def test_cost_per_responder_plot_sorts_routes_by_cost():
    table = pd.DataFrame(
        {
            "access_route": ["clinic", "spray", "troche"],
            "cost_per_responder": [9600.0, 16000.0, 800.0],
            "cost_per_responder_low": [8000.0, 12800.0, 500.0],
            "cost_per_responder_high": [12000.0, 25600.0, 1600.0],
        }
    )
    fig = cost_per_responder_plot(table)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["troche", "clinic", "spray"]
    assert [p.get_width() for p in ax.patches] == [800.0, 9600.0, 16000.0]
    assert ax.get_xlabel().startswith("US dollars per responder")
    assert fig.get_figheight() == pytest.approx(0.8 + 0.45 * 3)


def test_the_slope_text():
    coefficients = pd.DataFrame(
        {
            "estimate": [0.1, 1.234],
            "ci_low": [-0.2, 0.456],
            "ci_high": [0.4, 2.01],
            "pval": [0.5, 0.0123],
            "k": [9, 9],
        }
    )
    assert dose_response_text(coefficients) == (
        "Slope 1.23 per mg/kg [0.46, 2.01], p = 0.012, k = 9"
    )


def test_the_slope_text_is_the_note_where_nothing_was_fitted():
    note = "k = 2 comparisons with an IV-equivalent dose: a meta-regression needs 3"
    coefficients = pd.DataFrame(
        {"term": ["intercept", "iv_equivalent_mg_per_kg"], "k": [2, 2], "note": [note, note]}
    )
    assert dose_response_text(coefficients) == note
    # An empty line (read back from its CSV, columns of object dtype) draws no line or band.
    line = pd.DataFrame(columns=["dose", "estimate", "ci_low", "ci_high"], dtype=object)
    by_study = pd.DataFrame(
        {"route": ["IV", "IN"], "yi": [0.5, 0.3], "vi": [0.05, 0.04],
         "iv_equivalent_mg_per_kg": [0.5, 0.6]}
    )  # fmt: skip
    figure = dose_response_plot(by_study, line, note, timepoint_h=672)
    ax = figure.axes[0]
    assert not ax.lines[:-1] and not ax.collections[2:]
    assert ax.get_ylabel() == "Hedges' g at 28 d"
    assert ax.get_title() == note
