r"""The tables of a network meta-analysis of any network, per connected part.

What netmeta's ``netmeta``, ``netrank``, ``decomp.design``, ``netsplit`` and
``netmeasures`` print, computed by :mod:`ketamine_meta.stats.network` (metafor's
``rma.mv`` consistency model): the effects against the reference, the league table, the
P-scores, Q split into within and between designs, node-splitting and the share of direct
evidence. A network of several connected parts is fitted part by part, each against its own
reference (the one asked for where the part holds it), since nothing links their effects.

Arm-level data become arm effects on a scale whose differences are the contrasts
(:func:`arm_effects`), as netmeta's ``pairwise()`` would pair them:

.. math::

    \text{OR: } \log\frac{x + c}{n - x + c},\ \frac1{x + c} + \frac1{n - x + c};
    \quad
    \text{RR: } \log\frac{x + c}{n + 2c},\ \frac1{x + c} - \frac1{n + 2c};
    \quad
    \text{MD: } \bar x,\ \frac{s^2}{n}

with :math:`c` the continuity correction, added to every arm of a trial in which some arm
has no events or only events (netmeta's ``incr`` with ``allincr = FALSE``, metafor's
``to = "only0"`` applied per trial).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from ketamine_meta.stats.model import ModelSpec
from ketamine_meta.stats.network import (
    Network,
    NetworkFit,
    TrialArms,
    direct_evidence_share,
    fit_network,
    network_parts,
    node_split,
    splittable_comparisons,
)

ArmMeasure = Literal["OR", "RR", "MD"]
#: The arm-level measures and the columns each takes besides ``study`` and ``treatment``.
ARM_COLUMNS: dict[str, tuple[str, ...]] = {
    "OR": ("event", "n"),
    "RR": ("event", "n"),
    "MD": ("mean", "sd", "n"),
}


def arm_effects(
    measure: ArmMeasure, study: ArrayLike, values: dict[str, ArrayLike], add: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Each arm's effect and sampling variance (formulas in the module docstring).

    ``values`` holds the :data:`ARM_COLUMNS` of ``measure``; ``study`` groups the arms into
    trials, for the continuity correction of counts.
    """
    if measure == "MD":
        mean, sd, n = (np.asarray(values[c], dtype=float) for c in ("mean", "sd", "n"))
        return mean, sd**2 / n
    events, n = (np.asarray(values[c], dtype=float) for c in ("event", "n"))
    extreme = pd.Series((events == 0) | (events == n)).groupby(np.asarray(study)).transform("any")
    c = np.where(extreme.to_numpy(), add, 0.0)
    if measure == "OR":
        return np.log((events + c) / (n - events + c)), 1 / (events + c) + 1 / (n - events + c)
    if measure == "RR":
        return np.log((events + c) / (n + 2 * c)), 1 / (events + c) - 1 / (n + 2 * c)
    raise ValueError(f"unknown arm-level measure {measure!r}: OR, RR or MD")


@dataclass(frozen=True)
class NetworkTables:
    """The tables of :func:`network_tables`, each with a ``part`` column (1 = largest).

    Attributes
    ----------
    model : ModelSpec
        The tau^2 estimator, z inference and the confidence level.
    effects : pandas.DataFrame
        Each treatment against its part's reference: estimate, se, CI, PI, tau2, trials.
    league : pandas.DataFrame
        Every ordered pair of a part: ``row`` minus ``column``, with se and CI.
    pscores : pandas.DataFrame
        P-score of each treatment within its part (Rücker and Schwarzer 2015), the better
        end of the scale as ``small_values`` says.
    heterogeneity : pandas.DataFrame
        Per part: Q of the consistency model, within designs and between designs (the
        design-by-treatment interaction), their df and p (NaN on 0 df), and tau2.
    node_split : pandas.DataFrame
        Each comparison with direct and indirect evidence: both estimates of ``second``
        minus ``first``, their difference and its z test.
    direct_share : pandas.DataFrame
        Share of each effect against the part's reference that comes from direct evidence.
    """

    model: ModelSpec
    effects: pd.DataFrame
    league: pd.DataFrame
    pscores: pd.DataFrame
    heterogeneity: pd.DataFrame
    node_split: pd.DataFrame
    direct_share: pd.DataFrame

    def frames(self) -> dict[str, pd.DataFrame]:
        """The tables by name, as they are written to files."""
        return {
            "effects": self.effects,
            "league": self.league,
            "pscores": self.pscores,
            "heterogeneity": self.heterogeneity,
            "node_split": self.node_split,
            "direct_share": self.direct_share,
        }


def network_tables(
    trials: Sequence[TrialArms],
    reference: str,
    method: str = "REML",
    level: float = 0.95,
    small_values: Literal["undesirable", "desirable"] = "undesirable",
) -> NetworkTables:
    """Fit every connected part of ``trials`` and tabulate it.

    ``small_values`` says which end of the scale is better, for the P-scores (netmeta's
    ``small.values``): with ``"desirable"`` (a harm, an odds of stroke) each P-score is one
    minus the P-score with larger values better.

    Raises
    ------
    NetworkError
        From :func:`~ketamine_meta.stats.network.network_parts` or a part's fit.
    """
    rows: dict[str, list[pd.DataFrame]] = {name: [] for name in _COLUMNS}
    model = ModelSpec(method, "z", level)
    for number, part in enumerate(network_parts(trials, reference), start=1):
        fit = fit_network(part, method, level)
        model = fit.model
        for name, frame in _part_tables(part, fit, small_values == "desirable").items():
            rows[name].append(frame.assign(part=number))
    return NetworkTables(
        model,
        **{
            name: pd.concat(frames, ignore_index=True)[_COLUMNS[name]]
            if frames
            else pd.DataFrame(columns=_COLUMNS[name])
            for name, frames in rows.items()
        },
    )


_COLUMNS = {
    "effects": [
        "part",
        "reference",
        "treatment",
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "pi_low",
        "pi_high",
        "tau2",
        "trials",
    ],
    "league": ["part", "row", "column", "estimate", "se", "ci_low", "ci_high"],
    "pscores": ["part", "treatment", "pscore"],
    "heterogeneity": ["part", "component", "q", "df", "pval", "tau2", "trials"],
    "node_split": [
        "part",
        "first",
        "second",
        "trials_direct",
        "direct",
        "direct_se",
        "indirect",
        "indirect_se",
        "difference",
        "difference_se",
        "pval",
        "tau2",
    ],
    "direct_share": ["part", "reference", "treatment", "direct_share"],
}


def league_table(fit: NetworkFit) -> pd.DataFrame:
    """Every ordered pair of the fit's treatments: ``row`` minus ``column``, se and CI.

    Pairs in the order of the treatments (the reference first), rows before columns.
    """
    crit = fit.model.crit()
    names = list(fit.treatments)
    row, column = np.nonzero(~np.eye(len(names), dtype=bool))
    estimate = fit.league_estimate.to_numpy()[row, column]
    se = fit.league_se.to_numpy()[row, column]
    return pd.DataFrame(
        {
            "row": [names[i] for i in row],
            "column": [names[j] for j in column],
            "estimate": estimate,
            "se": se,
            "ci_low": estimate - crit * se,
            "ci_high": estimate + crit * se,
        }
    )


def _part_tables(part: Network, fit: NetworkFit, smaller_better: bool) -> dict[str, pd.DataFrame]:
    """The tables of one fitted part (without its ``part`` number)."""
    trials = len(part.trials)
    splits = [
        node_split(part, first, second, fit.model.method)
        for first, second in splittable_comparisons(part)
    ]
    share = direct_evidence_share(part, fit)
    return {
        "effects": fit.effects.assign(reference=part.reference, trials=trials),
        "league": league_table(fit),
        "pscores": (1 - fit.pscore if smaller_better else fit.pscore)
        .rename("pscore")
        .rename_axis("treatment")
        .reset_index(),
        "heterogeneity": pd.DataFrame(
            {
                "component": ["total", "within designs", "between designs"],
                "q": [fit.q, fit.q_within, fit.q_between],
                "df": [fit.q_df, fit.q_within_df, fit.q_between_df],
                "pval": [fit.q_p, fit.q_within_p, fit.q_between_p],
                "tau2": fit.tau2,
                "trials": trials,
            }
        ),
        "node_split": pd.DataFrame(
            [
                {
                    "first": s.first,
                    "second": s.second,
                    "trials_direct": s.k_direct,
                    "direct": s.direct,
                    "direct_se": s.direct_se,
                    "indirect": s.indirect,
                    "indirect_se": s.indirect_se,
                    "difference": s.difference,
                    "difference_se": s.difference_se,
                    "pval": s.pval,
                    "tau2": s.tau2,
                }
                for s in splits
            ],
            columns=_COLUMNS["node_split"][1:],
        ),
        "direct_share": share.rename_axis("treatment")
        .reset_index()
        .assign(reference=part.reference),
    }
