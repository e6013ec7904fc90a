"""The tau^2 estimators of :mod:`ketamine_meta.stats.tau2`, called directly.

Two kinds of truth: metafor's values on dat.hackshaw1998 (``tests/reference``), and a data
set small enough to solve by hand. With ``y = (0, 2, 4)`` and every ``v_i = 1`` the weights
are equal whatever tau^2, so each estimator has a closed form: ``sum (y - ybar)^2 = 8``,
``Q(tau^2) = 8 / (1 + tau^2)``, and

* DL: ``(Q(0) - (k - 1)) / (sum w - sum w^2 / sum w) = (8 - 2) / (3 - 1) = 3``;
* PM and EB: ``Q(tau^2) = k - 1`` gives ``8 / (1 + tau^2) = 2``, tau^2 = 3;
* REML: ``s^2 - v = 8 / 2 - 1 = 3``; ML: ``8 / 3 - 1 = 5 / 3``;
* HE: ``8 / 2 - mean(v) = 3``; HS: ``(8 - 3) / 3 = 5 / 3``; HSk: ``(3 / 2 * 8 - 3) / 3 = 3``;
* EE and FE: 0, by assumption;
* SJ: ``tau0^2 = 8 / 3``, ``tau0^2 Q(tau0^2) / (k - 1) = (8 / 3)(24 / 11) / 2 = 32 / 11``;
* Q-profile: ``8 / (1 + tau^2) = chi^2_{2, q}`` gives ``tau^2 = 8 / chi^2_{2, q} - 1``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from ketamine_meta.stats import tau2

EQUAL = tau2.Batch.from_arrays([0.0, 2.0, 4.0], [1.0, 1.0, 1.0])
BY_HAND = {
    **{"DL": 3.0, "PM": 3.0, "EB": 3.0, "REML": 3.0, "ML": 5 / 3, "SJ": 32 / 11, "HE": 3.0},
    # HS: (Q - k) / sum w = (8 - 3) / 3; HSk: (k / (k - 1) Q - k) / sum w = (12 - 3) / 3.
    **{"HS": 5 / 3, "HSk": 3.0, "EE": 0.0, "FE": 0.0},
}


@pytest.mark.parametrize("method", sorted(BY_HAND))
def test_each_estimator_on_equal_variances_is_its_closed_form(method):
    assert tau2.estimate_tau2(EQUAL, method)[0] == pytest.approx(BY_HAND[method], rel=1e-10)


def test_hedges_olkin_start_on_equal_variances():
    assert tau2.hedges_olkin(EQUAL)[0] == pytest.approx(3.0, rel=1e-12)


@pytest.mark.parametrize("method", sorted(tau2.ESTIMATORS))
def test_each_estimator_matches_metafor_on_hackshaw1998(reference, method):
    scenario = reference[f"rma_hackshaw1998_{method}_z"]
    batch = tau2.Batch.from_arrays(scenario["input"]["yi"], scenario["input"]["vi"])
    expected = scenario["values"]["tau2"]
    assert tau2.estimate_tau2(batch, method)[0] == pytest.approx(expected, rel=1e-6, abs=1e-9)


def test_reml_leaves_the_fisher_two_cycle(reference):
    """Plain Fisher scoring oscillates on this set (metafor: "did not converge")."""
    scenario = reference["rma_fisher_two_cycle_REML_knha"]
    batch = tau2.Batch.from_arrays(scenario["input"]["yi"], scenario["input"]["vi"])
    assert tau2.restricted_maximum_likelihood(batch)[0] == pytest.approx(
        scenario["values"]["tau2"], rel=1e-6
    )


def test_q_profile_interval_on_equal_variances():
    lower, upper = tau2.q_profile_interval(EQUAL, level=0.95)
    assert lower[0] == pytest.approx(8 / stats.chi2.isf(0.025, 2) - 1, rel=1e-10)
    assert upper[0] == pytest.approx(8 / stats.chi2.ppf(0.025, 2) - 1, rel=1e-10)


@pytest.mark.parametrize("data", ["hackshaw1998", "bcg"])
def test_q_profile_interval_matches_metafor(reference, data):
    scenario = reference[f"qprofile_{data}"]
    batch = tau2.Batch.from_arrays(scenario["input"]["yi"], scenario["input"]["vi"])
    lower, upper = tau2.q_profile_interval(batch)
    _, expected_low, expected_high = scenario["values"]["tau2"]
    assert lower[0] == pytest.approx(expected_low, rel=1e-6, abs=1e-9)
    assert upper[0] == pytest.approx(expected_high, rel=1e-6, abs=1e-9)


def test_q_profile_interval_needs_two_studies():
    with pytest.raises(ValueError, match="at least 2 studies"):
        tau2.q_profile_interval(tau2.Batch.from_arrays([0.3], [0.04]))


@pytest.mark.parametrize("method", sorted(tau2.ESTIMATORS))
def test_homogeneous_studies_and_a_single_study_give_zero(method):
    homogeneous = tau2.Batch.from_arrays([0.1, 0.12, 0.11, 0.09], [0.04, 0.05, 0.03, 0.06])
    single = tau2.Batch.from_arrays([0.3], [0.04])
    # SJ is positive whenever the estimates differ at all (tau0^2 > 0): not a boundary case.
    if method != "SJ":
        assert tau2.estimate_tau2(homogeneous, method)[0] == 0.0
    assert tau2.estimate_tau2(single, method)[0] == 0.0


@pytest.mark.parametrize("method", sorted(tau2.ESTIMATORS))
def test_a_padded_batch_gives_each_meta_analysis_its_own_value(reference, method):
    """Meta-analyses of different sizes in one batch: the padding changes nothing."""
    scenario = reference[f"rma_hackshaw1998_{method}_z"]
    yi, vi = scenario["input"]["yi"], scenario["input"]["vi"]
    short = np.full(len(yi), np.nan)
    short[:3] = [0.0, 2.0, 4.0]
    batch = tau2.Batch.from_arrays([yi, short], [vi, np.where(np.isnan(short), np.nan, 1.0)])
    alone = [
        tau2.estimate_tau2(tau2.Batch.from_arrays(yi, vi), method)[0],
        tau2.estimate_tau2(EQUAL, method)[0],
    ]
    np.testing.assert_allclose(tau2.estimate_tau2(batch, method), alone, rtol=1e-10)
    assert batch.k.tolist() == [len(yi), 3]


def test_a_study_of_infinite_variance_is_absent():
    batch = tau2.Batch.from_arrays([0.0, 2.0, 4.0, 9.0], [1.0, 1.0, 1.0, np.inf])
    assert batch.k[0] == 3
    assert tau2.dersimonian_laird(batch)[0] == pytest.approx(3.0, rel=1e-12)


@pytest.mark.parametrize(
    ("yi", "vi", "message"),
    [
        ([0.1, 0.2], [0.1], "differ in shape"),
        ([0.1, 0.2], [0.1, 0.0], "must be positive"),
        ([np.nan], [np.nan], "at least one estimate"),
    ],
)
def test_invalid_input_is_refused(yi, vi, message):
    with pytest.raises(ValueError, match=message):
        tau2.Batch.from_arrays(yi, vi)


def test_an_unknown_method_is_refused():
    with pytest.raises(ValueError, match="unknown tau\\^2 method 'GENQ'"):
        tau2.estimate_tau2(EQUAL, "GENQ")


def test_the_fisher_step_vanishes_at_the_reml_estimate():
    """The REML estimate is the root of the score: the step from it is 0."""
    estimate = tau2.restricted_maximum_likelihood(EQUAL)
    step = tau2.fisher_step(EQUAL, estimate, restricted=True)
    assert step[0] == pytest.approx(0, abs=1e-12)
    # Both from one set of weights, bit for bit the separate functions' values.
    ll, same_step = tau2.log_likelihood_and_step(EQUAL, estimate, restricted=True)
    assert ll[0] == tau2.log_likelihood(EQUAL, estimate, restricted=True)[0]
    assert same_step[0] == step[0]
    # A maximum: the restricted likelihood is lower on either side.
    for other in (estimate * 0.9, estimate * 1.1):
        assert tau2.log_likelihood(EQUAL, other, restricted=True)[0] < ll[0]
