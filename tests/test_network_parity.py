"""Network meta-analysis against metafor's ``rma.mv`` (tests/reference/network_reference.json).

Each scenario gives every pairwise contrast of metadat's dat.senn2013 (26 trials, one with
three arms) or dat.hasselblad1998 (24 trials, two with three arms); the engine
back-calculates the arm variances, while the R script fits
``rma.mv(yi, V, mods = X, random = ~ comp | study, rho = 1/2)`` on the arm variances
directly. Tolerance 1e-6 absolute: the reference is converged with BFGS at reltol 1e-15
and the engine with bounded Brent at xatol 1e-14, and the two agree to about 5e-8 in
tau^2, the least precisely determined number.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import REPO
from ketamine_meta.stats.network import fit_network, network_from_pairwise, node_split

REFERENCE = REPO / "tests" / "reference" / "network_reference.json"
SCENARIOS = {s["id"]: s for s in json.loads(REFERENCE.read_text())["scenarios"]}
TOL = 1e-6
EXPECTED_GRID = {
    f"{data}_{method}" for data in ("senn2013", "hasselblad1998") for method in ("reml", "ml")
}

pytestmark = pytest.mark.metafor


def test_grid_is_complete():
    """Every dataset is fitted with every likelihood method metafor's rma.mv offers."""
    assert set(SCENARIOS) == EXPECTED_GRID


def _network(scenario):
    data = scenario["input"]
    contrasts = pd.DataFrame({k: data[k] for k in ("study", "treat1", "treat2", "yi", "vi")})
    return network_from_pairwise(contrasts, data["reference"])


@pytest.fixture(scope="module", params=sorted(EXPECTED_GRID))
def fitted(request):
    scenario = SCENARIOS[request.param]
    network = _network(scenario)
    return scenario, network, fit_network(network, scenario["input"]["method"])


def test_effects_against_the_reference(fitted):
    scenario, _, fit = fitted
    expected = scenario["values"]
    assert list(fit.effects["treatment"]) == expected["treatments"]
    for column in ("estimate", "se", "ci_low", "ci_high", "pi_low", "pi_high"):
        np.testing.assert_allclose(fit.effects[column], expected[column], atol=TOL, rtol=0)


def test_tau2_and_log_likelihood(fitted):
    scenario, _, fit = fitted
    expected = scenario["values"]
    assert fit.tau2 == pytest.approx(expected["tau2"], abs=TOL)
    assert fit.loglik == pytest.approx(expected["logLik"], abs=TOL)


def test_q_and_its_design_decomposition(fitted):
    scenario, _, fit = fitted
    expected = scenario["values"]
    assert fit.q == pytest.approx(expected["q"], abs=TOL)
    assert fit.q_df == expected["q_df"]
    assert fit.q_p == pytest.approx(expected["q_p"], abs=TOL)
    assert fit.q_within == pytest.approx(expected["q_within"], abs=TOL)
    assert fit.q_within_df == expected["q_within_df"]
    assert fit.q_between == pytest.approx(expected["q_between"], abs=TOL)
    assert fit.q_between_df == expected["q_between_df"]


def test_league_table_and_pscores(fitted):
    scenario, _, fit = fitted
    expected = scenario["values"]
    order = expected["league_treatments"]
    assert list(fit.treatments) == order
    np.testing.assert_allclose(
        fit.league_estimate.loc[order, order], expected["league_estimate"], atol=TOL, rtol=0
    )
    np.testing.assert_allclose(
        fit.league_se.loc[order, order], expected["league_se"], atol=TOL, rtol=0
    )
    np.testing.assert_allclose(fit.pscore.loc[order], expected["pscore"], atol=TOL, rtol=0)


def test_node_splits(fitted):
    scenario, network, _ = fitted
    for expected in scenario["values"]["splits"]:
        split = node_split(
            network, expected["first"], expected["second"], scenario["input"]["method"]
        )
        assert split.k_direct == expected["k_direct"]
        for name in (
            "direct",
            "direct_se",
            "indirect",
            "indirect_se",
            "difference",
            "difference_se",
            "pval",
            "tau2",
        ):
            assert getattr(split, name) == pytest.approx(expected[name], abs=TOL), name


@pytest.mark.parametrize("scenario_id", sorted(EXPECTED_GRID))
def test_cli_prints_metafors_effects(scenario_id, tmp_path, capsys):
    """`ketamine-meta nma` on the same contrasts prints the same effects."""
    from ketamine_meta.cli.commands import main

    scenario = SCENARIOS[scenario_id]
    data = scenario["input"]
    path = tmp_path / "contrasts.csv"
    pd.DataFrame({k: data[k] for k in ("study", "treat1", "treat2", "yi", "vi")}).to_csv(
        path, index=False
    )
    status = main(
        [
            "nma",
            "--input",
            str(path),
            "--reference",
            data["reference"],
            "--method",
            data["method"],
            "--format",
            "json",
        ]
    )
    assert status == 0
    printed = pd.DataFrame(json.loads(capsys.readouterr().out))
    expected = scenario["values"]
    assert list(printed["treatment"]) == expected["treatments"]
    for column in ("estimate", "se", "ci_low", "ci_high", "pi_low", "pi_high"):
        np.testing.assert_allclose(printed[column], expected[column], atol=TOL, rtol=0)
    np.testing.assert_allclose(printed["tau2"], expected["tau2"], atol=TOL, rtol=0)
