"""Small-study effects and publication bias.

Funnel data, Egger's regression test, the rank correlation test and trim-and-fill.

Each function follows its metafor counterpart (``funnel``, ``regtest``, ``ranktest``,
``trimfill``) and is compared with it in ``tests/test_metafor_parity.py``. Egger's test and
trim-and-fill take a fitted model and refit its data with its specification, as ``regtest(x)``
and ``trimfill(x)`` read them from ``x``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from ketamine_meta.stats.meta_analysis import RandomEffectsResult, random_effects
from ketamine_meta.stats.meta_regression import meta_regression
from ketamine_meta.stats.model import critical_value


def funnel_data(yi: ArrayLike, vi: ArrayLike, estimate: float, level: float = 0.95) -> pd.DataFrame:
    """Points of a funnel plot and its pseudo-confidence region around ``estimate``.

    Returns
    -------
    pandas.DataFrame
        ``yi, sei`` per study and ``funnel_low, funnel_high``: ``estimate -/+ z sei``.

    References
    ----------
    Sterne, J. A. C., & Egger, M. (2001). Funnel plots for detecting bias in meta-analysis.
    *Journal of Clinical Epidemiology*, 54(10), 1046-1055.
    """
    y = np.asarray(yi, dtype=float)
    sei = np.sqrt(np.asarray(vi, dtype=float))
    z = critical_value(level)
    return pd.DataFrame(
        {"yi": y, "sei": sei, "funnel_low": estimate - z * sei, "funnel_high": estimate + z * sei}
    )


@dataclass(frozen=True)
class EggerTest:
    """Egger's regression test: the slope on the standard error and the limit estimate.

    Attributes
    ----------
    statistic, pval : float
        Test of the coefficient of ``sei`` (t on ``df`` degrees of freedom for knha, else z).
    df : float
        Degrees of freedom (NaN for z).
    limit_estimate, limit_ci_low, limit_ci_high : float
        The intercept: the estimate as the standard error goes to 0.
    """

    statistic: float
    pval: float
    df: float
    limit_estimate: float
    limit_ci_low: float
    limit_ci_high: float


def egger_test(fit: RandomEffectsResult) -> EggerTest:
    r"""Egger's regression test in its mixed-effects form (metafor ``regtest``).

    Fits :math:`y_i = \beta_0 + \beta_1 \sqrt{v_i} + u_i + \varepsilon_i` to the data of ``fit``
    with its model (tau^2 estimator, test, level) and tests :math:`\beta_1 = 0`.

    References
    ----------
    Egger, M., Davey Smith, G., Schneider, M., & Minder, C. (1997). Bias in meta-analysis
    detected by a simple, graphical test. *BMJ*, 315(7109), 629-634. Sterne, J. A. C., &
    Egger, M. (2005). Regression methods to detect publication and other bias in
    meta-analysis. In *Publication bias in meta-analysis* (pp. 99-110).
    """
    x = np.column_stack([np.ones(fit.yi.size), np.sqrt(fit.vi)])
    regression = meta_regression(fit.yi, fit.vi, x, ["intercept", "sei"], **fit.model.arguments)
    slope = regression.coefficients.iloc[1]
    intercept = regression.coefficients.iloc[0]
    return EggerTest(
        statistic=float(slope["statistic"]),
        pval=float(slope["pval"]),
        df=float(regression.k - regression.p) if fit.model.test != "z" else float("nan"),
        limit_estimate=float(intercept["estimate"]),
        limit_ci_low=float(intercept["ci_low"]),
        limit_ci_high=float(intercept["ci_high"]),
    )


def rank_correlation_test(yi: ArrayLike, vi: ArrayLike) -> tuple[float, float]:
    r"""Begg and Mazumdar's rank correlation test (metafor ``ranktest``).

    Kendall's tau between the standardized deviates
    :math:`y_i^* = (y_i - \hat\mu_{FE}) / \sqrt{v_i - 1/\sum w_j}` and the variances
    :math:`v_i`; the p-value is exact when there are no ties and fewer than 50 studies (R's
    ``cor.test(method = "kendall")``), else from the normal approximation.

    Returns
    -------
    tau, pval : float

    References
    ----------
    Begg, C. B., & Mazumdar, M. (1994). Operating characteristics of a rank correlation test
    for publication bias. *Biometrics*, 50(4), 1088-1101.
    """
    # Imported here: scipy.stats adds about 0.45 s to every process that imports this module.
    from scipy import stats

    y, v = np.asarray(yi, dtype=float), np.asarray(vi, dtype=float)
    w = 1 / v
    theta = np.sum(w * y) / np.sum(w)
    y_star = (y - theta) / np.sqrt(v - 1 / np.sum(w))
    ties = len(set(y_star)) < y.size or len(set(v)) < v.size
    exact = y.size < 50 and not ties
    result = stats.kendalltau(y_star, v, method="exact" if exact else "asymptotic")
    return float(result.statistic), float(result.pvalue)


@dataclass(frozen=True)
class TrimAndFill:
    """Result of trim-and-fill.

    Attributes
    ----------
    k0 : int
        Number of studies imputed.
    se_k0 : float
        Standard error of the estimator of ``k0``.
    side : str
        Side of the funnel where studies were imputed (``"left"`` or ``"right"``).
    estimator : str
        ``"L0"``, ``"R0"`` or ``"Q0"``.
    filled : RandomEffectsResult
        The model fitted to the observed and imputed studies.
    filled_yi, filled_vi : numpy.ndarray
        The imputed studies.
    """

    k0: int
    se_k0: float
    side: str
    estimator: str
    filled: RandomEffectsResult
    filled_yi: np.ndarray
    filled_vi: np.ndarray


def trim_and_fill(
    fit: RandomEffectsResult,
    estimator: Literal["L0", "R0", "Q0"] = "L0",
    side: Literal["left", "right"] | None = None,
    max_iter: int = 100,
) -> TrimAndFill:
    r"""Duval and Tweedie's trim-and-fill (metafor ``trimfill``).

    The side to fill is the one Egger's regression points away from (the sign of the slope
    of :math:`y` on :math:`\sqrt{v}`). Iteratively, the ``k0`` most extreme studies are
    trimmed, the model refitted to the rest, and ``k0`` re-estimated from the signed ranks
    of the centred estimates (:func:`_missing_studies`),

    .. math::

        L_0 = \frac{4 S_r - k(k+1)}{2k - 1}, \qquad R_0 = k - r^* - 1, \qquad
        Q_0 = k - \tfrac{1}{2} - \sqrt{2k^2 - 4 S_r + \tfrac{1}{4}}

    (rounded, at least 0); the trimmed studies are then mirrored about the trimmed estimate
    and the model refitted with them. ``side`` forces the side to fill, as metafor's does.
    Every refit uses the estimator and level of ``fit``; as in metafor, the trimmed and filled
    models use Wald-z inference, and when nothing is filled the result is ``fit`` itself.

    References
    ----------
    Duval, S., & Tweedie, R. (2000). Trim and fill: a simple funnel-plot-based method of
    testing and adjusting for publication bias in meta-analysis. *Biometrics*, 56(2),
    455-463, eqs. 4-6.
    """
    # Imported here: scipy.stats adds about 0.45 s to every process that imports this module.
    from scipy import stats

    y0, v0 = fit.yi, fit.vi
    wald = replace(fit.model, test="z")
    k = y0.size
    if k < 2:
        raise ValueError("trim-and-fill needs at least 2 studies")
    if side is None:
        x = np.column_stack([np.ones(k), np.sqrt(v0)])
        slope = meta_regression(y0, v0, x, ["intercept", "sei"], **wald.arguments).coefficients
        side = "right" if slope["estimate"].iloc[1] < 0 else "left"
    sign = -1.0 if side == "right" else 1.0
    order = np.argsort(sign * y0, kind="stable")
    y, v = sign * y0[order], v0[order]
    k0, previous, se_k0 = 0, -1, 0.0
    for _ in range(max_iter):
        if k0 == previous:
            break
        previous = k0
        beta = random_effects(y[: k - k0], v[: k - k0], **wald.arguments).estimate
        centred = y - beta
        # Ties take ranks in order of position (R's ties.method = "first").
        ranks = stats.rankdata(np.abs(centred), method="ordinal")
        k0_raw, se_k0 = _missing_studies(np.sign(centred) * ranks, estimator)
        if not np.isfinite(k0_raw):
            raise ValueError(
                f"trim-and-fill: the {estimator} estimator of the missing studies is not "
                "defined for these estimates (too many ranks above the trimmed estimate)"
            )
        # R's round() rounds half to even, as numpy's does.
        k0 = int(max(0, np.round(k0_raw)))
        se_k0 = max(0.0, float(se_k0))
    else:
        raise RuntimeError(f"trim-and-fill did not converge in {max_iter} iterations")
    if k0 == 0:
        return TrimAndFill(0, se_k0, side, estimator, fit, np.empty(0), np.empty(0))
    mirrored = sign * (2 * beta - y[k - k0 :])
    filled_yi, filled_vi = mirrored, v[k - k0 :]
    filled = random_effects(
        np.concatenate([y0, filled_yi]), np.concatenate([v0, filled_vi]), **wald.arguments
    )
    return TrimAndFill(k0, se_k0, side, estimator, filled, filled_yi, filled_vi)


def _missing_studies(signed_ranks: np.ndarray, estimator: str) -> tuple[float, float]:
    r"""The unrounded estimate of the number of missing studies, and its standard error.

    From the signed ranks of the centred estimates: :math:`S_r` is the sum of the positive
    ones and :math:`r^*` the largest rank of a negative one. With
    :math:`V = [k(k+1)(2k+1) + 10 k_0^3 + 27 k_0^2 + 17 k_0 - 18 k k_0^2 - 18 k k_0
    + 6 k^2 k_0] / 24`, the variance of :math:`S_r` at the unrounded :math:`k_0`, the standard
    errors are :math:`4 \sqrt{V} / (2k - 1)` for L0,
    :math:`2 \sqrt{V} / \sqrt{(k - 1/2)^2 - k_0 (2k - k_0 - 1)}` for Q0 and
    :math:`\sqrt{2 \max(0, k_0) + 2}` for R0, as metafor's ``trimfill`` computes them. Q0 is
    not a number where :math:`2k^2 - 4 S_r + 1/4 < 0` (metafor stops there too).

    References
    ----------
    Duval, S., & Tweedie, R. (2000). A nonparametric "trim and fill" method of accounting for
    publication bias in meta-analysis. *Journal of the American Statistical Association*,
    95(449), 89-98.
    """
    k = signed_ranks.size
    if estimator == "R0":
        negative = signed_ranks < 0
        k0 = (k - np.max(-signed_ranks[negative])) - 1 if negative.any() else k - 1
        return float(k0), float(np.sqrt(2 * max(0, k0) + 2))
    s_r = signed_ranks[signed_ranks > 0].sum()
    with np.errstate(invalid="ignore"):
        if estimator == "L0":
            k0 = (4 * s_r - k * (k + 1)) / (2 * k - 1)
        else:
            k0 = k - 0.5 - np.sqrt(2 * k**2 - 4 * s_r + 0.25)
        var_sr = (
            k * (k + 1) * (2 * k + 1)
            + 10 * k0**3
            + 27 * k0**2
            + 17 * k0
            - 18 * k * k0**2
            - 18 * k * k0
            + 6 * k**2 * k0
        ) / 24
        if estimator == "L0":
            return float(k0), float(4 * np.sqrt(var_sr) / (2 * k - 1))
        scale = np.sqrt((k - 0.5) ** 2 - k0 * (2 * k - k0 - 1))
        return float(k0), float(2 * np.sqrt(var_sr) / scale)
