"""Figures of the multiverse: the specification curve and the distribution of estimates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

CHOICE_LABELS = {
    "control_set": "control set",
    "score_basis": "score basis",
    "crossover": "crossover",
    "multi_arm": "multi-arm",
    "population": "population",
    "data_basis": "data basis",
    "risk_of_bias": "risk of bias",
    "window": "window",
    "estimator": "tau² estimator",
    "test": "CI method",
}


def specification_curve(table: pd.DataFrame, subgroup: str = "overall") -> Figure:
    """The specification curve of one subgroup (Simonsohn, Simmons and Nelson 2020).

    Estimates of every specification sorted, with their CIs, above a panel marking each
    specification's choices.
    """
    rows = table[(table["subgroup"] == subgroup) & (table["k"] > 0)].sort_values(
        ["estimate", "specification"], kind="stable"
    )
    x = np.arange(len(rows))
    choices = [c for c in CHOICE_LABELS if c in rows.columns]
    values = [(c, v) for c in choices for v in sorted(rows[c].astype(str).unique())]
    figure = Figure(figsize=(9.0, 3.2 + 0.16 * len(values)))
    top = figure.add_axes((0.3, 0.62, 0.66, 0.32))
    above = (rows["ci_low"] > 0).to_numpy()
    top.fill_between(x, rows["ci_low"], rows["ci_high"], color="#9bb7d4", alpha=0.5, lw=0)
    top.scatter(
        x[above], rows["estimate"].to_numpy()[above], s=1, color="#1f4e79", label="CI above 0"
    )
    top.scatter(
        x[~above], rows["estimate"].to_numpy()[~above], s=1, color="#b5543c", label="CI includes 0"
    )
    top.axhline(0, color="#444444", lw=0.8, ls="--")
    top.set_xlim(0, len(rows))
    top.set_xticks([])
    top.set_ylabel("Hedges' g at 24 h")
    top.legend(loc="upper left", fontsize=7, markerscale=6, frameon=False)
    top.set_title(
        f"Specification curve: {subgroup}, {len(rows):,} specifications "
        f"({above.mean():.0%} with the CI above 0)",
        fontsize=9,
    )
    bottom = figure.add_axes((0.3, 0.06, 0.66, 0.52), sharex=top)
    matrix = np.array([(rows[c].astype(str) == v).to_numpy() for c, v in values], dtype=float)
    bottom.imshow(
        matrix,
        aspect="auto",
        interpolation="nearest",
        cmap="Greys",
        extent=(0, len(rows), len(values) - 0.5, -0.5),
    )
    bottom.set_yticks(
        range(len(values)), [f"{CHOICE_LABELS[c]}: {v}" for c, v in values], fontsize=6
    )
    bottom.set_xlabel("specifications, sorted by estimate")
    return figure


def estimate_distribution(table: pd.DataFrame) -> Figure:
    """The distribution of the estimates of every specification, per subgroup (violins)."""
    table = table[table["k"] > 0]
    order = ["overall", *sorted(s for s in table["subgroup"].unique() if s != "overall")]
    figure = Figure(figsize=(7.6, 1.2 + 0.55 * len(order)))
    ax = figure.add_axes((0.33, 0.14, 0.63, 0.76))
    sns.violinplot(
        data=table,
        y="subgroup",
        x="estimate",
        order=order,
        ax=ax,
        cut=0,
        density_norm="width",
        inner="quartile",
        color="#9bb7d4",
        linewidth=0.8,
    )
    ax.axvline(0, color="#444444", lw=0.8, ls="--")
    ax.set_xlabel("Hedges' g at 24 h across specifications")
    ax.set_ylabel("")
    counts = table["subgroup"].value_counts()
    ax.set_yticks(range(len(order)), [f"{s} (n = {counts[s]:,})" for s in order], fontsize=8)
    figure.suptitle("Estimates across the multiverse, by route and enantiomer", fontsize=10)
    return figure
