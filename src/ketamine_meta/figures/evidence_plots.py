"""Figures of the claims audit.

Response time course, funnel, PRISMA flow, effect-size benchmark, dose, safety and cost. Each
returns a matplotlib Figure; saving is the caller's job.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from ketamine_meta.figures.labels import p_text
from ketamine_meta.figures.plotting import MAX_TRIAL_ROWS, RELAPSE_COLORS, ROUTE_NAMES
from ketamine_meta.stats.distributions import norm_ppf
from ketamine_meta.stats.meta_analysis import OVERALL_LABEL
from ketamine_meta.stats.publication_bias import funnel_data

PLACEBO_GREY = "0.45"


def _clean_axes(ax) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=7.5)


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
    types = sorted(table["arm_type"].unique(), key=lambda t: (_is_control(t), t))
    offsets = np.linspace(-0.18, 0.18, len(types))
    colors = iter(RELAPSE_COLORS)
    for offset, arm_type in zip(offsets, types, strict=True):
        rows = table[table["arm_type"] == arm_type]
        x = rows["timepoint_h"].map(x_of).to_numpy() + offset
        control = _is_control(arm_type)
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
    _clean_axes(ax)
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


def _is_control(arm_type: str) -> bool:
    return arm_type.startswith("placebo") or arm_type == "midazolam"


def funnel_plot(by_study: pd.DataFrame, estimate: float, egger: pd.Series, effect: str) -> Figure:
    """Funnel plot: estimates against their standard errors, with the pseudo 95% region."""
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
    for route, rows in points.groupby(by_study["route"].to_numpy()):
        ax.scatter(rows["yi"], rows["sei"], s=22, label=ROUTE_NAMES.get(route, route), zorder=3)
    ax.set_ylim(top, 0)
    ax.set_xlabel(effect)
    ax.set_ylabel("Standard error")
    ax.set_title(
        f"Egger's test: t = {egger['statistic']:.2f}, {p_text(egger['pval'])}", fontsize=8.5
    )
    ax.legend(fontsize=7, frameon=False)
    _clean_axes(ax)
    return fig


def prisma_flow(counts: Mapping[str, int], exclusion_reasons: Mapping[str, int]) -> Figure:
    """PRISMA-style flow of candidate trials from the screening log to the analyses."""
    fig = Figure(figsize=(7.0, 6.2))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 10)
    ax.axis("off")

    def box(x, y, w, h, text, bold=False):
        ax.add_patch(
            FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.05", fc="white", ec="black", lw=0.8)
        )
        ax.text(
            x + w / 2,
            y + h / 2,
            text,
            ha="center",
            va="center",
            fontsize=7.8,
            fontweight="bold" if bold else "normal",
            wrap=True,
        )

    def arrow(x0, y0, x1, y1):
        ax.annotate("", (x1, y1), (x0, y0), arrowprops={"arrowstyle": "->", "lw": 0.8})

    box(
        0.6,
        8.6,
        5.0,
        1.0,
        f"Candidate trials identified\n(review tables and searches): "
        f"{counts['records']} records, {counts['candidates']} distinct trials",
    )
    box(0.6, 6.6, 5.0, 1.0, f"Trials screened: {counts['candidates']}")
    reasons = "\n".join(f"{reason}: {n}" for reason, n in exclusion_reasons.items())
    box(6.3, 6.1, 3.4, 2.0, f"Excluded: {counts['excluded']}\n{reasons}")
    box(6.3, 4.6, 3.4, 0.9, f"Unclear (not yet decided): {counts['unclear']}")
    box(0.6, 4.6, 5.0, 1.0, f"Included: {counts['included']}")
    box(6.3, 3.1, 3.4, 0.9, f"Still to extract: {counts['to_extract']}")
    box(0.6, 2.6, 5.0, 1.0, f"Extracted into the data package: {counts['extracted']}", bold=True)
    box(
        0.6,
        0.6,
        5.0,
        1.0,
        f"In the pooled SMD at 24 h: {counts['in_primary']} trials\n"
        f"(relapse data: {counts['with_relapse']} trials)",
    )
    for y0, y1 in ((8.6, 7.6), (6.6, 5.6), (4.6, 3.6), (2.6, 1.6)):
        arrow(3.1, y0, 3.1, y1)
    arrow(5.6, 7.1, 6.3, 7.1)
    arrow(5.6, 6.8, 6.3, 5.3)
    arrow(5.6, 3.4, 6.3, 3.5)
    return fig


def effect_size_benchmark(
    pooled_by_route: pd.DataFrame, benchmark: pd.Series, claimed: tuple[float, float]
) -> Figure:
    """Ketamine's pooled SMD (overall and by route) beside the antidepressant benchmark."""
    rows = pooled_by_route[pooled_by_route["k"].notna() & pooled_by_route["estimate"].notna()]
    labels = [
        ("Ketamine, all routes" if r == OVERALL_LABEL else f"Ketamine, {ROUTE_NAMES.get(r, r)}")
        + f" (k = {int(k)})"
        for r, k in zip(rows["subgroup"], rows["k"], strict=True)
    ]
    fig = Figure(figsize=(7.4, 3.6))
    ax = fig.add_axes((0.4, 0.16, 0.56, 0.7))
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
    _clean_axes(ax)
    return fig


def dose_response_plot(by_study: pd.DataFrame, line: pd.DataFrame, slope_text: str) -> Figure:
    """SMD at 24 h against IV-equivalent dose, bubble size by precision, with the fitted line."""
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
    ax.plot(line["dose"], line["estimate"], color="#c0504d", lw=1)
    ax.fill_between(line["dose"], line["ci_low"], line["ci_high"], color="#c0504d", alpha=0.12)
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xlabel("IV-equivalent dose (mg/kg)")
    ax.set_ylabel("Hedges' g at 24 h")
    ax.set_title(slope_text, fontsize=8.5)
    ax.legend(fontsize=7, frameon=False)
    _clean_axes(ax)
    return fig


def bioavailability_plot(routes: pd.DataFrame, trials: pd.DataFrame) -> Figure:
    """IV-equivalent dose per route (from bioavailability) with each trial's dose placed on it.

    ``routes``: ``route, bioavailability`` (fraction, the value used) and ``low, high`` (the
    range over sources); ``trials``: ``route, dose_mg_70kg, iv_equivalent_mg_70kg, label``.
    """
    fig = Figure(figsize=(7.0, 4.2))
    ax = fig.add_axes((0.12, 0.14, 0.84, 0.74))
    order = [r for r in ("IV", "IM", "SC", "IN", "SL", "PO") if r in set(routes["route"])]
    x_of = {r: i for i, r in enumerate(order)}
    for _, row in routes[routes["route"].isin(order)].iterrows():
        x = x_of[row["route"]]
        # The oral (etc.) dose equivalent to 35 mg IV (0.5 mg/kg at 70 kg).
        ax.bar(x, 35 / row["bioavailability"], width=0.6, color="0.85", edgecolor="0.5")
        if row["high"] > row["low"]:
            ax.plot([x, x], [35 / row["high"], 35 / row["low"]], color="0.3", lw=1)
    for route, rows in trials.groupby("route"):
        if route not in x_of:
            continue
        jitter = np.linspace(-0.2, 0.2, len(rows)) if len(rows) > 1 else [0.0]
        ax.scatter(
            np.full(len(rows), x_of[route]) + jitter,
            rows["dose_mg_70kg"],
            s=16,
            color="#1f4e79",
            zorder=3,
        )
    ax.set_xticks(range(len(order)), [ROUTE_NAMES.get(r, r) for r in order])
    ax.set_ylabel("Dose for a 70 kg adult (mg)")
    ax.set_title(
        "Bars: dose equivalent to 35 mg IV (0.5 mg/kg) by bioavailability; points: trials' doses",
        fontsize=8,
    )
    _clean_axes(ax)
    return fig


def adverse_event_plot(table: pd.DataFrame, event: str) -> Figure:
    """Risk ratio of an adverse event, drug against control, per trial and pooled (red)."""
    rows = table[table["event"] == event]
    trials = rows[rows["study_id"] != OVERALL_LABEL].sort_values("yi")
    pooled = rows[rows["study_id"] == OVERALL_LABEL]
    title = f"Adverse event: {event}"
    if len(trials) > MAX_TRIAL_ROWS:
        title += f" ({len(trials)} trials, rows in the table)"
        trials = trials.iloc[:0]
    z = norm_ppf(0.975)
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
    _clean_axes(ax)
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
    _clean_axes(ax)
    return fig


def dissociation_vs_effect_plot(table: pd.DataFrame, slope_text: str) -> Figure:
    """Hedges' g at 24 h against the share of the drug arm reporting dissociation."""
    fig = Figure(figsize=(5.4, 4.0))
    ax = fig.add_axes((0.13, 0.15, 0.82, 0.72))
    z = norm_ppf(0.975)
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
    ax.set_ylabel("Hedges' g at 24 h")
    ax.set_title(slope_text, fontsize=8.5)
    _clean_axes(ax)
    return fig
