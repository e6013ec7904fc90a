"""Random-effects meta-analysis: pooled estimates, Hartung-Knapp inference, subgroups.

The model follows R's metafor ``rma.uni`` (Viechtbauer, 2010) step for step; the tau^2
estimators live in :mod:`ketamine_meta.stats.tau2`. Every statistic returned here is compared with
metafor in ``tests/test_metafor_parity.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from ketamine_meta.stats.distributions import chi2_sf, norm_sf, t_sf
from ketamine_meta.stats.model import ModelSpec, TestMethod
from ketamine_meta.stats.tau2 import (
    COMMON_EFFECT_METHODS,
    Batch,
    Tau2Method,
    estimate_tau2,
    q_profile_interval,
)

#: Residual sums of squares at or below this are treated as 0 by the Hartung-Knapp scale
#: factor (metafor: ``.Machine$double.eps``).
MACHINE_EPS = float(np.finfo(float).eps)


@dataclass(frozen=True)
class RandomEffectsResult:
    """A fitted intercept-only random-effects model, in metafor's terms.

    Like metafor's ``rma.uni`` object it keeps its data and its specification, so that
    post-estimation steps (:mod:`ketamine_meta.stats.sensitivity`,
    :mod:`ketamine_meta.stats.permutation`, :mod:`ketamine_meta.stats.publication_bias`) refit
    with the same model without being told it again.

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
    test : str
        The inference used: ``model.test``, or ``"z"`` for a single estimate (as metafor).
    model : ModelSpec
        The specification fitted: tau^2 estimator, test and confidence level (metafor
        ``x$method``, ``x$test``, ``x$level``).
    yi, vi : numpy.ndarray
        The estimates and sampling variances fitted, in input order (metafor ``x$yi``,
        ``x$vi``).
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
    test: str
    model: ModelSpec
    yi: NDArray[np.float64]
    vi: NDArray[np.float64]


@dataclass(frozen=True)
class BatchFit:
    """Random-effects fits of ``m`` meta-analyses; every array attribute has length ``m``.

    Attributes are those of :class:`RandomEffectsResult` but the data; ``weights`` has shape
    ``(m, k)`` with 0 in absent cells, ``test`` is per meta-analysis (``"z"`` where
    ``k == 1``), and ``model`` is the one specification of the whole batch.
    """

    k: NDArray[np.int64]
    estimate: NDArray[np.float64]
    se: NDArray[np.float64]
    se_wald: NDArray[np.float64]
    ci_low: NDArray[np.float64]
    ci_high: NDArray[np.float64]
    pi_low: NDArray[np.float64]
    pi_high: NDArray[np.float64]
    statistic: NDArray[np.float64]
    pval: NDArray[np.float64]
    tau2: NDArray[np.float64]
    i2: NDArray[np.float64]
    h2: NDArray[np.float64]
    q: NDArray[np.float64]
    q_df: NDArray[np.int64]
    q_p: NDArray[np.float64]
    weights: NDArray[np.float64]
    test: NDArray[np.str_]
    model: ModelSpec


#: Cells (meta-analyses x studies) of one block of :func:`fit_batch`: the meta-analyses are
#: independent, so larger batches are fitted in blocks of rows, which bounds the memory of the
#: temporaries (2**21 cells: 16 MB an array) and changes no bit of any result.
BATCH_BLOCK_CELLS = 1 << 21


def _fit_in_blocks(batch: Batch, model: ModelSpec, tau2: ArrayLike | None) -> BatchFit:
    """:func:`fit_batch` of ``batch``, a block of rows at a time, the fits joined in order."""
    rows, width = batch.y.shape
    step = max(1, BATCH_BLOCK_CELLS // width)
    fits = [
        fit_batch(
            batch.y[start : start + step],
            batch.v[start : start + step],
            **model.arguments,
            mask=batch.mask[start : start + step],
            tau2=None if tau2 is None else np.asarray(tau2, dtype=float)[start : start + step],
        )
        for start in range(0, rows, step)
    ]
    joined = {
        f.name: np.concatenate([getattr(fit, f.name) for fit in fits])
        for f in fields(BatchFit)
        if f.name != "model"
    }
    return BatchFit(**joined, model=model)


def fit_batch(
    yi: ArrayLike,
    vi: ArrayLike,
    method: Tau2Method = "REML",
    test: TestMethod = "knha",
    level: float = 0.95,
    mask: ArrayLike | None = None,
    tau2: ArrayLike | None = None,
) -> BatchFit:
    r"""Fit the intercept-only random-effects model to many meta-analyses at once.

    ``yi`` and ``vi`` have shape ``(m, k)`` (a 1-D input is one meta-analysis); cells that are
    NaN, or False in ``mask``, are absent, so meta-analyses of different sizes share one
    array. Every step is vectorized over the ``m`` meta-analyses: this is the path that
    leave-one-out, cumulative and permutation analyses and the benchmark use.

    .. math::

        \hat\mu = \frac{\sum w_i y_i}{\sum w_i}, \quad w_i = \frac{1}{v_i + \hat\tau^2},
        \quad SE_{Wald} = \Big(\sum w_i\Big)^{-1/2}

    With ``test="knha"`` the variance is scaled by
    :math:`s^2 = \sum w_i (y_i - \hat\mu)^2 / (k-1)` and intervals use the t distribution with
    ``k - 1`` df; ``"adhoc"`` truncates that factor at 1 (Knapp & Hartung's ad hoc
    improvement, never narrower than the Wald interval). The prediction interval is
    :math:`\hat\mu \pm c \sqrt{SE^2 + \hat\tau^2}` with the same critical value ``c``
    (metafor ``predict.rma``). With a single estimate there is nothing to pool: as in metafor,
    tau^2 is 0, the test falls back to z, and both intervals are the estimate's Wald interval.
    The critical value ``c`` is :meth:`ModelSpec.crit <ketamine_meta.stats.model.ModelSpec.crit>`
    on ``k - 1`` df.

    Parameters
    ----------
    yi, vi : array_like
        Estimates and sampling variances, shape ``(m, k)`` or ``(k,)``.
    method : {"REML", "DL", "PM", "ML", "SJ", "EB"}
        Estimator of tau^2 (see :mod:`ketamine_meta.stats.tau2`).
    test : {"knha", "adhoc", "z"}
        Inference for the pooled estimate.
    level : float
        Confidence level of the intervals: a fraction, or a percentage (95) as metafor reads
        it. ``method``, ``test`` and ``level`` are validated as one
        :class:`~ketamine_meta.stats.model.ModelSpec`, which the fit carries.
    mask : array_like of bool, optional
        Which cells hold a study (default: where ``yi`` and ``vi`` are finite).
    tau2 : array_like, optional
        tau^2 of each meta-analysis as ``method`` estimated it on these same arrays (the
        ``tau2`` of an earlier fit), so that fitting one batch with several tests estimates
        it once. Not a way to fix tau^2 at another value: ``method`` is reported with it.

    Returns
    -------
    BatchFit

    References
    ----------
    Hartung, J., & Knapp, G. (2001). A refined method for the meta-analysis of controlled
    clinical trials with binary outcome. *Statistics in Medicine*, 20(24), 3875-3889.
    Knapp, G., & Hartung, J. (2003). Improved tests for a random effects meta-regression with
    a single covariate. *Statistics in Medicine*, 22(17), 2693-2710 (ad hoc truncation).
    Higgins, J. P. T., Thompson, S. G., & Spiegelhalter, D. J. (2009). A re-evaluation of
    random-effects meta-analysis. *JRSS A*, 172(1), 137-159, eq. 12 (prediction interval).
    Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package. *Journal
    of Statistical Software*, 36(3).
    """
    model = ModelSpec(method, test, level)
    batch = Batch.from_arrays(yi, vi, mask)
    rows, width = batch.y.shape
    if rows > 1 and rows * width > BATCH_BLOCK_CELLS:
        return _fit_in_blocks(batch, model, tau2)
    if tau2 is None:
        tau2 = estimate_tau2(batch, model.method)
    else:
        tau2 = np.asarray(tau2, dtype=float)
        if tau2.shape != batch.k.shape:
            raise ValueError(f"tau2 has shape {tau2.shape}; the batch has {batch.k.shape}")
    k = batch.k
    w = batch.weights(tau2)
    mu = batch.weighted_mean(w)
    sw = np.sum(w, axis=1)
    se_wald = np.sqrt(1 / sw)
    pooled = k > 1
    scaled = pooled & (model.test != "z")
    rss = np.sum(w * batch.residuals(w) ** 2, axis=1)
    s2w = np.where(scaled, knapp_hartung_factor(rss, np.maximum(k - 1, 1), model.test), 1.0)
    se = np.sqrt(s2w) * se_wald
    df = np.where(scaled, k - 1, np.inf)
    crit = model.crit(df)
    # Identical estimates give a Hartung-Knapp SE of 0; metafor then reports an infinite or
    # undefined statistic rather than failing, and so do we.
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = mu / se
    pval = np.where(
        scaled,
        2 * t_sf(np.abs(statistic), np.maximum(df, 1)),
        2 * norm_sf(np.abs(statistic)),
    )
    pi_half = crit * np.sqrt(se**2 + tau2)
    q = batch.generalized_q(np.zeros_like(tau2))
    i2, h2 = (
        i2_h2_from_q(q, k - 1) if model.method in COMMON_EFFECT_METHODS else _i2_h2(batch, tau2)
    )
    return BatchFit(
        k=k.astype(np.int64),
        estimate=mu,
        se=se,
        se_wald=se_wald,
        ci_low=mu - crit * se,
        ci_high=mu + crit * se,
        pi_low=mu - pi_half,
        pi_high=mu + pi_half,
        statistic=statistic,
        pval=pval,
        tau2=tau2,
        i2=i2,
        h2=h2,
        q=q,
        q_df=(k - 1).astype(np.int64),
        # metafor reports Q = 0 with p = 1 for a single estimate.
        q_p=np.where(pooled, chi2_sf(q, np.maximum(k - 1, 1)), 1.0),
        weights=w,
        test=np.where(scaled, model.test, "z"),
        model=model,
    )


def knapp_hartung_factor(rss: ArrayLike, df: ArrayLike, test: str) -> NDArray[np.float64]:
    r"""Scale factor of the model-based variance: :math:`s^2 = RSS / df` for knha.

    ``RSS`` is the weighted residual sum of squares :math:`\sum w_i e_i^2` at the estimated
    tau^2 and ``df`` is ``k - p``. An RSS at rounding level gives 0 (metafor: below
    ``.Machine$double.eps``); ``"adhoc"`` truncates the factor at 1 from below, and ``"z"``
    uses no factor (1).

    References
    ----------
    Knapp, G., & Hartung, J. (2003), eq. 6 (and the ad hoc improvement of section 3).
    """
    rss, df = np.asarray(rss, dtype=float), np.asarray(df, dtype=float)
    if test == "z":
        return np.ones(np.broadcast(rss, df).shape)
    s2w = np.where(rss <= MACHINE_EPS, 0.0, rss / df)
    return np.maximum(1.0, s2w) if test == "adhoc" else s2w


def _i2_h2(batch: Batch, tau2: NDArray[np.float64]) -> tuple[NDArray, NDArray]:
    r"""I^2 (percent) and H^2 from tau^2 and the typical within-study variance.

    .. math::

        \tilde v = \frac{(k-1)\sum w_i}{(\sum w_i)^2 - \sum w_i^2}, \quad
        I^2 = 100\,\frac{\tau^2}{\tau^2 + \tilde v}, \quad
        H^2 = \frac{\tau^2 + \tilde v}{\tilde v}

    with :math:`w_i = 1/v_i`; I^2 = 0 and H^2 = 1 for a single study (metafor).

    References
    ----------
    Higgins, J. P. T., & Thompson, S. G. (2002). Quantifying heterogeneity in a meta-analysis.
    *Statistics in Medicine*, 21(11), 1539-1558, eq. 9; metafor ``rma.uni``.
    """
    k = batch.k
    typical_v = _typical_within_variance(batch)
    with np.errstate(invalid="ignore", divide="ignore"):
        i2 = np.where(k > 1, 100 * tau2 / (tau2 + typical_v), 0.0)
        h2 = np.where(k > 1, (tau2 + typical_v) / typical_v, 1.0)
    return i2, h2


def i2_h2_from_q(q: ArrayLike, df: ArrayLike) -> tuple[NDArray, NDArray]:
    r"""I^2 (percent) and H^2 of a common-effect model, from Cochran's Q on ``df`` df.

    .. math:: I^2 = \max\left(0, 100\,\frac{Q - df}{Q}\right), \quad H^2 = \frac{Q}{df}

    with ``df = k - p`` (metafor ``rma.uni`` with ``method = "EE"``, with or without
    moderators); 0 and 1 where ``df`` is 0 (a single study).

    References
    ----------
    Higgins, J. P. T., & Thompson, S. G. (2002), eqs. 6 and 8.
    """
    q, df = np.asarray(q, dtype=float), np.asarray(df, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        i2 = np.where(df > 0, np.maximum(0.0, 100 * (q - df) / q), 0.0)
        h2 = np.where(df > 0, q / np.maximum(df, 1), 1.0)
    return np.where(np.isnan(i2), 0.0, i2), h2


def percent_weights(vi: ArrayLike, tau2: float) -> NDArray[np.float64]:
    r"""Study weights in percent, :math:`100\, w_i / \sum w_j` with :math:`w_i = 1/(v_i + \tau^2)`.

    metafor ``weights(res)`` of an inverse-variance fit (``tau2`` 0 for a common-effect model,
    the residual tau^2 of a meta-regression).
    """
    w = 1 / (np.asarray(vi, dtype=float) + tau2)
    return 100 * w / w.sum()


def _typical_within_variance(batch: Batch) -> NDArray[np.float64]:
    r"""Typical within-study variance :math:`\tilde v` of Higgins & Thompson (2002), eq. 9."""
    w = batch.weights(np.zeros(batch.y.shape[0]))
    sw, sw2 = np.sum(w, axis=1), np.sum(w**2, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (batch.k - 1) * sw / (sw**2 - sw2)


def cochran_q(yi: ArrayLike, vi: ArrayLike) -> float:
    r"""Cochran's Q statistic for heterogeneity.

    .. math:: Q = \sum_i w_i (y_i - \hat\mu_{FE})^2, \quad w_i = 1/v_i

    References
    ----------
    Cochran, W. G. (1954). The combination of estimates from different experiments.
    *Biometrics*, 10(1), 101-129.
    """
    return float(Batch.from_arrays(yi, vi).generalized_q(np.zeros(1))[0])


def tau2_estimate(yi: ArrayLike, vi: ArrayLike, method: Tau2Method = "REML") -> float:
    """tau^2 of one meta-analysis by ``method`` (see :mod:`ketamine_meta.stats.tau2`)."""
    return float(estimate_tau2(Batch.from_arrays(yi, vi), method)[0])


def tau2_confidence_interval(fit: RandomEffectsResult) -> dict[str, float]:
    """Q-profile confidence interval for tau^2 of ``fit``, and the implied ones for tau, I^2, H^2.

    At the fit's level, as metafor ``confint.rma.uni`` reads ``x$level``. Returns a dict with
    ``tau2`` (the fit's, by its estimator), ``tau2_low``, ``tau2_high``, ``tau``, ``tau_low``,
    ``tau_high``, ``i2``, ``i2_low``, ``i2_high``, ``h2``, ``h2_low``, ``h2_high``; the I^2
    and H^2 bounds map the tau^2 bounds through the typical within-study variance, as
    metafor ``confint.rma.uni`` does.

    References
    ----------
    Viechtbauer, W. (2007). *Statistics in Medicine*, 26(1), 37-52.
    """
    batch = Batch.from_arrays(fit.yi, fit.vi)
    low, high = q_profile_interval(batch, fit.model.level)
    out = {}
    for name, value in (("", np.array([fit.tau2])), ("_low", low), ("_high", high)):
        i2, h2 = _i2_h2(batch, value)
        out[f"tau2{name}"] = float(value[0])
        out[f"tau{name}"] = float(np.sqrt(value[0]))
        out[f"i2{name}"] = float(i2[0])
        out[f"h2{name}"] = float(h2[0])
    return out


def random_effects(
    yi: ArrayLike,
    vi: ArrayLike,
    method: Tau2Method = "REML",
    test: TestMethod = "knha",
    level: float = 0.95,
) -> RandomEffectsResult:
    """Fit the intercept-only random-effects model to one meta-analysis.

    The one-row case of :func:`fit_batch`, whose docstring gives the formulas.

    Parameters
    ----------
    yi, vi : array_like
        Effect estimates and their sampling variances (``vi > 0``; a study with
        ``vi = inf`` carries no information and is left out).
    method : {"REML", "DL", "PM", "ML", "SJ", "EB"}
        Estimator of tau^2.
    test : {"knha", "adhoc", "z"}
        Hartung-Knapp(-Sidik-Jonkman) t-based inference, its ad hoc truncated version, or
        Wald z.
    level : float
        Confidence level of the intervals (a fraction, or a percentage as metafor reads it).

    Returns
    -------
    RandomEffectsResult
        The fit, carrying ``yi``, ``vi`` and its :class:`~ketamine_meta.stats.model.ModelSpec`.
    """
    # Copies: the fit keeps its data, which a caller's later change must not reach.
    y = np.array(yi, dtype=float).ravel()
    v = np.array(vi, dtype=float).ravel()
    if y.shape != v.shape:
        raise ValueError(f"yi and vi differ in length: {y.size} and {v.size}")
    if y.size == 0:
        raise ValueError("at least one estimate is needed")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(v) | np.isposinf(v))):
        raise ValueError("yi must be finite, and vi finite or +inf")
    fit = fit_batch(y, v, method, test, level, mask=np.ones(y.size, dtype=bool))
    return RandomEffectsResult(
        k=int(fit.k[0]),
        estimate=float(fit.estimate[0]),
        se=float(fit.se[0]),
        se_wald=float(fit.se_wald[0]),
        ci_low=float(fit.ci_low[0]),
        ci_high=float(fit.ci_high[0]),
        pi_low=float(fit.pi_low[0]),
        pi_high=float(fit.pi_high[0]),
        statistic=float(fit.statistic[0]),
        pval=float(fit.pval[0]),
        tau2=float(fit.tau2[0]),
        i2=float(fit.i2[0]),
        h2=float(fit.h2[0]),
        q=float(fit.q[0]),
        q_df=int(fit.q_df[0]),
        q_p=float(fit.q_p[0]),
        weights=fit.weights[0],
        test=str(fit.test[0]),
        model=fit.model,
        yi=y,
        vi=v,
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
    return SubgroupDifferenceTest(q=q, df=df, pval=float(chi2_sf(q, df)) if df else 1.0)


#: Label of the between-subgroup test row in pooled tables.
SUBGROUP_TEST_LABEL = "test for subgroup differences"
OVERALL_LABEL = "overall"


@dataclass(frozen=True)
class ClusterMeans:
    """Estimates combined within clusters (trials): one inverse-variance mean per cluster.

    Attributes
    ----------
    cluster : numpy.ndarray
        The cluster labels, in order of first appearance (as metafor's ``aggregate``).
    yi, vi : numpy.ndarray
        Each cluster's inverse-variance weighted mean and its variance.
    size : numpy.ndarray
        How many estimates each cluster combines.
    """

    cluster: NDArray
    yi: NDArray[np.float64]
    vi: NDArray[np.float64]
    size: NDArray[np.int64]


def combine_within_clusters(yi: ArrayLike, vi: ArrayLike, cluster: ArrayLike) -> ClusterMeans:
    r"""Combine the estimates of each cluster into one, by their inverse-variance mean.

    .. math::

        \bar y_c = \frac{\sum_{i \in c} y_i / v_i}{\sum_{i \in c} 1 / v_i}, \qquad
        \bar v_c = \Big(\sum_{i \in c} 1 / v_i\Big)^{-1}

    This is metafor's ``aggregate(escalc, cluster, struct = "ID")``: the estimates of a
    cluster are treated as independent. It is how the comparisons of one trial enter a pooled
    estimate once (PROTOCOL.md §11): their shared arm has been split between them, and for a
    mean difference with a control split equally between two arms the combined variance is
    that of the comparison of the merged arms (Handbook 6.5.2.10).

    References
    ----------
    Borenstein, M., Hedges, L. V., Higgins, J. P. T., & Rothstein, H. R. (2009).
    *Introduction to meta-analysis*, ch. 25 (multiple comparisons within a study). Higgins,
    J. P. T., et al. (eds.) *Cochrane Handbook for Systematic Reviews of Interventions*,
    section 23.3.4.
    """
    y, v = np.asarray(yi, dtype=float), np.asarray(vi, dtype=float)
    frame = pd.DataFrame({"cluster": np.asarray(cluster), "y": y, "v": v, "w": 1 / v, "wy": y / v})
    sums = frame.groupby("cluster", sort=False).agg(
        y=("y", "first"), v=("v", "first"), w=("w", "sum"), wy=("wy", "sum"), size=("w", "size")
    )
    size = sums["size"].to_numpy(dtype=np.int64)
    # A cluster of one keeps its estimate bit for bit (the quotient could round it).
    single = size == 1
    return ClusterMeans(
        cluster=sums.index.to_numpy(),
        yi=np.where(single, sums["y"], sums["wy"] / sums["w"]),
        vi=np.where(single, sums["v"], 1 / sums["w"]),
        size=size,
    )


def dependence_note(cluster: ArrayLike, size: ArrayLike) -> str:
    """Which clusters (trials) combine several estimates, and how: "" where each has one."""
    return "; ".join(
        f"{c}: {n} comparisons combined within the trial (inverse variance)"
        for c, n in zip(cluster, size, strict=True)
        if n > 1
    )


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
    cluster: str | None = None,
) -> tuple[pd.DataFrame, dict[str, RandomEffectsResult], RandomEffectsResult]:
    """Pool ``effects`` within each level of ``by`` and overall, and test subgroup differences.

    Parameters
    ----------
    effects : pandas.DataFrame
        One row per comparison with columns ``yi``, ``vi``, ``by`` and, optionally, ``n`` and
        ``cluster``.
    by : str
        Column holding the subgroup (e.g. ``route``).
    analysis : str
        Name written in the ``analysis`` column of the table.
    method, test, level
        Passed to :func:`random_effects`.
    yi, vi, n : str
        Column names of the estimates, variances and participant counts.
    cluster : str, optional
        Column naming the trial of each row. Rows of one trial in one pooled estimate are then
        combined within the trial (:func:`combine_within_clusters`) before the model is fitted,
        so that the model, its heterogeneity and its degrees of freedom count trials. Without
        it every row is its own trial.

    Returns
    -------
    table : pandas.DataFrame
        Columns :data:`POOLED_COLUMNS`: a row per subgroup (sorted), one ``overall`` and one
        for the test for subgroup differences. ``k`` counts rows (comparisons), ``trials``
        the estimates the model pooled, and ``dependence`` names the trials whose
        comparisons were combined.
    subgroup_fits : dict
        The fitted model of each subgroup.
    overall : RandomEffectsResult
        The model fitted to all rows.
    """

    def pooled(rows: pd.DataFrame) -> tuple[RandomEffectsResult, dict]:
        labels = rows[cluster] if cluster else np.arange(len(rows))
        means = combine_within_clusters(rows[yi], rows[vi], labels)
        fit = random_effects(means.yi, means.vi, method, test, level)
        counts = {
            "k": len(rows),
            "dependence": dependence_note(means.cluster, means.size),
            "n": rows[n].sum() if n else np.nan,
        }
        return fit, counts

    groups = {str(name): pooled(group) for name, group in effects.groupby(by, sort=True)}
    overall, overall_counts = pooled(effects)
    rows = [_result_row(analysis, name, fit, counts) for name, (fit, counts) in groups.items()]
    rows.append(_result_row(analysis, OVERALL_LABEL, overall, overall_counts))
    fits = {name: fit for name, (fit, _) in groups.items()}
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
    "trials",
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
    "dependence",
]


def _result_row(analysis: str, subgroup: str, fit: RandomEffectsResult, counts: dict) -> dict:
    return {
        "analysis": analysis,
        "subgroup": subgroup,
        **counts,
        "trials": fit.k,
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
        "method": fit.model.method,
        "test": fit.test,
    }
