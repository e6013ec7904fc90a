"""The Bayesian random-effects engine: published worked examples, limits, the batch and MCMC.

R's own quadrature holds every output to 1e-6 in tests/test_bayes_parity.py; this file holds
what that cannot: bayesmeta's printed numbers, the limits (k = 1, improper posteriors, infinite
moments), the batch against the scalar fit, and an independent Monte Carlo fit.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ketamine_meta.stats.bayes import BayesSpec, bayesian_batch, bayesian_meta_analysis
from ketamine_meta.stats.bayes_priors import (
    HalfCauchyPrior,
    HalfNormalPrior,
    LogTTau2Prior,
    NormalMuPrior,
    PriorError,
    UniformTauPrior,
)

# Rubin (1981), eight schools, as printed in the bayesmeta vignette (cran/bayesmeta,
# inst/doc/bayesmeta.html, a copy of the package's vignette, "Estimates and standard errors").
SCHOOLS_EFFECT = np.array([28.39, 7.94, -2.75, 6.82, -0.64, 0.63, 18.01, 12.16])
SCHOOLS_STDERR = np.array([14.9, 10.2, 16.3, 11.0, 9.4, 11.4, 10.4, 17.6])


@pytest.fixture(scope="module")
def schools():
    spec = BayesSpec(HalfCauchyPrior(25), NormalMuPrior(0, 50))
    return bayesian_meta_analysis(SCHOOLS_EFFECT, SCHOOLS_STDERR**2, spec)


def test_bayesmeta_vignette_tau_posterior(schools):
    """``schools.example.1`` (half-Cauchy(25) on tau, N(0, 50) on mu): bayesmeta integrates
    tau's marginal exactly, and its printed tau values agree to their 7 digits: median 4.758539,
    ``qposterior(tau.p = 0.95)`` 15.16589, ``post.interval(tau.level = 0.95, method =
    "central")`` 0.2199559 to 18.0531718."""
    assert schools.tau_quantile(0.5) == pytest.approx(4.758539, abs=5e-7)
    assert schools.tau_quantile(0.95) == pytest.approx(15.16589, abs=5e-6)
    assert schools.tau_quantile(0.025) == pytest.approx(0.2199559, abs=5e-8)
    assert schools.tau_quantile(0.975) == pytest.approx(18.0531718, abs=5e-7)


def test_bayesmeta_vignette_mu_posterior(schools):
    """The same example's mu: bayesmeta approximates mu's marginal by the DIRECT mixture (Röver
    and Friede 2017), whose error is bounded in divergence, not in digits; its printed median
    7.962961, mean 7.985729, SD 4.995762, P(mu > 0) 0.9487521 and shortest interval -1.823353 to
    17.824562 are reproduced to that approximation (1e-3 here), the exact values being R's
    quadrature in test_bayes_parity.py."""
    mu = schools.coefficient()
    assert mu.quantile(0.5) == pytest.approx(7.962961, abs=1e-3)
    assert mu.mean() == pytest.approx(7.985729, abs=1e-3)
    assert mu.sd() == pytest.approx(4.995762, abs=1e-3)
    assert schools.prob_above(0) == pytest.approx(0.9487521, abs=1e-4)
    assert mu.shortest(0.95) == pytest.approx((-1.823353, 17.824562), abs=1e-2)


def test_bayesmeta_vignette_uniform_priors():
    """``schools.example.2`` (bayesmeta's default uniform priors): tau median 5.227732."""
    fit = bayesian_meta_analysis(SCHOOLS_EFFECT, SCHOOLS_STDERR**2, BayesSpec(UniformTauPrior()))
    assert fit.tau_quantile(0.5) == pytest.approx(5.227732, abs=5e-7)
    assert fit.coefficient().quantile(0.5) == pytest.approx(8.055861, abs=1e-3)


def test_one_trial_leaves_tau_at_its_prior():
    """k = 1 with a uniform mu prior: L(tau) is flat, so tau's posterior is its prior (the
    half-normal(0.5) median 0.5 * 0.6744897...), and mu's is y mixed over that prior."""
    fit = bayesian_meta_analysis([0.3], [0.04], BayesSpec(HalfNormalPrior(0.5)))
    assert fit.tau_quantile(0.5) == pytest.approx(0.5 * 0.6744897501960817, rel=1e-12)
    mu = fit.coefficient()
    assert mu.quantile(0.5) == pytest.approx(0.3, abs=1e-12)
    assert mu.shortest(0.95) == pytest.approx(mu.equal_tailed(0.95), abs=1e-9)


def test_improper_posterior_is_refused_with_the_reason():
    """The uniform tau prior with a uniform mu prior needs three trials (tau^-(k-1) tail)."""
    with pytest.raises(PriorError, match=r"improper with uniform \(improper\) on tau and 2 trial"):
        bayesian_meta_analysis([0.1, 0.4], [0.05, 0.08], BayesSpec(UniformTauPrior()))
    fit = bayesian_meta_analysis([0.1, 0.4, 0.2], [0.05, 0.08, 0.04], BayesSpec(UniformTauPrior()))
    assert fit.summary()["mu_sd"] == math.inf  # E[tau^2] needs five


def test_heavy_tails_give_infinite_sd_not_a_quadrature_number():
    fit = bayesian_meta_analysis([0.1, 0.4], [0.05, 0.08], BayesSpec(HalfCauchyPrior(0.5)))
    assert fit.summary()["mu_sd"] == math.inf
    bounded = bayesian_meta_analysis(
        [0.1, 0.4], [0.05, 0.08], BayesSpec(HalfCauchyPrior(0.5), NormalMuPrior(0, 1))
    )
    assert math.isfinite(bounded.summary()["mu_sd"])


def test_bad_data_is_refused():
    with pytest.raises(ValueError, match="positive and finite"):
        bayesian_meta_analysis([0.1, 0.2], [0.05, 0.0], BayesSpec(HalfNormalPrior(0.5)))
    with pytest.raises(ValueError, match="missing or infinite"):
        bayesian_meta_analysis([0.1, np.nan], [0.05, 0.1], BayesSpec(HalfNormalPrior(0.5)))
    with pytest.raises(PriorError, match="collinear"):
        bayesian_meta_analysis(
            [0.1, 0.2, 0.3], [0.05, 0.1, 0.1], BayesSpec(HalfNormalPrior(0.5)), mods=[1, 1, 1]
        )


def test_probability_above_is_the_upper_tail():
    fit = bayesian_meta_analysis(
        [0.4, 0.7, 0.2, 0.5], [0.05, 0.08, 0.04, 0.1], BayesSpec(HalfNormalPrior(0.5))
    )
    mu = fit.coefficient()
    for threshold in (0.0, 0.2, 0.5):
        assert fit.prob_above(threshold) == pytest.approx(1 - mu.cdf(threshold), abs=1e-14)
    assert fit.prob_above(mu.quantile(0.3)) == pytest.approx(0.7, abs=1e-12)


@pytest.fixture(scope="module")
def simulated():
    """300 meta-analyses of 1 to 10 trials, NaN-padded to 10 columns."""
    rng = np.random.default_rng(20261207)
    yi = np.full((300, 10), np.nan)
    vi = np.full((300, 10), np.nan)
    for row in range(300):
        k = rng.integers(1, 11)
        vi[row, :k] = rng.uniform(0.02, 0.3, k)
        yi[row, :k] = rng.normal(0.4, np.sqrt(vi[row, :k] + 0.05))
    return yi, vi


@pytest.mark.parametrize(
    "spec",
    [
        BayesSpec(HalfNormalPrior(0.5)),
        BayesSpec(HalfCauchyPrior(0.5), NormalMuPrior(0, 1)),
        BayesSpec(LogTTau2Prior(-2.99, 2.16, 5), level=90),
    ],
    ids=str,
)
def test_batch_equals_the_scalar_fit(simulated, spec):
    yi, vi = simulated
    batch = bayesian_batch(yi, vi, spec, thresholds=[0.0, 0.2]).to_frame()
    for row in range(0, 300, 7):
        k = int(np.isfinite(yi[row]).sum())
        scalar = bayesian_meta_analysis(yi[row, :k], vi[row, :k], spec).summary([0.0, 0.2])
        for column in batch.columns:
            np.testing.assert_allclose(
                batch.at[row, column], scalar[column], rtol=0, atol=1e-12, err_msg=column
            )


def test_batch_refuses_an_improper_row(simulated):
    yi, vi = simulated
    with pytest.raises(PriorError, match="improper"):
        bayesian_batch(yi, vi, BayesSpec(UniformTauPrior()))


def test_mcmc_agrees_to_monte_carlo_error():
    """emcee (affine-invariant ensemble sampler) on (mu, log tau) of the same model, seeded:
    posterior mean, median and 95 % quantiles of mu and tau's median agree with the quadrature
    within four Monte Carlo standard errors (from emcee's integrated autocorrelation time)."""
    emcee = pytest.importorskip("emcee")
    yi = np.array(
        [-0.89, -1.59, -1.35, -1.44, -0.22, -0.79, -1.62, 0.01, -0.47, -1.37, -0.34, 0.45, -0.02]
    )
    vi = np.array([0.33, 0.19, 0.42, 0.02, 0.05, 0.007, 0.22, 0.004, 0.06, 0.07, 0.01, 0.53, 0.07])
    prior = HalfNormalPrior(0.5)
    fit = bayesian_meta_analysis(yi, vi, BayesSpec(prior))

    def log_posterior(theta):
        mu, log_tau = theta[:, 0], theta[:, 1]
        tau = np.exp(log_tau)
        total = vi[None, :] + tau[:, None] ** 2
        log_lik = -0.5 * (np.log(total) + (yi[None, :] - mu[:, None]) ** 2 / total).sum(axis=1)
        return prior.log_density(tau) + log_tau + log_lik

    rng = np.random.default_rng(7)
    walkers = 32
    start = np.column_stack([rng.normal(-0.7, 0.1, walkers), rng.normal(np.log(0.5), 0.1, walkers)])
    sampler = emcee.EnsembleSampler(walkers, 2, log_posterior, vectorize=True)
    sampler.random_state = np.random.RandomState(11).get_state()
    sampler.run_mcmc(start, 6000)
    chain = sampler.get_chain(discard=1000, flat=True)
    effective = chain.shape[0] / float(np.max(sampler.get_autocorr_time(discard=1000)))
    mu_draws, tau_draws = chain[:, 0], np.exp(chain[:, 1])
    mu = fit.coefficient()
    error = mu.sd() / math.sqrt(effective)
    assert abs(mu_draws.mean() - mu.mean()) < 4 * error
    for q in (0.025, 0.5, 0.975):
        # A quantile's Monte Carlo SE is about sqrt(q(1 - q) / n) / density at the quantile.
        quantile = mu.quantile(q)
        se = math.sqrt(q * (1 - q) / effective) / mu.pdf(quantile)
        assert abs(np.quantile(mu_draws, q) - quantile) < 4 * se, q
    tau_median = fit.tau_quantile(0.5)
    tau_se = 1.2533 * np.std(tau_draws) / math.sqrt(effective)
    assert abs(np.median(tau_draws) - tau_median) < 4 * tau_se
