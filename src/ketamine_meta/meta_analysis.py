"""Random-effects meta-analysis: tau^2 estimators, Hartung-Knapp inference, subgroups.

The estimators follow R's metafor ``rma.uni`` (Viechtbauer, 2010) step for step, and every
statistic returned here is compared with metafor in ``tests/test_metafor_parity.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats

Tau2Method = Literal["REML", "DL"]
TestMethod = Literal["knha", "z"]

#: Convergence threshold on the change in tau^2 between Fisher-scoring steps. metafor's
#: default is 1e-5; a tighter one makes the estimate reproducible to well below the 1e-6
#: parity tolerance regardless of the starting value.
REML_THRESHOLD = 1e-12
REML_MAX_ITER = 1000
#: Relative rounding noise tolerated in the restricted log-likelihood by the ascent check.
LIKELIHOOD_NOISE = 1e-10


@dataclass(frozen=True)
class RandomEffectsResult:
    """A fitted intercept-only random-effects model, in metafor's terms.

    Attributes
    ----------
    k : int
        Number of estimates pooled.
    estimate, se : float
        Pooled estimate and its standard error (Hartung-Knapp SE when ``test == "knha"``).
    se_wald : float
        Model-based standard error ``sqrt(1 / sum(w))``, used by the subgroup test.
    ci_low, ci_high, pi_low, pi_high : float
        Confidence and prediction interval at ``level``.
    statistic, pval : float
        Test of the pooled estimate against zero (t with ``k - 1`` df for knha, else z).
    tau2, i2, h2 : float
        Between-study variance, I^2 (percent) and H^2.
    q, q_df, q_p : float
        Cochran's Q, its degrees of freedom and p-value.
    weights : numpy.ndarray
        Random-effects weights ``1 / (v_i + tau^2)`` in input order.
    method, test : str
        The tau^2 estimator and the inference method.
    level : float
        Confidence level.
    """

    k: int
    estimate: float
    se: float
    se_wald: float
    ci_low: float
    ci_high: float
    pi_low: float
    pi_high: float
    statistic: float
    pval: float
    tau2: float
    i2: float
    h2: float
    q: float
    q_df: int
    q_p: float
    weights: NDArray[np.float64]
    method: str
    test: str
    level: float


def _as_arrays(yi: ArrayLike, vi: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    y = np.asarray(yi, dtype=float).ravel()
    v = np.asarray(vi, dtype=float).ravel()
    if y.shape != v.shape:
        raise ValueError(f"yi and vi differ in length: {y.size} and {v.size}")
    if y.size == 0:
        raise ValueError("at least one estimate is needed")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(v))):
        raise ValueError("yi and vi must be finite")
    if np.any(v <= 0):
        raise ValueError("every sampling variance vi must be positive")
    return y, v


def cochran_q(yi: ArrayLike, vi: ArrayLike) -> float:
    r"""Cochran's Q statistic for heterogeneity.

    .. math:: Q = \sum_i w_i (y_i - \hat\mu_{FE})^2, \quad w_i = 1/v_i

    References
    ----------
    Cochran, W. G. (1954). The combination of estimates from different experiments.
    *Biometrics*, 10(1), 101-129.
    """
    y, v = _as_arrays(yi, vi)
    w = 1 / v
    mu = np.sum(w * y) / np.sum(w)
    return float(np.sum(w * (y - mu) ** 2))


def tau2_dersimonian_laird(yi: ArrayLike, vi: ArrayLike) -> float:
    r"""DerSimonian-Laird method-of-moments estimate of tau^2.

    .. math:: \hat\tau^2 = \max\left(0, \frac{Q - (k-1)}{\sum w_i - \sum w_i^2/\sum w_i}\right)

    References
    ----------
    DerSimonian, R., & Laird, N. (1986). Meta-analysis in clinical trials. *Controlled Clinical
    Trials*, 7(3), 177-188, eq. 8.
    """
    y, v = _as_arrays(yi, vi)
    if y.size == 1:
        return 0.0
    w = 1 / v
    denom = np.sum(w) - np.sum(w**2) / np.sum(w)
    return float(max(0.0, (cochran_q(y, v) - (y.size - 1)) / denom))


def restricted_log_likelihood(yi: ArrayLike, vi: ArrayLike, tau2: float) -> float:
    r"""Restricted log-likelihood of the intercept-only random-effects model, up to a constant.

    .. math:: \ell_R(\tau^2) = -\tfrac12\Big[\sum\log(v_i+\tau^2) + \log\sum w_i
        + \sum w_i (y_i - \hat\mu)^2\Big], \quad w_i = 1/(v_i + \tau^2)

    References
    ----------
    Viechtbauer, W. (2005), eq. 11.
    """
    y, v = np.asarray(yi, dtype=float), np.asarray(vi, dtype=float)
    w = 1 / (v + tau2)
    mu = np.sum(w * y) / np.sum(w)
    return float(-0.5 * (np.sum(np.log(v + tau2)) + np.log(np.sum(w)) + np.sum(w * (y - mu) ** 2)))


def _reml_score(y: NDArray[np.float64], v: NDArray[np.float64], tau2: float) -> float:
    """The Fisher-scoring step: the REML score divided by the expected information."""
    w = 1 / (v + tau2)
    p = np.diag(w) - np.outer(w, w) / np.sum(w)
    py = p @ y
    return float((py @ py - np.trace(p)) / np.sum(p * p))


def tau2_reml(yi: ArrayLike, vi: ArrayLike) -> float:
    r"""Restricted maximum-likelihood estimate of tau^2 by Fisher scoring.

    Each step adds

    .. math:: \Delta = \frac{y^\top P P y - \operatorname{tr}(P)}{\operatorname{tr}(P P)},
        \quad P = W - \frac{w w^\top}{\sum w_i}, \quad W = \operatorname{diag}(1/(v_i+\tau^2))

    until the Fisher step falls below :data:`REML_THRESHOLD`, starting from the
    DerSimonian-Laird estimate; when the likelihood falls from tau^2 = 0 the estimate is 0.
    A step is halved while it would make tau^2 negative (as metafor does) or lower the
    restricted likelihood, and once when it reverses the previous step's direction. Plain
    Fisher scoring can overshoot into a two-cycle where the expected information is far from
    the observed one (metafor then stops with "did not converge"); damping reversals turns the
    cycle into a bisection. Neither safeguard moves the fixed point, the root of the score.

    References
    ----------
    Viechtbauer, W. (2005). Bias and efficiency of meta-analytic variance estimators in the
    random-effects model. *Journal of Educational and Behavioral Statistics*, 30(3), 261-293,
    eq. 12. metafor ``rma.uni(method = "REML")``.
    """
    y, v = _as_arrays(yi, vi)
    if y.size == 1 or _reml_score(y, v, 0.0) <= 0:
        # The likelihood falls from the boundary: the maximum is tau^2 = 0 exactly, where
        # iterating would stop at a platform-dependent residue of order the threshold.
        return 0.0
    tau2 = tau2_dersimonian_laird(y, v)
    current = restricted_log_likelihood(y, v, tau2)
    previous_step = 0.0
    for _ in range(REML_MAX_ITER):
        fisher_step = _reml_score(y, v, tau2)
        if abs(fisher_step) <= REML_THRESHOLD:
            return float(tau2)
        step = fisher_step / 2 if fisher_step * previous_step < 0 else fisher_step
        while tau2 + step < 0:
            step /= 2
        # Near the flat top, differences in the likelihood drown in rounding: the ascent
        # check only has to catch real overshoots, so it tolerates that noise.
        tolerance = LIKELIHOOD_NOISE * max(1.0, abs(current))
        for _ in range(60):
            candidate = restricted_log_likelihood(y, v, tau2 + step)
            if candidate >= current - tolerance:
                break
            step /= 2
        tau2 += step
        current, previous_step = candidate, step
    raise RuntimeError(f"REML did not converge in {REML_MAX_ITER} iterations")


TAU2_ESTIMATORS = {"REML": tau2_reml, "DL": tau2_dersimonian_laird}


def heterogeneity_i2_h2(vi: ArrayLike, tau2: float) -> tuple[float, float]:
    r"""I^2 (percent) and H^2 from tau^2 and the typical within-study variance.

    .. math::

        \tilde v = \frac{(k-1)\sum w_i}{(\sum w_i)^2 - \sum w_i^2}, \quad
        I^2 = 100\,\frac{\tau^2}{\tau^2 + \tilde v}, \quad H^2 = \frac{\tau^2 + \tilde v}{\tilde v}

    References
    ----------
    Higgins, J. P. T., & Thompson, S. G. (2002). Quantifying heterogeneity in a meta-analysis.
    *Statistics in Medicine*, 21(11), 1539-1558, eq. 9; metafor ``rma.uni``.
    """
    w = 1 / np.asarray(vi, dtype=float)
    k = w.size
    if k == 1:
        return 0.0, 1.0
    typical_v = (k - 1) * np.sum(w) / (np.sum(w) ** 2 - np.sum(w**2))
    return float(100 * tau2 / (tau2 + typical_v)), float((tau2 + typical_v) / typical_v)


def random_effects(
    yi: ArrayLike,
    vi: ArrayLike,
    method: Tau2Method = "REML",
    test: TestMethod = "knha",
    level: float = 0.95,
) -> RandomEffectsResult:
    r"""Fit the intercept-only random-effects model.

    .. math::

        \hat\mu = \frac{\sum w_i y_i}{\sum w_i}, \quad w_i = \frac{1}{v_i + \hat\tau^2}

    With ``test="knha"`` the standard error is the Hartung-Knapp one,

    .. math:: SE_{HK} = \sqrt{\frac{\sum w_i (y_i - \hat\mu)^2}{(k-1)\sum w_i}}

    and intervals and the test use the t distribution with ``k - 1`` df (metafor
    ``test = "knha"``, not truncated at the Wald SE). The prediction interval is
    :math:`\hat\mu \pm c \sqrt{SE^2 + \hat\tau^2}` with the same critical value ``c``
    (metafor ``predict.rma``). With a single estimate there is nothing to pool: as in metafor,
    tau^2 is 0, the test falls back to z, and both intervals are the estimate's Wald interval.

    Parameters
    ----------
    yi, vi : array_like
        Effect estimates and their sampling variances (``vi > 0``).
    method : {"REML", "DL"}
        Estimator of tau^2.
    test : {"knha", "z"}
        Hartung-Knapp-Sidik-Jonkman t-based inference, or Wald z.
    level : float
        Confidence level of the intervals.

    Returns
    -------
    RandomEffectsResult

    References
    ----------
    Hartung, J., & Knapp, G. (2001). A refined method for the meta-analysis of controlled
    clinical trials with binary outcome. *Statistics in Medicine*, 20(24), 3875-3889.
    Higgins, J. P. T., Thompson, S. G., & Spiegelhalter, D. J. (2009). A re-evaluation of
    random-effects meta-analysis. *JRSS A*, 172(1), 137-159, eq. 12 (prediction interval).
    """
    y, v = _as_arrays(yi, vi)
    if method not in TAU2_ESTIMATORS:
        raise ValueError(f"unknown tau^2 method {method!r}; choose from {sorted(TAU2_ESTIMATORS)}")
    if test not in ("knha", "z"):
        raise ValueError(f"unknown test {test!r}; choose 'knha' or 'z'")
    k = y.size
    tau2 = TAU2_ESTIMATORS[method](y, v)
    w = 1 / (v + tau2)
    mu = float(np.sum(w * y) / np.sum(w))
    se_wald = float(np.sqrt(1 / np.sum(w)))
    alpha = 1 - level
    if test == "knha" and k > 1:
        se = float(np.sqrt(np.sum(w * (y - mu) ** 2) / ((k - 1) * np.sum(w))))
        reference = stats.t(k - 1)
    else:
        se = se_wald
        reference = stats.norm()
    crit = float(reference.ppf(1 - alpha / 2))
    # Identical estimates give a Hartung-Knapp SE of 0; metafor then reports an infinite or
    # undefined statistic rather than failing, and so do we.
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = np.float64(mu) / se
    pval = float(2 * reference.sf(abs(statistic)))
    pi_half = crit * np.sqrt(se**2 + tau2)
    q = cochran_q(y, v)
    i2, h2 = heterogeneity_i2_h2(v, tau2)
    return RandomEffectsResult(
        k=k,
        estimate=mu,
        se=se,
        se_wald=se_wald,
        ci_low=mu - crit * se,
        ci_high=mu + crit * se,
        pi_low=mu - pi_half,
        pi_high=mu + pi_half,
        statistic=float(statistic),
        pval=pval,
        tau2=tau2,
        i2=i2,
        h2=h2,
        q=q,
        q_df=k - 1,
        # metafor reports Q = 0 with p = 1 for a single estimate.
        q_p=float(stats.chi2.sf(q, k - 1)) if k > 1 else 1.0,
        weights=w,
        method=method,
        test=test if k > 1 else "z",
        level=level,
    )


@dataclass(frozen=True)
class SubgroupDifferenceTest:
    """Test for differences between subgroup estimates (separate tau^2 per subgroup).

    Attributes
    ----------
    q : float
        Between-subgroup Q statistic.
    df : int
        Degrees of freedom (number of subgroups minus one).
    pval : float
        Chi-square p-value.
    """

    q: float
    df: int
    pval: float


def subgroup_difference_test(fits: dict[str, RandomEffectsResult]) -> SubgroupDifferenceTest:
    r"""Q test for subgroup differences from separately fitted random-effects models.

    .. math::

        Q_B = \sum_g \frac{(\hat\mu_g - \bar\mu)^2}{SE_g^2}, \quad
        \bar\mu = \frac{\sum_g \hat\mu_g / SE_g^2}{\sum_g 1/SE_g^2}, \quad Q_B \sim \chi^2_{G-1}

    with :math:`SE_g` the model-based (Wald) standard error of subgroup ``g``. This is the
    fixed-effect meta-analysis of the subgroup estimates, metafor
    ``rma(estimates, sei = ses, method = "FE")$QE``.

    References
    ----------
    Borenstein, M., et al. (2009). *Introduction to meta-analysis*, ch. 19 (separate estimates
    of tau^2), eqs. 19.10-19.12.
    """
    est = np.array([f.estimate for f in fits.values()])
    se = np.array([f.se_wald for f in fits.values()])
    q = cochran_q(est, se**2)
    df = len(fits) - 1
    # As metafor does for a single estimate, one subgroup gives Q = 0 with p = 1.
    return SubgroupDifferenceTest(q=q, df=df, pval=float(stats.chi2.sf(q, df)) if df else 1.0)


#: Label of the between-subgroup test row in pooled tables.
SUBGROUP_TEST_LABEL = "test for subgroup differences"
OVERALL_LABEL = "overall"


def pool_by_subgroup(
    effects: pd.DataFrame,
    by: str,
    analysis: str,
    method: Tau2Method = "REML",
    test: TestMethod = "knha",
    level: float = 0.95,
    yi: str = "yi",
    vi: str = "vi",
    n: str | None = "n_total",
) -> tuple[pd.DataFrame, dict[str, RandomEffectsResult], RandomEffectsResult]:
    """Pool ``effects`` within each level of ``by`` and overall, and test subgroup differences.

    Parameters
    ----------
    effects : pandas.DataFrame
        One row per comparison with columns ``yi``, ``vi``, ``by`` and, optionally, ``n``.
    by : str
        Column holding the subgroup (e.g. ``route``).
    analysis : str
        Name written in the ``analysis`` column of the table.
    method, test, level
        Passed to :func:`random_effects`.
    yi, vi, n : str
        Column names of the estimates, variances and participant counts.

    Returns
    -------
    table : pandas.DataFrame
        Columns ``analysis, subgroup, k, n, estimate, se, ci_low, ci_high, pi_low, pi_high,
        tau2, i2, q, q_df, q_p, pval, method, test``: a row per subgroup (sorted), one
        ``overall`` and one for the test for subgroup differences.
    subgroup_fits : dict
        The fitted model of each subgroup.
    overall : RandomEffectsResult
        The model fitted to all rows.
    """
    fits = {
        str(name): random_effects(group[yi], group[vi], method, test, level)
        for name, group in effects.groupby(by, sort=True)
    }
    overall = random_effects(effects[yi], effects[vi], method, test, level)
    counts = effects.groupby(by, sort=True)[n].sum() if n else None
    rows = [
        _result_row(analysis, name, fit, counts.loc[name] if counts is not None else np.nan)
        for name, fit in fits.items()
    ]
    rows.append(_result_row(analysis, OVERALL_LABEL, overall, effects[n].sum() if n else np.nan))
    between = subgroup_difference_test(fits)
    rows.append(
        {
            "analysis": analysis,
            "subgroup": SUBGROUP_TEST_LABEL,
            "k": len(fits),
            "q": between.q,
            "q_df": between.df,
            "q_p": between.pval,
            "method": method,
            "test": "chi2",
        }
    )
    return pd.DataFrame(rows, columns=POOLED_COLUMNS), fits, overall


POOLED_COLUMNS = [
    "analysis",
    "subgroup",
    "k",
    "n",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "pi_low",
    "pi_high",
    "tau2",
    "i2",
    "q",
    "q_p",
    "method",
    "test",
    "q_df",
    "pval",
]


def _result_row(analysis: str, subgroup: str, fit: RandomEffectsResult, n: float) -> dict:
    return {
        "analysis": analysis,
        "subgroup": subgroup,
        "k": fit.k,
        "n": n,
        "estimate": fit.estimate,
        "se": fit.se,
        "ci_low": fit.ci_low,
        "ci_high": fit.ci_high,
        "pi_low": fit.pi_low,
        "pi_high": fit.pi_high,
        "tau2": fit.tau2,
        "i2": fit.i2,
        "q": fit.q,
        "q_df": fit.q_df,
        "q_p": fit.q_p,
        "pval": fit.pval,
        "method": fit.method,
        "test": fit.test,
    }
