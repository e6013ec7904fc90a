"""The response time course figure (:mod:`ketamine_meta.figures.response_plots`): one series
per arm type, controls grey and open, each point labelled with its k."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.colors import to_hex

from ketamine_meta.figures.plotting import PLACEBO_GREY, RELAPSE_COLORS
from ketamine_meta.figures.response_plots import response_time_course_plot

TABLE = pd.DataFrame(
    {
        "timepoint_h": ["4 h", "24 h", "4 h", "24 h", "24 h"],
        "arm_type": ["placebo IV", "placebo IV", "racemic IV", "racemic IV", "esketamine IN"],
        "proportion": [0.1, 0.15, 0.4, 0.5, 0.35],
        "ci_low": [0.05, 0.1, 0.3, 0.4, 0.25],
        "ci_high": [0.2, 0.25, 0.5, 0.6, 0.45],
        "k": [2, 3, 2, 4, 6],
    }
)


def test_each_arm_type_is_a_series_with_its_windows_and_k():
    figure = response_time_course_plot(TABLE)
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["4 h", "24 h"]
    # Drug arm types first (alphabetically), then controls.
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["esketamine IN", "racemic IV", "placebo IV"]
    series = {c.get_label(): c.lines[0] for c in ax.containers}
    offsets = np.linspace(-0.18, 0.18, 3)
    np.testing.assert_allclose(
        np.asarray(series["racemic IV"].get_xdata(), float), [offsets[1], 1 + offsets[1]]
    )
    np.testing.assert_allclose(np.asarray(series["racemic IV"].get_ydata(), float), [0.4, 0.5])
    np.testing.assert_allclose(
        np.asarray(series["esketamine IN"].get_xdata(), float), [1 + offsets[0]]
    )
    # The drugs take the series colours in turn; the control is grey with an open marker.
    assert to_hex(series["esketamine IN"].get_color()) == RELAPSE_COLORS[0]
    assert to_hex(series["racemic IV"].get_color()) == RELAPSE_COLORS[1]
    placebo = series["placebo IV"]
    assert to_hex(placebo.get_color()) == to_hex(PLACEBO_GREY)
    assert (placebo.get_marker(), placebo.get_markerfacecolor()) == ("o", "white")
    assert series["racemic IV"].get_marker() == "s"
    assert sorted(t.get_text() for t in ax.texts) == ["2", "2", "3", "4", "6"]
    assert ax.get_ylim() == (0, 1)
    assert figure.texts[0].get_text().endswith("so points are not joined.")
