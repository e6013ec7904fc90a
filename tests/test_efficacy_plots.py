"""Figures of efficacy beyond the forest plot (:mod:`ketamine_meta.figures.efficacy_plots`):
the funnel plot and the effect-size benchmark, read back for small hand-made tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ketamine_meta.figures.efficacy_plots import effect_size_benchmark, funnel_plot
from ketamine_meta.figures.labels import model_text
from ketamine_meta.figures.plotting import ROUTE_NAMES
from ketamine_meta.stats.distributions import norm_ppf
from ketamine_meta.stats.meta_analysis import OVERALL_LABEL

BY_STUDY = pd.DataFrame(
    {"yi": [0.2, 0.5, 0.9], "vi": [0.01, 0.04, 0.09], "route": ["IV", "IN", "IV"]}
)


def test_funnel_plot_points_region_and_title():
    egger = pd.Series({"statistic": 1.234, "pval": 0.25})
    ax = funnel_plot(BY_STUDY, 0.4, egger, "Hedges' g").axes[0]
    # Standard error on an inverted axis, from 0 at the top to 1.1 x the largest.
    assert ax.get_ylim() == pytest.approx((0.33, 0.0))
    points = {c.get_label(): c.get_offsets() for c in ax.collections if c.get_label()[0] != "_"}
    np.testing.assert_allclose(points[ROUTE_NAMES["IV"]], [[0.2, 0.1], [0.9, 0.3]])
    np.testing.assert_allclose(points[ROUTE_NAMES["IN"]], [[0.5, 0.2]])
    # The pseudo 95% region's edges: estimate -/+ 1.96 SE.
    low, high = ax.lines[0], ax.lines[1]
    se = np.asarray(low.get_ydata())
    np.testing.assert_allclose(low.get_xdata(), 0.4 - norm_ppf(0.975) * se)
    np.testing.assert_allclose(high.get_xdata(), 0.4 + norm_ppf(0.975) * se)
    assert list(ax.lines[2].get_xdata()) == [0.4, 0.4]
    assert ax.get_title() == "Egger's test: t = 1.23, p = 0.250"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Hedges' g", "Standard error")


def test_effect_size_benchmark_sets_ketamine_beside_antidepressants():
    pooled = pd.DataFrame(
        {
            "subgroup": ["IN", "IV", OVERALL_LABEL, "test for subgroup differences"],
            "k": [7, 3, 10, np.nan],
            "trials": [6, 3, 9, np.nan],
            "method": ["REML"] * 4,
            "test": ["knha"] * 4,
            "estimate": [0.45, 0.66, 0.5, np.nan],
            "ci_low": [0.27, 0.0, 0.35, np.nan],
            "ci_high": [0.63, 1.31, 0.65, np.nan],
        }
    )
    benchmark = pd.Series(
        {
            "estimate": 0.3,
            "ci_low": 0.26,
            "ci_high": 0.34,
            "citation_short": "Cipriani 2018",
            "model": "random-effects pairwise",
            "k": 253,
        }
    )
    figure = effect_size_benchmark(pooled, benchmark, (0.6, 1.0))
    ax = figure.axes[0]
    # Trials beside comparisons where a multi-arm trial gives two.
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "Ketamine, Intranasal (k = 7 comparisons, 6 trials)",
        "Ketamine, Intravenous (k = 3)",
        "Ketamine, all routes (k = 10 comparisons, 9 trials)",
        "Antidepressants vs placebo\n(Cipriani 2018)",
    ]
    # Rows top-down at y = 3, 2, 1; the benchmark at 0.
    ketamine, antidepressants = (c.lines[0] for c in ax.containers)
    assert list(ketamine.get_xdata()) == [0.45, 0.66, 0.5]
    assert list(ketamine.get_ydata()) == [3, 2, 1]
    assert (list(antidepressants.get_xdata()), list(antidepressants.get_ydata())) == ([0.3], [0])
    claimed = [t for t in ax.texts if t.get_text() == "claimed 0.6-1.0"]
    assert len(claimed) == 1 and claimed[0].get_position() == (0.8, 3.5)
    # Both models named beneath.
    assert [t.get_text() for t in figure.texts] == [
        f"Ketamine: random-effects model, {model_text('REML', 'knha')}.\n"
        "Antidepressants: random-effects pairwise meta-analysis as published (k = 253 trials)."
    ]
