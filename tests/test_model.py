"""The model specification (ketamine_meta.stats.model.ModelSpec) and the fits that carry it.

A specification is validated and normalised once, gives the critical value of every interval
(scipy.stats's quantiles, bit for bit), travels with its fit, and post-estimation steps refit
by the fit's own model, as metafor's ``leave1out.rma.uni`` reads ``x$method``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import stats

from ketamine_meta.analyses.protocol import PROTOCOL_MODEL, Pooling
from ketamine_meta.stats.meta_analysis import fit_batch, random_effects, tau2_confidence_interval
from ketamine_meta.stats.meta_regression import meta_regression
from ketamine_meta.stats.model import ModelSpec, critical_value
from ketamine_meta.stats.permutation import sign_flip_test
from ketamine_meta.stats.publication_bias import egger_test
from ketamine_meta.stats.sensitivity import cumulative, influence, leave_one_out

# BCG vaccine trials (metafor dat.bcg, log risk ratios): heterogeneous enough that DL and REML
# give different tau^2.
YI = np.array([-0.889, -1.585, -1.348, -1.442, -0.218, -0.786, -1.621, 0.012, -0.469, -1.371])
VI = np.array([0.326, 0.195, 0.415, 0.020, 0.051, 0.007, 0.223, 0.004, 0.056, 0.073])


@pytest.mark.parametrize(("given", "stored"), [(95, 0.95), (0.95, 0.95), (90, 0.9), (0.8, 0.8)])
def test_a_level_is_stored_as_a_fraction(given, stored):
    assert ModelSpec(level=given).level == stored


def test_a_percentage_and_its_fraction_give_the_same_fit():
    percent, fraction = random_effects(YI, VI, level=95), random_effects(YI, VI, level=0.95)
    assert percent.model == fraction.model
    for bound in ("ci_low", "ci_high", "pi_low", "pi_high"):
        assert getattr(percent, bound) == getattr(fraction, bound)
    assert percent.ci_high - percent.ci_low < 2  # not the meaningless interval of level 95


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"method": "GENQ"}, "'GENQ'"),
        ({"method": "reml"}, "'reml'"),
        ({"test": "t"}, "'t'"),
        ({"test": "KNHA"}, "'KNHA'"),
        ({"level": 100}, "100"),
        ({"level": 1}, "1.0"),
        ({"level": 0}, "0.0"),
        ({"level": -0.95}, "-0.95"),
        ({"level": float("nan")}, "nan"),
    ],
)
def test_an_unknown_method_test_or_level_is_refused_by_name(arguments, named):
    with pytest.raises(ValueError, match=named):
        ModelSpec(**arguments)


def test_a_fit_refuses_what_its_specification_refuses():
    with pytest.raises(ValueError, match="unknown test 't'"):
        random_effects(YI, VI, test="t")
    with pytest.raises(ValueError, match="unknown tau\\^2 method 'GENQ'"):
        meta_regression(YI, VI, np.ones((YI.size, 1)), ["intercept"], method="GENQ")


@pytest.mark.parametrize("level", [0.8, 0.9, 0.95, 0.99])
def test_crit_of_a_z_test_is_the_normal_quantile(level):
    expected = stats.norm.ppf((1 + level) / 2)
    spec = ModelSpec("REML", "z", level)
    assert spec.crit() == expected
    # A z test has no degrees of freedom to use.
    assert spec.crit(3) == expected
    assert critical_value(level) == expected


@pytest.mark.parametrize("test", ["knha", "adhoc"])
@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_crit_of_a_t_test_is_the_t_quantile_on_its_df(test, level):
    spec = ModelSpec("REML", test, level)
    for df in (1, 2, 4, 9, 30):
        assert spec.crit(df) == stats.t.ppf((1 + level) / 2, df)
    df = np.array([[1.0, 4.0, 4.0], [9.0, 1.0, 30.0]])
    np.testing.assert_array_equal(spec.crit(df), stats.t.ppf((1 + level) / 2, df))
    # Without df, or at infinite df, the Wald (normal) quantile: a single estimate's interval.
    assert spec.crit() == stats.norm.ppf((1 + level) / 2)
    np.testing.assert_array_equal(
        spec.crit(np.array([np.inf, 4.0])),
        [stats.norm.ppf((1 + level) / 2), stats.t.ppf((1 + level) / 2, 4.0)],
    )


def test_crit_takes_a_level_per_row():
    levels, df = np.array([0.9, 0.95, 0.99]), np.array([5.0, np.inf, 12.0])
    np.testing.assert_array_equal(
        critical_value(levels, df),
        [stats.t.ppf(0.95, 5.0), stats.norm.ppf(0.975), stats.t.ppf(0.995, 12.0)],
    )


def test_the_intervals_of_a_fit_use_its_crit():
    fit = random_effects(YI, VI, "REML", "knha", 0.9)
    half = fit.model.crit(fit.k - 1) * fit.se
    assert fit.ci_high - fit.estimate == pytest.approx(half, rel=1e-14)
    assert fit.model.crit(fit.k - 1) == stats.t.ppf(0.95, fit.k - 1)
    wald = random_effects(YI, VI, "REML", "z", 0.9)
    assert wald.ci_high - wald.estimate == pytest.approx(stats.norm.ppf(0.95) * wald.se, rel=1e-14)


def test_a_fit_carries_its_specification_and_data():
    fit = random_effects(YI, VI, "DL", "adhoc", 90)
    assert fit.model == ModelSpec("DL", "adhoc", 0.9)
    np.testing.assert_array_equal(fit.yi, YI)
    np.testing.assert_array_equal(fit.vi, VI)
    assert fit_batch(np.vstack([YI, YI]), np.vstack([VI, VI]), "PM", "z").model == ModelSpec(
        "PM", "z", 0.95
    )
    x = np.column_stack([np.ones(YI.size), np.sqrt(VI)])
    regression = meta_regression(YI, VI, x, ["intercept", "sei"], "ML", "z", 0.99)
    assert regression.model == ModelSpec("ML", "z", 0.99)
    np.testing.assert_array_equal(regression.x, x)


def test_a_fit_keeps_its_own_copy_of_the_data():
    y = YI.copy()
    fit = random_effects(y, VI)
    y[0] = 99.0
    assert fit.yi[0] == YI[0]


def test_a_single_estimate_reports_z_but_keeps_the_model_test():
    fit = random_effects([0.3], [0.04], "REML", "knha")
    assert (fit.test, fit.model.test) == ("z", "knha")


def _refit_without(i: int, method: str, test: str) -> object:
    keep = np.arange(YI.size) != i
    return random_effects(YI[keep], VI[keep], method, test)


def test_leave_one_out_of_a_dl_fit_refits_by_dl():
    fit = random_effects(YI, VI, "DL", "knha")
    table = leave_one_out(fit)
    dl = [_refit_without(i, "DL", "knha") for i in range(YI.size)]
    reml = [_refit_without(i, "REML", "knha") for i in range(YI.size)]
    for column in ("estimate", "se", "ci_low", "ci_high", "tau2"):
        np.testing.assert_allclose(table[column], [getattr(f, column) for f in dl], rtol=1e-12)
    # The estimators differ on these data: the comparison could fail.
    assert not np.allclose(table["tau2"], [f.tau2 for f in reml], rtol=1e-3)


def test_other_post_estimation_steps_read_the_model_of_the_fit():
    fit = random_effects(YI, VI, "DL", "z", 0.9)
    deleted = influence(fit)
    np.testing.assert_allclose(
        deleted["tau2_del"], [_refit_without(i, "DL", "z").tau2 for i in range(YI.size)]
    )
    steps = cumulative(fit, np.arange(YI.size))
    last = steps.iloc[-1]
    assert (last["estimate"], last["ci_low"]) == pytest.approx((fit.estimate, fit.ci_low))
    ci = tau2_confidence_interval(fit)
    assert ci["tau2"] == fit.tau2
    assert ci["tau2_low"] > tau2_confidence_interval(random_effects(YI, VI, "DL", "z"))["tau2_low"]
    x = np.column_stack([np.ones(YI.size), np.sqrt(VI)])
    egger = egger_test(fit)
    assert egger.pval == meta_regression(YI, VI, x, ["i", "sei"], "DL", "z").coefficients.pval[1]
    flips = sign_flip_test(random_effects(YI[:6], VI[:6], "DL", "z"))
    assert flips.exact and flips.statistic[0] == random_effects(YI[:6], VI[:6], "DL", "z").statistic


def test_a_specification_is_frozen_and_hashable():
    spec = ModelSpec("REML", "adhoc", 95)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.level = 0.9  # type: ignore[misc]
    assert spec == ModelSpec("REML", "adhoc", 0.95)
    assert hash(spec) == hash(ModelSpec("REML", "adhoc", 0.95))
    assert len({spec, ModelSpec("REML", "adhoc", 0.95), ModelSpec("DL", "adhoc")}) == 2
    assert {spec: "primary"}[PROTOCOL_MODEL] == "primary"


def test_pooling_is_built_once_from_the_configuration():
    pooling = Pooling.from_config(
        {
            "timepoint_h": 24,
            "method": "DL",
            "test": "z",
            "level": 90,
            "min_trials": 2,
            "pi_min_trials": 4,
            "small_study_min_trials": 8,
        }
    )
    assert pooling == Pooling(ModelSpec("DL", "z", 0.9), 24.0, 2, 4, 8)
    assert pooling.timepoint_label == "24h"
    # Keys left out keep PROTOCOL.md's values.
    assert Pooling.from_config({"test": "knha"}) == Pooling(ModelSpec("REML", "knha", 0.95))
    with pytest.raises(ValueError, match="levle"):
        Pooling.from_config({"levle": 0.95})
    with pytest.raises(ValueError, match="'Wald'"):
        Pooling.from_config({"test": "Wald"})
    hash(pooling)
