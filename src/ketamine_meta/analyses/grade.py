"""Risk of bias and the GRADE summary of findings (PROTOCOL.md §20).

Every rule is the protocol's; each downgrade is computed from the data and its reason is
written beside it, so that a reader can check the certainty of each row. Every row pools one
comparison per trial (the arms of one formulation in a trial combined, §20.2), so that
heterogeneity, small-study tests and the assumed control risk count trials, not dose arms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ketamine_meta.analyses.comparisons import (
    CONTROL_TYPE,
    ENANTIOMER,
    ComparisonRules,
    build_effect_sizes,
)
from ketamine_meta.analyses.network import node_of
from ketamine_meta.analyses.protocol import (
    Pooling,
    Protocol,
    Window,
    select_comparisons,
)
from ketamine_meta.stats.distributions import norm_ppf
from ketamine_meta.stats.effect_sizes import log_risk_ratio
from ketamine_meta.stats.meta_analysis import RandomEffectsResult, random_effects
from ketamine_meta.stats.model import critical_value
from ketamine_meta.stats.publication_bias import egger_test

HIGH, CONCERNS, LOW, NOT_ASSESSED = "high", "some concerns", "low", "not assessed"
#: Order of judgements when the worse of two is taken ("not assessed" counts as some concerns).
SEVERITY = {LOW: 0, CONCERNS: 1, NOT_ASSESSED: 1, HIGH: 2}
CERTAINTY = ("high", "moderate", "low", "very low")
#: Scales a participant rates (PROTOCOL.md §4: last in the hierarchy).
SELF_RATED = frozenset({"BDI-II", "BDI", "QIDS-SR16", "MADRS-S", "HADS-D", "POMS-D"})
#: Comparator labels of the summary of findings.
INERT, MIDAZOLAM, ANY_PLACEBO = "inert placebo", "midazolam", "inert or active placebo"
#: The formulation label of a row that pools every formulation (the headline, §20.2).
ANY_FORMULATION = "any ketamine"
ONE_PER_TRIAL = "one comparison per trial"


def overall_risk_of_bias(rob: pd.DataFrame, min_domains: int) -> pd.Series:
    """Each trial's overall judgement (PROTOCOL.md §20).

    High if any domain is high, low if every assessed domain is low and at least
    ``min_domains`` are assessed, otherwise some concerns.
    """
    judgements = {}
    for study, rows in rob.groupby("study_id"):
        values = set(rows["judgement"])
        if HIGH in values:
            judgements[study] = HIGH
        elif values == {LOW} and rows["domain"].nunique() >= min_domains:
            judgements[study] = LOW
        else:
            judgements[study] = CONCERNS
    return pd.Series(judgements, name="overall", dtype="object")


# --- Functional unblinding (PROTOCOL.md §20.1) ----------------------------------------------


def arm_ids(comparison_id: str) -> tuple[list[str], list[str]]:
    """The drug and control arm ids of a comparison ``study:treat-vs-ctrl``.

    Arms combined within a trial are joined by ``+`` (``comparisons._combine_arms``).
    """
    treat, ctrl = comparison_id.split(":", 1)[1].split("-vs-", 1)
    return treat.split("+"), ctrl.split("+")


def is_dissociative(arm: Mapping, doses: Sequence[Mapping]) -> bool:
    """Whether an arm's drug, route and dose are in ``doses`` (PROTOCOL.md §20.1).

    An entry covers the arm when drug and route match and its ``min_dose`` is null, or the
    arm's dose is given in the entry's unit and is at least ``min_dose``.
    """
    # A cell the source leaves empty (a route not stated, a dose without its unit) is pd.NA,
    # which compares to nothing: it matches no entry rather than raising.
    route, dose, unit = (arm[key] for key in ("route", "dose", "dose_unit"))
    for entry in doses:
        if arm["drug"] != entry["drug"] or pd.isna(route) or route not in entry["routes"]:
            continue
        if entry["min_dose"] is None:
            return True
        if pd.notna(dose) and pd.notna(unit) and unit == entry["dose_unit"]:
            return float(dose) >= entry["min_dose"]
    return False


def dissociative_comparisons(
    comparisons: pd.DataFrame, arms: pd.DataFrame, doses: Sequence[Mapping]
) -> pd.Series:
    """Per comparison, whether any of its drug arms is at a dissociative dose (§20.1)."""
    info = arms.set_index(["study_id", "arm_id"])[["drug", "route", "dose", "dose_unit"]]
    flags = [
        any(
            is_dissociative(info.loc[(study, arm)], doses)
            for arm in arm_ids(comparison)[0]
            if (study, arm) in info.index
        )
        for study, comparison in zip(
            comparisons["study_id"], comparisons["comparison_id"], strict=True
        )
    ]
    return pd.Series(flags, index=comparisons.index, dtype=bool)


def unblinding_judgement(
    control_type: str, dissociative: bool, outcome: str, rule: Mapping
) -> str | None:
    """The functional-unblinding judgement of one comparison (PROTOCOL.md §20.1).

    ``rule["controls"]`` gives, per control type, the judgement at a dissociative and at any
    other dose (None: no concern added). Outcomes outside ``rule["outcomes"]`` take at most
    some concerns.
    """
    by_dose = rule["controls"].get(control_type)
    if by_dose is None:
        return None
    judged = by_dose["dissociative" if dissociative else "other"]
    if judged == HIGH and outcome not in rule["outcomes"]:
        return CONCERNS
    return judged


def worse(judged: str, unblinding: str | None) -> str:
    """The worse of a trial's judgement and a functional-unblinding judgement."""
    if unblinding is None or SEVERITY[unblinding] <= SEVERITY[judged]:
        return judged
    return unblinding


def traffic_light(
    rob: pd.DataFrame, comparisons: pd.DataFrame, arms: pd.DataFrame, settings: Mapping
) -> pd.DataFrame:
    """One row per trial and domain as judged, plus its overall judgement and flags.

    The functional-unblinding row is derived, not extracted: the worst judgement of the
    trial's comparisons on the depression score (§20.1), with the control and dose behind it.
    """
    overall = overall_risk_of_bias(rob, settings["rob_min_domains"])
    rule = settings["functional_unblinding"]
    scores = comparisons[comparisons["outcome"] == "depression_score"].drop_duplicates(
        "comparison_id"
    )
    scores = scores.assign(
        _dissociative=dissociative_comparisons(scores, arms, rule["dissociative_doses"])
    )
    rows = rob[["study_id", "tool", "domain", "judgement", "source_id", "locator"]].copy()
    extra = []
    for study in sorted(set(rob["study_id"])):
        tool = rob.loc[rob["study_id"] == study, "tool"].iloc[0]
        extra.append(
            {"study_id": study, "tool": tool, "domain": "overall", "judgement": overall[study]}
        )
        flag = _trial_unblinding(scores[scores["study_id"] == study], rule)
        if flag is not None:
            extra.append({"study_id": study, "tool": "derived", **flag})
    return pd.concat([rows, pd.DataFrame(extra)], ignore_index=True).sort_values(
        ["study_id", "domain"], kind="stable"
    )


def _trial_unblinding(scores: pd.DataFrame, rule: Mapping) -> dict | None:
    """The worst functional-unblinding judgement of a trial's score comparisons, or None."""
    if scores.empty:
        return None
    worst, why = LOW, "no concern added"
    for control, dissociative, drug, route in zip(
        scores["control_type"],
        scores["_dissociative"],
        scores["drug_treat"],
        scores["route"],
        strict=True,
    ):
        judged = unblinding_judgement(control, dissociative, "depression_score", rule)
        if judged is not None and SEVERITY[judged] > SEVERITY[worst]:
            dose = "a dissociative dose" if dissociative else "another dose"
            worst = judged
            why = f"{control.replace('_', ' ')} against {dose} of {drug.replace('_', ' ')} {route}"
    return {
        "domain": "functional_unblinding",
        "judgement": worst,
        "locator": f"PROTOCOL.md §20.1: {why}",
    }


# --- The summary-of-findings rows (PROTOCOL.md §20.2) ----------------------------------------


@dataclass(frozen=True)
class OutcomeSpec:
    """One summary-of-findings outcome: what is pooled, over which window, against what.

    ``window`` None takes the latest visit each comparison reports. ``formulation`` set pools
    every formulation node into one row with that label; ``nodes`` keeps only those nodes.
    """

    label: str
    outcome: str
    measure: str
    window: Window | None
    comparator: str = INERT
    control_types: tuple[str, ...] = ("inert_placebo",)
    formulation: str | None = None
    nodes: tuple[str, ...] | None = None


def sof_outcomes(protocol: Protocol) -> list[OutcomeSpec]:
    """The outcomes of PROTOCOL.md §20.2, the two headline rows first."""
    windows = {w.label: w for w in protocol.windows}
    day = windows["24 h"]
    return [
        OutcomeSpec(
            "Depression score at 24 h (primary analysis: inert or active placebo)",
            "depression_score",
            "SMD",
            day,
            comparator=ANY_PLACEBO,
            control_types=protocol.analysis_set.control_types,
            formulation=ANY_FORMULATION,
        ),
        OutcomeSpec(
            "Depression score at 24 h, against midazolam",
            "depression_score",
            "SMD",
            day,
            comparator=MIDAZOLAM,
            control_types=("active_placebo",),
            nodes=("racemic IV",),
        ),
        OutcomeSpec("Response at 24 h", "response", "logRR", day),
        OutcomeSpec("Depression score at 24 h", "depression_score", "SMD", day),
        OutcomeSpec("Depression score at 7 d", "depression_score", "SMD", windows["7 d"]),
        OutcomeSpec("Depression score at 28 d", "depression_score", "SMD", windows["28 d"]),
        OutcomeSpec(
            "Dropouts due to adverse events (latest visit)", "dropout_adverse_event", "logRR", None
        ),
        OutcomeSpec("Dropouts, any reason (latest visit)", "dropout", "logRR", None),
    ]


def trial_level_effects(tables: Mapping[str, pd.DataFrame], rules: ComparisonRules) -> pd.DataFrame:
    """The package's effect sizes with the arms of one drug and route in a trial combined.

    PROTOCOL.md §20.2: the ``combine`` rule of §8 (Cochrane Handbook 6.5.2.10, 23.3.4),
    whatever the primary rule, so that no row counts a trial's shared control twice.
    """
    effects, _ = build_effect_sizes(
        tables["studies"],
        tables["arms"],
        tables["outcomes"],
        tables["contrasts"],
        replace(rules, multi_arm="combine"),
    )
    return effects


def _rows_for(effects: pd.DataFrame, spec: OutcomeSpec, protocol: Protocol) -> pd.DataFrame:
    chosen = replace(protocol.analysis_set, control_types=spec.control_types)
    if spec.window is not None:
        try:
            return select_comparisons(effects, spec.outcome, spec.measure, spec.window, chosen)
        except ValueError:
            return effects.iloc[:0]
    rows = effects[
        (effects["outcome"] == spec.outcome)
        & (effects["measure"] == spec.measure)
        & chosen.mask(effects)
    ]
    return rows.sort_values("timepoint_h").drop_duplicates("comparison_id", keep="last")


def efficacy_exits(rows: pd.DataFrame, spec: OutcomeSpec, settings: Mapping) -> pd.Series:
    """Rows of "dropouts, any reason" from a trial with exits for lack of efficacy (§20.2)."""
    if spec.outcome != "dropout":
        return pd.Series(False, index=rows.index)
    trials = {entry["study_id"] for entry in settings["efficacy_exit_trials"]}
    return rows["study_id"].isin(trials)


def dependence(group: pd.DataFrame) -> str:
    """How the comparisons of one trial were handled in a row (PROTOCOL.md §20.2)."""
    combined = []
    for study, comparison in zip(group["study_id"], group["comparison_id"], strict=True):
        treat, ctrl = arm_ids(comparison)
        if len(treat) > 1 or len(ctrl) > 1:
            combined.append(f"{study} {'+'.join(treat)} vs {'+'.join(ctrl)}")
    if not combined:
        return ONE_PER_TRIAL
    return "arms combined within trial (Handbook 23.3.4): " + "; ".join(combined)


def one_comparison_per_trial(group: pd.DataFrame, label: str, formulation: str) -> None:
    """Refuse a row in which a trial would enter twice (PROTOCOL.md §20.2).

    Raises
    ------
    ValueError
        Naming the trial and its comparisons.
    """
    counts = group["study_id"].value_counts()
    if (counts > 1).any():
        study = counts.index[counts > 1][0]
        ids = ", ".join(group.loc[group["study_id"] == study, "comparison_id"])
        raise ValueError(
            f"summary of findings, {label} ({formulation}): trial {study} gives "
            f"{counts[study]} comparisons ({ids}); a row takes one comparison per trial"
        )


def control_risk(rows: pd.DataFrame) -> float:
    """Pooled share of events in the control arms: each trial's whole control arm once.

    PROTOCOL.md §20.2: Σ events / Σ n over the trials' control arms, read from trial-level
    rows (a shared control arm is never split, so it is counted whole, and once).
    """
    arms = rows.assign(_control=[arm_ids(c)[1] for c in rows["comparison_id"]])
    arms = arms.assign(_control=arms["_control"].map("+".join)).drop_duplicates(
        ["study_id", "_control"]
    )
    events = arms["events_ctrl"].astype(float).sum()
    n = arms["n_ctrl"].astype(float).sum()
    return float(events / n) if n > 0 else float("nan")


# --- Certainty (PROTOCOL.md §20.3) ----------------------------------------------------------


def optimal_information_size(measure: str, control_risk: float, settings: Mapping) -> float:
    r"""Participants a single trial would need (two-sided alpha 0.05, power 0.8).

    For g, statsmodels' two-sample power solution at the smallest important g. For a risk
    ratio, the two-proportion formula with each arm's own variance (GRADE guidelines 6,
    Guyatt et al. 2011),

    .. math:: n = 2 (z_{0.975} + z_{0.8})^2 \frac{p_1 (1 - p_1) + p_2 (1 - p_2)}{(p_2 - p_1)^2},

    at the control risk :math:`p_1` and :math:`p_2 = p_1 (1 + r)`, r = ``relative_change``.
    """
    # Imported here: statsmodels loads scipy.stats, about 0.45 s for every process.
    from statsmodels.stats.power import NormalIndPower

    if measure == "SMD":
        per_arm = NormalIndPower().solve_power(
            effect_size=settings["smd_threshold"], alpha=0.05, power=0.8, ratio=1.0
        )
        return 2 * float(per_arm)
    p1 = control_risk
    p2 = min(control_risk * (1 + settings["relative_change"]), 0.999)
    if not 0 < p1 < 1:
        return float("nan")
    # The two-sided critical value at 95% (alpha 0.05) and the quantile of the power, 0.8.
    z = critical_value(0.95) + norm_ppf(0.8)
    return 2 * z**2 * (p1 * (1 - p1) + p2 * (1 - p2)) / (p2 - p1) ** 2


def important_effect(measure: str, settings: Mapping) -> float:
    """The smallest important effect δ on the pooled scale (g, or log RR), §20.3."""
    if measure == "SMD":
        return float(settings["smd_threshold"])
    return float(np.log1p(settings["relative_change"]))


def imprecision(
    fit: RandomEffectsResult,
    n: float,
    trials: int,
    measure: str,
    control_risk: float,
    settings: Mapping,
) -> tuple[int, str]:
    """Levels of imprecision and the reason (PROTOCOL.md §20.3; GRADE 6, 34 and 35).

    Two levels if the CI includes both an important benefit and an important harm
    (CI low <= -δ and CI high >= +δ), if one trial with fewer participants than the optimal
    information size (OIS) carries the row, or if n < ``ois_far_below`` x OIS; one level if,
    otherwise, the CI includes no effect or n < OIS; none otherwise.
    """
    delta = important_effect(measure, settings)
    ratio = measure != "SMD"
    shown = np.exp if ratio else float
    crosses = bool(fit.ci_low <= 0.0 <= fit.ci_high)
    both = bool(fit.ci_low <= -delta and fit.ci_high >= delta)
    ois = optimal_information_size(measure, control_risk, settings)
    known = bool(np.isfinite(ois))
    below = known and n < ois
    far = known and n < settings["ois_far_below"] * ois
    single = trials == 1 and below
    level = 2 if (both or single or far) else 1 if (crosses or below) else 0
    threshold = f"RR {np.exp(-delta):.2f} and {np.exp(delta):.2f}" if ratio else f"g ±{delta:g}"
    parts = [
        f"CI [{_number(shown(fit.ci_low))}, {_number(shown(fit.ci_high))}] "
        f"{'includes' if crosses else 'excludes'} no effect"
        + (f" and crosses both important effects ({threshold})" if both else ""),
        f"n {n:.0f} against an optimal information size of {ois:.0f}"
        + (f" ({n / ois:.0%})" if known else " (not computable: control risk 0 or 1)"),
    ]
    if single:
        parts.append("a single trial below the optimal information size")
    elif far:
        parts.append(f"n below {settings['ois_far_below']:.0%} of it")
    return level, "; ".join(parts)


def _number(value: float) -> str:
    """Two decimals, or two significant digits below 0.01, or none from 100 up."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if 0 < abs(value) < 0.01:
        return f"{value:.2g}"
    return f"{value:.2f}"


def inconsistency(fit: RandomEffectsResult, trials: int, ratio: bool) -> tuple[int, str]:
    """Levels of inconsistency over trials and the reason (PROTOCOL.md §20.3).

    One level if I² > 50 % with at least two trials. The prediction interval is printed on
    the measure's own scale (a risk ratio as a ratio), only with three or more trials and
    tau² > 0.
    """
    if trials < 2:
        return 0, "single trial: not assessable"
    text = f"I² {fit.i2:.0f}%, τ² {fit.tau2:.3g} over {trials} trials"
    if trials < 3:
        text += "; no prediction interval (fewer than 3 trials)"
    elif fit.tau2 <= 0:
        text += "; τ² = 0: the prediction interval equals the CI"
    else:
        shown = np.exp if ratio else float
        text += f"; PI [{_number(shown(fit.pi_low))}, {_number(shown(fit.pi_high))}]"
    return int(fit.i2 > 50), text


def publication_bias(fit: RandomEffectsResult, trials: int) -> tuple[int, str]:
    """One level if Egger's test over ≥ 10 trials gives p < 0.10 (PROTOCOL.md §20.3).

    The test refits the data of ``fit`` with its model.
    """
    if trials < 10:
        return 0, f"not assessed ({trials} trials < 10)"
    egger = egger_test(fit)
    return int(egger.pval < 0.10), f"Egger p = {egger.pval:.3f} ({trials} trials)"


def risk_of_bias(weights: np.ndarray, judgements: Sequence[str]) -> tuple[int, str, float, float]:
    """Levels of risk of bias by the share of weight at high risk or some concerns (§20.3)."""
    judged = np.array(judgements)
    high = float(weights[judged == HIGH].sum())
    concerns = float(weights[np.isin(judged, [HIGH, CONCERNS, NOT_ASSESSED])].sum())
    level = 2 if high > 0.5 else 1 if concerns > 0.5 else 0
    why = f"{concerns:.0%} of weight at high risk or some concerns ({high:.0%} high)"
    return level, why, high, concerns


def unassessed_note(weights: np.ndarray, judgements: Sequence[str]) -> str:
    """``"; N trial(s) not assessed (S% of weight)"``, or ``""`` when every trial is judged.

    ``judgements`` are the trials' own (extracted) judgements: a trial no review has judged
    yet counts as some concerns in the share, and the summary of findings says how many.
    """
    unassessed = np.array(judgements) == NOT_ASSESSED
    if not unassessed.any():
        return ""
    share = float(weights[unassessed].sum())
    return f"; {int(unassessed.sum())} trial(s) not assessed ({share:.0%} of weight)"


def _downgrades(
    rows: pd.DataFrame,
    fit: RandomEffectsResult,
    measure: str,
    control_risk: float,
    settings: Mapping,
) -> dict:
    weights = np.asarray(fit.weights) / np.sum(fit.weights)
    trials = len(rows)
    rob, rob_why, high, concerns = risk_of_bias(weights, list(rows["judgement"]))
    rob_without, *_ = risk_of_bias(weights, list(rows["judgement_without_unblinding"]))
    rob_why += unassessed_note(weights, list(rows["judgement_without_unblinding"]))
    if (rows["judgement"] != rows["judgement_without_unblinding"]).any():
        rob_why += "; functional unblinding (§20.1) included"
    consistency, consistency_why = inconsistency(fit, trials, measure != "SMD")
    bipolar = float(weights[(rows["population"] == "bipolar").to_numpy()].sum())
    self_rated = float(weights[rows["scale"].isin(SELF_RATED).to_numpy()].sum())
    indirectness = int(bipolar > 0.5 or self_rated > 0.5)
    indirect_why = f"bipolar-only {bipolar:.0%}, self-rated scales {self_rated:.0%} of weight"
    n = float(rows["n_total"].astype(float).sum())
    precision, precision_why = imprecision(fit, n, trials, measure, control_risk, settings)
    publication, publication_why = publication_bias(fit, trials)
    rest = consistency + indirectness + precision + publication
    return {
        "rob_high_share": high,
        "rob_concerns_share": concerns,
        "downgrade_risk_of_bias": rob,
        "risk_of_bias": rob_why,
        "downgrade_inconsistency": consistency,
        "inconsistency": consistency_why,
        "downgrade_indirectness": indirectness,
        "indirectness": indirect_why,
        "downgrade_imprecision": precision,
        "imprecision": precision_why,
        "downgrade_publication_bias": publication,
        "publication_bias": publication_why,
        "certainty": CERTAINTY[min(rob + rest, 3)],
        "certainty_without_unblinding": CERTAINTY[min(rob_without + rest, 3)],
    }


def judged_rows(
    rows: pd.DataFrame,
    overall: pd.Series,
    arms: pd.DataFrame,
    settings: Mapping,
) -> pd.DataFrame:
    """``rows`` with each comparison's GRADE judgement, with and without §20.1."""
    rule = settings["functional_unblinding"]
    dissociative = dissociative_comparisons(rows, arms, rule["dissociative_doses"])
    source = [overall.get(study, NOT_ASSESSED) for study in rows["study_id"]]
    judged = [
        worse(base, unblinding_judgement(control, flag, outcome, rule))
        for base, control, flag, outcome in zip(
            source, rows["control_type"], dissociative, rows["outcome"], strict=True
        )
    ]
    return rows.assign(judgement=judged, judgement_without_unblinding=source)


def sof_row(
    spec: OutcomeSpec,
    formulation: str,
    group: pd.DataFrame,
    excluded: str,
    pooling: Pooling,
    settings: Mapping,
) -> dict:
    """One summary-of-findings row: the trial-level pool, its risks and its certainty."""
    one_comparison_per_trial(group, spec.label, formulation)
    fit = random_effects(group["yi"], group["vi"], **pooling.model.arguments)
    ratio = spec.measure == "logRR"
    risk = control_risk(group) if ratio else float("nan")
    shown = np.exp if ratio else float

    def corresponding(log_rr: float) -> float:
        # A risk cannot pass 1, whatever the ratio's interval says.
        return min(1.0, risk * float(np.exp(log_rr))) if ratio else float("nan")

    return {
        "outcome": spec.label,
        "formulation": formulation,
        "comparator": spec.comparator,
        "measure": "risk ratio" if ratio else "Hedges' g",
        "k": fit.k,
        "trials": group["study_id"].nunique(),
        "n": float(group["n_total"].astype(float).sum()),
        "estimate": float(shown(fit.estimate)),
        "ci_low": float(shown(fit.ci_low)),
        "ci_high": float(shown(fit.ci_high)),
        "i2": fit.i2,
        "control_risk": risk,
        "corresponding_risk": corresponding(fit.estimate),
        "corresponding_low": corresponding(fit.ci_low),
        "corresponding_high": corresponding(fit.ci_high),
        "dependence": dependence(group),
        "excluded": excluded,
        "studies": ";".join(sorted(set(group["study_id"]))),
        **_downgrades(group, fit, spec.measure, risk, settings),
    }


def summary_of_findings(
    tables: Mapping[str, pd.DataFrame],
    effects: pd.DataFrame,
    protocol: Protocol,
    nodes: Sequence[Mapping],
    pooling: Pooling,
    settings: Mapping,
) -> pd.DataFrame:
    """The summary-of-findings rows (PROTOCOL.md §20.2), one comparison per trial.

    ``tables`` are the validated package tables (studies, arms, adverse_events,
    risk_of_bias); ``effects`` the trial-level effect sizes of :func:`trial_level_effects`.
    """
    overall = overall_risk_of_bias(tables["risk_of_bias"], settings["rob_min_domains"])
    arms = tables["arms"]
    out = []
    for spec in sof_outcomes(protocol):
        rows = _rows_for(effects, spec, protocol)
        rows = rows.assign(node=_nodes(rows, nodes))
        if spec.nodes is not None:
            rows = rows[rows["node"].isin(spec.nodes)]
        rows = judged_rows(rows, overall, arms, settings)
        if spec.formulation is not None:
            rows = rows.assign(node=spec.formulation)
        left_out = efficacy_exits(rows, spec, settings)
        for node, group in rows[~left_out].groupby("node", sort=True):
            excluded = "; ".join(
                f"{study}: lack-of-efficacy exits by design (§20.2)"
                for study in sorted(set(rows.loc[left_out & (rows["node"] == node), "study_id"]))
            )
            out.append(sof_row(spec, str(node), group, excluded, pooling, settings))
    events = adverse_event_comparisons(tables["adverse_events"], arms, tables["studies"])
    events = judged_rows(events.assign(node=_nodes(events, nodes)), overall, arms, settings)
    for (event, node), group in events.groupby(["outcome", "node"], sort=True):
        spec = OutcomeSpec(SOF_EVENTS[event], event, "logRR", None)
        out.append(sof_row(spec, str(node), group, "", pooling, settings))
    return pd.DataFrame(out, columns=SOF_COLUMNS)


def _nodes(rows: pd.DataFrame, nodes: Sequence[Mapping]) -> list[str | None]:
    return [node_of(d, r, nodes) for d, r in zip(rows["drug_treat"], rows["route"], strict=True)]


#: Adverse events of the summary of findings (PROTOCOL.md §20.2), as named in the package.
SOF_EVENTS = {
    "dissociation": "Dissociation (adverse event)",
    "blood pressure increased": "Blood pressure increased (adverse event)",
}


def adverse_event_comparisons(
    adverse_events: pd.DataFrame, arms: pd.DataFrame, studies: pd.DataFrame
) -> pd.DataFrame:
    """Per trial, event and drug and route: the log RR against the trial's inert placebo.

    The drug arms of one drug and route are combined (events and participants added), and so
    are the trial's inert-placebo arms, each arm counted once (PROTOCOL.md §20.2; Cochrane
    Handbook 6.5.2.10 for counts). Events of :data:`SOF_EVENTS`, matched case-insensitively.
    """
    rows = adverse_events.assign(event=adverse_events["event"].str.lower())
    rows = rows[rows["event"].isin(list(SOF_EVENTS))].merge(
        arms[["study_id", "arm_id", "drug", "route"]], on=["study_id", "arm_id"]
    )
    design = studies.set_index("study_id")
    out = []
    for (study, event), group in rows.groupby(["study_id", "event"], sort=True):
        control = group[group["drug"].map(CONTROL_TYPE) == "inert_placebo"]
        drugs = group[group["drug"].isin(list(ENANTIOMER))]
        if control.empty:
            continue
        for (drug, route), treated in drugs.groupby(["drug", "route"], sort=True):
            out.append(_event_row(study, event, drug, route, treated, control, design.loc[study]))
    return pd.DataFrame(out, columns=EVENT_COLUMNS)


EVENT_COLUMNS = [
    "study_id",
    "comparison_id",
    "outcome",
    "measure",
    "drug_treat",
    "route",
    "control_type",
    "population",
    "design",
    "scale",
    "n_treat",
    "n_ctrl",
    "n_total",
    "events_treat",
    "events_ctrl",
    "yi",
    "vi",
]


def _event_row(study, event, drug, route, treated, control, trial) -> dict:
    events_treat, n_treat = float(treated["events"].sum()), float(treated["n"].sum())
    events_ctrl, n_ctrl = float(control["events"].sum()), float(control["n"].sum())
    yi, vi = log_risk_ratio(events_treat, n_treat, events_ctrl, n_ctrl)
    treat_ids, ctrl_ids = "+".join(sorted(treated["arm_id"])), "+".join(sorted(control["arm_id"]))
    return {
        "study_id": study,
        "comparison_id": f"{study}:{treat_ids}-vs-{ctrl_ids}",
        "outcome": event,
        "measure": "logRR",
        "drug_treat": drug,
        "route": route,
        "control_type": "inert_placebo",
        "population": trial["population"],
        "design": trial["design"],
        "scale": "",
        "n_treat": n_treat,
        "n_ctrl": n_ctrl,
        "n_total": n_treat + n_ctrl,
        "events_treat": events_treat,
        "events_ctrl": events_ctrl,
        "yi": float(yi),
        "vi": float(vi),
    }


SOF_COLUMNS = [
    "outcome",
    "formulation",
    "comparator",
    "measure",
    "k",
    "trials",
    "n",
    "estimate",
    "ci_low",
    "ci_high",
    "i2",
    "control_risk",
    "corresponding_risk",
    "corresponding_low",
    "corresponding_high",
    "certainty",
    "certainty_without_unblinding",
    "downgrade_risk_of_bias",
    "risk_of_bias",
    "downgrade_inconsistency",
    "inconsistency",
    "downgrade_indirectness",
    "indirectness",
    "downgrade_imprecision",
    "imprecision",
    "downgrade_publication_bias",
    "publication_bias",
    "rob_high_share",
    "rob_concerns_share",
    "dependence",
    "excluded",
    "studies",
]


def risk_of_bias_sensitivity(
    by_study: pd.DataFrame, rob: pd.DataFrame, pooling: Pooling, settings: Mapping
) -> pd.DataFrame:
    """The primary 24 h SMD in the risk-of-bias sensitivity sets (PROTOCOL.md §20).

    All trials, trials at low overall risk, trials with an assessment, and active-placebo
    (midazolam) trials only.
    """
    overall = overall_risk_of_bias(rob, settings["rob_min_domains"])
    judged = by_study["study_id"].map(overall)
    sets = {
        "all trials (primary)": pd.Series(True, index=by_study.index),
        "low overall risk of bias": judged == LOW,
        "risk of bias assessed": judged.notna(),
        "active placebo only (midazolam)": by_study["control_type"] == "active_placebo",
    }
    out = []
    for name, mask in sets.items():
        rows = by_study[mask.fillna(False).to_numpy(bool)]
        if rows.empty:
            out.append({"analysis": name, "k": 0, "trials": 0, "studies": ""})
            continue
        fit = random_effects(rows["yi"], rows["vi"], **pooling.model.arguments)
        out.append(
            {
                "analysis": name,
                "k": fit.k,
                "trials": rows["study_id"].nunique(),
                "estimate": fit.estimate,
                "ci_low": fit.ci_low,
                "ci_high": fit.ci_high,
                "tau2": fit.tau2,
                "i2": fit.i2,
                "studies": ";".join(sorted(set(rows["study_id"]))),
            }
        )
    return pd.DataFrame(
        out,
        columns=[
            "analysis",
            "k",
            "trials",
            "estimate",
            "ci_low",
            "ci_high",
            "tau2",
            "i2",
            "studies",
        ],
    )
