"""Risk-of-bias figures in the robvis layouts: the traffic-light plot and the summary plot."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ketamine_meta.figures.plotting import MAX_TRIAL_ROWS, message_figure

#: Colours of robvis (low, some concerns / unclear, high).
JUDGEMENT_COLOURS = {
    "low": "#02C100",
    "unclear": "#E2DF07",
    "some concerns": "#E2DF07",
    "high": "#BF0000",
}
JUDGEMENT_LABELS = {"low": "Low", "unclear": "Unclear / some concerns", "high": "High"}
#: Domains in the order of RoB 1, then the derived flag and the overall judgement.
DOMAIN_ORDER = (
    "random_sequence_generation",
    "allocation_concealment",
    "blinding_of_participants_and_personnel",
    "blinding_of_outcome_assessment",
    "incomplete_outcome_data",
    "selective_reporting",
    "other_bias",
    "functional_unblinding",
    "overall",
)


def _domains(table: pd.DataFrame) -> list[str]:
    present = set(table["domain"])
    return [d for d in DOMAIN_ORDER if d in present] + sorted(present - set(DOMAIN_ORDER))


def _label(domain: str) -> str:
    return domain.replace("_", " ").capitalize()


def traffic_light_plot(table: pd.DataFrame) -> Figure:
    """Trials by domain, one coloured dot per judgement; blank where a domain is not judged."""
    title = "Risk of bias by trial (RoB 1 as the source judged it)"
    domains = _domains(table)
    studies = sorted(set(table["study_id"]))
    if not studies or len(studies) > MAX_TRIAL_ROWS:
        return message_figure(
            title,
            f"{len(studies)} trials with a judgement: "
            + ("nothing to draw." if not studies else "too many rows to read; see the table."),
        )
    figure = Figure(figsize=(2.6 + 0.55 * len(domains), 1.6 + 0.28 * len(studies)))
    ax = figure.add_axes((0.28, 0.22, 0.68, 0.7))
    judged = table.set_index(["study_id", "domain"])["judgement"]
    for y, study in enumerate(studies):
        for x, domain in enumerate(domains):
            judgement = judged.get((study, domain))
            if judgement is None:
                continue
            ax.scatter(
                [x],
                [y],
                s=150,
                color=JUDGEMENT_COLOURS[judgement],
                edgecolors="#333333",
                linewidths=0.4,
            )
    ax.set_xticks(
        range(len(domains)),
        [f"D{i + 1}" for i in range(len(domains) - 2)] + ["FU", "Overall"],
        fontsize=8,
    )
    ax.set_yticks(range(len(studies)), studies, fontsize=7.5)
    ax.set_xlim(-0.6, len(domains) - 0.4)
    ax.set_ylim(len(studies) - 0.5, -0.5)
    ax.xaxis.tick_top()
    for side in ("right", "bottom", "left", "top"):
        ax.spines[side].set_visible(False)
    ax.tick_params(length=0)
    key = "; ".join(f"D{i + 1} {_label(d)}" for i, d in enumerate(domains[:-2]))
    figure.text(
        0.02,
        0.06,
        key + "; FU functional unblinding on the depression score (derived per comparison from "
        "the control and the dose, PROTOCOL.md §20.1); blank: not judged.",
        fontsize=6.5,
        wrap=True,
    )
    handles = [
        Line2D(
            [],
            [],
            marker="o",
            ls="",
            color=JUDGEMENT_COLOURS[k],
            markeredgecolor="#333333",
            label=JUDGEMENT_LABELS[k],
        )
        for k in ("low", "unclear", "high")
    ]
    figure.legend(handles=handles, loc="lower right", fontsize=7, frameon=False, ncols=3)
    figure.suptitle(title, fontsize=10)
    return figure


def summary_plot(table: pd.DataFrame) -> Figure:
    """Per domain, the share of trials judged low, unclear or some concerns, and high."""
    domains = _domains(table)
    if not domains:
        return message_figure("Risk of bias across trials, by domain", "No trial is judged.")
    figure = Figure(figsize=(7.6, 1.2 + 0.38 * len(domains)))
    ax = figure.add_axes((0.36, 0.2, 0.55, 0.7))
    for y, domain in enumerate(domains):
        values = table.loc[table["domain"] == domain, "judgement"].replace(
            {"some concerns": "unclear"}
        )
        shares = values.value_counts(normalize=True)
        left = 0.0
        for judgement in ("low", "unclear", "high"):
            width = float(shares.get(judgement, 0.0))
            ax.barh(y, width, left=left, color=JUDGEMENT_COLOURS[judgement], edgecolor="white")
            left += width
        ax.text(1.01, y, f"n = {len(values)}", va="center", fontsize=7)
    ax.set_yticks(range(len(domains)), [_label(d) for d in domains], fontsize=8)
    ax.set_ylim(len(domains) - 0.5, -0.5)
    ax.set_xlim(0, 1)
    ax.set_xticks(np.linspace(0, 1, 5), [f"{v:.0%}" for v in np.linspace(0, 1, 5)], fontsize=8)
    ax.set_xlabel("share of trials (unweighted)", fontsize=8)
    for side in ("right", "top"):
        ax.spines[side].set_visible(False)
    handles = [
        Line2D([], [], marker="s", ls="", color=JUDGEMENT_COLOURS[k], label=v)
        for k, v in JUDGEMENT_LABELS.items()
    ]
    figure.legend(handles=handles, loc="lower center", fontsize=7, frameon=False, ncols=3)
    figure.suptitle("Risk of bias across trials, by domain", fontsize=10)
    return figure
