r"""Sensitivity analyses of a random-effects meta-analysis.

Leave-one-out, cumulative meta-analysis, influence diagnostics and the Baujat plot data.

Each takes a fitted model (:func:`~ketamine_meta.stats.meta_analysis.random_effects`) and refits
it with its own data and specification (``fit.yi``, ``fit.vi``, ``fit.model``), as metafor's
``leave1out.rma.uni`` reads ``x$yi`` and ``x$method``. Every refit goes through the vectorized
:func:`ketamine_meta.stats.meta_analysis.fit_batch`: the ``k`` leave-one-out models (or the
``k`` cumulative ones) are one batch of padded rows. Compared with metafor's ``leave1out``,
``cumul``, ``influence`` and ``baujat`` in ``tests/test_metafor_parity.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from ketamine_meta.stats.distributions import chi2_cdf
from ketamine_meta.stats.meta_analysis import BatchFit, RandomEffectsResult, fit_batch
from ketamine_meta.stats.model import ModelSpec

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
#: The columns of :func:`influence`.
INFLUENCE_COLUMNS = [
    "study",
    "rstudent",
    "dffits",
    "cook_d",
    "cov_r",
    "tau2_del",
    "qe_del",
    "hat",
    "weight",
    "dfbetas",
    "influential",
]


def _table(fit: BatchFit) -> pd.DataFrame:
    return pd.DataFrame({c: getattr(fit, c) for c in SUMMARY_COLUMNS})


def _subset_fits(y: np.ndarray, v: np.ndarray, mask: np.ndarray, model: ModelSpec) -> BatchFit:
    """One fit per row of ``mask``: the studies it marks, as one batch, by ``model``."""
    rows = len(mask)
    return fit_batch(np.tile(y, (rows, 1)), np.tile(v, (rows, 1)), **model.arguments, mask=mask)


def _leave_one_out_fit(fit: RandomEffectsResult) -> BatchFit:
    return _subset_fits(fit.yi, fit.vi, ~np.eye(fit.yi.size, dtype=bool), fit.model)


def _labels(fit: RandomEffectsResult, labels: ArrayLike | None) -> list:
    """``labels``, or the studies numbered from 1 in input order."""
    return list(labels) if labels is not None else list(range(1, fit.yi.size + 1))


def leave_one_out(fit: RandomEffectsResult, labels: ArrayLike | None = None) -> pd.DataFrame:
    """Refit ``fit`` ``k`` times, each time without one study (metafor ``leave1out``).

    Each refit uses the fit's own model (estimator, test, level).

    Returns
    -------
    pandas.DataFrame
        ``omitted`` and the columns of :data:`SUMMARY_COLUMNS`, one row per omitted study.

    References
    ----------
    Viechtbauer, W., & Cheung, M. W.-L. (2010). Outlier and influence diagnostics for
    meta-analysis. *Research Synthesis Methods*, 1(2), 112-125.
    """
    if fit.yi.size < 2:
        raise ValueError("leave-one-out needs at least 2 studies")
    table = _table(_leave_one_out_fit(fit))
    table.insert(0, "omitted", _labels(fit, labels))
    return table


def cumulative(
    fit: RandomEffectsResult, order: ArrayLike, labels: ArrayLike | None = None
) -> pd.DataFrame:
    """Add the studies of ``fit`` one at a time in ``order`` (e.g. year) and refit (``cumul``).

    Each refit uses the fit's own model. Ties in ``order`` keep the input order (a stable
    sort).

    Returns
    -------
    pandas.DataFrame
        ``added`` and the columns of :data:`SUMMARY_COLUMNS`, one row per step.

    References
    ----------
    Lau, J., et al. (1992). Cumulative meta-analysis of therapeutic trials for myocardial
    infarction. *NEJM*, 327(4), 248-254.
    """
    ranks = np.argsort(np.asarray(order), kind="stable")
    y, v = fit.yi[ranks], fit.vi[ranks]
    k = y.size
    mask = np.tril(np.ones((k, k), dtype=bool))
    table = _table(_subset_fits(y, v, mask, fit.model))
    names = np.asarray(_labels(fit, labels), dtype=object)
    table.insert(0, "added", names[ranks])
    return table


def influence(fit: RandomEffectsResult, labels: ArrayLike | None = None) -> pd.DataFrame:
    r"""Case-deletion influence diagnostics of ``fit`` (metafor ``influence.rma.uni``).

    The deleted models are refitted with the fit's own model. With
    :math:`\hat\mu_{(-i)}`, :math:`\hat\tau^2_{(-i)}`, :math:`V_{(-i)}` and :math:`s^2_{(-i)}`
    the estimate, tau^2, variance of the estimate and Knapp-Hartung factor (1 for z) of the
    model without study ``i``, :math:`h_i = w_i / \sum w_j` the hat value and :math:`V` the
    variance of the full model's estimate:

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
    y, v, full = fit.yi, fit.vi, fit
    k = y.size
    if k < 2:
        raise ValueError("influence diagnostics need at least 2 studies")
    deleted = _leave_one_out_fit(fit)
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
            "study": _labels(fit, labels),
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


def baujat(fit: RandomEffectsResult, labels: ArrayLike | None = None) -> pd.DataFrame:
    r"""Coordinates of the Baujat plot of ``fit`` (metafor ``baujat``), refitted by its model.

    .. math::

        x_i = \frac{(y_i - \hat\mu)^2}{v_i + \hat\tau^2}, \qquad
        y_i = \frac{(\hat\mu_{(-i)} - \hat\mu)^2}{V_{(-i)}}

    the study's contribution to the heterogeneity and its influence on the pooled estimate.

    References
    ----------
    Baujat, B., Mahé, C., Pignon, J.-P., & Hill, C. (2002). A graphical method for exploring
    heterogeneity in meta-analyses. *Statistics in Medicine*, 21(18), 2641-2652.
    """
    deleted = _leave_one_out_fit(fit)
    return pd.DataFrame(
        {
            "study": _labels(fit, labels),
            "heterogeneity_contribution": (fit.yi - fit.estimate) ** 2 / (fit.vi + fit.tau2),
            "influence_on_estimate": (deleted.estimate - fit.estimate) ** 2 / deleted.se**2,
        }
    )
