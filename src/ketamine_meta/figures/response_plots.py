"""Figures of response: the pooled response rate per arm type over time."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ketamine_meta.figures.plotting import PLACEBO_GREY, RELAPSE_COLORS, clean_axes, is_control


def response_time_course_plot(table: pd.DataFrame) -> Figure:
    """Pooled response proportion per arm type across the time-course windows.

    Drug arm types are coloured squares; placebo and midazolam arms grey, open circles. Each
    point carries its CI and is labelled with k (arms pooled). Points are not joined: each
    window is a separate analysis of whichever trials report it, not one cohort followed over
    time.
    """
    windows = list(dict.fromkeys(table["timepoint_h"]))
    x_of = {w: i for i, w in enumerate(windows)}
    fig = Figure(figsize=(7.5, 4.6))
    ax = fig.add_axes((0.09, 0.14, 0.62, 0.78))
    types = sorted(table["arm_type"].unique(), key=lambda t: (is_control(t), t))
    offsets = np.linspace(-0.18, 0.18, len(types))
    colors = iter(RELAPSE_COLORS)
    for offset, arm_type in zip(offsets, types, strict=True):
        rows = table[table["arm_type"] == arm_type]
        x = rows["timepoint_h"].map(x_of).to_numpy() + offset
        control = is_control(arm_type)
        color = PLACEBO_GREY if control else next(colors)
        style = (
            {"linestyle": "none", "marker": "o", "markerfacecolor": "white"}
            if control
            else {"linestyle": "none", "marker": "s"}
        )
        ax.errorbar(
            x,
            rows["proportion"],
            yerr=[rows["proportion"] - rows["ci_low"], rows["ci_high"] - rows["proportion"]],
            color=color,
            lw=1.2,
            capsize=2,
            markersize=4,
            label=arm_type,
            **style,
        )
        for xi, yi, k in zip(x, rows["proportion"], rows["k"], strict=True):
            ax.text(xi + 0.03, yi, f"{k}", fontsize=6, color=color, va="bottom")
    ax.set_xticks(range(len(windows)), windows)
    ax.set_ylim(0, 1)
    ax.set_ylabel("Responders (pooled proportion)")
    ax.set_xlabel("Time after the (first) dose")
    clean_axes(ax)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7, frameon=False)
    fig.text(
        0.09,
        0.02,
        "Random-effects pooled proportions (logit) with CIs; small numbers: arms pooled (k). "
        "Each trial's own response definition.\nWindows are separate analyses of different "
        "trials, so points are not joined.",
        fontsize=6.8,
    )
    return fig
