"""Figures of relapse: relapse-free curves of the arms' summary fits, one panel per group."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ketamine_meta.analyses.relapse import OBSERVED_SUMMARIES, SummaryFit
from ketamine_meta.figures.plotting import RELAPSE_COLORS
from ketamine_meta.stats.model import critical_value

COMPARATOR_PANEL = "Comparators (not ketamine)"


#: Line style per regimen of relapse curves.
REGIMEN_STYLE = {
    "continued": {"linestyle": "-", "label": "continued"},
    "after course": {"linestyle": "-", "label": "after a course"},
    "stopped": {"linestyle": "--", "label": "stopped (placebo)"},
    "comparator": {"linestyle": ":", "label": "comparator"},
}


def relapse_curves(
    by_study: pd.DataFrame,
    group_by: str,
    days: float = 365.0,
    level: float = 0.95,
    group_names: Mapping[str, str] | None = None,
) -> Figure:
    """Relapse-free curves of the arms with a time-based summary fit, one panel per group.

    Each curve is the arm's exponential or Weibull summary fit
    (:mod:`ketamine_meta.analyses.relapse`), with a pointwise confidence band where the fit has
    an SE;
    the line style gives the regimen. Under each panel, the number followed at day 0 (the only
    number at risk the sources report).
    """
    curves = by_study[by_study["data_basis"].isin(["summary fit", OBSERVED_SUMMARIES])].copy()
    # Comparators (ECT, quetiapine) get their own panel whatever their route.
    curves[group_by] = curves[group_by].where(curves["regimen"] != "comparator", COMPARATOR_PANEL)
    groups = sorted(set(curves[group_by]) - {COMPARATOR_PANEL})
    groups += [COMPARATOR_PANEL] if (curves[group_by] == COMPARATOR_PANEL).any() else []
    crit = critical_value(level)
    fig = Figure(figsize=(4.2 * len(groups), 4.6))
    for p, group in enumerate(groups):
        width = 0.94 / len(groups)
        ax = fig.add_axes((0.06 + p * width, 0.36, width - 0.07, 0.56))
        rows = curves[curves[group_by] == group].reset_index(drop=True)
        lines = []
        for i, row in rows.iterrows():
            color = RELAPSE_COLORS[i % len(RELAPSE_COLORS)]
            style = REGIMEN_STYLE[row["regimen"]]
            if row["data_basis"] == OBSERVED_SUMMARIES:
                # Two summaries fix no tested curve (PROTOCOL.md §15): the median as observed.
                ax.plot([row["median_days"]], [0.5], marker="o", color=color, linestyle="none")
                label = f"{row['study_id']} {row['arm_id']} ({style['label']}) o"
                lines.append((label, color, row["n_followed"]))
                continue
            fit = SummaryFit(
                row["distribution"], row["scale"], row["shape"], row["log_rate_se"], ""
            )
            # A summary fit is drawn only as far as its source followed the arm (PROTOCOL.md §15).
            end = min(days, row["follow_up_days"]) if np.isfinite(row["follow_up_days"]) else days
            t = np.linspace(0, end, 366)
            ax.plot(t, fit.survival(t), color=color, lw=1.4, linestyle=style["linestyle"])
            ax.plot([end], [float(fit.survival(end))], marker="|", markersize=9, color=color)
            if np.isfinite(row["log_rate_se"]):
                ax.fill_between(
                    t, fit.survival(t, -crit), fit.survival(t, crit), color=color, alpha=0.15, lw=0
                )
            label = f"{row['study_id']} {row['arm_id']} ({style['label']})"
            lines.append((label, color, row["n_followed"]))
        ax.set_xlim(0, days)
        ax.set_ylim(0, 1.02)
        ax.set_title((group_names or {}).get(group, group), fontsize=9, fontweight="bold")
        ax.set_xlabel("Days since randomization or response")
        if p == 0:
            ax.set_ylabel("Relapse-free (summary fit)")
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.tick_params(labelsize=7.5)
        for j, (label, color, n) in enumerate(lines):
            y = -0.3 - 0.075 * j
            ax.text(0.0, y, label, transform=ax.transAxes, fontsize=7, color=color)
            n_text = "n/r" if pd.isna(n) else f"{n:g}"
            ax.text(1.0, y, f"n at day 0: {n_text}", transform=ax.transAxes, fontsize=7, ha="right")
    fig.text(
        0.01,
        0.015,
        "Curves are exponential fits to one published summary (median or share relapsed by a "
        "day, with n), not rebuilt patient data, drawn only up to the longest follow-up the "
        "source reports (|: end of data); bands where a count gives the uncertainty. An arm "
        "with a median and a share is its observed median (o), without a curve. "
        "n/r: not reported.",
        fontsize=6.8,
    )
    return fig
