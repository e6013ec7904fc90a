"""Figures of the multiverse: the specification curve and the distribution of estimates.

Both count analyses as the summary does (PROTOCOL.md §21.3): the curve draws the primary
estimand's kept specifications, the distribution each estimand's distinct fits.

Estimates come on the analysis scale (Hedges' g, or the log risk ratio for ``measure =
"logRR"``); a risk ratio is drawn as a ratio on a log axis, with no effect at 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from ketamine_meta.analyses.multiverse import (
    DATA_CHOICES,
    distinct_fits,
    estimand_groups,
    estimand_labels,
    kept_specifications,
)
from ketamine_meta.figures.labels import hours_text

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
MEASURE_LABELS = {"SMD": "Hedges' g", "logRR": "Risk ratio of response"}


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


def estimand_title(estimand: str) -> str:
    """An estimand label of the summary ("control_set: inert placebo") in words."""
    for choice in DATA_CHOICES:
        estimand = estimand.replace(f"{choice}: ", f"{CHOICE_LABELS[choice]}: ")
    return estimand


def _trials(fits: pd.DataFrame) -> str:
    """The fewest to most trials of distinct fits: "3 trials", "6-9 trials"."""
    low, high = int(fits["trials"].min()), int(fits["trials"].max())
    return f"{low} trial{'s' if high > 1 else ''}" if low == high else f"{low}-{high} trials"


def specification_curve(
    table: pd.DataFrame,
    estimand_choices: Sequence[str],
    subgroup: str = "overall",
    measure: str = "SMD",
    timepoint_h: float = 24,
) -> Figure:
    """The specification curve of the primary estimand in one subgroup (Simonsohn et al. 2020).

    The kept specifications (:func:`~ketamine_meta.analyses.multiverse.kept_specifications`,
    PROTOCOL.md §21.3: choices without effect on the package fixed, empty levels left out)
    sorted by estimate, with their CIs, above a panel marking the choices that vary and the
    model. The title counts the specifications, the distinct data sets and fits, the trials,
    and the share of distinct fits whose CI lies above no effect.
    """
    kept, effects = kept_specifications(table, estimand_choices, subgroup)
    rows = kept.sort_values(["estimate", "specification"], kind="stable")
    fits = distinct_fits(rows)
    ratio = _ratio(measure)
    null, null_label = (1, "1") if ratio else (0, "0")
    x = np.arange(len(rows))
    choices = [c for c in CHOICE_LABELS if c in (*effects.varied, "estimator", "test")]
    values = [(c, v) for c in choices for v in sorted(rows[c].astype(str).unique())]
    figure = Figure(figsize=(9.0, 3.4 + 0.16 * len(values)))
    top = figure.add_axes((0.3, 0.62, 0.66, 0.30))
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
    top.set_ylabel(f"{MEASURE_LABELS[measure]} at {hours_text(timepoint_h)}")
    top.legend(loc="upper left", fontsize=7, markerscale=6, frameon=False)
    estimand = estimand_title(estimand_labels(rows, estimand_choices).iloc[0]) if len(rows) else ""
    counts = (
        f"{len(rows):,} specifications, {fits['data_set'].nunique():,} distinct data sets, "
        f"{len(fits):,} distinct fits, {_trials(fits)}; "
        f"{(fits['ci_low'] > 0).mean():.0%} of the fits with the CI above {null_label}"
        if len(rows)
        else "no specification with a comparison"
    )
    top.set_title(f"Specification curve: {subgroup}, {estimand}\n{counts}", fontsize=8)
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


def _distribution_panels(
    table: pd.DataFrame, estimand_choices: Sequence[str], measure: str
) -> dict[str, pd.DataFrame]:
    """Per estimand, the estimates of its distinct fits by subgroup (overall first).

    Each subgroup's label gives its number of fits and the trials they pool.
    """
    panels: dict[str, list[tuple[bool, pd.DataFrame]]] = {}
    for estimand, subgroup, group, _ in estimand_groups(table, estimand_choices):
        fits = distinct_fits(group)
        if len(fits):
            label = f"{subgroup} ({len(fits):,} fits, {_trials(fits)})"
            frame = pd.DataFrame({"label": label, "shown": _shown(fits["estimate"], measure)})
            panels.setdefault(estimand, []).append((subgroup != "overall", frame))
    return {
        estimand: pd.concat([f for _, f in sorted(frames, key=lambda p: p[0])], ignore_index=True)
        for estimand, frames in panels.items()
    }


def estimate_distribution(
    table: pd.DataFrame,
    estimand_choices: Sequence[str],
    measure: str = "SMD",
    timepoint_h: float = 24,
) -> Figure:
    """The estimates of the distinct fits, one panel per estimand, by subgroup (violins).

    Each distinct fit (a data set and a model, PROTOCOL.md §21.3) counts once; each label gives
    the number of fits and the trials they pool.
    """
    ratio = _ratio(measure)
    panels = _distribution_panels(table, estimand_choices, measure)
    sizes = [frame["label"].nunique() for frame in panels.values()] or [1]
    figure = Figure(figsize=(8.6, 1.0 + 0.5 * sum(sizes) + 0.35 * len(sizes)))
    axes = figure.subplots(len(sizes), 1, sharex=True, height_ratios=sizes, squeeze=False)[:, 0]
    figure.subplots_adjust(left=0.42, right=0.97, top=0.93, bottom=0.08, hspace=0.45)
    for ax, (estimand, frame) in zip(axes, panels.items(), strict=False):
        sns.violinplot(
            data=frame,
            y="label",
            x="shown",
            ax=ax,
            cut=0,
            density_norm="width",
            inner="quartile",
            color="#9bb7d4",
            linewidth=0.8,
            log_scale=ratio,
        )
        ax.set_title(estimand_title(estimand), fontsize=8, loc="left")
        ax.set_ylabel("")
        ax.tick_params(axis="y", labelsize=7)
    for ax in axes:
        ax.axvline(1 if ratio else 0, color="#444444", lw=0.8, ls="--")
        ax.set_xlabel("")
    if ratio:
        _plain_ticks(axes[-1].xaxis)
        # Ticks of one length, so that major and minor labels line up.
        axes[-1].xaxis.set_tick_params(which="both", length=3.5)
    scale = " (log axis)" if ratio else ""
    axes[-1].set_xlabel(
        f"{MEASURE_LABELS[measure]} at {hours_text(timepoint_h)}, distinct fits{scale}"
    )
    figure.suptitle("Estimates across the multiverse, by estimand and subgroup", fontsize=10)
    return figure
