"""Turn arm-level outcomes into one effect size per comparison, outcome and timepoint.

A *comparison* pairs an arm that received a ketamine enantiomer with a control arm of the same
trial. Scores give Hedges' g oriented so that a positive value favours the drug (depression
scales fall as patients improve); counts give the log risk ratio, drug over control. Multi-arm
trials share their control: each arm's n is divided by the number of comparisons it enters,
so no participant counts twice (Cochrane Handbook 6.4, section 23.3.4). Crossover trials are
analysed as if parallel, which ignores the within-person correlation and so over-states the
variance (Elbourne et al., 2002): a conservative choice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ketamine_meta.datapackage import COUNT_OUTCOMES, SCORE_OUTCOMES
from ketamine_meta.effect_sizes import (
    hedges_correction,
    log_risk_ratio,
    sd_from_ci,
    sd_from_se,
    sd_from_se_of_difference,
    se_from_ci_of_difference,
    smd,
    smd_variance,
)

#: Enantiomer label of each active drug.
ENANTIOMER = {"racemic_ketamine": "racemic", "esketamine": "esketamine", "arketamine": "arketamine"}

EFFECT_SIZE_COLUMNS = [
    "study_id",
    "comparison_id",
    "label",
    "outcome",
    "measure",
    "timepoint_h",
    "route",
    "enantiomer",
    "drug_treat",
    "dose_treat",
    "dose_unit_treat",
    "drug_ctrl",
    "design",
    "population",
    "scale",
    "value_type",
    "n_treat",
    "n_ctrl",
    "n_total",
    "n_treat_analysed",
    "n_ctrl_analysed",
    "mean_treat",
    "sd_treat",
    "sd_source_treat",
    "mean_ctrl",
    "sd_ctrl",
    "sd_source_ctrl",
    "events_treat",
    "events_ctrl",
    "yi",
    "vi",
    "data_basis",
    "contrast_estimate",
    "contrast_se",
    "source_id_treat",
    "locator_treat",
    "source_id_ctrl",
    "locator_ctrl",
]

EXCLUSION_COLUMNS = ["study_id", "arm_id", "outcome", "scale", "timepoint_h", "reason"]

#: ``data_basis`` of effect sizes computed from arm means, spreads and counts.
ARM_LEVEL = "arm-level"


@dataclass(frozen=True)
class ComparisonRules:
    """Which arms are compared and which reported value is used, in order of preference.

    Attributes
    ----------
    treatment_drugs, control_drugs : sequence of str
        ``arms.drug`` values that make an arm a treatment or a control arm.
    scale_preference : sequence of str
        Scales in order of preference; per trial and timepoint the first one reported for
        both a treatment and a control arm is used.
    value_type_preference : sequence of str
        ``endpoint`` and ``change`` in order of preference, applied after the scale.
    """

    treatment_drugs: Sequence[str] = ("racemic_ketamine", "esketamine", "arketamine")
    control_drugs: Sequence[str] = (
        "saline_placebo",
        "midazolam",
        "intranasal_placebo",
        "oral_placebo",
    )
    scale_preference: Sequence[str] = field(
        default_factory=lambda: ["MADRS", "HDRS17", "HDRS21", "HDRS24", "HDRS25", "HDRS", "HDRS6"]
    )
    value_type_preference: Sequence[str] = ("endpoint", "change")


def resolve_sd(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Add ``sd_used``: the reported SD, or the SD derived from the reported SE or 95% CI.

    Rows whose ``sd_source`` cannot yet be converted (t, p, figure, imputed) get NA.
    """
    out = outcomes.copy()
    n = out["n"].astype(float).to_numpy()
    sd = out["sd"].astype(float).to_numpy()
    from_se = sd_from_se(out["se"].astype(float).to_numpy(), n)
    from_ci = sd_from_ci(
        out["ci_low"].astype(float).to_numpy(), out["ci_high"].astype(float).to_numpy(), n
    )
    source = out["sd_source"].fillna("").to_numpy()
    out["sd_used"] = np.select(
        [source == "reported", source == "from_se", source == "from_ci"],
        [sd, from_se, from_ci],
        default=np.nan,
    )
    return out


def _study_label(study_id: str) -> str:
    """``Murrough2013a`` -> ``Murrough 2013a``."""
    for i, ch in enumerate(study_id):
        if ch.isdigit():
            return f"{study_id[:i]} {study_id[i:]}"
    return study_id


def _dose_label(dose: object, unit: object) -> str:
    if pd.isna(dose):
        return ""
    text = f"{float(dose):g}"
    return f"{text} mg/kg" if unit == "mg_per_kg" else f"{text} mg"


#: How each active drug is named in comparison labels.
DRUG_LABEL = {
    "racemic_ketamine": "ketamine",
    "esketamine": "esketamine",
    "arketamine": "arketamine",
}


def _comparison_label(study_id: str, treat_arm: pd.Series) -> str:
    """``Daly 2018 (esketamine 84 mg)``: study, drug and dose of the treatment arm."""
    dose = _dose_label(treat_arm["dose"], treat_arm["dose_unit"])
    drug = " ".join(filter(None, [DRUG_LABEL[treat_arm["drug"]], dose]))
    return f"{_study_label(study_id)} ({drug})"


def _pick_rows(
    rows: pd.DataFrame, treat_ids: set[str], ctrl_ids: set[str], rules: ComparisonRules
) -> pd.DataFrame | None:
    """The rows of the preferred (scale, value type) reported by a treatment and a control arm."""
    for scale in rules.scale_preference:
        for value_type in rules.value_type_preference:
            chosen = rows[(rows["scale"] == scale) & (rows["value_type"] == value_type)]
            arms = set(chosen["arm_id"])
            if arms & treat_ids and arms & ctrl_ids:
                return chosen
    return None


def _pick_count_rows(
    rows: pd.DataFrame, treat_ids: set[str], ctrl_ids: set[str], rules: ComparisonRules
) -> pd.DataFrame | None:
    for scale in [*rules.scale_preference, *sorted(set(rows["scale"]))]:
        chosen = rows[rows["scale"] == scale]
        arms = set(chosen["arm_id"])
        if arms & treat_ids and arms & ctrl_ids:
            return chosen
    return None


def build_effect_sizes(
    studies: pd.DataFrame,
    arms: pd.DataFrame,
    outcomes: pd.DataFrame,
    contrasts: pd.DataFrame | None = None,
    rules: ComparisonRules | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Compute every drug-versus-control effect size the data allow.

    Arm-level numbers (``outcomes``) are used wherever they exist; a reported contrast
    (``contrasts``) fills in a comparison, outcome and timepoint that has none (see
    :func:`contrast_effect_sizes`).

    Parameters
    ----------
    studies, arms, outcomes : pandas.DataFrame
        The validated tables of the data package.
    contrasts : pandas.DataFrame, optional
        The validated ``contrasts`` table.
    rules : ComparisonRules, optional
        Arm roles and value preferences; the defaults are those of ``config/config.yaml``.

    Returns
    -------
    effects : pandas.DataFrame
        One row per comparison x outcome x timepoint, columns :data:`EFFECT_SIZE_COLUMNS`,
        sorted by outcome, timepoint, route, study and comparison.
    exclusions : pandas.DataFrame
        Arm rows that could not be used, with the reason (columns :data:`EXCLUSION_COLUMNS`).
    """
    rules = rules or ComparisonRules()
    arm_info = arms.set_index(["study_id", "arm_id"])
    study_info = studies.set_index("study_id")
    scored = resolve_sd(outcomes)
    effects: list[dict] = []
    exclusions: list[dict] = []
    reasons = _unusable_reasons(scored)
    unusable = reasons.notna()
    for row, rec in scored[unusable].iterrows():
        exclusions.append(
            {**{c: rec[c] for c in EXCLUSION_COLUMNS if c != "reason"}, "reason": reasons[row]}
        )
    usable = scored[~unusable]
    for (study_id, outcome, timepoint), rows in usable.groupby(
        ["study_id", "outcome", "timepoint_h"], sort=True
    ):
        if timepoint == 0:
            continue
        drugs = rows["arm_id"].map(lambda a, s=study_id: arm_info.at[(s, a), "drug"])
        treat_ids = set(rows.loc[drugs.isin(rules.treatment_drugs), "arm_id"])
        ctrl_ids = set(rows.loc[drugs.isin(rules.control_drugs), "arm_id"])
        picker = _pick_rows if outcome in SCORE_OUTCOMES else _pick_count_rows
        chosen = picker(rows, treat_ids, ctrl_ids, rules) if treat_ids and ctrl_ids else None
        if chosen is None:
            continue
        by_arm = chosen.set_index("arm_id")
        pairs = [
            (t, c)
            for t in sorted(treat_ids & set(by_arm.index))
            for c in sorted(ctrl_ids & set(by_arm.index))
        ]
        uses = pd.Series([a for pair in pairs for a in pair]).value_counts()
        for treat, ctrl in pairs:
            effects.append(
                _comparison_row(
                    study_id,
                    outcome,
                    timepoint,
                    by_arm.loc[treat],
                    by_arm.loc[ctrl],
                    arm_info.loc[(study_id, treat)],
                    arm_info.loc[(study_id, ctrl)],
                    study_info.loc[study_id],
                    treat,
                    ctrl,
                    uses[treat],
                    uses[ctrl],
                )
            )
    frame = _add_yi_vi(pd.DataFrame(effects, columns=EFFECT_SIZE_COLUMNS))
    if contrasts is not None and not contrasts.empty:
        from_contrasts, skipped = contrast_effect_sizes(contrasts, arms, studies, frame, rules)
        frame = (
            pd.concat([frame, from_contrasts], ignore_index=True) if len(from_contrasts) else frame
        )
        exclusions += skipped
    frame = frame.sort_values(
        ["outcome", "timepoint_h", "route", "study_id", "comparison_id"], kind="stable"
    ).reset_index(drop=True)
    excluded = pd.DataFrame(exclusions, columns=EXCLUSION_COLUMNS)
    return frame, excluded.sort_values(EXCLUSION_COLUMNS[:5], kind="stable").reset_index(drop=True)


def _unusable_reasons(scored: pd.DataFrame) -> pd.Series:
    """Why each outcome row cannot enter an effect size (NA where it can)."""
    is_score = scored["outcome"].isin(SCORE_OUTCOMES)
    is_count = scored["outcome"].isin(COUNT_OUTCOMES)
    reasons = pd.Series(pd.NA, index=scored.index, dtype="object")
    reasons[is_score & scored["sd_used"].isna()] = "no SD, and no SE or CI to derive it from"
    reasons[(is_score | is_count) & scored["n"].isna()] = "n analysed not reported"
    return reasons


def _comparison_fields(
    study_id: str,
    comparison_id: str,
    treat_arm: pd.Series,
    ctrl_arm: pd.Series,
    study: pd.Series,
) -> dict:
    """Columns describing a comparison, shared by arm-level and contrast-based rows."""
    return {
        "study_id": study_id,
        "comparison_id": comparison_id,
        "label": _comparison_label(study_id, treat_arm),
        "route": treat_arm["route"],
        "enantiomer": ENANTIOMER[treat_arm["drug"]],
        "drug_treat": treat_arm["drug"],
        "dose_treat": treat_arm["dose"],
        "dose_unit_treat": treat_arm["dose_unit"],
        "drug_ctrl": ctrl_arm["drug"],
        "design": study["design"],
        "population": study["population"],
    }


def _comparison_row(
    study_id: str,
    outcome: str,
    timepoint: float,
    treat: pd.Series,
    ctrl: pd.Series,
    treat_arm: pd.Series,
    ctrl_arm: pd.Series,
    study: pd.Series,
    treat_id: str,
    ctrl_id: str,
    treat_uses: int,
    ctrl_uses: int,
) -> dict:
    is_score = outcome in SCORE_OUTCOMES
    return {
        **_comparison_fields(
            study_id, f"{study_id}:{treat_id}-vs-{ctrl_id}", treat_arm, ctrl_arm, study
        ),
        "outcome": outcome,
        "measure": "SMD" if is_score else "logRR",
        "timepoint_h": timepoint,
        "scale": treat["scale"],
        "value_type": treat["value_type"] if is_score else pd.NA,
        # A shared arm's participants are split between the comparisons it enters.
        "n_treat": treat["n"] / treat_uses,
        "n_ctrl": ctrl["n"] / ctrl_uses,
        "n_treat_analysed": treat["n"],
        "n_ctrl_analysed": ctrl["n"],
        "mean_treat": treat["mean"] if is_score else pd.NA,
        "sd_treat": treat["sd_used"] if is_score else pd.NA,
        "sd_source_treat": treat["sd_source"] if is_score else pd.NA,
        "mean_ctrl": ctrl["mean"] if is_score else pd.NA,
        "sd_ctrl": ctrl["sd_used"] if is_score else pd.NA,
        "sd_source_ctrl": ctrl["sd_source"] if is_score else pd.NA,
        "events_treat": pd.NA if is_score else treat["events"] / treat_uses,
        "events_ctrl": pd.NA if is_score else ctrl["events"] / ctrl_uses,
        "data_basis": ARM_LEVEL,
        "contrast_estimate": pd.NA,
        "contrast_se": pd.NA,
        "source_id_treat": treat["source_id"],
        "locator_treat": treat["locator"],
        "source_id_ctrl": ctrl["source_id"],
        "locator_ctrl": ctrl["locator"],
    }


def _add_yi_vi(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["n_total"] = frame["n_treat"] + frame["n_ctrl"]
    score = (frame["measure"] == "SMD").to_numpy()
    yi = np.full(len(frame), np.nan)
    vi = np.full(len(frame), np.nan)
    if score.any():
        s = frame[score]
        # Group 1 is the control, so that a positive g favours the drug.
        yi[score], vi[score] = smd(
            s["mean_ctrl"].astype(float),
            s["sd_ctrl"].astype(float),
            s["n_ctrl"].astype(float),
            s["mean_treat"].astype(float),
            s["sd_treat"].astype(float),
            s["n_treat"].astype(float),
        )
    count = ~score
    if count.any():
        c = frame[count]
        yi[count], vi[count] = log_risk_ratio(
            c["events_treat"].astype(float),
            c["n_treat"].astype(float),
            c["events_ctrl"].astype(float),
            c["n_ctrl"].astype(float),
        )
    frame["yi"] = yi
    frame["vi"] = vi
    return frame


def contrast_effect_sizes(
    contrasts: pd.DataFrame,
    arms: pd.DataFrame,
    studies: pd.DataFrame,
    arm_level: pd.DataFrame,
    rules: ComparisonRules | None = None,
) -> tuple[pd.DataFrame, list[dict]]:
    r"""Hedges' g from between-arm effects as reported, for comparisons with no arm data.

    - ``MD`` / ``LSMD`` (parallel trials): the SE (given, or from the CI by
      :func:`~ketamine_meta.effect_sizes.se_from_ci_of_difference`) implies the pooled SD,
      :math:`SD = SE/\sqrt{1/n_1 + 1/n_2}` (Cochrane Handbook 6.5.2.3); then g and its
      variance are those of :func:`~ketamine_meta.effect_sizes.smd` with the difference as
      the treatment mean and 0 as the control mean. A paired (crossover) difference is
      skipped: its SE does not give the SD of scores without the within-person correlation.
    - ``SMD_d``: Hedges' correction is applied, :math:`g = J\,d`, :math:`v = J^2 SE^2`.
    - ``SMD_g``: used as reported, :math:`v = SE^2`.
    - A standardized difference without SE or CI takes the large-sample variance
      :math:`1/n_1 + 1/n_2 + g^2/(2(n_1+n_2))`, as metafor's
      ``escalc(measure = "SMD", di = d, n1i, n2i)`` does (Hedges 1981).

    Where a comparison, outcome and timepoint has several contrasts, the first usable one is
    taken in the order of ``rules.scale_preference`` (depression scores only; other scales
    are not used) and then of :data:`CONTRAST_MEASURE_PREFERENCE`. Signs are turned so that
    a positive g favours the treatment, as for arm-level rows.

    Returns
    -------
    effects : pandas.DataFrame
        Rows with the columns of :data:`EFFECT_SIZE_COLUMNS`; ``data_basis`` names the measure.
    skipped : list of dict
        Exclusion records for contrasts not used, with the reason.
    """
    rules = rules or ComparisonRules()
    arm_info = arms.set_index(["study_id", "arm_id"])
    study_info = studies.set_index("study_id")
    covered = set(
        zip(arm_level["comparison_id"], arm_level["outcome"], arm_level["timepoint_h"], strict=True)
    )
    ranked = contrasts.assign(
        _scale=contrasts["scale"].map({s: i for i, s in enumerate(rules.scale_preference)}),
        _measure=contrasts["measure"].map(
            {m: i for i, m in enumerate(CONTRAST_MEASURE_PREFERENCE)}
        ),
    ).sort_values(["_scale", "_measure"], kind="stable", na_position="last")
    rows, skipped, used = [], [], set()
    for _, rec in ranked.iterrows():
        study = study_info.loc[rec["study_id"]]
        comparison_id = f"{rec['study_id']}:{rec['arm_id_treat']}-vs-{rec['arm_id_ctrl']}"
        key = (comparison_id, rec["outcome"], rec["timepoint_h"])
        reason = _contrast_skip_reason(rec, study, rules, covered | used, key)
        if reason:
            skipped.append(
                {
                    "study_id": rec["study_id"],
                    "arm_id": rec["arm_id_treat"],
                    "outcome": rec["outcome"],
                    "scale": rec["scale"],
                    "timepoint_h": rec["timepoint_h"],
                    "reason": f"{rec['measure']} contrast: {reason}",
                }
            )
            continue
        used.add(key)
        treat_arm = arm_info.loc[(rec["study_id"], rec["arm_id_treat"])]
        ctrl_arm = arm_info.loc[(rec["study_id"], rec["arm_id_ctrl"])]
        rows.append(_contrast_row(rec, treat_arm, ctrl_arm, study, comparison_id))
    return pd.DataFrame(rows, columns=EFFECT_SIZE_COLUMNS), skipped


#: Contrast measures in order of preference: a difference whose SE gives the SD is converted
#: exactly as arm-level data are; a reported standardized difference comes after.
CONTRAST_MEASURE_PREFERENCE = ("MD", "LSMD", "SMD_g", "SMD_d")
#: Contrast measures on the scale's own units, whose SE implies the pooled SD.
DIFFERENCE_MEASURES = frozenset({"MD", "LSMD"})


def _contrast_skip_reason(
    rec: pd.Series, study: pd.Series, rules: ComparisonRules, taken: set, key: tuple
) -> str | None:
    if key in taken:
        return "another source of this comparison and timepoint was used"
    if rec["outcome"] == "depression_score" and rec["scale"] not in rules.scale_preference:
        return f"scale {rec['scale']} is not in comparisons.scale_preference"
    is_difference = rec["measure"] in DIFFERENCE_MEASURES
    if is_difference and study["design"] == "crossover":
        return "paired (crossover) mean difference: SD of scores not recoverable"
    if is_difference and (pd.isna(rec["n_treat"]) or pd.isna(rec["n_ctrl"])):
        return "mean difference without per-arm n: SD not recoverable"
    return None


def _contrast_row(
    rec: pd.Series,
    treat_arm: pd.Series,
    ctrl_arm: pd.Series,
    study: pd.Series,
    comparison_id: str,
) -> dict:
    n1, n2 = float(rec["n_treat"]), float(rec["n_ctrl"])
    level = 0.95 if pd.isna(rec["ci_level"]) else float(rec["ci_level"])
    se = rec["se"]
    if pd.isna(se) and not pd.isna(rec["ci_low"]):
        se = float(se_from_ci_of_difference(rec["ci_low"], rec["ci_high"], n1, n2, level))
    is_difference = rec["measure"] in DIFFERENCE_MEASURES
    mean_treat = mean_ctrl = sd = pd.NA
    if is_difference:
        sd = float(sd_from_se_of_difference(se, n1, n2))
        mean_treat, mean_ctrl = float(rec["estimate"]), 0.0
        yi, vi = smd(mean_ctrl, sd, n2, mean_treat, sd, n1)
    else:
        j = 1.0
        if rec["measure"] == "SMD_d" and np.isfinite(n1 + n2):
            j = float(hedges_correction(n1 + n2 - 2))
        g = j * float(rec["estimate"])
        vi = (j * se) ** 2 if not pd.isna(se) else float(smd_variance(g, n1, n2))
        yi = -g
    return {
        **_comparison_fields(rec["study_id"], comparison_id, treat_arm, ctrl_arm, study),
        "outcome": rec["outcome"],
        "measure": "SMD",
        "timepoint_h": rec["timepoint_h"],
        "scale": rec["scale"],
        "value_type": "change" if is_difference else pd.NA,
        "n_treat": n1,
        "n_ctrl": n2,
        "n_total": n1 + n2,
        "n_treat_analysed": rec["n_treat"],
        "n_ctrl_analysed": rec["n_ctrl"],
        "mean_treat": mean_treat,
        "sd_treat": sd,
        "sd_source_treat": "from_contrast" if is_difference else pd.NA,
        "mean_ctrl": mean_ctrl,
        "sd_ctrl": sd,
        "sd_source_ctrl": "from_contrast" if is_difference else pd.NA,
        "events_treat": pd.NA,
        "events_ctrl": pd.NA,
        "yi": float(yi),
        "vi": float(vi),
        "data_basis": f"reported {rec['measure']}",
        "contrast_estimate": rec["estimate"],
        "contrast_se": se,
        "source_id_treat": rec["source_id"],
        "locator_treat": rec["locator"],
        "source_id_ctrl": rec["source_id"],
        "locator_ctrl": rec["locator"],
    }


__all__ = ["ComparisonRules", "build_effect_sizes", "contrast_effect_sizes", "resolve_sd"]
