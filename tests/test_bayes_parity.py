"""The Bayesian engine against R's own quadrature (tests/reference/bayes_reference.json).

``tests/reference/make_bayes_references.R`` computes each posterior from the model's definition
with ``stats::integrate`` (QUADPACK, rel.tol 1e-11, over log tau) and ``stats::uniroot``,
writing the likelihood of tau as the multivariate normal density of y; it shares no code or
formula layout with :mod:`ketamine_meta.stats.bayes`, which integrates on fixed Gauss-Legendre
nodes over ``u = tau / (tau + s)``. They agree to about 1e-11; the tolerance is the project's
1e-6. Where R leaves ``mu_sd`` out (E[tau^2 | y] is infinite), the engine must say infinity.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from conftest import REPO
from ketamine_meta.stats.bayes import BayesSpec, bayesian_meta_analysis
from ketamine_meta.stats.bayes_priors import (
    HalfCauchyPrior,
    HalfNormalPrior,
    LogNormalTau2Prior,
    LogTTau2Prior,
    NormalMuPrior,
    UniformMuPrior,
    UniformTauPrior,
)

REFERENCE = REPO / "tests" / "reference" / "bayes_reference.json"
SCENARIOS = {s["id"]: s for s in json.loads(REFERENCE.read_text())["scenarios"]}
ATOL = 1e-6

pytestmark = pytest.mark.metafor


def _tau_prior(spec: dict):
    family = spec["family"]
    if family == "halfnormal":
        return HalfNormalPrior(spec["scale"])
    if family == "halfcauchy":
        return HalfCauchyPrior(spec["scale"])
    if family == "lognormal":
        return LogNormalTau2Prior(spec["mean"], spec["sd"])
    if family == "logt":
        return LogTTau2Prior(spec["location"], spec["scale"], spec["df"])
    assert family == "uniform"
    return UniformTauPrior()


def _mu_prior(spec: dict):
    return (
        NormalMuPrior(spec["mean"], spec["sd"]) if spec["family"] == "normal" else UniformMuPrior()
    )


def _engine_values(scenario: dict) -> dict:
    spec = BayesSpec(_tau_prior(scenario["tau_prior"]), _mu_prior(scenario["mu_prior"]))
    fit = bayesian_meta_analysis(
        np.atleast_1d(scenario["yi"]),
        np.atleast_1d(scenario["vi"]),
        spec,
        mods=scenario.get("mods"),
    )
    values = fit.summary(scenario["thresholds"])
    for j in range(1, fit.p):
        slope = fit.coefficient(j)
        values.update(
            {
                f"coef{j + 1}_mean": slope.mean(),
                f"coef{j + 1}_median": slope.quantile(0.5),
                f"coef{j + 1}_low": slope.quantile(0.025),
                f"coef{j + 1}_high": slope.quantile(0.975),
            }
        )
    shrunken = fit.shrinkage_table()
    values.update(
        theta_mean=shrunken["theta_mean"].to_numpy(),
        theta_median=shrunken["theta_median"].to_numpy(),
    )
    return values


def test_every_family_and_limit_is_covered():
    """Each tau prior, a normal mu prior, one and two moderators, k = 1, 2, 3 and equal
    variances."""
    families = {s["tau_prior"]["family"] for s in SCENARIOS.values()}
    assert families == {"halfnormal", "halfcauchy", "lognormal", "logt", "uniform"}
    assert {s["values"]["k"] for s in SCENARIOS.values()} >= {1, 2, 3, 13}
    assert {np.shape(s["mods"])[1] for s in SCENARIOS.values() if "mods" in s} == {1, 2}
    assert any(s["mu_prior"]["family"] == "normal" for s in SCENARIOS.values())


@pytest.mark.parametrize("scenario_id", sorted(SCENARIOS))
def test_posterior_summaries_match_r_quadrature(scenario_id):
    scenario = SCENARIOS[scenario_id]
    got = _engine_values(scenario)
    for name, expected in scenario["values"].items():
        np.testing.assert_allclose(got[name], expected, rtol=0, atol=ATOL, err_msg=name)
    if "mu_sd" not in scenario["values"]:
        assert got["mu_sd"] == math.inf


def test_marginal_likelihood_only_where_every_prior_is_proper():
    """bayesmeta reports p(y) only for proper priors; R's value is compared where it is."""
    with_evidence = [s for s in SCENARIOS.values() if "log_marginal_likelihood" in s["values"]]
    assert {s["id"] for s in with_evidence} == {
        "bcg_halfnormal_0.5_mu_normal_0_2",
        "normand_halfcauchy_5_mu_normal_0_20",
    }
    flat = _engine_values(SCENARIOS["bcg_halfnormal_0.5"])
    assert math.isnan(flat["log_marginal_likelihood"])
