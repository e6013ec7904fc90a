"""Turn arm-level outcomes into one effect size per comparison, outcome and timepoint.

A *comparison* pairs an arm that received a ketamine enantiomer with a control arm of the same
trial that was randomized against it. Scores give Hedges' g oriented so that a positive value
favours the drug (depression scales fall as patients improve); counts give the log risk ratio,
drug over control.

Randomized pairs (PROTOCOL.md §8): a trial with several control arms of one drug and route is
stratified (Singh 2016a: twice- or thrice-weekly ketamine or saline), and each of those
control arms is compared only with the drug arms of its schedule (``arms.sessions``); see
:func:`randomized_pairs`.

Multi-arm trials (``ComparisonRules.multi_arm``): by default (``"combine"``) the arms of one
drug and route (say, several doses) are merged into one arm first, and so are the control
arms of one drug and route (Cochrane Handbook 6.4, sections 23.3.4 and 6.5.2.10); with
``"split"`` each arm's n is divided by the number of comparisons it enters, so no participant
counts twice. Every row names its trial (``study_id``) and says in ``dependence`` how several
comparisons of its trial were handled (:data:`DEPENDENCE`).

Crossover trials (PROTOCOL.md §8): g is standardized by the between-person SD, recovered from
a paired difference's SE with ``ComparisonRules.crossover_sd_correlation``; the within-person
correlation ``ComparisonRules.crossover_correlation`` enters the variance only
(:func:`~ketamine_meta.stats.effect_sizes.smd_paired`; Elbourne et al., 2002; Handbook 23.2.7),
and ``None`` ("as if parallel") gives the same g the variance of two independent groups. A
within-person d a crossover trial reports is put on the between-person scale
(``ComparisonRules.within_person_smd``). Count outcomes of crossover trials are always
analysed as if parallel.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from ketamine_meta.evidence.datapackage import COUNT_OUTCOMES, SCORE_OUTCOMES
from ketamine_meta.stats.effect_sizes import (
    combine_groups,
    hedges_correction,
    log_risk_ratio,
    sd_between_from_paired_se,
    sd_from_ci,
    sd_from_se,
    sd_from_se_of_difference,
    se_from_ci_of_difference,
    se_from_ci_of_paired_difference,
    smd,
    smd_paired,
    smd_variance,
)

#: Enantiomer label of each active drug.
ENANTIOMER = {"racemic_ketamine": "racemic", "esketamine": "esketamine", "arketamine": "arketamine"}

EFFECT_SIZE_COLUMNS = [
    "study_id",
    "comparison_id",
    "label",
    "dependence",
    "outcome",
    "measure",
    "timepoint_h",
    "route",
    "enantiomer",
    "drug_treat",
    "dose_treat",
    "dose_unit_treat",
    "drug_ctrl",
    "route_ctrl",
    "control_type",
    "design",
    "crossover_period",
    "population",
    "setting",
    "year",
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
    "within_correlation",
    "yi",
    "vi",
    "data_basis",
    "source_basis",
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

#: PROTOCOL.md §8: the ``dependence`` labels of an effect-size row, joined by "; " where
#: several apply; "" for a trial's only comparison at that outcome and time, no arm combined.
DEPENDENCE = {
    "combined": "arms combined (Handbook 6.5.2.10)",
    "split": "shared arm split (Handbook 23.3.4)",
    "not_split": "shared arm, reported contrasts (not split)",
    "pairs": "separate randomized pairs of one trial",
}

#: PROTOCOL.md §7: the control type of each comparator drug.
CONTROL_TYPE = {
    "saline_placebo": "inert_placebo",
    "intranasal_placebo": "inert_placebo",
    "oral_placebo": "inert_placebo",
    "midazolam": "active_placebo",
    "other_active": "active_treatment",
    "treatment_as_usual": "active_treatment",
}

#: Count outcomes defined on a depression scale (PROTOCOL.md §4).
DEPRESSION_COUNT_OUTCOMES = frozenset({"response", "remission"})

#: PROTOCOL.md §10: data bases in order of preference (a row of the package's ``data_basis``).
SOURCE_BASES = ("primary", "secondary")


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
        ``change`` and ``endpoint`` in order of preference, applied after the scale
        (PROTOCOL.md §5).
    derive_change : bool
        Derive an arm's change score from its baseline and endpoint rows where no change is
        reported (:func:`derive_change_rows`).
    change_correlation : float
        Baseline-endpoint correlation for the SD of a derived change.
    multi_arm : {"combine", "split"}
        Merge the arms of one drug and route of a trial into one before comparing (the
        primary rule, Handbook 23.3.4), or split a shared arm's n between the comparisons it
        enters.
    crossover_correlation : float or None
        Within-person correlation of crossover trials' scores in the variance of the paired
        analysis; ``None`` analyses them as if parallel (the same g, the variance of two
        independent groups). The default 0.5 is a common imputation when trials do not report
        it (Cochrane Handbook 23.2.7.3); the pipeline reruns the primary analysis over a range
        (``sensitivity.crossover_correlations``).
    crossover_sd_correlation : float
        Within-person correlation with which the between-person SD, g's standardizer, is
        recovered from a paired difference's SE, and a within-person d is put on the
        between-person scale (PROTOCOL.md §8). Fixed across the ``crossover_correlation``
        sensitivity, so that r changes a crossover comparison's variance, never its g.
    within_person_smd : {"convert", "exclude"}
        A standardized difference reported by a crossover trial (within-person, from its
        paired or mixed-model analysis): converted to the between-person scale, or left out.
    exclude_arms : sequence of str
        Arms (``study_id:arm_id``) left out before any comparison is made (a sensitivity
        analysis; PROTOCOL.md §8, §16).
    """

    treatment_drugs: Sequence[str] = ("racemic_ketamine", "esketamine", "arketamine")
    control_drugs: Sequence[str] = (
        "saline_placebo",
        "midazolam",
        "intranasal_placebo",
        "oral_placebo",
    )
    #: PROTOCOL.md §4: MADRS, HAM-D 17, other HAM-D versions, other clinician-rated scales,
    #: self-report.
    scale_preference: Sequence[str] = (
        "MADRS",
        "HDRS17",
        "HDRS21",
        "HDRS24",
        "HDRS25",
        "HDRS",
        "HDRS6",
        "IDS-C30",
        "QIDS-C16",
        "BDI-II",
        "BDI",
        "QIDS-SR16",
        "MADRS-S",
        "HADS-D",
        "POMS-D",
    )
    value_type_preference: Sequence[str] = ("change", "endpoint")
    derive_change: bool = True
    change_correlation: float = 0.5
    multi_arm: str = "combine"
    crossover_correlation: float | None = 0.5
    crossover_sd_correlation: float = 0.5
    within_person_smd: str = "convert"
    exclude_arms: Sequence[str] = ()

    def __post_init__(self) -> None:
        if self.multi_arm not in ("split", "combine"):
            raise ValueError(f"multi_arm must be 'split' or 'combine', not {self.multi_arm!r}")
        if self.within_person_smd not in ("convert", "exclude"):
            raise ValueError(
                f"within_person_smd must be 'convert' or 'exclude', not {self.within_person_smd!r}"
            )
        for name in ("crossover_correlation", "crossover_sd_correlation"):
            r = getattr(self, name)
            if r is not None and not -1 < r < 1:
                raise ValueError(f"{name} must lie in (-1, 1), not {r}")
        if not 0 <= self.change_correlation < 1:
            raise ValueError(
                f"change_correlation must lie in [0, 1), not {self.change_correlation}"
            )
        for entry in self.exclude_arms:
            if str(entry).count(":") != 1:
                raise ValueError(f"exclude_arms entries are study_id:arm_id, not {entry!r}")
        # A list from the configuration becomes a tuple, as the other sequences' defaults.
        object.__setattr__(self, "exclude_arms", tuple(self.exclude_arms))


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


def derive_change_rows(scored: pd.DataFrame, correlation: float) -> pd.DataFrame:
    r"""Change-from-baseline rows derived from each arm's baseline and endpoint scores.

    For every endpoint score row after baseline whose arm also has a baseline row (time 0)
    on the same outcome and scale with an SD, and no reported change row at that time:
    mean change :math:`\bar x_e - \bar x_b`, and

    .. math:: SD_{change} = \sqrt{SD_b^2 + SD_e^2 - 2\,r\,SD_b\,SD_e}

    with the assumed correlation ``r`` (Cochrane Handbook 6.5.2.8). The rows have
    ``value_type = change``, ``sd_source = imputed`` and the weaker ``data_basis`` of the two
    rows, and their locator and derivation name both inputs.

    Parameters
    ----------
    scored : pandas.DataFrame
        Outcome rows with ``sd_used`` (:func:`resolve_sd`).
    correlation : float
        Baseline-endpoint correlation ``r`` in [0, 1).
    """
    score = scored[scored["outcome"].isin(SCORE_OUTCOMES) & scored["sd_used"].notna()]
    keys = ["study_id", "arm_id", "outcome", "scale"]
    baseline = score[
        (score["timepoint_h"].astype(float) == 0) & (score["value_type"] == "endpoint")
    ]
    endpoint = score[(score["timepoint_h"].astype(float) > 0) & (score["value_type"] == "endpoint")]
    reported = set(
        map(tuple, score.loc[score["value_type"] == "change", [*keys, "timepoint_h"]].to_numpy())
    )
    pairs = endpoint.merge(
        baseline.drop_duplicates(keys)[
            [*keys, "mean", "sd_used", "locator", "source_id", "data_basis"]
        ],
        on=keys,
        suffixes=("", "_base"),
    )
    pairs = pairs[[tuple(k) not in reported for k in pairs[[*keys, "timepoint_h"]].to_numpy()]]
    if pairs.empty:
        return scored.iloc[0:0]
    sd_b, sd_e = pairs["sd_used_base"].astype(float), pairs["sd_used"].astype(float)
    derived = pairs[scored.columns].copy()
    derived["mean"] = pairs["mean"].astype(float) - pairs["mean_base"].astype(float)
    derived["sd_used"] = np.sqrt(sd_b**2 + sd_e**2 - 2 * correlation * sd_b * sd_e)
    derived["sd"] = np.nan
    derived["se"] = np.nan
    derived["ci_low"] = np.nan
    derived["ci_high"] = np.nan
    derived["sd_source"] = "imputed"
    derived["value_type"] = "change"
    derived["data_basis"] = np.where(
        (pairs["data_basis"] == "secondary") | (pairs["data_basis_base"] == "secondary"),
        "secondary",
        "primary",
    )
    derived["locator"] = (
        "endpoint: " + pairs["locator"].astype(str) + "; baseline: " + pairs["locator_base"]
    )
    derived["derivation"] = (
        f"change = endpoint - baseline; SD by Handbook 6.5.2.8 with r = {correlation:g}"
        + np.where(
            pairs["source_id_base"] != pairs["source_id"],
            "; baseline from " + pairs["source_id_base"].astype(str),
            "",
        )
    )
    return derived.reset_index(drop=True)


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


def _is(value: object, wanted: object) -> bool:
    """``value == wanted``, False for a missing value (as a pandas comparison gives)."""
    return not pd.isna(value) and value == wanted


def _both_arms_in(chosen: list[dict], treat_ids: set[str], ctrl_ids: set[str]) -> bool:
    arms = {record["arm_id"] for record in chosen}
    return bool(arms & treat_ids and arms & ctrl_ids)


def _pick_rows(
    rows: list[dict], treat_ids: set[str], ctrl_ids: set[str], rules: ComparisonRules
) -> list[dict] | None:
    """The rows of the preferred (scale, value type) reported by a treatment and a control arm."""
    for scale in rules.scale_preference:
        for value_type in rules.value_type_preference:
            chosen = [
                r for r in rows if _is(r["scale"], scale) and _is(r["value_type"], value_type)
            ]
            if _both_arms_in(chosen, treat_ids, ctrl_ids):
                return chosen
    return None


def _pick_count_rows(
    rows: list[dict], treat_ids: set[str], ctrl_ids: set[str], rules: ComparisonRules
) -> list[dict] | None:
    """The count rows of the preferred depression scale both arms report.

    Response and remission use only ``rules.scale_preference``, with no fallback to other
    scales (PROTOCOL.md §4): a response defined on a suicidal-ideation scale is never a
    depression response. Other counts (dropouts, suicidal-ideation remission) are their own
    outcomes and take the first scale they are reported on.
    """
    outcome = rows[0]["outcome"]
    scales = (
        rules.scale_preference
        if outcome in DEPRESSION_COUNT_OUTCOMES
        else [*rules.scale_preference, *sorted({r["scale"] for r in rows})]
    )
    for scale in scales:
        chosen = [r for r in rows if _is(r["scale"], scale)]
        if _both_arms_in(chosen, treat_ids, ctrl_ids):
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

    Per comparison, outcome and timepoint the first available basis is used (PROTOCOL.md
    §10): arm-level rows from primary sources, a primary reported contrast (see
    :func:`contrast_effect_sizes`), arm-level rows from secondary sources, a secondary
    contrast. The data basis comes before the change/endpoint preference of §5. With
    ``rules.derive_change`` an arm's change is derived from its baseline and endpoint rows
    where none is reported (:func:`derive_change_rows`).

    Only randomized pairs of arms are compared (:func:`randomized_pairs`); the arms listed in
    ``rules.exclude_arms`` are left out first.

    Tables without ``data_basis`` (outcomes, contrasts), ``crossover_period`` (outcomes) or
    ``setting`` (studies) are read as primary, all periods and standard.

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
        sorted by outcome, timepoint, route, study and comparison. ``study_id`` is the
        trial: a pooled analysis counts trials by it, never rows. ``dependence`` says how the
        row's trial entered where it has several comparisons at the row's outcome and
        timepoint or an arm was combined (:data:`DEPENDENCE`; "" otherwise; PROTOCOL.md §8):
        its arms combined, a shared arm split, a shared arm of reported contrasts not split,
        or separate randomized pairs of one trial.
    exclusions : pandas.DataFrame
        Arm rows that could not be used, with the reason (columns :data:`EXCLUSION_COLUMNS`).

    Raises
    ------
    LookupError
        If ``rules.exclude_arms`` names an arm that ``arms`` does not have (not a ValueError,
        which callers read as "no comparison left", so that a misspelt arm is never silent).
    """
    rules = rules or ComparisonRules()
    studies = _with_defaults(studies, setting="standard")
    outcomes = _with_defaults(outcomes, data_basis="primary", crossover_period=pd.NA)
    if contrasts is not None:
        contrasts = _with_defaults(contrasts, data_basis="primary")
    arms, outcomes, contrasts, exclusions = _without_arms(
        arms, outcomes, contrasts, rules.exclude_arms
    )
    scored = resolve_sd(outcomes)
    reasons = _unusable_reasons(scored)
    unusable = reasons.notna()
    for row, rec in scored[unusable].iterrows():
        exclusions.append(
            {**{c: rec[c] for c in EXCLUSION_COLUMNS if c != "reason"}, "reason": reasons[row]}
        )
    usable = scored[~unusable]
    if rules.derive_change:
        usable = pd.concat(
            [usable, derive_change_rows(usable, rules.change_correlation)], ignore_index=True
        )
    frames: list[pd.DataFrame] = []
    covered = pd.DataFrame(columns=EFFECT_SIZE_COLUMNS)
    for basis in SOURCE_BASES:
        arm_level, dropped = _arm_level_effects(
            studies, arms, usable[usable["data_basis"] == basis], rules
        )
        arm_level = arm_level.assign(source_basis=basis)
        exclusions += dropped
        taken = set().union(*_pair_keys(covered))
        superseded = pd.Series(
            [bool(pairs & taken) for pairs in _pair_keys(arm_level)],
            index=arm_level.index,
            dtype=bool,
        )
        exclusions += [
            {
                "study_id": r["study_id"],
                "arm_id": r["comparison_id"].split(":", 1)[1],
                "outcome": r["outcome"],
                "scale": r["scale"],
                "timepoint_h": r["timepoint_h"],
                "reason": "a primary-source comparison was used (PROTOCOL.md §10)",
            }
            for _, r in arm_level[superseded].iterrows()
        ]
        arm_level = arm_level[~superseded]
        covered = pd.concat([covered, arm_level], ignore_index=True) if len(arm_level) else covered
        frames.append(arm_level)
        if contrasts is None or contrasts.empty:
            continue
        from_contrasts, skipped = contrast_effect_sizes(
            contrasts[contrasts["data_basis"] == basis], arms, studies, covered, rules
        )
        from_contrasts = from_contrasts.assign(source_basis=basis)
        covered = (
            pd.concat([covered, from_contrasts], ignore_index=True)
            if len(from_contrasts)
            else covered
        )
        frames.append(from_contrasts)
        exclusions += skipped
    found = [f for f in frames if len(f)]
    # No comparison at all (say, no head-to-head trial for its rules) is an empty table.
    frame = (
        pd.concat(found, ignore_index=True)[EFFECT_SIZE_COLUMNS]
        if found
        else pd.DataFrame(columns=EFFECT_SIZE_COLUMNS)
    )
    frame["dependence"] = dependence_labels(frame)
    frame = frame.sort_values(
        ["outcome", "timepoint_h", "route", "study_id", "comparison_id"], kind="stable"
    ).reset_index(drop=True)
    excluded = pd.DataFrame(exclusions, columns=EXCLUSION_COLUMNS)
    return frame, excluded.sort_values(EXCLUSION_COLUMNS[:5], kind="stable").reset_index(drop=True)


def _without_arms(
    arms: pd.DataFrame,
    outcomes: pd.DataFrame,
    contrasts: pd.DataFrame | None,
    excluded: Sequence[str],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None, list[dict]]:
    """The tables without the arms ``excluded`` names (``study_id:arm_id``).

    Also returns the exclusion records of the outcome and contrast rows left out with them
    (PROTOCOL.md §8).
    """
    if not excluded:
        return arms, outcomes, contrasts, []
    known = set(arms["study_id"].astype(str) + ":" + arms["arm_id"].astype(str))
    for entry in excluded:
        if entry not in known:
            raise LookupError(
                f"comparisons.exclude_arms: {entry!r} is not study_id:arm_id of a row of arms"
            )
    reason = "arm left out by comparisons.exclude_arms (sensitivity, PROTOCOL.md §8)"

    def named(frame: pd.DataFrame, arm: str) -> pd.Series:
        return (frame["study_id"].astype(str) + ":" + frame[arm].astype(str)).isin(excluded)

    gone = named(outcomes, "arm_id")
    records = _excluded(outcomes[gone].to_dict("records"), reason)
    if contrasts is not None:
        either = named(contrasts, "arm_id_treat") | named(contrasts, "arm_id_ctrl")
        records += _excluded(
            contrasts[either].rename(columns={"arm_id_treat": "arm_id"}).to_dict("records"),
            reason,
        )
        contrasts = contrasts[~either]
    return arms[~named(arms, "arm_id")], outcomes[~gone], contrasts, records


def comparison_key(study_id: str, treat: str, ctrl: str) -> str:
    """``comparison_id`` of a drug arm against a control arm: ``Study:treat-vs-ctrl``."""
    return f"{study_id}:{treat}-vs-{ctrl}"


def _comparison_arms(comparison_id: str) -> tuple[str, str]:
    """The drug and control arm ids of a ``comparison_id`` (:func:`comparison_key`)."""
    treat, ctrl = comparison_id.split(":", 1)[1].split("-vs-", 1)
    return treat, ctrl


def dependence_labels(effects: pd.DataFrame) -> pd.Series:
    """How each row's trial entered where its comparisons are not one simple pair.

    Per trial, outcome and timepoint (PROTOCOL.md §8; labels of :data:`DEPENDENCE`, joined by
    "; "): a drug or control arm that is several arms combined; an arm shared with another
    comparison and split between them (arm-level rows whose n was divided); an arm shared with
    another comparison but not split (a contrast as reported); several comparisons with no
    arm in common (separate randomized pairs of one trial). "" for a trial's only comparison
    at that outcome and timepoint with no arm combined.
    """
    if effects.empty:
        return pd.Series([], index=effects.index, dtype=object)
    arms = pd.DataFrame(
        [_comparison_arms(c) for c in effects["comparison_id"]],
        columns=["_treat", "_ctrl"],
        index=effects.index,
    )
    frame = pd.concat([effects[["study_id", "outcome", "timepoint_h"]], arms], axis=1)
    keys = ["study_id", "outcome", "timepoint_h"]
    several = frame.groupby(keys)["_treat"].transform("size") > 1
    shared = (frame.groupby([*keys, "_treat"])["_ctrl"].transform("size") > 1) | (
        frame.groupby([*keys, "_ctrl"])["_treat"].transform("size") > 1
    )
    split = (effects["data_basis"] == ARM_LEVEL) & (
        (effects["n_treat"].astype(float) < effects["n_treat_analysed"].astype(float))
        | (effects["n_ctrl"].astype(float) < effects["n_ctrl_analysed"].astype(float))
    )
    combined = arms["_treat"].str.contains("+", regex=False) | arms["_ctrl"].str.contains(
        "+", regex=False
    )
    labels = [
        "; ".join(
            DEPENDENCE[name]
            for name, applies in (
                ("combined", c),
                ("split", s and sp),
                ("not_split", s and not sp),
                ("pairs", m and not s),
            )
            if applies
        )
        for c, s, sp, m in zip(combined, shared, split, several, strict=True)
    ]
    return pd.Series(labels, index=effects.index, dtype=object)


def _with_defaults(frame: pd.DataFrame, **defaults: object) -> pd.DataFrame:
    """``frame`` with each missing column of ``defaults`` added with its default value."""
    missing = {k: v for k, v in defaults.items() if k not in frame.columns}
    return frame.assign(**missing) if missing else frame


def _pair_keys(frame: pd.DataFrame) -> list[set[tuple]]:
    """What each effect row covers, as ``(study, outcome, timepoint, drug arm, control arm)``.

    One key per pair of single arms in the row (a combined arm covers each of its arms). A
    source of a comparison is superseded, or a contrast skipped, when it covers a pair that
    a preferred source already covers (PROTOCOL.md §10), so that no pair of arms enters twice.
    """
    keys = []
    for comparison_id, outcome, hours in zip(
        frame["comparison_id"], frame["outcome"], frame["timepoint_h"], strict=True
    ):
        study = comparison_id.split(":", 1)[0]
        treat, ctrl = _comparison_arms(comparison_id)
        keys.append(
            {
                (study, outcome, float(hours), t, c)
                for t in treat.split("+")
                for c in ctrl.split("+")
            }
        )
    return keys


def _arm_level_effects(
    studies: pd.DataFrame, arms: pd.DataFrame, usable: pd.DataFrame, rules: ComparisonRules
) -> tuple[pd.DataFrame, list[dict]]:
    """Effect sizes from arm-level rows (one data basis), before any contrast is used.

    Returns the effect rows and an exclusion record, with the reason, for every arm row that
    enters none of them.
    """
    # Plain records: a DataFrame operation per trial and visit costs milliseconds, which a
    # 5,000-trial evidence base multiplies into minutes (benchmarks/scale.py).
    arm_info = _records_by(arms, ["study_id", "arm_id"])
    study_info = _records_by(studies, ["study_id"])
    trial_arms = {key[0]: records for key, records in record_groups(arms, ["study_id"])}
    allowed_pairs: dict[str, set[tuple[str, str]] | None] = {}
    effects: list[dict] = []
    dropped: list[dict] = []
    for (study_id, outcome, timepoint), rows in record_groups(
        usable, ["study_id", "outcome", "timepoint_h"]
    ):
        if timepoint == 0:
            dropped += _excluded(rows, "baseline visit: not a comparison (used for change)")
            continue
        drug = {r["arm_id"]: arm_info[(study_id, r["arm_id"])]["drug"] for r in rows}
        treat_ids = {a for a, d in drug.items() if d in rules.treatment_drugs}
        ctrl_ids = {a for a, d in drug.items() if d in rules.control_drugs}
        picker = _pick_rows if outcome in SCORE_OUTCOMES else _pick_count_rows
        chosen = picker(rows, treat_ids, ctrl_ids, rules) if treat_ids and ctrl_ids else None
        if chosen is None:
            dropped += _excluded(rows, _no_comparison_reason(treat_ids, ctrl_ids))
            continue
        used = {id(r) for r in chosen}
        dropped += _excluded(
            [r for r in rows if id(r) not in used],
            "another scale or score basis of this comparison was used (PROTOCOL.md §4-§5)",
        )
        if study_id not in allowed_pairs:
            allowed_pairs[study_id] = randomized_pairs(trial_arms[study_id], rules)
        allowed = allowed_pairs[study_id]
        if allowed is None and rules.multi_arm == "split":
            dropped += _excluded(chosen, STRATA_UNKNOWN)
            continue
        by_arm = {record["arm_id"]: record for record in chosen}
        pairs = [
            (t, c)
            for t in sorted(treat_ids & by_arm.keys())
            for c in sorted(ctrl_ids & by_arm.keys())
            if allowed is None or (t, c) in allowed
        ]
        in_pairs = {arm for pair in pairs for arm in pair}
        dropped += _excluded(
            [by_arm[a] for a in sorted((treat_ids | ctrl_ids) & by_arm.keys() - in_pairs)],
            NO_PARTNER,
        )
        arms_here = arm_info
        if rules.multi_arm == "combine" and pairs:
            merged_rows, merged_of, merged_info = _combine_arms(
                [by_arm[a] for a in sorted(in_pairs)],
                arm_info,
                study_id,
                outcome in SCORE_OUTCOMES,
            )
            by_arm = {record["arm_id"]: record for record in merged_rows}
            pairs = sorted({(merged_of[t], merged_of[c]) for t, c in pairs})
            arms_here = {**arm_info, **merged_info}
        uses = Counter(a for pair in pairs for a in pair)
        for treat, ctrl in pairs:
            effects.append(
                _comparison_row(
                    study_id,
                    outcome,
                    timepoint,
                    by_arm[treat],
                    by_arm[ctrl],
                    arms_here[(study_id, treat)],
                    arms_here[(study_id, ctrl)],
                    study_info[(study_id,)],
                    treat,
                    ctrl,
                    uses[treat],
                    uses[ctrl],
                )
            )
    return _add_yi_vi(pd.DataFrame(effects, columns=EFFECT_SIZE_COLUMNS), rules), dropped


#: Exclusion reasons of the randomized-pairs rule (PROTOCOL.md §8).
STRATA_UNKNOWN = (
    "several control arms of one drug whose schedules (arms.sessions) do not tell which drug "
    "arms each was randomized against: the trial enters with its arms combined only "
    "(PROTOCOL.md §8)"
)
NO_PARTNER = "no arm randomized against this one reports this outcome at this time (PROTOCOL.md §8)"


def randomized_pairs(
    trial_arms: Sequence[Mapping], rules: ComparisonRules
) -> set[tuple[str, str]] | None:
    """The (drug arm, control arm) pairs of one trial that were randomized against each other.

    A trial with one control arm of each control drug and route randomized every drug arm
    against each of them: every crossing is a pair. A trial with several control arms of one
    drug and route is stratified (e.g. by dosing frequency): each of those control arms is
    paired with the drug arms whose schedule (``sessions``) is its own (PROTOCOL.md §8).

    Parameters
    ----------
    trial_arms : sequence of mapping
        The trial's rows of ``arms`` (``arm_id``, ``drug``, ``route``, ``sessions``).
    rules : ComparisonRules
        Which drugs make an arm a treatment or a control arm.

    Returns
    -------
    set of (str, str) or None
        The pairs of arm ids; None when several control arms of one drug and route do not
        have distinct recorded schedules, or a drug arm's schedule is none of theirs, so that
        the package does not tell the pairs apart.
    """
    treat = [a for a in trial_arms if a["drug"] in rules.treatment_drugs]
    controls: dict[tuple, list[Mapping]] = {}
    for arm in trial_arms:
        if arm["drug"] in rules.control_drugs:
            controls.setdefault(_formulation(arm), []).append(arm)
    pairs = set()
    for group in controls.values():
        if len(group) == 1:
            pairs |= {(t["arm_id"], group[0]["arm_id"]) for t in treat}
            continue
        schedules = [c["sessions"] for c in group]
        if any(pd.isna(v) for v in schedules) or len(set(schedules)) < len(schedules):
            return None
        for t in treat:
            match = [c["arm_id"] for c in group if _is(t["sessions"], c["sessions"])]
            if not match:
                return None
            pairs.add((t["arm_id"], match[0]))
    return pairs


def _formulation(arm: Mapping) -> tuple[str, str]:
    """``(drug, route)`` of an arm record, a missing value as ""."""
    return tuple("" if pd.isna(arm[c]) else arm[c] for c in ("drug", "route"))


def record_groups(frame: pd.DataFrame, key: list[str]) -> list[tuple[tuple, list[dict]]]:
    """The rows of ``frame`` as dicts, grouped by ``key``.

    As ``groupby(key, sort=True)`` gives them: keys sorted, rows in order, no group for a
    missing key. Plain records: a DataFrame operation per group costs about a millisecond,
    which an evidence base of thousands of trials multiplies into minutes.
    """
    groups: dict[tuple, list[dict]] = {}
    for record in frame.to_dict("records"):
        values = tuple(record[k] for k in key)
        if not any(pd.isna(v) for v in values):
            groups.setdefault(values, []).append(record)
    return sorted(groups.items(), key=lambda item: item[0])


def _records_by(frame: pd.DataFrame, key: list[str]) -> dict[tuple, dict]:
    """Each row of ``frame`` as a dict, keyed by the tuple of its ``key`` columns."""
    return {tuple(record[k] for k in key): record for record in frame.to_dict("records")}


def _no_comparison_reason(treat_ids: set, ctrl_ids: set) -> str:
    if not treat_ids:
        return "no drug arm of the trial reports this outcome at this time"
    if not ctrl_ids:
        return "no control arm of the trial reports this outcome at this time"
    return "no scale of comparisons.scale_preference reported by both a drug and a control arm"


def _excluded(rows: list[dict], reason: str) -> list[dict]:
    """Exclusion records (columns :data:`EXCLUSION_COLUMNS`) of ``rows``."""
    return [{**{c: r[c] for c in EXCLUSION_COLUMNS[:-1]}, "reason": reason} for r in rows]


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
        "route_ctrl": ctrl_arm["route"],
        "control_type": CONTROL_TYPE.get(ctrl_arm["drug"], pd.NA),
        "design": study["design"],
        "population": study["population"],
        "setting": study["setting"],
        "year": study["year"],
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
            study_id, comparison_key(study_id, treat_id, ctrl_id), treat_arm, ctrl_arm, study
        ),
        "outcome": outcome,
        "measure": "SMD" if is_score else "logRR",
        "timepoint_h": timepoint,
        "scale": treat["scale"],
        "value_type": treat["value_type"] if is_score else pd.NA,
        "crossover_period": _period(study, treat, ctrl),
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
        "within_correlation": pd.NA,
        "data_basis": ARM_LEVEL,
        "contrast_estimate": pd.NA,
        "contrast_se": pd.NA,
        "source_id_treat": treat["source_id"],
        "locator_treat": treat["locator"],
        "source_id_ctrl": ctrl["source_id"],
        "locator_ctrl": ctrl["locator"],
    }


def _period(study: pd.Series, treat: pd.Series, ctrl: pd.Series) -> object:
    """``first`` when both arms' crossover rows are first-period data, else ``all``."""
    if study["design"] != "crossover":
        return pd.NA
    periods = {str(treat.get("crossover_period")), str(ctrl.get("crossover_period"))}
    return "first" if periods == {"first"} else "all"


def _add_yi_vi(frame: pd.DataFrame, rules: ComparisonRules) -> pd.DataFrame:
    frame = frame.copy()
    frame["n_total"] = frame["n_treat"] + frame["n_ctrl"]
    r = rules.crossover_correlation
    # First-period data of a crossover trial are parallel groups (PROTOCOL.md §8).
    crossover = (
        (frame["measure"] == "SMD")
        & (frame["design"] == "crossover")
        & (frame["crossover_period"] != "first")
    ).to_numpy()
    score = (frame["measure"] == "SMD").to_numpy() & ~crossover
    yi = np.full(len(frame), np.nan)
    vi = np.full(len(frame), np.nan)
    if crossover.any():
        c = frame[crossover]
        # The between-person SD, pooled over the two periods (Handbook 23.2.7.2).
        sd = np.sqrt((c["sd_ctrl"].astype(float) ** 2 + c["sd_treat"].astype(float) ** 2) / 2)
        # The same participants are measured under both conditions.
        n = np.minimum(c["n_treat"].astype(float), c["n_ctrl"].astype(float))
        yi[crossover], vi[crossover] = crossover_smd(
            c["mean_ctrl"].astype(float), c["mean_treat"].astype(float), sd, n, r
        )
        frame.loc[crossover, "n_total"] = n if r is not None else 2 * n
        frame.loc[crossover, "within_correlation"] = r if r is not None else pd.NA
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
    count = (frame["measure"] == "logRR").to_numpy()
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


def crossover_smd(
    mean_ctrl: ArrayLike, mean_treat: ArrayLike, sd: ArrayLike, n: ArrayLike, r: float | None
) -> tuple[np.ndarray, np.ndarray]:
    r"""Hedges' g of a crossover comparison and its variance, paired or as if parallel.

    The estimate is always the paired analysis's, standardized by the between-person SD
    ``sd`` (PROTOCOL.md §8; Cochrane Handbook 23.2.7.2):
    :math:`g = J(n-1)\,(\bar x_{ctrl} - \bar x_{drug}) / SD`. With a within-person
    correlation ``r`` the variance is the paired one,
    :math:`v = 2(1-r)/n + g^2/(2n)` (:func:`~ketamine_meta.stats.effect_sizes.smd_paired`;
    Becker 1988; Elbourne et al. 2002); with ``r = None`` ("as if parallel") the pairing is
    ignored in the variance only, that of two independent groups of ``n``,
    :math:`v = 2/n + g^2/(4n)` (:func:`~ketamine_meta.stats.effect_sizes.smd_variance`;
    Handbook 23.2.6: conservative, the estimate unchanged).

    Parameters
    ----------
    mean_ctrl, mean_treat : array_like
        Means (or a difference and 0) under control and drug.
    sd : array_like
        Between-person SD of the scores.
    n : array_like
        Participants who received both conditions.
    r : float or None
        Within-person correlation of the variance; None for "as if parallel".
    """
    g, v = smd_paired(mean_ctrl, mean_treat, sd, n, 0.0 if r is None else r)
    return g, (smd_variance(g, n, n) if r is None else v)


def _combine_arms(
    chosen: list[dict],
    arm_info: dict[tuple, dict],
    study_id: str,
    is_score: bool,
) -> tuple[list[dict], dict[str, str], dict[tuple, dict]]:
    """Merge the rows (and arm records) of arms that share a drug and route.

    Scores combine by :func:`~ketamine_meta.stats.effect_sizes.combine_groups`; counts add up. The
    merged arm is named by joining the arm ids with ``+`` and keeps no single dose. Returns
    the merged rows, the merged arm id of each arm, and the records of the merged arms keyed
    by ``(study_id, arm_id)``.
    """
    rows = {record["arm_id"]: record for record in chosen}
    key = {a: _formulation(arm_info[(study_id, a)]) for a in rows}
    new_rows, new_info, merged_of = [], {}, {}
    for group in sorted(set(key.values())):
        members = sorted(a for a in rows if key[a] == group)
        merged_id = "+".join(members)
        merged_of.update(dict.fromkeys(members, merged_id))
        if len(members) == 1:
            new_rows.append(rows[members[0]])
            continue
        record = {**rows[members[0]], "arm_id": merged_id}
        if is_score:
            n, mean, sd = (rows[members[0]][c] for c in ("n", "mean", "sd_used"))
            for other in members[1:]:
                n, mean, sd = combine_groups(
                    n, mean, sd, *(rows[other][c] for c in ("n", "mean", "sd_used"))
                )
            record["n"], record["mean"], record["sd_used"] = float(n), float(mean), float(sd)
            record["sd_source"] = "combined"
        else:
            # Summed as pandas sums, a missing value counting as nothing.
            record["n"] = float(pd.Series([rows[m]["n"] for m in members], dtype=float).sum())
            record["events"] = float(
                pd.Series([rows[m]["events"] for m in members], dtype=float).sum()
            )
        record["locator"] = "; ".join(str(rows[m]["locator"]) for m in members)
        new_rows.append(record)
        new_info[(study_id, merged_id)] = {**arm_info[(study_id, members[0])], "dose": np.nan}
    return new_rows, merged_of, new_info


def contrast_effect_sizes(
    contrasts: pd.DataFrame,
    arms: pd.DataFrame,
    studies: pd.DataFrame,
    arm_level: pd.DataFrame,
    rules: ComparisonRules | None = None,
) -> tuple[pd.DataFrame, list[dict]]:
    r"""Hedges' g from between-arm effects as reported, for comparisons with no arm data.

    - ``MD`` / ``LSMD`` (parallel trials): the SE (given, or from the CI by
      :func:`~ketamine_meta.stats.effect_sizes.se_from_ci_of_difference`) implies the pooled SD,
      :math:`SD = SE/\sqrt{1/n_1 + 1/n_2}` (Cochrane Handbook 6.5.2.3); then g and its
      variance are those of :func:`~ketamine_meta.stats.effect_sizes.smd` with the difference as
      the treatment mean and 0 as the control mean. A paired (crossover) difference gives
      the between-person SD through ``rules.crossover_sd_correlation``
      (:func:`~ketamine_meta.stats.effect_sizes.sd_between_from_paired_se`), and g and its
      variance are :func:`crossover_smd`'s: ``rules.crossover_correlation`` (None: as if
      parallel) changes the variance, never g (PROTOCOL.md §8).
    - ``SMD_d``: Hedges' correction is applied, :math:`g = J\,d`, :math:`v = J^2 SE^2`.
    - ``SMD_g``: used as reported, :math:`v = SE^2`.
    - A standardized difference of a crossover trial is within-person: it is put on the
      between-person scale (:func:`within_to_between_d`) and takes :func:`crossover_smd`'s
      g and variance from n, not its reported CI; with ``rules.within_person_smd =
      "exclude"`` it is left out.
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
    covered = set().union(*_pair_keys(arm_level))
    ranked = contrasts.assign(
        _scale=contrasts["scale"].map({s: i for i, s in enumerate(rules.scale_preference)}),
        _measure=contrasts["measure"].map(
            {m: i for i, m in enumerate(CONTRAST_MEASURE_PREFERENCE)}
        ),
    ).sort_values(["_scale", "_measure"], kind="stable", na_position="last")
    rows, skipped, used = [], [], set()
    drug = arms.set_index(["study_id", "arm_id"])["drug"]
    in_roles = [
        drug.get((r.study_id, r.arm_id_treat)) in rules.treatment_drugs
        and drug.get((r.study_id, r.arm_id_ctrl)) in rules.control_drugs
        for r in ranked.itertuples()
    ]
    # A contrast whose arms do not play these roles is another comparison, not a skipped one.
    ranked = ranked[in_roles]
    for _, rec in ranked.iterrows():
        study = study_info.loc[rec["study_id"]]
        comparison_id = comparison_key(rec["study_id"], rec["arm_id_treat"], rec["arm_id_ctrl"])
        key = (
            rec["study_id"],
            rec["outcome"],
            float(rec["timepoint_h"]),
            rec["arm_id_treat"],
            rec["arm_id_ctrl"],
        )
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
        rows.append(_contrast_row(rec, treat_arm, ctrl_arm, study, comparison_id, rules))
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
    if is_difference and (pd.isna(rec["n_treat"]) or pd.isna(rec["n_ctrl"])):
        return "mean difference without per-arm n: SD not recoverable"
    if not is_difference and study["design"] == "crossover":
        if rules.within_person_smd == "exclude":
            return (
                "within-person d of a crossover trial: left out "
                "(comparisons.within_person_smd = exclude, PROTOCOL.md §8)"
            )
        if pd.isna(rec["n_treat"]) or pd.isna(rec["n_ctrl"]):
            return "within-person d without n: its crossover variance is not computable"
    return None


def _contrast_row(
    rec: pd.Series,
    treat_arm: pd.Series,
    ctrl_arm: pd.Series,
    study: pd.Series,
    comparison_id: str,
    rules: ComparisonRules,
) -> dict:
    n1, n2 = float(rec["n_treat"]), float(rec["n_ctrl"])
    level = 0.95 if pd.isna(rec["ci_level"]) else float(rec["ci_level"])
    is_difference = rec["measure"] in DIFFERENCE_MEASURES
    crossover = study["design"] == "crossover"
    se = rec["se"]
    if pd.isna(se) and not pd.isna(rec["ci_low"]):
        if crossover:
            se = float(
                se_from_ci_of_paired_difference(rec["ci_low"], rec["ci_high"], min(n1, n2), level)
            )
        else:
            se = float(se_from_ci_of_difference(rec["ci_low"], rec["ci_high"], n1, n2, level))
    mean_treat = mean_ctrl = sd = pd.NA
    r = rules.crossover_correlation if crossover else None
    n_total = n1 + n2
    if crossover:
        # Both conditions were given to the same n participants (PROTOCOL.md §8): g on the
        # between-person scale, r (None: as if parallel) in its variance only.
        n = min(n1, n2)
        n_total = n if r is not None else 2 * n
        if is_difference:
            # The SE of the paired difference gives the between-person SD (Handbook 23.2.7.3).
            sd = float(sd_between_from_paired_se(se, n, rules.crossover_sd_correlation))
            mean_treat, mean_ctrl = float(rec["estimate"]), 0.0
            yi, vi = crossover_smd(mean_ctrl, mean_treat, sd, n, r)
        else:
            yi, vi = crossover_smd(
                within_to_between_d(rec, n, rules.crossover_sd_correlation), 0.0, 1.0, n, r
            )
    elif is_difference:
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
        "crossover_period": "all" if crossover else pd.NA,
        "n_treat": n1,
        "n_ctrl": n2,
        "n_total": n_total,
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
        "within_correlation": pd.NA if r is None else r,
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


def within_to_between_d(rec: Mapping, n: float, r: float) -> float:
    r"""A crossover trial's within-person d on the between-person scale, before J.

    A d from a paired or mixed-model analysis is standardized by the SD of the within-person
    differences, :math:`SD_{diff} = SD\sqrt{2(1-r)}` (Cochrane Handbook 23.2.7.2-3), so

    .. math:: d_{between} = d_{within}\,\sqrt{2(1-r)}

    (Morris and DeShon 2002, the repeated-measures d in the independent-groups metric). A
    reported g is first divided by J(n - 1), so that :func:`crossover_smd` corrects once. The
    sign is turned so that a positive d favours the drug (contrasts are stored drug minus
    control). At r = 0.5 the reported d is kept.

    References
    ----------
    Morris, S. B., & DeShon, R. P. (2002). Combining effect size estimates in meta-analysis
    with repeated measures and independent-groups designs. *Psychological Methods*, 7(1),
    105-125.
    """
    d = -float(rec["estimate"])
    if rec["measure"] == "SMD_g":
        d /= float(hedges_correction(n - 1))
    return d * float(np.sqrt(2 * (1 - r)))


__all__ = [
    "DEPENDENCE",
    "ComparisonRules",
    "build_effect_sizes",
    "comparison_key",
    "contrast_effect_sizes",
    "crossover_smd",
    "dependence_labels",
    "randomized_pairs",
    "resolve_sd",
    "within_to_between_d",
]
