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
:math:`\tau^2 \ge 0`), or by the generalized DerSimonian-Laird moment estimator
:math:`\hat\tau^2 = \max\{0, (Q - df) / \operatorname{tr}(P W)\}` with
:math:`P = V^{-1} - V^{-1}X(X^\top V^{-1}X)^{-1}X^\top V^{-1}` and :math:`Q = y^\top P y`
(Jackson, White and Riley 2012), which reduces to DerSimonian-Laird for one comparison.

References
----------
Higgins JPT, Whitehead A (1996). Borrowing strength from external trials in a
meta-analysis. Stat Med 15:2733-49.
Higgins JPT et al. (2012). Consistency and inconsistency in network meta-analysis: concepts
and models for multi-arm studies. Res Synth Methods 3:98-110.
Dias S et al. (2010). Checking consistency in mixed treatment comparison meta-analysis.
Stat Med 29:932-44.
Rücker G, Schwarzer G (2015). Ranking treatments in frequentist network meta-analysis
works without resampling methods. BMC Med Res Methodol 15:58.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import linalg, optimize, stats

FloatArray = NDArray[np.float64]
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
class ContrastRows:
    """Basic contrasts (each non-baseline arm minus its trial's baseline arm)."""

    study: NDArray[np.object_]
    treat1: NDArray[np.object_]
    treat2: NDArray[np.object_]
    y: FloatArray
    V: FloatArray
    W: FloatArray


@dataclass(frozen=True)
class NetworkFit:
    """A fitted network: effects of every treatment against the reference, in metafor's terms.

    Attributes
    ----------
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
        design-by-treatment interaction, Higgins et al. 2012), fixed-effect.
    loglik : float
        Log-likelihood (restricted for REML) at the estimate.
    coefficients, vcov : numpy.ndarray
        The effects against the reference and their covariance, in ``treatments[1:]`` order.
    """

    treatments: tuple[str, ...]
    method: str
    level: float
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
            f"contrasts to back-calculate its arm variances; missing {', '.join(missing)}",
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


def network_from_pairwise(contrasts: pd.DataFrame, reference: str) -> Network:
    """A network from pairwise contrasts: columns ``study, treat1, treat2, yi, vi``.

    ``yi`` is treat1 minus treat2 and ``vi`` its sampling variance.

    Raises
    ------
    NetworkError
        For a non-finite yi, a non-positive vi, an incomplete or contradictory multi-arm
        trial, an unknown reference or a disconnected network (its components named).
    """
    _check_pairwise_columns(contrasts["yi"].to_numpy(float), contrasts["vi"].to_numpy(float))
    trials = tuple(
        _trial_from_pairwise(str(study), rows)
        for study, rows in contrasts.groupby("study", sort=False)
    )
    return _checked(Network(trials, reference))


def network_from_arms(arms: pd.DataFrame, reference: str) -> Network:
    """A network from arm-level effects: columns ``study, treatment, effect, variance``.

    ``effect`` is an arm's outcome on any scale whose differences are the contrasts (a mean,
    a log odds), ``variance`` its sampling variance.
    """
    trials = tuple(
        TrialArms(
            str(study),
            tuple(rows["treatment"].astype(str)),
            tuple(rows["effect"].astype(float)),
            tuple(rows["variance"].astype(float)),
        )
        for study, rows in arms.groupby("study", sort=False)
    )
    return _checked(Network(trials, reference))


def connected_components(trials: Sequence[TrialArms]) -> list[list[str]]:
    """Groups of treatments linked by trials, each sorted, largest first."""
    parent: dict[str, str] = {}

    def find(t: str) -> str:
        while parent.setdefault(t, t) != t:
            parent[t] = parent[parent[t]]
            t = parent[t]
        return t

    for trial in trials:
        for t in trial.treatments[1:]:
            parent[find(t)] = find(trial.treatments[0])
        find(trial.treatments[0])
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
    study, treat1, treat2, y, blocks, w_blocks = [], [], [], [], [], []
    for trial in network.trials:
        base = trial.treatments.index(pick(trial))
        others = [i for i in range(len(trial.treatments)) if i != base]
        for i in others:
            study.append(trial.study)
            treat1.append(trial.treatments[i])
            treat2.append(trial.treatments[base])
            y.append(trial.effects[i] - trial.effects[base])
        block = np.full((len(others), len(others)), trial.variances[base])
        block[np.diag_indices(len(others))] += np.asarray(trial.variances)[others]
        blocks.append(block)
        w_blocks.append(0.5 * (np.eye(len(others)) + np.ones((len(others), len(others)))))
    return ContrastRows(
        np.array(study, dtype=object),
        np.array(treat1, dtype=object),
        np.array(treat2, dtype=object),
        np.array(y, dtype=float),
        linalg.block_diag(*blocks),
        linalg.block_diag(*w_blocks),
    )


def design_matrix(rows: ContrastRows, treatments: Sequence[str]) -> FloatArray:
    """+1 for a row's treatment, -1 for its baseline, one column per given treatment."""
    return np.column_stack(
        [(rows.treat1 == t).astype(float) - (rows.treat2 == t).astype(float) for t in treatments]
    )


# --- Fitting ----------------------------------------------------------------------------------


def _gls(y: FloatArray, X: FloatArray, M: FloatArray) -> tuple[FloatArray, FloatArray, float]:
    """GLS coefficients, their covariance and the residual quadratic form under ``M``."""
    chol = linalg.cho_factor(M)
    Mi_X = linalg.cho_solve(chol, X)
    Mi_y = linalg.cho_solve(chol, y)
    vcov = np.linalg.inv(X.T @ Mi_X)
    beta = vcov @ (X.T @ Mi_y)
    resid = y - X @ beta
    return beta, vcov, float(resid @ linalg.cho_solve(chol, resid))


def log_likelihood(rows: ContrastRows, X: FloatArray, tau2: float, restricted: bool) -> float:
    """(Restricted) log-likelihood of the model at ``tau2``, as metafor's ``logLik``."""
    M = rows.V + tau2 * rows.W
    _beta, vcov, rss = _gls(rows.y, X, M)
    n, p = X.shape
    logdet_m = np.linalg.slogdet(M)[1]
    if restricted:
        # metafor's REML log-likelihood keeps the constant + log|X'X| / 2 (Harville 1977),
        # which depends on the trials' baselines (see basic_contrasts).
        logdet_xmx = -np.linalg.slogdet(vcov)[1]
        logdet_xx = np.linalg.slogdet(X.T @ X)[1]
        return float(-0.5 * ((n - p) * np.log(2 * np.pi) + logdet_m + logdet_xmx + rss - logdet_xx))
    return float(-0.5 * (n * np.log(2 * np.pi) + logdet_m + rss))


def fixed_effect_q(y: FloatArray, X: FloatArray, V: FloatArray) -> tuple[float, FloatArray]:
    """Q = y' P y with P the fixed-effect residual projector, and P itself."""
    Vi = np.linalg.inv(V)
    Vi_X = Vi @ X
    P = Vi - Vi_X @ np.linalg.solve(X.T @ Vi_X, Vi_X.T)
    return float(y @ P @ y), P


def _tau2_moment(rows: ContrastRows, X: FloatArray) -> float:
    q, P = fixed_effect_q(rows.y, X, rows.V)
    df = X.shape[0] - X.shape[1]
    return max(0.0, (q - df) / float(np.trace(P @ rows.W)))


def _tau2_likelihood(rows: ContrastRows, X: FloatArray, restricted: bool) -> float:
    """Maximize the (restricted) likelihood over tau^2 >= 0 (bounded Brent, then zero)."""
    upper = 10.0 * max(float(np.var(rows.y)) + float(np.diag(rows.V).max()), 1e-8)

    def objective(tau2: float) -> float:
        return -log_likelihood(rows, X, tau2, restricted)

    best = optimize.minimize_scalar(
        objective, bounds=(0.0, upper), method="bounded", options={"xatol": 1e-14}
    )
    tau2 = float(best.x)
    return 0.0 if objective(0.0) <= objective(tau2) else tau2


def estimate_network_tau2(rows: ContrastRows, X: FloatArray, method: str) -> float:
    """The common tau^2 by REML, ML or the generalized DerSimonian-Laird estimator."""
    if method == "DL":
        return _tau2_moment(rows, X)
    if method in ("REML", "ML"):
        return _tau2_likelihood(rows, X, restricted=method == "REML")
    raise NetworkError(f"method must be one of {', '.join(NETWORK_METHODS)}, not {method!r}")


def _within_design_q(network: Network, rows: ContrastRows) -> tuple[float, int]:
    """Fixed-effect Q within designs: each design with its own effects, summed."""
    designs = dict(zip((t.study for t in network.trials), network.designs, strict=True))
    row_design = np.array([designs[s] for s in rows.study], dtype=object)
    q_total, df_total = 0.0, 0
    for design in dict.fromkeys(row_design):
        idx = np.flatnonzero(row_design == design)
        if len(set(rows.study[idx])) < 2:
            continue
        comps = np.array(
            [f"{a}|{b}" for a, b in zip(rows.treat1[idx], rows.treat2[idx], strict=True)]
        )
        X = np.column_stack([(comps == c).astype(float) for c in dict.fromkeys(comps)])
        q, _ = fixed_effect_q(rows.y[idx], X, rows.V[np.ix_(idx, idx)])
        q_total += q
        df_total += len(idx) - X.shape[1]
    return q_total, df_total


def _pscores(estimate: FloatArray, se: FloatArray, treatments: Sequence[str]) -> pd.Series:
    """P-score: mean over the other treatments of P(this one better), larger effects better."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, estimate / np.where(se > 0, se, 1.0), 0.0)
    p = stats.norm.cdf(z)
    np.fill_diagonal(p, np.nan)
    return pd.Series(np.nanmean(p, axis=1), index=list(treatments), name="pscore")


def fit_network(network: Network, method: str = "REML", level: float = 0.95) -> NetworkFit:
    """Fit the consistency model; see the module docstring for the model and estimators."""
    treatments = network.treatments
    rows = basic_contrasts(network)
    X = design_matrix(rows, treatments[1:])
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise NetworkError("the design matrix is rank-deficient: some effects are not estimable")
    tau2 = estimate_network_tau2(rows, X, method)
    beta, vcov, _ = _gls(rows.y, X, rows.V + tau2 * rows.W)
    se = np.sqrt(np.diag(vcov))
    crit = stats.norm.ppf(0.5 + level / 2)
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
    q, _ = fixed_effect_q(rows.y, X, rows.V)
    q_df = X.shape[0] - X.shape[1]
    q_within, q_within_df = _within_design_q(network, rows)
    q_between_df = q_df - q_within_df
    # Without a between-design degree of freedom the difference is rounding noise.
    q_between = q - q_within if q_between_df > 0 else 0.0
    loglik = log_likelihood(rows, X, tau2, restricted=method == "REML")
    return NetworkFit(
        treatments=treatments,
        method=method,
        level=level,
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
    return float(stats.chi2.sf(q, df)) if df > 0 else float("nan")


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


def _split_design(
    network: Network, first: str, second: str
) -> tuple[ContrastRows, FloatArray, int]:
    """Rows re-based on ``first`` in the direct trials, and the design with a split column."""
    direct = [t for t in network.trials if first in t.treatments and second in t.treatments]
    if not direct:
        raise NetworkError(f"no trial compares {second!r} with {first!r}")
    direct_ids = {t.study for t in direct}

    def baseline(trial: TrialArms) -> str:
        if trial.study in direct_ids:
            return first
        ref = network.reference
        return ref if ref in trial.treatments else trial.treatments[0]

    rows = basic_contrasts(network, baseline)
    X = design_matrix(rows, network.treatments[1:])
    split = (
        np.isin(rows.study, list(direct_ids)) & (rows.treat1 == second) & (rows.treat2 == first)
    ).astype(float)
    Xs = np.column_stack([X, split])
    if np.linalg.matrix_rank(Xs) < Xs.shape[1]:
        raise NetworkError(f"{second!r} vs {first!r} has no indirect evidence to split from")
    return rows, Xs, len(direct)


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
    beta, vcov, _ = _gls(rows.y, Xs, rows.V + tau2 * rows.W)
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
        pval=float(2 * stats.norm.sf(abs(beta[-1]) / diff_se)),
        tau2=tau2,
    )


def splittable_comparisons(network: Network) -> list[tuple[str, str]]:
    """Pairs (first, second) that have both direct and indirect evidence.

    A pair is splittable when trials compare it and its node-split model is estimable: the
    rest of the network still links the two.
    """
    out = []
    for first, second in combinations(network.treatments, 2):
        try:
            _split_design(network, first, second)
        except NetworkError:
            continue
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
        _, vcov, _ = _gls(rows.y, X, rows.V + fit.tau2 * rows.W)
        shares[treatment] = float(min(1.0, var / vcov[column, column]))
    return pd.Series(shares, name="direct_share")
