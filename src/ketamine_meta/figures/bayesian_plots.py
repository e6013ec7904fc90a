"""Figures of the Bayesian analysis: posterior densities with the priors, shrunken estimates.

Both draw tables of :mod:`ketamine_meta.analyses.bayesian` (``bayesian_curves_*``,
``bayesian_shrinkage_*``) and compute nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ketamine_meta.evidence.vocabulary import ENANTIOMER_NAMES
from ketamine_meta.figures.labels import hours_text
from ketamine_meta.figures.plotting import RELAPSE_COLORS, ROUTE_NAMES, clean_axes

SUBGROUP_NAMES = {**ROUTE_NAMES, **ENANTIOMER_NAMES, "overall": "All trials"}
MODERATOR_STYLE = {"route": "-", "enantiomer": "--", "overall": "-"}


def posterior_plot(
    curves: pd.DataFrame, prior_labels: Mapping[str, str], timepoint_h: float
) -> Figure:
    """Posterior densities of pooled g per subgroup (left) and of tau with each prior (right).

    Left: per route and enantiomer under the primary prior, and over all trials. Right: tau's
    posterior under each prior (solid) and the prior itself (dotted).
    """
    fig = Figure(figsize=(8.6, 3.6))
    left = fig.add_axes((0.07, 0.16, 0.42, 0.68))
    right = fig.add_axes((0.57, 0.16, 0.41, 0.68))
    mu = curves[curves["quantity"] == "mu"]
    for i, ((moderator, subgroup), rows) in enumerate(
        mu.groupby(["moderator", "subgroup"], sort=False)
    ):
        colour = "black" if moderator == "overall" else RELAPSE_COLORS[i % len(RELAPSE_COLORS)]
        left.plot(
            rows["x"],
            rows["density"],
            MODERATOR_STYLE.get(moderator, "-"),
            color=colour,
            lw=1.6 if moderator == "overall" else 1.1,
            label=SUBGROUP_NAMES.get(subgroup, subgroup),
        )
    left.axvline(0, color="0.5", lw=0.6)
    left.set_xlabel(f"Pooled Hedges' g at {hours_text(timepoint_h)} (positive favours ketamine)")
    left.set_ylabel("Posterior density")
    primary = mu["prior"].iloc[0]
    left.set_title(f"Pooled effect, prior on tau: {prior_labels.get(primary, primary)}", fontsize=8)
    left.legend(fontsize=7, frameon=False)
    tau = curves[curves["quantity"] == "tau"]
    for i, (prior, rows) in enumerate(tau.groupby("prior", sort=False)):
        colour = RELAPSE_COLORS[i % len(RELAPSE_COLORS)]
        posterior = rows[rows["curve"] == "posterior"]
        own = rows[rows["curve"] == "prior"]
        right.plot(
            posterior["x"],
            posterior["density"],
            color=colour,
            lw=1.3,
            label=f"{prior_labels.get(prior, prior)}: posterior",
        )
        right.plot(own["x"], own["density"], ":", color=colour, lw=1.1, label="its prior")
    right.set_xlabel("tau (between-trial SD of g)")
    right.set_ylabel("Density")
    right.set_title("Heterogeneity, all trials: each prior and its posterior", fontsize=8)
    right.legend(fontsize=6.5, frameon=False)
    for ax in (left, right):
        ax.set_ylim(bottom=0)
        clean_axes(ax)
    return fig


def shrinkage_forest(
    shrinkage: pd.DataFrame, prior_labels: Mapping[str, str], timepoint_h: float
) -> Figure:
    """A forest of each trial's g beside its shrunken estimate, then the pooled posterior.

    Open squares: the trial's own g and interval; filled circles: the posterior of its own
    effect; below, the pooled posterior and the predictive interval of a new trial.
    """
    trials = shrinkage[shrinkage["row"] == "trial"].reset_index(drop=True)
    summaries = shrinkage[shrinkage["row"] != "trial"].reset_index(drop=True)
    rows = len(trials) + len(summaries) + 1
    fig = Figure(figsize=(6.4, 0.32 * rows + 1.3))
    ax = fig.add_axes((0.24, 0.9 / (0.32 * rows + 1.3), 0.72, 1 - 1.3 / (0.32 * rows + 1.3)))
    y = np.arange(len(trials))[::-1] + len(summaries) + 1
    ax.hlines(y + 0.15, trials["observed_low"], trials["observed_high"], color="0.55", lw=1)
    ax.plot(
        trials["yi"],
        y + 0.15,
        "s",
        mfc="white",
        mec="0.35",
        ms=4.5,
        label="trial's own g and interval",
    )
    ax.hlines(y - 0.15, trials["theta_low"], trials["theta_high"], color="#1f4e79", lw=1.4)
    ax.plot(
        trials["theta_median"],
        y - 0.15,
        "o",
        color="#1f4e79",
        ms=4,
        label="shrunken estimate (posterior)",
    )
    summary_y = np.arange(len(summaries))[::-1] + 0.5
    for yy, (_, row) in zip(summary_y, summaries.iterrows(), strict=True):
        colour = "black" if row["row"] == "overall" else "#c0504d"
        ax.hlines(yy, row["theta_low"], row["theta_high"], color=colour, lw=2)
        ax.plot(row["theta_median"], yy, "D", color=colour, ms=5)
    labels = [
        *trials["study_id"],
        *[
            "Pooled (posterior)" if r == "overall" else "New trial (predictive)"
            for r in summaries["row"]
        ],
    ]
    ax.set_yticks([*y, *summary_y], labels, fontsize=7.5)
    ax.axvline(0, color="0.5", lw=0.6)
    ax.set_xlabel(f"Hedges' g at {hours_text(timepoint_h)} (positive favours ketamine)")
    prior = shrinkage["prior"].iloc[0]
    ax.set_title(
        f"Shrunken trial estimates, prior on tau: {prior_labels.get(prior, prior)}", fontsize=8
    )
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    clean_axes(ax)
    return fig
