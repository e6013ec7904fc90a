"""What every figure shares: deterministic saving and style, labels, and the forest plot."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Polygon
from matplotlib.transforms import blended_transform_factory

from ketamine_meta.analyses.comparisons import ARM_LEVEL
from ketamine_meta.evidence.vocabulary import ROUTE_NAMES
from ketamine_meta.figures.labels import model_text, p_text
from ketamine_meta.stats.meta_analysis import (
    OVERALL_LABEL,
    SUBGROUP_TEST_LABEL,
    percent_weights,
)
from ketamine_meta.stats.model import critical_value
from ketamine_meta.stats.tau2 import COMMON_EFFECT_METHODS

#: rcParams that make SVG output byte-identical across runs and machines: a fixed hash salt
#: for element ids, text kept as text, and the font matplotlib ships.
DETERMINISTIC_RC = {
    "svg.hashsalt": "ketamine-meta",
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 8.5,
    "path.simplify": False,
}


# Figure-fraction x positions of the text columns and of the plotting panel.
COL_N_TREAT, COL_N_CTRL = 0.345, 0.405


PANEL_LEFT, PANEL_WIDTH = 0.43, 0.28


COL_CI, COL_WEIGHT = 0.875, 0.955


FOOTNOTE_STEP_IN = 0.2


#: Metadata that would otherwise stamp the date and software version into saved files.
SVG_METADATA = {"Date": None, "Creator": None}


PNG_METADATA = {"Software": None}


def save_figure(figure: Figure, outputs: Mapping[str, str], dpi: int) -> list[str]:
    """Write ``figure`` to every ``{format: path}`` of ``outputs``, without timestamps.

    The one file-writing function of the library: every figure rule saves through it, so the
    metadata that keeps SVG and PNG byte-reproducible is set in one place.
    """
    for fmt, path in outputs.items():
        metadata = SVG_METADATA if fmt == "svg" else PNG_METADATA
        figure.savefig(path, format=fmt, dpi=dpi, metadata=metadata)
    return list(outputs.values())


def save_figures(figures: Mapping[str, Figure], outputs: Mapping[str, str], dpi: int) -> list[str]:
    """:func:`save_figure` for a rule that draws several figures.

    ``outputs`` is keyed ``NAME_FORMAT`` (the workflow's ``figure_set_outputs``); each
    figure of ``figures`` is written to the outputs of its name.
    """
    written = []
    for name, figure in figures.items():
        mine = {
            key.removeprefix(f"{name}_"): path
            for key, path in outputs.items()
            if key.rpartition("_")[0] == name
        }
        written += save_figure(figure, mine, dpi)
    return written


def deterministic_style() -> mpl.rc_context:
    """Context manager applying :data:`DETERMINISTIC_RC`."""
    return mpl.rc_context(DETERMINISTIC_RC)


@dataclass(frozen=True)
class ForestLabels:
    """Texts of a forest plot that depend on the analysis."""

    effect: str = "Hedges' g"
    favours_left: str = "Favours control"
    favours_right: str = "Favours ketamine"
    treat: str = "Drug"
    ctrl: str = "Control"
    #: The model as fitted; empty: read from the pooled table's ``method`` and ``test``.
    model: str = ""
    #: Estimates are logs (log RR, log OR): show them and their axis as ratios.
    exponentiate: bool = False


#: A figure with a row (or a label) per trial cannot be read beyond this many: above it the
#: per-trial rows are left to the table and the figure shows the pooled estimates.
MAX_TRIAL_ROWS = 150


def message_figure(title: str, message: str) -> Figure:
    """A figure that says why there is nothing to draw (no rows, or too many to read)."""
    figure = Figure(figsize=(6.4, 1.6))
    figure.suptitle(title, fontsize=10)
    figure.text(0.5, 0.4, message, ha="center", va="center", fontsize=8, wrap=True)
    return figure


def _count_text(row: Mapping) -> str:
    """``k = 4, 3 trials`` where comparisons outnumber trials, else ``3 trials``."""
    trials = int(row["trials"])
    k = int(row["k"])
    return f"k = {k}, {trials} trials" if k != trials else f"{trials} trial{'s' * (trials != 1)}"


def _ci_text(est: float, low: float, high: float, exponentiate: bool = False) -> str:
    shown = np.exp(est) if exponentiate else est
    return f"{_two_decimals(shown)} {_interval_text(low, high, exponentiate)}"


def _interval_text(low: float, high: float, exponentiate: bool = False) -> str:
    """``[low, high]`` on the plot's printed scale (ratios back-transformed from logs)."""
    if exponentiate:
        low, high = np.exp(low), np.exp(high)
    return f"[{_two_decimals(low)}, {_two_decimals(high)}]"


def _two_decimals(value: float) -> str:
    """``value`` to two decimals, five wide; a value that rounds to zero is 0.00, not -0.00."""
    return f"{round(float(value), 2) + 0.0:5.2f}"


def _heterogeneity_text(row: pd.Series) -> str:
    if int(row["q_df"]) < 1:
        # One estimate: Q = 0 on 0 df tests nothing (metafor prints p = 1), so nothing is shown.
        return "Heterogeneity: not estimable from a single estimate"
    # A common-effect model assumes τ² = 0; it has no estimate of it to print.
    tau2 = "" if _common_effect(row) else f"τ² = {row['tau2']:.3f}, "
    return (
        f"Heterogeneity: {tau2}I² = {row['i2']:.0f}%, "
        f"Q = {row['q']:.2f} (df = {int(row['q_df'])}), {p_text(row['q_p'])}"
    )


def _common_effect(row: pd.Series) -> bool:
    return row.get("method") in COMMON_EFFECT_METHODS


def _diamond(ax, y: float, low: float, est: float, high: float, color: str) -> None:
    ax.add_patch(
        Polygon(
            [(low, y), (est, y + 0.32), (high, y), (est, y - 0.32)],
            closed=True,
            facecolor=color,
            edgecolor="black",
            linewidth=0.6,
        )
    )


@dataclass(frozen=True)
class _ForestPanel:
    """Where a forest plot's rows are drawn: the axes, the text columns' transform, the x range."""

    ax: object
    text_tf: object
    x_min: float
    x_max: float
    labels: ForestLabels


def forest_plot(
    effects: pd.DataFrame,
    pooled: pd.DataFrame,
    subgroup: str = "route",
    subgroup_names: Mapping[str, str] | None = None,
    labels: ForestLabels | None = None,
    level: float = 0.95,
    blocks: bool = True,
) -> Figure:
    """Draw a forest plot with one block per subgroup, subgroup diamonds and an overall diamond.

    Parameters
    ----------
    effects : pandas.DataFrame
        One row per comparison: ``label, n_treat, n_ctrl, yi, vi`` and the ``subgroup`` column.
    pooled : pandas.DataFrame
        Output of :func:`ketamine_meta.stats.meta_analysis.pool_by_subgroup` for the same rows.
    subgroup : str
        Column of ``effects`` that defines the blocks.
    subgroup_names : mapping, optional
        Display names of subgroup levels (default: :data:`ROUTE_NAMES`).
    labels : ForestLabels, optional
        Axis and column texts.
    level : float
        Level of the per-study confidence intervals.
    blocks : bool
        Draw a block per subgroup; ``False`` draws the studies and the overall estimate only
        (one analysis without subgroups: ``pooled`` needs only its overall row).

    Returns
    -------
    matplotlib.figure.Figure
        Weights are the overall random-effects weights ``1/(v_i + tau^2)`` in percent.
    """
    labels = labels or ForestLabels()
    names = dict(ROUTE_NAMES if subgroup_names is None else subgroup_names)
    by_name = pooled.set_index("subgroup")
    overall = by_name.loc[OVERALL_LABEL]
    weights = pd.Series(percent_weights(effects["vi"], overall["tau2"]), index=effects.index)
    z = critical_value(level)
    lows = effects["yi"] - z * np.sqrt(effects["vi"])
    highs = effects["yi"] + z * np.sqrt(effects["vi"])
    draw_trials = len(effects) <= MAX_TRIAL_ROWS
    lines = (
        _forest_lines(effects, by_name, subgroup, names, draw_trials)
        if blocks
        else _unblocked_lines(effects, overall, draw_trials)
    )
    footnotes = _forest_footnotes(effects, overall, labels, draw_trials)
    if not draw_trials:
        lows, highs = lows.iloc[:0], highs.iloc[:0]
    crossover = _crossover_rows(effects)

    fig, panel, top, footer_in = _forest_canvas(len(lines), footnotes, lows, highs, pooled, labels)
    panel.ax.axvline(overall["estimate"], color="0.45", linewidth=0.6, linestyle=(0, (3, 3)))
    _forest_header(panel, top, level)
    y = top - 1.9
    for kind, spec in lines:
        if kind == "study":
            i = spec["idx"]
            _study_row(panel, y, effects.loc[i], lows[i], highs[i], weights, i, crossover[i])
        elif kind == "pooled":
            _pooled_row(panel, y, spec["row"], spec["text"], spec["rows"])
        elif kind == "pi":
            _prediction_row(panel, y, spec["row"])
        else:
            _text_row(panel, y, kind, spec)
        y -= 1
    _favours(fig, panel, footer_in)
    return fig


def _forest_lines(
    effects: pd.DataFrame,
    by_name: pd.DataFrame,
    subgroup: str,
    names: Mapping[str, str],
    draw_trials: bool,
) -> list[tuple[str, dict]]:
    """The plot's rows from the top, one per line: headings, trials, pooled rows and notes."""
    lines: list[tuple[str, dict]] = []
    for name, block in effects.groupby(subgroup, sort=True):
        lines.append(("heading", {"text": names.get(name, str(name))}))
        lines += _study_lines(block, draw_trials)
        lines.append(
            ("pooled", {"row": by_name.loc[str(name)], "text": "Subgroup estimate", "rows": block})
        )
        if by_name.loc[str(name), "k"] > 1:
            lines.append(("hetero", {"row": by_name.loc[str(name)]}))
        lines.append(("gap", {}))
    lines += _overall_lines(effects, by_name.loc[OVERALL_LABEL])
    test = by_name.loc[SUBGROUP_TEST_LABEL]
    if test["q_df"] > 0:
        text = (
            f"Test for subgroup differences: Q = {test['q']:.2f} "
            f"(df = {int(test['q_df'])}), {p_text(test['q_p'])}"
        )
        lines.append(("note", {"text": text}))
    return lines


def _unblocked_lines(
    effects: pd.DataFrame, overall: pd.Series, draw_trials: bool
) -> list[tuple[str, dict]]:
    """The rows of a forest plot without subgroups: the studies, then the overall estimate."""
    return [*_study_lines(effects, draw_trials), ("gap", {}), *_overall_lines(effects, overall)]


def _study_lines(rows: pd.DataFrame, draw_trials: bool) -> list[tuple[str, dict]]:
    """One line per trial, largest estimate first (none above :data:`MAX_TRIAL_ROWS`)."""
    if not draw_trials:
        return []
    order = rows.sort_values(["yi", "label"], ascending=[False, True]).index
    return [("study", {"idx": idx}) for idx in order]


def _overall_lines(effects: pd.DataFrame, overall: pd.Series) -> list[tuple[str, dict]]:
    """The overall estimate, its prediction interval and its heterogeneity.

    A common-effect model has no prediction interval of its own: it draws none.
    """
    lines = [("pooled", {"row": overall, "text": "Overall", "rows": effects})]
    if not _common_effect(overall):
        lines.append(("pi", {"row": overall}))
    return [*lines, ("hetero", {"row": overall})]


def _forest_footnotes(
    effects: pd.DataFrame, overall: pd.Series, labels: ForestLabels, draw_trials: bool
) -> list[str]:
    """The model named, and what the marks † and ‡ and a table without rows mean."""
    model = labels.model or model_text(overall["method"], overall["test"])
    kind = "Common-effect" if _common_effect(overall) else "Random-effects"
    footnotes = [f"{kind} model: {model}."]
    if not draw_trials:
        footnotes.append(
            f"{len(effects)} comparisons, more than {MAX_TRIAL_ROWS}: their rows are in the "
            "table, not drawn."
        )
    if "data_basis" in effects and (effects["data_basis"] != ARM_LEVEL).any():
        footnotes.append(
            "† g from a between-arm difference or standardized difference as reported "
            "(no arm-level means and SDs available)."
        )
    crossover = _crossover_rows(effects)
    if crossover.any():
        footnotes.append(
            "‡ crossover trial: the same participants under both conditions, "
            f"{_crossover_analysis_text(effects[crossover])}; their n appears in both columns."
        )
    return footnotes


def _crossover_rows(effects: pd.DataFrame) -> pd.Series:
    """Rows that compare the same participants under both conditions.

    A crossover trial's periods together (not its first period alone, a parallel comparison),
    or a row analysed with a within-person correlation. A table without these columns (a
    user's CSV) has none.
    """
    crossover = pd.Series(False, index=effects.index)
    if "design" in effects:
        first_period = (
            effects["crossover_period"].eq("first") if "crossover_period" in effects else False
        )
        crossover |= effects["design"].eq("crossover") & ~first_period
    if "within_correlation" in effects:
        crossover |= effects["within_correlation"].notna()
    return crossover


def _crossover_analysis_text(rows: pd.DataFrame) -> str:
    """How the crossover rows were analysed: paired with r, or as if parallel (counts, r null)."""
    correlation = (
        rows["within_correlation"]
        if "within_correlation" in rows
        else pd.Series(np.nan, index=rows.index)
    )
    analyses = []
    if correlation.notna().any():
        r = ", ".join(f"{v:g}" for v in sorted(set(correlation.dropna())))
        analyses.append(f"a paired analysis with within-person correlation r = {r}")
    if correlation.isna().any():
        analyses.append("analysed as if parallel groups")
    return " or ".join(analyses)


def _forest_canvas(
    n_lines: int,
    footnotes: list[str],
    lows: pd.Series,
    highs: pd.Series,
    pooled: pd.DataFrame,
    labels: ForestLabels,
) -> tuple[Figure, _ForestPanel, float, float]:
    """The figure sized to its rows and footnotes, its axes and x range; the footnotes drawn."""
    # Vertical layout in inches: footnotes, the favours line and the x axis below the rows.
    footer_in = FOOTNOTE_STEP_IN * len(footnotes)
    axis_in = 0.75 + footer_in
    fig = Figure(figsize=(10, 0.22 * (n_lines + 4) + 0.6 + footer_in))
    fig_h = fig.get_figheight()
    ax = fig.add_axes((PANEL_LEFT, axis_in / fig_h, PANEL_WIDTH, 1 - (axis_in + 0.05) / fig_h))
    top = n_lines + 1.5
    ax.set_ylim(0.0, top)
    for i, text in enumerate(footnotes):
        y_in = footer_in - FOOTNOTE_STEP_IN * (i + 0.5)
        fig.text(0.015, y_in / fig_h, text, fontsize=7.5, va="center")

    x_values = np.concatenate(
        [lows, highs, pooled[["pi_low", "pi_high"]].dropna().to_numpy().ravel()]
    )
    x_min = float(np.floor(min(-0.5, np.nanmin(x_values)) * 2) / 2)
    x_max = float(np.ceil(max(0.5, np.nanmax(x_values)) * 2) / 2)
    ax.set_xlim(x_min, x_max)
    ax.axvline(0, color="black", linewidth=0.6)
    panel = _ForestPanel(
        ax, blended_transform_factory(fig.transFigure, ax.transData), x_min, x_max, labels
    )
    return fig, panel, top, footer_in


def _forest_header(panel: _ForestPanel, top: float, level: float) -> None:
    """The x axis, and the column headings above a rule."""
    ax, labels, text_tf = panel.ax, panel.labels, panel.text_tf
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_xlabel(labels.effect)
    ax.tick_params(axis="x", labelsize=8)
    if labels.exponentiate:
        ticks = [
            t for t in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20) if panel.x_min <= np.log(t) <= panel.x_max
        ]
        ax.set_xticks(np.log(ticks), [f"{t:g}" for t in ticks])
    header_y = top - 0.6
    columns = [
        (0.015, "Study", "left"),
        (COL_N_TREAT, f"{labels.treat}\nn", "right"),
        (COL_N_CTRL, f"{labels.ctrl}\nn", "right"),
        (COL_CI, f"{labels.effect} [{level:.0%} CI]", "right"),
        (COL_WEIGHT, "Weight", "right"),
    ]
    for x, text, ha in columns:
        ax.text(x, header_y, text, transform=text_tf, ha=ha, va="center", fontweight="bold")
    ax.plot([0.01, 0.99], [top - 1.25] * 2, transform=text_tf, color="black", lw=0.6, clip_on=False)


def _study_row(
    panel: _ForestPanel,
    y: float,
    row: pd.Series,
    low: float,
    high: float,
    weights: pd.Series,
    i: object,
    crossover: bool,
) -> None:
    """One trial's comparison: label (with † and ‡), sizes, CI, weight, square and line."""
    ax, text_tf = panel.ax, panel.text_tf
    marks = " †" if row.get("data_basis", ARM_LEVEL) != ARM_LEVEL else ""
    if crossover:
        marks += " ‡"
    ax.text(0.025, y, row["label"] + marks, transform=text_tf, va="center")
    for column, x in (("n_treat", COL_N_TREAT), ("n_ctrl", COL_N_CTRL)):
        size = row.get(column)
        shown = "" if size is None or pd.isna(size) else f"{size:g}"
        ax.text(x, y, shown, transform=text_tf, va="center", ha="right")
    ax.text(
        COL_CI,
        y,
        _ci_text(row["yi"], low, high, panel.labels.exponentiate),
        transform=text_tf,
        va="center",
        ha="right",
        family="DejaVu Sans Mono",
    )
    ax.text(COL_WEIGHT, y, f"{weights[i]:.1f}%", transform=text_tf, va="center", ha="right")
    ax.plot([max(low, panel.x_min), min(high, panel.x_max)], [y, y], color="black", lw=0.8)
    size = 3 + 9 * np.sqrt(weights[i] / weights.max())
    ax.plot([row["yi"]], [y], marker="s", markersize=size, color="#1f4e79", markeredgewidth=0)


def _pooled_row(
    panel: _ForestPanel, y: float, row: pd.Series, text: str, rows: pd.DataFrame
) -> None:
    """A subgroup's or the overall pooled row: counts, sizes, CI and diamond, or why none."""
    ax, text_tf = panel.ax, panel.text_tf
    ax.text(
        0.025, y, f"{text} ({_count_text(row)})", transform=text_tf, va="center", fontweight="bold"
    )
    for x, column in ((COL_N_TREAT, "n_treat"), (COL_N_CTRL, "n_ctrl")):
        sizes = rows[column]
        ax.text(
            x,
            y,
            f"{sizes.sum():g}" if sizes.notna().any() else "",
            transform=text_tf,
            va="center",
            ha="right",
            fontweight="bold",
        )
    # Below the minimum information (PROTOCOL.md §11) a pool is no answer: its reason stands
    # where the interval would, and no diamond is drawn.
    too_few = isinstance(row.get("display"), str) and bool(row["display"])
    ax.text(
        COL_CI,
        y,
        row["display"]
        if too_few
        else _ci_text(row["estimate"], row["ci_low"], row["ci_high"], panel.labels.exponentiate),
        transform=text_tf,
        va="center",
        ha="right",
        fontweight="bold",
        fontsize=7 if too_few else None,
        family="DejaVu Sans Mono",
    )
    if not too_few:
        color = "#c0504d" if row.name == OVERALL_LABEL else "#8eb4e3"
        _diamond(ax, y, row["ci_low"], row["estimate"], row["ci_high"], color)


def _prediction_row(panel: _ForestPanel, y: float, row: pd.Series) -> None:
    """The prediction interval as a bar, or the note saying why there is none."""
    ax, text_tf = panel.ax, panel.text_tf
    ax.text(0.025, y, "Prediction interval", transform=text_tf, va="center", style="italic")
    # No prediction interval below 3 trials or at tau2 = 0 (§11): the note says why.
    defined = np.isfinite(row["pi_low"]) and np.isfinite(row["pi_high"])
    ax.text(
        COL_CI,
        y,
        _interval_text(row["pi_low"], row["pi_high"], panel.labels.exponentiate)
        if defined
        else row["pi_note"],
        transform=text_tf,
        va="center",
        ha="right",
        fontsize=None if defined else 7,
        family="DejaVu Sans Mono",
    )
    if defined:
        ax.plot(
            [max(row["pi_low"], panel.x_min), min(row["pi_high"], panel.x_max)],
            [y, y],
            color="#c0504d",
            lw=2.2,
            solid_capstyle="butt",
        )


def _text_row(panel: _ForestPanel, y: float, kind: str, spec: dict) -> None:
    """A heading, a heterogeneity line, the test for subgroup differences, or a gap."""
    ax, text_tf = panel.ax, panel.text_tf
    if kind == "heading":
        ax.text(0.015, y, spec["text"], transform=text_tf, va="center", fontweight="bold")
    elif kind == "hetero":
        text = _heterogeneity_text(spec["row"])
        ax.text(0.025, y, text, transform=text_tf, va="center", fontsize=7.5, color="0.25")
    elif kind == "note":
        ax.text(
            0.015, y, spec["text"], transform=text_tf, va="center", fontsize=7.5, fontweight="bold"
        )


def _favours(fig: Figure, panel: _ForestPanel, footer_in: float) -> None:
    """Which side of the axis favours what, below it."""
    ax = panel.ax
    arrow_in = footer_in + 0.12
    fig_h = fig.get_figheight()
    arrow_y = ax.transAxes.inverted().transform(fig.transFigure.transform((0, arrow_in / fig_h)))[1]
    for x, text, ha in (
        (0.47, f"← {panel.labels.favours_left}", "right"),
        (0.53, f"{panel.labels.favours_right} →", "left"),
    ):
        ax.text(x, arrow_y, text, transform=ax.transAxes, ha=ha, va="center", fontsize=7.5)


RELAPSE_COLORS = ["#1f4e79", "#c0504d", "#4f7d3a", "#7f6000", "#5b3f8c", "#3a7d7d", "#8c3a5b"]


#: The colour of control arms (placebo, midazolam) wherever arms are drawn side by side.
PLACEBO_GREY = "0.45"


def clean_axes(ax) -> None:
    """Journal axes: no top or right spine, small tick labels."""
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=7.5)


def is_control(arm_type: str) -> bool:
    """Whether an arm type of the response tables is a control (placebo or midazolam)."""
    return arm_type.startswith("placebo") or arm_type == "midazolam"
