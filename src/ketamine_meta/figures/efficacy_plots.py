"""Figures of efficacy beyond the forest plot: the funnel plot and the effect-size benchmark."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ketamine_meta.figures.labels import fitted_model_text, p_text
from ketamine_meta.figures.plotting import PLACEBO_GREY, ROUTE_NAMES, clean_axes
from ketamine_meta.stats.meta_analysis import OVERALL_LABEL
from ketamine_meta.stats.publication_bias import funnel_data


def funnel_plot(
    by_study: pd.DataFrame,
    estimate: float,
    egger: pd.Series,
    effect: str,
    groups: str | None = "route",
    names: Mapping[str, str] = ROUTE_NAMES,
) -> Figure:
    """Funnel plot: estimates against their standard errors, with the pseudo 95% region.

    Points are coloured by the column ``groups`` (shown by ``names``), or all alike if None.
    """
    points = funnel_data(by_study["yi"], by_study["vi"], estimate)
    fig = Figure(figsize=(5.2, 4.4))
    ax = fig.add_axes((0.13, 0.14, 0.82, 0.76))
    top = points["sei"].max() * 1.1
    # The pseudo 95% region, drawn from the apex (SE 0) to below the least precise study.
    region = funnel_data(np.zeros(50), np.linspace(0, top, 50) ** 2, estimate)
    ax.fill_betweenx(region["sei"], region["funnel_low"], region["funnel_high"], color="0.93")
    ax.plot(region["funnel_low"], region["sei"], color="0.6", lw=0.7)
    ax.plot(region["funnel_high"], region["sei"], color="0.6", lw=0.7)
    ax.axvline(estimate, color="#c0504d", lw=0.9)
    keys = by_study[groups].to_numpy() if groups else np.full(len(by_study), "")
    for group, rows in points.groupby(keys):
        ax.scatter(rows["yi"], rows["sei"], s=22, label=names.get(group, group), zorder=3)
    ax.set_ylim(top, 0)
    ax.set_xlabel(effect)
    ax.set_ylabel("Standard error")
    # The statistic is t on k - 2 df under Hartung-Knapp, z under a Wald test (df NaN).
    statistic = "z" if "df" in egger and pd.isna(egger["df"]) else "t"
    ax.set_title(
        f"Egger's test: {statistic} = {egger['statistic']:.2f}, {p_text(egger['pval'])}",
        fontsize=8.5,
    )
    if groups:
        ax.legend(fontsize=7, frameon=False)
    clean_axes(ax)
    return fig


def effect_size_benchmark(
    pooled_by_route: pd.DataFrame, benchmark: pd.Series, claimed: tuple[float, float]
) -> Figure:
    """Ketamine's pooled SMD (overall and by route) beside the antidepressant benchmark.

    A footnote names both models: ketamine's as fitted (the pooled table's ``method`` and
    ``test``), the benchmark's as its review published it (its ``model`` and ``k``).
    """
    rows = pooled_by_route[pooled_by_route["k"].notna() & pooled_by_route["estimate"].notna()]
    trials = rows["trials"] if "trials" in rows else rows["k"]
    labels = [
        ("Ketamine, all routes" if r == OVERALL_LABEL else f"Ketamine, {ROUTE_NAMES.get(r, r)}")
        # Trials, not comparisons, where a multi-arm trial gives more than one.
        + (f" (k = {int(k)})" if k == t else f" (k = {int(k)} comparisons, {int(t)} trials)")
        for r, k, t in zip(rows["subgroup"], rows["k"], trials, strict=True)
    ]
    fig = Figure(figsize=(7.4, 3.9))
    ax = fig.add_axes((0.4, 0.25, 0.56, 0.64))
    y = np.arange(len(rows))[::-1] + 1
    ax.errorbar(
        rows["estimate"],
        y,
        xerr=[rows["estimate"] - rows["ci_low"], rows["ci_high"] - rows["estimate"]],
        fmt="s",
        color="#1f4e79",
        capsize=2,
    )
    ax.errorbar(
        [benchmark["estimate"]],
        [0],
        xerr=[
            [benchmark["estimate"] - benchmark["ci_low"]],
            [benchmark["ci_high"] - benchmark["estimate"]],
        ],
        fmt="o",
        color=PLACEBO_GREY,
        capsize=2,
    )
    ax.axvspan(*claimed, color="#c0504d", alpha=0.12, lw=0)
    ax.axvline(0, color="black", lw=0.6)
    ax.set_yticks(
        [*y, 0], [*labels, f"Antidepressants vs placebo\n({benchmark['citation_short']})"]
    )
    ax.set_xlabel("Standardized mean difference (positive favours the drug)")
    ax.set_ylim(-0.6, len(rows) + 0.9)
    ax.text(
        sum(claimed) / 2,
        len(rows) + 0.5,
        "claimed 0.6-1.0",
        color="#c0504d",
        fontsize=7,
        ha="center",
    )
    first = rows.iloc[0]
    fig.text(
        0.015,
        0.02,
        f"Ketamine: {fitted_model_text(first['method'], first['test'])}.\n"
        f"Antidepressants: {benchmark['model']} meta-analysis as published "
        f"(k = {int(benchmark['k'])} trials).",
        fontsize=7,
        va="bottom",
    )
    clean_axes(ax)
    return fig
