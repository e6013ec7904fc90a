r"""Mixed-effects meta-regression and subgroup analysis with a common tau^2.

The model is :math:`y_i = x_i^\top\beta + u_i + \varepsilon_i` with
:math:`u_i \sim N(0, \tau^2)` and :math:`\varepsilon_i \sim N(0, v_i)`. For a given tau^2,

.. math::

    W = \operatorname{diag}\Big(\frac{1}{v_i+\tau^2}\Big), \quad
    \hat\beta = (X^\top W X)^{-1} X^\top W y, \quad
    P = W - W X (X^\top W X)^{-1} X^\top W

and tau^2 is estimated as in metafor ``rma.uni(mods = ...)`` (Viechtbauer, 2010). Every
statistic is compared with metafor in ``tests/test_metafor_parity.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, stats

from ketamine_meta.meta_analysis import MACHINE_EPS, TESTS, TestMethod, random_effects
from ketamine_meta.tau2 import FISHER_MAX_ITER, FISHER_THRESHOLD, Tau2Method, maximize_rows

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class MetaRegressionResult:
    """A fitted mixed-effects meta-regression, in metafor's terms.

    Attributes
    ----------
    coefficients : pandas.DataFrame
        One row per column of the model matrix: ``term, estimate, se, statistic, pval,
        ci_low, ci_high``.
    vcov : numpy.ndarray
        Covariance matrix of the coefficients (scaled by the Hartung-Knapp factor for knha).
    tau2, i2, h2 : float
        Residual heterogeneity: tau^2, I^2 (percent) and H^2.
    r2 : float
        Pseudo-R^2 (percent): the share of the intercept-only model's tau^2 the moderators
        account for, truncated at 0 (metafor's default); NaN for a model without intercept.
    qe, qe_df, qe_p : float
        Test for residual heterogeneity.
    qm, qm_df, qm_df2, qm_p : float
        Omnibus test of the moderators (all coefficients but the intercept): chi^2 on
        ``qm_df`` df, or F on (``qm_df``, ``qm_df2``) with knha/adhoc.
    k, p : int
        Studies and coefficients.
    method, test : str
    """

    coefficients: pd.DataFrame
    vcov: FloatArray
    tau2: float
    i2: float
    h2: float
    r2: float
    qe: float
    qe_df: int
    qe_p: float
    qm: float
    qm_df: int
    qm_df2: float
    qm_p: float
    k: int
    p: int
    method: str
    test: str


def _projection(v: FloatArray, x: FloatArray, tau2: float) -> tuple[FloatArray, FloatArray]:
    w = np.diag(1 / (v + tau2))
    xtwx_inv = np.linalg.inv(x.T @ w @ x)
    return w - w @ x @ xtwx_inv @ x.T @ w, xtwx_inv


def _tau2_pm(y, v, x) -> float:
    k, p = x.shape

    def excess(tau2: float) -> float:
        p_mat, _ = _projection(v, x, tau2)
        return float(y @ p_mat @ y - (k - p))

    if excess(0.0) <= 0:
        return 0.0
    high = 1.0
    while excess(high) > 0:
        high *= 2
    return float(optimize.brentq(excess, 0.0, high, xtol=1e-15, rtol=4 * MACHINE_EPS))


def _tau2_sj(y, v, x) -> float:
    k, p = x.shape
    tau0 = float(np.var(y))
    p_mat, _ = _projection(v, x, tau0)
    return tau0 * float(y @ p_mat @ y) / (k - p)


#: Estimators without a batch path (REML, ML and DL go through :func:`meta_regression_batch`).
SINGLE_ESTIMATORS = {
    "PM": _tau2_pm,
    # The EB iteration's fixed point is the PM root (see ketamine_meta.tau2.empirical_bayes).
    "EB": _tau2_pm,
    "SJ": _tau2_sj,
}


def meta_regression(
    yi: ArrayLike,
    vi: ArrayLike,
    x: ArrayLike,
    terms: Sequence[str],
    method: Tau2Method = "REML",
    test: TestMethod = "knha",
    level: float = 0.95,
) -> MetaRegressionResult:
    r"""Fit a mixed-effects meta-regression.

    Parameters
    ----------
    yi, vi : array_like
        Estimates and sampling variances.
    x : array_like
        Model matrix, shape ``(k, p)``; include a column of ones (named ``"intercept"`` in
        ``terms``) for a model with intercept.
    terms : sequence of str
        Names of the columns of ``x``.
    method : {"REML", "ML", "DL", "PM", "EB", "SJ"}
        Estimator of the residual tau^2.
    test : {"knha", "adhoc", "z"}
        Wald z, or Knapp-Hartung: covariance scaled by
        :math:`s^2 = y^\top P y / (k - p)` (truncated at 1 below for ``"adhoc"``), t tests on
        ``k - p`` df and an F test of the moderators.
    level : float
        Confidence level.

    Returns
    -------
    MetaRegressionResult

    References
    ----------
    Knapp, G., & Hartung, J. (2003). Improved tests for a random effects meta-regression with
    a single covariate. *Statistics in Medicine*, 22(17), 2693-2710. Raudenbush, S. W. (2009).
    Analyzing effect sizes: random-effects models. In *The handbook of research synthesis and
    meta-analysis* (2nd ed., pp. 295-315). Viechtbauer, W. (2010), section 3.
    """
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r}; choose from {list(TESTS)}")
    if method not in SINGLE_ESTIMATORS and method not in BATCH_ESTIMATORS:
        known = sorted([*SINGLE_ESTIMATORS, *BATCH_ESTIMATORS])
        raise ValueError(f"unknown tau^2 method {method!r}; choose from {known}")
    y, v = np.asarray(yi, dtype=float), np.asarray(vi, dtype=float)
    x = np.asarray(x, dtype=float).reshape(y.size, -1)
    k, p = x.shape
    if len(terms) != p:
        raise ValueError(f"{len(terms)} term names for {p} columns")
    if k <= p:
        raise ValueError(f"{k} studies cannot estimate {p} coefficients and tau^2")
    if np.linalg.matrix_rank(x) < p:
        raise ValueError("the model matrix is not of full rank")
    if method in BATCH_ESTIMATORS:
        tau2 = float(BATCH_ESTIMATORS[method](_Design(x, y[None, :], v[None, :]))[0])
    else:
        tau2 = SINGLE_ESTIMATORS[method](y, v, x)
    _, vb = _projection(v, x, tau2)
    w = 1 / (v + tau2)
    beta = vb @ x.T @ (w * y)
    rss = float(np.sum(w * (y - x @ beta) ** 2))
    s2w = 1.0
    if test != "z":
        s2w = 0.0 if rss <= MACHINE_EPS else rss / (k - p)
        if test == "adhoc":
            s2w = max(1.0, s2w)
    vb = s2w * vb
    se = np.sqrt(np.diag(vb))
    # Identical estimates under knha give SE 0: an infinite statistic, as in metafor.
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = beta / se
    qm, m = _omnibus(beta, vb, terms)
    if test == "z":
        crit = stats.norm.ppf(0.5 + level / 2)
        pval = 2 * stats.norm.sf(np.abs(statistic))
        qm_df2, qm_p = np.nan, float(stats.chi2.sf(qm, m)) if m else np.nan
    else:
        crit = stats.t.ppf(0.5 + level / 2, k - p)
        pval = 2 * stats.t.sf(np.abs(statistic), k - p)
        qm = qm / m if m else np.nan
        qm_df2, qm_p = float(k - p), float(stats.f.sf(qm, m, k - p)) if m else np.nan
    p_fe, _ = _projection(v, x, 0.0)
    qe = max(0.0, float(y @ p_fe @ y))
    typical_v = (k - p) / np.trace(p_fe)
    coefficients = pd.DataFrame(
        {
            "term": list(terms),
            "estimate": beta,
            "se": se,
            "statistic": statistic,
            "pval": pval,
            "ci_low": beta - crit * se,
            "ci_high": beta + crit * se,
        }
    )
    return MetaRegressionResult(
        coefficients=coefficients,
        vcov=vb,
        tau2=float(tau2),
        i2=float(100 * tau2 / (typical_v + tau2)),
        h2=float(tau2 / typical_v + 1),
        r2=_pseudo_r2(y, v, tau2, method, "intercept" in terms),
        qe=qe,
        qe_df=k - p,
        qe_p=float(stats.chi2.sf(qe, k - p)),
        qm=qm,
        qm_df=m,
        qm_df2=qm_df2,
        qm_p=qm_p,
        k=k,
        p=p,
        method=method,
        test=test,
    )


def _omnibus(beta: FloatArray, vb: FloatArray, terms: Sequence[str]) -> tuple[float, int]:
    """Wald statistic of all coefficients but the intercept, and their number."""
    moderators = [i for i, t in enumerate(terms) if t != "intercept"]
    if not moderators:
        return float("nan"), 0
    sub = vb[np.ix_(moderators, moderators)]
    if np.linalg.matrix_rank(sub) < len(moderators):
        # A zero Knapp-Hartung factor leaves no covariance: metafor reports QM as NA.
        return float("nan"), len(moderators)
    return float(beta[moderators] @ np.linalg.solve(sub, beta[moderators])), len(moderators)


def _pseudo_r2(y, v, tau2: float, method: str, intercept: bool) -> float:
    r"""Pseudo-R^2 as metafor's default: :math:`\max(0, (\tau^2_{RE} - \tau^2)/\tau^2_{RE})`."""
    if not intercept:
        return float("nan")
    tau2_re = random_effects(y, v, method=method, test="z").tau2
    if tau2_re == 0:
        return 0.0
    return float(max(0.0, 100 * (tau2_re - tau2) / tau2_re))


def subgroups_common_tau2(
    yi: ArrayLike,
    vi: ArrayLike,
    groups: ArrayLike,
    method: Tau2Method = "REML",
    test: TestMethod = "knha",
    level: float = 0.95,
) -> tuple[pd.DataFrame, MetaRegressionResult]:
    """Subgroup estimates under one tau^2 shared by all subgroups, and the test between them.

    Fits the meta-regression on indicator variables of the subgroups. Without an intercept
    its coefficients are the subgroup estimates (metafor ``rma(yi, vi, mods = ~ g - 1)``);
    with an intercept its omnibus test is the test for subgroup differences (``QM`` of
    ``rma(yi, vi, mods = ~ g)``). Both parametrizations share tau^2.

    Returns
    -------
    estimates : pandas.DataFrame
        One row per subgroup (sorted): ``subgroup, k, estimate, se, statistic, pval, ci_low,
        ci_high``.
    test : MetaRegressionResult
        The model with intercept; ``qm``, ``qm_df`` and ``qm_p`` test subgroup differences.

    References
    ----------
    Borenstein, M., et al. (2009). *Introduction to meta-analysis*, ch. 19 (pooled estimate of
    tau^2). Viechtbauer, W. (2010), section 3.3.
    """
    groups = np.asarray(groups).astype(str)
    levels = sorted(set(groups))
    if len(levels) < 2:
        raise ValueError("subgroup analysis needs at least two subgroups")
    indicators = np.column_stack([(groups == g).astype(float) for g in levels])
    cell = meta_regression(yi, vi, indicators, levels, method, test, level)
    with_intercept = np.column_stack([np.ones(groups.size), indicators[:, 1:]])
    terms = ["intercept"] + [f"subgroup[{g}]" for g in levels[1:]]
    between = meta_regression(yi, vi, with_intercept, terms, method, test, level)
    estimates = cell.coefficients.rename(columns={"term": "subgroup"})
    estimates.insert(1, "k", [int((groups == g).sum()) for g in levels])
    return estimates, between


@dataclass(frozen=True)
class RegressionBatch:
    """Meta-regressions of ``m`` outcome vectors on one model matrix; arrays over ``m``.

    Attributes
    ----------
    beta, se, statistic : numpy.ndarray
        Coefficients, their standard errors and test statistics, shape ``(m, p)``.
    tau2, qm : numpy.ndarray
        Residual tau^2 and the omnibus statistic of the moderators (F for knha), shape ``(m,)``.
    """

    beta: FloatArray
    se: FloatArray
    statistic: FloatArray
    tau2: FloatArray
    qm: FloatArray


class _Design:
    """The algebra of one model matrix ``x`` (k x p) against ``m`` rows of weights."""

    def __init__(self, x: FloatArray, y: FloatArray, v: FloatArray):
        self.x, self.y, self.v = x, y, v
        self.k, self.p = x.shape

    def solve(self, tau2: FloatArray):
        w = 1 / (self.v + tau2[:, None])
        xtwx = np.einsum("ki,mk,kj->mij", self.x, w, self.x)
        inv = np.linalg.inv(xtwx)
        beta = np.einsum("mij,mj->mi", inv, np.einsum("ki,mk->mi", self.x, w * self.y))
        e = self.y - np.einsum("mi,ki->mk", beta, self.x)
        return w, xtwx, inv, beta, e

    def projection(self, w: FloatArray, inv: FloatArray) -> FloatArray:
        wx = w[:, :, None] * self.x[None, :, :]
        return w[:, :, None] * np.eye(self.k)[None] - np.einsum("mki,mij,mlj->mkl", wx, inv, wx)

    def loglik(self, tau2: FloatArray, restricted: bool) -> FloatArray:
        w, xtwx, _, _, e = self.solve(tau2)
        ll = -0.5 * (np.sum(np.log(self.v + tau2[:, None]), axis=1) + np.sum(w * e**2, axis=1))
        return ll - 0.5 * np.linalg.slogdet(xtwx)[1] if restricted else ll

    def fisher_step(self, tau2: FloatArray, restricted: bool) -> FloatArray:
        w, _, inv, _, e = self.solve(tau2)
        p_mat = self.projection(w, inv)
        ypp = np.sum((w * e) ** 2, axis=1)
        if restricted:
            return (ypp - np.trace(p_mat, axis1=1, axis2=2)) / np.sum(p_mat * p_mat, axis=(1, 2))
        return (ypp - np.sum(w, axis=1)) / np.sum(w**2, axis=1)

    def start(self) -> FloatArray:
        """Metafor's starting value for (RE)ML: the HE estimator, at least 0."""
        ols = np.eye(self.k) - self.x @ np.linalg.inv(self.x.T @ self.x) @ self.x.T
        rss = np.einsum("mk,kl,ml->m", self.y, ols, self.y)
        tr_pv = np.einsum("kk,mk->m", ols, self.v)
        return np.maximum(0.0, (rss - tr_pv) / (self.k - self.p))


def _batch_scoring(design: _Design, restricted: bool) -> FloatArray:
    """Safeguarded Fisher scoring over the batch, as :func:`_scoring` does for one fit."""
    m = design.y.shape[0]
    tau2 = design.start()
    with np.errstate(invalid="ignore", divide="ignore"):
        at_zero = (tau2 == 0) & (design.fisher_step(np.zeros(m), restricted) <= 0)
    active = ~at_zero
    current = design.loglik(tau2, restricted)
    previous = np.zeros(m)
    for _ in range(FISHER_MAX_ITER):
        if not active.any():
            break
        step = np.where(active, design.fisher_step(tau2, restricted), 0.0)
        step = np.where(active & (step * previous < 0), step / 2, step)
        for _ in range(64):
            negative = tau2 + step < 0
            if not negative.any():
                break
            step = np.where(negative, step / 2, step)
        tolerance = 1e-10 * np.maximum(1.0, np.abs(current))
        for _ in range(60):
            candidate = design.loglik(tau2 + step, restricted)
            falls = active & (candidate < current - tolerance)
            if not falls.any():
                break
            step = np.where(falls, step / 2, step)
        tau2 = np.where(active, tau2 + step, tau2)
        current = np.where(active, candidate, current)
        previous = np.where(active, step, previous)
        active &= np.abs(step) > FISHER_THRESHOLD
    else:
        tau2 = maximize_rows(
            lambda t, rows: _Design(design.x, design.y[rows], design.v[rows]).loglik(t, restricted),
            tau2,
            active,
        )
        current = design.loglik(tau2, restricted)
    boundary = design.loglik(np.zeros(m), restricted)
    tolerance = 1e-10 * np.maximum(1.0, np.abs(boundary))
    with np.errstate(invalid="ignore", divide="ignore"):
        falls_from_zero = design.fisher_step(np.zeros(m), restricted) <= 0
    on_boundary = falls_from_zero & (boundary >= current - tolerance)
    return np.where(at_zero | on_boundary | (boundary > current + tolerance), 0.0, tau2)


def _batch_dl(design: _Design) -> FloatArray:
    w, _, inv, _, e = design.solve(np.zeros(design.y.shape[0]))
    trace = np.trace(design.projection(w, inv), axis1=1, axis2=2)
    return np.maximum(0.0, (np.sum(w * e**2, axis=1) - (design.k - design.p)) / trace)


BATCH_ESTIMATORS = {
    "REML": lambda d: _batch_scoring(d, restricted=True),
    "ML": lambda d: _batch_scoring(d, restricted=False),
    "DL": _batch_dl,
}


def meta_regression_batch(
    yi: ArrayLike,
    vi: ArrayLike,
    x: ArrayLike,
    terms: Sequence[str],
    method: Tau2Method = "REML",
    test: TestMethod = "knha",
) -> RegressionBatch:
    """Fit :func:`meta_regression` to ``m`` outcome vectors at once (REML, ML or DL).

    ``yi`` and ``vi`` have shape ``(m, k)``; ``x`` is one ``(k, p)`` model matrix. Every step
    is vectorized over the ``m`` fits: this is the path of the moderator permutation test.
    """
    if method not in BATCH_ESTIMATORS:
        raise ValueError(
            f"batch meta-regression supports {sorted(BATCH_ESTIMATORS)}, not {method!r}"
        )
    y, v = np.atleast_2d(np.asarray(yi, dtype=float)), np.atleast_2d(np.asarray(vi, dtype=float))
    design = _Design(np.asarray(x, dtype=float).reshape(y.shape[1], -1), y, v)
    tau2 = BATCH_ESTIMATORS[method](design)
    w, _, inv, beta, e = design.solve(tau2)
    s2w = np.ones(len(tau2))
    if test != "z":
        rss = np.sum(w * e**2, axis=1)
        s2w = np.where(rss <= MACHINE_EPS, 0.0, rss / (design.k - design.p))
        if test == "adhoc":
            s2w = np.maximum(1.0, s2w)
    vb = s2w[:, None, None] * inv
    se = np.sqrt(np.diagonal(vb, axis1=1, axis2=2))
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = beta / se
    moderators = [i for i, t in enumerate(terms) if t != "intercept"]
    sub = vb[:, moderators][:, :, moderators]
    b = beta[:, moderators]
    # A zero Knapp-Hartung factor leaves no covariance: metafor reports QM as NA.
    singular = s2w == 0
    sub = np.where(singular[:, None, None], np.eye(len(moderators)), sub)
    qm = np.einsum("mi,mi->m", b, np.linalg.solve(sub, b[:, :, None])[:, :, 0])
    qm = np.where(singular, np.nan, qm)
    if test != "z":
        qm = qm / len(moderators)
    return RegressionBatch(beta, se, statistic, tau2, qm)
