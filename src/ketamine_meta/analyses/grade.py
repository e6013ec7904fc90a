"""Risk of bias and the GRADE summary of findings (PROTOCOL.md §20).

Every rule is the protocol's; each downgrade is computed from the data and its reason is
written beside it, so that a reader can check the certainty of each row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ketamine_meta.analyses.comparisons import ENANTIOMER
from ketamine_meta.analyses.network import node_of
from ketamine_meta.analyses.protocol import (
    Protocol,
    Window,
    model_options,
    select_comparisons,
)
from ketamine_meta.stats.distributions import norm_ppf
from ketamine_meta.stats.meta_analysis import random_effects
from ketamine_meta.stats.publication_bias import egger_test

HIGH, CONCERNS, LOW, NOT_ASSESSED = "high", "some concerns", "low", "not assessed"
BLINDING_DOMAINS = (
    "blinding_of_participants_and_personnel",
    "blinding_of_outcome_assessment",
    "bias_due_to_deviations_from_intended_interventions",
    "bias_in_measurement_of_the_outcome",
)
#: The arms.drug of each enantiomer label (the adverse-event table names enantiomers).
DRUG_OF_ENANTIOMER = {enantiomer: drug for drug, enantiomer in ENANTIOMER.items()}
CERTAINTY = ("high", "moderate", "low", "very low")
#: Scales a participant rates (PROTOCOL.md §4: last in the hierarchy).
SELF_RATED = frozenset({"BDI-II", "BDI", "QIDS-SR16", "MADRS-S", "HADS-D", "POMS-D"})


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


def traffic_light(rob: pd.DataFrame, effects: pd.DataFrame, settings: Mapping) -> pd.DataFrame:
    """One row per trial and domain as judged, plus its overall judgement and flags.

    The functional unblinding flag is derived from the trial's controls, not extracted.
    """
    overall = overall_risk_of_bias(rob, settings["rob_min_domains"])
    flagged = set(
        effects.loc[effects["control_type"].isin(settings["functional_unblinding"]), "study_id"]
    )
    rows = rob[["study_id", "tool", "domain", "judgement", "source_id", "locator"]].copy()
    extra = []
    for study in sorted(set(rob["study_id"])):
        tool = rob.loc[rob["study_id"] == study, "tool"].iloc[0]
        extra.append(
            {"study_id": study, "tool": tool, "domain": "overall", "judgement": overall[study]}
        )
        extra.append(
            {
                "study_id": study,
                "tool": "derived",
                "domain": "functional_unblinding",
                "judgement": CONCERNS if study in flagged else LOW,
                "locator": "PROTOCOL.md §20: control type "
                + ("inert placebo" if study in flagged else "not inert placebo"),
            }
        )
    return pd.concat([rows, pd.DataFrame(extra)], ignore_index=True).sort_values(
        ["study_id", "domain"], kind="stable"
    )


def trial_judgement(study: str, overall: pd.Series, control_type: str, settings: Mapping) -> str:
    """A trial's judgement for GRADE.

    Its overall judgement, raised to some concerns by functional unblinding; "not assessed"
    (counted as some concerns) without one.
    """
    judged = overall.get(study, NOT_ASSESSED)
    if judged == LOW and control_type in settings["functional_unblinding"]:
        return CONCERNS
    return judged


@dataclass(frozen=True)
class OutcomeSpec:
    """One summary-of-findings outcome: what is pooled and over which window."""

    label: str
    outcome: str
    measure: str
    window: Window | None  # None: the latest visit a comparison reports


def sof_outcomes(protocol: Protocol) -> list[OutcomeSpec]:
    """The outcomes of PROTOCOL.md §20, with the windows of §6 they use."""
    windows = {w.label: w for w in protocol.windows}
    return [
        OutcomeSpec("Response at 24 h", "response", "logRR", windows["24 h"]),
        OutcomeSpec("Depression score at 24 h", "depression_score", "SMD", windows["24 h"]),
        OutcomeSpec("Depression score at 7 d", "depression_score", "SMD", windows["7 d"]),
        OutcomeSpec("Depression score at 28 d", "depression_score", "SMD", windows["28 d"]),
        OutcomeSpec("Dropouts (latest visit)", "dropout", "logRR", None),
    ]


def _rows_for(effects: pd.DataFrame, spec: OutcomeSpec, protocol: Protocol) -> pd.DataFrame:
    inert = replace(protocol.analysis_set, control_types=("inert_placebo",))
    if spec.window is not None:
        try:
            return select_comparisons(effects, spec.outcome, spec.measure, spec.window, inert)
        except ValueError:
            return effects.iloc[:0]
    rows = effects[
        (effects["outcome"] == spec.outcome)
        & (effects["measure"] == spec.measure)
        & inert.mask(effects)
    ]
    return rows.sort_values("timepoint_h").drop_duplicates("comparison_id", keep="last")


def _optimal_information_size(measure: str, control_risk: float, settings: Mapping) -> float:
    """Participants a single trial would need (two-sided alpha 0.05, power 0.8).

    For g, statsmodels' two-sample power solution at the smallest important g. For a risk
    ratio, the two-proportion formula with each arm's own variance (PROTOCOL.md §20), at the
    control risk and that risk changed by ``relative_change``.
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
    z = norm_ppf(0.975) + norm_ppf(0.8)
    return 2 * z**2 * (p1 * (1 - p1) + p2 * (1 - p2)) / (p2 - p1) ** 2


def _downgrades(
    rows: pd.DataFrame,
    fit,
    judgements: Sequence[str],
    measure: str,
    control_risk: float,
    settings: Mapping,
    pooling: Mapping,
) -> dict:
    weights = np.asarray(fit.weights) / np.sum(fit.weights)
    judged = np.array(judgements)
    high = float(weights[judged == HIGH].sum())
    concerns = float(weights[np.isin(judged, [HIGH, CONCERNS, NOT_ASSESSED])].sum())
    rob = 2 if high > 0.5 else 1 if concerns > 0.5 else 0
    rob_why = f"{concerns:.0%} of weight at high risk or some concerns ({high:.0%} high)"
    if fit.k >= 2:
        inconsistency = int(fit.i2 > 50)
        inconsistency_why = f"I² {fit.i2:.0f}%, PI [{fit.pi_low:.2f}, {fit.pi_high:.2f}]"
    else:
        inconsistency, inconsistency_why = 0, "single trial: not assessable"
    bipolar = float(weights[(rows["population"] == "bipolar").to_numpy()].sum())
    self_rated = float(weights[rows["scale"].isin(SELF_RATED).to_numpy()].sum())
    indirectness = int(bipolar > 0.5 or self_rated > 0.5)
    indirect_why = f"bipolar-only {bipolar:.0%}, self-rated scales {self_rated:.0%} of weight"
    null = 0.0
    crosses = bool(fit.ci_low <= null <= fit.ci_high)
    n_total = float(rows["n_total"].sum())
    ois = _optimal_information_size(measure, control_risk, settings)
    small = bool(np.isfinite(ois) and n_total < ois)
    imprecision = int(crosses) + int(small)
    imprecision_why = (
        f"CI {'includes' if crosses else 'excludes'} no effect; n {n_total:.0f} against an "
        f"optimal information size of {ois:.0f}"
    )
    if fit.k >= 10:
        egger = egger_test(rows["yi"], rows["vi"], **model_options(pooling))
        publication = int(egger.pval < 0.10)
        publication_why = f"Egger p = {egger.pval:.3f} (k = {fit.k})"
    else:
        publication, publication_why = 0, f"not assessed (k = {fit.k} < 10)"
    total = rob + inconsistency + indirectness + imprecision + publication
    return {
        "rob_high_share": high,
        "rob_concerns_share": concerns,
        "downgrade_risk_of_bias": rob,
        "risk_of_bias": rob_why,
        "downgrade_inconsistency": inconsistency,
        "inconsistency": inconsistency_why,
        "downgrade_indirectness": indirectness,
        "indirectness": indirect_why,
        "downgrade_imprecision": imprecision,
        "imprecision": imprecision_why,
        "downgrade_publication_bias": publication,
        "publication_bias": publication_why,
        "certainty": CERTAINTY[min(total, 3)],
    }


def _control_risk(rows: pd.DataFrame) -> float:
    """Pooled share of events in the inert-placebo arms (a shared arm counted once)."""
    arms = rows.drop_duplicates(["study_id", "events_ctrl", "n_ctrl"])
    events = arms["events_ctrl"].astype(float).sum()
    n = arms["n_ctrl"].astype(float).sum()
    return float(events / n) if n > 0 else float("nan")


def summary_of_findings(
    effects: pd.DataFrame,
    adverse_rr: pd.DataFrame,
    rob: pd.DataFrame,
    protocol: Protocol,
    nodes: Sequence[Mapping],
    pooling: Mapping,
    settings: Mapping,
) -> pd.DataFrame:
    """The summary-of-findings rows, formulation by formulation, against inert placebo."""
    overall = overall_risk_of_bias(rob, settings["rob_min_domains"])
    out = []
    for spec in sof_outcomes(protocol):
        rows = _rows_for(effects, spec, protocol)
        rows = rows.assign(
            node=[
                node_of(d, r, nodes) for d, r in zip(rows["drug_treat"], rows["route"], strict=True)
            ]
        )
        for node, group in rows.groupby("node", sort=True):
            out.append(_sof_row(spec.label, spec.measure, node, group, overall, pooling, settings))
    out += _adverse_event_rows(adverse_rr, effects, overall, nodes, pooling, settings)
    return pd.DataFrame(out, columns=SOF_COLUMNS)


def _sof_row(label, measure, node, group, overall, pooling, settings) -> dict:
    fit = random_effects(group["yi"], group["vi"], **model_options(pooling))
    ratio = measure == "logRR"
    control_risk = _control_risk(group) if ratio else float("nan")
    judgements = [
        trial_judgement(s, overall, c, settings)
        for s, c in zip(group["study_id"], group["control_type"], strict=True)
    ]
    shown = np.exp if ratio else (lambda x: x)
    return {
        "outcome": label,
        "formulation": node,
        "comparator": "inert placebo",
        "measure": "risk ratio" if ratio else "Hedges' g",
        "k": fit.k,
        "trials": group["study_id"].nunique(),
        "n": float(group["n_total"].sum()),
        "estimate": float(shown(fit.estimate)),
        "ci_low": float(shown(fit.ci_low)),
        "ci_high": float(shown(fit.ci_high)),
        "i2": fit.i2,
        "control_risk": control_risk,
        # A risk cannot pass 1, whatever the ratio's interval says.
        "corresponding_risk": min(1.0, control_risk * float(np.exp(fit.estimate)))
        if ratio
        else np.nan,
        "corresponding_low": min(1.0, control_risk * float(np.exp(fit.ci_low)))
        if ratio
        else np.nan,
        "corresponding_high": min(1.0, control_risk * float(np.exp(fit.ci_high)))
        if ratio
        else np.nan,
        "studies": ";".join(sorted(set(group["study_id"]))),
        **_downgrades(group, fit, judgements, measure, control_risk, settings, pooling),
    }


#: Adverse events of the summary of findings (PROTOCOL.md §20), as named in the package.
SOF_EVENTS = {
    "dissociation": "Dissociation (adverse event)",
    "blood pressure increased": "Blood pressure increased (adverse event)",
}


def _adverse_event_rows(adverse_rr, effects, overall, nodes, pooling, settings) -> list[dict]:
    rows = adverse_rr[
        adverse_rr["event"].isin(list(SOF_EVENTS)) & (adverse_rr["study_id"] != "overall")
    ]
    controls = effects.drop_duplicates("study_id").set_index("study_id")["control_type"]
    rows = rows.assign(
        node=[
            node_of(DRUG_OF_ENANTIOMER[e], r, nodes)
            for e, r in zip(rows["enantiomer"], rows["route"], strict=True)
        ],
        control_type=[controls.get(s, "inert_placebo") for s in rows["study_id"]],
        population=[_population(effects, s) for s in rows["study_id"]],
        scale="",
    )
    out = []
    for (event, node), group in rows.groupby(["event", "node"], sort=True):
        out.append(_sof_row(SOF_EVENTS[event], "logRR", node, group, overall, pooling, settings))
    return out


def _population(effects: pd.DataFrame, study: str) -> str:
    match = effects.loc[effects["study_id"] == study, "population"]
    return match.iloc[0] if len(match) else ""


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
    "studies",
]


def risk_of_bias_sensitivity(
    by_study: pd.DataFrame, rob: pd.DataFrame, pooling: Mapping, settings: Mapping
) -> pd.DataFrame:
    """The primary 24 h SMD in the risk-of-bias sensitivity sets (PROTOCOL.md §20).

    All trials, trials at low overall risk, trials with an assessment, and active-placebo
    trials only.
    """
    overall = overall_risk_of_bias(rob, settings["rob_min_domains"])
    judged = by_study["study_id"].map(overall)
    sets = {
        "all trials (primary)": pd.Series(True, index=by_study.index),
        "low overall risk of bias": judged == LOW,
        "risk of bias assessed": judged.notna(),
        "active placebo only (no functional unblinding flag)": by_study["control_type"]
        == "active_placebo",
    }
    out = []
    for name, mask in sets.items():
        rows = by_study[mask.fillna(False).to_numpy(bool)]
        if rows.empty:
            out.append({"analysis": name, "k": 0, "trials": 0, "studies": ""})
            continue
        fit = random_effects(rows["yi"], rows["vi"], **model_options(pooling))
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
