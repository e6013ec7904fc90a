"""How p-values and models are printed in figures (figures/labels.py)."""

from __future__ import annotations

import pandas as pd
import pytest

from ketamine_meta.figures.efficacy_plots import funnel_plot
from ketamine_meta.figures.labels import p_text


@pytest.mark.parametrize(
    ("p", "text"),
    [(0.0, "p < 0.001"), (0.00049, "p < 0.001"), (0.001, "p = 0.001"), (0.0421, "p = 0.042")],
)
def test_a_small_p_value_is_printed_as_a_bound(p, text):
    assert p_text(p) == text


def test_the_funnel_plot_prints_p_below_a_thousandth_as_a_bound():
    """Egger's p of 2e-6 (t = 7.60 on the 24 h SMD) was printed as "p = 0.000"."""
    by_study = pd.DataFrame(
        {"yi": [0.2, 0.5, 0.9], "vi": [0.01, 0.04, 0.09], "route": ["IV", "IN", "IV"]}
    )
    egger = pd.Series({"statistic": 7.6, "pval": 2e-6})
    title = funnel_plot(by_study, 0.4, egger, "Hedges' g").axes[0].get_title()
    assert title == "Egger's test: t = 7.60, p < 0.001"
