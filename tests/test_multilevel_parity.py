"""The time-course model against metafor's ``rma.mv(struct = "AR" / "HAR")``
(tests/reference/multilevel_reference.json, dat.ishak2007).

Tolerance 1e-6 relative: UPDRS changes are of order 10-30 and tau^2 of order 20-35, and both
sides stop their optimizers at a relative change near 1e-15 in the objective; they agree to
about 1e-7 relative.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import REPO
from ketamine_meta.stats.multilevel import fit_autoregressive, sampling_covariance

REFERENCE = REPO / "tests" / "reference" / "multilevel_reference.json"
SCENARIOS = {s["id"]: s for s in json.loads(REFERENCE.read_text())["scenarios"]}
EXPECTED_GRID = {
    f"ishak2007_{struct}_{method}" for struct in ("ar", "har") for method in ("reml", "ml")
} | {f"ishak2007_ar_rho{rho}_{method}" for rho in ("1", "0.5", "0") for method in ("reml", "ml")}
RTOL = 1e-6

pytestmark = pytest.mark.metafor


def test_grid_is_complete():
    """Both structures metafor names for repeated measures, by both likelihoods, and the AR
    structure with rho fixed at 1, 0.5 and 0 (metafor's ``rho = value``)."""
    assert set(SCENARIOS) == EXPECTED_GRID


@pytest.fixture(scope="module", params=sorted(EXPECTED_GRID))
def fitted(request):
    scenario = SCENARIOS[request.param]
    data = scenario["input"]
    V = sampling_covariance(data["study"], data["time"], data["vi"], data["phi"])
    X = pd.get_dummies(pd.Series(data["time"])).to_numpy(float)
    fit = fit_autoregressive(
        data["yi"],
        V,
        X,
        data["study"],
        data["time"],
        data["structure"],
        data["method"],
        rho=data.get("rho"),
    )
    return scenario["values"], fit


def test_coefficients_and_their_inference(fitted):
    expected, fit = fitted
    for name in ("estimate", "se", "ci_low", "ci_high"):
        got = fit.coefficients if name == "estimate" else getattr(fit, name)
        np.testing.assert_allclose(got, expected[name], rtol=RTOL, err_msg=name)
    # The p-values are of order 1e-130: compare the z statistics they come from.
    np.testing.assert_allclose(fit.zval, expected["zval"], rtol=RTOL)


def test_variance_components_and_likelihood(fitted):
    expected, fit = fitted
    np.testing.assert_allclose(fit.tau2, np.atleast_1d(expected["tau2"]), rtol=RTOL)
    assert fit.rho == pytest.approx(expected["rho"], rel=RTOL)
    assert fit.loglik == pytest.approx(expected["logLik"], rel=RTOL)
    assert fit.converged


def test_residual_heterogeneity(fitted):
    expected, fit = fitted
    assert fit.q == pytest.approx(expected["q"], rel=RTOL)
    assert fit.q_df == expected["q_df"]
    assert fit.q_p == pytest.approx(expected["q_p"], rel=1e-5)
