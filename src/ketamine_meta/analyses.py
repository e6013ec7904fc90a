"""The named analyses of the pipeline, composed from effect sizes and the statistics engine.

Each function takes validated tables or effect sizes and the ``pooling`` block of the
configuration and returns a results table; the statistics themselves live in
:mod:`ketamine_meta.meta_analysis`, :mod:`ketamine_meta.meta_regression`,
:mod:`ketamine_meta.sensitivity` and :mod:`ketamine_meta.publication_bias`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
from scipy import special

from ketamine_meta.comparisons import ENANTIOMER, ComparisonRules, build_effect_sizes
from ketamine_meta.effect_sizes import (
    inverse_freeman_tukey,
    proportion_freeman_tukey,
    proportion_logit,
)
from ketamine_meta.meta_analysis import (
    pool_by_subgroup,
    random_effects,
    subgroup_difference_test,
    tau2_confidence_interval,
)
from ketamine_meta.meta_regression import subgroups_common_tau2
from ketamine_meta.publication_bias import egger_test, rank_correlation_test, trim_and_fill
from ketamine_meta.sensitivity import cumulative, influence, leave_one_out


def select_smd_at(effects: pd.DataFrame, timepoint_h: float) -> pd.DataFrame:
    """Rows of depression-score SMDs at ``timepoint_h``, sorted by route, study, comparison.

    Raises
    ------
    ValueError
        If no comparison reports that timepoint.
    """
    rows = effects[
        (effects["measure"] == "SMD")
        & (effects["outcome"] == "depression_score")
        & np.isclose(effects["timepoint_h"].astype(float), timepoint_h)
    ]
    if rows.empty:
        raise ValueError(f"no depression-score comparison at {timepoint_h:g} h to pool")
    return rows.sort_values(["route", "study_id", "comparison_id"], kind="stable").reset_index(
        drop=True
    )


def _analysis_name(pooling: Mapping) -> str:
    return f"smd_depression_{float(pooling['timepoint_h']):g}h"


def _model(pooling: Mapping) -> dict:
    return {"method": pooling["method"], "test": pooling["test"], "level": pooling["level"]}


def pool_smd_by(by_study: pd.DataFrame, by: str, pooling: Mapping) -> pd.DataFrame:
    """Pool Hedges' g per level of ``by`` (route, enantiomer) and overall.

    The ``analysis`` column reads ``smd_depression_{t}h`` with ``t`` the timepoint in hours.
    """
    table, _, _ = pool_by_subgroup(
        by_study, by=by, analysis=_analysis_name(pooling), **_model(pooling)
    )
    return table


def pool_smd_by_route(by_study: pd.DataFrame, pooling: Mapping) -> pd.DataFrame:
    """:func:`pool_smd_by` on ``route``."""
    return pool_smd_by(by_study, "route", pooling)


SUBGROUP_TEST_COLUMNS = [
    "moderator",
    "tau2_model",
    "subgroups",
    "k",
    "statistic",
    "df",
    "df2",
    "pval",
    "test",
]


def subgroup_tests(
    by_study: pd.DataFrame, moderators: Sequence[str], pooling: Mapping
) -> pd.DataFrame:
    """Tests for subgroup differences, with separate and with a common tau^2.

    Separate tau^2: the Q test on the subgroup estimates
    (:func:`~ketamine_meta.meta_analysis.subgroup_difference_test`, chi^2). Common tau^2:
    the omnibus test of the mixed-effects model on subgroup indicators
    (:func:`~ketamine_meta.meta_regression.subgroups_common_tau2`; F with knha). A moderator
    with a single level in the data gets no row.
    """
    rows = []
    for moderator in moderators:
        if by_study[moderator].nunique() < 2:
            continue
        _, fits, _ = pool_by_subgroup(by_study, by=moderator, analysis="", **_model(pooling))
        separate = subgroup_difference_test(fits)
        rows.append(
            {
                "moderator": moderator,
                "tau2_model": "separate",
                "subgroups": len(fits),
                "k": len(by_study),
                "statistic": separate.q,
                "df": separate.df,
                "pval": separate.pval,
                "test": "chi2",
            }
        )
        _, common = subgroups_common_tau2(
            by_study["yi"], by_study["vi"], by_study[moderator], **_model(pooling)
        )
        rows.append(
            {
                "moderator": moderator,
                "tau2_model": "common",
                "subgroups": len(fits),
                "k": len(by_study),
                "statistic": common.qm,
                "df": common.qm_df,
                "df2": common.qm_df2,
                "pval": common.qm_p,
                "test": "F" if pooling["test"] != "z" else "chi2",
            }
        )
    return pd.DataFrame(rows, columns=SUBGROUP_TEST_COLUMNS)


def leave_one_out_table(by_study: pd.DataFrame, pooling: Mapping) -> pd.DataFrame:
    """Leave-one-out pooled estimates, one row per omitted comparison."""
    return leave_one_out(
        by_study["yi"], by_study["vi"], by_study["comparison_id"], **_model(pooling)
    )


def influence_table(by_study: pd.DataFrame, pooling: Mapping) -> pd.DataFrame:
    """Influence diagnostics of each comparison (metafor ``influence``)."""
    model = _model(pooling)
    model.pop("level")
    return influence(by_study["yi"], by_study["vi"], by_study["comparison_id"], **model)


def cumulative_table(by_study: pd.DataFrame, pooling: Mapping) -> pd.DataFrame:
    """Cumulative meta-analysis by year of publication (ties in input order)."""
    table = cumulative(
        by_study["yi"],
        by_study["vi"],
        by_study["year"],
        by_study["comparison_id"],
        **_model(pooling),
    )
    years = dict(zip(by_study["comparison_id"], by_study["year"], strict=True))
    table.insert(1, "year", table["added"].map(years))
    return table


def heterogeneity_table(by_study: pd.DataFrame, pooling: Mapping) -> pd.DataFrame:
    """tau^2, tau, I^2 and H^2 with Q-profile confidence intervals, overall."""
    ci = tau2_confidence_interval(
        by_study["yi"], by_study["vi"], pooling["method"], pooling["level"]
    )
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
    ).assign(method=pooling["method"], ci_method="Q-profile")


def publication_bias_table(by_study: pd.DataFrame, pooling: Mapping) -> pd.DataFrame:
    """Egger's regression test, the rank correlation test and trim-and-fill, one row each.

    Columns ``test, statistic, df, pval, k0, side, estimate, ci_low, ci_high``: for Egger the
    estimate is the limit estimate (the intercept), for trim-and-fill the filled estimate.
    """
    y, v = by_study["yi"], by_study["vi"]
    egger = egger_test(y, v, pooling["method"], pooling["test"], pooling["level"])
    tau, rank_p = rank_correlation_test(y, v)
    filled = trim_and_fill(y, v, pooling["method"], pooling["test"])
    return pd.DataFrame(
        [
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
        ],
        columns=["test", "statistic", "df", "pval", "k0", "side", "estimate", "ci_low", "ci_high"],
    )


def crossover_correlation_sensitivity(
    tables: Mapping[str, pd.DataFrame],
    rules: ComparisonRules,
    correlations: Sequence[float | None],
    pooling: Mapping,
) -> pd.DataFrame:
    """The overall pooled SMD at the primary timepoint for each within-person correlation.

    ``None`` stands for the parallel-group analysis of crossover trials. Columns:
    ``crossover_correlation, k, crossover_comparisons, estimate, ci_low, ci_high, tau2, i2``.
    """
    rows = []
    for r in correlations:
        effects, _ = build_effect_sizes(
            tables["studies"],
            tables["arms"],
            tables["outcomes"],
            tables["contrasts"],
            replace(rules, crossover_correlation=r),
        )
        by_study = select_smd_at(effects, pooling["timepoint_h"])
        fit = random_effects(by_study["yi"], by_study["vi"], **_model(pooling))
        rows.append(
            {
                "crossover_correlation": r,
                "k": fit.k,
                "crossover_comparisons": int((by_study["design"] == "crossover").sum()),
                "estimate": fit.estimate,
                "ci_low": fit.ci_low,
                "ci_high": fit.ci_high,
                "tau2": fit.tau2,
                "i2": fit.i2,
            }
        )
    return pd.DataFrame(rows)


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
]


def arm_types(arms: pd.DataFrame) -> pd.Series:
    """``racemic IV``, ``esketamine IN``, ``placebo (saline)``, ``midazolam``... per arm."""
    active = arms["drug"].map(ENANTIOMER)
    return active.str.cat(arms["route"].fillna("?"), sep=" ").fillna(
        arms["drug"].map(CONTROL_ARM_TYPE)
    )


def pooled_response_rates(
    outcomes: pd.DataFrame,
    arms: pd.DataFrame,
    timepoint_h: float,
    pooling: Mapping,
    measure: str = "PLO",
    outcome: str = "response",
) -> pd.DataFrame:
    r"""Random-effects pooled proportion of responders per arm type at ``timepoint_h``.

    Each arm's proportion enters as a logit (PLO, back-transformed with the logistic
    function) or a Freeman-Tukey double arcsine (PFT, back-transformed by Miller's formula
    at the harmonic mean n); arms whose type is neither an enantiomer by route nor a listed
    control are left out. Where a trial reports several scales, the first in alphabetical
    order is used, so that each arm enters once.

    References
    ----------
    Barendregt, J. J., et al. (2013). Meta-analysis of prevalence. *Journal of Epidemiology
    and Community Health*, 67(11), 974-978. Schwarzer, G., et al. (2019). Seriously
    misleading results using inverse of Freeman-Tukey double arcsine transformation in
    meta-analysis of single proportions. *Research Synthesis Methods*, 10(3), 476-483.
    """
    rows = outcomes[
        (outcomes["outcome"] == outcome)
        & np.isclose(outcomes["timepoint_h"].astype(float), timepoint_h)
        & outcomes["events"].notna()
        & outcomes["n"].notna()
    ]
    rows = rows.sort_values(["study_id", "arm_id", "scale"]).drop_duplicates(["study_id", "arm_id"])
    typed = rows.merge(arms.assign(arm_type=arm_types(arms))[["study_id", "arm_id", "arm_type"]])
    typed = typed[typed["arm_type"].notna()]
    results = []
    for arm_type, group in typed.groupby("arm_type", sort=True):
        events, n = group["events"].astype(float), group["n"].astype(float)
        transform = proportion_logit if measure == "PLO" else proportion_freeman_tukey
        fit = random_effects(*transform(events, n), **_model(pooling))
        pooled = np.array([fit.estimate, fit.ci_low, fit.ci_high, fit.pi_low, fit.pi_high])
        est, low, high, pi_low, pi_high = (
            special.expit(pooled) if measure == "PLO" else inverse_freeman_tukey(pooled, n)
        )
        results.append(
            {
                "outcome": outcome,
                "timepoint_h": timepoint_h,
                "arm_type": arm_type,
                "k": fit.k,
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
    return pd.DataFrame(results, columns=RESPONSE_RATE_COLUMNS)
