"""Figures of the time course: the pooled effect by time since dosing, per arm type."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from ketamine_meta.figures.labels import hours_text
from ketamine_meta.figures.network_plots import PART_COLOURS, PRIMARY


def time_course_plot(
    cells: pd.DataFrame, observed: pd.DataFrame, level: float, min_trials: int
) -> Figure:
    """Each trial's observed course and the primary model's g of the cells it can show.

    A trial's g are points joined only within the trial (its own course). A cell with at least
    ``min_trials`` trials adds its modelled g and CI as a square, never joined to other
    cells: neighbouring cells hold different trials, so a line through them would draw a
    course no trial shows. Cells with fewer trials show only their trial's points. Points are
    nudged sideways by formulation so that those of one window do not hide each other.
    """
    primary = cells[(cells["model"] == PRIMARY) & (cells["group"] != "")]
    groups = list(dict.fromkeys([*primary["group"], *observed["group"]]))
    figure = Figure(figsize=(9.0, 5.2))
    ax = figure.add_axes((0.08, 0.2, 0.6, 0.7))
    for i, group in enumerate(groups):
        colour = PART_COLOURS[i % len(PART_COLOURS)]
        nudge = 1.0 + 0.05 * (i - (len(groups) - 1) / 2)
        points = observed[observed["group"] == group]
        for j, (study, trial) in enumerate(points.groupby("study_id", sort=True)):
            trial = trial.sort_values("position")
            ax.plot(
                trial["nominal_h"] * nudge,
                trial["yi"],
                "o-",
                color=colour,
                mfc="none",
                ms=4,
                lw=0.6,
                alpha=0.7,
                label=f"{group}: a trial's g" if j == 0 else None,
            )
            if len(trial) > 1:  # name a trial's own course at its last window
                ax.annotate(
                    study,
                    (trial["nominal_h"].iloc[-1] * nudge, trial["yi"].iloc[-1]),
                    xytext=(4, -2),
                    textcoords="offset points",
                    fontsize=6,
                    color=colour,
                )
        rows = primary[(primary["group"] == group) & primary["estimate"].notna()]
        if rows.empty:
            continue
        x = rows["nominal_h"] * nudge * 1.04
        ax.errorbar(
            x,
            rows["estimate"],
            yerr=[rows["estimate"] - rows["ci_low"], rows["ci_high"] - rows["estimate"]],
            fmt="s",
            color=colour,
            ms=5,
            capsize=2,
            lw=1.4,
            label=f"{group}: modelled g, {level:.0%} CI",
        )
        for xi, (_, r) in zip(x, rows.iterrows(), strict=True):
            ax.annotate(
                f"k = {int(r['k_trials'])}",
                (xi, r["ci_high"]),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                fontsize=6,
                color=colour,
            )
    ax.axhline(0, color="#444444", lw=0.8, ls="--")
    ax.set_xscale("log")
    ticks = sorted(set(primary["nominal_h"]) | set(observed["nominal_h"]))
    ax.set_xticks(ticks, [hours_text(h) for h in ticks])
    ax.minorticks_off()
    ax.set_xlabel("time after the first dose (window of PROTOCOL.md §6)")
    ax.set_ylabel("Hedges' g (positive favours the drug)")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7, frameon=False)
    figure.suptitle("Time course of the effect on the depression score", fontsize=10)
    figure.text(0.01, 0.02, _time_course_footnote(primary, min_trials), fontsize=7)
    return figure


def _time_course_footnote(primary: pd.DataFrame, min_trials: int) -> str:
    """What the squares are (the model, its fixed rho) and why no line joins them."""
    if primary.empty:
        model = "no model was fitted"
    else:
        first = primary.iloc[0]
        model = (
            f"random trial effect, its correlation over windows fixed at "
            f"{first['rho_fixed']:g}, {first['method']}"
        )
    suppressed = primary[primary["estimate"].isna()]
    hidden = "; ".join(f"{r['group']} {r['window']}" for _, r in suppressed.iterrows())
    return (
        f"Squares: modelled g of a cell with at least {min_trials} trials (k: its trials; "
        f"{model}),\nnot joined: neighbouring cells hold different trials. "
        "Circles: each trial's g, joined only within the trial (named at its last window)."
        + (f"\nToo few trials for a modelled g: {hidden}." if hidden else "")
    )
