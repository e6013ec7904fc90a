r"""Frequentist random-effects network meta-analysis (contrast-based, one common tau^2).

Each trial contributes its arms' effects against one baseline arm, :math:`y_s`, with
sampling covariance :math:`V_s` (the baseline arm's variance off the diagonal). With
:math:`d` the effects of every treatment against the reference (:math:`d_{ref} = 0`) and
:math:`X` the design matrix (+1 for a row's treatment, -1 for its baseline),

.. math::

    y = X d + u + \varepsilon, \quad \varepsilon \sim N(0, V), \quad
    u \sim N(0, \tau^2 W), \quad W_s = \tfrac12 (I + J)

so two contrasts of one trial share half their heterogeneity: the consistency model of
Higgins and Whitehead (1996) and of metafor's
``rma.mv(yi, V, mods = X, random = ~ comp | study, rho = 1/2)``, which it matches to 1e-6
(tests/test_network_parity.py). The fit does not depend on which arm is a trial's baseline.

tau^2 is estimated by REML or ML (maximizing the (restricted) log-likelihood over
:math:`\tau^2 \ge 0`: bounded Brent, refined to the root of the score), or by the
generalized DerSimonian-Laird moment estimator
:math:`\hat\tau^2 = \max\{0, (Q - df) / \operatorname{tr}(P W)\}` with
:math:`P = V^{-1} - V^{-1}X(X^\top V^{-1}X)^{-1}X^\top V^{-1}` and :math:`Q = y^\top P y`
(Jackson, White and Riley 2012), which reduces to DerSimonian-Laird for one comparison.
Without residual degrees of freedom (as many rows as effects) every estimator gives 0.

The marginal covariance :math:`M = V + \tau^2 W` is block diagonal by trial (one block of
:math:`m_s` = arms - 1 rows per trial), so every quantity is a sum over trials. With the
Cholesky factor :math:`M_s = L_s L_s^\top` of a trial's block and its whitened rows
:math:`\tilde y_s = L_s^{-1} y_s`, :math:`\tilde X_s = L_s^{-1} X_s`,

.. math::

    X^\top M^{-1} X = \sum_s \tilde X_s^\top \tilde X_s, \quad
    X^\top M^{-1} y = \sum_s \tilde X_s^\top \tilde y_s, \quad
    \log |M| = 2 \sum_s \sum_i \log (L_s)_{ii}

and the residual quadratic form is :math:`\sum_s \lVert \tilde y_s - \tilde X_s \hat d
\rVert^2`. Trials with the same :math:`m_s` are stacked as (trials, m, m) arrays and
factored together, so a likelihood evaluation takes :math:`O(\sum_s m_s^3 + n p^2)` time and
:math:`O(n p)` memory for n rows and p treatments, where dense n x n matrices take
:math:`O(n^3)` and :math:`O(n^2)`. tests/test_network.py checks the block form against the
dense formulas.

References
----------
Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package. J Stat Softw
36(3):1-48.
Harville DA (1977). Maximum likelihood approaches to variance component estimation and to
related problems. J Am Stat Assoc 72:320-38.
Higgins JPT, Whitehead A (1996). Borrowing strength from external trials in a
meta-analysis. Stat Med 15:2733-49.
Higgins JPT et al. (2012). Consistency and inconsistency in network meta-analysis: concepts
and models for multi-arm studies. Res Synth Methods 3:98-110.
Dias S et al. (2010). Checking consistency in mixed treatment comparison meta-analysis.
Stat Med 29:932-44.
König J, Krahn U, Binder H (2013). Visualizing the flow of evidence in network
meta-analysis and characterizing mixed treatment comparisons. Stat Med 32:5414-29.
Rücker G, Schwarzer G (2015). Ranking treatments in frequentist network meta-analysis
works without resampling methods. BMC Med Res Methodol 15:58.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import optimize

from ketamine_meta.stats.distributions import chi2_sf, norm_cdf, norm_sf
from ketamine_meta.stats.model import ModelSpec

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
NetworkMethod = Literal["REML", "ML", "DL"]
NETWORK_METHODS: tuple[str, ...] = ("REML", "ML", "DL")

#: Relative tolerance within which a multi-arm trial's pairwise contrasts must agree
#: (y_AB + y_BC = y_AC) and its pairwise variances must be sums of arm variances.
CONSISTENCY_TOLERANCE = 1e-6


class NetworkError(ValueError):
    """Input that cannot form a network: the message names the trial or treatments.

    ``study`` is the trial at fault, when one is.
    """

    def __init__(self, message: str, study: str | None = None) -> None:
        super().__init__(message)
        self.study = study


@dataclass(frozen=True)
class TrialArms:
    """One trial as arms: effects relative to any fixed origin, and their variances."""

    study: str
    treatments: tuple[str, ...]
    effects: tuple[float, ...]
    variances: tuple[float, ...]


@dataclass(frozen=True)
class Network:
    """The trials of a network, arm by arm, and its reference treatment."""

    trials: tuple[TrialArms, ...]
    reference: str

    @property
    def treatments(self) -> tuple[str, ...]:
        """Every treatment, reference first, then the others in sorted order."""
        others = sorted({t for trial in self.trials for t in trial.treatments} - {self.reference})
        return (self.reference, *others)

    @property
    def designs(self) -> tuple[str, ...]:
        """Each trial's design: the sorted set of treatments it compares, joined by ':'."""
        return tuple(":".join(sorted(trial.treatments)) for trial in self.trials)


@dataclass(frozen=True)
class StudyBlocks:
    """The covariance blocks of the trials with m contrast rows each, stacked.

    Trial ``i`` of the stack owns rows ``rows[i]``; its block of the marginal covariance is
    ``V[i] + tau2 * W[i]``.

    Attributes
    ----------
    rows : numpy.ndarray
        (trials, m) positions of each trial's rows in :class:`ContrastRows`.
    V : numpy.ndarray
        (trials, m, m) sampling covariances.
    W : numpy.ndarray
        (trials, m, m) heterogeneity structure, (I + J) / 2.
    """

    rows: IntArray
    V: FloatArray
    W: FloatArray


@dataclass(frozen=True)
class ContrastRows:
    """Basic contrasts (each non-baseline arm minus its trial's baseline arm).

    ``blocks`` holds the block-diagonal covariance, one :class:`StudyBlocks` per trial size;
    the n x n matrices are never formed.
    """

    study: NDArray[np.object_]
    treat1: NDArray[np.object_]
    treat2: NDArray[np.object_]
    y: FloatArray
    blocks: tuple[StudyBlocks, ...]


@dataclass(frozen=True)
class NetworkFit:
    """A fitted network: effects of every treatment against the reference, in metafor's terms.

    Attributes
    ----------
    treatments : tuple of str
        The treatments, the reference first.
    model : ModelSpec
        The tau^2 estimator (REML, ML or DL), Wald z inference and the confidence level.
    effects : pandas.DataFrame
        One row per non-reference treatment: ``treatment, estimate, se, ci_low, ci_high,
        pi_low, pi_high, tau2`` (treatment minus reference; z intervals, prediction
        intervals with tau^2 added).
    league_estimate, league_se : pandas.DataFrame
        Row treatment minus column treatment, for every pair (reference included).
    pscore : pandas.Series
        P-score of each treatment, larger effects better (Rücker and Schwarzer 2015).
    tau2 : float
        The common between-trial variance.
    q, q_df, q_p : float
        Cochran's Q of the consistency model (sampling covariance only) and its test.
    q_within, q_within_df, q_within_p, q_between, q_between_df, q_between_p : float
        Q split into heterogeneity within designs and inconsistency between designs (the
        design-by-treatment interaction, Higgins et al. 2012), fixed-effect. A Q on 0 degrees
        of freedom (no residual, no design with two trials, no loop) is NaN, as is its p:
        nothing is tested, so it is not estimable, not 0.
    loglik : float
        Log-likelihood (restricted for REML) at the estimate.
    coefficients, vcov : numpy.ndarray
        The effects against the reference and their covariance, in ``treatments[1:]`` order.
    k : int
        Trials.
    """

    treatments: tuple[str, ...]
    model: ModelSpec
    effects: pd.DataFrame
    league_estimate: pd.DataFrame
    league_se: pd.DataFrame
    pscore: pd.Series
    tau2: float
    q: float
    q_df: int
    q_p: float
    q_within: float
    q_within_df: int
    q_within_p: float
    q_between: float
    q_between_df: int
    q_between_p: float
    loglik: float
    coefficients: FloatArray
    vcov: FloatArray
    k: int


# --- Building the network -------------------------------------------------------------------


def _check_pairwise_columns(yi: FloatArray, vi: FloatArray) -> None:
    for row, (y, v) in enumerate(zip(yi, vi, strict=True), start=1):
        if not np.isfinite(y):
            raise NetworkError(f"row {row}: yi {float(y)!r} is not a finite number")
        if not np.isfinite(v) or v <= 0:
            raise NetworkError(f"row {row}: vi {float(v)!r} must be a positive finite variance")


def _trial_from_pairwise(
    study: str, rows: pd.DataFrame, tolerance: float = CONSISTENCY_TOLERANCE
) -> TrialArms:
    """Arms of one trial from its pairwise contrasts (treat1 minus treat2).

    Two-arm trials take the contrast as it is. A trial of m > 2 arms must give every one of
    its m(m-1)/2 pairs; its arm variances are back-calculated from the pairwise variances,
    v_A = (v_AB + v_AC - v_BC) / 2 for three arms (least squares on v_XY = v_X + v_Y in
    general), and its arm effects from the contrasts, which must agree with each other.
    """
    # Arms in order of appearance (each row's treat2, then its treat1): the first is the
    # trial's baseline when it lacks the reference, as in metafor's data order.
    treatments = list(dict.fromkeys(np.column_stack([rows["treat2"], rows["treat1"]]).ravel()))
    if (rows["treat1"] == rows["treat2"]).any():
        raise NetworkError(
            f"study {study!r}: a contrast compares a treatment with itself", study=study
        )
    pairs = {frozenset(p) for p in zip(rows["treat1"], rows["treat2"], strict=True)}
    if len(pairs) != len(rows):
        raise NetworkError(
            f"study {study!r}: the same pair of treatments is given twice", study=study
        )
    m = len(treatments)
    if m > 2 and len(rows) != m * (m - 1) // 2:
        missing = [
            f"{a} vs {b}" for a, b in combinations(sorted(treatments), 2) if {a, b} not in pairs
        ]
        raise NetworkError(
            f"study {study!r}: a trial of {m} arms needs all {m * (m - 1) // 2} pairwise "
            f"contrasts to back-calculate its arm variances; missing {', '.join(missing)} (or "
            f"give its {m - 1} contrasts against one arm with their covariance, covi)",
            study=study,
        )
    index = {t: i for i, t in enumerate(treatments)}
    signs = np.zeros((len(rows), m))
    sums = np.zeros((len(rows), m))
    for r, (t1, t2) in enumerate(zip(rows["treat1"], rows["treat2"], strict=True)):
        signs[r, index[t1]], signs[r, index[t2]] = 1.0, -1.0
        sums[r, index[t1]] = sums[r, index[t2]] = 1.0
    y = rows["yi"].to_numpy(float)
    v = rows["vi"].to_numpy(float)
    if m == 2:
        # One contrast: split its variance evenly (any split gives the same model).
        effects = np.array([0.0, y[0]]) if signs[0, 1] > 0 else np.array([y[0], 0.0])
        return TrialArms(study, tuple(treatments), tuple(effects), (v[0] / 2, v[0] / 2))
    # Effects are identified up to a constant: anchor the first arm at 0.
    effects = np.concatenate([[0.0], np.linalg.lstsq(signs[:, 1:], y, rcond=None)[0]])
    variances = np.linalg.lstsq(sums, v, rcond=None)[0]
    scale = max(np.abs(y).max(), 1.0)
    if np.abs(signs @ effects - y).max() > tolerance * scale:
        raise NetworkError(
            f"study {study!r}: contradictory contrasts (y_AB + y_BC must equal y_AC within "
            f"{tolerance:g}); give each multi-arm trial's contrasts from one set of arm means",
            study=study,
        )
    if np.abs(sums @ variances - v).max() > tolerance * v.max() or (variances <= 0).any():
        raise NetworkError(
            f"study {study!r}: the pairwise variances are not sums of positive arm variances "
            "(v_AB = v_A + v_B), so its covariance cannot be back-calculated",
            study=study,
        )
    return TrialArms(study, tuple(treatments), tuple(effects), tuple(variances))


def _trial_from_basic_contrasts(study: str, rows: pd.DataFrame) -> TrialArms:
    """Arms of a multi-arm trial from its m - 1 contrasts against one shared arm.

    ``covi`` is the covariance of two of its contrasts: the shared arm's variance, the
    off-diagonal of metafor's V. Each other arm's variance is ``vi - covi``.
    """
    base = rows["treat2"].iloc[0]
    cov = rows["covi"].to_numpy(float)
    if not (np.isfinite(cov).all() and np.ptp(cov) <= CONSISTENCY_TOLERANCE * abs(cov[0])):
        raise NetworkError(
            f"study {study!r}: its contrasts against {base!r} need one covariance (covi, the "
            f"variance of the {base!r} arm) on every row, the same on each",
            study=study,
        )
    others = rows["vi"].to_numpy(float) - cov[0]
    if cov[0] <= 0 or (others <= 0).any():
        raise NetworkError(
            f"study {study!r}: covi must be positive and below every vi of the trial (it is "
            "the shared arm's part of each contrast's variance)",
            study=study,
        )
    return TrialArms(
        study,
        (base, *rows["treat1"]),
        (0.0, *rows["yi"].to_numpy(float)),
        (float(cov[0]), *others),
    )


def _is_basic_form(rows: pd.DataFrame) -> bool:
    """Whether a trial gives its m - 1 contrasts against one arm, with their covariance."""
    shared = rows["treat2"].to_numpy()
    return (
        "covi" in rows
        and len(rows) > 1
        and (shared == shared[0]).all()
        and rows["treat1"].nunique() == len(rows)
        and rows["covi"].notna().any()
    )


def trials_from_pairwise(contrasts: pd.DataFrame) -> tuple[TrialArms, ...]:
    """The trials of pairwise contrasts: columns ``study, treat1, treat2, yi, vi``.

    ``yi`` is treat1 minus treat2 and ``vi`` its sampling variance. A multi-arm trial gives
    all m(m - 1)/2 pairs (netmeta's form), or its m - 1 contrasts against one arm with their
    covariance in a column ``covi`` (metafor's V: the shared arm's variance).

    Raises
    ------
    NetworkError
        For a non-finite yi, a non-positive vi, or an incomplete or contradictory multi-arm
        trial.
    """
    _check_pairwise_columns(contrasts["yi"].to_numpy(float), contrasts["vi"].to_numpy(float))
    return tuple(
        _trial_from_basic_contrasts(str(study), rows)
        if _is_basic_form(rows)
        else _trial_from_pairwise(str(study), rows)
        for study, rows in contrasts.groupby("study", sort=False)
    )


def network_from_pairwise(contrasts: pd.DataFrame, reference: str) -> Network:
    """A network from pairwise contrasts (:func:`trials_from_pairwise`).

    Raises
    ------
    NetworkError
        As :func:`trials_from_pairwise`, and for an unknown reference or a disconnected
        network (its components named).
    """
    return _checked(Network(trials_from_pairwise(contrasts), reference))


def trials_from_arms(arms: pd.DataFrame) -> tuple[TrialArms, ...]:
    """The trials of arm-level effects: columns ``study, treatment, effect, variance``.

    ``effect`` is an arm's outcome on any scale whose differences are the contrasts (a mean,
    a log odds), ``variance`` its sampling variance.
    """
    return tuple(
        TrialArms(
            str(study),
            tuple(rows["treatment"].astype(str)),
            tuple(rows["effect"].astype(float)),
            tuple(rows["variance"].astype(float)),
        )
        for study, rows in arms.groupby("study", sort=False)
    )


def network_from_arms(arms: pd.DataFrame, reference: str) -> Network:
    """A network from arm-level effects (:func:`trials_from_arms`)."""
    return _checked(Network(trials_from_arms(arms), reference))


def network_parts(trials: Sequence[TrialArms], reference: str) -> list[Network]:
    """The connected parts of the trials, largest first, each a network of its own.

    A part's reference is ``reference`` where the part holds it, else its first treatment
    in sorted order.

    Raises
    ------
    NetworkError
        If ``reference`` is in no trial, or a trial repeats a treatment or has one arm.
    """
    parts = []
    for treatments in connected_components(trials):
        members = tuple(t for t in trials if t.treatments[0] in treatments)
        part_reference = reference if reference in treatments else treatments[0]
        parts.append(Network(members, part_reference))
    if not any(part.reference == reference for part in parts):
        _checked(Network(tuple(trials), reference))
    return [_checked(part) for part in parts]


def connected_components(trials: Sequence[TrialArms]) -> list[list[str]]:
    """Groups of treatments linked by trials, each sorted, largest first."""
    return _components(trial.treatments for trial in trials)


def _components(arm_sets: Iterable[Sequence[str]]) -> list[list[str]]:
    """Groups of treatments linked by sharing a set (union-find), sorted, largest first."""
    parent: dict[str, str] = {}

    def find(t: str) -> str:
        while parent.setdefault(t, t) != t:
            parent[t] = parent[parent[t]]
            t = parent[t]
        return t

    for arms in arm_sets:
        for t in arms[1:]:
            parent[find(t)] = find(arms[0])
        find(arms[0])
    groups: dict[str, list[str]] = {}
    for t in parent:
        groups.setdefault(find(t), []).append(t)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: (-len(g), g))


def _checked(network: Network) -> Network:
    treatments = {t for trial in network.trials for t in trial.treatments}
    if network.reference not in treatments:
        raise NetworkError(
            f"reference {network.reference!r} is not a treatment of the network "
            f"(treatments: {', '.join(sorted(treatments))})"
        )
    for trial in network.trials:
        if len(set(trial.treatments)) != len(trial.treatments):
            raise NetworkError(f"study {trial.study!r}: a treatment appears in two arms")
        if len(trial.treatments) < 2:
            raise NetworkError(f"study {trial.study!r}: a trial needs two arms")
    components = connected_components(network.trials)
    if len(components) > 1:
        listed = "; ".join("{" + ", ".join(c) + "}" for c in components)
        raise NetworkError(f"the network is disconnected: {listed}")
    return network


def basic_contrasts(
    network: Network, baseline: Callable[[TrialArms], str] | None = None
) -> ContrastRows:
    """Each trial's arms against its baseline arm, with sampling and heterogeneity structure.

    ``baseline`` picks a trial's baseline treatment; by default the reference if the trial
    has it, else its first arm.
    """
    pick = baseline or (
        lambda trial: (
            network.reference if network.reference in trial.treatments else trial.treatments[0]
        )
    )
    study, treat1, treat2, y = [], [], [], []
    # Per size m: each trial's first row, its baseline arm's variance and its other arms'.
    by_size: dict[int, tuple[list[int], list[float], list[list[float]]]] = {}
    for trial in network.trials:
        base = trial.treatments.index(pick(trial))
        others = [i for i in range(len(trial.treatments)) if i != base]
        starts, baselines, arms = by_size.setdefault(len(others), ([], [], []))
        starts.append(len(y))
        baselines.append(trial.variances[base])
        arms.append([trial.variances[i] for i in others])
        for i in others:
            study.append(trial.study)
            treat1.append(trial.treatments[i])
            treat2.append(trial.treatments[base])
            y.append(trial.effects[i] - trial.effects[base])
    return ContrastRows(
        np.array(study, dtype=object),
        np.array(treat1, dtype=object),
        np.array(treat2, dtype=object),
        np.array(y, dtype=float),
        tuple(
            _study_blocks(np.array(starts), np.array(baselines), np.array(arms))
            for _, (starts, baselines, arms) in sorted(by_size.items())
        ),
    )


def _study_blocks(starts: IntArray, baselines: FloatArray, arms: FloatArray) -> StudyBlocks:
    r"""Blocks of the trials whose m rows start at ``starts``.

    A trial's contrasts share its baseline arm's variance,
    :math:`V_s = v_0 J + \operatorname{diag}(v_1, \dots, v_m)`, and half their
    heterogeneity, :math:`W_s = (I + J) / 2` (rho = 1/2).
    """
    count, m = arms.shape
    V = np.repeat(baselines, m * m).reshape(count, m, m)
    V[:, np.arange(m), np.arange(m)] += arms
    w = 0.5 * (np.eye(m) + np.ones((m, m)))
    return StudyBlocks(starts[:, None] + np.arange(m), V, np.broadcast_to(w, (count, m, m)))


def _subset(rows: ContrastRows, keep: NDArray[np.bool_]) -> ContrastRows:
    """The rows where ``keep``, which must hold all rows of a trial or none."""
    position = np.cumsum(keep) - 1
    blocks = []
    for block in rows.blocks:
        kept = keep[block.rows[:, 0]]
        if kept.any():
            blocks.append(StudyBlocks(position[block.rows[kept]], block.V[kept], block.W[kept]))
    return ContrastRows(
        rows.study[keep], rows.treat1[keep], rows.treat2[keep], rows.y[keep], tuple(blocks)
    )


def design_matrix(rows: ContrastRows, treatments: Sequence[str]) -> FloatArray:
    """+1 for a row's treatment, -1 for its baseline, one column per given treatment."""
    return np.column_stack(
        [(rows.treat1 == t).astype(float) - (rows.treat2 == t).astype(float) for t in treatments]
    )


# --- Fitting ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Stack:
    """The rows of the trials of one size, gathered for stacked linear algebra."""

    y: FloatArray  # (trials, m)
    X: FloatArray  # (trials, m, p)
    V: FloatArray  # (trials, m, m)
    W: FloatArray  # (trials, m, m)


def _stacks(rows: ContrastRows, X: FloatArray) -> tuple[_Stack, ...]:
    """Gather y and X by trial size, once per model rather than once per evaluation."""
    return tuple(_Stack(rows.y[b.rows], X[b.rows], b.V, b.W) for b in rows.blocks)


@dataclass(frozen=True)
class _Whitened:
    r"""One stack's rows whitened by its Cholesky factors, :math:`M_s = L_s L_s^\top`."""

    chol: FloatArray  # (trials, m, m) L
    y: FloatArray  # (trials, m) L^-1 y
    X: FloatArray  # (trials, m, p) L^-1 X


@dataclass(frozen=True)
class _GLSFit:
    """GLS under M = V + tau^2 W: coefficients, covariance and the likelihood's parts."""

    beta: FloatArray
    vcov: FloatArray  # (X' M^-1 X)^-1
    rss: float  # (y - X beta)' M^-1 (y - X beta)
    logdet_m: float  # log |M|
    logdet_xmx: float  # log |X' M^-1 X|
    whitened: tuple[_Whitened, ...]


def _forward_solve(chol: FloatArray, rhs: FloatArray) -> FloatArray:
    """:math:`L^{-1} B` for stacked lower-triangular L (trials, m, m) and B (trials, m, k).

    Forward substitution row by row, each step one vector operation over all trials: m is
    small (arms - 1) and the trials many, so this beats a LAPACK call per trial.
    """
    out = np.empty(rhs.shape)
    for i in range(chol.shape[1]):
        known = chol[:, i : i + 1, :i] @ out[:, :i]
        out[:, i] = (rhs[:, i] - known[:, 0]) / chol[:, i, i, None]
    return out


def _gls(stacks: Sequence[_Stack], tau2: float) -> _GLSFit:
    r"""GLS fit from the whitened rows of each trial (see the module docstring).

    :math:`\hat\beta = (X^\top M^{-1} X)^{-1} X^\top M^{-1} y` with
    :math:`X^\top M^{-1} X = \sum_s \tilde X_s^\top \tilde X_s`, and the residual quadratic
    form :math:`\sum_s \lVert \tilde y_s - \tilde X_s \hat\beta \rVert^2`.
    """
    whitened = []
    for stack in stacks:
        chol = np.linalg.cholesky(stack.V + tau2 * stack.W)
        y = _forward_solve(chol, stack.y[..., None])[..., 0]
        whitened.append(_Whitened(chol, y, _forward_solve(chol, stack.X)))
    p = stacks[0].X.shape[-1]
    y = np.concatenate([w.y.ravel() for w in whitened])
    X = np.concatenate([w.X.reshape(-1, p) for w in whitened])
    xmx = X.T @ X
    vcov = np.linalg.inv(xmx)
    beta = vcov @ (X.T @ y)
    resid = y - X @ beta
    logdet_m = sum(
        2.0 * float(np.log(np.diagonal(w.chol, axis1=1, axis2=2)).sum()) for w in whitened
    )
    return _GLSFit(
        beta,
        vcov,
        float(resid @ resid),
        logdet_m,
        float(np.linalg.slogdet(xmx)[1]),
        tuple(whitened),
    )


@dataclass(frozen=True)
class _VarianceTerms:
    r"""Traces and quadratic form of W under the fit's M (Harville 1977).

    ``trace_mw`` is :math:`\operatorname{tr}(M^{-1} W)`, ``trace_pw`` is
    :math:`\operatorname{tr}(P W)` with :math:`P = M^{-1} - M^{-1} X (X^\top M^{-1} X)^{-1}
    X^\top M^{-1}`, and ``quad`` is :math:`r^\top M^{-1} W M^{-1} r = y^\top P W P y`.
    """

    trace_mw: float
    trace_pw: float
    quad: float


def _variance_terms(stacks: Sequence[_Stack], fit: _GLSFit) -> _VarianceTerms:
    r"""The traces and quadratic form of W, trial by trial, without the n x n P.

    With :math:`\tilde W_s = L_s^{-1} W_s L_s^{-\top}` and the whitened residuals
    :math:`\tilde r_s = \tilde y_s - \tilde X_s \hat\beta`:
    :math:`\operatorname{tr}(M^{-1}W) = \sum_s \operatorname{tr}\tilde W_s`,
    :math:`\operatorname{tr}(PW) = \operatorname{tr}(M^{-1}W) -
    \operatorname{tr}\{(X^\top M^{-1} X)^{-1} \sum_s \tilde X_s^\top \tilde W_s \tilde X_s\}`
    and :math:`r^\top M^{-1} W M^{-1} r = \sum_s \tilde r_s^\top \tilde W_s \tilde r_s`.
    """
    p = fit.vcov.shape[0]
    trace_mw, quad, xwx = 0.0, 0.0, np.zeros_like(fit.vcov)
    for stack, white in zip(stacks, fit.whitened, strict=True):
        # L^-1 W L^-T: W is symmetric, so (L^-1 W)' = W L^-T.
        half = np.swapaxes(_forward_solve(white.chol, stack.W), 1, 2)
        w = _forward_solve(white.chol, half)
        resid = (white.y - white.X @ fit.beta)[..., None]
        trace_mw += float(np.trace(w, axis1=1, axis2=2).sum())
        quad += float(np.sum(resid * (w @ resid)))
        # Batched products, then one (p, n) x (n, p) product: sum_s X_s' W_s X_s.
        xwx += white.X.reshape(-1, p).T @ (w @ white.X).reshape(-1, p)
    return _VarianceTerms(trace_mw, trace_mw - float(np.sum(fit.vcov * xwx)), quad)


def _likelihood(rows: ContrastRows, X: FloatArray, restricted: bool) -> Callable[[float], float]:
    """:func:`log_likelihood` as a function of tau^2 for the optimizer.

    The rows are gathered by trial size and log|X'X| is computed once, not per evaluation.
    """
    stacks = _stacks(rows, X)
    n, p = X.shape
    logdet_xx = float(np.linalg.slogdet(X.T @ X)[1]) if restricted else 0.0

    def loglik(tau2: float) -> float:
        fit = _gls(stacks, tau2)
        if restricted:
            return -0.5 * (
                (n - p) * np.log(2 * np.pi) + fit.logdet_m + fit.logdet_xmx + fit.rss - logdet_xx
            )
        return -0.5 * (n * np.log(2 * np.pi) + fit.logdet_m + fit.rss)

    return loglik


def _score(rows: ContrastRows, X: FloatArray, restricted: bool) -> Callable[[float], float]:
    r"""The derivative of the (restricted) log-likelihood in tau^2 (Harville 1977).

    :math:`\partial\ell_{ML}/\partial\tau^2 = -\tfrac12 \{\operatorname{tr}(M^{-1}W) -
    r^\top M^{-1} W M^{-1} r\}`; REML has :math:`\operatorname{tr}(PW)` in place of
    :math:`\operatorname{tr}(M^{-1}W)`.
    """
    stacks = _stacks(rows, X)

    def score(tau2: float) -> float:
        terms = _variance_terms(stacks, _gls(stacks, tau2))
        trace = terms.trace_pw if restricted else terms.trace_mw
        return -0.5 * (trace - terms.quad)

    return score


def log_likelihood(rows: ContrastRows, X: FloatArray, tau2: float, restricted: bool) -> float:
    r"""(Restricted) log-likelihood of the model at ``tau2``, as metafor's ``logLik``.

    .. math::

        \ell_{ML} = -\tfrac12 \{ n \log 2\pi + \log|M| + r^\top M^{-1} r \}, \quad
        \ell_{REML} = -\tfrac12 \{ (n - p) \log 2\pi + \log|M| + \log|X^\top M^{-1} X|
        + r^\top M^{-1} r - \log|X^\top X| \}

    with :math:`M = V + \tau^2 W` and :math:`r = y - X\hat\beta` (Harville 1977;
    Viechtbauer 2010), every term summed over the trials' blocks (module docstring). metafor
    keeps the constant :math:`\log|X^\top X|`, which depends on the trials' baselines (see
    :func:`basic_contrasts`).
    """
    return _likelihood(rows, X, restricted)(tau2)


def _tau2_moment(rows: ContrastRows, X: FloatArray) -> float:
    r"""Generalized DerSimonian-Laird: :math:`\max\{0, (Q - df) / \operatorname{tr}(PW)\}`.

    Q and P are those of the fixed-effect model (tau^2 = 0).
    """
    stacks = _stacks(rows, X)
    fit = _gls(stacks, 0.0)
    df = X.shape[0] - X.shape[1]
    return max(0.0, (fit.rss - df) / _variance_terms(stacks, fit).trace_pw)


def _max_sampling_variance(rows: ContrastRows) -> float:
    """The largest sampling variance of a row (the largest diagonal element of V)."""
    return max(float(np.diagonal(b.V, axis1=1, axis2=2).max()) for b in rows.blocks)


def _tau2_likelihood(rows: ContrastRows, X: FloatArray, restricted: bool) -> float:
    """Maximize the (restricted) likelihood over tau^2 >= 0.

    Bounded Brent finds the maximum, the root of the score polishes it (:func:`_polish`),
    and tau^2 = 0 wins if its likelihood is as high (metafor's check of the boundary).
    """
    upper = 10.0 * max(float(np.var(rows.y)) + _max_sampling_variance(rows), 1e-8)
    loglik = _likelihood(rows, X, restricted)

    def objective(tau2: float) -> float:
        return -loglik(tau2)

    best = optimize.minimize_scalar(
        objective, bounds=(0.0, upper), method="bounded", options={"xatol": 1e-14}
    )
    tau2 = _polish(_score(rows, X, restricted), float(best.x), upper)
    return 0.0 if objective(0.0) <= objective(tau2) else tau2


# Half-width, relative to tau^2, of the bracket around Brent's estimate searched for the
# score's root: far wider than Brent's error (up to ~1e-7 relative on flat likelihoods).
_POLISH_BRACKET = 1e-4


def _polish(score: Callable[[float], float], tau2: float, upper: float) -> float:
    """The root of the score next to Brent's ``tau2``, or ``tau2`` without one.

    Brent on the likelihood stops where rounding hides its changes, which on a flat
    likelihood is up to ~1e-7 (relative) from the maximum, and which point of that plateau
    it returns depends on the order of the arithmetic. The score crosses zero there with a
    slope, so its root is determined to rounding: the estimate no longer depends on how the
    likelihood is summed.
    """
    half = _POLISH_BRACKET * tau2
    low, high = max(tau2 - half, 0.0), min(tau2 + half, upper)
    if tau2 == 0.0 or not score(low) > 0.0 > score(high):
        return tau2
    return float(optimize.brentq(score, low, high, xtol=1e-300, rtol=4 * np.finfo(float).eps))


def estimate_network_tau2(rows: ContrastRows, X: FloatArray, method: str) -> float:
    """The common tau^2 by REML, ML or the generalized DerSimonian-Laird estimator.

    Without residual degrees of freedom (as many rows as effects, say one trial per
    comparison of a tree) the data say nothing about tau^2: the residuals are 0, Q = df = 0
    and the restricted likelihood is flat, since log|M| + log|X'M^-1 X| = log|X'X|. tau^2 is
    then 0, the ML estimate and what metafor gives a single study.
    """
    if method not in NETWORK_METHODS:
        raise NetworkError(f"method must be one of {', '.join(NETWORK_METHODS)}, not {method!r}")
    if X.shape[0] == X.shape[1]:
        return 0.0
    if method == "DL":
        return _tau2_moment(rows, X)
    return _tau2_likelihood(rows, X, restricted=method == "REML")


def _fit_at(rows: ContrastRows, X: FloatArray, tau2: float) -> _GLSFit:
    """GLS fit of the rows under M = V + tau^2 W (tau^2 = 0: the fixed-effect model)."""
    return _gls(_stacks(rows, X), tau2)


def _within_design_q(network: Network, rows: ContrastRows) -> tuple[float, int]:
    """Fixed-effect Q within designs: each design with its own effects, summed.

    Each design's Q is fitted on its own rows only, so the cost is linear in the rows.
    """
    designs = dict(zip((t.study for t in network.trials), network.designs, strict=True))
    row_design = np.array([designs[s] for s in rows.study], dtype=object)
    q_total, df_total = 0.0, 0
    for design in dict.fromkeys(row_design):
        keep = row_design == design
        if len(set(rows.study[keep])) < 2:
            continue
        sub = _subset(rows, keep)
        comps = np.array([f"{a}|{b}" for a, b in zip(sub.treat1, sub.treat2, strict=True)])
        X = np.column_stack([(comps == c).astype(float) for c in dict.fromkeys(comps)])
        q_total += _fit_at(sub, X, 0.0).rss
        df_total += len(sub.y) - X.shape[1]
    return q_total, df_total


def _pscores(estimate: FloatArray, se: FloatArray, treatments: Sequence[str]) -> pd.Series:
    """P-score: mean over the other treatments of P(this one better), larger effects better."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, estimate / np.where(se > 0, se, 1.0), 0.0)
    p = norm_cdf(z)
    np.fill_diagonal(p, np.nan)
    return pd.Series(np.nanmean(p, axis=1), index=list(treatments), name="pscore")


def fit_network(network: Network, method: str = "REML", level: float = 0.95) -> NetworkFit:
    """Fit the consistency model; see the module docstring for the model and estimators.

    ``level`` is a fraction, or a percentage as metafor reads it; the fit carries ``method``
    and ``level`` as its :class:`~ketamine_meta.stats.model.ModelSpec` (z inference).
    """
    treatments = network.treatments
    rows = basic_contrasts(network)
    X = design_matrix(rows, treatments[1:])
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise NetworkError("the design matrix is rank-deficient: some effects are not estimable")
    tau2 = estimate_network_tau2(rows, X, method)
    model = ModelSpec(method, "z", level)
    fit = _fit_at(rows, X, tau2)
    beta, vcov = fit.beta, fit.vcov
    se = np.sqrt(np.diag(vcov))
    crit = model.crit()
    pi_half = crit * np.sqrt(se**2 + tau2)
    effects = pd.DataFrame(
        {
            "treatment": list(treatments[1:]),
            "estimate": beta,
            "se": se,
            "ci_low": beta - crit * se,
            "ci_high": beta + crit * se,
            "pi_low": beta - pi_half,
            "pi_high": beta + pi_half,
            "tau2": tau2,
        }
    )
    full = np.concatenate([[0.0], beta])
    full_vcov = np.zeros((len(treatments), len(treatments)))
    full_vcov[1:, 1:] = vcov
    league = full[:, None] - full[None, :]
    var = np.diag(full_vcov)[:, None] + np.diag(full_vcov)[None, :] - 2 * full_vcov
    league_se = np.sqrt(np.clip(var, 0.0, None))
    q_df = X.shape[0] - X.shape[1]
    q_total = _fit_at(rows, X, 0.0).rss
    q_within_total, q_within_df = _within_design_q(network, rows)
    q_between_df = q_df - q_within_df
    # Without a between-design degree of freedom the difference is rounding noise.
    q_between = _on_df(q_total - q_within_total, q_between_df)
    q, q_within = _on_df(q_total, q_df), _on_df(q_within_total, q_within_df)
    loglik = log_likelihood(rows, X, tau2, restricted=method == "REML")
    return NetworkFit(
        treatments=treatments,
        model=model,
        effects=effects,
        league_estimate=pd.DataFrame(league, index=treatments, columns=treatments),
        league_se=pd.DataFrame(league_se, index=treatments, columns=treatments),
        pscore=_pscores(league, league_se, treatments),
        tau2=tau2,
        q=q,
        q_df=q_df,
        q_p=_chi2_sf(q, q_df),
        q_within=q_within,
        q_within_df=q_within_df,
        q_within_p=_chi2_sf(q_within, q_within_df),
        q_between=q_between,
        q_between_df=q_between_df,
        q_between_p=_chi2_sf(q_between, q_between_df),
        loglik=loglik,
        coefficients=beta,
        vcov=vcov,
        k=len(network.trials),
    )


def _chi2_sf(q: float, df: int) -> float:
    return float(chi2_sf(q, df)) if df > 0 else float("nan")


def _on_df(q: float, df: int) -> float:
    """Q, or NaN on 0 degrees of freedom (a quadratic form of nothing: not estimable)."""
    return float(q) if df > 0 else float("nan")


# --- Inconsistency: node-splitting ------------------------------------------------------------


@dataclass(frozen=True)
class NodeSplit:
    """Direct and indirect estimates of ``second`` minus ``first`` and their difference."""

    first: str
    second: str
    k_direct: int
    direct: float
    direct_se: float
    indirect: float
    indirect_se: float
    difference: float
    difference_se: float
    pval: float
    tau2: float


def _direct_trials(network: Network, first: str, second: str) -> list[TrialArms]:
    return [t for t in network.trials if first in t.treatments and second in t.treatments]


def _has_indirect_evidence(
    network: Network, first: str, second: str, direct: Sequence[TrialArms]
) -> bool:
    """Whether the rest of the network links ``first`` and ``second``.

    The node-split design [X, split] has full column rank exactly when the rows other than
    the split ones connect the two (X has full rank in a connected network; a null vector
    needs effects that differ between ``first`` and ``second`` but agree along every other
    row). The direct trials, re-based on ``first``, keep their rows to their other arms;
    every other trial links all its arms.
    """
    direct_ids = {t.study for t in direct}
    linked = (
        [a for a in t.treatments if a != second] if t.study in direct_ids else t.treatments
        for t in network.trials
    )
    return any(first in part and second in part for part in _components(linked))


def _split_design(
    network: Network, first: str, second: str
) -> tuple[ContrastRows, FloatArray, int]:
    """Rows re-based on ``first`` in the direct trials, and the design with a split column."""
    direct = _direct_trials(network, first, second)
    if not direct:
        raise NetworkError(f"no trial compares {second!r} with {first!r}")
    if not _has_indirect_evidence(network, first, second, direct):
        raise NetworkError(f"{second!r} vs {first!r} has no indirect evidence to split from")
    direct_ids = {t.study for t in direct}

    def baseline(trial: TrialArms) -> str:
        if trial.study in direct_ids:
            return first
        ref = network.reference
        return ref if ref in trial.treatments else trial.treatments[0]

    rows = basic_contrasts(network, baseline)
    X = design_matrix(rows, network.treatments[1:])
    in_direct = np.fromiter((s in direct_ids for s in rows.study), bool, len(rows.study))
    split = (in_direct & (rows.treat1 == second) & (rows.treat2 == first)).astype(float)
    return rows, np.column_stack([X, split]), len(direct)


def node_split(network: Network, first: str, second: str, method: str = "REML") -> NodeSplit:
    """Split the evidence on ``second`` vs ``first`` into direct and indirect (Dias 2010).

    The trials that compare the two are re-based on ``first``; their ``second`` row gets a
    parameter of its own, so that the network parameters carry the indirect evidence and
    that parameter is direct minus indirect, tested by z. tau^2 is re-estimated.

    Raises
    ------
    NetworkError
        If no trial compares the two, or without them the two are not connected.
    """
    rows, Xs, k_direct = _split_design(network, first, second)
    tau2 = estimate_network_tau2(rows, Xs, method)
    fit = _fit_at(rows, Xs, tau2)
    beta, vcov = fit.beta, fit.vcov
    contrast = np.array([(t == second) - (t == first) for t in network.treatments[1:]], dtype=float)
    l_ind = np.append(contrast, 0.0)
    l_dir = np.append(contrast, 1.0)
    diff_se = float(np.sqrt(vcov[-1, -1]))
    return NodeSplit(
        first=first,
        second=second,
        k_direct=k_direct,
        direct=float(l_dir @ beta),
        direct_se=float(np.sqrt(l_dir @ vcov @ l_dir)),
        indirect=float(l_ind @ beta),
        indirect_se=float(np.sqrt(l_ind @ vcov @ l_ind)),
        difference=float(beta[-1]),
        difference_se=diff_se,
        pval=float(2 * norm_sf(abs(beta[-1]) / diff_se)),
        tau2=tau2,
    )


def splittable_comparisons(network: Network) -> list[tuple[str, str]]:
    """Pairs (first, second) that have both direct and indirect evidence.

    A pair is splittable when trials compare it and its node-split model is estimable: the
    rest of the network still links the two.
    """
    out = []
    for first, second in combinations(network.treatments, 2):
        direct = _direct_trials(network, first, second)
        if direct and _has_indirect_evidence(network, first, second, direct):
            out.append((first, second))
    return out


def direct_evidence_share(network: Network, fit: NetworkFit) -> pd.Series:
    """Share of each effect against the reference that comes from direct evidence.

    The proportion of direct evidence (König et al. 2013): the variance of the network
    estimate divided by the variance of the direct estimate alone (trials comparing the
    treatment with the reference, pooled with the fit's tau^2); 0 without such trials.
    """
    shares = {}
    for treatment, var in zip(fit.treatments[1:], np.diag(fit.vcov), strict=True):
        trials = [
            t
            for t in network.trials
            if treatment in t.treatments and network.reference in t.treatments
        ]
        if not trials:
            shares[treatment] = 0.0
            continue
        sub = Network(tuple(trials), network.reference)
        rows = basic_contrasts(sub)
        X = design_matrix(rows, sub.treatments[1:])
        column = sub.treatments[1:].index(treatment)
        direct_vcov = _fit_at(rows, X, fit.tau2).vcov
        shares[treatment] = float(min(1.0, var / direct_vcov[column, column]))
    return pd.Series(shares, name="direct_share")
