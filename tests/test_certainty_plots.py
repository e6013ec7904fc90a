"""Risk-of-bias figures (:mod:`ketamine_meta.figures.certainty_plots`): the robvis
traffic-light and summary plots, read back for a small table of judgements."""

from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.colors import to_hex

from ketamine_meta.figures.certainty_plots import (
    JUDGEMENT_COLOURS,
    summary_plot,
    traffic_light_plot,
)
from ketamine_meta.figures.plotting import MAX_TRIAL_ROWS

TABLE = pd.DataFrame(
    {
        "study_id": ["B", "B", "B", "A", "A", "A", "A"],
        "domain": [
            "overall",
            "random_sequence_generation",
            "functional_unblinding",
            "random_sequence_generation",
            "allocation_concealment",
            "functional_unblinding",
            "overall",
        ],
        "judgement": ["high", "low", "high", "low", "some concerns", "high", "unclear"],
    }
)


def test_traffic_light_plot_one_dot_per_judgement_in_robvis_colours():
    figure = traffic_light_plot(TABLE)
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["D1", "D2", "FU", "Overall"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["A", "B"]
    dots = {tuple(c.get_offsets()[0]): to_hex(c.get_facecolor()[0]) for c in ax.collections}
    # B has no allocation-concealment judgement: blank at (D2, B).
    assert len(dots) == 7 and (1.0, 1.0) not in dots
    assert dots[(1.0, 0.0)] == JUDGEMENT_COLOURS["some concerns"].lower()
    assert dots[(2.0, 1.0)] == JUDGEMENT_COLOURS["high"].lower()
    assert dots[(0.0, 1.0)] == JUDGEMENT_COLOURS["low"].lower()
    key = figure.texts[0].get_text()
    assert key.startswith("D1 Random sequence generation; D2 Allocation concealment; FU ")
    legend = [t.get_text() for t in figure.legends[0].get_texts()]
    assert legend == ["Low", "Unclear / some concerns", "High"]


def test_traffic_light_plot_without_judgements_or_with_too_many_trials_says_so():
    empty = traffic_light_plot(TABLE.iloc[:0])
    assert [t.get_text() for t in empty.texts][-1] == "0 trials with a judgement: nothing to draw."
    many = pd.DataFrame(
        {
            "study_id": [f"T{i}" for i in range(MAX_TRIAL_ROWS + 1)],
            "domain": "overall",
            "judgement": "low",
        }
    )
    text = [t.get_text() for t in traffic_light_plot(many).texts][-1]
    assert (
        text
        == f"{MAX_TRIAL_ROWS + 1} trials with a judgement: too many rows to read; see the table."
    )


def test_summary_plot_shares_per_domain():
    figure = summary_plot(TABLE)
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "Random sequence generation",
        "Allocation concealment",
        "Functional unblinding",
        "Overall",
    ]
    # Three stacked bars per domain (low, unclear, high); "Overall": half unclear, half high.
    bars = ax.patches
    assert len(bars) == 12
    overall = bars[9:12]
    assert [b.get_width() for b in overall] == pytest.approx([0.0, 0.5, 0.5])
    assert [b.get_x() for b in overall] == pytest.approx([0.0, 0.0, 0.5])
    assert [t.get_text() for t in ax.texts] == ["n = 2", "n = 1", "n = 2", "n = 2"]
    assert ax.get_xlabel() == "share of trials (unweighted)"


def test_summary_plot_without_judgements_says_so():
    figure = summary_plot(TABLE.iloc[:0])
    assert [t.get_text() for t in figure.texts] == [
        "Risk of bias across trials, by domain",
        "No trial is judged.",
    ]
