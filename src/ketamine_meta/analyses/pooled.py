"""The named analyses of the pipeline, composed from effect sizes and the statistics engine.

Each function takes validated tables or effect sizes and the ``pooling`` block of the
configuration and returns a results table; the statistics themselves live in
:mod:`ketamine_meta.stats.meta_analysis`, :mod:`ketamine_meta.stats.meta_regression`,
:mod:`ketamine_meta.stats.sensitivity` and :mod:`ketamine_meta.stats.publication_bias`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special

from ketamine_meta.analyses.comparisons import (
    CONTROL_TYPE,
    ENANTIOMER,
    ComparisonRules,
    build_effect_sizes,
)
from ketamine_meta.analyses.protocol import (
    AnalysisSet,
    Protocol,
    Window,
    model_options,
    nearest_in_window,
    select_comparisons,
)
from ketamine_meta.stats.distributions import norm_ppf, norm_sf, t_ppf
from ketamine_meta.stats.effect_sizes import (
    inverse_freeman_tukey,
    log_risk_ratio,
    proportion_freeman_tukey,
    proportion_logit,
)
from ketamine_meta.stats.meta_analysis import (
    OVERALL_LABEL,
    RandomEffectsResult,
    combine_within_clusters,
    dependence_note,
    pool_by_subgroup,
    random_effects,
    subgroup_difference_test,
    tau2_confidence_interval,
)
from ketamine_meta.stats.meta_regression import meta_regression, subgroups_common_tau2
from ketamine_meta.stats.publication_bias import egger_test, rank_correlation_test, trim_and_fill
from ketamine_meta.stats.sensitivity import cumulative, influence, leave_one_out


def select_smd_at(effects: pd.DataFrame, protocol: Protocol) -> pd.DataFrame:
    """Depression-score SMDs of the primary window and analysis set (see :func:`select_at`)."""
    return select_at(effects, "depression_score", "SMD", protocol)


def select_at(
    effects: pd.DataFrame, outcome: str, measure: str, protocol: Protocol
) -> pd.DataFrame:
    """One row per comparison of ``outcome`` and ``measure`` in the primary window and set.

    See :func:`~ketamine_meta.analyses.protocol.select_comparisons` (PROTOCOL.md §6-§10).

    Raises
    ------
    ValueError
        If no comparison is left to pool.
    """
    return select_comparisons(
        effects, outcome, measure, protocol.primary_window, protocol.analysis_set
    )


#: The column naming a comparison's trial: every pooled estimate counts these (PROTOCOL.md §11).
TRIAL = "study_id"
#: Defaults of the minimum-information keys of ``pooling`` (PROTOCOL.md §11, §16), for callers
#: whose ``pooling`` predates them.
MIN_TRIALS = 3
PI_MIN_TRIALS = 3
SMALL_STUDY_MIN_TRIALS = 10


def trial_means(rows: pd.DataFrame, within: Sequence[str] = ()) -> pd.DataFrame:
    """The comparisons of each trial (and level of ``within``) combined into one estimate.

    :func:`~ketamine_meta.stats.meta_analysis.combine_within_clusters` on ``study_id`` and the
    ``within`` columns: the unit of analysis is the trial (PROTOCOL.md §11). Columns
    ``study_id``, the ``within`` columns, ``yi``, ``vi``, ``size`` (comparisons combined) and
    ``label`` (the key columns joined by " / "), in order of first appearance.
    """
    keys = [TRIAL, *within]
    labels = rows[keys].astype(str).agg(" / ".join, axis=1)
    means = combine_within_clusters(rows["yi"], rows["vi"], labels)
    first = rows[keys].set_axis(labels).groupby(level=0, sort=False).first()
    return (
        first.loc[means.cluster]
        .rename_axis("label")
        .reset_index()
        .assign(yi=means.yi, vi=means.vi, size=means.size)
    )


def trial_dependence(means: pd.DataFrame) -> str:
    """:func:`~ketamine_meta.stats.meta_analysis.dependence_note` of :func:`trial_means`."""
    return dependence_note(means["label"], means["size"])


def per_trial(by_study: pd.DataFrame) -> pd.DataFrame:
    """One row per trial: its comparisons combined (:func:`trial_means`), first year, total n.

    Columns ``study_id, yi, vi, year, n_total, comparisons`` (the comparison ids, ``;``-joined),
    in order of first appearance. The input of every per-trial sensitivity analysis
    (leave-one-out, influence, cumulative, heterogeneity, small-study tests).
    """
    means = trial_means(by_study)
    grouped = by_study.groupby(TRIAL, sort=False)
    trials = means[TRIAL]
    return pd.DataFrame(
        {
            TRIAL: trials,
            "yi": means["yi"],
            "vi": means["vi"],
            "year": grouped["year"].min().loc[trials].to_numpy(),
            "n_total": grouped["n_total"].sum().loc[trials].to_numpy(),
            "comparisons": grouped["comparison_id"].agg(";".join).loc[trials].to_numpy(),
        }
    )


def fit_trials(rows: pd.DataFrame, pooling: Mapping) -> tuple[RandomEffectsResult, dict]:
    """The ``pooling`` model fitted to one estimate per trial of ``rows``.

    Returns the fit and the counts a pooled table reports beside it: ``k`` (comparisons),
    ``trials`` and ``dependence`` (:func:`~ketamine_meta.stats.meta_analysis.dependence_note`).
    """
    means = trial_means(rows)
    fit = random_effects(means["yi"], means["vi"], **model_options(pooling))
    return fit, {"k": len(rows), "trials": fit.k, "dependence": trial_dependence(means)}


def display_columns(trials: pd.Series, tau2: pd.Series, pooling: Mapping) -> pd.DataFrame:
    """``display`` and ``pi_note`` of pooled rows: the minimum-information rule (PROTOCOL.md §11).

    - ``display`` is empty where the estimate rests on at least ``pooling.min_trials`` trials
      (an answer), else "too few trials (2 of 3): ..." (show the trial-level results instead).
    - ``pi_note`` is empty where a prediction interval is printed: at least
      ``pooling.pi_min_trials`` trials and tau^2 > 0; else it says why there is none.
    """
    least = int(pooling.get("min_trials", MIN_TRIALS))
    least_pi = int(pooling.get("pi_min_trials", PI_MIN_TRIALS))
    trials = trials.astype(float)
    display = np.where(
        trials < least,
        [f"too few trials ({t:g} of {least}): see the trial-level results" for t in trials],
        "",
    )
    pi_note = np.select(
        [trials < least_pi, tau2.astype(float) <= 0],
        [f"fewer than {least_pi} trials: no prediction interval", "tau² = 0: the PI equals the CI"],
        "",
    )
    return pd.DataFrame({"display": display, "pi_note": pi_note}, index=trials.index)


def with_display(table: pd.DataFrame, pooling: Mapping) -> pd.DataFrame:
    """``table`` with :func:`display_columns`, its PI emptied where ``pi_note`` says why.

    Rows without a pooled estimate (the test for subgroup differences, a sensitivity set left
    without trials) get neither.
    """
    estimated = table["trials"].fillna(0) > 0
    notes = display_columns(table.loc[estimated, "trials"], table.loc[estimated, "tau2"], pooling)
    out = table.assign(display="", pi_note="")
    out.loc[estimated, ["display", "pi_note"]] = notes
    out.loc[out["pi_note"] != "", ["pi_low", "pi_high"]] = np.nan
    return out


def _analysis_name(pooling: Mapping) -> str:
    return f"smd_depression_{float(pooling['timepoint_h']):g}h"


def pool_smd_by(by_study: pd.DataFrame, by: str, pooling: Mapping) -> pd.DataFrame:
    """Pool Hedges' g per level of ``by`` (route, enantiomer) and overall, one estimate per trial.

    The ``analysis`` column reads ``smd_depression_{t}h`` with ``t`` the timepoint in hours;
    ``k`` counts comparisons, ``trials`` trials (PROTOCOL.md §11), and ``display`` /
    ``pi_note`` apply the minimum-information rule (:func:`with_display`).
    """
    table, _, _ = pool_by_subgroup(
        by_study, by=by, analysis=_analysis_name(pooling), cluster=TRIAL, **model_options(pooling)
    )
    table = table.assign(controls=_controls_per_subgroup(by_study, by, table["subgroup"]))
    return with_display(table, pooling)


def _controls_per_subgroup(by_study: pd.DataFrame, by: str, subgroups: pd.Series) -> list[str]:
    """The control types pooled in each row of a subgroup table (PROTOCOL.md §7)."""

    def named(rows: pd.DataFrame) -> str:
        return "; ".join(sorted(rows["control_type"].dropna().unique()))

    per_level = {level: named(rows) for level, rows in by_study.groupby(by)}
    return [per_level.get(s, named(by_study) if s == OVERALL_LABEL else "") for s in subgroups]


def pool_smd_by_route(by_study: pd.DataFrame, pooling: Mapping) -> pd.DataFrame:
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
    by_study: pd.DataFrame, moderators: Sequence[str], pooling: Mapping
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
            by_study, by=moderator, analysis="", cluster=TRIAL, **model_options(pooling)
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
            means["yi"], means["vi"], means[moderator], **model_options(pooling)
        )
        rows.append(
            counts
            | {
                "tau2_model": "common",
                "statistic": common.qm,
                "df": common.qm_df,
                "df2": common.qm_df2,
                "pval": common.qm_p,
                "test": "F" if pooling["test"] != "z" else "chi2",
            }
        )
    return pd.DataFrame(rows, columns=SUBGROUP_TEST_COLUMNS)


def leave_one_out_table(by_study: pd.DataFrame, pooling: Mapping) -> pd.DataFrame:
    """Leave-one-out pooled estimates, one row per omitted trial (with all its comparisons)."""
    trials = per_trial(by_study)
    table = leave_one_out(trials["yi"], trials["vi"], trials[TRIAL], **model_options(pooling))
    return table.assign(comparisons=trials["comparisons"])


def influence_table(by_study: pd.DataFrame, pooling: Mapping) -> pd.DataFrame:
    """Influence diagnostics of each trial (metafor ``influence``), its comparisons combined."""
    model = model_options(pooling)
    model.pop("level")
    trials = per_trial(by_study)
    table = influence(trials["yi"], trials["vi"], trials[TRIAL], **model)
    return table.assign(comparisons=trials["comparisons"])


def cumulative_table(by_study: pd.DataFrame, pooling: Mapping) -> pd.DataFrame:
    """Cumulative meta-analysis of trials by year of publication (ties in input order)."""
    trials = per_trial(by_study)
    table = cumulative(
        trials["yi"], trials["vi"], trials["year"], trials[TRIAL], **model_options(pooling)
    )
    years = dict(zip(trials[TRIAL], trials["year"], strict=True))
    table.insert(1, "year", table["added"].map(years))
    return table


def heterogeneity_table(by_study: pd.DataFrame, pooling: Mapping) -> pd.DataFrame:
    """tau^2, tau, I^2 and H^2 over trials with Q-profile confidence intervals, overall."""
    trials = per_trial(by_study)
    ci = tau2_confidence_interval(trials["yi"], trials["vi"], pooling["method"], pooling["level"])
    return pd.DataFrame(
        [
            {
                "statistic": name,
                "estimate": ci[name],
                "ci_low": ci[f"{name}_low"],
                "ci_high": ci[f"{name}_high"],
            }
            for name in ("tau2", "tau", "i2", "h2")
        ]
    ).assign(method=pooling["method"], ci_method="Q-profile", trials=len(trials))


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


def publication_bias_table(by_study: pd.DataFrame, pooling: Mapping) -> pd.DataFrame:
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
    least = int(pooling.get("small_study_min_trials", SMALL_STUDY_MIN_TRIALS))
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
        | {"level": level, "k": len(data), "trials": len(trials), "note": note}
        | {"dependence": dependence}
        for level, data, dependence in levels
        for row in _small_study_tests(data["yi"], data["vi"], pooling)
    ]
    return pd.DataFrame(rows, columns=PUBLICATION_BIAS_COLUMNS)


def _small_study_tests(y: pd.Series, v: pd.Series, pooling: Mapping) -> list[dict]:
    egger = egger_test(y, v, pooling["method"], pooling["test"], pooling["level"])
    tau, rank_p = rank_correlation_test(y, v)
    filled = trim_and_fill(y, v, pooling["method"], pooling["test"])
    return [
        {
            "test": "Egger regression (sei)",
            "statistic": egger.statistic,
            "df": egger.df,
            "pval": egger.pval,
            "estimate": egger.limit_estimate,
            "ci_low": egger.limit_ci_low,
            "ci_high": egger.limit_ci_high,
        },
        {"test": "Begg rank correlation (Kendall tau)", "statistic": tau, "pval": rank_p},
        {
            "test": "trim-and-fill (L0)",
            "k0": filled.k0,
            "side": filled.side,
            "estimate": filled.filled.estimate,
            "ci_low": filled.filled.ci_low,
            "ci_high": filled.filled.ci_high,
        },
    ]


def crossover_correlation_sensitivity(
    tables: Mapping[str, pd.DataFrame],
    rules: ComparisonRules,
    correlations: Sequence[float | None],
    pooling: Mapping,
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


def _rerun(
    tables: Mapping[str, pd.DataFrame], rules: ComparisonRules, protocol: Protocol
) -> pd.DataFrame:
    """The primary SMD comparisons recomputed from the package under other rules or set."""
    effects, _ = build_effect_sizes(
        tables["studies"], tables["arms"], tables["outcomes"], tables["contrasts"], rules
    )
    return select_smd_at(effects, protocol)


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
    pooling: Mapping,
) -> pd.DataFrame:
    """The primary SMD analysis rerun in each pre-specified sensitivity set (PROTOCOL.md §16).

    The first row is the primary analysis. Each entry of ``sets`` has a ``name``, optionally
    ``set`` (analysis-set keys replacing the primary ones) and ``rules`` (comparison rules
    replacing the primary ones). A set that leaves no comparison gets a row with k = 0. One
    estimate per trial is pooled (:func:`fit_trials`), and ``display`` / ``pi_note`` apply
    the minimum-information rule (:func:`with_display`).
    """
    rows = [_set_row("primary analysis", tables, rules, protocol, pooling, {})]
    for entry in sets:
        changed = replace(rules, **entry.get("rules", {}))
        chosen = protocol.with_set(
            AnalysisSet.from_config(entry.get("set", {}), protocol.analysis_set)
        )
        rows.append(
            _set_row(entry["name"], tables, changed, chosen, pooling, entry.get("rules", {}))
        )
    return with_display(pd.DataFrame(rows, columns=ANALYSIS_SET_COLUMNS), pooling)


def _set_row(
    name: str,
    tables: Mapping[str, pd.DataFrame],
    rules: ComparisonRules,
    protocol: Protocol,
    pooling: Mapping,
    rule_changes: Mapping,
) -> dict:
    described = {
        "analysis": name,
        "analysis_set": protocol.analysis_set.describe(),
        "rules": "; ".join(f"{k}: {v}" for k, v in rule_changes.items()),
        "method": pooling["method"],
    }
    try:
        by_study = _rerun(tables, rules, protocol)
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
    pooling: Mapping,
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
    events: ArrayLike, n: ArrayLike, pooling: Mapping, measure: str = "PLO"
) -> tuple[RandomEffectsResult, np.ndarray]:
    """Random-effects pooled proportion, back-transformed: estimate, CI and PI bounds.

    ``measure`` ``"PLO"`` pools logits (back-transformed by the logistic function), ``"PFT"``
    Freeman-Tukey values (back-transformed by Miller's formula at the harmonic mean n).
    """
    n = np.asarray(n, dtype=float)
    transform = proportion_logit if measure == "PLO" else proportion_freeman_tukey
    fit = random_effects(*transform(events, n), **model_options(pooling))
    pooled = np.array([fit.estimate, fit.ci_low, fit.ci_high, fit.pi_low, fit.pi_high])
    back = special.expit(pooled) if measure == "PLO" else inverse_freeman_tukey(pooled, n)
    return fit, back


def _pool_proportions(
    rows: pd.DataFrame,
    arms: pd.DataFrame,
    pooling: Mapping,
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
                "method": pooling["method"],
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
    pooling: Mapping,
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


def pool_rr_by(by_study: pd.DataFrame, by: str, pooling: Mapping, outcome: str) -> pd.DataFrame:
    """Pool log risk ratios per level of ``by`` and overall (table on the log scale).

    One estimate per trial, with ``display`` and ``pi_note`` as :func:`pool_smd_by`.
    """
    analysis = f"log_rr_{outcome}_{float(pooling['timepoint_h']):g}h"
    table, _, _ = pool_by_subgroup(
        by_study, by=by, analysis=analysis, cluster=TRIAL, **model_options(pooling)
    )
    return with_display(table, pooling)


#: Screening reasons, grouped for the flow diagram by their leading words.
EXCLUSION_GROUPS = [
    ("not randomized", "not randomized"),
    ("not depression", "not a depressive episode"),
    ("children", "children or adolescents"),
    ("adolescents", "children or adolescents"),
    ("duplicate", "duplicate or secondary report"),
    ("secondary", "duplicate or secondary report"),
    ("registry record without results", "no results published"),
    ("protocol", "no results published"),
]


def prisma_counts(
    screening: pd.DataFrame, studies: pd.DataFrame, by_study: pd.DataFrame, relapse: pd.DataFrame
) -> tuple[dict[str, int], dict[str, int]]:
    """Counts of the flow diagram, and exclusions grouped by reason (:data:`EXCLUSION_GROUPS`).

    A candidate counts as included if any of its records says include, else by its last
    record's decision (a later screening record settles an earlier "unclear"). Every trial of
    ``studies`` counts as included whatever the log says: the counts are derived from the
    package, so a trial entered without its screening record is still in the flow (and
    ``validate`` names it, :mod:`ketamine_meta.evidence.completeness`).
    """
    decided = screening.groupby("candidate_id").agg(
        decision=("decision", lambda d: "include" if (d == "include").any() else d.iloc[-1]),
        reason=("reason", "last"),
    )
    in_package = set(studies["study_id"])
    included = set(decided.index[decided["decision"] == "include"]) | in_package
    undecided = decided[~decided.index.isin(in_package)]
    counts = {
        "records": len(screening),
        "candidates": len(set(decided.index) | in_package),
        "excluded": int((undecided["decision"] == "exclude").sum()),
        "unclear": int((undecided["decision"] == "unclear").sum()),
        "included": len(included),
        "extracted": len(in_package),
        "to_extract": len(included - in_package),
        "in_primary": by_study["study_id"].nunique(),
        "with_relapse": relapse["study_id"].nunique(),
    }
    reasons: dict[str, int] = {}
    for reason in undecided.loc[undecided["decision"] == "exclude", "reason"].fillna(""):
        group = next((g for key, g in EXCLUSION_GROUPS if key in reason.lower()), "other")
        reasons[group] = reasons.get(group, 0) + 1
    return counts, dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))


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
    adverse_events: pd.DataFrame, arms: pd.DataFrame, events: Sequence[str], pooling: Mapping
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


def bioavailability_by_route(bioavailability: pd.DataFrame, reference_mg: float) -> pd.DataFrame:
    """The bioavailability used per route and enantiomer, and the dose equal to ``reference_mg`` IV.

    The value used is the median over cohorts of each cohort's median point estimate, so that
    a source reporting several rows (formulations, doses) counts once, and so do two sources
    reporting one cohort (``cohort``; empty: the source is its own cohort). The IV reference
    is 100% by definition; ``low`` and ``high`` span every point estimate and reported range.
    ``sources`` counts sources, ``cohorts`` the participant cohorts behind them. Routes without
    a point estimate get none.
    """
    rows = []
    for (route, enantiomer), group in bioavailability.groupby(["route", "enantiomer"], sort=True):
        points = group["bioavailability_pct"].dropna()
        if points.empty:
            continue
        spread = pd.concat([points, group["range_low_pct"], group["range_high_pct"]]).dropna()
        with_points = group.dropna(subset=["bioavailability_pct"])
        cohort = with_points["cohort"].fillna(with_points["source_id"])
        used = float(with_points.groupby(cohort)["bioavailability_pct"].median().median()) / 100
        rows.append(
            {
                "route": route,
                "enantiomer": enantiomer,
                "bioavailability": used,
                "low": float(spread.min()) / 100,
                "high": float(spread.max()) / 100,
                "sources": group["source_id"].nunique(),
                "cohorts": group["cohort"].fillna(group["source_id"]).nunique(),
                "equivalent_dose_mg": reference_mg / used,
            }
        )
    return pd.DataFrame(rows)


def iv_equivalent_doses(
    by_study: pd.DataFrame, routes: pd.DataFrame, body_weight_kg: float
) -> pd.DataFrame:
    """Each comparison's drug dose as IV-equivalent mg/kg: dose x bioavailability.

    A dose in mg is divided by ``body_weight_kg``. The bioavailability is that of the route for
    the arm's enantiomer, else for racemic ketamine by the same route; no potency conversion
    between enantiomers is made. Comparisons whose route has no bioavailability get NaN.
    """
    lookup = routes.set_index(["route", "enantiomer"])["bioavailability"]

    def fraction(route: str, enantiomer: str) -> float:
        for key in ((route, enantiomer), (route, "racemic")):
            if key in lookup.index:
                return float(lookup.loc[key])
        return float("nan")

    f = [fraction(r, e) for r, e in zip(by_study["route"], by_study["enantiomer"], strict=True)]
    dose = by_study["dose_treat"].astype(float)
    per_kg = np.where(by_study["dose_unit_treat"] == "mg_per_kg", dose, dose / body_weight_kg)
    out = by_study[["study_id", "comparison_id", "label", "route", "enantiomer", "yi", "vi"]].copy()
    out["dose_mg_per_kg"] = per_kg
    out["bioavailability"] = f
    out["iv_equivalent_mg_per_kg"] = per_kg * np.asarray(f)
    return out


def dose_response(doses: pd.DataFrame, pooling: Mapping) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Meta-regression of g on IV-equivalent mg/kg; coefficients and the fitted line with CI.

    Returns the coefficient table (plus ``k``, ``trials``, ``tau2``, ``r2``, ``qm``, ``qm_p``
    and ``dependence`` on each row) and a grid of predictions over the observed dose range.
    The one pooled analysis that keeps a trial's dose arms apart, since the dose is its
    covariate: their shared control is split (PROTOCOL.md §8, §11) and ``dependence`` says so.
    """
    rows = doses.dropna(subset=["iv_equivalent_mg_per_kg"])
    x = np.column_stack([np.ones(len(rows)), rows["iv_equivalent_mg_per_kg"]])
    fit = meta_regression(
        rows["yi"],
        rows["vi"],
        x,
        ["intercept", "iv_equivalent_mg_per_kg"],
        **model_options(pooling),
    )
    arms_per_trial = rows.groupby(TRIAL, sort=True).size()
    dependence = "; ".join(
        f"{trial}: {count} dose arms kept apart (shared control split), treated as independent"
        for trial, count in arms_per_trial.items()
        if count > 1
    )
    table = fit.coefficients.assign(
        k=fit.k,
        trials=len(arms_per_trial),
        tau2=fit.tau2,
        r2=fit.r2,
        qm=fit.qm,
        qm_p=fit.qm_p,
        test=fit.test,
        dependence=dependence,
    )
    grid = np.linspace(
        rows["iv_equivalent_mg_per_kg"].min(), rows["iv_equivalent_mg_per_kg"].max(), 50
    )
    design = np.column_stack([np.ones(grid.size), grid])
    estimate = design @ fit.coefficients["estimate"].to_numpy()
    se = np.sqrt(np.einsum("ij,jk,ik->i", design, fit.vcov, design))
    crit = (
        t_ppf(0.5 + pooling["level"] / 2, fit.k - fit.p)
        if fit.test != "z"
        else norm_ppf(0.5 + pooling["level"] / 2)
    )
    line = pd.DataFrame(
        {
            "dose": grid,
            "estimate": estimate,
            "ci_low": estimate - crit * se,
            "ci_high": estimate + crit * se,
        }
    )
    return table, line


def cost_per_responder(response_rates: pd.DataFrame, costs: Sequence[Mapping]) -> pd.DataFrame:
    """Course cost divided by the pooled response proportion of the matching arm type.

    The interval divides the cost by the proportion's CI bounds (upper bound of the cost from
    the lower bound of the proportion). Access routes whose arm type has no pooled proportion
    get NaN. ``k``, ``trials``, ``dependence`` and ``display`` are the proportion's
    (:func:`pooled_response_rates`).
    """
    rates = response_rates.set_index("arm_type")
    rows = []
    for entry in costs:
        rate = rates.loc[entry["arm_type"]] if entry["arm_type"] in rates.index else None
        p = (
            (rate["proportion"], rate["ci_low"], rate["ci_high"])
            if rate is not None
            else (np.nan,) * 3
        )
        rows.append(
            {
                "access_route": entry["access_route"],
                "arm_type": entry["arm_type"],
                "course_cost_usd": entry["course_cost_usd"],
                "claims": ";".join(entry["claims"]),
                "response_proportion": p[0],
                "k": rate["k"] if rate is not None else 0,
                "trials": rate["trials"] if rate is not None else 0,
                "dependence": rate["dependence"] if rate is not None else "",
                "display": rate["display"] if rate is not None else "",
                "cost_per_responder": entry["course_cost_usd"] / p[0],
                "cost_per_responder_low": entry["course_cost_usd"] / p[2],
                "cost_per_responder_high": entry["course_cost_usd"] / p[1],
            }
        )
    return pd.DataFrame(rows)


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


def enantiomer_head_to_head(
    tables: Mapping[str, pd.DataFrame],
    rules: ComparisonRules,
    protocol: Protocol,
    by_study: pd.DataFrame,
    pooling: Mapping,
) -> pd.DataFrame:
    """Racemic ketamine against esketamine in the primary window, within and between trials.

    - **Within trial** (PROTOCOL.md §12): each trial that randomized both enantiomers gives
      Hedges' g of racemic against esketamine (positive favours racemic) from its own arms,
      with the Wald CI of the single trial; several such trials are pooled by ``pooling``.
    - **Between trials**: the coefficient of racemic (against esketamine) in the mixed-effects
      meta-regression of the primary comparisons on enantiomer (common tau^2), i.e. the
      difference in pooled g, confounded with population, comparator and era.
    """
    crit = norm_ppf(0.5 + pooling["level"] / 2)
    within_rules = replace(
        rules, treatment_drugs=("racemic_ketamine",), control_drugs=("esketamine",)
    )
    effects, _ = build_effect_sizes(
        tables["studies"], tables["arms"], tables["outcomes"], tables["contrasts"], within_rules
    )
    rows = []
    for outcome, measure in (("depression_score", "SMD"), ("response", "logRR")):
        pairs = effects[(effects["outcome"] == outcome) & (effects["measure"] == measure)]
        pairs = nearest_in_window(pairs, protocol.primary_window, ["comparison_id"])
        for _, r in pairs.iterrows():
            half = crit * np.sqrt(r["vi"])
            rows.append(
                {
                    "evidence": "within trial",
                    "study_id": r["study_id"],
                    "outcome": outcome,
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


def _between_trial_difference(by_study: pd.DataFrame, pooling: Mapping) -> dict:
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
        **model_options(pooling),
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
