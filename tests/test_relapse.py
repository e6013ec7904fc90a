"""Summary-based relapse curves, their pooling and the reproduction table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import REPO
from ketamine_meta.analyses.protocol import Pooling
from ketamine_meta.analyses.relapse import (
    OBSERVED_SUMMARIES,
    exponential_from_median,
    exponential_from_share,
    relapse_by_study,
    relapse_pooled,
    relapse_reproduction,
)
from ketamine_meta.stats.effect_sizes import log_hazard_ratio
from ketamine_meta.stats.model import ModelSpec

POOLING = Pooling(ModelSpec("REML", "knha", 0.95))


@pytest.fixture(scope="module")
def data():
    return pd.read_csv(REPO / "data/raw/relapse.csv"), pd.read_csv(REPO / "data/raw/arms.csv")


def test_exponential_from_a_median():
    fit = exponential_from_median(30.0, relapses=25)
    assert fit.median() == pytest.approx(30.0)
    assert fit.survival(30.0) == pytest.approx(0.5)
    # SE of log(rate) from 25 relapses is 1/5: the median's 95% interval is 30 exp(-+1.96/5).
    assert fit.median(1.959964) == pytest.approx(30 * np.exp(-1.959964 / 5), rel=1e-6)


def test_exponential_from_a_share_and_its_delta_method_se():
    fit = exponential_from_share(0.3, 84.0, n=50)
    assert 1 - fit.survival(84.0) == pytest.approx(0.3)
    # Delta method by finite differences of log(-log(1 - p)) in p, with var(p) = p(1-p)/n.
    h = 1e-6
    slope = (np.log(-np.log(1 - 0.3 - h)) - np.log(-np.log(1 - 0.3 + h))) / (2 * h)
    assert fit.log_rate_se == pytest.approx(abs(slope) * np.sqrt(0.3 * 0.7 / 50), rel=1e-6)


def test_a_median_and_a_share_are_tabulated_as_observed_without_a_curve(data):
    """Ekstrand 2022 reports a median of 57 days and 70 % relapsed by day 365 for its ketamine
    remitters: a Weibull through both (shape 0.3) implied 37-40 % relapse by day 14, which no
    source reports (PROTOCOL.md §15)."""
    row = relapse_by_study(*data).set_index(["study_id", "arm_id"]).loc[("Ekstrand2022", "ket05")]
    assert row["data_basis"] == OBSERVED_SUMMARIES
    assert row["median_days"] == 57
    assert row["fit_basis"] == "median 57 days; 70% relapsed by day 365"
    assert all(np.isnan(row[f"relapse_free_day_{d}"]) for d in (14, 28, 56))
    assert pd.isna(row["distribution"])


def test_relapse_by_study_on_the_package(data):
    table = relapse_by_study(*data).set_index(["study_id", "arm_id"])
    stopped = table.loc[("Daly2019", "pbo_rem")]
    assert (stopped["regimen"], stopped["route"], stopped["enantiomer"]) == (
        "stopped",
        "IN",
        "esketamine",
    )
    assert stopped["median_days"] == pytest.approx(273.0)
    assert stopped["data_basis"] == "summary fit"
    continued = table.loc[("Daly2019", "esk_rem")]
    assert continued["regimen"] == "continued"
    assert continued["data_basis"] == "count only (no follow-up time)"
    assert np.isnan(continued["median_days"])
    assert table.loc[("Reif2023", "quet"), "regimen"] == "comparator"
    assert (table["data_basis"] == "summary fit").sum() >= 5


def test_pooled_hazard_ratio_combines_one_trials_strata_by_fixed_effect(data):
    relapse, arms = data
    pooled = relapse_pooled(relapse_by_study(relapse, arms), relapse, arms, POOLING)
    row = pooled[pooled["quantity"].str.startswith("hazard ratio")].iloc[0]
    hrs = relapse[relapse["measure"] == "hazard_ratio"]
    # Both hazard ratios are strata of SUSTAIN-1: fixed effect, with a zero tau^2 (metafor
    # rma(yi, vi, method = "FE") is the engine's random_effects with tau^2 fixed at 0).
    yi, vi = log_hazard_ratio(hrs["value"], hrs["ci_low"], hrs["ci_high"])
    w = 1 / np.asarray(vi)
    assert row["estimate"] == pytest.approx(np.exp((w * yi).sum() / w.sum()), rel=1e-12)
    assert row["k"] == len(hrs) == 2 and row["studies"] == "Daly2019"
    assert row["method"] == "FE (strata of one trial)"


def test_reproduction_table_sets_published_beside_ours(data):
    table = relapse_reproduction(data[0])
    hr = table[table["figure"] == "hazard ratio of relapse"]
    assert len(hr) == 2 and (hr["difference"] == 0).all()
    # The published bounds are close to symmetric on the log scale (rounded to 2 decimals).
    assert np.allclose(hr["ours_ci_low"], hr["published_ci_low"], atol=0.01)
    assert np.allclose(hr["ours_ci_high"], hr["published_ci_high"], atol=0.01)
    median = table[
        (table["study_id"] == "Daly2019") & (table["figure"] == "median days to relapse")
    ]
    # The exponential fit's interval is far narrower than the published one (97 to not
    # estimable): a summary fit understates the uncertainty, which the table makes visible.
    assert median["ours_ci_low"].item() > median["published_ci_low"].item() + 50
