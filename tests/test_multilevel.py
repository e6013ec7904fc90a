"""The time-course model's engine: its analytic gradient, a fixed rho and refused input."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from scipy import optimize

from ketamine_meta.stats.multilevel import (
    MultilevelError,
    _Model,
    fit_autoregressive,
    sampling_covariance,
    sampling_covariance_blocks,
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


# --- Block form against the dense formulas ------------------------------------------------------


def _interleaved_problem(seed: int = 3):
    """Clusters of 1 to 5 rows, their rows shuffled among each other's, 5 time levels."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 6, size=14)
    cluster = np.repeat(np.arange(len(sizes)), sizes)
    time = np.concatenate([np.sort(rng.choice(5, size=m, replace=False)) for m in sizes])
    order = rng.permutation(len(cluster))
    cluster, time = cluster[order], time[order].astype(float)
    vi = rng.uniform(0.02, 0.1, len(cluster))
    X = np.column_stack([np.ones(len(cluster)), time, rng.normal(size=len(cluster))])
    y = X @ [0.4, -0.05, 0.1] + rng.normal(0, 0.3, len(cluster))
    return y, X, cluster, time, vi


def _dense_loglik_and_gradient(theta, y, V, X, cluster, position, n_tau, restricted):
    """The likelihood and its gradient with n x n matrices, as the module docstring writes them."""
    n, p = X.shape
    tau2, rho = np.exp(theta[:n_tau]), np.tanh(theta[-1])
    same = cluster[:, None] == cluster[None, :]
    lag = np.abs(position[:, None] - position[None, :])
    scale = np.sqrt(tau2)[position] if n_tau > 1 else np.full(n, np.sqrt(tau2[0]))
    unit = same * np.outer(scale, scale)
    G = unit * rho**lag
    Mi = np.linalg.inv(V + G)
    vcov = np.linalg.inv(X.T @ Mi @ X)
    P = Mi - Mi @ X @ vcov @ X.T @ Mi
    resid = y - X @ vcov @ X.T @ Mi @ y
    loglik = np.linalg.slogdet(V + G)[1] + resid @ Mi @ resid
    if restricted:
        loglik += (n - p) * np.log(2 * np.pi) - np.linalg.slogdet(vcov)[1]
        loglik -= np.linalg.slogdet(X.T @ X)[1]
    else:
        loglik += n * np.log(2 * np.pi)
    if n_tau == 1:
        dG = [G]
    else:
        hits = [(position == k).astype(float) for k in range(n_tau)]
        dG = [G * 0.5 * (h[:, None] + h[None, :]) for h in hits]
    dG.append(unit * lag * rho ** np.maximum(lag - 1, 0) * (1 - rho**2))
    trace = P if restricted else Mi
    Py = P @ y
    gradient = [-0.5 * np.sum(trace * d) + 0.5 * Py @ d @ Py for d in dG]
    return -0.5 * loglik, np.array(gradient)


@pytest.mark.parametrize("structure", ["AR", "HAR"])
@pytest.mark.parametrize("restricted", [True, False])
@pytest.mark.parametrize("rho", [0.6, 0.0, -0.4])
@pytest.mark.parametrize("form", ["dense", "blocks"])
def test_block_form_equals_the_dense_formulas(structure, restricted, rho, form):
    y, X, cluster, time, vi = _interleaved_problem()
    dense = sampling_covariance(cluster, time, vi, 0.5)
    V = dense if form == "dense" else sampling_covariance_blocks(cluster, time, vi, 0.5)
    position = time.astype(int)
    model = _Model(y, V, X, cluster, position, tuple(range(5)), structure, restricted)
    theta = np.append(np.log(0.05 * np.arange(1, model.n_tau + 1)), np.arctanh(rho))
    loglik, gradient = _dense_loglik_and_gradient(
        theta, y, dense, X, cluster, position, model.n_tau, restricted
    )
    assert model.loglik(theta) == pytest.approx(loglik, rel=1e-10, abs=1e-10)
    np.testing.assert_allclose(model.gradient(theta), gradient, rtol=1e-10, atol=1e-10)


def test_blocks_are_the_diagonal_blocks_of_the_dense_matrix():
    _, _, cluster, time, vi = _interleaved_problem()
    dense = sampling_covariance(cluster, time, vi, 0.5)
    blocks = sampling_covariance_blocks(cluster, time, vi, 0.5)
    # In order of first appearance, each over its cluster's rows in data order.
    first_seen = list(dict.fromkeys(cluster.tolist()))
    assert len(blocks) == len(first_seen)
    for label, block in zip(first_seen, blocks, strict=True):
        rows = np.flatnonzero(cluster == label)
        np.testing.assert_array_equal(block, dense[np.ix_(rows, rows)])


@pytest.mark.parametrize("structure", ["AR", "HAR"])
def test_dense_and_block_covariance_give_the_same_fit(structure):
    y, X, cluster, time, vi = _interleaved_problem()
    dense = fit_autoregressive(
        y, sampling_covariance(cluster, time, vi, 0.5), X, cluster, time, structure
    )
    blocks = fit_autoregressive(
        y, sampling_covariance_blocks(cluster, time, vi, 0.5), X, cluster, time, structure
    )
    for name in ("coefficients", "se", "tau2", "rho", "loglik", "q"):
        np.testing.assert_array_equal(getattr(blocks, name), getattr(dense, name), err_msg=name)


def test_covariance_between_clusters_is_refused():
    V = sampling_covariance(CLUSTER, TIME, VI, 0.5)
    V[0, 3] = V[3, 0] = 0.01  # rows of clusters 0 and 1
    with pytest.raises(MultilevelError, match="between clusters"):
        fit_autoregressive(Y, V, X, CLUSTER, TIME)
    # V built over coarser clusters than the model's: the pairs' covariances would be lost.
    coarse = sampling_covariance(CLUSTER // 2, TIME, VI, 0.5)
    with pytest.raises(MultilevelError, match="between clusters"):
        fit_autoregressive(Y, coarse, X, CLUSTER, TIME)


def test_blocks_must_match_the_clusters():
    blocks = sampling_covariance_blocks(CLUSTER, TIME, VI, 0.5)
    with pytest.raises(MultilevelError, match="7 blocks for 8 clusters"):
        fit_autoregressive(Y, blocks[:-1], X, CLUSTER, TIME)
    with pytest.raises(MultilevelError, match="block 2 of V is 2 x 2"):
        fit_autoregressive(Y, [*blocks[:2], blocks[2][:2, :2], *blocks[3:]], X, CLUSTER, TIME)
    with pytest.raises(MultilevelError, match="finite"):
        fit_autoregressive(Y, [np.full((3, 3), np.nan), *blocks[1:]], X, CLUSTER, TIME)
    with pytest.raises(MultilevelError, match="positive definite"):
        fit_autoregressive(Y, [np.ones((3, 3)), *blocks[1:]], X, CLUSTER, TIME)


def test_memory_is_linear_in_the_clusters():
    """6,000 rows: one n x n matrix would take 288 MB; the blocks take well under 1 MB."""
    rng = np.random.default_rng(11)
    cluster = np.repeat(np.arange(1500), 4)
    time = np.tile([1.0, 2.0, 3.0, 4.0], 1500)
    vi = rng.uniform(0.02, 0.1, len(cluster))
    design = np.column_stack([(time == t).astype(float) for t in (1.0, 2.0, 3.0, 4.0)])
    y = 0.3 + rng.normal(0, 0.3, len(cluster))
    V = sampling_covariance_blocks(cluster, time, vi, 0.5)
    tracemalloc.start()
    try:
        fit = fit_autoregressive(y, V, design, cluster, time, "HAR")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert fit.converged
    assert peak < 32e6


# --- A fixed autocorrelation (metafor's rho = value) -------------------------------------------

# metafor's values for a fixed rho are in tests/reference/multilevel_reference.json
# (ishak2007_ar_rho*), checked by tests/test_multilevel_parity.py.


@pytest.mark.parametrize("structure", ["AR", "HAR"])
@pytest.mark.parametrize("rho", [1.0, 0.3, 0.0])
def test_fixed_rho_gradient_has_only_the_variances(structure, rho):
    V = sampling_covariance(CLUSTER, TIME, VI, 0.5)
    positions = np.searchsorted([1.0, 2.0, 4.0], TIME)
    model = _Model(Y, V, X, CLUSTER, positions, (1.0, 2.0, 4.0), structure, True, fixed_rho=rho)
    theta = np.log(np.full(model.n_tau, 0.07) * np.arange(1, model.n_tau + 1))
    numeric = optimize.approx_fprime(theta, model.loglik, 1e-7)
    assert model.gradient(theta).shape == (model.n_tau,)
    np.testing.assert_allclose(model.gradient(theta), numeric, rtol=1e-4, atol=1e-5)


def test_fixing_rho_at_its_estimate_reproduces_the_free_fit():
    V = sampling_covariance(CLUSTER, TIME, VI, 0.5)
    free = fit_autoregressive(Y, V, X, CLUSTER, TIME)
    fixed = fit_autoregressive(Y, V, X, CLUSTER, TIME, rho=free.rho)
    assert not free.rho_fixed and fixed.rho_fixed
    np.testing.assert_allclose(fixed.coefficients, free.coefficients, rtol=1e-6)
    np.testing.assert_allclose(fixed.tau2, free.tau2, rtol=1e-5)
    assert fixed.loglik == pytest.approx(free.loglik, abs=1e-9)


def test_a_fixed_rho_outside_its_range_is_refused():
    V = sampling_covariance(CLUSTER, TIME, VI, 0.5)
    with pytest.raises(MultilevelError, match=r"a fixed rho must lie in \[-1, 1\], not 1.5"):
        fit_autoregressive(Y, V, X, CLUSTER, TIME, rho=1.5)
