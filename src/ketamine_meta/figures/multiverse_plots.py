"""Figures of the multiverse: the specification curve and the distribution of estimates.

Estimates come on the analysis scale (Hedges' g, or the log risk ratio for ``measure =
"logRR"``); a risk ratio is drawn as a ratio on a log axis, with no effect at 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from ketamine_meta.analyses.multiverse import NOT_APPLICABLE

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
#: Percentiles of the CI limits a ratio axis spans (with every estimate and 1): the CIs of a
#: few comparisons pooled with Hartung-Knapp span orders of magnitude and are cut at its edge.
RATIO_AXIS_PERCENTILES = (10, 90)
#: The axis label of each measure's estimates.
MEASURE_LABELS = {"SMD": "Hedges' g at 24 h", "logRR": "Risk ratio of response at 24 h"}


def _ratio(measure: str) -> bool:
    if measure not in MEASURE_LABELS:
        raise ValueError(f"unknown measure {measure!r}; choose from {list(MEASURE_LABELS)}")
    return measure == "logRR"


def _shown(values: pd.Series, measure: str) -> np.ndarray:
    """Estimates as drawn: ratios for a log risk ratio, else as they are."""
    values = values.to_numpy(float)
    return np.exp(values) if _ratio(measure) else values


def _ratio_axis(axis, low: np.ndarray, high: np.ndarray, estimate: np.ndarray) -> None:
    """A log axis over :data:`RATIO_AXIS_PERCENTILES` of the CI limits, ticks as numbers."""
    bottom = min(np.percentile(low, RATIO_AXIS_PERCENTILES[0]), estimate.min(), 1.0)
    top = max(np.percentile(high, RATIO_AXIS_PERCENTILES[1]), estimate.max(), 1.0)
    axis.set_yscale("log")
    axis.set_ylim(bottom / 1.5, top * 1.5)
    _plain_ticks(axis.yaxis)


def _plain_ticks(axis) -> None:
    """Ratios on a log axis labelled as numbers (2, not 2 x 10^0).

    The minor ticks are labelled too when the axis spans less than two powers of ten.
    """

    def minor(value: float, _) -> str:
        low, high = axis.get_view_interval()
        return f"{value:g}" if high / low < 100 else ""

    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(FuncFormatter(minor))


def specification_curve(
    table: pd.DataFrame, subgroup: str = "overall", measure: str = "SMD"
) -> Figure:
    """The specification curve of one subgroup (Simonsohn, Simmons and Nelson 2020).

    Estimates of every specification sorted, with their CIs, above a panel marking each
    specification's choices (a choice that does not apply to the outcome is left out).
    """
    rows = table[(table["subgroup"] == subgroup) & (table["k"] > 0)].sort_values(
        ["estimate", "specification"], kind="stable"
    )
    ratio = _ratio(measure)
    null, null_label = (1, "1") if ratio else (0, "0")
    x = np.arange(len(rows))
    choices = [
        c
        for c in CHOICE_LABELS
        if c in rows.columns and set(rows[c].astype(str)) != {NOT_APPLICABLE}
    ]
    values = [(c, v) for c in choices for v in sorted(rows[c].astype(str).unique())]
    figure = Figure(figsize=(9.0, 3.2 + 0.16 * len(values)))
    top = figure.add_axes((0.3, 0.62, 0.66, 0.32))
    above = (rows["ci_low"] > 0).to_numpy()
    estimate, low, high = (_shown(rows[c], measure) for c in ("estimate", "ci_low", "ci_high"))
    top.fill_between(x, low, high, color="#9bb7d4", alpha=0.5, lw=0)
    top.scatter(x[above], estimate[above], s=1, color="#1f4e79", label=f"CI above {null_label}")
    top.scatter(
        x[~above], estimate[~above], s=1, color="#b5543c", label=f"CI includes {null_label}"
    )
    top.axhline(null, color="#444444", lw=0.8, ls="--")
    top.set_xlim(0, max(len(rows), 1))
    top.set_xticks([])
    if ratio and len(rows):
        _ratio_axis(top, low, high, estimate)
    top.set_ylabel(MEASURE_LABELS[measure])
    top.legend(loc="upper left", fontsize=7, markerscale=6, frameon=False)
    top.set_title(
        f"Specification curve: {subgroup}, {len(rows):,} specifications "
        f"({above.mean() if len(rows) else 0:.0%} with the CI above {null_label})",
        fontsize=9,
    )
    bottom = figure.add_axes((0.3, 0.06, 0.66, 0.52), sharex=top)
    matrix = np.array(
        [(rows[c].astype(str) == v).to_numpy() for c, v in values], dtype=float
    ).reshape(len(values), len(rows))
    if matrix.size:
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


def estimate_distribution(table: pd.DataFrame, measure: str = "SMD") -> Figure:
    """The distribution of the estimates of every specification, per subgroup (violins)."""
    ratio = _ratio(measure)
    table = table[table["k"] > 0].assign(shown=lambda t: _shown(t["estimate"], measure))
    order = ["overall", *sorted(s for s in table["subgroup"].unique() if s != "overall")]
    figure = Figure(figsize=(7.6, 1.2 + 0.55 * len(order)))
    ax = figure.add_axes((0.33, 0.14, 0.63, 0.76))
    if len(table):
        sns.violinplot(
            data=table,
            y="subgroup",
            x="shown",
            order=order,
            ax=ax,
            cut=0,
            density_norm="width",
            inner="quartile",
            color="#9bb7d4",
            linewidth=0.8,
            log_scale=ratio,
        )
    ax.axvline(1 if ratio else 0, color="#444444", lw=0.8, ls="--")
    if ratio:
        _plain_ticks(ax.xaxis)
        # Ticks of one length, so that major and minor labels line up.
        ax.xaxis.set_tick_params(which="both", length=3.5)
    scale = " (log axis)" if ratio else ""
    ax.set_xlabel(f"{MEASURE_LABELS[measure]} across specifications{scale}")
    ax.set_ylabel("")
    counts = table["subgroup"].value_counts()
    ax.set_yticks(range(len(order)), [f"{s} (n = {counts.get(s, 0):,})" for s in order], fontsize=8)
    figure.suptitle("Estimates across the multiverse, by route and enantiomer", fontsize=10)
    return figure
