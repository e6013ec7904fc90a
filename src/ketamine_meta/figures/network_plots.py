"""Figures of the network meta-analysis: the network graph, the league table, the forest plot.

Each takes the tables of :func:`ketamine_meta.analyses.network.network_analysis` and returns
a matplotlib Figure built without pyplot (saving is the caller's job).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from ketamine_meta.figures.labels import model_text
from ketamine_meta.figures.plotting import message_figure

PRIMARY = "primary"
#: What a figure of a network without comparisons (a timepoint no trial reports) says.
NO_COMPARISON = "No comparison at this timepoint: no network to draw."


#: One colour per connected part of the network (part 1 first).
PART_COLOURS = ("#1f4e79", "#b5543c", "#3c7d4f", "#7a5c99")


def _transform(values, exponentiate: bool):
    return np.exp(values) if exponentiate else values


def network_graph(graph: pd.DataFrame, title: str) -> Figure:
    """Nodes on a circle, area proportional to participants, edge width to trials.

    Nodes of different connected parts are coloured apart; an edge's label is its number of
    trials.
    """
    if graph.empty:
        return message_figure(title, NO_COMPARISON)
    nodes = graph[graph["kind"] == "node"].set_index("node")
    edges = graph[graph["kind"] == "edge"]
    part = _parts(list(nodes.index), edges)
    # Nodes of one connected part sit next to each other on the circle, so edges do not cross
    # between parts.
    names = sorted(nodes.index, key=lambda n: (part[n], n))
    angles = np.pi / 2 - 2 * np.pi * np.arange(len(names)) / len(names)
    position = {n: (np.cos(a), np.sin(a)) for n, a in zip(names, angles, strict=True)}
    figure = Figure(figsize=(6.8, 6.0))
    ax = figure.add_axes((0.05, 0.08, 0.9, 0.82))
    for _, e in edges.iterrows():
        (x1, y1), (x2, y2) = position[e["node"]], position[e["other"]]
        ax.plot([x1, x2], [y1, y2], color="#9a9a9a", lw=1.0 + 1.5 * e["trials"], zorder=1)
        ax.text(
            (x1 + x2) / 2,
            (y1 + y2) / 2,
            f"{int(e['trials'])}",
            ha="center",
            va="center",
            fontsize=8,
            bbox={"fc": "white", "ec": "none", "pad": 1},
            zorder=3,
        )
    n = nodes["n"].astype(float)
    sizes = 1600 * n / n.max()
    for name in names:
        x, y = position[name]
        # Opaque, above the edges: an edge ends at the node's rim, not across it.
        ax.scatter(
            [x],
            [y],
            s=sizes[name],
            color=PART_COLOURS[part[name] % len(PART_COLOURS)],
            zorder=2,
            linewidths=0,
        )
        trials = int(nodes.loc[name, "trials"])
        _node_label(
            ax,
            (x, y),
            np.sqrt(sizes[name] / np.pi),
            f"{name}\n(n = {n[name]:.0f}, {trials} trial{'s' if trials != 1 else ''})",
        )
    ax.set_xlim(-1.8, 1.8)
    ax.set_ylim(-1.65, 1.65)
    ax.set_aspect("equal")
    ax.axis("off")
    parts = max(part.values()) + 1
    figure.suptitle(title, fontsize=10)
    figure.text(
        0.5,
        0.02,
        f"{parts} connected part{'s' if parts > 1 else ''}; node area: "
        "participants; edge width and label: trials",
        ha="center",
        fontsize=8,
    )
    return figure


def _node_label(ax, at: tuple[float, float], radius_pt: float, text: str) -> None:
    """A node's label outside the circle, beyond its rim whatever the node's size.

    Offset from the node's centre along the circle's radius by the node's radius (points, from
    the marker's area) plus a margin, and aligned so that the text grows away from the node.
    """
    x, y = at
    length = np.hypot(x, y) or 1.0
    ux, uy = x / length, y / length
    offset = radius_pt + 4
    ax.annotate(
        text,
        (x, y),
        xytext=(offset * ux, offset * uy),
        textcoords="offset points",
        ha="left" if ux > 0.35 else "right" if ux < -0.35 else "center",
        va="bottom" if uy > 0.35 else "top" if uy < -0.35 else "center",
        fontsize=8,
        zorder=4,
    )


def _parts(names: list[str], edges: pd.DataFrame) -> dict[str, int]:
    """The connected part of each node, numbered from 0 by size."""
    neighbours = {n: set() for n in names}
    for _, e in edges.iterrows():
        neighbours[e["node"]].add(e["other"])
        neighbours[e["other"]].add(e["node"])
    groups, seen = [], set()
    for start in names:
        if start in seen:
            continue
        stack, group = [start], set()
        while stack:
            node = stack.pop()
            if node not in group:
                group.add(node)
                stack.extend(neighbours[node] - group)
        seen |= group
        groups.append(group)
    groups.sort(key=lambda g: (-len(g), sorted(g)))
    return {n: i for i, g in enumerate(groups) for n in g}


def league_heatmap(
    league: pd.DataFrame, effect: str, exponentiate: bool, level: float, title: str
) -> Figure:
    """Every pair of the primary network: row node against column node, with its CI.

    Cells of nodes in different connected parts have no estimate and stay blank.
    """
    primary = league[league["analysis"] == PRIMARY]
    if primary.empty:
        return message_figure(title, NO_COMPARISON)
    names = sorted(
        set(primary["row"]) | set(primary["column"]),
        key=lambda n: (primary.loc[primary["row"] == n, "part"].min(), n),
    )
    index = {n: i for i, n in enumerate(names)}
    values = np.full((len(names), len(names)), np.nan)
    for _, r in primary.iterrows():
        values[index[r["row"]], index[r["column"]]] = r["estimate"]
    limit = max(np.nanmax(np.abs(values)), 1e-6) if np.isfinite(values).any() else 1.0
    figure = Figure(figsize=(2.6 + 1.25 * len(names), 2.0 + 0.85 * len(names)))
    ax = figure.add_axes((0.17, 0.2, 0.66, 0.7))
    image = ax.imshow(values, cmap="RdBu", norm=TwoSlopeNorm(0.0, -limit, limit))
    for _, r in primary.iterrows():
        shown = _transform(np.array([r["estimate"], r["ci_low"], r["ci_high"]]), exponentiate)
        ax.text(
            index[r["column"]],
            index[r["row"]],
            f"{shown[0]:.2f}\n[{shown[1]:.2f}, {shown[2]:.2f}]",
            ha="center",
            va="center",
            fontsize=7.5,
            # Dark cells take white text.
            color="white" if abs(r["estimate"]) > 0.6 * limit else "black",
        )
    for name, i in index.items():
        ax.text(
            i, i, name.replace(" ", "\n", 1), ha="center", va="center", fontsize=7, weight="bold"
        )
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=7.5)
    ax.set_yticks(range(len(names)), names, fontsize=7.5)
    ax.set_title(title, fontsize=9)
    scale = " (risk ratio, log scale)" if exponentiate else ""
    figure.colorbar(image, ax=ax, shrink=0.7, label=f"{effect}: row minus column{scale}")
    figure.text(
        0.02,
        0.02,
        f"Cells: row against column, {level:.0%} CI. Blank: the two nodes are in different "
        "connected parts; no estimate links them.",
        fontsize=7,
    )
    return figure


def network_forest(
    effects: pd.DataFrame,
    effect: str,
    exponentiate: bool,
    method: str,
    level: float,
    title: str,
) -> Figure:
    """Each node against its part's reference, per analysis and part, with CI, PI, direct share.

    P-scores rank within a part only (blank in a part of two nodes), and a node resting on one
    trial is marked with an asterisk.
    """
    if effects.empty:
        return message_figure(title, NO_COMPARISON)
    rows = effects.sort_values(["analysis", "part", "estimate"], key=_primary_first)
    headings = rows[["analysis", "part"]].drop_duplicates()
    height = 1.9 + 0.32 * (len(rows) + 2 * len(headings))
    figure = Figure(figsize=(10.0, height))
    ax = figure.add_axes((0.3, 0.16, 0.3, 0.74))
    text_column = {"transform": ax.get_yaxis_transform(), "va": "center", "fontsize": 8}
    y, labels, ticks = 0.0, [], []
    for (analysis, part), group in rows.groupby(["analysis", "part"], sort=False):
        y -= 1
        heading = "Primary network" if analysis == PRIMARY else f"Sensitivity: {analysis}"
        ax.annotate(
            f"{heading}, part {int(part)} (reference {group['reference'].iloc[0]})",
            (0.01, y),
            xycoords=("figure fraction", "data"),
            weight="bold",
            fontsize=8,
            va="center",
        )
        for _, r in group.iterrows():
            y -= 1
            est, low, high, pi_low, pi_high = _transform(
                np.array([r["estimate"], r["ci_low"], r["ci_high"], r["pi_low"], r["pi_high"]]),
                exponentiate,
            )
            colour = PART_COLOURS[(int(r["part"]) - 1) % len(PART_COLOURS)]
            ax.plot([pi_low, pi_high], [y, y], color=colour, lw=0.8, alpha=0.5)
            ax.plot([low, high], [y, y], color=colour, lw=2.0)
            ax.plot([est], [y], "s", color=colour, ms=5)
            ticks.append(y)
            labels.append(f"{r['treatment']} vs {r['reference']}")
            mono = {**text_column, "family": "DejaVu Sans Mono"}
            ax.text(1.05, y, f"{est:.2f} [{low:.2f}, {high:.2f}]", **mono)
            single = "*" if r["single_trial"] else " "
            pscore = "" if pd.isna(r["pscore_in_part"]) else f"{r['pscore_in_part']:.2f}"
            ax.text(
                1.6,
                y,
                f"{r['direct_share']:>6.0%} {int(r['k_trials']):>5}{single} {pscore:>8}",
                **mono,
            )
    ax.axvline(1.0 if exponentiate else 0.0, color="#444444", lw=0.8, ls="--")
    if exponentiate:
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.set_yticks(ticks, labels, fontsize=8)
    ax.set_ylim(y - 1, 0.5)
    ax.set_xlabel(effect)
    header = {**text_column, "weight": "bold", "va": "bottom"}
    ax.text(1.05, 0.0, f"{effect} [{level:.0%} CI]", **header)
    columns = f"{'direct':>6} {'trials':>6} {'P-score':>8}\n{'in part':>22}"
    ax.text(1.6, 0.0, columns, **header, family="DejaVu Sans Mono")
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    figure.suptitle(title, fontsize=10)
    figure.text(
        0.01,
        0.015,
        f"Consistency model, {model_text(method, 'z')}; thin line: prediction interval (none "
        "where tau² is 0 or not estimable, or the part has too few trials);\n"
        "colour: connected part; direct: share of the estimate from trials of that "
        "comparison; *: the node rests on one trial.\n"
        "P-scores rank nodes within their part only (parts share no reference); none in a "
        "part of two nodes.",
        fontsize=7,
    )
    return figure


def _primary_first(column: pd.Series) -> pd.Series:
    if column.name == "analysis":
        return column.ne(PRIMARY)
    return column
