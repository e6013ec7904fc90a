r"""Sensitivity analyses of a random-effects meta-analysis.

Leave-one-out, cumulative meta-analysis, influence diagnostics and the Baujat plot data.

Every refit goes through the vectorized :func:`ketamine_meta.stats.meta_analysis.fit_batch`: the
``k`` leave-one-out models (or the ``k`` cumulative ones) are one batch of padded rows.
Compared with metafor's ``leave1out``, ``cumul``, ``influence`` and ``baujat`` in
``tests/test_metafor_parity.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from ketamine_meta.stats.distributions import chi2_cdf
from ketamine_meta.stats.meta_analysis import BatchFit, TestMethod, fit_batch, random_effects
from ketamine_meta.stats.tau2 import Tau2Method

SUMMARY_COLUMNS = [
    "estimate",
    "se",
    "statistic",
    "pval",
    "ci_low",
    "ci_high",
    "q",
    "q_p",
    "tau2",
    "i2",
    "h2",
]


def _studies(yi: ArrayLike, vi: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y, v = np.asarray(yi, dtype=float).ravel(), np.asarray(vi, dtype=float).ravel()
    random_effects(y, v)  # the same validation as a single fit
    return y, v


def _table(fit: BatchFit) -> pd.DataFrame:
    return pd.DataFrame({c: getattr(fit, c) for c in SUMMARY_COLUMNS})


def _subset_fits(y, v, mask, method, test, level) -> BatchFit:
    """One fit per row of ``mask``: the studies it marks, as one batch."""
    rows = len(mask)
    return fit_batch(np.tile(y, (rows, 1)), np.tile(v, (rows, 1)), method, test, level, mask=mask)


def _leave_one_out_fit(y, v, method, test, level) -> BatchFit:
    return _subset_fits(y, v, ~np.eye(y.size, dtype=bool), method, test, level)


def leave_one_out(
    yi: ArrayLike,
    vi: ArrayLike,
    labels: ArrayLike | None = None,
    method: Tau2Method = "REML",
    test: TestMethod = "knha",
    level: float = 0.95,
) -> pd.DataFrame:
    """Refit the model ``k`` times, each time without one study (metafor ``leave1out``).

    Returns
    -------
    pandas.DataFrame
        ``omitted`` and the columns of :data:`SUMMARY_COLUMNS`, one row per omitted study.

    References
    ----------
    Viechtbauer, W., & Cheung, M. W.-L. (2010). Outlier and influence diagnostics for
    meta-analysis. *Research Synthesis Methods*, 1(2), 112-125.
    """
    y, v = _studies(yi, vi)
    if y.size < 2:
        raise ValueError("leave-one-out needs at least 2 studies")
    table = _table(_leave_one_out_fit(y, v, method, test, level))
    table.insert(0, "omitted", list(labels) if labels is not None else range(1, y.size + 1))
    return table


def cumulative(
    yi: ArrayLike,
    vi: ArrayLike,
    order: ArrayLike,
    labels: ArrayLike | None = None,
    method: Tau2Method = "REML",
    test: TestMethod = "knha",
    level: float = 0.95,
) -> pd.DataFrame:
    """Add the studies one at a time in ``order`` (e.g. year) and refit (metafor ``cumul``).

    Ties in ``order`` keep the input order (a stable sort).

    Returns
    -------
    pandas.DataFrame
        ``added`` and the columns of :data:`SUMMARY_COLUMNS`, one row per step.

    References
    ----------
    Lau, J., et al. (1992). Cumulative meta-analysis of therapeutic trials for myocardial
    infarction. *NEJM*, 327(4), 248-254.
    """
    y, v = _studies(yi, vi)
    ranks = np.argsort(np.asarray(order), kind="stable")
    y, v = y[ranks], v[ranks]
    k = y.size
    mask = np.tril(np.ones((k, k), dtype=bool))
    table = _table(_subset_fits(y, v, mask, method, test, level))
    names = np.asarray(list(labels) if labels is not None else range(1, k + 1), dtype=object)
    table.insert(0, "added", names[ranks])
    return table


def influence(
    yi: ArrayLike,
    vi: ArrayLike,
    labels: ArrayLike | None = None,
    method: Tau2Method = "REML",
    test: TestMethod = "knha",
    level: float = 0.95,
) -> pd.DataFrame:
    r"""Case-deletion influence diagnostics (metafor ``influence.rma.uni``).

    With :math:`\hat\mu_{(-i)}`, :math:`\hat\tau^2_{(-i)}`, :math:`V_{(-i)}` and
    :math:`s^2_{(-i)}` the estimate, tau^2, variance of the estimate and Knapp-Hartung factor
    (1 for z) of the model without study ``i``, :math:`h_i = w_i / \sum w_j` the hat value
    and :math:`V` the variance of the full model's estimate:

    .. math::

        r_i = \frac{y_i - \hat\mu_{(-i)}}{\sqrt{s^2_{(-i)}(v_i + \hat\tau^2_{(-i)})
            + V_{(-i)}}}, \quad
        DFFITS_i = \frac{\hat\mu - \hat\mu_{(-i)}}{\sqrt{s^2_{(-i)} h_i
            (\hat\tau^2_{(-i)} + v_i)}}, \quad
        D_i = \frac{(\hat\mu - \hat\mu_{(-i)})^2}{V}, \quad
        COVRATIO_i = \frac{V_{(-i)}}{V}

    Returns
    -------
    pandas.DataFrame
        ``study, rstudent, dffits, cook_d, cov_r, tau2_del, qe_del, hat, weight`` (weight in
        percent) and ``influential``, metafor's flag: \|DFFITS\| > 3 sqrt(1/(k-1)), Cook's D
        beyond the median of chi^2_1, hat > 3/k, or \|DFBETAS\| > 1.

    References
    ----------
    Viechtbauer, W., & Cheung, M. W.-L. (2010). *Research Synthesis Methods*, 1(2), 112-125,
    eqs. 8-14.
    """
    y, v = _studies(yi, vi)
    k = y.size
    if k < 2:
        raise ValueError("influence diagnostics need at least 2 studies")
    full = fit_batch(y, v, method, test, level).row(0)
    deleted = _leave_one_out_fit(y, v, method, test, level)
    var_full = full.se**2
    var_del = deleted.se**2
    s2w_del = var_del / deleted.se_wald**2
    hat = full.weights / full.weights.sum()
    difference = full.estimate - deleted.estimate
    resid = y - deleted.estimate
    rstudent = resid / np.sqrt(s2w_del * (v + deleted.tau2) + var_del)
    dffits = difference / np.sqrt(s2w_del * hat * (deleted.tau2 + v))
    cook = difference**2 / var_full
    # DFBETAS: the change scaled by the deleted model's factor and the variance the deleted
    # tau^2 implies for the full data.
    var_full_data_del = 1 / np.sum(1 / (v[None, :] + deleted.tau2[:, None]), axis=1)
    dfbetas = difference / np.sqrt(s2w_del * var_full_data_del)
    flagged = (
        (np.abs(dffits) > 3 * np.sqrt(1 / (k - 1)))
        | (chi2_cdf(cook, 1) > 0.5)
        | (hat > 3 / k)
        | (np.abs(dfbetas) > 1)
    )
    return pd.DataFrame(
        {
            "study": list(labels) if labels is not None else range(1, k + 1),
            "rstudent": rstudent,
            "dffits": dffits,
            "cook_d": cook,
            "cov_r": var_del / var_full,
            "tau2_del": deleted.tau2,
            "qe_del": deleted.q,
            "hat": hat,
            "weight": 100 * hat,
            "dfbetas": dfbetas,
            "influential": flagged,
        }
    )


def baujat(
    yi: ArrayLike,
    vi: ArrayLike,
    labels: ArrayLike | None = None,
    method: Tau2Method = "REML",
    test: TestMethod = "knha",
) -> pd.DataFrame:
    r"""Coordinates of the Baujat plot (metafor ``baujat``).

    .. math::

        x_i = \frac{(y_i - \hat\mu)^2}{v_i + \hat\tau^2}, \qquad
        y_i = \frac{(\hat\mu_{(-i)} - \hat\mu)^2}{V_{(-i)}}

    the study's contribution to the heterogeneity and its influence on the pooled estimate.

    References
    ----------
    Baujat, B., Mahé, C., Pignon, J.-P., & Hill, C. (2002). A graphical method for exploring
    heterogeneity in meta-analyses. *Statistics in Medicine*, 21(18), 2641-2652.
    """
    y, v = _studies(yi, vi)
    full = fit_batch(y, v, method, test).row(0)
    deleted = _leave_one_out_fit(y, v, method, test, 0.95)
    return pd.DataFrame(
        {
            "study": list(labels) if labels is not None else range(1, y.size + 1),
            "heterogeneity_contribution": (y - full.estimate) ** 2 / (v + full.tau2),
            "influence_on_estimate": (deleted.estimate - full.estimate) ** 2 / deleted.se**2,
        }
    )
