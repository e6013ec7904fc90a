"""The forest plot and the figure helpers (:mod:`ketamine_meta.figures.plotting`): what a
small forest plot prints and draws, and byte-reproducible saving."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import Polygon

from ketamine_meta.figures.labels import model_text
from ketamine_meta.figures.plotting import (
    ForestLabels,
    deterministic_style,
    forest_plot,
    is_control,
    message_figure,
    save_figure,
    save_figures,
)
from ketamine_meta.stats.meta_analysis import pool_by_subgroup

EFFECTS = pd.DataFrame(
    {
        "label": ["Alpha 2001", "Beta 2002", "Gamma 2003", "Delta 2004"],
        "route": ["IV", "IV", "IN", "IN"],
        "yi": [0.8, 0.4, 0.3, 0.5],
        "vi": [0.10, 0.05, 0.02, 0.04],
        "n_treat": [20, 30, 100, 50],
        "n_ctrl": [20, 30, 100, 48],
        "n_total": [40, 60, 200, 98],
    }
)


@pytest.fixture(scope="module")
def pooled() -> pd.DataFrame:
    table, _, _ = pool_by_subgroup(EFFECTS, "route", "smd", "REML", "knha")
    return table.assign(display="", pi_note="fewer than 3 trials")


def texts(figure: Figure) -> list[str]:
    return [t.get_text() for t in figure.axes[0].texts]


def test_forest_plot_rows_and_weights(pooled):
    figure = forest_plot(EFFECTS, pooled)
    shown = texts(figure)
    # Blocks by route (sorted), each study by decreasing estimate, then the subgroup diamond.
    order = [t for t in shown if t in {"Intranasal", "Intravenous", *EFFECTS["label"]}]
    assert order == [
        "Intranasal",
        "Delta 2004",
        "Gamma 2003",
        "Intravenous",
        "Alpha 2001",
        "Beta 2002",
    ]
    # Weights: 1 / (v + tau^2) of the overall model, in percent.
    tau2 = pooled.set_index("subgroup").loc["overall", "tau2"]
    weights = 1 / (EFFECTS["vi"] + tau2)
    expected = [f"{w:.1f}%" for w in 100 * weights / weights.sum()]
    assert [t for t in shown if t.endswith("%") and t[0].isdigit()] == [
        expected[i] for i in (3, 2, 0, 1)
    ]
    # Estimates with their 95% CI in the monospace column.
    low, high = 0.8 - 1.959963984540054 * np.sqrt(0.1), 0.8 + 1.959963984540054 * np.sqrt(0.1)
    assert f" 0.80 [{low:5.2f}, {high:5.2f}]" in shown
    assert "Subgroup estimate (2 trials)" in shown and "Overall (4 trials)" in shown
    overall = pooled.set_index("subgroup").loc["overall"]
    assert f"[{overall['pi_low']:5.2f}, {overall['pi_high']:5.2f}]" in shown
    # Three diamonds: two subgroups and the overall estimate.
    assert len([p for p in figure.axes[0].patches if isinstance(p, Polygon)]) == 3
    assert figure.axes[0].get_xlabel() == "Hedges' g"


def test_forest_plot_notes_the_model_the_subgroup_test_and_the_missing_pi(pooled):
    figure = forest_plot(EFFECTS, pooled.assign(pi_low=np.nan, pi_high=np.nan))
    footnotes = [t.get_text() for t in figure.texts]
    assert footnotes == [f"Random-effects model: {model_text('REML', 'knha')}."]
    shown = texts(figure)
    test = pooled.set_index("subgroup").loc["test for subgroup differences"]
    assert any(
        t.startswith(f"Test for subgroup differences: Q = {test['q']:.2f} (df = 1)") for t in shown
    )
    assert "fewer than 3 trials" in shown
    assert "← Favours control" in shown and "Favours ketamine →" in shown


def test_a_pool_below_the_minimum_shows_why_and_no_diamond(pooled):
    few = pooled.assign(display=np.where(pooled["subgroup"] == "IV", "too few trials (2 of 3)", ""))
    figure = forest_plot(EFFECTS, few)
    assert "too few trials (2 of 3)" in texts(figure)
    assert len([p for p in figure.axes[0].patches if isinstance(p, Polygon)]) == 2


def test_ratio_labels_exponentiate_the_printed_values(pooled):
    labels = ForestLabels(effect="Risk ratio", exponentiate=True, treat="Ketamine")
    figure = forest_plot(EFFECTS, pooled, labels=labels)
    shown = texts(figure)
    assert f"{np.exp(0.8):5.2f}" in {t.split(" [")[0] for t in shown}
    assert "Ketamine\nn" in shown and "Risk ratio [95% CI]" in shown
    ticks = [t.get_text() for t in figure.axes[0].get_xticklabels()]
    assert "1" in ticks and "2" in ticks


def test_message_figure():
    figure = message_figure("Forest plot", "No rows to draw.")
    assert figure._suptitle.get_text() == "Forest plot"
    assert [t.get_text() for t in figure.texts] == ["Forest plot", "No rows to draw."]


def test_saving_twice_gives_the_same_bytes(tmp_path):
    """As the figure rules do: drawn and saved under :func:`deterministic_style`."""

    def draw() -> Figure:
        figure = Figure(figsize=(2, 2))
        figure.add_subplot().plot([0, 1], [1, 0])
        return figure

    a = {"svg": str(tmp_path / "a.svg"), "png": str(tmp_path / "a.png")}
    b = {"fig_svg": str(tmp_path / "b.svg"), "fig_png": str(tmp_path / "b.png"), "x_svg": "x"}
    with deterministic_style():
        first = save_figure(draw(), a, 50)
    with deterministic_style():
        # Only the outputs named after the figure are written.
        second = save_figures({"fig": draw()}, b, 50)
    assert first == list(a.values())
    assert second == [b["fig_svg"], b["fig_png"]]
    for kind in ("svg", "png"):
        assert (tmp_path / f"a.{kind}").read_bytes() == (tmp_path / f"b.{kind}").read_bytes()
    svg = (tmp_path / "a.svg").read_text()
    assert "<dc:date>" not in svg and "Matplotlib v" not in svg


@pytest.mark.parametrize(
    ("arm_type", "control"),
    [("placebo IV", True), ("placebo", True), ("midazolam", True), ("racemic IV", False)],
)
def test_control_arm_types(arm_type, control):
    assert is_control(arm_type) is control


@pytest.mark.parametrize(
    ("columns", "marked", "analysis"),
    [
        (
            {"design": "crossover", "crossover_period": "all"},
            True,
            "analysed as if parallel groups",
        ),
        (
            {"design": "crossover", "within_correlation": 0.5},
            True,
            "a paired analysis with within-person correlation r = 0.5",
        ),
        ({"design": "crossover", "crossover_period": "first"}, False, None),
        ({"design": "parallel"}, False, None),
    ],
    ids=["counts as if parallel", "paired", "first period only", "parallel"],
)
def test_a_crossover_trial_is_marked_in_any_forest_plot(pooled, columns, marked, analysis):
    effects = EFFECTS.assign(design="parallel")
    for column, value in columns.items():
        effects.loc[0, column] = value
    figure = forest_plot(effects, pooled)
    assert ("Alpha 2001 ‡" in texts(figure)) is marked
    crossover_notes = [t.get_text() for t in figure.texts if t.get_text().startswith("‡")]
    if marked:
        assert crossover_notes == [
            "‡ crossover trial: the same participants under both conditions, "
            f"{analysis}; their n appears in both columns."
        ]
    else:
        assert crossover_notes == []


def test_a_single_estimate_has_no_heterogeneity_to_report():
    effects = EFFECTS.iloc[:1]
    table, _, _ = pool_by_subgroup(effects, "route", "smd", "REML", "z")
    lines = [
        t
        for t in texts(forest_plot(effects, table.assign(display="", pi_note="")))
        if t.startswith("Heterogeneity")
    ]
    # Q = 0 on 0 df (metafor's p = 1) tests nothing: no statistic is printed.
    assert lines == ["Heterogeneity: not estimable from a single estimate"]
