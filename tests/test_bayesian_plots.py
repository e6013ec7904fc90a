"""Figures of the Bayesian analysis (:mod:`ketamine_meta.figures.bayesian_plots`): what each
draws, read back from the Matplotlib objects for the tables of a small hand-made analysis."""

from __future__ import annotations

import numpy as np
import pandas as pd

from conftest import CONFIG
from ketamine_meta.analyses import bayesian
from ketamine_meta.figures.bayesian_plots import posterior_plot, shrinkage_forest

BAYES = bayesian.BayesianProtocol.from_config(CONFIG["bayesian"])
LABELS = {p.name: p.label for p in BAYES.priors["SMD"]}
BY_STUDY = pd.DataFrame(
    {
        "study_id": ["A", "B", "C", "D"],
        "route": ["IN", "IN", "IV", "IV"],
        "enantiomer": ["esketamine", "esketamine", "racemic", "racemic"],
        "yi": [0.4, 0.6, 0.9, 0.3],
        "vi": [0.03, 0.05, 0.08, 0.06],
    }
)


def test_posterior_plot_draws_each_subgroup_and_each_prior_with_its_posterior():
    curves = bayesian.density_curves(BY_STUDY, BAYES, ["route"])
    left, right = posterior_plot(curves, LABELS, 24).axes
    assert [line.get_label() for line in left.get_lines()[:3]] == [
        "Intranasal",
        "Intravenous",
        "All trials",
    ]
    overall = curves[(curves["quantity"] == "mu") & (curves["subgroup"] == "overall")]
    np.testing.assert_array_equal(left.get_lines()[2].get_ydata(), overall["density"])
    labels = [line.get_label() for line in right.get_lines()]
    assert labels == [
        f"{LABELS['rhodes2015_mental_health']}: posterior",
        "its prior",
        "half-normal(0.5): posterior",
        "its prior",
        "Rhodes 2015 log-t, general: posterior",
        "its prior",
    ]
    assert left.get_xlabel() == "Pooled Hedges' g at 24 h (positive favours ketamine)"


def test_shrinkage_forest_has_a_row_per_trial_and_the_two_summaries():
    table = bayesian.shrunken_trials(BY_STUDY, BAYES)
    ax = shrinkage_forest(table, LABELS, 672).axes[0]
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks == ["A", "B", "C", "D", "Pooled (posterior)", "New trial (predictive)"]
    shrunken = ax.get_lines()[1]
    np.testing.assert_array_equal(
        shrunken.get_xdata(), table.loc[table["row"] == "trial", "theta_median"]
    )
    assert ax.get_xlabel() == "Hedges' g at 28 d (positive favours ketamine)"
