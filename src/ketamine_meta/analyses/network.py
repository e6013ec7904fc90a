"""The network meta-analysis of ketamine formulations and comparators (PROTOCOL.md §18).

The comparisons are the package's effect sizes with every comparator arm as a control and,
for head-to-head trials, one enantiomer as the other's control; arms of one formulation in a
trial are combined. Each trial becomes arms (:func:`trial_arms`) whose covariance is that of
a shared comparator arm, and the engine (:mod:`ketamine_meta.stats.network`) fits the
consistency model in each connected part of the network.

The tables say how sure a part can be: P-scores rank only within a part of at least three
nodes; a node resting on one trial is flagged; a Q on 0 degrees of freedom and the tau² of a
part without residual degrees of freedom are "not estimable", not 0; a prediction interval
needs tau² estimated above 0 and ``prediction_min_trials`` trials in the part. Every
estimate carries its ``scale`` (the response network's are log risk ratios).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import permutations

import numpy as np
import pandas as pd

from ketamine_meta.analyses.comparisons import (
    ENANTIOMER,
    ComparisonRules,
    build_effect_sizes,
    record_groups,
)
from ketamine_meta.analyses.protocol import Protocol, select_comparisons
from ketamine_meta.stats.network import (
    Network,
    NetworkError,
    TrialArms,
    connected_components,
    direct_evidence_share,
    fit_network,
    node_split,
    splittable_comparisons,
)
from ketamine_meta.stats.network_tables import league_table

#: The two outcomes of the network (PROTOCOL.md §18): (outcome, measure, scale of the
#: estimates, as the tables' ``scale`` column gives it).
NETWORK_OUTCOMES = {
    "smd": ("depression_score", "SMD", "Hedges' g"),
    "rr": ("response", "logRR", "log RR"),
}
#: Fewest nodes of a part whose P-scores rank anything: with two, a P-score is the one-sided
#: p-value of the single comparison (Rücker and Schwarzer 2015).
MIN_RANKED_NODES = 3
#: ``control_type`` given to a head-to-head comparison (one formulation as the other's control).
HEAD_TO_HEAD = "head_to_head"


def node_of(drug: object, route: object, nodes: Sequence[Mapping]) -> str | None:
    """The node of an arm, or None when no entry of ``nodes`` covers it.

    The node is that of the first entry (``drug, routes, node``) whose drug is the arm's and
    whose routes hold its route or ``any``.
    """
    for entry in nodes:
        if entry["drug"] == drug and (route in entry["routes"] or "any" in entry["routes"]):
            return entry["node"]
    return None


def network_comparisons(
    tables: Mapping[str, pd.DataFrame],
    rules: ComparisonRules,
    protocol: Protocol,
    nodes: Sequence[Mapping],
    outcome: str,
    measure: str,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The comparisons of one outcome in the primary window, with their nodes.

    Returns the comparisons (effect-size rows with ``node_treat`` and ``node_ctrl``) and
    the rows left out, with the reason.
    """
    comparators = tuple(dict.fromkeys(e["drug"] for e in nodes if e["drug"] not in ENANTIOMER))
    combined = replace(rules, multi_arm="combine")
    sets = [replace(combined, control_drugs=comparators)] + [
        replace(combined, treatment_drugs=(a,), control_drugs=(b,))
        for a, b in permutations(ENANTIOMER, 2)
        if list(ENANTIOMER).index(a) < list(ENANTIOMER).index(b)
    ]
    frames = []
    for chosen_rules in sets:
        try:
            effects, _ = build_effect_sizes(
                tables["studies"],
                tables["arms"],
                tables["outcomes"],
                tables["contrasts"],
                chosen_rules,
            )
        except ValueError:  # no trial has arms of both sides (say, racemic and arketamine)
            continue
        effects = effects.assign(control_type=effects["control_type"].fillna(HEAD_TO_HEAD))
        frames.append(effects)
    effects = pd.concat(frames, ignore_index=True)
    every_control = replace(
        protocol.analysis_set,
        control_types=(*sorted(set(effects["control_type"].dropna())),),
    )
    try:
        rows = select_comparisons(effects, outcome, measure, protocol.primary_window, every_control)
    except ValueError:
        rows = effects.iloc[:0]
    rows = rows.assign(
        node_treat=[
            node_of(d, r, nodes) for d, r in zip(rows["drug_treat"], rows["route"], strict=True)
        ],
        node_ctrl=[
            node_of(d, r, nodes) for d, r in zip(rows["drug_ctrl"], rows["route_ctrl"], strict=True)
        ],
    )
    unmapped = rows["node_treat"].isna() | rows["node_ctrl"].isna()
    same = rows["node_treat"] == rows["node_ctrl"]
    excluded = pd.concat(
        [
            _excluded(rows[unmapped], "drug and route have no node in network.nodes"),
            _excluded(rows[~unmapped & same], "both arms are the same node"),
        ],
        ignore_index=True,
    )
    return rows[~unmapped & ~same].reset_index(drop=True), excluded


#: Columns of the network's exclusion table.
EXCLUSION_COLUMNS = ["study_id", "comparison_id", "reason"]


def _excluded(rows: pd.DataFrame, reason: str) -> pd.DataFrame:
    return pd.DataFrame(
        _exclusion_records(rows.to_dict("records"), reason), columns=EXCLUSION_COLUMNS
    )


def _shared_covariance(row: Mapping, measure: str) -> float:
    """Covariance two contrasts share through their common comparator arm (§18)."""
    n = float(row["n_ctrl"])
    if measure == "SMD":
        return 1.0 / n
    events = float(row["events_ctrl"])
    if events == 0 or events == n:
        events, n = events + 0.5, n + 1.0
    return 1.0 / events - 1.0 / n


def _exclusion_records(rows: list[dict], reason: str) -> list[dict]:
    return [
        {"study_id": r["study_id"], "comparison_id": r["comparison_id"], "reason": reason}
        for r in rows
    ]


def trial_arms(
    comparisons: pd.DataFrame, measure: str, merged: Sequence[Mapping] = ()
) -> tuple[list[TrialArms], pd.DataFrame]:
    """Each trial as arms of nodes, and the comparisons not used with the reason.

    A trial whose comparisons share one comparator node becomes that comparator (effect 0,
    variance the shared covariance) and one arm per other node (effect g or log RR,
    variance the rest of its sampling variance); a two-arm trial's split does not matter. A
    head-to-head row of a trial that also has a shared comparator is implied by the others.
    ``merged`` lists nodes (``node, replaces``) that replace others (the sensitivity network).
    """
    rename = {old: entry["node"] for entry in merged for old in entry["replaces"]}
    rows = comparisons.assign(
        node_treat=comparisons["node_treat"].replace(rename),
        node_ctrl=comparisons["node_ctrl"].replace(rename),
    )
    trials, excluded = [], []
    for (study,), group in record_groups(rows, ["study_id"]):
        group = [r for r in group if r["node_treat"] != r["node_ctrl"]]
        if not group:
            continue
        # The most frequent comparator, the first one given on a tie (as value_counts).
        shared = Counter(r["node_ctrl"] for r in group).most_common(1)[0][0]
        if len(group) > 1:
            excluded += _exclusion_records(
                [r for r in group if r["node_ctrl"] != shared],
                f"implied by the trial's comparisons against {shared}",
            )
            group = [r for r in group if r["node_ctrl"] == shared]
        treated = [r["node_treat"] for r in group]
        if len(set(treated)) < len(treated):
            excluded += _exclusion_records(group, "two comparisons of one node pair in one trial")
            continue
        if len(group) == 1:
            (r,) = group
            half = float(r["vi"]) / 2
            trials.append(
                TrialArms(
                    str(study), (shared, r["node_treat"]), (0.0, float(r["yi"])), (half, half)
                )
            )
            continue
        covariance = _shared_covariance(group[0], measure)
        rest = [float(r["vi"]) - covariance for r in group]
        if any(v <= 0 for v in rest):
            excluded += _exclusion_records(group, "variance below the shared arm's covariance")
            continue
        trials.append(
            TrialArms(
                str(study),
                (shared, *treated),
                (0.0, *(float(r["yi"]) for r in group)),
                (covariance, *rest),
            )
        )
    dropped = pd.DataFrame(excluded, columns=EXCLUSION_COLUMNS)
    return trials, dropped


@dataclass(frozen=True)
class NetworkTables:
    """The tables of one network analysis (one outcome, one set of nodes)."""

    effects: pd.DataFrame
    league: pd.DataFrame
    inconsistency: pd.DataFrame
    graph: pd.DataFrame


def _part_reference(
    part: list[str], trials: list[TrialArms], reference: str, comparators: set[str]
) -> str:
    """The part's reference node.

    The configured reference if the part has it, else its comparator in the most trials (a
    formulation only when the part has no comparator).
    """
    if reference in part:
        return reference
    counts = {node: sum(node in t.treatments for t in trials) for node in part}
    candidates = sorted(set(part) & comparators) or sorted(part)
    return max(candidates, key=lambda node: counts[node])


@dataclass(frozen=True)
class PartRules:
    """What a part's tables show (PROTOCOL.md §18).

    ``scale`` names the estimates (``"log RR"``, ``"Hedges' g"``);
    ``prediction_min_trials`` is the fewest trials of a part for a prediction interval.
    """

    scale: str
    prediction_min_trials: int


def analyse_network(
    trials: list[TrialArms],
    comparisons: pd.DataFrame,
    reference: str,
    comparators: set[str],
    method: str,
    level: float,
    analysis: str,
    rules: PartRules,
) -> NetworkTables:
    """Fit each connected part of the network and tabulate it (PROTOCOL.md §18).

    ``comparators`` are the nodes that are not formulations: a part without ``reference``
    is compared with the one of them in most of its trials.
    """
    effects, league, inconsistency = [], [], []
    for number, part in enumerate(connected_components(trials), start=1):
        part_trials = [t for t in trials if t.treatments[0] in part]
        part_reference = _part_reference(part, part_trials, reference, comparators)
        network = Network(tuple(part_trials), part_reference)
        labels = {"analysis": analysis, "part": number, "reference": part_reference}
        try:
            fit = fit_network(network, method, level)
        except NetworkError as exc:
            inconsistency.append(labels | {"quantity": "not fitted", "note": str(exc)})
            continue
        effects.append(_effect_rows(network, fit, labels, rules))
        league.append(
            league_table(fit).assign(
                analysis=labels["analysis"], part=labels["part"], scale=rules.scale
            )
        )
        inconsistency.extend(_q_rows(fit, labels))
        inconsistency.extend(_split_rows(network, method, labels))
    graph = _graph_rows(trials, comparisons)
    return NetworkTables(
        effects=_frame(effects, EFFECT_COLUMNS),
        league=_frame(league, LEAGUE_COLUMNS),
        inconsistency=pd.DataFrame(inconsistency, columns=INCONSISTENCY_COLUMNS).assign(
            scale=rules.scale
        ),
        graph=graph,
    )


def _effect_rows(network: Network, fit, labels: Mapping, rules: PartRules) -> pd.DataFrame:
    """Each node of a part against its reference, with what the part can and cannot say."""
    trials, reference = network.trials, network.reference
    nodes = list(fit.effects["treatment"])
    studies = {n: [t.study for t in trials if n in t.treatments] for n in nodes}
    ranked = len(fit.treatments) >= MIN_RANKED_NODES
    pscore = fit.pscore if ranked else fit.pscore * np.nan
    # tau² of a part without residual degrees of freedom is 0 by construction, not estimated.
    estimable = fit.q_df > 0
    predicted = estimable and fit.tau2 > 0 and len(trials) >= rules.prediction_min_trials
    part_notes = _part_notes(fit, ranked, estimable, predicted, len(trials), rules)
    effects = fit.effects.assign(
        tau2=fit.tau2 if estimable else np.nan,
        pi_low=fit.effects["pi_low"] if predicted else np.nan,
        pi_high=fit.effects["pi_high"] if predicted else np.nan,
    )
    return effects.assign(
        **labels,
        scale=rules.scale,
        k_trials=[len(studies[n]) for n in nodes],
        k_direct=[
            sum(n in t.treatments and reference in t.treatments for t in trials) for n in nodes
        ],
        single_trial=[len(studies[n]) == 1 for n in nodes],
        direct_share=direct_evidence_share(network, fit).loc[nodes].to_numpy(),
        pscore_in_part=pscore.loc[nodes].to_numpy(),
        reference_pscore_in_part=pscore.loc[reference],
        note=[
            "; ".join(
                ([f"rests on one trial ({studies[n][0]})"] if len(studies[n]) == 1 else [])
                + part_notes
            )
            for n in nodes
        ],
    )


def _part_notes(
    fit, ranked: bool, estimable: bool, predicted: bool, k: int, rules: PartRules
) -> list[str]:
    """Why a part shows no ranking, tau² or prediction interval."""
    notes = []
    if not ranked:
        notes.append(
            "two nodes: no P-score (it would restate the one comparison's one-sided p-value)"
        )
    if not estimable:
        notes.append(
            "tau² not estimable (no residual degrees of freedom): the CI assumes no "
            "heterogeneity; no prediction interval"
        )
    elif not predicted:
        notes.append(
            "tau² estimated at 0: no prediction interval (it would equal the CI)"
            if fit.tau2 <= 0
            else f"{k} trials in the part, fewer than {rules.prediction_min_trials}: "
            "no prediction interval"
        )
    return notes


EFFECT_COLUMNS = [
    "analysis",
    "part",
    "reference",
    "treatment",
    "scale",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "pi_low",
    "pi_high",
    "tau2",
    "k_trials",
    "k_direct",
    "single_trial",
    "direct_share",
    "pscore_in_part",
    "reference_pscore_in_part",
    "note",
]
LEAGUE_COLUMNS = [
    "analysis",
    "part",
    "row",
    "column",
    "scale",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
]
INCONSISTENCY_COLUMNS = [
    "analysis",
    "part",
    "reference",
    "quantity",
    "comparison",
    "scale",
    "estimate",
    "se",
    "statistic",
    "df",
    "pval",
    "k_direct",
    "note",
]


def _frame(parts: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns]


#: Why a Q has no degrees of freedom, by the part of Q it is.
NO_DF_REASONS = {
    "Q total (consistency model)": "every contrast has its own parameter",
    "Q within designs (heterogeneity)": "no design has two trials",
    "Q between designs (design-by-treatment inconsistency)": (
        "no closed loop: every comparison has one source of evidence"
    ),
}


def _q_rows(fit, labels: Mapping) -> list[dict]:
    """Q and its parts; on 0 degrees of freedom "not estimable" with the reason, never 0."""
    values = (
        (fit.q, fit.q_df, fit.q_p),
        (fit.q_within, fit.q_within_df, fit.q_within_p),
        (fit.q_between, fit.q_between_df, fit.q_between_p),
    )
    return [
        labels
        | {
            "quantity": quantity,
            "statistic": q,
            "df": df,
            "pval": p,
            "note": "" if df > 0 else f"not estimable: 0 degrees of freedom ({reason})",
        }
        for (quantity, reason), (q, df, p) in zip(NO_DF_REASONS.items(), values, strict=True)
    ]


def _split_rows(network: Network, method: str, labels: Mapping) -> list[dict]:
    rows = []
    for first, second in splittable_comparisons(network):
        split = node_split(network, first, second, method)
        comparison = f"{second} vs {first}"
        for quantity, estimate, se in (
            ("direct", split.direct, split.direct_se),
            ("indirect", split.indirect, split.indirect_se),
        ):
            rows.append(
                labels
                | {
                    "quantity": f"node split: {quantity}",
                    "comparison": comparison,
                    "estimate": estimate,
                    "se": se,
                    "k_direct": split.k_direct,
                }
            )
        rows.append(
            labels
            | {
                "quantity": "node split: direct minus indirect",
                "comparison": comparison,
                "estimate": split.difference,
                "se": split.difference_se,
                "statistic": split.difference / split.difference_se,
                "pval": split.pval,
                "k_direct": split.k_direct,
            }
        )
    if not rows:
        rows.append(
            labels
            | {
                "quantity": "node split",
                "note": "no comparison has both direct and indirect evidence",
            }
        )
    return rows


def _graph_rows(trials: list[TrialArms], comparisons: pd.DataFrame) -> pd.DataFrame:
    """Edges (node pairs with their trials) and node sizes (participants) of the graph."""
    n_by_node: dict[str, float] = {}
    for r in comparisons[["node_treat", "n_treat"]].to_dict("records"):
        n_by_node[r["node_treat"]] = n_by_node.get(r["node_treat"], 0.0) + float(r["n_treat"])
    # A comparator shared by several comparisons of one trial counts once.
    for _, group in record_groups(comparisons, ["study_id"]):
        largest: dict[str, float] = {}
        for r in group:
            # fmax skips a missing n, as pandas' max does.
            largest[r["node_ctrl"]] = np.fmax(largest.get(r["node_ctrl"], np.nan), r["n_ctrl"])
        for node in sorted(largest):
            n_by_node[node] = n_by_node.get(node, 0.0) + largest[node]
    edges: dict[tuple[str, str], list[str]] = {}
    for trial in trials:
        for i, a in enumerate(trial.treatments):
            for b in trial.treatments[i + 1 :]:
                edges.setdefault(tuple(sorted((a, b))), []).append(trial.study)
    rows = [
        {
            "kind": "edge",
            "node": a,
            "other": b,
            "trials": len(s),
            "studies": ";".join(s),
            "n": np.nan,
        }
        for (a, b), s in sorted(edges.items())
    ]
    rows += [
        {
            "kind": "node",
            "node": node,
            "other": "",
            "trials": sum(node in t.treatments for t in trials),
            "studies": "",
            "n": n,
        }
        for node, n in sorted(n_by_node.items())
    ]
    return pd.DataFrame(rows, columns=["kind", "node", "other", "trials", "studies", "n"])


def network_analysis(
    tables: Mapping[str, pd.DataFrame],
    rules: ComparisonRules,
    protocol: Protocol,
    network_config: Mapping,
    level: float,
    outcome_key: str,
) -> tuple[NetworkTables, pd.DataFrame, pd.DataFrame]:
    """The primary network of one outcome (``smd`` or ``rr``) and its sensitivity networks.

    The sensitivity networks are the merged-nodes network and one network without each
    ``without_arms`` entry's arms (PROTOCOL.md §16, §18: its comparisons are rebuilt without
    them, so that combined arms are recomputed). Returns the tables (every analysis stacked,
    column ``analysis``), the primary network's comparisons and those it left out with the
    reason.
    """
    outcome, measure, scale = NETWORK_OUTCOMES[outcome_key]
    rules_of_parts = PartRules(scale, network_config["prediction_min_trials"])
    comparisons, excluded = network_comparisons(
        tables, rules, protocol, network_config["nodes"], outcome, measure
    )
    results = []
    for analysis, merged in (
        ("primary", ()),
        (_merged_label(network_config["merged_nodes"]), network_config["merged_nodes"]),
    ):
        trials, dropped = trial_arms(comparisons, measure, merged)
        if analysis == "primary":
            excluded = pd.concat([excluded, dropped], ignore_index=True)
        results.append(
            analyse_network(
                trials,
                comparisons,
                network_config["reference"],
                _comparator_nodes(network_config),
                network_config["method"],
                level,
                analysis,
                rules_of_parts,
            )
        )
    for entry in network_config["without_arms"]:
        rules_without = replace(rules, exclude_arms=(*rules.exclude_arms, *entry["arms"]))
        without, _ = network_comparisons(
            tables, rules_without, protocol, network_config["nodes"], outcome, measure
        )
        trials, _ = trial_arms(without, measure, ())
        results.append(
            analyse_network(
                trials,
                without,
                network_config["reference"],
                _comparator_nodes(network_config),
                network_config["method"],
                level,
                entry["name"],
                rules_of_parts,
            )
        )
    stacked = NetworkTables(
        effects=pd.concat([r.effects for r in results], ignore_index=True),
        league=pd.concat([r.league for r in results], ignore_index=True),
        inconsistency=pd.concat([r.inconsistency for r in results], ignore_index=True),
        graph=results[0].graph,
    )
    return stacked, comparisons, excluded


def _comparator_nodes(network_config: Mapping) -> set[str]:
    """Nodes of comparator drugs (not formulations), merged nodes included."""
    nodes = {e["node"] for e in network_config["nodes"] if e["drug"] not in ENANTIOMER}
    return nodes | {e["node"] for e in network_config["merged_nodes"]}


def _merged_label(merged: Sequence[Mapping]) -> str:
    return "; ".join(f"{' + '.join(e['replaces'])} as {e['node']}" for e in merged)
