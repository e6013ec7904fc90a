"""Efficacy: how much ketamine lowers depression scores (Hedges' g), by route and enantiomer.

The pooled SMD by route and by each moderator, the tests for subgroup differences, the
sensitivity analyses of PROTOCOL.md §16 (leave-one-out, influence, cumulative, crossover
correlations, analysis sets), small-study tests and the racemic-esketamine head-to-head.
Statistics from :mod:`ketamine_meta.stats`; the shared trial-level steps from
:mod:`ketamine_meta.analyses.pooling`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from ketamine_meta.analyses.comparisons import (
    ComparisonRules,
    build_effect_sizes,
)
from ketamine_meta.analyses.pooling import (
    TRIAL,
    fit_trials,
    per_trial,
    select_smd_at,
    trial_dependence,
    trial_means,
    with_display,
)
from ketamine_meta.analyses.protocol import (
    AnalysisSet,
    Pooling,
    Protocol,
    nearest_in_window,
)
from ketamine_meta.stats.distributions import norm_sf
from ketamine_meta.stats.meta_analysis import (
    OVERALL_LABEL,
    RandomEffectsResult,
    pool_by_subgroup,
    random_effects,
    subgroup_difference_test,
    tau2_confidence_interval,
)
from ketamine_meta.stats.meta_regression import meta_regression, subgroups_common_tau2
from ketamine_meta.stats.publication_bias import egger_test, rank_correlation_test, trim_and_fill
from ketamine_meta.stats.sensitivity import (
    INFLUENCE_COLUMNS,
    SUMMARY_COLUMNS,
    cumulative,
    influence,
    leave_one_out,
)


def pool_smd_by(by_study: pd.DataFrame, by: str, pooling: Pooling) -> pd.DataFrame:
    """Pool Hedges' g per level of ``by`` (route, enantiomer) and overall, one estimate per trial.

    The ``analysis`` column reads ``smd_depression_{t}h`` with ``t`` the timepoint in hours;
    ``k`` counts comparisons, ``trials`` trials (PROTOCOL.md §11), and ``display`` /
    ``pi_note`` apply the minimum-information rule (:func:`with_display`).
    """
    analysis = f"smd_depression_{pooling.timepoint_label}"
    table, _, _ = pool_by_subgroup(
        by_study, by=by, analysis=analysis, cluster=TRIAL, **pooling.model.arguments
    )
    table = table.assign(controls=_controls_per_subgroup(by_study, by, table["subgroup"]))
    return with_display(table, pooling)


def _controls_per_subgroup(by_study: pd.DataFrame, by: str, subgroups: pd.Series) -> list[str]:
    """The control types pooled in each row of a subgroup table (PROTOCOL.md §7)."""

    def named(rows: pd.DataFrame) -> str:
        return "; ".join(sorted(rows["control_type"].dropna().unique()))

    per_level = {level: named(rows) for level, rows in by_study.groupby(by)}
    return [per_level.get(s, named(by_study) if s == OVERALL_LABEL else "") for s in subgroups]


def pool_smd_by_route(by_study: pd.DataFrame, pooling: Pooling) -> pd.DataFrame:
    """:func:`pool_smd_by` on ``route``."""
    return pool_smd_by(by_study, "route", pooling)


SUBGROUP_TEST_COLUMNS = [
    "moderator",
    "tau2_model",
    "subgroups",
    "k",
    "trials",
    "statistic",
    "df",
    "df2",
    "pval",
    "test",
    "dependence",
]


def subgroup_tests(
    by_study: pd.DataFrame, moderators: Sequence[str], pooling: Pooling
) -> pd.DataFrame:
    """Tests for subgroup differences, with separate and with a common tau^2.

    Separate tau^2: the Q test on the subgroup estimates
    (:func:`~ketamine_meta.stats.meta_analysis.subgroup_difference_test`, chi^2). Common tau^2:
    the omnibus test of the mixed-effects model on subgroup indicators
    (:func:`~ketamine_meta.stats.meta_regression.subgroups_common_tau2`; F with knha and adhoc).
    Both count trials: a trial's comparisons in one subgroup are combined first
    (:func:`trial_means`). A moderator with a single level in the data gets no row.
    """
    rows = []
    for moderator in moderators:
        if by_study[moderator].nunique() < 2:
            continue
        _, fits, _ = pool_by_subgroup(
            by_study, by=moderator, analysis="", cluster=TRIAL, **pooling.model.arguments
        )
        separate = subgroup_difference_test(fits)
        # One estimate per trial and subgroup.
        means = trial_means(by_study, within=[moderator])
        counts = {
            "moderator": moderator,
            "subgroups": len(fits),
            "k": len(by_study),
            "trials": by_study[TRIAL].nunique(),
            "dependence": trial_dependence(means),
        }
        rows.append(
            counts
            | {
                "tau2_model": "separate",
                "statistic": separate.q,
                "df": separate.df,
                "pval": separate.pval,
                "test": "chi2",
            }
        )
        _, common = subgroups_common_tau2(
            means["yi"], means["vi"], means[moderator], **pooling.model.arguments
        )
        rows.append(
            counts
            | {
                "tau2_model": "common",
                "statistic": common.qm,
                "df": common.qm_df,
                "df2": common.qm_df2,
                "pval": common.qm_p,
                "test": "F" if pooling.model.test != "z" else "chi2",
            }
        )
    return pd.DataFrame(rows, columns=SUBGROUP_TEST_COLUMNS)


def _fit(rows: pd.DataFrame, pooling: Pooling) -> RandomEffectsResult:
    """``pooling.model`` fitted to the ``yi`` and ``vi`` of ``rows``, one row a study."""
    return random_effects(rows["yi"], rows["vi"], **pooling.model.arguments)


def leave_one_out_table(by_study: pd.DataFrame, pooling: Pooling) -> pd.DataFrame:
    """Leave-one-out pooled estimates, one row per omitted trial (with all its comparisons).

    With one trial there is nothing to leave out: no rows.
    """
    trials = per_trial(by_study)
    if len(trials) < 2:
        return pd.DataFrame(columns=["omitted", *SUMMARY_COLUMNS, "comparisons"])
    table = leave_one_out(_fit(trials, pooling), trials[TRIAL])
    return table.assign(comparisons=trials["comparisons"])


def influence_table(by_study: pd.DataFrame, pooling: Pooling) -> pd.DataFrame:
    """Influence diagnostics of each trial (metafor ``influence``), its comparisons combined.

    With one trial no deletion can be compared: no rows.
    """
    trials = per_trial(by_study)
    if len(trials) < 2:
        return pd.DataFrame(columns=[*INFLUENCE_COLUMNS, "comparisons"])
    table = influence(_fit(trials, pooling), trials[TRIAL])
    return table.assign(comparisons=trials["comparisons"])


def cumulative_table(by_study: pd.DataFrame, pooling: Pooling) -> pd.DataFrame:
    """Cumulative meta-analysis of trials by year of publication (ties in input order)."""
    trials = per_trial(by_study)
    table = cumulative(_fit(trials, pooling), trials["year"], trials[TRIAL])
    years = dict(zip(trials[TRIAL], trials["year"], strict=True))
    table.insert(1, "year", table["added"].map(years))
    return table


#: The heterogeneity statistics of :func:`heterogeneity_table`, in its row order.
HETEROGENEITY = ("tau2", "tau", "i2", "h2")


def heterogeneity_table(by_study: pd.DataFrame, pooling: Pooling) -> pd.DataFrame:
    """tau^2, tau, I^2 and H^2 over trials with Q-profile confidence intervals, overall."""
    trials = per_trial(by_study)
    if len(trials) < 2:
        # One trial has no heterogeneity to estimate: every value is left empty.
        ci = {f"{name}{end}": np.nan for name in HETEROGENEITY for end in ("", "_low", "_high")}
    else:
        ci = tau2_confidence_interval(_fit(trials, pooling))
    return pd.DataFrame(
        [
            {
                "statistic": name,
                "estimate": ci[name],
                "ci_low": ci[f"{name}_low"],
                "ci_high": ci[f"{name}_high"],
            }
            for name in HETEROGENEITY
        ]
    ).assign(method=pooling.model.method, ci_method="Q-profile", trials=len(trials))


PUBLICATION_BIAS_COLUMNS = [
    "level",
    "k",
    "trials",
    "test",
    "statistic",
    "df",
    "pval",
    "k0",
    "side",
    "estimate",
    "ci_low",
    "ci_high",
    "note",
    "dependence",
]


#: ``dependence`` of the small-study tests over comparisons.
COMPARISON_LEVEL = "comparisons of one trial treated as independent: a check of the trial rows"


def publication_bias_table(by_study: pd.DataFrame, pooling: Pooling) -> pd.DataFrame:
    """Egger's regression test, the rank correlation test and trim-and-fill over trials.

    One estimate per trial (:func:`per_trial`; PROTOCOL.md §16): rows of ``level``
    "trials" first. Where the analysis has more comparisons than trials, the same three rows
    over comparisons follow (``level`` "comparisons", ``dependence`` saying they are treated
    as independent). Columns :data:`PUBLICATION_BIAS_COLUMNS`: for Egger the estimate is the
    limit estimate (the intercept), for trim-and-fill the filled estimate; ``note`` says when
    there are fewer than ``pooling.small_study_min_trials`` trials (Handbook 13.3.5.4: too
    little power to read).
    """
    trials = per_trial(by_study)
    least = pooling.small_study_min_trials
    note = (
        f"fewer than {least} trials ({len(trials)}): too little power to tell small-study "
        "effects from chance (Handbook 13.3.5.4); not interpreted"
        if len(trials) < least
        else ""
    )
    levels = [("trials", trials, "")]
    if len(by_study) > len(trials):
        levels.append(("comparisons", by_study, COMPARISON_LEVEL))
    rows = [
        row
        | {"level": level, "k": len(data), "trials": len(trials)}
        | {"note": "; ".join(filter(None, (note, row.get("note", ""))))}
        | {"dependence": dependence}
        for level, data, dependence in levels
        for row in _small_study_tests(_fit(data, pooling))
    ]
    return pd.DataFrame(rows, columns=PUBLICATION_BIAS_COLUMNS)


EGGER = "Egger regression (sei)"
RANK = "Begg rank correlation (Kendall tau)"
TRIM_AND_FILL = "trim-and-fill (L0)"
#: The fewest estimates each test computes on: Egger's regression fits two coefficients and
#: tau^2 (at least one residual degree of freedom), and so does trim-and-fill to choose the
#: side to fill (as metafor's trimfill does); the rank correlation needs a pair.
SMALL_STUDY_MINIMUM = {EGGER: 3, RANK: 2, TRIM_AND_FILL: 3}


def _small_study_tests(fit: RandomEffectsResult) -> list[dict]:
    """The three tests' rows; a test with too few estimates gives its name and why not."""
    k = fit.yi.size
    rows = []
    for test, compute in ((EGGER, _egger_row), (RANK, _rank_row), (TRIM_AND_FILL, _filled_row)):
        least = SMALL_STUDY_MINIMUM[test]
        if k < least:
            rows.append({"test": test, "note": f"not computed: {k} estimate(s), {least} needed"})
        else:
            rows.append({"test": test, **compute(fit)})
    return rows


def _egger_row(fit: RandomEffectsResult) -> dict:
    egger = egger_test(fit)
    return {
        "statistic": egger.statistic,
        "df": egger.df,
        "pval": egger.pval,
        "estimate": egger.limit_estimate,
        "ci_low": egger.limit_ci_low,
        "ci_high": egger.limit_ci_high,
    }


def _rank_row(fit: RandomEffectsResult) -> dict:
    tau, rank_p = rank_correlation_test(fit.yi, fit.vi)
    return {"statistic": tau, "pval": rank_p}


def _filled_row(fit: RandomEffectsResult) -> dict:
    filled = trim_and_fill(fit)
    return {
        "k0": filled.k0,
        "side": filled.side,
        "estimate": filled.filled.estimate,
        "ci_low": filled.filled.ci_low,
        "ci_high": filled.filled.ci_high,
    }


def crossover_correlation_sensitivity(
    tables: Mapping[str, pd.DataFrame],
    rules: ComparisonRules,
    correlations: Sequence[float | None],
    pooling: Pooling,
    protocol: Protocol,
) -> pd.DataFrame:
    """The overall pooled SMD of the primary window and set for each within-person correlation.

    ``None`` stands for the parallel-group analysis of crossover trials, which keeps every
    crossover trial (PROTOCOL.md §8). Columns: ``crossover_correlation, k, trials,
    crossover_comparisons, estimate, ci_low, ci_high, tau2, i2, dependence``; one estimate per
    trial is pooled (:func:`fit_trials`).
    """
    rows = []
    for r in correlations:
        by_study = _rerun(tables, replace(rules, crossover_correlation=r), protocol)
        fit, counts = fit_trials(by_study, pooling)
        rows.append(
            {
                "crossover_correlation": r,
                "k": counts["k"],
                "trials": counts["trials"],
                "crossover_comparisons": int((by_study["design"] == "crossover").sum()),
                "estimate": fit.estimate,
                "ci_low": fit.ci_low,
                "ci_high": fit.ci_high,
                "tau2": fit.tau2,
                "i2": fit.i2,
                "dependence": counts["dependence"],
            }
        )
    return pd.DataFrame(rows)


def _effects(tables: Mapping[str, pd.DataFrame], rules: ComparisonRules) -> pd.DataFrame:
    """Every comparison's effect size, recomputed from the package under ``rules``."""
    effects, _ = build_effect_sizes(
        tables["studies"], tables["arms"], tables["outcomes"], tables["contrasts"], rules
    )
    return effects


def _rerun(
    tables: Mapping[str, pd.DataFrame], rules: ComparisonRules, protocol: Protocol
) -> pd.DataFrame:
    """The primary SMD comparisons recomputed from the package under other rules or set."""
    return select_smd_at(_effects(tables, rules), protocol)


ANALYSIS_SET_COLUMNS = [
    "analysis",
    "k",
    "trials",
    "n",
    "estimate",
    "ci_low",
    "ci_high",
    "pi_low",
    "pi_high",
    "tau2",
    "i2",
    "method",
    "test",
    "studies",
    "analysis_set",
    "rules",
    "dependence",
    "display",
    "pi_note",
]


def analysis_set_sensitivity(
    tables: Mapping[str, pd.DataFrame],
    rules: ComparisonRules,
    protocol: Protocol,
    sets: Sequence[Mapping],
    pooling: Pooling,
) -> pd.DataFrame:
    """The primary SMD analysis rerun in each pre-specified sensitivity set (PROTOCOL.md §16).

    The first row is the primary analysis. Each entry of ``sets`` has a ``name``, optionally
    ``set`` (analysis-set keys replacing the primary ones) and ``rules`` (comparison rules
    replacing the primary ones). A set that leaves no comparison gets a row with k = 0. One
    estimate per trial is pooled (:func:`fit_trials`), and ``display`` / ``pi_note`` apply
    the minimum-information rule (:func:`with_display`).
    """
    # Most sets change only the analysis set: their comparisons are built once per rule set.
    effects_by_rules: dict[str, pd.DataFrame] = {}

    def effects_under(changed: ComparisonRules) -> pd.DataFrame:
        # Keyed by the rules' repr: config lists make the rules themselves unhashable.
        key = repr(changed)
        if key not in effects_by_rules:
            effects_by_rules[key] = _effects(tables, changed)
        return effects_by_rules[key]

    rows = [_set_row("primary analysis", effects_under(rules), protocol, pooling, {})]
    for entry in sets:
        changed = replace(rules, **entry.get("rules", {}))
        chosen = protocol.with_set(
            AnalysisSet.from_config(entry.get("set", {}), protocol.analysis_set)
        )
        rows.append(
            _set_row(entry["name"], effects_under(changed), chosen, pooling, entry.get("rules", {}))
        )
    return with_display(pd.DataFrame(rows, columns=ANALYSIS_SET_COLUMNS), pooling)


def _set_row(
    name: str,
    effects: pd.DataFrame,
    protocol: Protocol,
    pooling: Pooling,
    rule_changes: Mapping,
) -> dict:
    described = {
        "analysis": name,
        "analysis_set": protocol.analysis_set.describe(),
        "rules": "; ".join(f"{k}: {v}" for k, v in rule_changes.items()),
        "method": pooling.model.method,
    }
    try:
        by_study = select_smd_at(effects, protocol)
    except ValueError:
        return described | {"k": 0, "trials": 0}
    fit, counts = fit_trials(by_study, pooling)
    return (
        described
        | counts
        | {
            "n": float(by_study["n_total"].sum()),
            "estimate": fit.estimate,
            "ci_low": fit.ci_low,
            "ci_high": fit.ci_high,
            "pi_low": fit.pi_low,
            "pi_high": fit.pi_high,
            "tau2": fit.tau2,
            "i2": fit.i2,
            "test": fit.test,
            "studies": ";".join(sorted(set(by_study[TRIAL]))),
        }
    )


HEAD_TO_HEAD_COLUMNS = [
    "evidence",
    "study_id",
    "outcome",
    "measure",
    "k",
    "estimate",
    "ci_low",
    "ci_high",
    "pval",
    "n_racemic",
    "n_esketamine",
    "note",
    "trials",
    "dependence",
]


def head_to_head_pairs(
    tables: Mapping[str, pd.DataFrame], rules: ComparisonRules, protocol: Protocol
) -> pd.DataFrame:
    """Each trial's racemic-against-esketamine comparisons in the primary window (§12).

    Effect sizes of racemic ketamine (as treatment) against esketamine (as control) from the
    trial's own arms, Hedges' g of the depression score and the log risk ratio of response,
    the comparison nearest the primary timepoint in its window; positive favours racemic.
    """
    within_rules = replace(
        rules, treatment_drugs=("racemic_ketamine",), control_drugs=("esketamine",)
    )
    effects, _ = build_effect_sizes(
        tables["studies"], tables["arms"], tables["outcomes"], tables["contrasts"], within_rules
    )
    selected = [
        nearest_in_window(
            effects[(effects["outcome"] == outcome) & (effects["measure"] == measure)],
            protocol.primary_window,
            ["comparison_id"],
        )
        for outcome, measure in (("depression_score", "SMD"), ("response", "logRR"))
    ]
    return pd.concat(selected, ignore_index=True)


def enantiomer_head_to_head(
    tables: Mapping[str, pd.DataFrame],
    rules: ComparisonRules,
    protocol: Protocol,
    by_study: pd.DataFrame,
    pooling: Pooling,
) -> pd.DataFrame:
    """Racemic ketamine against esketamine in the primary window, within and between trials.

    - **Within trial** (PROTOCOL.md §12): each trial that randomized both enantiomers gives
      Hedges' g of racemic against esketamine (positive favours racemic) from its own arms
      (:func:`head_to_head_pairs`), with the Wald CI of the single trial at the model's
      level; several such trials are pooled by ``pooling``.
    - **Between trials**: the coefficient of racemic (against esketamine) in the mixed-effects
      meta-regression of the primary comparisons on enantiomer (common tau^2), i.e. the
      difference in pooled g, confounded with population, comparator and era.
    """
    crit = pooling.model.crit()
    rows = []
    for _, r in head_to_head_pairs(tables, rules, protocol).iterrows():
        measure = r["measure"]
        half = crit * np.sqrt(r["vi"])
        rows.append(
            {
                "evidence": "within trial",
                "study_id": r["study_id"],
                "outcome": r["outcome"],
                "measure": "g" if measure == "SMD" else "RR",
                "k": 1,
                "trials": 1,
                **_on_scale(measure, r["yi"], r["yi"] - half, r["yi"] + half),
                "pval": float(2 * norm_sf(abs(r["yi"]) / np.sqrt(r["vi"]))),
                "n_racemic": r["n_treat"],
                "n_esketamine": r["n_ctrl"],
                "note": f"{r['label']} against esketamine at {r['timepoint_h']:g} h, "
                f"{r['scale']} {r['value_type'] if measure == 'SMD' else 'response'}",
            }
        )
    rows.append(_between_trial_difference(by_study, pooling))
    return pd.DataFrame(rows, columns=HEAD_TO_HEAD_COLUMNS)


def _on_scale(measure: str, estimate: float, low: float, high: float) -> dict:
    """Estimate and CI, exponentiated for a log risk ratio."""
    values = np.exp([estimate, low, high]) if measure == "logRR" else [estimate, low, high]
    return dict(zip(("estimate", "ci_low", "ci_high"), map(float, values), strict=True))


def _between_trial_difference(by_study: pd.DataFrame, pooling: Pooling) -> dict:
    two = by_study[by_study["enantiomer"].isin(["racemic", "esketamine"])]
    # One estimate per trial and enantiomer (PROTOCOL.md §11).
    means = trial_means(two, within=["enantiomer"])
    base = {
        "evidence": "between trials (subgroup difference)",
        "study_id": "",
        "outcome": "depression_score",
        "measure": "difference in g",
        "k": len(two),
        "trials": two[TRIAL].nunique(),
        "dependence": trial_dependence(means),
    }
    if two["enantiomer"].nunique() < 2 or len(means) < 3:
        return base | {"note": "fewer than two enantiomers or three trials"}
    racemic = (means["enantiomer"] == "racemic").astype(float).to_numpy()
    fit = meta_regression(
        means["yi"],
        means["vi"],
        np.column_stack([np.ones(len(means)), racemic]),
        ["esketamine", "racemic minus esketamine"],
        **pooling.model.arguments,
    )
    coef = fit.coefficients.set_index("term").loc["racemic minus esketamine"]
    return base | {
        "estimate": coef["estimate"],
        "ci_low": coef["ci_low"],
        "ci_high": coef["ci_high"],
        "pval": coef["pval"],
        "n_racemic": float(two.loc[two["enantiomer"] == "racemic", "n_total"].sum()),
        "n_esketamine": float(two.loc[two["enantiomer"] == "esketamine", "n_total"].sum()),
        "note": "mixed-effects meta-regression on enantiomer (common tau^2) of the primary "
        "comparisons; different trials, populations, routes and controls",
    }
