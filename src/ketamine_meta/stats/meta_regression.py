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
from scipy import optimize

from ketamine_meta.stats.distributions import chi2_sf, f_sf, norm_sf, t_sf
from ketamine_meta.stats.meta_analysis import (
    MACHINE_EPS,
    cochran_q,
    i2_h2_from_q,
    knapp_hartung_factor,
    random_effects,
)
from ketamine_meta.stats.model import ModelSpec, TestMethod
from ketamine_meta.stats.tau2 import (
    COMMON_EFFECT_METHODS,
    Tau2Method,
    safeguarded_fisher_scoring,
)

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class MetaRegressionResult:
    """A fitted mixed-effects meta-regression, in metafor's terms.

    Like metafor's ``rma.uni(mods = ...)`` object it keeps its data and its specification, so
    that a permutation test (:func:`ketamine_meta.stats.permutation.moderator_permutation_test`)
    refits the same model.

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
    model : ModelSpec
        The specification fitted (metafor ``x$method``, ``x$test``, ``x$level``).
    yi, vi : numpy.ndarray
        The estimates and sampling variances fitted (metafor ``x$yi``, ``x$vi``).
    x : numpy.ndarray
        The model matrix, ``(k, p)``, its columns named by ``coefficients["term"]`` (``x$X``).
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
    model: ModelSpec
    yi: FloatArray
    vi: FloatArray
    x: FloatArray


def _rss(design: _Design, tau2: float) -> float:
    r"""Weighted residual sum of squares :math:`y^\top P y` of a single-fit design at tau^2."""
    w, _, _, _, e = design.solve(np.array([tau2]))
    return float(np.sum(w * e**2))


def _tau2_pm(design: _Design) -> float:
    df = design.k - design.p

    def excess(tau2: float) -> float:
        return _rss(design, tau2) - df

    if excess(0.0) <= 0:
        return 0.0
    high = 1.0
    while excess(high) > 0:
        high *= 2
    return float(optimize.brentq(excess, 0.0, high, xtol=1e-15, rtol=4 * MACHINE_EPS))


def _tau2_sj(design: _Design) -> float:
    tau0 = float(np.var(design.y[0]))
    return tau0 * _rss(design, tau0) / (design.k - design.p)


#: Estimators without a batch path (REML, ML and DL go through :func:`meta_regression_batch`).
SINGLE_ESTIMATORS = {
    "PM": _tau2_pm,
    # The EB iteration's fixed point is the PM root (see ketamine_meta.stats.tau2.empirical_bayes).
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
        Confidence level (a fraction, or a percentage as metafor reads it). ``method``,
        ``test`` and ``level`` are validated as one :class:`~ketamine_meta.stats.model.ModelSpec`,
        which the fit carries; its :meth:`~ketamine_meta.stats.model.ModelSpec.crit` on
        ``k - p`` df gives the intervals.

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
    model = ModelSpec(method, test, level)
    # Copies: the fit keeps its data, which a caller's later change must not reach.
    y, v = np.array(yi, dtype=float), np.array(vi, dtype=float)
    x = np.array(x, dtype=float).reshape(y.size, -1)
    k, p = x.shape
    if len(terms) != p:
        raise ValueError(f"{len(terms)} term names for {p} columns")
    if k <= p:
        raise ValueError(f"{k} studies cannot estimate {p} coefficients and tau^2")
    if np.linalg.matrix_rank(x) < p:
        raise ValueError("the model matrix is not of full rank")
    design = _Design(x, y[None, :], v[None, :])
    estimator = BATCH_ESTIMATORS.get(model.method) or SINGLE_ESTIMATORS[model.method]
    tau2 = float(np.atleast_1d(estimator(design))[0])
    fit = _fit_given_tau2(design, np.array([tau2]), terms, model.test)
    beta, vb, se, statistic = fit.beta[0], fit.vcov[0], fit.se[0], fit.statistic[0]
    qm, m = float(fit.qm[0]), len(_moderators(terms))
    crit = model.crit(k - p)
    if model.test == "z":
        pval = 2 * norm_sf(np.abs(statistic))
        qm_df2, qm_p = np.nan, float(chi2_sf(qm, m)) if m else np.nan
    else:
        pval = 2 * t_sf(np.abs(statistic), k - p)
        qm_df2, qm_p = float(k - p), float(f_sf(qm, m, k - p)) if m else np.nan
    w0, _, inv0, _, _ = design.solve(np.zeros(1))
    qe = max(0.0, _rss(design, 0.0))
    typical_v = (k - p) / float(np.trace(design.projection(w0, inv0)[0]))
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
        **_i2_h2(tau2, typical_v, qe, k - p, model.method),
        r2=_pseudo_r2(y, v, tau2, model.method, "intercept" in terms, qe, p),
        qe=qe,
        qe_df=k - p,
        qe_p=float(chi2_sf(qe, k - p)),
        qm=qm,
        qm_df=m,
        qm_df2=qm_df2,
        qm_p=qm_p,
        k=k,
        p=p,
        model=model,
        yi=y,
        vi=v,
        x=x,
    )


def _i2_h2(tau2: float, typical_v: float, qe: float, df: int, method: str) -> dict[str, float]:
    """I^2 and H^2 as metafor's ``rma.uni``: from tau^2, or from QE in a common-effect model."""
    if method in COMMON_EFFECT_METHODS:
        i2, h2 = i2_h2_from_q(qe, df)
        return {"i2": float(i2), "h2": float(h2)}
    return {"i2": float(100 * tau2 / (typical_v + tau2)), "h2": float(tau2 / typical_v + 1)}


def _moderators(terms: Sequence[str]) -> list[int]:
    """Columns tested by the omnibus test: every coefficient but the intercept."""
    return [i for i, t in enumerate(terms) if t != "intercept"]


def _pseudo_r2(y, v, tau2: float, method: str, intercept: bool, qe: float, p: int) -> float:
    r"""Pseudo-R^2 (percent) as metafor's default.

    .. math:: R^2 = \max\left(0, 100\,\frac{\hat\tau^2_{RE} - \hat\tau^2}{\hat\tau^2_{RE}}\right)

    with :math:`\hat\tau^2_{RE}` of the model without moderators. A common-effect model has
    no tau^2 to explain; metafor reports the adjusted R^2 of the weighted least-squares fit
    instead, :math:`1 - \frac{Q_E / (k-p)}{Q / (k-1)}` (``lm(yi ~ X, weights = 1/vi)``), with
    :math:`Q` the heterogeneity statistic without moderators. NaN without an intercept.
    """
    if not intercept:
        return float("nan")
    if method in COMMON_EFFECT_METHODS:
        q = cochran_q(y, v)
        if np.var(y) == 0 or q == 0:
            return 0.0
        return float(max(0.0, 100 * (1 - (qe / (y.size - p)) / (q / (y.size - 1)))))
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
    vcov : numpy.ndarray
        Covariance matrices of the coefficients (Knapp-Hartung scaled), ``(m, p, p)``.
    tau2, qm : numpy.ndarray
        Residual tau^2 and the omnibus statistic of the moderators (F for knha), shape ``(m,)``.
    """

    beta: FloatArray
    se: FloatArray
    statistic: FloatArray
    vcov: FloatArray
    tau2: FloatArray
    qm: FloatArray


class _Design:
    """The algebra of one model matrix ``x`` (k x p) against ``m`` rows of weights."""

    def __init__(self, x: FloatArray, y: FloatArray, v: FloatArray):
        self.x, self.y, self.v = x, y, v
        self.k, self.p = x.shape

    def rows(self, rows: np.ndarray) -> _Design:
        """The same design for a subset of the outcome vectors."""
        return _Design(self.x, self.y[rows], self.v[rows])

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
    """(RE)ML of the meta-regression by the shared safeguarded Fisher scoring."""
    return safeguarded_fisher_scoring(
        start=design.start(),
        fisher_step=lambda t: design.fisher_step(t, restricted),
        loglik=lambda t: design.loglik(t, restricted),
        loglik_rows=lambda t, rows: design.rows(rows).loglik(t, restricted),
    )


def _batch_dl(design: _Design) -> FloatArray:
    w, _, inv, _, e = design.solve(np.zeros(design.y.shape[0]))
    trace = np.trace(design.projection(w, inv), axis1=1, axis2=2)
    return np.maximum(0.0, (np.sum(w * e**2, axis=1) - (design.k - design.p)) / trace)


def _batch_hunter_schmidt(design: _Design, small_sample: bool) -> FloatArray:
    """HS of metafor, ``(RSS - k) / sum(wi)``, and HSk, ``(k / (k - p) RSS - k) / sum(wi)``."""
    w, _, _, _, e = design.solve(np.zeros(design.y.shape[0]))
    rss = np.sum(w * e**2, axis=1)
    if small_sample:
        rss = design.k / (design.k - design.p) * rss
    return np.maximum(0.0, (rss - design.k) / np.sum(w, axis=1))


BATCH_ESTIMATORS = {
    "REML": lambda d: _batch_scoring(d, restricted=True),
    "ML": lambda d: _batch_scoring(d, restricted=False),
    "DL": _batch_dl,
    # metafor's HE is the (RE)ML starting value: (RSS - tr(PV)) / (k - p) of OLS, at least 0.
    "HE": lambda d: d.start(),
    "HS": lambda d: _batch_hunter_schmidt(d, small_sample=False),
    "HSk": lambda d: _batch_hunter_schmidt(d, small_sample=True),
    # The common-effect model (EE, and FE by its older name): tau^2 is 0, not estimated.
    **dict.fromkeys(COMMON_EFFECT_METHODS, lambda d: np.zeros(d.y.shape[0])),
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
    return _fit_given_tau2(design, BATCH_ESTIMATORS[method](design), terms, test)


def _fit_given_tau2(
    design: _Design, tau2: FloatArray, terms: Sequence[str], test: TestMethod
) -> RegressionBatch:
    """Coefficients, their (Knapp-Hartung scaled) covariance and the omnibus test at tau^2."""
    w, _, inv, beta, e = design.solve(tau2)
    s2w = knapp_hartung_factor(np.sum(w * e**2, axis=1), design.k - design.p, test)
    vb = s2w[:, None, None] * inv
    se = np.sqrt(np.diagonal(vb, axis1=1, axis2=2))
    # Identical estimates under knha give SE 0: an infinite statistic, as in metafor.
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = beta / se
    moderators = _moderators(terms)
    if not moderators:
        return RegressionBatch(beta, se, statistic, vb, tau2, np.full(len(tau2), np.nan))
    sub = vb[:, moderators][:, :, moderators]
    b = beta[:, moderators]
    # A zero Knapp-Hartung factor leaves no covariance: metafor reports QM as NA.
    singular = s2w == 0
    sub = np.where(singular[:, None, None], np.eye(len(moderators)), sub)
    qm = np.einsum("mi,mi->m", b, np.linalg.solve(sub, b[:, :, None])[:, :, 0])
    qm = np.where(singular, np.nan, qm)
    if test != "z":
        qm = qm / len(moderators)
    return RegressionBatch(beta, se, statistic, vb, tau2, qm)
