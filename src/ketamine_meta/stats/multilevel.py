r"""Multivariate random-effects models of repeated measurements (effects over time).

Each cluster (a trial's comparison) has effects at several times, :math:`y = X\beta + u +
\varepsilon` with :math:`\varepsilon \sim N(0, V)` (``V`` holds the sampling covariance of a
cluster's timepoints) and :math:`u \sim N(0, G(\theta))`, block-diagonal by cluster, with an
autoregressive correlation over the ordered time levels:

- ``AR``:  :math:`G_{ij} = \tau^2 \rho^{|a_i - a_j|}`
- ``HAR``: :math:`G_{ij} = \tau_{a_i} \tau_{a_j} \rho^{|a_i - a_j|}` (one variance per time)

where :math:`a_i` is the position of observation i's time among the sorted time levels. These
are metafor's ``rma.mv(yi, V, mods = X, random = ~ time | cluster, struct = "AR" / "HAR")``,
which the fit matches to 1e-6 (tests/test_multilevel_parity.py, dat.ishak2007).

The variance parameters maximize the (restricted) log-likelihood

.. math::

    \ell_R(\theta) = -\tfrac12\left[(n-p)\log 2\pi + \log|M| + \log|X^\top M^{-1}X|
      - \log|X^\top X| + r^\top M^{-1} r\right], \quad M = V + G(\theta)

(the :math:`\log|X^\top X|` term as in metafor), by BFGS on :math:`\log\tau^2` and
:math:`\operatorname{atanh}\rho` with the analytic gradient
:math:`\partial\ell_R/\partial\theta_k = -\tfrac12\operatorname{tr}(P\,\dot G_k)
+ \tfrac12 y^\top P \dot G_k P y`.

Reference: Ishak KJ et al. (2007). Meta-analysis of longitudinal studies. Clin Trials 4:525-39.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import linalg, optimize, stats

from ketamine_meta.stats.network import fixed_effect_q

FloatArray = NDArray[np.float64]
Structure = Literal["AR", "HAR"]


class MultilevelError(ValueError):
    """Input the model cannot take (shapes, variances, a singular design)."""


@dataclass(frozen=True)
class MultilevelFit:
    """A fitted model, in metafor's terms.

    Attributes
    ----------
    coefficients, se, ci_low, ci_high, zval, pval : numpy.ndarray
        Fixed effects (one per column of X) with Wald z inference.
    vcov : numpy.ndarray
        Covariance of the coefficients.
    tau2 : numpy.ndarray
        Between-cluster variance (one value for AR, one per time level for HAR).
    rho : float
        Autocorrelation between adjacent time levels.
    loglik : float
        (Restricted) log-likelihood at the estimate, as metafor's ``logLik``.
    q, q_df, q_p : float
        Test for residual heterogeneity (sampling covariance only).
    times : tuple
        The sorted time levels that positions refer to.
    """

    coefficients: FloatArray
    se: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    zval: FloatArray
    pval: FloatArray
    vcov: FloatArray
    tau2: FloatArray
    rho: float
    loglik: float
    q: float
    q_df: int
    q_p: float
    structure: str
    method: str
    times: tuple
    converged: bool


def _positions(time: ArrayLike) -> tuple[NDArray[np.int64], tuple]:
    levels = tuple(sorted(set(np.asarray(time).tolist())))
    index = {t: i for i, t in enumerate(levels)}
    return np.array([index[t] for t in np.asarray(time).tolist()]), levels


def sampling_covariance(
    cluster: ArrayLike, time: ArrayLike, vi: ArrayLike, phi: float
) -> FloatArray:
    """Sampling covariance: correlation ``phi^|t_i - t_j|`` within a cluster, 0 between.

    The same matrix as metafor's ``vcalc(vi, cluster, time1 = time, phi = phi)``.
    """
    cluster = np.asarray(cluster)
    time = np.asarray(time, dtype=float)
    sd = np.sqrt(np.asarray(vi, dtype=float))
    same = cluster[:, None] == cluster[None, :]
    return same * np.outer(sd, sd) * np.power(phi, np.abs(time[:, None] - time[None, :]))


@dataclass(frozen=True)
class _State:
    tau2: FloatArray
    rho: float
    G: FloatArray
    Mi: FloatArray
    P: FloatArray
    beta: FloatArray
    vcov: FloatArray
    resid: FloatArray
    logdet_m: float


class _Model:
    """The likelihood of one data set, as a function of the transformed variance parameters."""

    def __init__(self, y, V, X, cluster, position, levels, structure, restricted):
        self.y, self.V, self.X = y, V, X
        self.cluster, self.position = cluster, position
        self.n_tau = len(levels) if structure == "HAR" else 1
        self.structure = structure
        self.restricted = restricted
        same = cluster[:, None] == cluster[None, :]
        self.same = same.astype(float)
        self.lag = np.abs(position[:, None] - position[None, :])
        self.logdet_xx = np.linalg.slogdet(X.T @ X)[1]

    def unpack(self, theta: FloatArray) -> tuple[FloatArray, float]:
        tau2 = np.exp(theta[: self.n_tau])
        return tau2, float(np.tanh(theta[-1]))

    def covariance(self, tau2: FloatArray, rho: float) -> FloatArray:
        """G: ``tau[a_i] tau[a_j] rho^|a_i - a_j|`` within a cluster, 0 between clusters."""
        tau = np.sqrt(tau2)
        scale = tau[self.position] if self.n_tau > 1 else np.full(len(self.y), tau[0])
        return self.same * np.outer(scale, scale) * np.power(rho, self.lag)

    def state(self, theta: FloatArray) -> _State:
        """Everything the likelihood and its gradient need at ``theta``."""
        tau2, rho = self.unpack(theta)
        G = self.covariance(tau2, rho)
        chol = linalg.cho_factor(self.V + G)
        Mi = linalg.cho_solve(chol, np.eye(len(self.y)))
        Mi_X = Mi @ self.X
        vcov = np.linalg.inv(self.X.T @ Mi_X)
        beta = vcov @ (Mi_X.T @ self.y)
        return _State(
            tau2=tau2,
            rho=rho,
            G=G,
            Mi=Mi,
            P=Mi - Mi_X @ vcov @ Mi_X.T,
            beta=beta,
            vcov=vcov,
            resid=self.y - self.X @ beta,
            logdet_m=2 * np.log(np.diag(chol[0])).sum(),
        )

    def loglik(self, theta: FloatArray) -> float:
        """The (restricted) log-likelihood at ``theta``."""
        s = self.state(theta)
        n, p = self.X.shape
        quad = float(s.resid @ s.Mi @ s.resid)
        if self.restricted:
            logdet_xmx = -np.linalg.slogdet(s.vcov)[1]
            return -0.5 * (
                (n - p) * np.log(2 * np.pi) + s.logdet_m + logdet_xmx - self.logdet_xx + quad
            )
        return -0.5 * (n * np.log(2 * np.pi) + s.logdet_m + quad)

    def derivatives(self, s: _State) -> list[FloatArray]:
        """dG/dtheta_k for each log tau^2 and for atanh rho."""
        if self.n_tau == 1:
            out = [s.G]
        else:
            hits = [(self.position == level).astype(float) for level in range(self.n_tau)]
            out = [s.G * 0.5 * (hit[:, None] + hit[None, :]) for hit in hits]
        if s.rho != 0:
            d_rho = np.where(self.lag > 0, s.G * self.lag / s.rho, 0.0)
        else:
            # At rho = 0 only adjacent times have a derivative: tau_a tau_b.
            d_rho = np.where(self.lag == 1, self.covariance(s.tau2, 1.0), 0.0)
        return [*out, d_rho * (1 - s.rho**2)]

    def gradient(self, theta: FloatArray) -> FloatArray:
        """The analytic gradient of :meth:`loglik`."""
        s = self.state(theta)
        trace_matrix = s.P if self.restricted else s.Mi
        Py = s.P @ self.y
        return np.array(
            [
                -0.5 * np.sum(trace_matrix * dG) + 0.5 * float(Py @ dG @ Py)
                for dG in self.derivatives(s)
            ]
        )


def fit_autoregressive(
    yi: ArrayLike,
    V: ArrayLike,
    X: ArrayLike,
    cluster: Sequence,
    time: Sequence,
    structure: Structure = "AR",
    method: str = "REML",
    level: float = 0.95,
) -> MultilevelFit:
    """Fit the model of the module docstring; see :class:`MultilevelFit` for the result.

    Raises
    ------
    MultilevelError
        For mismatched shapes, a V that is not positive definite, or a singular design.
    """
    y = np.asarray(yi, dtype=float)
    V = np.asarray(V, dtype=float)
    X = np.asarray(X, dtype=float).reshape(len(y), -1)
    if V.shape != (len(y), len(y)) or len(cluster) != len(y) or len(time) != len(y):
        raise MultilevelError("yi, V, X, cluster and time must describe the same rows")
    if not np.all(np.isfinite(y)) or not np.all(np.isfinite(V)):
        raise MultilevelError("yi and V must be finite")
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise MultilevelError("the model matrix is rank-deficient")
    if structure not in ("AR", "HAR"):
        raise MultilevelError(f"structure must be AR or HAR, not {structure!r}")
    if method not in ("REML", "ML"):
        raise MultilevelError(f"method must be REML or ML, not {method!r}")
    try:
        linalg.cho_factor(V)
    except linalg.LinAlgError:
        raise MultilevelError("V is not positive definite") from None
    position, levels = _positions(time)
    model = _Model(
        y, V, X, np.asarray(cluster), position, levels, structure, restricted=method == "REML"
    )
    start_tau2 = max(float(np.var(y)) - float(np.mean(np.diag(V))), 0.1 * float(np.var(y)), 1e-4)
    theta0 = np.append(np.full(model.n_tau, np.log(start_tau2)), 0.5)
    result = optimize.minimize(
        lambda t: -model.loglik(t),
        theta0,
        jac=lambda t: -model.gradient(t),
        method="BFGS",
        options={"gtol": 1e-8, "maxiter": 10_000},
    )
    final = model.state(result.x)
    beta, vcov, tau2, rho = final.beta, final.vcov, final.tau2, final.rho
    se = np.sqrt(np.diag(vcov))
    crit = stats.norm.ppf(0.5 + level / 2)
    z = beta / se
    q, _ = fixed_effect_q(y, X, V)
    q_df = len(y) - X.shape[1]
    return MultilevelFit(
        coefficients=beta,
        se=se,
        ci_low=beta - crit * se,
        ci_high=beta + crit * se,
        zval=z,
        pval=2 * stats.norm.sf(np.abs(z)),
        vcov=vcov,
        tau2=tau2,
        rho=rho,
        loglik=model.loglik(result.x),
        q=q,
        q_df=q_df,
        q_p=float(stats.chi2.sf(q, q_df)) if q_df > 0 else float("nan"),
        structure=structure,
        method=method,
        times=levels,
        # BFGS may stop on "precision loss" at the optimum; the gradient is the judge.
        converged=bool(np.max(np.abs(model.gradient(result.x))) < 1e-5),
    )
