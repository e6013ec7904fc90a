"""Study-level effect sizes and the conversions that feed them.

Every function here mirrors an ``escalc`` measure of R's metafor (Viechtbauer, 2010) and
is tested against values metafor computed (``tests/reference/``). Inputs are array-likes;
outputs are NumPy arrays of the broadcast shape.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats

FloatArray = NDArray[np.float64]


def hedges_correction(df: ArrayLike) -> FloatArray:
    r"""Exact small-sample bias correction factor for the standardized mean difference.

    .. math:: J(m) = \frac{\Gamma(m/2)}{\sqrt{m/2}\,\Gamma((m-1)/2)}

    Parameters
    ----------
    df : array_like
        Degrees of freedom ``m = n1 + n2 - 2``.

    Returns
    -------
    numpy.ndarray
        The factor ``J``; Hedges' g is ``J`` times Cohen's d.

    References
    ----------
    Hedges, L. V. (1981). Distribution theory for Glass's estimator of effect size and related
    estimators. *Journal of Educational Statistics*, 6(2), 107-128, eq. 6e.
    """
    m = np.asarray(df, dtype=float)
    # Log-gamma keeps the ratio finite for the large m of pooled trials.
    return np.exp(special.gammaln(m / 2) - 0.5 * np.log(m / 2) - special.gammaln((m - 1) / 2))


def smd(
    m1: ArrayLike,
    sd1: ArrayLike,
    n1: ArrayLike,
    m2: ArrayLike,
    sd2: ArrayLike,
    n2: ArrayLike,
) -> tuple[FloatArray, FloatArray]:
    r"""Hedges' g (bias-corrected standardized mean difference) and its sampling variance.

    .. math::

        s_p = \sqrt{\frac{(n_1-1)s_1^2 + (n_2-1)s_2^2}{n_1+n_2-2}}, \qquad
        g = J(n_1+n_2-2)\,\frac{\bar x_1 - \bar x_2}{s_p}, \qquad
        v = \frac{1}{n_1} + \frac{1}{n_2} + \frac{g^2}{2(n_1+n_2)}

    This is metafor's ``escalc(measure = "SMD")`` with its default large-sample variance
    (``vtype = "LS"``).

    Parameters
    ----------
    m1, sd1, n1 : array_like
        Mean, standard deviation and size of group 1.
    m2, sd2, n2 : array_like
        Mean, standard deviation and size of group 2. ``n`` may be fractional (a shared
        control group split between comparisons).

    Returns
    -------
    yi, vi : numpy.ndarray
        Hedges' g (group 1 minus group 2) and its variance.

    References
    ----------
    Hedges, L. V., & Olkin, I. (1985). *Statistical methods for meta-analysis*, ch. 5, eqs. 8 and
    15. Borenstein, M., et al. (2009). *Introduction to meta-analysis*, eqs. 4.18-4.24.
    """
    m1, sd1, n1, m2, sd2, n2 = (np.asarray(a, dtype=float) for a in (m1, sd1, n1, m2, sd2, n2))
    df = n1 + n2 - 2
    sd_pooled = np.sqrt(((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2) / df)
    yi = hedges_correction(df) * (m1 - m2) / sd_pooled
    return yi, smd_variance(yi, n1, n2)


def smd_variance(g: ArrayLike, n1: ArrayLike, n2: ArrayLike) -> FloatArray:
    r"""Large-sample variance of a standardized mean difference.

    .. math:: v = \frac{1}{n_1} + \frac{1}{n_2} + \frac{g^2}{2(n_1+n_2)}

    metafor's ``escalc(measure = "SMD", vtype = "LS")``, also used for a reported d or g
    (``escalc(di = ...)``).

    References
    ----------
    Hedges, L. V. (1981), eq. 6e; Borenstein, M., et al. (2009), eq. 4.20.
    """
    g, n1, n2 = (np.asarray(a, dtype=float) for a in (g, n1, n2))
    return 1 / n1 + 1 / n2 + g**2 / (2 * (n1 + n2))


def log_risk_ratio(
    events1: ArrayLike,
    n1: ArrayLike,
    events2: ArrayLike,
    n2: ArrayLike,
    add: float = 0.5,
) -> tuple[FloatArray, FloatArray]:
    r"""Log risk ratio and its variance, with a continuity correction only where a cell is 0.

    .. math::

        \log RR = \log\frac{a/n_1}{c/n_2}, \qquad
        v = \frac{1}{a} - \frac{1}{n_1} + \frac{1}{c} - \frac{1}{n_2}

    When any of the four cells (``a``, ``n1 - a``, ``c``, ``n2 - c``) of a study is zero,
    ``add`` is added to all four of that study's cells, as metafor's
    ``escalc(measure = "RR", add = 1/2, to = "only0")`` does. A study with no events in either
    arm (or all events in both) gives a finite estimate of 0 this way; exclude such studies
    upstream if that is not wanted.

    Parameters
    ----------
    events1, n1 : array_like
        Events and total in group 1 (the treatment).
    events2, n2 : array_like
        Events and total in group 2 (the control).
    add : float, default 0.5
        Continuity correction.

    Returns
    -------
    yi, vi : numpy.ndarray
        Log risk ratio (group 1 over group 2) and its variance.

    References
    ----------
    Borenstein, M., et al. (2009). *Introduction to meta-analysis*, eqs. 5.1-5.3.
    Cochrane Handbook for Systematic Reviews of Interventions, version 6.4 (2023), section
    10.4.4.2.
    """
    a, n1, c, n2 = (np.asarray(x, dtype=float) for x in (events1, n1, events2, n2))
    cells = np.stack(np.broadcast_arrays(a, n1 - a, c, n2 - c))
    correction = np.where((cells == 0).any(axis=0), add, 0.0)
    a, c = a + correction, c + correction
    n1, n2 = n1 + 2 * correction, n2 + 2 * correction
    yi = np.log((a / n1) / (c / n2))
    vi = 1 / a - 1 / n1 + 1 / c - 1 / n2
    return yi, vi


def _normal_or_t_quantile(small: ArrayLike, df: ArrayLike, level: ArrayLike) -> FloatArray:
    """Two-sided quantile the Cochrane Handbook uses to recover a spread from an interval.

    The Handbook (6.5.2.2-3) divides the width by 3.92 (twice the normal quantile) for large
    samples and by twice the t quantile with ``df`` degrees of freedom where ``small``.
    """
    upper = 0.5 + np.asarray(level, dtype=float) / 2
    df = np.asarray(df, dtype=float)
    # NaN df (unknown group sizes) never reaches the t branch, but must not warn either.
    t = stats.t.ppf(upper, np.where(np.isfinite(df), np.maximum(df, 1), 1))
    return np.where(small, t, stats.norm.ppf(upper))


def sd_from_se(se: ArrayLike, n: ArrayLike) -> FloatArray:
    r"""Standard deviation of a group from the standard error of its mean.

    .. math:: SD = SE\,\sqrt{n}

    References
    ----------
    Cochrane Handbook, version 6.4 (2023), section 6.5.2.2.
    """
    return np.asarray(se, dtype=float) * np.sqrt(np.asarray(n, dtype=float))


def sd_from_ci(lower: ArrayLike, upper: ArrayLike, n: ArrayLike, level: float = 0.95) -> FloatArray:
    r"""Standard deviation of a group from a confidence interval of its mean.

    .. math:: SD = \sqrt{n}\,\frac{U - L}{2\,q}

    where ``q`` is the normal quantile (1.96 at 95%) for ``n >= 60`` and the t quantile with
    ``n - 1`` degrees of freedom below that.

    References
    ----------
    Cochrane Handbook, version 6.4 (2023), section 6.5.2.2.
    """
    n = np.asarray(n, dtype=float)
    width = np.asarray(upper, dtype=float) - np.asarray(lower, dtype=float)
    return np.sqrt(n) * width / (2 * _normal_or_t_quantile(n < 60, n - 1, level))


def se_from_ci_of_difference(
    lower: ArrayLike, upper: ArrayLike, n1: ArrayLike, n2: ArrayLike, level: ArrayLike = 0.95
) -> FloatArray:
    r"""Standard error of a between-group difference from its confidence interval.

    .. math:: SE = \frac{U - L}{2\,q}

    with ``q`` the t quantile on ``n1 + n2 - 2`` degrees of freedom when either group has
    fewer than 60 participants, and the normal quantile otherwise (or when the group sizes
    are unknown, NaN).

    References
    ----------
    Cochrane Handbook, version 6.4 (2023), section 6.5.2.3.
    """
    n1, n2 = np.asarray(n1, dtype=float), np.asarray(n2, dtype=float)
    small = (np.minimum(n1, n2) < 60) & np.isfinite(n1 + n2)
    width = np.asarray(upper, dtype=float) - np.asarray(lower, dtype=float)
    return width / (2 * _normal_or_t_quantile(small, n1 + n2 - 2, level))


def sd_from_se_of_difference(se: ArrayLike, n1: ArrayLike, n2: ArrayLike) -> FloatArray:
    r"""Pooled within-group SD implied by the standard error of a mean difference.

    .. math:: SD = \frac{SE}{\sqrt{1/n_1 + 1/n_2}}

    Valid for a difference between independent groups (parallel design), not for a paired
    (crossover) difference.

    References
    ----------
    Cochrane Handbook, version 6.4 (2023), section 6.5.2.3.
    """
    n1, n2 = np.asarray(n1, dtype=float), np.asarray(n2, dtype=float)
    return np.asarray(se, dtype=float) / np.sqrt(1 / n1 + 1 / n2)
