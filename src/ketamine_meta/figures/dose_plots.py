"""Figures of dose: dose-response, bioavailability by route and cost per responder."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ketamine_meta.figures.labels import hours_text
from ketamine_meta.figures.plotting import ROUTE_NAMES, clean_axes

#: Characters per line of a figure's title (a longer note wraps rather than run off the axes).
TITLE_WIDTH = 90


def dose_response_plot(
    by_study: pd.DataFrame, line: pd.DataFrame, slope_text: str, timepoint_h: float = 24
) -> Figure:
    """Hedges' g against IV-equivalent dose, bubbles by precision, with the fitted line."""
    fig = Figure(figsize=(5.6, 4.2))
    ax = fig.add_axes((0.13, 0.15, 0.82, 0.75))
    size = 30 + 250 * (1 / by_study["vi"]) / (1 / by_study["vi"]).max()
    for route, rows in by_study.groupby("route"):
        ax.scatter(
            rows["iv_equivalent_mg_per_kg"],
            rows["yi"],
            s=size[rows.index],
            alpha=0.7,
            label=ROUTE_NAMES.get(route, route),
            zorder=3,
        )
    if not line.empty:  # no line where the meta-regression was not estimable
        ax.plot(line["dose"], line["estimate"], color="#c0504d", lw=1)
        ax.fill_between(line["dose"], line["ci_low"], line["ci_high"], color="#c0504d", alpha=0.12)
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xlabel("IV-equivalent dose (mg/kg)")
    ax.set_ylabel(f"Hedges' g at {hours_text(timepoint_h)}")
    ax.set_title(textwrap.fill(slope_text, TITLE_WIDTH), fontsize=8.5)
    ax.legend(fontsize=7, frameon=False)
    clean_axes(ax)
    return fig


def bioavailability_plot(
    routes: pd.DataFrame, arms: pd.DataFrame, reference_mg: float, body_weight_kg: float
) -> Figure:
    """The dose equal to ``reference_mg`` IV by route, with each arm's dose placed on it.

    ``routes``: ``route, equivalent_dose_mg`` and its range ``equivalent_dose_low_mg,
    equivalent_dose_high_mg`` (:func:`~ketamine_meta.analyses.dose.bioavailability_by_route`);
    ``arms``: ``route, dose_mg`` (:func:`~ketamine_meta.analyses.dose.arm_doses`).
    """
    fig = Figure(figsize=(7.0, 4.2))
    ax = fig.add_axes((0.12, 0.14, 0.84, 0.74))
    order = [r for r in ("IV", "IM", "SC", "IN", "SL", "PO") if r in set(routes["route"])]
    x_of = {r: i for i, r in enumerate(order)}
    for _, row in routes[routes["route"].isin(order)].iterrows():
        x = x_of[row["route"]]
        ax.bar(x, row["equivalent_dose_mg"], width=0.6, color="0.85", edgecolor="0.5")
        low, high = row["equivalent_dose_low_mg"], row["equivalent_dose_high_mg"]
        if high > low:
            ax.plot([x, x], [low, high], color="0.3", lw=1)
    for route, rows in arms.groupby("route"):
        if route not in x_of:
            continue
        jitter = np.linspace(-0.2, 0.2, len(rows)) if len(rows) > 1 else [0.0]
        ax.scatter(
            np.full(len(rows), x_of[route]) + jitter,
            rows["dose_mg"],
            s=16,
            color="#1f4e79",
            zorder=3,
        )
    ax.set_xticks(range(len(order)), [ROUTE_NAMES.get(r, r) for r in order])
    ax.set_ylabel(f"Dose for a {body_weight_kg:g} kg adult (mg)")
    per_kg = reference_mg / body_weight_kg
    ax.set_title(
        f"Bars: dose equivalent to {reference_mg:g} mg IV ({per_kg:g} mg/kg) by bioavailability; "
        "points: trials' doses",
        fontsize=8,
    )
    clean_axes(ax)
    return fig


def cost_per_responder_plot(table: pd.DataFrame) -> Figure:
    """Cost of a course per responder by access route, with the interval from the response CI."""
    rows = table.sort_values("cost_per_responder")
    fig = Figure(figsize=(7.0, 0.8 + 0.45 * len(rows)))
    ax = fig.add_axes((0.36, 0.2, 0.6, 0.7))
    y = np.arange(len(rows))
    ax.barh(y, rows["cost_per_responder"], color="#8eb4e3", edgecolor="#1f4e79")
    ax.errorbar(
        rows["cost_per_responder"],
        y,
        xerr=[
            rows["cost_per_responder"] - rows["cost_per_responder_low"],
            rows["cost_per_responder_high"] - rows["cost_per_responder"],
        ],
        fmt="none",
        color="black",
        capsize=2,
    )
    ax.set_yticks(y, rows["access_route"])
    ax.set_xlabel("US dollars per responder (course cost / pooled response proportion)")
    clean_axes(ax)
    return fig


def dose_response_text(coefficients: pd.DataFrame) -> str:
    """The figure's line on the slope, from the dose-response table's second row.

    Where no meta-regression was estimable, the table's note says why.
    """
    slope = coefficients.iloc[1]
    if isinstance(slope.get("note"), str) and slope["note"]:
        return slope["note"]
    return (
        f"Slope {slope['estimate']:.2f} per mg/kg [{slope['ci_low']:.2f}, {slope['ci_high']:.2f}], "
        f"p = {slope['pval']:.3f}, k = {int(slope['k'])}"
    )
