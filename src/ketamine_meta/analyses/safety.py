"""Safety: adverse-event risk ratios per event and drug, and dissociation against effect."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ketamine_meta.analyses.comparisons import (
    ENANTIOMER,
)
from ketamine_meta.analyses.pooling import (
    SLOPE_MIN_COMPARISONS,
    TRIAL,
    arms_kept_apart,
    display_columns,
    fit_trials,
    slope_fit,
)
from ketamine_meta.analyses.protocol import Pooling
from ketamine_meta.stats.effect_sizes import (
    log_risk_ratio,
)
from ketamine_meta.stats.meta_analysis import (
    OVERALL_LABEL,
)


def adverse_event_risk_ratios(
    adverse_events: pd.DataFrame, arms: pd.DataFrame, event: str
) -> pd.DataFrame:
    """Log risk ratio of one adverse event, each drug arm against its trial's control arm.

    Events are matched by name, case-insensitively. A shared control is split between the
    drug arms it is compared with, as for the efficacy comparisons.
    """
    rows = adverse_events[adverse_events["event"].str.lower() == event.lower()]
    rows = rows.merge(arms[["study_id", "arm_id", "drug", "route", "dose", "dose_unit"]])
    out = []
    for study_id, group in rows.groupby("study_id", sort=True):
        treat = group[group["drug"].isin(list(ENANTIOMER))]
        ctrl = group[~group["drug"].isin([*ENANTIOMER, "other_active"])]
        if treat.empty or len(ctrl) != 1:
            continue
        c = ctrl.iloc[0]
        for _, t in treat.iterrows():
            n_ctrl = c["n"] / len(treat)
            yi, vi = log_risk_ratio(t["events"], t["n"], c["events"] / len(treat), n_ctrl)
            dose = (
                ""
                if pd.isna(t["dose"])
                else f" {t['dose']:g} {'mg/kg' if t['dose_unit'] == 'mg_per_kg' else 'mg'}"
            )
            out.append(
                {
                    "study_id": study_id,
                    "arm_id": t["arm_id"],
                    "label": f"{study_id} ({ENANTIOMER[t['drug']]} {t['route']}{dose})",
                    "route": t["route"],
                    "enantiomer": ENANTIOMER[t["drug"]],
                    "event": event,
                    "events_treat": t["events"],
                    "n_treat": t["n"],
                    "events_ctrl": c["events"],
                    "n_ctrl": c["n"],
                    "yi": float(yi),
                    "vi": float(vi),
                    "n_total": t["n"] + n_ctrl,
                    "source_id": t["source_id"],
                    "locator": t["locator"],
                }
            )
    return pd.DataFrame(out)


def adverse_event_table(
    adverse_events: pd.DataFrame, arms: pd.DataFrame, events: Sequence[str], pooling: Pooling
) -> pd.DataFrame:
    """Per-trial log RRs of each adverse event and, per event, the pooled log RR.

    Rows with ``study_id`` = ``overall`` hold the pooled estimate (random effects, one
    estimate per trial: :func:`fit_trials`) with its CI in ``ci_low`` / ``ci_high`` (log
    scale), ``k`` (drug arms), ``trials``, ``dependence`` and ``display``
    (:func:`display_columns`).
    """
    tables = []
    for event in events:
        per_arm = adverse_event_risk_ratios(adverse_events, arms, event)
        if per_arm.empty:
            continue
        fit, counts = fit_trials(per_arm, pooling)
        shown = display_columns(pd.Series([fit.k]), pd.Series([fit.tau2]), pooling)
        overall = counts | {
            "study_id": OVERALL_LABEL,
            "label": f"Pooled ({fit.k} trials)",
            "event": event,
            "yi": fit.estimate,
            "ci_low": fit.ci_low,
            "ci_high": fit.ci_high,
            "tau2": fit.tau2,
            "display": shown["display"].item(),
        }
        tables.append(pd.concat([per_arm, pd.DataFrame([overall])], ignore_index=True))
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def dissociation_vs_effect(by_study: pd.DataFrame, adverse_events: pd.DataFrame) -> pd.DataFrame:
    """Each primary comparison with the share of its drug arm reporting dissociation.

    ``adverse_events`` is the per-arm table of :func:`adverse_event_table`; comparisons whose
    drug arm has no dissociation incidence are left out.
    """
    dissociation = adverse_events[
        (adverse_events["event"] == "dissociation") & (adverse_events["study_id"] != OVERALL_LABEL)
    ]
    shares = dissociation.assign(
        dissociation_share=dissociation["events_treat"] / dissociation["n_treat"]
    )[["study_id", "arm_id", "dissociation_share", "events_treat", "n_treat"]]
    treat_arm = by_study["comparison_id"].str.split(":").str[1].str.split("-vs-").str[0]
    table = by_study[["study_id", "comparison_id", "label", "route", "yi", "vi"]].assign(
        arm_id=treat_arm
    )
    return table.merge(shares, on=["study_id", "arm_id"]).reset_index(drop=True)


def dissociation_slope(table: pd.DataFrame, pooling: Pooling) -> pd.DataFrame:
    """Meta-regression of g on the share reporting dissociation, or one row saying why not.

    ``table`` is :func:`dissociation_vs_effect`. Columns ``term, estimate, se, ci_low,
    ci_high, pval, k, trials, dependence`` and ``note`` (empty where fitted; with fewer than
    :data:`~ketamine_meta.analyses.pooling.SLOPE_MIN_COMPARISONS` comparisons the model is not
    estimable and the row says so).
    """
    if len(table) < SLOPE_MIN_COMPARISONS:
        note = (
            f"k = {len(table)}: a meta-regression is not estimable (no CADSS scores could be read)"
        )
        trials = table[TRIAL].nunique()
        return pd.DataFrame(
            [{"term": "share", "k": len(table), "trials": trials, "dependence": "", "note": note}]
        )
    fit = slope_fit(table, "dissociation_share", "share", pooling)
    return fit.coefficients.assign(
        k=fit.k,
        trials=table[TRIAL].nunique(),
        dependence=arms_kept_apart(table, "arms treated as independent"),
        note="",
    )
