"""Priors of the Bayesian model: densities against scipy.stats, tails, and their spelling."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from ketamine_meta.stats.bayes_priors import (
    HalfCauchyPrior,
    HalfNormalPrior,
    LogNormalTau2Prior,
    LogTTau2Prior,
    NormalMuPrior,
    PriorError,
    UniformMuPrior,
    UniformTauPrior,
    parse_mu_prior,
    parse_tau_prior,
)

TAU = np.array([1e-3, 0.05, 0.3, 1.0, 4.0, 50.0])


def test_half_normal_and_half_cauchy_are_twice_the_symmetric_density():
    np.testing.assert_allclose(
        np.exp(HalfNormalPrior(0.5).log_density(TAU)),
        2 * stats.norm.pdf(TAU, scale=0.5),
        rtol=1e-13,
    )
    np.testing.assert_allclose(
        np.exp(HalfCauchyPrior(0.5).log_density(TAU)),
        2 * stats.cauchy.pdf(TAU, scale=0.5),
        rtol=1e-13,
    )


def _mass(prior, upper: float) -> float:
    """P(tau <= upper), integrated over s = log tau from tau = e^-400 (the tails of log-t
    priors are too slow on the half-line for QUADPACK; below e^-400 and above e^300 a log-t(5)
    prior on log tau^2 of scale 2.6 leaves under 1e-11)."""
    density = lambda s: math.exp(prior.log_density(math.exp(s)) + s)  # noqa: E731
    top = min(math.log(upper), 300.0)
    breaks = [b for b in (-10.0, -3.0, 0.0, 3.0) if -400 < b < top]
    return integrate.quad(
        density, -400, top, points=breaks, epsabs=1e-14, epsrel=1e-12, limit=1000
    )[0]


def test_priors_on_log_tau2_are_transformed_to_densities_of_tau():
    """P(tau <= t) = P(log tau^2 <= 2 log t): the density on tau integrates to the source's CDF."""
    lognormal = LogNormalTau2Prior(-2.12, 1.53)
    logt = LogTTau2Prior(-2.99, 2.16, 5)
    for t in (0.1, 0.4, 1.5):
        assert _mass(lognormal, t) == pytest.approx(
            stats.norm.cdf(2 * math.log(t), -2.12, 1.53), abs=1e-10
        )
        assert _mass(logt, t) == pytest.approx(
            stats.t.cdf((2 * math.log(t) + 2.99) / 2.16, 5), abs=1e-10
        )


@pytest.mark.parametrize(
    "prior",
    [
        HalfNormalPrior(0.5),
        HalfCauchyPrior(1.0),
        LogNormalTau2Prior(-2.56, 1.74),
        LogTTau2Prior(-3.44, 2.59, 5),
    ],
)
def test_proper_priors_integrate_to_one(prior):
    assert _mass(prior, math.inf) == pytest.approx(1, abs=1e-10)


def test_typical_tau_is_the_prior_median():
    assert HalfNormalPrior(0.5).typical_tau() == pytest.approx(
        stats.halfnorm.median(scale=0.5), rel=1e-14
    )
    assert HalfCauchyPrior(0.7).typical_tau() == pytest.approx(0.7)
    assert LogNormalTau2Prior(-2.0, 1.0).typical_tau() == pytest.approx(math.exp(-1.0))
    assert math.isnan(UniformTauPrior().typical_tau())


def test_command_line_spellings():
    assert parse_tau_prior("halfnormal:0.5") == HalfNormalPrior(0.5)
    assert parse_tau_prior("half-cauchy:1") == HalfCauchyPrior(1.0)
    assert parse_tau_prior("lognormal:-2.12:1.53") == LogNormalTau2Prior(-2.12, 1.53)
    assert parse_tau_prior("logt:-2.99:2.16:5") == LogTTau2Prior(-2.99, 2.16, 5.0)
    assert parse_tau_prior("uniform") == UniformTauPrior()
    assert parse_mu_prior("normal:0:4") == NormalMuPrior(0.0, 4.0)
    assert parse_mu_prior("uniform") == UniformMuPrior()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("halfnormal", "expected 1 number"),
        ("halfnormal:-1", "positive finite"),
        ("halfcauchy:inf", "positive finite"),
        ("halfcauchy:abc", "not a list of numbers"),
        ("lognormal:0", "expected 2 number"),
        ("gamma:1:1", "is not a tau prior"),
        ("uniform:3", "expected 0 number"),
    ],
)
def test_bad_tau_priors_are_refused_with_the_reason(text, message):
    with pytest.raises(PriorError, match=message):
        parse_tau_prior(text)


def test_bad_mu_priors_are_refused():
    with pytest.raises(PriorError, match="positive finite"):
        parse_mu_prior("normal:0:0")
    with pytest.raises(PriorError, match="is not a mu prior"):
        parse_mu_prior("cauchy:0:1")
