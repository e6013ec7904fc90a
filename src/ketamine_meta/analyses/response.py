"""Response: the share of patients who respond, per arm type, and the risk ratio against control.

Pooled response rates by arm type (PROTOCOL.md §14), their time course, and the response risk
ratio by enantiomer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special

from ketamine_meta.analyses.comparisons import (
    CONTROL_TYPE,
    ENANTIOMER,
)
from ketamine_meta.analyses.pooling import (
    TRIAL,
    with_display,
)
from ketamine_meta.analyses.protocol import (
    AnalysisSet,
    Pooling,
    Protocol,
    Window,
    nearest_in_window,
)
from ketamine_meta.stats.effect_sizes import (
    inverse_freeman_tukey,
    proportion_freeman_tukey,
    proportion_logit,
)
from ketamine_meta.stats.meta_analysis import (
    RandomEffectsResult,
    pool_by_subgroup,
    random_effects,
)

#: How control arms are grouped when pooling response rates.
CONTROL_ARM_TYPE = {
    "saline_placebo": "placebo (saline)",
    "intranasal_placebo": "placebo (intranasal)",
    "oral_placebo": "placebo (oral)",
    "midazolam": "midazolam",
}


RESPONSE_RATE_COLUMNS = [
    "outcome",
    "timepoint_h",
    "arm_type",
    "k",
    "trials",
    "events",
    "n",
    "proportion",
    "ci_low",
    "ci_high",
    "pi_low",
    "pi_high",
    "tau2",
    "i2",
    "measure",
    "method",
    "test",
    "dependence",
    "display",
    "pi_note",
]


def arm_types(arms: pd.DataFrame) -> pd.Series:
    """``racemic IV``, ``esketamine IN``, ``placebo (saline)``, ``midazolam``... per arm."""
    active = arms["drug"].map(ENANTIOMER)
    return active.str.cat(arms["route"].fillna("?"), sep=" ").fillna(
        arms["drug"].map(CONTROL_ARM_TYPE)
    )


def arm_responses(
    outcomes: pd.DataFrame,
    arms: pd.DataFrame,
    studies: pd.DataFrame,
    window: Window,
    analysis_set: AnalysisSet,
    scale_preference: Sequence[str],
    outcome: str = "response",
) -> pd.DataFrame:
    """Each arm's responders in ``window``: one row per arm, ``drug`` and ``route`` attached.

    - Only counts defined on a depression scale of ``scale_preference`` enter, the first
      the arm reports (PROTOCOL.md §4): never a suicidal-ideation response.
    - Within the window, the visit nearest the nominal time (PROTOCOL.md §6).
    - Trials outside the set's populations, settings, designs and data bases are left out,
      and so are control arms whose control type is not in the set (PROTOCOL.md §7-§10).
    """
    rank = {scale: i for i, scale in enumerate(scale_preference)}
    rows = outcomes[
        (outcomes["outcome"] == outcome)
        & outcomes["events"].notna()
        & outcomes["n"].notna()
        & outcomes["scale"].isin(list(rank))
        & outcomes["data_basis"].isin(analysis_set.source_basis)
    ]
    rows = rows.merge(studies[["study_id", "population", "setting", "design"]]).merge(
        arms[["study_id", "arm_id", "drug", "route"]]
    )
    control_type = rows["drug"].map(CONTROL_TYPE)
    keep = analysis_set.trial_mask(rows) & (
        rows["drug"].isin(list(ENANTIOMER)) | control_type.isin(analysis_set.control_types)
    )
    rows = rows[keep]
    # The preferred scale first, then the visit nearest the window's nominal time.
    chosen = nearest_in_window(rows, window, ["study_id", "arm_id"], rows["scale"].map(rank))
    return chosen.sort_values(["study_id", "arm_id"]).reset_index(drop=True)


def pooled_response_rates(
    outcomes: pd.DataFrame,
    arms: pd.DataFrame,
    studies: pd.DataFrame,
    protocol: Protocol,
    scale_preference: Sequence[str],
    pooling: Pooling,
    measure: str = "PLO",
    outcome: str = "response",
) -> pd.DataFrame:
    r"""Random-effects pooled proportion of responders per arm type in the primary window.

    Each trial enters an arm type once: its arms of that type (:func:`arm_responses`; several
    doses) are combined by adding responders and participants (PROTOCOL.md §11; Handbook
    6.5.2.10), then pooled as a logit (PLO, back-transformed with the logistic function) or a
    Freeman-Tukey double arcsine (PFT, back-transformed by Miller's formula at the harmonic
    mean n); arms whose type is neither an enantiomer by route nor a listed control are left
    out. ``k`` counts arms, ``trials`` trials; ``display`` and ``pi_note`` apply the
    minimum-information rule (:func:`with_display`).

    References
    ----------
    Barendregt, J. J., et al. (2013). Meta-analysis of prevalence. *Journal of Epidemiology
    and Community Health*, 67(11), 974-978. Schwarzer, G., et al. (2019). Seriously
    misleading results using inverse of Freeman-Tukey double arcsine transformation in
    meta-analysis of single proportions. *Research Synthesis Methods*, 10(3), 476-483.
    """
    window = protocol.primary_window
    rows = arm_responses(
        outcomes, arms, studies, window, protocol.analysis_set, scale_preference, outcome
    )
    return _pool_proportions(rows, arms, pooling, measure, outcome, window.nominal_h)


def pool_proportions(
    events: ArrayLike, n: ArrayLike, pooling: Pooling, measure: str = "PLO"
) -> tuple[RandomEffectsResult, np.ndarray]:
    """Random-effects pooled proportion, back-transformed: estimate, CI and PI bounds.

    ``measure`` ``"PLO"`` pools logits (back-transformed by the logistic function), ``"PFT"``
    Freeman-Tukey values (back-transformed by Miller's formula at the harmonic mean n).
    """
    n = np.asarray(n, dtype=float)
    transform = proportion_logit if measure == "PLO" else proportion_freeman_tukey
    fit = random_effects(*transform(events, n), **pooling.model.arguments)
    pooled = np.array([fit.estimate, fit.ci_low, fit.ci_high, fit.pi_low, fit.pi_high])
    back = special.expit(pooled) if measure == "PLO" else inverse_freeman_tukey(pooled, n)
    return fit, back


def _pool_proportions(
    rows: pd.DataFrame,
    arms: pd.DataFrame,
    pooling: Pooling,
    measure: str,
    outcome: str,
    timepoint_h: float | str,
) -> pd.DataFrame:
    typed = rows.drop(columns=["drug", "route"], errors="ignore").merge(
        arms.assign(arm_type=arm_types(arms))[["study_id", "arm_id", "arm_type"]]
    )
    typed = typed[typed["arm_type"].notna()]
    results = []
    for arm_type, group in typed.groupby("arm_type", sort=True):
        # The arms of one type in a trial are one group of that trial's patients.
        trials = group.groupby(TRIAL, sort=True)[["events", "n"]].sum().astype(float)
        events, n = trials["events"], trials["n"]
        fit, (est, low, high, pi_low, pi_high) = pool_proportions(events, n, pooling, measure)
        arms_per_trial = group.groupby(TRIAL, sort=True).size()
        results.append(
            {
                "outcome": outcome,
                "timepoint_h": timepoint_h,
                "arm_type": arm_type,
                "k": len(group),
                "trials": fit.k,
                "dependence": "; ".join(
                    f"{trial}: {count} arms combined within the trial (responders and "
                    "participants added)"
                    for trial, count in arms_per_trial.items()
                    if count > 1
                ),
                "events": events.sum(),
                "n": n.sum(),
                "proportion": est,
                "ci_low": low,
                "ci_high": high,
                "pi_low": pi_low,
                "pi_high": pi_high,
                "tau2": fit.tau2,
                "i2": fit.i2,
                "measure": measure,
                "method": pooling.model.method,
                "test": fit.test,
            }
        )
    return with_display(pd.DataFrame(results, columns=RESPONSE_RATE_COLUMNS), pooling)


def response_time_course(
    outcomes: pd.DataFrame,
    arms: pd.DataFrame,
    studies: pd.DataFrame,
    protocol: Protocol,
    scale_preference: Sequence[str],
    pooling: Pooling,
    measure: str = "PLO",
) -> pd.DataFrame:
    """Pooled response proportion per arm type in each window of ``protocol.windows``.

    Each window is a separate analysis of the arms that report it (:func:`arm_responses`):
    different trials contribute to different windows. Columns of
    :data:`RESPONSE_RATE_COLUMNS` with ``timepoint_h`` holding the window label, plus
    ``nominal_h`` and ``studies`` (the trials in the cell).
    """
    tables = []
    for window in protocol.windows:
        rows = arm_responses(
            outcomes, arms, studies, window, protocol.analysis_set, scale_preference
        )
        if rows.empty:
            continue
        table = _pool_proportions(rows, arms, pooling, measure, "response", window.label)
        tables.append(table.assign(nominal_h=window.nominal_h))
    return pd.concat(tables, ignore_index=True)


def pool_rr_by(by_study: pd.DataFrame, by: str, pooling: Pooling, outcome: str) -> pd.DataFrame:
    """Pool log risk ratios per level of ``by`` and overall (table on the log scale).

    One estimate per trial, with ``display`` and ``pi_note`` as :func:`pool_smd_by`.
    """
    analysis = f"log_rr_{outcome}_{pooling.timepoint_label}"
    table, _, _ = pool_by_subgroup(
        by_study, by=by, analysis=analysis, cluster=TRIAL, **pooling.model.arguments
    )
    return with_display(table, pooling)
