"""The normal, t, chi-squared and F distribution functions of the engine, from scipy.special.

scipy.stats evaluates these distributions with the same special functions (SciPy 1.17:
``norm.ppf`` is ``ndtri``, ``t.sf(x, df)`` is ``stdtr(df, -x)``, ``chi2.sf(x, df)`` is
``chdtrc(df, x)``, ...), so the values are the same bits; tests/test_distributions.py holds
each function to equality with scipy.stats over a grid that includes the edges. Importing
scipy.stats instead would cost every process of the workflow about 0.45 s of start-up
(benchmarks/pipeline.py), most of a typical job.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy import special


def norm_cdf(x: ArrayLike):
    """Standard normal distribution function Φ(x) (``scipy.stats.norm.cdf``)."""
    return special.ndtr(x)


def norm_sf(x: ArrayLike):
    """Standard normal survival function 1 - Φ(x) = Φ(-x) (``scipy.stats.norm.sf``)."""
    return special.ndtr(np.negative(x))


def norm_ppf(q: ArrayLike):
    """Standard normal quantile Φ⁻¹(q) (``scipy.stats.norm.ppf``)."""
    return special.ndtri(q)


def t_sf(x: ArrayLike, df: ArrayLike):
    """Student t survival function (``scipy.stats.t.sf``), by symmetry F(-x)."""
    return special.stdtr(df, np.negative(x))


def t_ppf(q: ArrayLike, df: ArrayLike):
    """Student t quantile (``scipy.stats.t.ppf``)."""
    # stdtrit gives +inf at q = 0, where scipy.stats (and the t distribution) give -inf.
    return np.where(np.equal(q, 0), -np.inf, special.stdtrit(df, q))[()]


def t_isf(q: ArrayLike, df: ArrayLike):
    """Student t upper quantile, the ``x`` with ``t_sf(x) = q`` (``scipy.stats.t.isf``)."""
    return np.negative(t_ppf(q, df))


def chi2_cdf(x: ArrayLike, df: ArrayLike):
    """Chi-squared distribution function (``scipy.stats.chi2.cdf``)."""
    return special.chdtr(df, x)


def chi2_sf(x: ArrayLike, df: ArrayLike):
    """Chi-squared survival function (``scipy.stats.chi2.sf``)."""
    return special.chdtrc(df, x)


def chi2_ppf(q: ArrayLike, df: ArrayLike):
    """Chi-squared quantile (``scipy.stats.chi2.ppf``).

    Twice the inverse of the regularized lower incomplete gamma function at ``df / 2``.
    """
    return 2 * special.gammaincinv(np.divide(df, 2), q)


def chi2_isf(q: ArrayLike, df: ArrayLike):
    """Chi-squared upper quantile (``scipy.stats.chi2.isf``)."""
    return special.chdtri(df, q)


def f_sf(x: ArrayLike, dfn: ArrayLike, dfd: ArrayLike):
    """F survival function (``scipy.stats.f.sf``)."""
    return special.fdtrc(dfn, dfd, x)
