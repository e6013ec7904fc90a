r"""Permutation tests of random-effects models (metafor ``permutest``).

Each test takes a fitted model and permutes its own data under its own specification
(``fit.yi``, ``fit.vi``, ``fit.model``), as metafor's ``permutest(x)`` reads them from ``x``.
For the intercept-only model the permutations are sign flips of the estimates, all
:math:`2^k` of them when that is at most ``iterations`` (an exact test), refitted in one
vectorized batch by :func:`ketamine_meta.stats.meta_analysis.fit_batch`. For a meta-regression the
rows of the model matrix are permuted against the estimates, every distinct permutation when
their number is at most ``iterations``.

The p-value of a coefficient is the share of permutations whose test statistic is at least
as extreme as the observed one, :math:`p = \#\{|z^*| \ge |z| - \epsilon\} / B`, with
:math:`\epsilon = \sqrt{\text{machine eps}}` as metafor's ``comptol``; the omnibus test uses
:math:`Q_M` the same way.

References
----------
Follmann, D. A., & Proschan, M. A. (1999). Valid inference in random effects meta-analysis.
*Biometrics*, 55(3), 732-737. Higgins, J. P. T., & Thompson, S. G. (2004). Controlling the
risk of spurious findings from meta-regression. *Statistics in Medicine*, 23(11), 1663-1682.
Viechtbauer, W., et al. (2015). A comparison of procedures to test for moderators in
mixed-effects meta-regression models. *Psychological Methods*, 20(3), 360-374.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ketamine_meta.stats.meta_analysis import RandomEffectsResult, fit_batch
from ketamine_meta.stats.meta_regression import (
    BATCH_ESTIMATORS,
    MetaRegressionResult,
    meta_regression,
    meta_regression_batch,
)

#: Tolerance of the comparison with the observed statistic (metafor ``comptol``).
COMPARISON_TOLERANCE = float(np.sqrt(np.finfo(float).eps))


@dataclass(frozen=True)
class PermutationResult:
    """Permutation p-values of a fitted model.

    Attributes
    ----------
    statistic : numpy.ndarray
        Observed test statistic of each coefficient.
    pval : numpy.ndarray
        Permutation p-value of each coefficient.
    qm, qm_pval : float
        Observed omnibus statistic and its permutation p-value.
    permutations : int
        Number of permutations used (including the observed arrangement).
    exact : bool
        Whether every permutation was enumerated.
    """

    statistic: np.ndarray
    pval: np.ndarray
    qm: float
    qm_pval: float
    permutations: int
    exact: bool


def _as_extreme(permuted: np.ndarray, observed) -> np.ndarray:
    """Whether each permuted statistic (a size, ``|z|`` or ``QM``) is at least ``observed``.

    A permutation whose fit leaves no residual variance (a perfect fit, possible with few
    trials) has a standard error of 0 under Knapp-Hartung: its statistic is infinite, or 0/0
    where its coefficient is 0 too, and which of the two rounding gives depends on the BLAS
    kernel. Both count as at least as extreme, so that the p-value does not (metafor, which
    drops a NaN, gets an infinite statistic for such a permutation and counts it).
    """
    return (permuted >= observed - COMPARISON_TOLERANCE) | np.isnan(permuted)


def _p_values(observed: np.ndarray, permuted: np.ndarray) -> np.ndarray:
    return np.mean(_as_extreme(np.abs(permuted), np.abs(observed)), axis=0)


def sign_flip_test(
    fit: RandomEffectsResult, iterations: int = 1000, seed: int = 20261124
) -> PermutationResult:
    r"""Permutation test of the pooled estimate by sign flips (metafor ``permutest``, no mods).

    The flipped estimates of ``fit`` are refitted with its model. Exact (all :math:`2^k`
    flips) when :math:`2^k \\le` ``iterations``; otherwise ``iterations`` random flips from a
    generator seeded with ``seed``, the first being the observed data.
    """
    y, v = fit.yi, fit.vi
    k = y.size
    exact = 2**k <= iterations
    if exact:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=k)))
    else:
        rng = np.random.default_rng(seed)
        signs = rng.choice((-1.0, 1.0), size=(iterations, k))
        signs[0] = 1.0
    fits = fit_batch(signs * y, np.tile(v, (len(signs), 1)), **fit.model.arguments)
    stat = np.array([fit.statistic])
    return PermutationResult(
        statistic=stat,
        pval=_p_values(stat, fits.statistic[:, None]),
        qm=float(stat[0] ** 2),
        qm_pval=float(np.mean(_as_extreme(fits.statistic**2, stat[0] ** 2))),
        permutations=len(signs),
        exact=exact,
    )


def _distinct_permutations(rows: np.ndarray) -> list[tuple[int, ...]]:
    """Every ordering of the row indices that gives a different matrix, once."""
    _, labels = np.unique(rows, axis=0, return_inverse=True)
    seen, orders = set(), []
    for order in itertools.permutations(range(len(rows))):
        key = tuple(labels[list(order)])
        if key not in seen:
            seen.add(key)
            orders.append(order)
    return orders


def moderator_permutation_test(
    fit: MetaRegressionResult, iterations: int = 1000, seed: int = 20261124
) -> PermutationResult:
    """Permutation test of a meta-regression's coefficients and of its moderators (``QM``).

    The rows of the model matrix of ``fit`` are permuted against its estimates and refitted
    with its model. Exact (every distinct row permutation of ``x``) when ``k <= 9`` and their
    number is at most ``iterations``; otherwise ``iterations`` random permutations seeded with
    ``seed``, the first being the observed order.
    """
    k = fit.yi.size
    orders = _distinct_permutations(fit.x) if k <= 9 else None
    exact = orders is not None and len(orders) <= iterations
    if not exact:
        rng = np.random.default_rng(seed)
        orders = [tuple(range(k))] + [tuple(rng.permutation(k)) for _ in range(iterations - 1)]
    stats_perm, qm_perm = _permuted_fits(fit, np.array(orders))
    stat = fit.coefficients["statistic"].to_numpy()
    return PermutationResult(
        statistic=stat,
        pval=_p_values(stat, stats_perm),
        qm=fit.qm,
        qm_pval=float(np.mean(_as_extreme(qm_perm, fit.qm))),
        permutations=len(orders),
        exact=exact,
    )


def _permuted_fits(fit: MetaRegressionResult, orders: np.ndarray):
    """Statistics and QM of the fits with the rows of ``fit.x`` in each order.

    Permuting the model matrix against fixed estimates fits the same data as permuting the
    estimates (with their variances) against a fixed matrix, which the batch path takes.
    """
    y, v, x, model = fit.yi, fit.vi, fit.x, fit.model
    terms = list(fit.coefficients["term"])
    if model.method in BATCH_ESTIMATORS:
        inverse = np.argsort(orders, axis=1)
        fits = meta_regression_batch(y[inverse], v[inverse], x, terms, model.method, model.test)
        return fits.statistic, fits.qm
    fits = [meta_regression(y, v, x[list(order)], terms, **model.arguments) for order in orders]
    return (
        np.array([f.coefficients["statistic"].to_numpy() for f in fits]),
        np.array([f.qm for f in fits]),
    )
