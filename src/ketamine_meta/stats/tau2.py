r"""Between-study variance (tau^2) of the intercept-only random-effects model, vectorized.

Every estimator takes ``m`` meta-analyses at once: ``y`` and ``v`` of shape ``(m, k)`` and a
boolean ``mask`` of the same shape that marks which cells hold a study (meta-analyses of
different sizes are padded). The closed forms below replace metafor's matrix algebra: for
the intercept-only model with weights :math:`w_i = 1/(v_i + \tau^2)` and residuals
:math:`e_i = y_i - \hat\mu`,

.. math::

    y^\top P y = \sum w_i e_i^2, \quad y^\top P P y = \sum w_i^2 e_i^2, \quad
    \operatorname{tr} P = \sum w_i - \frac{\sum w_i^2}{\sum w_i}, \quad
    \operatorname{tr} P P = \sum w_i^2 - 2\frac{\sum w_i^3}{\sum w_i}
        + \frac{(\sum w_i^2)^2}{(\sum w_i)^2}

with :math:`P = W - W 1 (1^\top W 1)^{-1} 1^\top W` (Viechtbauer, 2005). Each estimator is
compared with metafor's ``rma.uni(method = ...)`` in ``tests/test_metafor_parity.py``.
A meta-analysis of a single study has tau^2 = 0, as in metafor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy import optimize

from ketamine_meta.stats.distributions import chi2_isf, chi2_ppf

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.intp]
Tau2Method = Literal["REML", "DL", "PM", "ML", "SJ", "EB", "HE", "HS", "HSk", "EE", "FE"]
#: The common-effect (equal-effects, "fixed-effect") model: tau^2 is 0, not estimated
#: (metafor ``method = "EE"``, and ``"FE"`` as it was called before metafor 3.0).
COMMON_EFFECT_METHODS: tuple[str, ...] = ("EE", "FE")
#: ``evaluate(tau2, rows)``: the (restricted) log-likelihood and the Fisher step of the
#: meta-analyses ``rows`` (indices into the batch) at their ``tau2``.
Evaluator = Callable[[FloatArray, IntArray], tuple[FloatArray, FloatArray]]

#: Convergence threshold on the Fisher-scoring step (metafor's default is 1e-5; a tighter
#: one makes the estimate reproducible far below the 1e-6 parity tolerance).
FISHER_THRESHOLD = 1e-12
FISHER_MAX_ITER = 1000
#: Relative rounding noise tolerated in the log-likelihood by the ascent check.
LIKELIHOOD_NOISE = 1e-10
#: Halvings of a scoring step that would make tau^2 negative, and of one that would lower the
#: likelihood.
NEGATIVE_HALVINGS = 64
ASCENT_HALVINGS = 60
#: Bisection steps for the Paule-Mandel and Q-profile roots: 200 halvings of the bracket
#: reach the resolution of a double whatever its starting width.
BISECTION_STEPS = 200


@dataclass(frozen=True)
class Batch:
    """``m`` meta-analyses padded to ``k`` columns.

    Attributes
    ----------
    y, v : numpy.ndarray
        Estimates and sampling variances, shape ``(m, k)``; padded cells hold 0 and 1.
    mask : numpy.ndarray
        True where a cell holds a study.
    """

    y: FloatArray
    v: FloatArray
    mask: BoolArray

    @classmethod
    def from_arrays(cls, yi, vi, mask=None) -> Batch:
        """Validate and pad; 1-D input is one meta-analysis."""
        y = np.atleast_2d(np.asarray(yi, dtype=float))
        v = np.atleast_2d(np.asarray(vi, dtype=float))
        if y.shape != v.shape:
            raise ValueError(f"yi and vi differ in shape: {y.shape} and {v.shape}")
        mask = np.isfinite(y) & np.isfinite(v) if mask is None else np.atleast_2d(mask)
        if mask.shape != y.shape:
            raise ValueError(f"mask has shape {mask.shape}, expected {y.shape}")
        # A study with infinite variance has weight 0 under every estimator: it carries no
        # information and is treated as absent (so it does not count in k either).
        mask = mask & ~(np.isposinf(v) & np.isfinite(y))
        if np.any(mask.sum(axis=1) == 0):
            raise ValueError("at least one estimate is needed in every meta-analysis")
        if np.any(~np.isfinite(y[mask])) or np.any(~np.isfinite(v[mask])):
            raise ValueError("yi and vi must be finite")
        if np.any(v[mask] <= 0):
            raise ValueError("every sampling variance vi must be positive")
        return cls(np.where(mask, y, 0.0), np.where(mask, v, 1.0), mask.astype(bool))

    @property
    def k(self) -> FloatArray:
        """Number of studies of each meta-analysis."""
        return self.mask.sum(axis=1).astype(float)

    def weights(self, tau2: FloatArray) -> FloatArray:
        """Weights ``1 / (v + tau^2)``, zero in padded cells."""
        return np.where(self.mask, 1 / (self.v + np.asarray(tau2)[:, None]), 0.0)

    def weighted_mean(self, w: FloatArray) -> FloatArray:
        """``sum(w y) / sum(w)`` per meta-analysis."""
        return np.sum(w * self.y, axis=1) / np.sum(w, axis=1)

    def residuals(self, w: FloatArray) -> FloatArray:
        """``y - weighted mean``, zero in padded cells."""
        return np.where(self.mask, self.y - self.weighted_mean(w)[:, None], 0.0)

    def generalized_q(self, tau2: FloatArray) -> FloatArray:
        r"""Generalized Q, :math:`\sum w_i (y_i - \hat\mu)^2` at the given tau^2."""
        w = self.weights(tau2)
        return np.sum(w * self.residuals(w) ** 2, axis=1)


def dersimonian_laird(batch: Batch) -> FloatArray:
    r"""DerSimonian-Laird estimator.

    .. math:: \hat\tau^2 = \max\left(0, \frac{Q - (k-1)}{\sum w_i - \sum w_i^2/\sum w_i}\right)

    References
    ----------
    DerSimonian, R., & Laird, N. (1986). Meta-analysis in clinical trials. *Controlled Clinical
    Trials*, 7(3), 177-188, eq. 8.
    """
    w = batch.weights(np.zeros(batch.y.shape[0]))
    sw = np.sum(w, axis=1)
    q = batch.generalized_q(np.zeros(batch.y.shape[0]))
    with np.errstate(invalid="ignore", divide="ignore"):
        tau2 = (q - (batch.k - 1)) / (sw - np.sum(w**2, axis=1) / sw)
    return _single_study_zero(batch, np.maximum(0.0, tau2))


def hunter_schmidt(batch: Batch) -> FloatArray:
    r"""Hunter-Schmidt estimator.

    .. math:: \hat\tau^2 = \max\left(0, \frac{Q - k}{\sum w_i}\right), \quad w_i = 1/v_i

    References
    ----------
    Hunter, J. E., & Schmidt, F. L. (2004). *Methods of meta-analysis* (2nd ed.). Sage.
    Viechtbauer, W. (2005). Bias and efficiency of meta-analytic variance estimators in the
    random-effects model. *JEBS*, 30(3), 261-293, eq. 13; metafor ``method = "HS"``.
    """
    q, sw = _q_and_weight_sum(batch)
    with np.errstate(invalid="ignore", divide="ignore"):
        tau2 = (q - batch.k) / sw
    return _single_study_zero(batch, np.maximum(0.0, tau2))


def hunter_schmidt_small_sample(batch: Batch) -> FloatArray:
    r"""Hunter-Schmidt estimator with the small-sample correction of metafor's ``"HSk"``.

    .. math:: \hat\tau^2 = \max\left(0, \frac{\frac{k}{k-1} Q - k}{\sum w_i}\right)

    References
    ----------
    Brannick, M. T., Potter, S. M., Benitez, B., & Morris, S. B. (2019). Bias and precision
    of alternate estimators in meta-analysis: benefits of blending Schmidt-Hunter and Hedges
    approaches. *Organizational Research Methods*, 22(2), 490-514; metafor
    ``method = "HSk"`` (``(k/(k-p) * RSS - k) / sum(wi)``).
    """
    q, sw = _q_and_weight_sum(batch)
    k = batch.k
    with np.errstate(invalid="ignore", divide="ignore"):
        tau2 = (k / (k - 1) * q - k) / sw
    return _single_study_zero(batch, np.maximum(0.0, tau2))


def common_effect(batch: Batch) -> FloatArray:
    """tau^2 of the common-effect model: 0 by assumption (metafor ``method = "EE"``)."""
    return np.zeros(batch.y.shape[0])


def _q_and_weight_sum(batch: Batch) -> tuple[FloatArray, FloatArray]:
    """Cochran's Q and the sum of the inverse-variance weights ``1 / v``."""
    no_tau2 = np.zeros(batch.y.shape[0])
    return batch.generalized_q(no_tau2), np.sum(batch.weights(no_tau2), axis=1)


def sidik_jonkman(batch: Batch) -> FloatArray:
    r"""Sidik-Jonkman estimator.

    Starting from :math:`\hat\tau_0^2 = \frac1k\sum (y_i - \bar y)^2`,

    .. math:: \hat\tau^2 = \frac{\hat\tau_0^2}{k-1}\sum \frac{(y_i - \hat\mu)^2}{v_i + \hat\tau_0^2}

    with :math:`\hat\mu` weighted by :math:`1/(v_i + \hat\tau_0^2)`.

    References
    ----------
    Sidik, K., & Jonkman, J. N. (2005). Simple heterogeneity variance estimation for
    meta-analysis. *JRSS C*, 54(2), 367-384, eq. 6; metafor ``method = "SJ"``.
    """
    k = batch.k
    unweighted = np.where(batch.mask, 1.0, 0.0)
    tau0 = np.sum(batch.residuals(unweighted) ** 2, axis=1) / k
    with np.errstate(invalid="ignore", divide="ignore"):
        tau2 = tau0 * batch.generalized_q(tau0) / (k - 1)
    return _single_study_zero(batch, tau2)


def paule_mandel(batch: Batch) -> FloatArray:
    r"""Paule-Mandel estimator: the root of the generalized Q statistic at its expectation.

    .. math:: \sum_i \frac{(y_i - \hat\mu(\tau^2))^2}{v_i + \tau^2} = k - 1

    0 when Q at tau^2 = 0 is already below ``k - 1``. The generalized Q falls monotonically in
    tau^2, so bisection finds the root to machine precision.

    References
    ----------
    Paule, R. C., & Mandel, J. (1982). Consensus values and weighting factors. *Journal of
    Research of the National Bureau of Standards*, 87(5), 377-385. DerSimonian, R., & Kacker,
    R. (2007). *Contemporary Clinical Trials*, 28(2), 105-114, eq. 6.
    """
    target = batch.k - 1
    return _single_study_zero(batch, _decreasing_root(batch.generalized_q, target, batch))


def empirical_bayes(batch: Batch) -> FloatArray:
    r"""Empirical Bayes (Morris) estimator.

    metafor iterates :math:`\tau^2 \leftarrow \tau^2 + \left(\frac{k}{k-1}\sum w_i e_i^2 -
    k\right) / \sum w_i`, whose fixed point solves :math:`\sum w_i e_i^2 = k - 1`: the
    Paule-Mandel equation. The estimate is therefore computed as that root, exactly; metafor's
    iteration reaches it to within its convergence threshold.

    References
    ----------
    Morris, C. N. (1983). Parametric empirical Bayes inference. *JASA*, 78(381), 47-55.
    Berkey, C. S., et al. (1995). *Statistics in Medicine*, 14(4), 395-411. Viechtbauer, W.
    (2005), section 2.6.
    """
    return paule_mandel(batch)


def _decreasing_root(
    func: Callable[[FloatArray], FloatArray], target: FloatArray, batch: Batch
) -> FloatArray:
    """Root in tau^2 >= 0 of a decreasing ``func(tau2) = target``; 0 where func(0) <= target."""
    m = batch.y.shape[0]
    low = np.zeros(m)
    at_zero = func(low) <= target
    high = np.maximum(1.0, 10 * np.var(np.where(batch.mask, batch.y, np.nan), axis=1))
    high = np.where(np.isfinite(high), high, 1.0)
    for _ in range(1100):
        above = (func(high) > target) & ~at_zero
        if not above.any():
            break
        high = np.where(above, 2 * high, high)
    for _ in range(BISECTION_STEPS):
        mid = (low + high) / 2
        too_low = func(mid) > target
        low = np.where(too_low, mid, low)
        high = np.where(too_low, high, mid)
    return np.where(at_zero, 0.0, (low + high) / 2)


def _likelihood_terms(batch: Batch, tau2: FloatArray):
    """``v + tau^2``, the weights, the residuals and the sum of the weights at ``tau2``."""
    spread = batch.v + np.asarray(tau2)[:, None]
    w = np.where(batch.mask, 1 / spread, 0.0)
    return spread, w, batch.residuals(w), np.sum(w, axis=1)


def _log_likelihood(mask: BoolArray, spread, w, e, sw, restricted: bool) -> FloatArray:
    logdet = np.sum(np.where(mask, np.log(spread), 0.0), axis=1)
    ll = -0.5 * (logdet + np.sum(w * e**2, axis=1))
    return ll - 0.5 * np.log(sw) if restricted else ll


def log_likelihood(batch: Batch, tau2: FloatArray, restricted: bool) -> FloatArray:
    r"""(Restricted) log-likelihood of the intercept-only model, up to a constant.

    .. math::

        \ell(\tau^2) = -\tfrac12\Big[\sum\log(v_i+\tau^2) + \sum w_i e_i^2\Big]
        \;\big(- \tfrac12 \log\textstyle\sum w_i \text{ when restricted}\big)

    References
    ----------
    Viechtbauer, W. (2005), eqs. 9 and 11.
    """
    return _log_likelihood(batch.mask, *_likelihood_terms(batch, tau2), restricted)


def fisher_step(batch: Batch, tau2: FloatArray, restricted: bool) -> FloatArray:
    r"""Fisher-scoring step: the score divided by the expected information.

    .. math::

        \Delta_{REML} = \frac{y^\top PPy - \operatorname{tr}P}{\operatorname{tr}PP}, \qquad
        \Delta_{ML} = \frac{\sum w_i^2 e_i^2 - \sum w_i}{\sum w_i^2}

    References
    ----------
    Viechtbauer, W. (2005), eqs. 10 and 12; metafor ``rma.uni``.
    """
    _, w, e, sw = _likelihood_terms(batch, tau2)
    # Single-study rows (0/0 here) are never iterated; their value is discarded.
    with np.errstate(invalid="ignore", divide="ignore"):
        return _fisher_ratio(w, e, sw, restricted)


def log_likelihood_and_step(
    batch: Batch, tau2: FloatArray, restricted: bool
) -> tuple[FloatArray, FloatArray]:
    """:func:`log_likelihood` and :func:`fisher_step` at one tau^2, from one set of weights.

    A scoring iteration needs both at the point it moves to (the likelihood to check the
    ascent, the step to take from there): computing the weights and residuals once for the
    two halves the passes over the data. The values are those of the two functions, bit for
    bit.
    """
    spread, w, e, sw = _likelihood_terms(batch, tau2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (
            _log_likelihood(batch.mask, spread, w, e, sw, restricted),
            _fisher_ratio(w, e, sw, restricted),
        )


def _fisher_ratio(w, e, sw, restricted: bool) -> FloatArray:
    sw2 = np.sum(w**2, axis=1)
    ypp = np.sum((w * e) ** 2, axis=1)
    if not restricted:
        return (ypp - sw) / sw2
    # Only tr PP needs the cubes, a libm pow a cell: the costliest term of an evaluation.
    sw3 = np.sum(w**3, axis=1)
    tr_p = sw - sw2 / sw
    tr_pp = sw2 - 2 * sw3 / sw + (sw2 / sw) ** 2
    return (ypp - tr_p) / tr_pp


def hedges_olkin(batch: Batch) -> FloatArray:
    r"""Hedges' unweighted method-of-moments estimator, the starting value of (RE)ML.

    .. math:: \hat\tau^2 = \max\left(0, \frac{\sum (y_i - \bar y)^2}{k-1} - \bar v\right)

    References
    ----------
    Hedges, L. V., & Olkin, I. (1985). *Statistical methods for meta-analysis*, ch. 9;
    metafor ``method = "HE"``.
    """
    k = batch.k
    unweighted = np.where(batch.mask, 1.0, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rss = np.sum(batch.residuals(unweighted) ** 2, axis=1)
        mean_v = np.sum(np.where(batch.mask, batch.v, 0.0), axis=1) / k
        tau2 = rss / (k - 1) - mean_v
    return _single_study_zero(batch, np.maximum(0.0, tau2))


def _maximum_likelihood(batch: Batch, restricted: bool) -> FloatArray:
    """(RE)ML of the intercept-only model; see :func:`restricted_maximum_likelihood`."""

    def evaluate(tau2: FloatArray, rows: IntArray) -> tuple[FloatArray, FloatArray]:
        return log_likelihood_and_step(_rows(batch, rows), tau2, restricted)

    return fisher_scoring_on_rows(
        start=hedges_olkin(batch),
        evaluate=evaluate,
        loglik_rows=lambda t, rows: log_likelihood(_rows(batch, rows), t, restricted),
        always_zero=batch.k == 1,
    )


def safeguarded_fisher_scoring(
    start: FloatArray,
    fisher_step: Callable[[FloatArray], FloatArray],
    loglik: Callable[[FloatArray], FloatArray],
    loglik_rows: Callable[[FloatArray, np.ndarray], FloatArray],
    always_zero: BoolArray | None = None,
) -> FloatArray:
    """:func:`fisher_scoring_on_rows` for a model whose functions take the whole batch.

    Used by meta-regression, which supplies ``fisher_step`` and ``loglik`` over all ``m``
    rows and the row-wise ``loglik_rows`` of its own model. Every evaluation then costs the
    whole batch, however few rows are still moving; the rows are independent, so the others
    are evaluated at tau^2 = 0 and their values discarded.
    """
    m = start.shape[0]

    def evaluate(tau2: FloatArray, rows: IntArray) -> tuple[FloatArray, FloatArray]:
        whole = np.zeros(m)
        whole[rows] = tau2
        with np.errstate(invalid="ignore", divide="ignore"):
            return loglik(whole)[rows], fisher_step(whole)[rows]

    return fisher_scoring_on_rows(start, evaluate, loglik_rows, always_zero)


def fisher_scoring_on_rows(
    start: FloatArray,
    evaluate: Evaluator,
    loglik_rows: Callable[[FloatArray, np.ndarray], FloatArray],
    always_zero: BoolArray | None = None,
) -> FloatArray:
    """Maximize a (restricted) likelihood in tau^2 >= 0 for a batch, by safeguarded scoring.

    From ``start`` each step adds the Fisher step, halved while it would make tau^2 negative
    or lower the likelihood, and once when it reverses the previous step; a row stops when the
    step taken falls below :data:`FISHER_THRESHOLD`. Rows still moving after
    :data:`FISHER_MAX_ITER` steps are finished by :func:`maximize_rows` (on ``loglik_rows``).
    The result is 0 where the start is 0 and the likelihood falls from there, where the walk
    ends on the boundary, or where a local maximum is below the likelihood at 0 (metafor's
    ll0check); ``always_zero`` forces 0 (a single study).

    Rows converge after very different numbers of steps (at k = 10 a median of about 14, a
    few hundred where the likelihood is nearly flat), so each iteration evaluates only the
    rows still moving: the work follows the steps taken, not the slowest row times the batch.
    One evaluation gives the likelihood that checks a step and the Fisher step from its end,
    which is the next step once the first is taken.
    """
    m = start.shape[0]
    boundary, step_at_zero = evaluate(np.zeros(m), np.arange(m))
    falls_from_zero = step_at_zero <= 0
    # Starting on the boundary with the likelihood falling from it, the estimate is 0
    # exactly; iterating would stop at a platform-dependent residue of the threshold's order.
    at_zero = (start == 0) & falls_from_zero
    if always_zero is not None:
        at_zero |= always_zero
    tau2 = np.array(start, dtype=float)
    current = boundary.copy()
    moving = np.flatnonzero(~at_zero)
    current[moving], step = evaluate(tau2[moving], moving)
    previous = np.zeros(moving.size)
    for _ in range(FISHER_MAX_ITER):
        if moving.size == 0:
            break
        from_tau2 = tau2[moving]
        step = np.where(step * previous < 0, step / 2, step)
        step = _keep_nonnegative(from_tau2, step)
        step, current[moving], next_step = _ascend(
            evaluate, moving, from_tau2, current[moving], step
        )
        tau2[moving] = from_tau2 + step
        # Converged when the step actually taken is negligible (metafor: the change in
        # tau^2); at the boundary the raw Fisher step stays large while the halved one shrinks.
        still = np.abs(step) > FISHER_THRESHOLD
        moving, step, previous = moving[still], next_step[still], step[still]
    else:
        exhausted = np.zeros(m, dtype=bool)
        exhausted[moving] = True
        tau2 = maximize_rows(loglik_rows, tau2, exhausted)
        current[moving] = evaluate(tau2[moving], moving)[0]
    # The likelihood need not be unimodal: a local maximum below the boundary's value loses to
    # tau^2 = 0 (metafor's ll0check); and a walk into the boundary ends on it exactly.
    tolerance = LIKELIHOOD_NOISE * np.maximum(1.0, np.abs(boundary))
    on_boundary = falls_from_zero & (boundary >= current - tolerance)
    return np.where(at_zero | on_boundary | (boundary > current + tolerance), 0.0, tau2)


def _keep_nonnegative(tau2: FloatArray, step: FloatArray) -> FloatArray:
    """``step`` halved while it would make tau^2 negative (as metafor does).

    A row walking into the boundary needs dozens of halvings an iteration, so each round
    halves only the steps that still cross it.
    """
    step = step.copy()
    crossing = np.flatnonzero(tau2 + step < 0)
    for _ in range(NEGATIVE_HALVINGS):
        if crossing.size == 0:
            break
        step[crossing] /= 2
        crossing = crossing[tau2[crossing] + step[crossing] < 0]
    return step


def _ascend(
    evaluate: Evaluator, rows: IntArray, tau2: FloatArray, current: FloatArray, step: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``step`` halved while it would lower the likelihood ``current`` of ``rows``.

    Returns the step, the likelihood at its end and the Fisher step from there.
    """
    # Near the flat top, differences in the likelihood drown in rounding: the ascent check
    # only has to catch real overshoots, so it tolerates that noise.
    tolerance = LIKELIHOOD_NOISE * np.maximum(1.0, np.abs(current))
    candidate, next_step = evaluate(tau2 + step, rows)
    for _ in range(ASCENT_HALVINGS):
        falls = candidate < current - tolerance
        if not falls.any():
            break
        step = np.where(falls, step / 2, step)
        candidate, next_step = evaluate(tau2 + step, rows)
    return step, candidate, next_step


def _rows(batch: Batch, rows: IntArray) -> Batch:
    """The meta-analyses ``rows`` (indices) of ``batch``."""
    # np.take copies whole rows about twice as fast as fancy indexing, the same values.
    return Batch(*(np.take(cells, rows, axis=0) for cells in (batch.y, batch.v, batch.mask)))


def maximize_rows(loglik, tau2: FloatArray, rows: BoolArray) -> FloatArray:
    """Bounded one-dimensional maximization of the likelihood for the ``rows`` still moving.

    Fisher scoring converges linearly where the expected information differs much from the
    observed one (a nearly flat likelihood); after :data:`FISHER_MAX_ITER` steps those rows are
    finished by Brent's bounded search on [0, 10 max(tau^2, 1)] to an absolute 1e-13.
    """
    out = tau2.copy()
    for i in np.flatnonzero(rows):
        result = optimize.minimize_scalar(
            lambda t, i=i: -loglik(np.array([t]), np.array([i]))[0],
            bounds=(0.0, 10 * max(float(tau2[i]), 1.0)),
            method="bounded",
            options={"xatol": 1e-13, "maxiter": 10_000},
        )
        out[i] = result.x
    return out


def restricted_maximum_likelihood(batch: Batch) -> FloatArray:
    r"""REML estimator by safeguarded Fisher scoring.

    Each step adds :math:`\Delta_{REML}` (:func:`fisher_step`), starting from metafor's
    starting value (:func:`hedges_olkin`), until it falls below :data:`FISHER_THRESHOLD`; a
    start at 0 from which the likelihood falls gives 0, and so does a local maximum whose
    likelihood is below that at 0. A step is halved while it would make
    tau^2 negative (as metafor does) or lower the restricted likelihood, and once when it
    reverses the previous step's direction. Plain Fisher scoring can overshoot into a two-cycle
    where the expected information is far from the observed one (metafor then stops with "did
    not converge"); damping reversals turns the cycle into a bisection. Neither safeguard moves
    the fixed point, the root of the score.

    References
    ----------
    Viechtbauer, W. (2005). Bias and efficiency of meta-analytic variance estimators in the
    random-effects model. *Journal of Educational and Behavioral Statistics*, 30(3), 261-293,
    eq. 12. metafor ``rma.uni(method = "REML")``.
    """
    return _maximum_likelihood(batch, restricted=True)


def maximum_likelihood(batch: Batch) -> FloatArray:
    r"""ML estimator by safeguarded Fisher scoring (as REML, with :math:`\Delta_{ML}`).

    References
    ----------
    Hardy, R. J., & Thompson, S. G. (1996). A likelihood approach to meta-analysis with random
    effects. *Statistics in Medicine*, 15(6), 619-629. Viechtbauer, W. (2005), eq. 10.
    """
    return _maximum_likelihood(batch, restricted=False)


def _single_study_zero(batch: Batch, tau2: FloatArray) -> FloatArray:
    return np.where(batch.k == 1, 0.0, tau2)


ESTIMATORS: dict[str, Callable[[Batch], FloatArray]] = {
    "REML": restricted_maximum_likelihood,
    "DL": dersimonian_laird,
    "PM": paule_mandel,
    "ML": maximum_likelihood,
    "SJ": sidik_jonkman,
    "EB": empirical_bayes,
    "HE": hedges_olkin,
    "HS": hunter_schmidt,
    "HSk": hunter_schmidt_small_sample,
    "EE": common_effect,
    "FE": common_effect,
}


def estimate_tau2(batch: Batch, method: str) -> FloatArray:
    """Dispatch to the estimator named ``method`` (one of :data:`ESTIMATORS`)."""
    if method not in ESTIMATORS:
        raise ValueError(f"unknown tau^2 method {method!r}; choose from {sorted(ESTIMATORS)}")
    return ESTIMATORS[method](batch)


def q_profile_interval(batch: Batch, level: float = 0.95) -> tuple[FloatArray, FloatArray]:
    r"""Q-profile confidence interval for tau^2.

    The bounds solve :math:`Q_{gen}(\tau^2) = \chi^2_{k-1, 1-\alpha/2}` (lower bound) and
    :math:`\chi^2_{k-1, \alpha/2}` (upper bound); a bound is 0 where Q at tau^2 = 0 is already
    below its quantile.

    References
    ----------
    Viechtbauer, W. (2007). Confidence intervals for the amount of heterogeneity in
    meta-analysis. *Statistics in Medicine*, 26(1), 37-52, eq. 6; metafor
    ``confint.rma.uni(type = "QP")``.
    """
    if np.any(batch.k < 2):
        raise ValueError("a confidence interval for tau^2 needs at least 2 studies")
    df = batch.k - 1
    alpha = 1 - level
    lower = _decreasing_root(batch.generalized_q, chi2_isf(alpha / 2, df), batch)
    upper = _decreasing_root(batch.generalized_q, chi2_ppf(alpha / 2, df), batch)
    return lower, upper
