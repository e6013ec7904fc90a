"""Figures of the network meta-analysis (:mod:`ketamine_meta.figures.network_plots`), read
back from the Matplotlib objects for a small network of two connected parts:

    placebo -- drug A (3 trials), placebo -- drug B (1 trial); drug C -- drug D (1 trial).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex

from ketamine_meta.figures.network_plots import (
    NO_COMPARISON,
    PART_COLOURS,
    league_heatmap,
    network_forest,
    network_graph,
)

GRAPH = pd.DataFrame(
    {
        "kind": ["edge", "edge", "edge", "node", "node", "node", "node", "node"],
        "node": ["drug A", "drug B", "drug C", "placebo", "drug A", "drug B", "drug C", "drug D"],
        "other": ["placebo", "placebo", "drug D", None, None, None, None, None],
        "trials": [3, 1, 1, 4, 3, 1, 1, 1],
        "n": [np.nan, np.nan, np.nan, 400, 300, 100, 50, 50],
    }
)


def test_network_graph_draws_nodes_edges_and_their_counts():
    figure = network_graph(GRAPH, "A network")
    ax = figure.axes[0]
    texts = [t.get_text() for t in ax.texts]
    # Edge labels are trial counts; node labels name participants and trials.
    assert sorted(texts[:3]) == ["1", "1", "3"]
    assert "placebo\n(n = 400, 4 trials)" in texts
    assert "drug D\n(n = 50, 1 trial)" in texts
    # Edge width grows with trials: 1 + 1.5 per trial.
    assert sorted(line.get_linewidth() for line in ax.lines) == [2.5, 2.5, 5.5]
    # Node area proportional to participants, the largest 1600.
    sizes = sorted(float(c.get_sizes()[0]) for c in ax.collections)
    assert sizes == pytest.approx([200, 200, 400, 1200, 1600])
    # The larger part first: its nodes take the first colour, the other part the second.
    colours = {to_hex(c.get_facecolor()[0]) for c in ax.collections}
    assert colours == {PART_COLOURS[0], PART_COLOURS[1]}
    # Nodes opaque and above the edges; each label outside its node, beyond its rim.
    assert all(c.get_alpha() is None and c.get_zorder() > 1 for c in ax.collections)
    assert all(line.get_zorder() < 2 for line in ax.lines)
    labels = [t for t in ax.texts if "\n(n = " in t.get_text()]
    radius = {t.get_text().split("\n")[0]: 0.0 for t in labels}
    for collection, name in zip(ax.collections, sorted(radius, key=_circle_order), strict=True):
        radius[name] = np.sqrt(collection.get_sizes()[0] / np.pi)
    for label in labels:
        offset = np.hypot(*label.xyann)
        assert offset == pytest.approx(radius[label.get_text().split("\n")[0]] + 4)
    assert figure.texts[-1].get_text().startswith("2 connected parts; node area: participants")
    assert figure._suptitle.get_text() == "A network"


def _circle_order(name: str) -> tuple[int, str]:
    """The order network_graph places nodes in: the larger part first, then by name."""
    return (0 if name in {"placebo", "drug A", "drug B"} else 1, name)


LEAGUE = pd.DataFrame(
    {
        "analysis": ["primary"] * 4 + ["merged"],
        "part": [1, 1, 2, 2, 1],
        "row": ["placebo", "drug A", "drug C", "drug D", "placebo"],
        "column": ["drug A", "placebo", "drug D", "drug C", "drug A"],
        "estimate": [-0.5, 0.5, 0.2, -0.2, 9.0],
        "ci_low": [-0.8, 0.2, -0.1, -0.5, 8.0],
        "ci_high": [-0.2, 0.8, 0.5, 0.1, 10.0],
    }
)


def test_league_heatmap_fills_pairs_of_a_part_and_leaves_the_others_blank():
    figure = league_heatmap(LEAGUE, "Hedges' g", False, 0.95, "League")
    ax = figure.axes[0]
    names = [t.get_text() for t in ax.get_xticklabels()]
    assert names == ["drug A", "placebo", "drug C", "drug D"]
    values = ax.images[0].get_array()
    assert values[1, 0] == -0.5 and values[0, 1] == 0.5
    # Nodes of different parts have no estimate; sensitivity rows are not drawn.
    assert np.ma.is_masked(values[0, 2]) or np.isnan(values[0, 2])
    texts = [t.get_text() for t in ax.texts]
    assert "-0.50\n[-0.80, -0.20]" in texts and "9.00\n[8.00, 10.00]" not in texts
    assert "drug\nA" in texts  # the diagonal names the node
    assert figure.axes[1].get_ylabel() == "Hedges' g: row minus column"


def test_league_heatmap_of_ratios_is_exponentiated():
    figure = league_heatmap(LEAGUE, "log RR", True, 0.9, "League")
    texts = [t.get_text() for t in figure.axes[0].texts]
    low, high = np.exp([-0.8, -0.2])
    assert f"{np.exp(-0.5):.2f}\n[{low:.2f}, {high:.2f}]" in texts
    assert figure.axes[1].get_ylabel() == "log RR: row minus column (risk ratio, log scale)"
    assert figure.texts[-1].get_text().startswith("Cells: row against column, 90% CI.")


EFFECTS = pd.DataFrame(
    {
        "analysis": ["merged", "primary", "primary", "primary"],
        "part": [1, 1, 1, 2],
        "reference": ["placebo", "placebo", "placebo", "drug C"],
        "treatment": ["drug A", "drug B", "drug A", "drug D"],
        "estimate": [0.45, 0.9, 0.5, 0.2],
        "ci_low": [0.2, 0.1, 0.2, -0.1],
        "ci_high": [0.7, 1.7, 0.8, 0.5],
        "pi_low": [np.nan, np.nan, 0.0, np.nan],
        "pi_high": [np.nan, np.nan, 1.0, np.nan],
        "single_trial": [False, True, False, True],
        "pscore_in_part": [0.6, 0.9, 0.55, np.nan],
        "direct_share": [1.0, 1.0, 0.75, 1.0],
        "k_trials": [3, 1, 3, 1],
    }
)


def test_network_forest_lists_each_node_against_its_reference_primary_first():
    figure = network_forest(EFFECTS, "Hedges' g", False, "REML", 0.95, "Forest")
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "drug A vs placebo",
        "drug B vs placebo",
        "drug D vs drug C",
        "drug A vs placebo",
    ]
    texts = [t.get_text() for t in ax.texts]
    assert "0.50 [0.20, 0.80]" in texts
    # Direct share, trials (with * for a single trial) and the P-score (none in a part of two).
    assert "   75%     3      0.55" in texts
    assert "  100%     1*     0.90" in texts
    assert "  100%     1*         " in texts
    headings = [t.get_text() for t in ax.texts if t.get_text().startswith(("Primary", "Sens"))]
    assert headings == [
        "Primary network, part 1 (reference placebo)",
        "Primary network, part 2 (reference drug C)",
        "Sensitivity: merged, part 1 (reference placebo)",
    ]
    assert ax.get_xlabel() == "Hedges' g" and ax.get_xscale() == "linear"


def test_network_forest_of_ratios_is_on_a_log_axis():
    figure = network_forest(EFFECTS, "risk ratio", True, "REML", 0.95, "Forest")
    ax = figure.axes[0]
    assert ax.get_xscale() == "log"
    assert f"{np.exp(0.5):.2f} [{np.exp(0.2):.2f}, {np.exp(0.8):.2f}]" in [
        t.get_text() for t in ax.texts
    ]
    # The line of no effect at a ratio of 1.
    assert any(list(line.get_xdata()) == [1.0, 1.0] for line in ax.lines)


def test_a_network_without_comparisons_is_said_not_drawn():
    """A timepoint no trial reports left the network tables empty and crashed the figures."""
    figures = [
        network_graph(GRAPH.iloc[:0], "graph"),
        league_heatmap(LEAGUE.iloc[:0], "g", False, 0.95, "league"),
        network_forest(
            pd.DataFrame(columns=["analysis", "part", "estimate"]),
            "g",
            False,
            "REML",
            0.95,
            "forest",
        ),
    ]
    for figure, title in zip(figures, ("graph", "league", "forest"), strict=True):
        assert figure._suptitle.get_text() == title
        assert NO_COMPARISON in [t.get_text() for t in figure.texts]
