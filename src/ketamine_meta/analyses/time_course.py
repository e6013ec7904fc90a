r"""The time-course model of the depression score (PROTOCOL.md §19).

Each trial's Hedges' g in every window of the protocol, its arms of one formulation combined
(Handbook 23.3.4), enters one multivariate model
(:func:`ketamine_meta.stats.multilevel.fit_autoregressive`): one effect per formulation and
window, and a random trial effect whose correlation over the ordered windows is fixed, not
estimated (few trials report several windows, so the likelihood does not identify it). The
sampling covariance goes to the model as one block per trial, so its cost is linear in their
number. A cell informed by fewer than ``min_trials`` trials is fitted but not shown.

Beside the cells, the within-trial contrasts between windows: for a trial with g at windows
:math:`a_1 < a_2`, :math:`d = g_2 - g_1` with

.. math::

    \operatorname{Var}(d) = v_1 + v_2 - 2 r^{|a_2 - a_1|} \sqrt{v_1 v_2}

(r the sampling correlation of adjacent windows, the model's assumption), pooled over trials
by the random-effects model of §11 where enough trials report both windows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import combinations

import numpy as np
import pandas as pd

from ketamine_meta.analyses.comparisons import (
    ComparisonRules,
    build_effect_sizes,
    record_groups,
)
from ketamine_meta.analyses.network import node_of
from ketamine_meta.analyses.protocol import Pooling, Protocol, select_comparisons
from ketamine_meta.stats.meta_analysis import random_effects
from ketamine_meta.stats.model import ModelSpec
from ketamine_meta.stats.multilevel import (
    MultilevelError,
    fit_autoregressive,
    sampling_covariance_blocks,
)

OBSERVED_COLUMNS = [
    "study_id",
    "comparison_id",
    "group",
    "window",
    "position",
    "nominal_h",
    "timepoint_h",
    "n_total",
    "yi",
    "vi",
]
EXCLUSION_COLUMNS = ["study_id", "comparison_id", "group", "window", "reason"]
CELL_COLUMNS = [
    "model",
    "structure",
    "method",
    "sampling_correlation",
    "rho_fixed",
    "group",
    "window",
    "nominal_h",
    "k_trials",
    "studies",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "tau2",
    "converged",
    "note",
]
CONTRAST_COLUMNS = [
    "group",
    "window_from",
    "window_to",
    "study_id",
    "k_trials",
    "studies",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "tau2",
    "method",
    "test",
    "sampling_correlation",
]
#: ``study_id`` of a contrast pooled over trials.
POOLED = "pooled"


@dataclass(frozen=True)
class TimeCourseTables:
    """The tables of the time-course analysis (PROTOCOL.md §19)."""

    cells: pd.DataFrame
    contrasts: pd.DataFrame
    observed: pd.DataFrame
    excluded: pd.DataFrame


def observed_effects(
    tables: Mapping[str, pd.DataFrame],
    rules: ComparisonRules,
    protocol: Protocol,
    nodes: Sequence[Mapping],
    groups: Sequence[str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each trial's g per formulation and window it reports (nearest visit), arms combined.

    The arms of one formulation in a trial are combined before g is computed (as the
    network's, PROTOCOL.md §18), so a trial enters a cell once. Where a trial still has
    several comparisons in one cell (say, single arms reported only as contrasts beside their
    combined arm-level comparison), the one with the most participants is kept. Returns the
    rows used and the rows left out with the reason.
    """
    effects, _ = build_effect_sizes(
        tables["studies"],
        tables["arms"],
        tables["outcomes"],
        tables["contrasts"],
        replace(rules, multi_arm="combine"),
    )
    frames = []
    for position, window in enumerate(protocol.windows):
        try:
            rows = select_comparisons(
                effects, "depression_score", "SMD", window, protocol.analysis_set
            )
        except ValueError:  # no comparison reports this window
            continue
        frames.append(
            rows.assign(window=window.label, position=position, nominal_h=window.nominal_h)
        )
    if not frames:
        return pd.DataFrame(columns=OBSERVED_COLUMNS), pd.DataFrame(columns=EXCLUSION_COLUMNS)
    rows = pd.concat(frames, ignore_index=True)
    rows["group"] = [
        node_of(d, r, nodes) for d, r in zip(rows["drug_treat"], rows["route"], strict=True)
    ]
    rows = rows[rows["group"].isin(list(groups))]
    # Most participants first, so that the first row of a trial's cell is the one kept.
    rows = rows.sort_values(
        ["study_id", "group", "position", "n_total", "comparison_id"],
        ascending=[True, True, True, False, True],
        kind="stable",
    )
    repeated = rows.duplicated(["study_id", "group", "position"])
    excluded = rows.loc[repeated, EXCLUSION_COLUMNS[:-1]].assign(
        reason="another comparison of the trial, with more participants, fills this cell"
    )
    used = rows[~repeated].sort_values(["group", "study_id", "position"], kind="stable")
    return (
        used[OBSERVED_COLUMNS].reset_index(drop=True),
        excluded[EXCLUSION_COLUMNS].reset_index(drop=True),
    )


def _trial_keys(observed: pd.DataFrame) -> list[str]:
    """The cluster of each row: its trial and formulation (one random effect each)."""
    return [f"{s}|{g}" for s, g in zip(observed["study_id"], observed["group"], strict=True)]


def fit_cells(
    observed: pd.DataFrame,
    structure: str,
    correlation: float,
    rho: float,
    level: float,
    model: str,
    method: str = "REML",
    min_trials: int = 2,
) -> pd.DataFrame:
    """One row per formulation and window: the modelled g and its CI, ``rho`` fixed.

    A cell with fewer than ``min_trials`` trials is fitted (its trial informs tau² and, through
    its random effect, its other windows) but its estimate and CI are left blank.
    """
    cells = observed[["group", "window", "position", "nominal_h"]].drop_duplicates()
    cells = cells.sort_values(["group", "position"], kind="stable").reset_index(drop=True)
    keys = list(zip(cells["group"], cells["window"], strict=True))
    X = pd.DataFrame(
        {
            f"{g}|{w}": ((observed["group"] == g) & (observed["window"] == w)).astype(float)
            for g, w in keys
        }
    ).to_numpy()
    cluster = _trial_keys(observed)
    # Per-trial blocks: the n x n matrix would not fit in memory for a large evidence base.
    V = sampling_covariance_blocks(cluster, observed["position"], observed["vi"], correlation)
    labels = {
        "model": model,
        "structure": structure,
        "method": method,
        "sampling_correlation": correlation,
        "rho_fixed": rho,
    }
    try:
        fit = fit_autoregressive(
            observed["yi"],
            V,
            X,
            cluster,
            list(observed["position"]),
            structure,
            method,
            level,
            rho=rho,
        )
    except MultilevelError as exc:
        failed = labels | {"group": "", "window": "", "converged": False, "note": str(exc)}
        return pd.DataFrame([failed], columns=CELL_COLUMNS)
    studies = observed.groupby(["group", "window"])["study_id"].agg(lambda s: sorted(set(s)))
    trials = [studies.loc[key] for key in keys]
    shown = np.array([len(t) >= min_trials for t in trials])
    table = cells.assign(
        **labels,
        k_trials=[len(t) for t in trials],
        studies=[";".join(t) for t in trials],
        estimate=np.where(shown, fit.coefficients, np.nan),
        se=np.where(shown, fit.se, np.nan),
        ci_low=np.where(shown, fit.ci_low, np.nan),
        ci_high=np.where(shown, fit.ci_high, np.nan),
        tau2="; ".join(f"{v:.6g}" for v in fit.tau2),
        converged=fit.converged,
        note=[
            "" if ok else _too_few_note(t, min_trials) for ok, t in zip(shown, trials, strict=True)
        ],
    )
    return table[CELL_COLUMNS]


def _too_few_note(trials: Sequence[str], min_trials: int) -> str:
    return (
        f"{len(trials)} trial ({', '.join(trials)}), fewer than {min_trials}: not pooled; "
        "its own g is in time_course_smd_observed.csv"
    )


def window_contrasts(
    observed: pd.DataFrame, correlation: float, model: ModelSpec, min_trials: int = 2
) -> pd.DataFrame:
    """Every trial's difference in g between two windows it reports, and their pools.

    The trial rows carry Wald z intervals at ``model``'s level under the sampling correlation
    ``correlation`` of adjacent windows (module docstring); a formulation's window pair
    reported by at least ``min_trials`` trials is pooled by
    :func:`~ketamine_meta.stats.meta_analysis.random_effects` with ``model``.
    """
    crit = model.crit()
    rows = []
    for (group, study), records in record_groups(observed, ["group", "study_id"]):
        for first, second in combinations(sorted(records, key=lambda r: r["position"]), 2):
            lag = second["position"] - first["position"]
            variance = (
                first["vi"]
                + second["vi"]
                - 2 * correlation**lag * np.sqrt(first["vi"] * second["vi"])
            )
            estimate, se = second["yi"] - first["yi"], float(np.sqrt(variance))
            rows.append(
                {
                    "group": group,
                    "window_from": first["window"],
                    "window_to": second["window"],
                    "from": first["position"],
                    "to": second["position"],
                    "study_id": study,
                    "k_trials": 1,
                    "studies": study,
                    "estimate": estimate,
                    "se": se,
                    "ci_low": estimate - crit * se,
                    "ci_high": estimate + crit * se,
                    "method": "",
                    "test": "z",
                    "sampling_correlation": correlation,
                }
            )
    if not rows:
        return pd.DataFrame(columns=CONTRAST_COLUMNS)
    trials = pd.DataFrame(rows)
    pooled = [
        _pooled_contrast(pair, model, correlation)
        for _, pair in trials.groupby(["group", "from", "to"], sort=False)
        if len(pair) >= min_trials
    ]
    table = pd.concat([trials, *([pd.DataFrame(pooled)] if pooled else [])], ignore_index=True)
    table["pooled"] = table["study_id"] == POOLED
    table = table.sort_values(["group", "from", "to", "pooled", "study_id"], kind="stable")
    return table.reindex(columns=CONTRAST_COLUMNS).reset_index(drop=True)


def _pooled_contrast(pair: pd.DataFrame, model: ModelSpec, r: float) -> dict:
    """The random-effects pool (PROTOCOL.md §11) of one window pair's trial contrasts."""
    fit = random_effects(pair["estimate"], pair["se"] ** 2, **model.arguments)
    first = pair.iloc[0]
    return {
        "group": first["group"],
        "window_from": first["window_from"],
        "window_to": first["window_to"],
        "from": first["from"],
        "to": first["to"],
        "study_id": POOLED,
        "k_trials": fit.k,
        "studies": ";".join(pair["study_id"]),
        "estimate": fit.estimate,
        "se": fit.se,
        "ci_low": fit.ci_low,
        "ci_high": fit.ci_high,
        "tau2": fit.tau2,
        "method": fit.model.method,
        "test": fit.test,
        "sampling_correlation": r,
    }


def time_course_analysis(
    tables: Mapping[str, pd.DataFrame],
    rules: ComparisonRules,
    protocol: Protocol,
    nodes: Sequence[Mapping],
    settings: Mapping,
    pooling: Pooling,
) -> TimeCourseTables:
    """The primary model, its sensitivity models and the within-trial contrasts (§19).

    Intervals are at ``pooling``'s level; the contrasts are pooled with its model.

    The primary model is the first structure at the configured sampling correlation and the
    configured fixed rho; then the other structures, the primary structure at each fixed rho
    of ``random_correlation_range``, and at each sampling correlation of
    ``sampling_correlation_range``.
    """
    observed, excluded = observed_effects(tables, rules, protocol, nodes, settings["groups"])
    level = pooling.model.level
    primary, *others = settings["structures"]
    r, rho = settings["sampling_correlation"], settings["random_correlation"]
    models = [("primary", primary, r, rho)]
    models += [(f"structure {s}", s, r, rho) for s in others]
    models += [
        (f"random-effects correlation {c:g}", primary, r, c)
        for c in settings["random_correlation_range"]
        if c != rho
    ]
    models += [
        (f"sampling correlation {c:g}", primary, c, rho)
        for c in settings["sampling_correlation_range"]
        if c != r
    ]
    cells = pd.concat(
        [
            fit_cells(observed, s, c, p, level, name, settings["method"], settings["min_trials"])
            for name, s, c, p in models
        ],
        ignore_index=True,
    )
    contrasts = window_contrasts(observed, r, pooling.model, settings["min_trials"])
    return TimeCourseTables(cells=cells, contrasts=contrasts, observed=observed, excluded=excluded)
