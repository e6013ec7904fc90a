"""The time-course figure (``figures.time_course_plots``) drawn from cells built here.

``test_time_course.py`` checks on the committed tables that no line of the figure joins
modelled cells; here four constructed trials in two arm types (made-up numbers) are drawn,
and what the figure shows is read back: each trial's course at its windows, the squares of
the primary model's cells with their intervals, what is named where, the time axis, and the
footnote that says why some cells have no square.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ketamine_meta.figures.time_course_plots import time_course_plot


def cell(group, window, hours, k, estimate=np.nan, low=np.nan, high=np.nan, model="primary"):
    return {
        "model": model,
        "method": "REML",
        "rho_fixed": 1.0,
        "group": group,
        "window": window,
        "nominal_h": hours,
        "k_trials": k,
        "estimate": estimate,
        "ci_low": low,
        "ci_high": high,
    }


CELLS = pd.DataFrame(
    [
        cell("A", "2 h", 2.0, 2, 0.5, 0.2, 0.8),
        cell("A", "24 h", 24.0, 3, 0.4, 0.25, 0.55),
        cell("A", "7 d", 168.0, 1),
        cell("B", "24 h", 24.0, 1),
        # Another model's cell: not drawn.
        cell("A", "24 h", 24.0, 3, 9.0, 8.0, 10.0, model="sensitivity"),
    ]
)
OBSERVED = pd.DataFrame(
    [
        {"study_id": s, "group": g, "position": p, "nominal_h": h, "yi": y, "vi": 0.05}
        for s, g, p, h, y in [
            ("s1", "A", 0, 2.0, 0.6),
            ("s1", "A", 1, 24.0, 0.5),
            ("s2", "A", 1, 24.0, 0.45),
            ("s2", "A", 0, 2.0, 0.4),
            ("s3", "A", 1, 24.0, 0.3),
            ("s3", "A", 2, 168.0, 0.1),
            ("s4", "B", 1, 24.0, 0.9),
        ]
    ]
)
#: Two arm types are nudged sideways by 1 -/+ 0.025; a square a further 4% to the right.
NUDGE = {"A": 0.975, "B": 1.025}


@pytest.fixture(scope="module")
def axis():
    return time_course_plot(CELLS, OBSERVED, 0.9, 2).axes[0]


def joined(axis) -> list[tuple[list, list]]:
    """The (x, y) of every solid line in data coordinates: the trials' courses."""
    return [
        (list(line.get_xdata()), list(line.get_ydata()))
        for line in axis.lines
        if line.get_linestyle() == "-"
    ]


def test_each_trial_is_one_line_through_its_own_windows_in_order(axis):
    a, b = NUDGE["A"], NUDGE["B"]
    expected = [
        ([2.0 * a, 24.0 * a], [0.6, 0.5]),
        ([2.0 * a, 24.0 * a], [0.4, 0.45]),  # s2 listed out of order, drawn in order
        ([24.0 * a, 168.0 * a], [0.3, 0.1]),
        ([24.0 * b], [0.9]),
    ]
    drawn = joined(axis)
    assert len(drawn) == len(expected)
    for (x, y), (x_expected, y_expected) in zip(drawn, expected, strict=True):
        np.testing.assert_allclose(np.asarray(x, float), x_expected)
        np.testing.assert_allclose(np.asarray(y, float), y_expected)


def test_squares_are_the_primary_model_s_cells_with_an_estimate(axis):
    (bars,) = axis.containers
    square, (low, high) = bars.lines[0], bars.lines[1]
    np.testing.assert_allclose(
        np.asarray(square.get_xdata(), float), [2.0 * 0.975 * 1.04, 24.0 * 0.975 * 1.04]
    )
    np.testing.assert_allclose(np.asarray(square.get_ydata(), float), [0.5, 0.4])
    assert square.get_marker() == "s" and square.get_linestyle() == "None"
    np.testing.assert_allclose(np.asarray(low.get_ydata(), float), [0.2, 0.25])
    np.testing.assert_allclose(np.asarray(high.get_ydata(), float), [0.8, 0.55])
    # No line anywhere reaches the other model's estimate.
    assert all(9.0 not in list(line.get_ydata()) for line in axis.lines)


def test_trials_with_a_course_and_modelled_cells_are_named(axis):
    assert [text.get_text() for text in axis.texts] == ["s1", "s2", "s3", "k = 2", "k = 3"]
    named = {text.get_text(): text.xy for text in axis.texts}
    assert named["s3"] == pytest.approx((168.0 * 0.975, 0.1))
    assert named["k = 3"] == pytest.approx((24.0 * 0.975 * 1.04, 0.55))


def test_the_legend_names_the_arm_types_and_the_level(axis):
    assert axis.get_legend_handles_labels()[1] == [
        "A: a trial's g",
        "B: a trial's g",
        "A: modelled g, 90% CI",
    ]


def test_the_time_axis_is_logarithmic_with_the_windows_as_ticks(axis):
    assert axis.get_xscale() == "log"
    assert [t.get_text() for t in axis.get_xticklabels()] == ["2 h", "24 h", "7 d"]
    assert list(axis.get_xticks()) == [2.0, 24.0, 168.0]
    assert [tuple(line.get_ydata()) for line in axis.lines if line.get_linestyle() == "--"] == [
        (0, 0)
    ]


def test_hours_from_two_days_on_are_labelled_in_days():
    observed = OBSERVED.assign(nominal_h=OBSERVED["nominal_h"].replace({2.0: 36.0, 168.0: 48.0}))
    figure = time_course_plot(CELLS.iloc[:0], observed, 0.95, 2)
    assert [t.get_text() for t in figure.axes[0].get_xticklabels()] == ["24 h", "36 h", "2 d"]


def test_the_footnote_names_the_model_and_the_cells_without_a_square():
    figure = time_course_plot(CELLS, OBSERVED, 0.95, 2)
    footnote = figure.texts[-1].get_text()
    assert footnote == (
        "Squares: modelled g of a cell with at least 2 trials (k: its trials; random trial "
        "effect, its correlation over windows fixed at 1, REML),\nnot joined: neighbouring "
        "cells hold different trials. Circles: each trial's g, joined only within the trial "
        "(named at its last window).\nToo few trials for a modelled g: A 7 d; B 24 h."
    )
    assert figure.texts[0].get_text() == "Time course of the effect on the depression score"


def test_without_a_primary_model_the_footnote_says_so_and_lists_nothing():
    figure = time_course_plot(CELLS[CELLS["model"] != "primary"], OBSERVED, 0.95, 3)
    footnote = figure.texts[-1].get_text()
    assert "at least 3 trials (k: its trials; no model was fitted)" in footnote
    assert "Too few trials" not in footnote
    assert figure.axes[0].containers == []
