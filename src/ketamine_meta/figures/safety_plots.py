"""Figures of safety: adverse-event risk ratios and dissociation against effect."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ketamine_meta.figures.labels import hours_text
from ketamine_meta.figures.plotting import MAX_TRIAL_ROWS, clean_axes
from ketamine_meta.stats.meta_analysis import OVERALL_LABEL
from ketamine_meta.stats.model import critical_value


def adverse_event_plot(table: pd.DataFrame, event: str, level: float = 0.95) -> Figure:
    """Risk ratio of an adverse event, drug against control, per trial and pooled (red).

    Each trial's Wald interval is drawn at ``level``, the level of the pooled rows.
    """
    rows = table[table["event"] == event]
    trials = rows[rows["study_id"] != OVERALL_LABEL].sort_values("yi")
    pooled = rows[rows["study_id"] == OVERALL_LABEL]
    title = f"Adverse event: {event}"
    if len(trials) > MAX_TRIAL_ROWS:
        title += f" ({len(trials)} trials, rows in the table)"
        trials = trials.iloc[:0]
    z = critical_value(level)
    low = pd.concat([trials["yi"] - z * np.sqrt(trials["vi"]), pooled["ci_low"]])
    high = pd.concat([trials["yi"] + z * np.sqrt(trials["vi"]), pooled["ci_high"]])
    est = pd.concat([trials["yi"], pooled["yi"]])
    labels = [*trials["label"], *pooled["label"]]
    fig = Figure(figsize=(6.4, 1.1 + 0.3 * len(labels)))
    height = fig.get_figheight()
    ax = fig.add_axes((0.4, 0.6 / height, 0.55, 1 - 0.9 / height))
    y = np.arange(len(labels))[::-1].astype(float)
    y[len(trials) :] -= 0.5
    colors = ["#1f4e79"] * len(trials) + ["#c0504d"] * len(pooled)
    for yi, e, lo, hi, c in zip(y, est, low, high, colors, strict=True):
        ax.plot(np.exp([lo, hi]), [yi, yi], color=c, lw=1)
        ax.plot([np.exp(e)], [yi], marker="D" if c == "#c0504d" else "s", color=c)
    ax.set_xscale("log")
    ticks = [
        t for t in (0.2, 0.5, 1, 2, 5, 10, 20, 50) if np.exp(low.min()) <= t <= np.exp(high.max())
    ]
    ticks = sorted({1, *ticks})
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.axvline(1, color="black", lw=0.6)
    ax.set_yticks(y, labels)
    ax.set_xlabel("Risk ratio (drug / control)")
    ax.set_title(title, fontsize=8.5)
    clean_axes(ax)
    return fig


def dissociation_vs_effect_plot(
    table: pd.DataFrame, slope_text: str, level: float = 0.95, timepoint_h: float = 24
) -> Figure:
    """Hedges' g against the share of the drug arm reporting dissociation, Wald CIs at ``level``."""
    fig = Figure(figsize=(5.4, 4.0))
    ax = fig.add_axes((0.13, 0.15, 0.82, 0.72))
    z = critical_value(level)
    half = z * np.sqrt(table["vi"])
    ax.errorbar(
        table["dissociation_share"] * 100,
        table["yi"],
        yerr=half,
        fmt="s",
        color="#1f4e79",
        capsize=2,
    )
    # Beyond MAX_TRIAL_ROWS points the labels would cover the plot: the table names them.
    labelled = table if len(table) <= MAX_TRIAL_ROWS else table.iloc[:0]
    for i, (_, row) in enumerate(labelled.iterrows()):
        # Alternate above and below so neighbouring labels do not overlap.
        ax.annotate(
            row["label"],
            (row["dissociation_share"] * 100, row["yi"]),
            fontsize=7,
            xytext=(6, 10 if i % 2 == 0 else -14),
            textcoords="offset points",
        )
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xlim(0, 100)
    ax.set_xlabel("Drug arm reporting dissociation as an adverse event (%)")
    ax.set_ylabel(f"Hedges' g at {hours_text(timepoint_h)}")
    ax.set_title(slope_text, fontsize=8.5)
    clean_axes(ax)
    return fig


def dissociation_slope_text(slope: pd.DataFrame) -> str:
    """The figure's line on the meta-regression, from its table (``dissociation_slope``)."""
    row = slope[slope["term"] == "share"].iloc[0]
    if isinstance(row.get("note"), str) and row["note"]:
        return row["note"]
    return f"Slope {row['estimate']:.2f} per unit share, p = {row['pval']:.3f}, k = {int(row['k'])}"
