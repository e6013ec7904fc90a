r"""Bayesian random-effects meta-analysis by direct numerical integration over tau.

The normal-normal hierarchical model (Röver 2020) with moderators ``X`` (``X = 1`` for the
intercept-only model, whose coefficient is mu):

.. math::

    y_i \mid \theta_i \sim N(\theta_i, v_i), \qquad
    \theta_i \mid \beta, \tau \sim N(x_i^\top \beta, \tau^2), \qquad
    \tau \sim p(\tau), \qquad \beta_j \sim N(b_j, s_j^2) \text{ or uniform}.

Given tau the coefficients have a normal posterior (:math:`w_i = 1 / (v_i + \tau^2)`,
:math:`\Lambda` the prior precisions, 0 for a uniform prior):

.. math::

    \beta \mid \tau, y \sim N\big(P^{-1}(X^\top W y + \Lambda b),\; P^{-1}\big), \qquad
    P = X^\top W X + \Lambda,

and the likelihood of tau, with the coefficients integrated out, is

.. math::

    \log L(\tau) = -\tfrac{k - p_0}{2}\log 2\pi - \tfrac12 \sum_i \log(v_i + \tau^2)
    - \tfrac12 \log\lvert P\rvert + \tfrac12 \sum_{j:\,\text{proper}} \log \Lambda_{jj}
    - \tfrac12\big(r^\top W r - c^\top P^{-1} c\big),

with :math:`r = y - Xb`, :math:`c = X^\top W r` and :math:`p_0` the number of coefficients
with a uniform prior. The posterior of tau is :math:`p(\tau)L(\tau)` normalised, and every
posterior of a coefficient, of a new trial's effect (``tau^2`` added to the variance) or of a
trial's own effect (the shrunken estimate) is a mixture over tau of normal distributions. The
integrals over tau are computed, as bayesmeta computes them, by quadrature rather than by
sampling, so results are deterministic: here composite Gauss-Legendre over
:math:`u \in (0, 1)` with :math:`\tau = s\,u / (1 - u)` (``s`` a typical tau), which maps the
half-line to a finite interval on which the integrand is smooth and bounded for every prior
offered. :data:`PANELS` x :data:`NODES_PER_PANEL` nodes integrate it to about machine precision
(tests/test_bayes.py compares against twice as many nodes and against R's ``integrate``).

References
----------
Röver, C. (2020). Bayesian random-effects meta-analysis using the bayesmeta R package.
*Journal of Statistical Software*, 93(6).
Friede, T., Röver, C., Wandel, S., & Neuenschwander, B. (2017). Meta-analysis of few small
studies in orphan diseases. *Research Synthesis Methods*, 8(1), 79-91.
Gelman, A., Carlin, J. B., Stern, H. S., et al. (2013). *Bayesian Data Analysis*, 3rd ed.,
section 5.4 (the marginal posterior of the hierarchical standard deviation).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special

from ketamine_meta.stats.bayes_priors import (
    MuPrior,
    NormalMuPrior,
    PriorError,
    TauPrior,
    UniformMuPrior,
)
from ketamine_meta.stats.model import confidence_level

FloatArray = NDArray[np.float64]

#: Composite Gauss-Legendre rule over u in (0, 1): equal panels, each with its own nodes.
PANELS = 32
NODES_PER_PANEL = 16
LOG_2PI = math.log(2 * math.pi)


@dataclass(frozen=True)
class BayesSpec:
    """The specification of a Bayesian fit: priors and the credible level.

    Carried by every fit, as metafor's fits carry ``x$method``. ``level`` is a fraction or a
    percentage (95 -> 0.95), normalised once here.
    """

    tau_prior: TauPrior
    mu_prior: MuPrior = field(default_factory=UniformMuPrior)
    level: float = 0.95

    def __post_init__(self) -> None:
        object.__setattr__(self, "level", confidence_level(self.level))

    def __str__(self) -> str:
        return f"tau ~ {self.tau_prior}; mu ~ {self.mu_prior}"


@functools.lru_cache(maxsize=8)
def _legendre_nodes(nodes: int) -> tuple[FloatArray, FloatArray]:
    """Gauss-Legendre nodes and weights on [-1, 1], computed once per order.

    A quantile search integrates thousands of times with the same order.
    """
    xi, omega = np.polynomial.legendre.leggauss(nodes)
    xi.flags.writeable = omega.flags.writeable = False
    return xi, omega


def gauss_legendre_panels(
    lower: float, upper: float, panels: int = PANELS, nodes: int = NODES_PER_PANEL
) -> tuple[FloatArray, FloatArray]:
    """Nodes and weights of the composite Gauss-Legendre rule on ``[lower, upper]``."""
    xi, omega = _legendre_nodes(nodes)
    edges = np.linspace(lower, upper, panels + 1)
    half = np.diff(edges)[:, None] / 2
    middle = (edges[:-1, None] + edges[1:, None]) / 2
    return (middle + half * xi).ravel(), (half * omega).ravel()


class NormalMixture:
    r"""A finite mixture of normal distributions, :math:`\sum_j w_j N(m_j, s_j^2)`.

    The posterior of a coefficient, of a new trial and of a trial's own effect all have this
    form, with one component per quadrature node over tau.
    """

    def __init__(self, weights: ArrayLike, means: ArrayLike, sds: ArrayLike) -> None:
        keep = np.asarray(weights, dtype=float) > 0
        self.weights = np.asarray(weights, dtype=float)[keep]
        self.means = np.broadcast_to(np.asarray(means, dtype=float), keep.shape)[keep]
        self.sds = np.broadcast_to(np.asarray(sds, dtype=float), keep.shape)[keep]

    def cdf(self, x: float) -> float:
        """Distribution function at ``x``."""
        return float((self.weights * special.ndtr((x - self.means) / self.sds)).sum())

    def sf(self, x: float) -> float:
        """``P(X > x)``, summed from upper tails so that it is accurate where it is small."""
        return float((self.weights * special.ndtr((self.means - x) / self.sds)).sum())

    def pdf(self, x: float) -> float:
        """Density at ``x``."""
        z = (x - self.means) / self.sds
        density = (self.weights * np.exp(-0.5 * z**2) / self.sds).sum()
        return float(density) / math.sqrt(2 * math.pi)

    def mean(self) -> float:
        """Mixture mean, ``sum w_j m_j``."""
        return float((self.weights * self.means).sum())

    def sd(self) -> float:
        """Mixture SD, from ``sum w_j (s_j^2 + m_j^2) - mean^2``, centred for accuracy."""
        centred = self.means - self.mean()
        return math.sqrt(float((self.weights * (self.sds**2 + centred**2)).sum()))

    def quantile(self, q: float) -> float:
        """The ``q`` quantile, by Brent's method to a relative tolerance of 4 machine epsilons."""
        if not 0 < q < 1:
            raise ValueError(f"a quantile needs 0 < q < 1, not {q!r}")
        spread = 40 * float(self.sds.max())
        low, high = float(self.means.min()) - spread, float(self.means.max()) + spread

        def gap(x: float) -> float:
            # The smaller tail is summed directly, so that a far quantile keeps its digits.
            return self.cdf(x) - q if q <= 0.5 else (1 - q) - self.sf(x)

        return optimize.brentq(
            gap, low, high, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500
        )

    def equal_tailed(self, level: float) -> tuple[float, float]:
        """The equal-tailed credible interval at ``level``."""
        alpha = 1 - level
        return self.quantile(alpha / 2), self.quantile(1 - alpha / 2)

    def shortest(self, level: float) -> tuple[float, float]:
        """The shortest interval holding ``level`` of the mass (for a unimodal mixture).

        Its ends have equal density: the lower tail ``p`` solves
        ``pdf(q(p)) = pdf(q(p + level))`` on ``(0, 1 - level)``.
        """
        alpha = 1 - level
        edge = alpha * 1e-9

        def gap(p: float) -> float:
            return self.pdf(self.quantile(p)) - self.pdf(self.quantile(p + level))

        lower_tail = optimize.brentq(gap, edge, alpha - edge, xtol=1e-15, maxiter=500)
        return self.quantile(lower_tail), self.quantile(lower_tail + level)


def tail_integrable(prior: TauPrior, trials: ArrayLike, flat: int, power: int = 0):
    """Whether ``E[tau^power | y]`` is finite (``power = 0``: whether the posterior is proper).

    For large tau the posterior falls as ``tau^-(a + k - p0)``: the prior's tail ``a`` times
    the likelihood's, ``p0`` the coefficients with uniform priors. ``tau^power`` times it is
    integrable when the exponent left exceeds 1, or equals 1 under a log-damped prior.
    ``trials`` may be an array (a batch).
    """
    excess = prior.tail_exponent + np.asarray(trials) - flat - power
    return (excess > 1) | ((excess == 1) & prior.log_damped)


def _inverse_and_log_det(matrices: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Inverse and log-determinant of each small SPD matrix of ``(n, p, p)``, by Cholesky.

    Written out in elementwise NumPy rather than ``numpy.linalg``: LAPACK's results depend in
    their last bits on the BLAS kernel a machine picks, and the tables written from these
    numbers must be the same bytes on every machine. ``p`` is 1 to 3 here.
    """
    p = matrices.shape[1]
    lower = np.zeros_like(matrices)
    for j in range(p):
        pivot = matrices[:, j, j] - (lower[:, j, :j] ** 2).sum(axis=1)
        lower[:, j, j] = np.sqrt(pivot)
        for i in range(j + 1, p):
            cross = (lower[:, i, :j] * lower[:, j, :j]).sum(axis=1)
            lower[:, i, j] = (matrices[:, i, j] - cross) / lower[:, j, j]
    # L^-1 by forward substitution, then (L L^T)^-1 = L^-T L^-1.
    inverse_lower = np.zeros_like(matrices)
    for i in range(p):
        inverse_lower[:, i, i] = 1 / lower[:, i, i]
        for j in range(i):
            partial = (lower[:, i, j:i] * inverse_lower[:, j:i, j]).sum(axis=1)
            inverse_lower[:, i, j] = -partial / lower[:, i, i]
    inverse = np.einsum("nki,nkj->nij", inverse_lower, inverse_lower)
    log_det = 2 * np.log(np.diagonal(lower, axis1=1, axis2=2)).sum(axis=1)
    return inverse, log_det


@dataclass(frozen=True)
class _Conditional:
    """What the model gives at each tau node: log L(tau), and beta's normal posterior given tau."""

    log_likelihood: FloatArray  # (n,)
    mean: FloatArray  # (n, p)
    cov: FloatArray  # (n, p, p)


@dataclass(frozen=True)
class _Design:
    yi: FloatArray
    vi: FloatArray
    x: FloatArray
    prior_mean: FloatArray
    prior_precision: FloatArray

    @property
    def flat(self) -> int:
        return int(np.sum(self.prior_precision == 0))

    def conditional(self, tau: FloatArray) -> _Conditional:
        """Log L(tau) and the posterior of beta given tau, at every tau in ``tau``."""
        k = self.x.shape[0]
        weights = 1 / (self.vi[None, :] + tau[:, None] ** 2)
        precision = np.einsum("nk,ki,kj->nij", weights, self.x, self.x)
        precision += np.diag(self.prior_precision)[None]
        residual = self.yi - (self.x * self.prior_mean).sum(axis=1)
        score = np.einsum("nk,ki,k->ni", weights, self.x, residual)
        cov, log_det = _inverse_and_log_det(precision)
        shift = np.einsum("nij,nj->ni", cov, score)
        proper = self.prior_precision > 0
        log_likelihood = (
            -(k - self.flat) / 2 * LOG_2PI
            + 0.5 * np.log(weights).sum(axis=1)
            - 0.5 * log_det
            + 0.5 * np.log(self.prior_precision[proper]).sum()
            - 0.5 * ((weights * residual**2).sum(axis=1) - np.einsum("ni,ni->n", score, shift))
        )
        return _Conditional(log_likelihood, self.prior_mean + shift, cov)


@dataclass(frozen=True)
class BayesianFit:
    """A Bayesian random-effects fit (bayesmeta's ``bayesmeta`` object, as quadrature nodes).

    Attributes
    ----------
    spec : BayesSpec
        Priors and level fitted.
    yi, vi : numpy.ndarray
        Estimates and sampling variances.
    x : numpy.ndarray
        Model matrix ``(k, p)``, columns named by ``terms``.
    terms : tuple of str
        Coefficient names; ``("intrcpt",)`` for the intercept-only model, whose coefficient is mu.
    tau_scale : float
        The typical tau ``s`` of the map ``tau = s u / (1 - u)``.
    tau : numpy.ndarray
        Quadrature nodes over tau.
    weights : numpy.ndarray
        Posterior weight of each node (sums to 1).
    mean, cov : numpy.ndarray
        Posterior mean ``(n, p)`` and covariance ``(n, p, p)`` of the coefficients at each node.
    log_evidence : float
        ``log`` of the integral of prior x likelihood over tau; the log marginal likelihood
        when every prior is proper (:attr:`log_marginal_likelihood`).
    """

    spec: BayesSpec
    yi: FloatArray
    vi: FloatArray
    x: FloatArray
    terms: tuple[str, ...]
    tau_scale: float
    tau: FloatArray
    weights: FloatArray
    mean: FloatArray
    cov: FloatArray
    log_evidence: float
    design: _Design

    @property
    def k(self) -> int:
        """Number of trials."""
        return int(self.yi.size)

    @property
    def p(self) -> int:
        """Number of coefficients (1 without moderators)."""
        return int(self.x.shape[1])

    def tau_moment_finite(self, order: int) -> bool:
        """Whether ``E[tau^order | y]`` is finite (it is not under heavy tails and few trials)."""
        return bool(tail_integrable(self.spec.tau_prior, self.k, self.design.flat, order))

    @property
    def log_marginal_likelihood(self) -> float:
        """``log p(y)``, or NaN where a prior is improper and it is not defined (bayesmeta)."""
        proper = self.spec.tau_prior.proper and self.design.flat == 0
        return self.log_evidence if proper else math.nan

    def coefficient(self, term: str | int = 0) -> NormalMixture:
        """The posterior of one coefficient (``0``: the intercept, mu without moderators)."""
        j = self.terms.index(term) if isinstance(term, str) else term
        return NormalMixture(self.weights, self.mean[:, j], np.sqrt(self.cov[:, j, j]))

    def predictive(self, x_new: ArrayLike | None = None) -> NormalMixture:
        """The posterior predictive distribution of a new trial's true effect at ``x_new``.

        By default the new trial has every moderator at 0 (``x_new = (1, 0, ...)``): the
        intercept-only model's new trial, or the reference level of a contrast.
        """
        x_new = np.eye(self.p)[0] if x_new is None else np.asarray(x_new, dtype=float)
        means = (self.mean * x_new).sum(axis=1)
        variances = np.einsum("i,nij,j->n", x_new, self.cov, x_new) + self.tau**2
        return NormalMixture(self.weights, means, np.sqrt(variances))

    def shrunken(self, i: int) -> NormalMixture:
        r"""The posterior of trial ``i``'s own effect :math:`\theta_i` (its shrunken estimate).

        Given tau, with :math:`b_i = v_i / (v_i + \tau^2)`: mean
        :math:`y_i - b_i (y_i - x_i^\top\hat\beta)`, variance
        :math:`v_i (1 - b_i) + b_i^2\, x_i^\top \Sigma x_i`.
        """
        shrink = self.vi[i] / (self.vi[i] + self.tau**2)
        fitted = (self.mean * self.x[i]).sum(axis=1)
        fitted_var = np.einsum("i,nij,j->n", self.x[i], self.cov, self.x[i])
        means = self.yi[i] - shrink * (self.yi[i] - fitted)
        variances = self.vi[i] * (1 - shrink) + shrink**2 * fitted_var
        return NormalMixture(self.weights, means, np.sqrt(variances))

    def tau_cdf(self, tau: float) -> float:
        """``P(tau' <= tau | y)``, integrated afresh up to ``tau`` (not read off the nodes)."""
        if tau <= 0:
            return 0.0
        u = tau / (tau + self.tau_scale)
        whole = int(u * PANELS)
        below = float(self.weights[: whole * NODES_PER_PANEL].sum())
        nodes, node_weights = gauss_legendre_panels(whole / PANELS, u, 1, NODES_PER_PANEL)
        part = np.exp(
            _log_density_u(self.design, self.spec, self.tau_scale, nodes) - self.log_evidence
        )
        return min(1.0, below + float((part * node_weights).sum()))

    def tau_pdf(self, tau: ArrayLike) -> FloatArray:
        """Posterior density of tau, ``p(tau) L(tau) / p(y)``, at each ``tau > 0``."""
        tau = np.atleast_1d(np.asarray(tau, dtype=float))
        log_joint = (
            self.spec.tau_prior.log_density(tau) + self.design.conditional(tau).log_likelihood
        )
        return np.exp(log_joint - self.log_evidence)

    def tau_quantile(self, q: float) -> float:
        """The ``q`` quantile of tau's posterior."""

        def gap(u: float) -> float:
            return self.tau_cdf(self.tau_scale * u / (1 - u)) - q

        u = optimize.brentq(
            gap, 1e-300, 1 - 1e-15, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500
        )
        return self.tau_scale * u / (1 - u)

    def prob_above(self, threshold: float, term: str | int = 0) -> float:
        """Posterior probability that a coefficient (default mu) exceeds ``threshold``."""
        return self.coefficient(term).sf(threshold)

    def summary(self, thresholds: Sequence[float] = ()) -> dict[str, float]:
        """The posterior of mu (the intercept), tau and a new trial, by bayesmeta's summaries.

        ``ci_*`` is the equal-tailed credible interval, ``hpd_*`` the shortest, ``pi_*`` the
        equal-tailed interval of the posterior predictive distribution; ``mu_sd`` and the
        predictive SD are infinite where tau^2 has no posterior mean (heavy-tailed prior, few
        trials), and are reported so rather than as a finite number of the quadrature.
        """
        level = self.spec.level
        alpha = 1 - level
        mu = self.coefficient(0)
        predictive = self.predictive()
        flat_mu = self.design.prior_precision[0] == 0
        variance_finite = self.tau_moment_finite(2)
        row = {
            "k": self.k,
            "mu_mean": mu.mean(),
            "mu_sd": mu.sd() if (variance_finite or not flat_mu) else math.inf,
            "mu_median": mu.quantile(0.5),
            "ci_low": mu.quantile(alpha / 2),
            "ci_high": mu.quantile(1 - alpha / 2),
        }
        row["hpd_low"], row["hpd_high"] = mu.shortest(level)
        row.update(
            tau_median=self.tau_quantile(0.5),
            tau_low=self.tau_quantile(alpha / 2),
            tau_high=self.tau_quantile(1 - alpha / 2),
            pi_low=predictive.quantile(alpha / 2),
            pi_high=predictive.quantile(1 - alpha / 2),
            log_marginal_likelihood=self.log_marginal_likelihood,
        )
        for threshold in thresholds:
            row[f"prob_above_{threshold:g}"] = self.prob_above(threshold)
        return row

    def shrinkage_table(self) -> pd.DataFrame:
        """Each trial's estimate beside its posterior (shrunken) mean, median and interval."""
        alpha = 1 - self.spec.level
        rows = []
        for i in range(self.k):
            theta = self.shrunken(i)
            rows.append(
                {
                    "yi": self.yi[i],
                    "vi": self.vi[i],
                    "theta_mean": theta.mean(),
                    "theta_sd": theta.sd(),
                    "theta_median": theta.quantile(0.5),
                    "theta_low": theta.quantile(alpha / 2),
                    "theta_high": theta.quantile(1 - alpha / 2),
                }
            )
        return pd.DataFrame(rows)


def _typical_tau(prior: TauPrior, vi: FloatArray) -> float:
    """The scale ``s`` of the map to (0, 1): the prior's median tau, else the data's SE."""
    typical = prior.typical_tau()
    return typical if math.isfinite(typical) else float(np.sqrt(np.median(vi)))


def _log_joint_u(
    prior: TauPrior, log_likelihood: FloatArray, scale: ArrayLike, u: FloatArray
) -> FloatArray:
    """``log p(tau) + log L(tau) + log |d tau / d u|`` at ``tau = scale u / (1 - u)``.

    The integrand over u of every integral over tau; ``scale`` is one number, or one per row
    of a batch (``u`` then ``(m, n)``).
    """
    scale = np.asarray(scale, dtype=float)
    column = scale[:, None] if scale.ndim else scale
    tau = column * u / (1 - u)
    return prior.log_density(tau) + log_likelihood + (np.log(column) - 2 * np.log1p(-u))


def _log_density_u(design: _Design, spec: BayesSpec, scale: float, u: FloatArray) -> FloatArray:
    """:func:`_log_joint_u` of a scalar fit at new nodes ``u`` (its likelihood evaluated there)."""
    tau = scale * u / (1 - u)
    return _log_joint_u(spec.tau_prior, design.conditional(tau).log_likelihood, scale, u)


def _coefficient_priors(spec: BayesSpec, p: int) -> tuple[FloatArray, FloatArray]:
    """Prior means and precisions of the coefficients: ``mu_prior`` on the intercept, flat else."""
    mean, precision = np.zeros(p), np.zeros(p)
    if isinstance(spec.mu_prior, NormalMuPrior):
        mean[0], precision[0] = spec.mu_prior.mean, spec.mu_prior.sd**-2
    return mean, precision


def _checked_data(yi: ArrayLike, vi: ArrayLike, x: FloatArray) -> tuple[FloatArray, FloatArray]:
    yi = np.asarray(yi, dtype=float).ravel()
    vi = np.asarray(vi, dtype=float).ravel()
    if yi.size == 0 or yi.size != vi.size or x.shape[0] != yi.size:
        raise ValueError(
            f"yi ({yi.size}), vi ({vi.size}) and the moderators ({x.shape[0]} rows) must "
            "have the same positive length"
        )
    if not np.all(np.isfinite(yi)):
        raise ValueError("yi holds a missing or infinite value")
    if not (np.all(np.isfinite(vi)) and np.all(vi > 0)):
        raise ValueError("every sampling variance vi must be positive and finite")
    return yi, vi


def bayesian_meta_analysis(
    yi: ArrayLike,
    vi: ArrayLike,
    spec: BayesSpec,
    mods: ArrayLike | None = None,
    terms: Sequence[str] | None = None,
) -> BayesianFit:
    """Fit the normal-normal hierarchical model by quadrature over tau.

    Parameters
    ----------
    yi, vi : array_like
        Estimates and their sampling variances.
    spec : BayesSpec
        Priors on tau and on mu (the intercept), and the credible level.
    mods : array_like, optional
        Moderators ``(k, q)`` (one or two: an enantiomer or route contrast); an intercept is
        added, and their coefficients have uniform priors.
    terms : sequence of str, optional
        Names of the moderators.

    Raises
    ------
    PriorError
        If the posterior would be improper (an improper tau prior with too few trials), or
        there are fewer trials than coefficients with uniform priors.
    """
    k = np.asarray(yi).size
    x = np.ones((k, 1))
    names: tuple[str, ...] = ("intrcpt",)
    if mods is not None:
        moderators = np.asarray(mods, dtype=float).reshape(k, -1)
        x = np.column_stack([x, moderators])
        names += (
            tuple(terms)
            if terms is not None
            else tuple(f"mod{j + 1}" for j in range(moderators.shape[1]))
        )
    yi, vi = _checked_data(yi, vi, x)
    prior_mean, prior_precision = _coefficient_priors(spec, x.shape[1])
    design = _Design(yi, vi, x, prior_mean, prior_precision)
    _check_identified(design, spec)
    scale = _typical_tau(spec.tau_prior, vi)
    u, gl_weights = gauss_legendre_panels(0.0, 1.0)
    tau = scale * u / (1 - u)
    conditional = design.conditional(tau)
    log_joint = _log_joint_u(spec.tau_prior, conditional.log_likelihood, scale, u) + np.log(
        gl_weights
    )
    log_evidence = float(special.logsumexp(log_joint))
    return BayesianFit(
        spec=spec,
        yi=yi,
        vi=vi,
        x=x,
        terms=names,
        tau_scale=scale,
        tau=tau,
        weights=np.exp(log_joint - log_evidence),
        mean=conditional.mean,
        cov=conditional.cov,
        log_evidence=log_evidence,
        design=design,
    )


def _check_identified(design: _Design, spec: BayesSpec) -> None:
    """Refuse a model whose posterior is improper, with the reason."""
    k = design.yi.size
    if np.linalg.matrix_rank(design.x) < design.x.shape[1]:
        raise PriorError("the moderators are collinear with the intercept or each other")
    if k < design.flat:
        raise PriorError(
            f"{k} trial(s) cannot identify {design.flat} coefficient(s) with uniform priors"
        )
    prior = spec.tau_prior
    tail = prior.tail_exponent + k - design.flat
    if not tail_integrable(prior, k, design.flat):
        raise PriorError(
            f"the posterior of tau is improper with {prior} and {k} trial(s): its density "
            f"falls as tau^-{tail:g} for large tau; give a proper prior on tau (halfnormal, "
            "halfcauchy, lognormal, logt) or more trials"
        )


@dataclass(frozen=True)
class BayesianBatch:
    """Bayesian fits of ``m`` intercept-only meta-analyses; every attribute has length ``m``.

    The columns of :meth:`BayesianFit.summary` but the shortest intervals and tau's interval,
    computed on the same quadrature nodes as the scalar fit (tests hold them equal).
    """

    k: NDArray[np.int64]
    mu_mean: FloatArray
    mu_sd: FloatArray
    mu_median: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    tau_median: FloatArray
    pi_low: FloatArray
    pi_high: FloatArray
    prob_above: dict[float, FloatArray]
    spec: BayesSpec

    def to_frame(self) -> pd.DataFrame:
        """One row per meta-analysis, the probabilities as ``prob_above_T`` columns."""
        columns = {
            name: getattr(self, name)
            for name in (
                "k",
                "mu_mean",
                "mu_sd",
                "mu_median",
                "ci_low",
                "ci_high",
                "tau_median",
                "pi_low",
                "pi_high",
            )
        }
        columns.update({f"prob_above_{t:g}": p for t, p in self.prob_above.items()})
        return pd.DataFrame(columns)


#: Meta-analyses x nodes x trials in one block of :func:`bayesian_batch`, which bounds the
#: memory of the temporaries (2**22 cells: 32 MB an array) and changes no bit of a result.
BAYES_BLOCK_CELLS = 1 << 22


def _batch_log_likelihood(
    yi: FloatArray, vi: FloatArray, tau: FloatArray, prior: MuPrior
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Log L(tau), and mu's mean and variance given tau, for rows ``(m, k)`` at nodes ``(m, n)``.

    Absent trials are NaN in ``yi`` and ``vi``; they enter no sum.
    """
    present = np.isfinite(yi)
    k = present.sum(axis=1)
    weights = np.where(
        present[:, None, :], 1 / (np.where(present, vi, 1)[:, None, :] + tau[:, :, None] ** 2), 0.0
    )
    y = np.where(present, yi, 0.0)[:, None, :]
    if isinstance(prior, NormalMuPrior):
        residual, precision0 = y - prior.mean, prior.sd**-2
        flat, log_prior_precision = 0, math.log(precision0)
    else:
        residual, precision0, flat, log_prior_precision = y, 0.0, 1, 0.0
    precision = weights.sum(axis=2) + precision0
    score = (weights * residual).sum(axis=2)
    shift = score / precision
    log_weights = np.log(np.where(present[:, None, :], weights, 1.0)).sum(axis=2)
    log_likelihood = (
        -(k[:, None] - flat) / 2 * LOG_2PI
        + 0.5 * log_weights
        - 0.5 * np.log(precision)
        + 0.5 * log_prior_precision
        - 0.5 * ((weights * residual**2).sum(axis=2) - score * shift)
    )
    prior_mean = prior.mean if isinstance(prior, NormalMuPrior) else 0.0
    return log_likelihood, prior_mean + shift, 1 / precision


def _mixture_quantiles(
    weights: FloatArray, means: FloatArray, sds: FloatArray, q: float
) -> FloatArray:
    """The ``q`` quantile of each row's normal mixture, by safeguarded Newton steps.

    The bracket ``[low, high]`` always holds the root; a Newton step that leaves it is replaced
    by bisection. A row stops when its step is within ``1e-15 + 4 eps |x|`` (the tolerance of
    :meth:`NormalMixture.quantile`, whose Brent iteration stops there) and leaves the
    iteration, so that the rows still moving are the only ones computed.
    """
    spread = 40 * sds.max(axis=1)
    low, high = means.min(axis=1) - spread, means.max(axis=1) + spread
    # Start from the normal with the mixture's mean and SD: a few Newton steps from the root.
    mean = (weights * means).sum(axis=1)
    sd = np.sqrt((weights * (sds**2 + (means - mean[:, None]) ** 2)).sum(axis=1))
    x = np.clip(mean + float(special.ndtri(q)) * sd, low, high)
    upper_tail = q > 0.5
    target = 1 - q if upper_tail else q
    active = np.arange(x.size)
    for _ in range(200):
        if active.size == 0:
            break
        w, m, s, xa = weights[active], means[active], sds[active], x[active]
        z = (xa[:, None] - m) / s
        if upper_tail:
            gap = target - (w * special.ndtr(-z)).sum(axis=1)
        else:
            gap = (w * special.ndtr(z)).sum(axis=1) - target
        density = (w * np.exp(-0.5 * z**2) / s).sum(axis=1) / math.sqrt(2 * math.pi)
        low[active] = np.where(gap < 0, xa, low[active])
        high[active] = np.where(gap > 0, xa, high[active])
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = xa - gap / density
        inside = (newton > low[active]) & (newton < high[active])
        step = np.where(gap == 0, xa, np.where(inside, newton, (low[active] + high[active]) / 2))
        x[active] = step
        moving = np.abs(step - xa) > 1e-15 + 4 * np.finfo(float).eps * np.abs(xa)
        active = active[moving]
    return x


def _batch_tau_median(
    yi: FloatArray,
    vi: FloatArray,
    spec: BayesSpec,
    scale: FloatArray,
    weights: FloatArray,
    log_evidence: FloatArray,
) -> FloatArray:
    """Each row's posterior median of tau, integrated afresh within its panel.

    As :meth:`BayesianFit.tau_cdf`: the panels below by their nodes, the panel of the median
    by its own Gauss-Legendre rule up to the point bisected.
    """
    m = yi.shape[0]
    panel_mass = weights.reshape(m, PANELS, NODES_PER_PANEL).sum(axis=2)
    below = np.cumsum(panel_mass, axis=1) - panel_mass
    panel = np.minimum((np.cumsum(panel_mass, axis=1) < 0.5).sum(axis=1), PANELS - 1)
    start = panel / PANELS
    low, high = start.copy(), start + 1 / PANELS
    xi, omega = np.polynomial.legendre.leggauss(NODES_PER_PANEL)
    for _ in range(60):
        u = (low + high) / 2
        half = (u - start) / 2
        nodes = (start + half)[:, None] + half[:, None] * xi
        tau = scale[:, None] * nodes / (1 - nodes)
        log_likelihood, _, _ = _batch_log_likelihood(yi, vi, tau, spec.mu_prior)
        log_density = _log_joint_u(spec.tau_prior, log_likelihood, scale, nodes)
        cdf = (
            below[np.arange(m), panel]
            + (np.exp(log_density - log_evidence[:, None]) * omega).sum(axis=1) * half
        )
        low, high = np.where(cdf < 0.5, u, low), np.where(cdf < 0.5, high, u)
    u = (low + high) / 2
    return scale * u / (1 - u)


def bayesian_batch(
    yi: ArrayLike, vi: ArrayLike, spec: BayesSpec, thresholds: Sequence[float] = ()
) -> BayesianBatch:
    """Fit many intercept-only meta-analyses at once: rows of ``yi`` and ``vi``, NaN-padded.

    Each row is what :func:`bayesian_meta_analysis` gives for its trials, on the same nodes;
    rows are fitted in blocks of at most :data:`BAYES_BLOCK_CELLS` cells.

    Raises
    ------
    PriorError
        If a row's posterior would be improper (see :func:`bayesian_meta_analysis`).
    """
    yi = np.atleast_2d(np.asarray(yi, dtype=float))
    vi = np.atleast_2d(np.asarray(vi, dtype=float))
    k = np.isfinite(yi).sum(axis=1)
    if (
        np.any(k == 0)
        or np.any(np.isfinite(yi) != np.isfinite(vi))
        or np.any(vi[np.isfinite(vi)] <= 0)
    ):
        raise ValueError(
            "every row needs at least one trial, each with an estimate and a positive variance"
        )
    flat = 0 if isinstance(spec.mu_prior, NormalMuPrior) else 1
    if not tail_integrable(spec.tau_prior, k.min(), flat):
        raise PriorError(
            f"the posterior of tau is improper with {spec.tau_prior} and {k.min()} trial(s)"
        )
    rows = max(1, BAYES_BLOCK_CELLS // (PANELS * NODES_PER_PANEL * yi.shape[1]))
    blocks = [
        _batch_block(yi[i : i + rows], vi[i : i + rows], spec, thresholds)
        for i in range(0, yi.shape[0], rows)
    ]
    merged = {
        name: np.concatenate([b[name] for b in blocks])
        for name in blocks[0]
        if name != "prob_above"
    }
    prob_above = {t: np.concatenate([b["prob_above"][t] for b in blocks]) for t in thresholds}
    return BayesianBatch(k=k, prob_above=prob_above, spec=spec, **merged)


def _batch_block(
    yi: FloatArray, vi: FloatArray, spec: BayesSpec, thresholds: Sequence[float]
) -> dict:
    alpha = 1 - spec.level
    typical = spec.tau_prior.typical_tau()
    if math.isfinite(typical):
        scale = np.full(yi.shape[0], typical)
    else:
        scale = np.sqrt(np.nanmedian(vi, axis=1))
    u, gl_weights = gauss_legendre_panels(0.0, 1.0)
    tau = scale[:, None] * u / (1 - u)
    log_likelihood, means, variances = _batch_log_likelihood(yi, vi, tau, spec.mu_prior)
    log_joint = _log_joint_u(spec.tau_prior, log_likelihood, scale, u) + np.log(gl_weights)
    log_evidence = special.logsumexp(log_joint, axis=1)
    weights = np.exp(log_joint - log_evidence[:, None])
    sds = np.sqrt(variances)
    predictive_sds = np.sqrt(variances + tau**2)
    mu_mean = (weights * means).sum(axis=1)
    mu_sd = np.sqrt((weights * (variances + (means - mu_mean[:, None]) ** 2)).sum(axis=1))
    k = np.isfinite(yi).sum(axis=1)
    if not isinstance(spec.mu_prior, NormalMuPrior):
        mu_sd = np.where(tail_integrable(spec.tau_prior, k, 1, 2), mu_sd, np.inf)
    return {
        "mu_mean": mu_mean,
        "mu_sd": mu_sd,
        "mu_median": _mixture_quantiles(weights, means, sds, 0.5),
        "ci_low": _mixture_quantiles(weights, means, sds, alpha / 2),
        "ci_high": _mixture_quantiles(weights, means, sds, 1 - alpha / 2),
        "tau_median": _batch_tau_median(yi, vi, spec, scale, weights, log_evidence),
        "pi_low": _mixture_quantiles(weights, means, predictive_sds, alpha / 2),
        "pi_high": _mixture_quantiles(weights, means, predictive_sds, 1 - alpha / 2),
        "prob_above": {
            t: (weights * special.ndtr((means - t) / sds)).sum(axis=1) for t in thresholds
        },
    }
