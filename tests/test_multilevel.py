"""The time-course model's engine: its analytic gradient and refused input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

from ketamine_meta.stats.multilevel import (
    MultilevelError,
    _Model,
    fit_autoregressive,
    sampling_covariance,
)

RNG = np.random.default_rng(7)
CLUSTER = np.repeat(np.arange(8), 3)
TIME = np.tile([1.0, 2.0, 4.0], 8)
VI = RNG.uniform(0.02, 0.1, len(CLUSTER))
Y = 0.5 - 0.05 * TIME + RNG.normal(0, 0.3, len(CLUSTER))
X = np.column_stack([(TIME == t).astype(float) for t in (1.0, 2.0, 4.0)])


@pytest.mark.parametrize("structure", ["AR", "HAR"])
@pytest.mark.parametrize("restricted", [True, False])
@pytest.mark.parametrize("rho", [0.6, 0.0, -0.4])
def test_analytic_gradient_matches_finite_differences(structure, restricted, rho):
    V = sampling_covariance(CLUSTER, TIME, VI, 0.5)
    positions = np.searchsorted([1.0, 2.0, 4.0], TIME)
    model = _Model(Y, V, X, CLUSTER, positions, (1.0, 2.0, 4.0), structure, restricted)
    theta = np.append(
        np.log(np.full(model.n_tau, 0.07) * np.arange(1, model.n_tau + 1)), np.arctanh(rho)
    )
    numeric = optimize.approx_fprime(theta, model.loglik, 1e-7)
    np.testing.assert_allclose(model.gradient(theta), numeric, rtol=1e-4, atol=1e-5)


def test_sampling_covariance_is_vcalc_with_phi():
    V = sampling_covariance(["a", "a", "b"], [1, 3, 1], [0.04, 0.09, 0.01], 0.5)
    assert V[0, 1] == pytest.approx(0.5**2 * 0.2 * 0.3)
    assert V[0, 2] == 0.0
    np.testing.assert_allclose(np.diag(V), [0.04, 0.09, 0.01])


def test_shapes_and_design_are_checked():
    V = sampling_covariance(CLUSTER, TIME, VI, 0.5)
    with pytest.raises(MultilevelError, match="same rows"):
        fit_autoregressive(Y[:-1], V, X[:-1], CLUSTER, TIME)
    with pytest.raises(MultilevelError, match="rank-deficient"):
        fit_autoregressive(Y, V, np.column_stack([X, X[:, 0]]), CLUSTER, TIME)
    with pytest.raises(MultilevelError, match="structure must be"):
        fit_autoregressive(Y, V, X, CLUSTER, TIME, structure="CS")
