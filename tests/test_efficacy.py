"""The efficacy tables of :mod:`ketamine_meta.analyses.efficacy` on the repository's data
package: SMDs pooled over trials with the ad hoc Knapp-Hartung interval, their sensitivity
analyses and small-study tests (issue 19 §1-§2, §7; PROTOCOL.md §11, §16)."""

from __future__ import annotations

import pandas as pd
import pytest
from test_pooling import effects_with

from conftest import POOLING, PROTOCOL, RULE_SETS
from ketamine_meta.analyses import efficacy, pooling
from ketamine_meta.analyses.comparisons import ComparisonRules, build_effect_sizes
from ketamine_meta.analyses.protocol import Pooling, Protocol
from ketamine_meta.stats.distributions import t_ppf
from ketamine_meta.stats.meta_analysis import (
    OVERALL_LABEL,
    SUBGROUP_TEST_LABEL,
    combine_within_clusters,
    random_effects,
)
from ketamine_meta.stats.publication_bias import egger_test

#: Knapp-Hartung without the ad hoc correction, and PROTOCOL.md's windows and analysis set.
KNHA_POOLING = Pooling.from_config({"timepoint_h": 24, "method": "REML", "test": "knha"})
DEFAULT_PROTOCOL = Protocol()


@pytest.fixture(scope="module")
def split_smd(tables):
    frame, _ = build_effect_sizes(
        tables["studies"],
        tables["arms"],
        tables["outcomes"],
        tables["contrasts"],
        RULE_SETS["split"],
    )
    return pooling.select_smd_at(frame, PROTOCOL)


# ---- every pooled table counts trials ------------------------------------------------------


def test_the_split_rule_gives_several_comparisons_of_a_trial_and_says_so(split_smd):
    """Daly 2018 enters with three dose arms against one placebo when arms are split: the
    trial is pooled once, and the row names it (this failed when k counted comparisons)."""
    table = efficacy.pool_smd_by_route(split_smd, POOLING).set_index("subgroup")
    daly = split_smd[split_smd["study_id"] == "Daly2018"]
    assert len(daly) == 3
    assert table.loc[OVERALL_LABEL, "k"] == len(split_smd)
    assert table.loc[OVERALL_LABEL, "trials"] == split_smd["study_id"].nunique()
    assert table.loc[OVERALL_LABEL, "q_df"] == split_smd["study_id"].nunique() - 1
    assert table.loc[OVERALL_LABEL, "dependence"].startswith("Daly2018: 3 comparisons")
    # The model is fitted to one estimate per trial: Daly 2018's three comparisons combined.
    combined = combine_within_clusters(split_smd["yi"], split_smd["vi"], split_smd["study_id"])
    fit = random_effects(combined.yi, combined.vi, **POOLING.model.arguments)
    assert table.loc[OVERALL_LABEL, "estimate"] == pytest.approx(fit.estimate, rel=1e-12)
    assert table.loc[OVERALL_LABEL, "ci_low"] == pytest.approx(fit.ci_low, rel=1e-12)


def test_sensitivity_analyses_leave_out_trials_not_comparisons(split_smd):
    trials = sorted(split_smd["study_id"].unique())
    for table, column in (
        (efficacy.leave_one_out_table(split_smd, POOLING), "omitted"),
        (efficacy.cumulative_table(split_smd, POOLING), "added"),
    ):
        assert sorted(table[column]) == trials
    influence = efficacy.influence_table(split_smd, POOLING)
    assert sorted(influence["study"]) == trials
    heterogeneity = efficacy.heterogeneity_table(split_smd, POOLING)
    assert set(heterogeneity["trials"]) == {len(trials)}


# ---- the ad hoc Knapp-Hartung interval ---------------------------------------------------


def test_primary_ci_method_is_the_ad_hoc_correction(smd):
    """PROTOCOL.md §11: never narrower than the Wald interval on t(trials - 1). Racemic IV at
    24 h (3 trials that agree) was [0.32, 1.00] with untruncated Hartung-Knapp."""
    assert POOLING.model.test == "adhoc"
    table = efficacy.pool_smd_by(smd, "enantiomer", POOLING)
    rows = table[table["subgroup"] != SUBGROUP_TEST_LABEL]
    assert set(rows.loc[rows["trials"] > 1, "test"]) == {"adhoc"}
    for _, row in rows[rows["trials"] > 1].iterrows():
        subset = (
            smd if row["subgroup"] == OVERALL_LABEL else smd[smd["enantiomer"] == row["subgroup"]]
        )
        wald = random_effects(subset["yi"], subset["vi"], POOLING.model.method, "z").se_wald
        half = t_ppf(0.975, row["trials"] - 1) * wald
        assert row["ci_high"] - row["ci_low"] >= 2 * half * (1 - 1e-12), row["subgroup"]


# ---- small-study tests over trials ------------------------------------------------------


def test_small_study_tests_count_trials(split_smd):
    """Egger, rank and trim-and-fill on one estimate per trial first; over comparisons too
    where they differ; a note below 10 trials (Handbook 13.3.5.4)."""
    table = efficacy.publication_bias_table(split_smd, POOLING)
    trials = split_smd["study_id"].nunique()
    assert list(table["level"]) == ["trials"] * 3 + ["comparisons"] * 3
    assert list(table["k"]) == [trials] * 3 + [len(split_smd)] * 3
    per_trial = pooling.per_trial(split_smd)
    egger = egger_test(random_effects(per_trial["yi"], per_trial["vi"], **POOLING.model.arguments))
    assert table.iloc[0]["statistic"] == pytest.approx(egger.statistic, rel=1e-12)
    assert table.iloc[0]["df"] == trials - 2
    if trials < POOLING.small_study_min_trials:
        assert table["note"].str.startswith(f"fewer than 10 trials ({trials})").all()
    else:
        assert (table["note"].fillna("") == "").all()


def test_small_study_tests_over_comparisons_only_where_they_differ(smd):
    table = efficacy.publication_bias_table(smd.drop_duplicates("study_id"), POOLING)
    assert set(table["level"]) == {"trials"}


# ---- sensitivity to the configured choices -----------------------------------------------


def test_crossover_sensitivity_table(tables):
    table = efficacy.crossover_correlation_sensitivity(
        tables, ComparisonRules(), [None, 0.5], KNHA_POOLING, DEFAULT_PROTOCOL
    )
    assert table["crossover_comparisons"].tolist() == [1, 1]
    assert table["k"].tolist()[1] == table["k"].tolist()[0]
    assert table["estimate"].notna().all()


def test_subgroup_tests_skip_a_single_level_moderator(tables):
    by_study = effects_with(tables)
    one_level = by_study.assign(population="TRD")
    table = efficacy.subgroup_tests(one_level, ["population", "route"], KNHA_POOLING)
    assert table["moderator"].tolist() == ["route", "route"]
    assert table["tau2_model"].tolist() == ["separate", "common"]


@pytest.mark.parametrize("trials", [1, 2])
def test_too_few_trials_leave_tables_empty_or_say_why_not_a_traceback(smd, trials):
    """A primary timepoint of one or two trials (a window few trials report) crashed the
    efficacy job: leave-one-out, influence and the Q-profile need two trials, Egger's test
    and trim-and-fill three."""
    few = smd[smd["study_id"].isin(smd["study_id"].unique()[:trials])]
    loo = efficacy.leave_one_out_table(few, POOLING)
    influence = efficacy.influence_table(few, POOLING)
    assert (len(loo), len(influence)) == ((0, 0) if trials == 1 else (2, 2))
    assert (loo.columns[0], influence.columns[0]) == ("omitted", "study")
    heterogeneity = efficacy.heterogeneity_table(few, POOLING)
    assert bool(heterogeneity["estimate"].isna().all()) == (trials == 1)
    assert (heterogeneity["trials"] == trials).all()
    bias = efficacy.publication_bias_table(few, POOLING).set_index("test")
    for test, least in efficacy.SMALL_STUDY_MINIMUM.items():
        note = f"not computed: {trials} estimate(s), {least} needed"
        assert (note in bias.loc[test, "note"]) == (trials < least)
        computed = bias.loc[test, "pval" if test != efficacy.TRIM_AND_FILL else "estimate"]
        assert bool(pd.isna(computed)) == (trials < least)
