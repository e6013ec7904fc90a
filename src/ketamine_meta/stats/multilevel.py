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

:math:`\rho` may be fixed instead of estimated (metafor's ``rho = value``): when few clusters
have more than one time, the likelihood is flat in :math:`\rho` and its estimate runs to the
edge of (-1, 1). Fixed at 1, every cell of a cluster's block of G is :math:`\tau^2`: one random
effect per cluster, the same at every time (metafor's ``random = ~ 1 | cluster``).

The variance parameters maximize the (restricted) log-likelihood

.. math::

    \ell_R(\theta) = -\tfrac12\left[(n-p)\log 2\pi + \log|M| + \log|X^\top M^{-1}X|
      - \log|X^\top X| + r^\top M^{-1} r\right], \quad M = V + G(\theta)

with :math:`r = y - X\hat\beta` (the :math:`\log|X^\top X|` term as in metafor; the ML
likelihood drops it and :math:`\log|X^\top M^{-1}X|` and has :math:`n` for :math:`n - p`), by
BFGS on :math:`\log\tau^2` and :math:`\operatorname{atanh}\rho` (:math:`\log\tau^2` alone when
:math:`\rho` is fixed) with the analytic gradient
:math:`\partial\ell_R/\partial\theta_k = -\tfrac12\operatorname{tr}(P\,\dot G_k)
+ \tfrac12 y^\top P \dot G_k P y`, :math:`P = M^{-1} - M^{-1}X(X^\top M^{-1}X)^{-1}X^\top
M^{-1}` (:math:`M^{-1}` in the trace for ML).

Block form. When V is block diagonal by cluster, so is M, with a block :math:`M_c` of
:math:`m_c` rows per cluster, and every term is a sum over clusters:

.. math::

    \log|M| = \sum_c \log|M_c|, \quad X^\top M^{-1}X = \sum_c X_c^\top M_c^{-1}X_c, \quad
    r^\top M^{-1} r = \sum_c r_c^\top M_c^{-1} r_c,

    \frac{\partial\ell_R}{\partial\theta_k} = -\tfrac12 \sum_c
      \operatorname{tr}\!\left[(P_{cc} - u_c u_c^\top)\,\dot G_{k,c}\right], \quad
    u_c = M_c^{-1} r_c = (Py)_c,

where :math:`P_{cc} = M_c^{-1} - M_c^{-1}X_c (X^\top M^{-1}X)^{-1} X_c^\top M_c^{-1}` is the
cluster's diagonal block of P (only those blocks meet the block-diagonal :math:`\dot G_k`).
Clusters with the same :math:`m_c` are stacked as (clusters, m, m) arrays and factored
together (Cholesky), so an evaluation takes :math:`O(\sum_c m_c^3 + n p^2)` time and
:math:`O(\sum_c m_c^2 + n p)` memory for n rows and p coefficients, where the n x n matrices
take :math:`O(n^3)` and :math:`O(n^2)`. tests/test_multilevel.py checks the block form against
the dense formulas.

References
----------
Ishak KJ et al. (2007). Meta-analysis of longitudinal studies. Clin Trials 4:525-39.
Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package. J Stat Softw
36(3):1-48.
Harville DA (1977). Maximum likelihood approaches to variance component estimation and to
related problems. J Am Stat Assoc 72:320-38.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize

from ketamine_meta.stats.distributions import chi2_sf, norm_sf
from ketamine_meta.stats.model import ModelSpec

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
Structure = Literal["AR", "HAR"]
#: A dense n x n matrix, or a list/tuple of per-cluster blocks (see :func:`fit_autoregressive`).
Covariance: TypeAlias = ArrayLike | Sequence[ArrayLike]
#: Significant digits of this model's results that do not depend on the order of
#: floating-point operations. BFGS stops once the gradient of the log-likelihood is below
#: 1e-8 and a fit counts as converged below 1e-5, so its estimates are settled to about six
#: digits (metafor agrees to 1e-6); further digits move with the BLAS kernel that computes
#: the Cholesky factors (in the 12th digit between OpenBLAS's Haswell and Sandybridge kernels),
#: so results are written with six.
REPORTED_DIGITS = 6


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
    rho_fixed : bool
        Whether rho was given (fixed) rather than estimated.
    loglik : float
        (Restricted) log-likelihood at the estimate, as metafor's ``logLik``.
    q, q_df, q_p : float
        Test for residual heterogeneity (sampling covariance only).
    structure : str
        ``"AR"`` or ``"HAR"``.
    model : ModelSpec
        The likelihood (``method`` REML or ML), Wald z inference and the confidence level.
    times : tuple
        The sorted time levels that positions refer to.
    converged : bool
        Whether the gradient vanished at the optimum.
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
    rho_fixed: bool
    loglik: float
    q: float
    q_df: int
    q_p: float
    structure: str
    model: ModelSpec
    times: tuple
    converged: bool


def _positions(time: ArrayLike) -> tuple[IntArray, tuple]:
    levels = tuple(sorted(set(np.asarray(time).tolist())))
    index = {t: i for i, t in enumerate(levels)}
    return np.array([index[t] for t in np.asarray(time).tolist()]), levels


def _cluster_rows(cluster: Sequence) -> list[IntArray]:
    """Row indices of each cluster: clusters in order of first appearance, rows in data order.

    Labels are told apart by equality, as ``sampling_covariance`` does, so any hashable label
    works (sorting them, as np.unique would, fails on mixed types).
    """
    first_seen: dict = {}
    codes = np.array([first_seen.setdefault(c, len(first_seen)) for c in cluster], dtype=np.intp)
    order = np.argsort(codes, kind="stable")
    return np.split(order, np.cumsum(np.bincount(codes))[:-1])


def _vcalc(time: FloatArray, sd: FloatArray, phi: float) -> FloatArray:
    """``sd_i sd_j phi^|t_i - t_j|`` for every pair of rows."""
    return np.outer(sd, sd) * np.power(phi, np.abs(time[:, None] - time[None, :]))


def sampling_covariance(
    cluster: ArrayLike, time: ArrayLike, vi: ArrayLike, phi: float
) -> FloatArray:
    r"""Sampling covariance: correlation ``phi^|t_i - t_j|`` within a cluster, 0 between.

    :math:`V_{ij} = [c_i = c_j]\,\sqrt{v_i v_j}\,\phi^{|t_i - t_j|}`, the same n x n matrix as
    metafor's ``vcalc(vi, cluster, time1 = time, phi = phi)`` (Viechtbauer 2010). For many
    rows use :func:`sampling_covariance_blocks`, which never forms it.
    """
    cluster = np.asarray(cluster)
    same = cluster[:, None] == cluster[None, :]
    return same * _vcalc(np.asarray(time, dtype=float), np.sqrt(np.asarray(vi, dtype=float)), phi)


def sampling_covariance_blocks(
    cluster: Sequence, time: ArrayLike, vi: ArrayLike, phi: float
) -> list[FloatArray]:
    r"""The diagonal blocks of :func:`sampling_covariance`, one per cluster.

    Block c is :math:`\sqrt{v_i v_j}\,\phi^{|t_i - t_j|}` over the rows i, j of cluster c, in
    data order; clusters come in order of first appearance in ``cluster``, the order
    :func:`fit_autoregressive` expects blocks in.
    """
    time = np.asarray(time, dtype=float)
    sd = np.sqrt(np.asarray(vi, dtype=float))
    return [_vcalc(time[rows], sd[rows], phi) for rows in _cluster_rows(cluster)]


def _dense_blocks(V: FloatArray, rows: list[IntArray]) -> list[FloatArray]:
    """The diagonal blocks of a dense V, which must hold nothing outside them."""
    blocks = [V[np.ix_(r, r)] for r in rows]
    # Counting nonzeros is exact and needs no n x n temporary, unlike masking.
    if np.count_nonzero(V) != sum(np.count_nonzero(b) for b in blocks):
        raise MultilevelError(
            "V has nonzero covariances between clusters; the model needs V block diagonal "
            "by cluster (pass per-cluster blocks or correct the cluster labels)"
        )
    return blocks


def _covariance_blocks(V: Covariance, rows: list[IntArray]) -> list[FloatArray]:
    """V as one square block per cluster (see :func:`fit_autoregressive` for its forms)."""
    n = sum(len(r) for r in rows)
    if isinstance(V, list | tuple) and all(np.ndim(b) == 2 for b in V):
        blocks = [np.asarray(b, dtype=float) for b in V]
        if len(blocks) != len(rows):
            raise MultilevelError(f"V has {len(blocks)} blocks for {len(rows)} clusters")
        for i, (block, r) in enumerate(zip(blocks, rows, strict=True)):
            if block.shape != (len(r), len(r)):
                raise MultilevelError(
                    f"block {i} of V is {block.shape[0]} x {block.shape[1]}, "
                    f"but its cluster has {len(r)} rows"
                )
    else:
        V = np.asarray(V, dtype=float)
        if V.shape != (n, n):
            raise MultilevelError("yi, V, X, cluster and time must describe the same rows")
        blocks = _dense_blocks(V, rows)
    if not all(np.all(np.isfinite(b)) for b in blocks):
        raise MultilevelError("yi and V must be finite")
    return blocks


@dataclass(frozen=True)
class _Stack:
    """The clusters with m rows each, stacked; arrays lead with one entry per cluster.

    ``rows`` (clusters, m) are the rows' indices in the data, ``y`` (clusters, m), ``X``
    (clusters, m, p), ``V`` (clusters, m, m) the sampling covariances, ``position``
    (clusters, m) the rows' time levels and ``lag`` (clusters, m, m) ``|a_i - a_j|``.
    """

    rows: IntArray
    y: FloatArray
    X: FloatArray
    V: FloatArray
    position: IntArray
    lag: IntArray


def _stack_clusters(
    y: FloatArray,
    X: FloatArray,
    blocks: list[FloatArray],
    rows: list[IntArray],
    position: IntArray,
) -> list[_Stack]:
    """One :class:`_Stack` per cluster size, so numpy's stacked linalg takes each in one call."""
    sizes = np.array([len(r) for r in rows])
    stacks = []
    for m in np.unique(sizes):
        members = np.flatnonzero(sizes == m)
        index = np.stack([rows[c] for c in members])
        pos = position[index]
        stacks.append(
            _Stack(
                rows=index,
                y=y[index],
                X=X[index],
                V=np.stack([blocks[c] for c in members]),
                position=pos,
                lag=np.abs(pos[:, :, None] - pos[:, None, :]),
            )
        )
    return stacks


def _transpose(a: FloatArray) -> FloatArray:
    """Each matrix of a stack transposed."""
    return np.swapaxes(a, -1, -2)


def _times(a: FloatArray, b: FloatArray) -> FloatArray:
    """Each (m, p) matrix of the stack ``a`` times the one (p, q) matrix ``b``.

    As one BLAS product over the flattened rows; matmul would broadcast ``b`` block by block.
    """
    return (a.reshape(-1, a.shape[-1]) @ b).reshape(*a.shape[:-1], b.shape[-1])


@dataclass(frozen=True)
class _Gls:
    """GLS of y on X under a block-diagonal M, kept per stack where the gradient needs it.

    ``Mi``, ``Mi_X`` and ``Mi_r`` hold :math:`M_c^{-1}`, :math:`M_c^{-1}X_c` and
    :math:`u_c = M_c^{-1}r_c` of each stack's clusters.
    """

    Mi: list[FloatArray]
    Mi_X: list[FloatArray]
    Mi_r: list[FloatArray]
    beta: FloatArray
    vcov: FloatArray
    logdet_m: float
    logdet_xmx: float
    quad: float


def _gls(stacks: list[_Stack], M: list[FloatArray]) -> _Gls:
    r"""Generalized least squares with M given as one (clusters, m, m) array per stack.

    :math:`\hat\beta = (\sum_c X_c^\top M_c^{-1} X_c)^{-1} \sum_c X_c^\top M_c^{-1} y_c`,
    :math:`\log|M| = 2\sum_c\sum_i \log (L_c)_{ii}` with :math:`M_c = L_c L_c^\top`, and
    :math:`r^\top M^{-1} r = \sum_c r_c^\top M_c^{-1} r_c`.
    """
    chol = [np.linalg.cholesky(m) for m in M]
    chol_inv = [np.linalg.inv(L) for L in chol]
    Mi = [_transpose(Li) @ Li for Li in chol_inv]
    # einsum beats numpy's stacked matmul severalfold on many tiny blocks.
    Mi_X = [np.einsum("cij,cjp->cip", mi, s.X) for mi, s in zip(Mi, stacks, strict=True)]
    p = stacks[0].X.shape[-1]
    # Flattened to (rows, p) the cluster sums are single BLAS products.
    xmx = sum(s.X.reshape(-1, p).T @ w.reshape(-1, p) for s, w in zip(stacks, Mi_X, strict=True))
    xmy = sum(w.reshape(-1, p).T @ s.y.ravel() for s, w in zip(stacks, Mi_X, strict=True))
    vcov = np.linalg.inv(xmx)
    beta = vcov @ xmy
    resid = [s.y - s.X @ beta for s in stacks]
    Mi_r = [np.einsum("cij,cj->ci", mi, r) for mi, r in zip(Mi, resid, strict=True)]
    return _Gls(
        Mi=Mi,
        Mi_X=Mi_X,
        Mi_r=Mi_r,
        beta=beta,
        vcov=vcov,
        logdet_m=float(sum(2 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum() for L in chol)),
        logdet_xmx=float(np.linalg.slogdet(xmx)[1]),
        quad=float(sum(np.sum(r * u) for r, u in zip(resid, Mi_r, strict=True))),
    )


@dataclass(frozen=True)
class _State:
    """The variance parameters at ``theta``, G per stack and the GLS under V + G."""

    tau2: FloatArray
    rho: float
    G: list[FloatArray]
    gls: _Gls


class _Model:
    """The likelihood of one data set, as a function of the transformed variance parameters.

    ``V`` takes either form of :func:`fit_autoregressive`; the data are grouped by cluster
    once, here, and only per-cluster blocks are ever formed.
    """

    def __init__(
        self,
        y: FloatArray,
        V: Covariance,
        X: FloatArray,
        cluster: Sequence,
        position: IntArray,
        levels: tuple,
        structure: Structure,
        restricted: bool,
        fixed_rho: float | None = None,
    ):
        rows = _cluster_rows(cluster)
        self.stacks = _stack_clusters(y, X, _covariance_blocks(V, rows), rows, position)
        # V + G is positive definite for every theta only if V is.
        try:
            for stack in self.stacks:
                np.linalg.cholesky(stack.V)
        except np.linalg.LinAlgError:
            raise MultilevelError("V is not positive definite") from None
        self.n, self.p = X.shape
        self.n_tau = len(levels) if structure == "HAR" else 1
        self.fixed_rho = fixed_rho
        self.restricted = restricted
        self.logdet_xx = np.linalg.slogdet(X.T @ X)[1]

    def sampling_variances(self) -> FloatArray:
        """The diagonal of V, in data order."""
        vi = np.empty(self.n)
        for stack in self.stacks:
            vi[stack.rows] = np.diagonal(stack.V, axis1=1, axis2=2)
        return vi

    def unpack(self, theta: FloatArray) -> tuple[FloatArray, float]:
        """``theta = (log tau^2..., atanh rho)`` back to tau^2 and rho (a fixed rho as given)."""
        tau2 = np.exp(theta[: self.n_tau])
        if self.fixed_rho is not None:
            return tau2, self.fixed_rho
        return tau2, float(np.tanh(theta[-1]))

    def covariance(self, stack: _Stack, tau2: FloatArray, rho: float) -> FloatArray:
        """G of the stack's clusters: ``tau[a_i] tau[a_j] rho^|a_i - a_j|``."""
        tau = np.sqrt(tau2)
        scale = tau[stack.position] if self.n_tau > 1 else np.full(stack.position.shape, tau[0])
        # rho^lag looked up from the few distinct lags: np.power per entry is the slow part.
        powers = np.power(rho, np.arange(stack.lag.max() + 1))
        return scale[:, :, None] * scale[:, None, :] * powers[stack.lag]

    def state(self, theta: FloatArray) -> _State:
        """Everything the likelihood and its gradient need at ``theta``."""
        tau2, rho = self.unpack(theta)
        G = [self.covariance(stack, tau2, rho) for stack in self.stacks]
        M = [stack.V + g for stack, g in zip(self.stacks, G, strict=True)]
        return _State(tau2=tau2, rho=rho, G=G, gls=_gls(self.stacks, M))

    def loglik(self, theta: FloatArray) -> float:
        """The (restricted) log-likelihood at ``theta`` (module docstring)."""
        return self.loglik_at(self.state(theta))

    def gradient(self, theta: FloatArray) -> FloatArray:
        """The analytic gradient of :meth:`loglik`, summed over clusters (module docstring)."""
        return self.gradient_at(self.state(theta))

    def loglik_and_gradient(self, theta: FloatArray) -> tuple[float, FloatArray]:
        """:meth:`loglik` and :meth:`gradient` from one :meth:`state` (BFGS wants both)."""
        s = self.state(theta)
        return self.loglik_at(s), self.gradient_at(s)

    def loglik_at(self, s: _State) -> float:
        """The (restricted) log-likelihood of a :meth:`state`."""
        g = s.gls
        if self.restricted:
            return -0.5 * (
                (self.n - self.p) * np.log(2 * np.pi)
                + g.logdet_m
                + g.logdet_xmx
                - self.logdet_xx
                + g.quad
            )
        return -0.5 * (self.n * np.log(2 * np.pi) + g.logdet_m + g.quad)

    def rho_derivative(self, stack: _Stack, s: _State, G: FloatArray) -> FloatArray:
        r"""The stack's :math:`\partial G/\partial\operatorname{atanh}\rho`.

        :math:`(1 - \rho^2)\,\partial G/\partial\rho` with
        :math:`\partial G_{ij}/\partial\rho = G_{ij}\,|a_i - a_j|/\rho`.
        """
        if s.rho != 0:
            d_rho = np.where(stack.lag > 0, G * stack.lag / s.rho, 0.0)
        else:
            # At rho = 0 only adjacent times have a derivative: tau_a tau_b.
            d_rho = np.where(stack.lag == 1, self.covariance(stack, s.tau2, 1.0), 0.0)
        return d_rho * (1 - s.rho**2)

    def contract(self, stack: _Stack, s: _State, G: FloatArray, S: FloatArray) -> FloatArray:
        r""":math:`\sum_c \operatorname{tr}(S_c \dot G_{k,c})` over the stack, for every k.

        :math:`\dot G` is G for AR's :math:`\log\tau^2`; for HAR's :math:`\log\tau^2_k` it is
        :math:`G_{ij}(h_i + h_j)/2` with :math:`h_i = [a_i = k]`, so its trace against S is
        half the row and column sums of :math:`S \circ G` over the rows at level k. A fixed
        rho has no term.
        """
        SG = S * G
        if self.n_tau == 1:
            tau_terms = np.array([SG.sum()])
        else:
            margins = 0.5 * (SG.sum(axis=2) + SG.sum(axis=1))
            tau_terms = np.bincount(
                stack.position.ravel(), weights=margins.ravel(), minlength=self.n_tau
            )
        if self.fixed_rho is not None:
            return tau_terms
        return np.append(tau_terms, np.sum(S * self.rho_derivative(stack, s, G)))

    def gradient_at(self, s: _State) -> FloatArray:
        """The gradient of the log-likelihood at a :meth:`state`."""
        g = s.gls
        total = np.zeros(self.n_tau + (self.fixed_rho is None))
        for stack, G, Mi, Mi_X, u in zip(self.stacks, s.G, g.Mi, g.Mi_X, g.Mi_r, strict=True):
            trace = Mi - _times(Mi_X, g.vcov) @ _transpose(Mi_X) if self.restricted else Mi
            total += self.contract(stack, s, G, trace - u[:, :, None] * u[:, None, :])
        return -0.5 * total

    def fixed_effect_q(self) -> float:
        r"""The test for residual heterogeneity, metafor's QE.

        :math:`Q_E = r^\top V^{-1} r` with r the residuals of the GLS fit under V alone.
        """
        return _gls(self.stacks, [stack.V for stack in self.stacks]).quad


def fit_autoregressive(
    yi: ArrayLike,
    V: Covariance,
    X: ArrayLike,
    cluster: Sequence,
    time: Sequence,
    structure: Structure = "AR",
    method: str = "REML",
    level: float = 0.95,
    rho: float | None = None,
) -> MultilevelFit:
    """Fit the model of the module docstring; see :class:`MultilevelFit` for the result.

    Parameters
    ----------
    yi : array_like
        The n effects.
    V : array_like or list of array_like
        The sampling covariance, block diagonal by cluster, in either of two forms: a dense
        n x n matrix (as :func:`sampling_covariance` returns), or a list or tuple of square
        per-cluster blocks, one per distinct cluster in order of first appearance in
        ``cluster``, each over that cluster's rows in data order (as
        :func:`sampling_covariance_blocks` returns). A list whose items are 2-D is read as
        blocks, anything else as the dense matrix. Blocks avoid the n x n matrix, which for
        tens of thousands of rows does not fit in memory.
    X : array_like
        The n x p model matrix.
    cluster, time : sequence
        Each row's cluster and time; times are ordered levels (their positions, not their
        values, give the autoregressive lags).
    structure : {"AR", "HAR"}
        The random-effects structure.
    method : {"REML", "ML"}
        The likelihood.
    level : float
        Confidence level of the intervals (a fraction, or a percentage as metafor reads it).
    rho : float, optional
        The autocorrelation, fixed at this value in [-1, 1] (metafor's ``rho = value``);
        None estimates it.

    Returns
    -------
    MultilevelFit

    Raises
    ------
    MultilevelError
        For mismatched shapes, a dense V with covariances between clusters, blocks that do not
        match the clusters, a V that is not positive definite, a singular design, or a fixed
        rho outside [-1, 1].
    """
    y = np.asarray(yi, dtype=float)
    X = np.asarray(X, dtype=float).reshape(len(y), -1)
    if len(cluster) != len(y) or len(time) != len(y):
        raise MultilevelError("yi, V, X, cluster and time must describe the same rows")
    if not np.all(np.isfinite(y)):
        raise MultilevelError("yi and V must be finite")
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise MultilevelError("the model matrix is rank-deficient")
    if structure not in ("AR", "HAR"):
        raise MultilevelError(f"structure must be AR or HAR, not {structure!r}")
    if method not in ("REML", "ML"):
        raise MultilevelError(f"method must be REML or ML, not {method!r}")
    if rho is not None and not -1.0 <= rho <= 1.0:
        raise MultilevelError(f"a fixed rho must lie in [-1, 1], not {rho!r}")
    spec = ModelSpec(method, "z", level)
    position, levels = _positions(time)
    model = _Model(
        y, V, X, cluster, position, levels, structure, restricted=method == "REML", fixed_rho=rho
    )
    vi = model.sampling_variances()
    start_tau2 = max(float(np.var(y)) - float(np.mean(vi)), 0.1 * float(np.var(y)), 1e-4)
    theta0 = np.full(model.n_tau, np.log(start_tau2))
    if rho is None:
        theta0 = np.append(theta0, 0.5)

    def objective(theta: FloatArray) -> tuple[float, FloatArray]:
        value, gradient = model.loglik_and_gradient(theta)
        return -value, -gradient

    result = optimize.minimize(
        objective,
        theta0,
        jac=True,
        method="BFGS",
        options={"gtol": 1e-8, "maxiter": 10_000},
    )
    final = model.state(result.x)
    beta, vcov, tau2 = final.gls.beta, final.gls.vcov, final.tau2
    se = np.sqrt(np.diag(vcov))
    crit = spec.crit()
    z = beta / se
    q = model.fixed_effect_q()
    q_df = len(y) - X.shape[1]
    return MultilevelFit(
        coefficients=beta,
        se=se,
        ci_low=beta - crit * se,
        ci_high=beta + crit * se,
        zval=z,
        pval=2 * norm_sf(np.abs(z)),
        vcov=vcov,
        tau2=tau2,
        rho=final.rho,
        rho_fixed=rho is not None,
        loglik=model.loglik_at(final),
        q=q,
        q_df=q_df,
        q_p=float(chi2_sf(q, q_df)) if q_df > 0 else float("nan"),
        structure=structure,
        model=spec,
        times=levels,
        # BFGS may stop on "precision loss" at the optimum; the gradient is the judge.
        converged=bool(np.max(np.abs(model.gradient_at(final))) < 1e-5),
    )
