"""Figures of the multiverse (``figures.multiverse_plots``) drawn from a table built here.

``test_multiverse.py`` counts the committed multiverse and draws one curve of its synthetic
table; here a smaller table (made-up numbers) is drawn, and what each figure shows is read
back from it: the points and their order, the choices marked below them, the counts in the
title, the panels and labels of the distribution, and the ratio axis of a risk ratio.

The table: two estimands (control set); under "inert or active placebo" the score basis
changes the data set (A: 5 trials, B: 3) and a route-IV subgroup pools one trial (Z);
under "inert placebo" every specification pools C (4 trials); each data set is fitted by
REML and DL with Hartung-Knapp intervals.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from ketamine_meta.analyses.multiverse import DATA_CHOICES
from ketamine_meta.figures.multiverse_plots import (
    estimand_title,
    estimate_distribution,
    specification_curve,
)

LEVELS = {choice: ["all"] for choice in DATA_CHOICES} | {
    "control_set": ["inert or active placebo", "inert placebo"],
    "score_basis": ["change or endpoint", "change only"],
}
#: (data set, estimator): trials, estimate, CI lower limit (the upper is estimate + 0.3).
FITS = {
    ("A", "REML"): (5, 0.5, 0.1),
    ("A", "DL"): (5, 0.45, 0.15),
    ("B", "REML"): (3, 0.2, -0.1),
    ("B", "DL"): (3, 0.25, -0.05),
    ("C", "REML"): (4, 0.6, 0.3),
    ("C", "DL"): (4, 0.6, 0.3),
    ("Z", "REML"): (1, 0.9, -0.5),
    ("Z", "DL"): (1, 0.8, -0.4),
}


def _data_sets(spec: dict) -> dict[str, str]:
    if spec["control_set"] == "inert placebo":
        return {"overall": "C"}
    overall = "A" if spec["score_basis"] == "change or endpoint" else "B"
    return {"overall": overall, "route: IV": "Z"}


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    rows = []
    for data_spec, values in enumerate(itertools.product(*LEVELS.values())):
        spec = dict(zip(LEVELS, values, strict=True))
        for estimator in ("REML", "DL"):
            for subgroup, data_set in _data_sets(spec).items():
                trials, estimate, ci_low = FITS[(data_set, estimator)]
                rows.append(
                    {
                        "specification": f"{data_spec}-{estimator}-knha",
                        "data_spec": data_spec,
                        **spec,
                        "estimator": estimator,
                        "test": "knha",
                        "subgroup": subgroup,
                        "data_set": data_set,
                        "k": trials,
                        "trials": trials,
                        "estimate": estimate,
                        "ci_low": ci_low,
                        "ci_high": estimate + 0.3,
                    }
                )
    return pd.DataFrame(rows)


def points(axis) -> dict[str, np.ndarray]:
    """The scatter points of the curve by their legend label, as (position, estimate)."""
    return {c.get_label(): np.asarray(c.get_offsets(), float) for c in axis.collections[1:]}


def test_the_curve_draws_the_primary_estimand_sorted_by_estimate(table):
    top, _ = specification_curve(table, ["control_set"]).axes
    drawn = points(top)
    # A by REML and DL (CIs above 0), B by REML and DL (CIs include 0), sorted by estimate.
    np.testing.assert_allclose(drawn["CI above 0"], [[2, 0.45], [3, 0.5]])
    np.testing.assert_allclose(drawn["CI includes 0"], [[0, 0.2], [1, 0.25]])
    assert top.get_ylabel() == "Hedges' g at 24 h"
    assert top.get_yscale() == "linear"
    assert top.get_title() == (
        "Specification curve: overall, control set: inert or active placebo\n"
        "4 specifications, 2 distinct data sets, 4 distinct fits, 3-5 trials; "
        "50% of the fits with the CI above 0"
    )


def test_the_panel_marks_the_choices_each_specification_made(table):
    _, bottom = specification_curve(table, ["control_set"]).axes
    assert [t.get_text() for t in bottom.get_yticklabels()] == [
        "score basis: change only",
        "score basis: change or endpoint",
        "tau² estimator: DL",
        "tau² estimator: REML",
        "CI method: knha",
    ]
    # Columns in the order of the curve: B-REML, B-DL, A-DL, A-REML.
    np.testing.assert_array_equal(
        bottom.images[0].get_array(),
        [[1, 1, 0, 0], [0, 0, 1, 1], [0, 1, 1, 0], [1, 0, 0, 1], [1, 1, 1, 1]],
    )


def test_a_subgroup_curve_counts_its_own_fits(table):
    top, _ = specification_curve(table, ["control_set"], subgroup="route: IV").axes
    assert top.get_title().endswith(
        "2 specifications, 1 distinct data sets, 2 distinct fits, 1 trial; "
        "0% of the fits with the CI above 0"
    )


def test_a_risk_ratio_is_drawn_as_a_ratio_on_a_log_axis(table):
    logged = table.assign(
        estimate=np.log(table["estimate"] + 1),
        ci_low=np.log(table["ci_low"] + 1),
        ci_high=np.log(table["ci_high"] + 1),
    )
    top, _ = specification_curve(logged, ["control_set"], measure="logRR").axes
    drawn = points(top)
    np.testing.assert_allclose(drawn["CI above 1"][:, 1], [1.45, 1.5])
    np.testing.assert_allclose(drawn["CI includes 1"][:, 1], [1.2, 1.25])
    assert top.get_yscale() == "log"
    assert top.get_ylabel() == "Risk ratio of response at 24 h"
    # The axis spans every estimate and no effect, 1, with a margin of 1.5 either way.
    low, high = top.get_ylim()
    assert low <= 1 / 1.5 and high >= 1.5 * 1.5
    # No effect is the dashed line at 1.
    assert [tuple(line.get_ydata()) for line in top.lines] == [(1, 1)]
    assert top.yaxis.get_major_formatter()(2.0, 0) == "2"


def test_an_unknown_measure_is_refused(table):
    with pytest.raises(ValueError, match="unknown measure 'OR'"):
        specification_curve(table, ["control_set"], measure="OR")


@pytest.mark.parametrize(
    ("estimand", "title"),
    [
        ("control_set: inert placebo", "control set: inert placebo"),
        (
            "control_set: inert placebo; multi_arm: split; risk_of_bias: low",
            "control set: inert placebo; multi-arm: split; risk of bias: low",
        ),
        ("all specifications", "all specifications"),
    ],
)
def test_an_estimand_is_titled_in_words(estimand, title):
    assert estimand_title(estimand) == title


def test_the_distribution_has_a_panel_per_estimand_overall_first(table):
    figure = estimate_distribution(table, ["control_set"])
    first, second = figure.axes
    assert first.get_title(loc="left") == "control set: inert or active placebo"
    assert [t.get_text() for t in first.get_yticklabels()] == [
        "overall (4 fits, 3-5 trials)",
        "route: IV (2 fits, 1 trial)",
    ]
    # C's REML and DL numbers coincide and are still two fits.
    assert second.get_title(loc="left") == "control set: inert placebo"
    assert [t.get_text() for t in second.get_yticklabels()] == ["overall (2 fits, 4 trials)"]
    assert second.get_xlabel() == "Hedges' g at 24 h, distinct fits"
    assert figure.get_suptitle() == "Estimates across the multiverse, by estimand and subgroup"
    for axis in figure.axes:  # no effect: a line at 0 across the panel (axes coordinates)
        spans = [tuple(line.get_xdata()) for line in axis.lines if list(line.get_ydata()) == [0, 1]]
        assert spans == [(0, 0)]


def test_the_distribution_of_risk_ratios_is_on_a_log_axis(table):
    logged = table.assign(estimate=np.log(table["estimate"] + 1))
    figure = estimate_distribution(logged, [], measure="logRR")
    (axis,) = figure.axes
    assert axis.get_xscale() == "log"
    assert axis.get_xlabel() == "Risk ratio of response at 24 h, distinct fits (log axis)"
    # Without estimand choices one panel holds every fit: A, B, C by two models each.
    assert [t.get_text() for t in axis.get_yticklabels()] == [
        "overall (6 fits, 3-5 trials)",
        "route: IV (2 fits, 1 trial)",
    ]
