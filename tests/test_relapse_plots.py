"""Relapse-free curves (:mod:`ketamine_meta.figures.relapse_plots`): one panel per group, each
arm's summary fit drawn as far as its source followed it, read back for hand-made rows.

An exponential fit with median ``m`` has scale ``m / ln 2``: ``S(t) = exp(-t ln 2 / m)``,
so the curve passes 0.5 at ``m``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ketamine_meta.analyses.relapse import OBSERVED_SUMMARIES
from ketamine_meta.figures.relapse_plots import COMPARATOR_PANEL, relapse_curves
from ketamine_meta.stats.distributions import norm_ppf

LN2 = np.log(2)
BY_STUDY = pd.DataFrame(
    {
        "study_id": ["Alpha2019", "Alpha2019", "Beta2020", "Gamma2021", "Delta2022"],
        "arm_id": ["esk", "pbo", "ket", "ect", "count"],
        "route": ["IN", "IN", "IV", "IV", "IV"],
        "regimen": ["continued", "stopped", "after course", "comparator", "after course"],
        "data_basis": [
            "summary fit",
            "summary fit",
            OBSERVED_SUMMARIES,
            "summary fit",
            "count only (no follow-up time)",
        ],
        "distribution": ["exponential", "exponential", None, "exponential", None],
        "scale": [200 / LN2, 60 / LN2, np.nan, 100 / LN2, np.nan],
        "shape": [1.0, 1.0, np.nan, 1.0, np.nan],
        "log_rate_se": [0.2, np.nan, np.nan, 0.3, np.nan],
        "follow_up_days": [300.0, 120.0, np.nan, np.inf, np.nan],
        "median_days": [np.nan, np.nan, 21.0, np.nan, np.nan],
        "n_followed": [90, 86, 40, np.nan, 12],
    }
)


@pytest.fixture(scope="module")
def figure():
    return relapse_curves(BY_STUDY, "route", days=365.0, group_names={"IN": "Intranasal"})


def test_one_panel_per_group_and_comparators_apart(figure):
    titles = [ax.get_title() for ax in figure.axes]
    assert titles == ["Intranasal", "IV", COMPARATOR_PANEL]
    assert figure.axes[0].get_ylabel() == "Relapse-free (summary fit)"
    assert figure.axes[1].get_ylabel() == ""


def test_each_curve_is_its_fit_drawn_to_the_end_of_follow_up(figure):
    esk, esk_end, pbo, pbo_end = figure.axes[0].get_lines()
    assert esk.get_xdata()[-1] == 300.0 and pbo.get_xdata()[-1] == 120.0
    t = np.asarray(esk.get_xdata())
    np.testing.assert_allclose(esk.get_ydata(), np.exp(-t * LN2 / 200), rtol=1e-12)
    assert pbo_end.get_ydata()[0] == pytest.approx(np.exp(-120 * LN2 / 60))
    assert (esk.get_linestyle(), pbo.get_linestyle()) == ("-", "--")
    assert esk_end.get_marker() == "|"
    # A band only where the fit has an SE: the rate shifted by -/+ z SE.
    (band,) = figure.axes[0].collections
    vertices = band.get_paths()[0].vertices
    at_end = sorted(vertices[np.isclose(vertices[:, 0], 300.0), 1])
    crit = norm_ppf(0.975)
    for z in (-crit, crit):
        edge = np.exp(-300 / (200 / LN2 * np.exp(-z * 0.2)))
        assert np.isclose(at_end, edge, rtol=1e-9).any(), (z, at_end)
    # A comparator without a follow-up limit is drawn to the last day shown.
    (ect, _) = figure.axes[2].get_lines()
    assert ect.get_xdata()[-1] == 365.0


def test_an_observed_median_is_a_point_not_a_curve(figure):
    (point,) = figure.axes[1].get_lines()
    assert (list(point.get_xdata()), list(point.get_ydata())) == ([21.0], [0.5])
    assert point.get_marker() == "o"


def test_under_each_panel_the_arms_and_their_numbers_at_day_0(figure):
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert texts == [
        "Alpha2019 esk (continued)",
        "n at day 0: 90",
        "Alpha2019 pbo (stopped (placebo))",
        "n at day 0: 86",
    ]
    assert [t.get_text() for t in figure.axes[1].texts] == [
        "Beta2020 ket (after a course) o",
        "n at day 0: 40",
    ]
    assert [t.get_text() for t in figure.axes[2].texts][1] == "n at day 0: n/r"
    # A row without a fit or medians (a count only) is not drawn.
    assert not any("Delta2022" in t.get_text() for ax in figure.axes for t in ax.texts)
