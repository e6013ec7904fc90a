"""Pooled tables count trials, use the ad hoc Knapp-Hartung interval and show only what the
trials can answer (issue 19 §1-§2, §7; PROTOCOL.md §11, §16).

Every table is built by the library on the repository's data package: with the configured
comparison rules, and with shared arms split into several comparisons per trial (the rule
that lets a trial contribute several comparisons to one estimate), so that the trial-level
handling is exercised whichever rule is primary.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO, validated_package
from ketamine_meta.analyses import pooled
from ketamine_meta.analyses.comparisons import ComparisonRules, build_effect_sizes
from ketamine_meta.analyses.protocol import Protocol
from ketamine_meta.stats.distributions import t_ppf
from ketamine_meta.stats.meta_analysis import (
    OVERALL_LABEL,
    SUBGROUP_TEST_LABEL,
    combine_within_clusters,
    random_effects,
)
from ketamine_meta.stats.publication_bias import egger_test

CONFIG = yaml.safe_load((REPO / "config/config.yaml").read_text())
POOLING = CONFIG["pooling"]
PROTOCOL = Protocol.from_config(
    {
        "windows": CONFIG["windows"],
        "timepoint_h": POOLING["timepoint_h"],
        "analysis_set": CONFIG["analysis_set"],
    }
)
RULES = ComparisonRules(**CONFIG["comparisons"])
#: The configured rules, and the same with a shared arm split between its comparisons.
RULE_SETS = {"configured": RULES, "split": replace(RULES, multi_arm="split")}


@pytest.fixture(scope="module")
def tables():
    return validated_package(REPO / "data/raw")


@pytest.fixture(scope="module", params=list(RULE_SETS))
def rules(request) -> ComparisonRules:
    return RULE_SETS[request.param]


@pytest.fixture(scope="module")
def effects(tables, rules):
    frame, _ = build_effect_sizes(
        tables["studies"], tables["arms"], tables["outcomes"], tables["contrasts"], rules
    )
    return frame


@pytest.fixture(scope="module")
def smd(effects):
    return pooled.select_smd_at(effects, PROTOCOL)


@pytest.fixture(scope="module")
def rr(effects):
    return pooled.select_at(effects, "response", "logRR", PROTOCOL)


@pytest.fixture(scope="module")
def split_smd(tables):
    frame, _ = build_effect_sizes(
        tables["studies"],
        tables["arms"],
        tables["outcomes"],
        tables["contrasts"],
        RULE_SETS["split"],
    )
    return pooled.select_smd_at(frame, PROTOCOL)


# ---- every pooled table counts trials ------------------------------------------------------


def _pooled_tables(tables, rules, smd, rr) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """Each pooled results table the pipeline writes (workflow/rules/pool.smk and the dose,
    head-to-head and adverse-event rules), with the rows it pools."""
    scales = rules.scale_preference
    routes = pooled.bioavailability_by_route(
        tables["bioavailability"], CONFIG["dose"]["reference_iv_mg"]
    )
    doses = pooled.iv_equivalent_doses(smd, routes, CONFIG["dose"]["body_weight_kg"])
    events = ["blood pressure increased", "dissociation"]
    rates = pooled.pooled_response_rates(
        tables["outcomes"], tables["arms"], tables["studies"], PROTOCOL, scales, POOLING
    )
    built: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {
        f"pooled_smd_24h_by_{m}": (pooled.pool_smd_by(smd, m, POOLING), smd)
        for m in CONFIG["sensitivity"]["moderators"]
    }
    built |= {
        "pooled_rr_response_24h_by_enantiomer": (
            pooled.pool_rr_by(rr, "enantiomer", POOLING, "response"),
            rr,
        ),
        "pooled_response_rate_24h_by_arm_type": (rates, None),
        "cost_per_responder": (pooled.cost_per_responder(rates, CONFIG["costs"]), None),
        "response_time_course": (
            pooled.response_time_course(
                tables["outcomes"], tables["arms"], tables["studies"], PROTOCOL, scales, POOLING
            ),
            None,
        ),
        "subgroup_tests_smd_24h": (
            pooled.subgroup_tests(smd, CONFIG["sensitivity"]["moderators"], POOLING),
            smd,
        ),
        "sensitivity_smd_24h_crossover_correlation": (
            pooled.crossover_correlation_sensitivity(
                tables, rules, CONFIG["sensitivity"]["crossover_correlations"], POOLING, PROTOCOL
            ),
            None,
        ),
        "sensitivity_smd_24h_analysis_sets": (
            pooled.analysis_set_sensitivity(
                tables, rules, PROTOCOL, CONFIG["sensitivity"]["analysis_sets"], POOLING
            ),
            None,
        ),
        "adverse_event_rr": (
            pooled.adverse_event_table(
                tables["adverse_events"], tables["arms"], events, POOLING
            ).query(f"study_id == '{OVERALL_LABEL}'"),
            None,
        ),
        "dose_response_smd_24h": (pooled.dose_response(doses, POOLING)[0], None),
        "enantiomer_head_to_head_24h": (
            pooled.enantiomer_head_to_head(tables, rules, PROTOCOL, smd, POOLING),
            None,
        ),
        "publication_bias_smd_24h": (pooled.publication_bias_table(smd, POOLING), smd),
    }
    return built


def test_every_pooled_table_counts_trials(tables, rules, smd, rr):
    """Every pooled table has ``trials`` beside ``k``; where a row pools more comparisons (or
    arms) than trials, its ``dependence`` says how they were handled (PROTOCOL.md §11)."""
    for name, (table, rows) in _pooled_tables(tables, rules, smd, rr).items():
        assert not table.empty, name
        assert {"k", "trials"} <= set(table.columns), f"{name}: no trials column"
        estimates = table[table["trials"].fillna(0) > 0]
        several = estimates[estimates["k"] > estimates["trials"]]
        if "dependence" in table:
            unstated = several[several["dependence"].fillna("") == ""]
        else:
            unstated = several
        assert unstated.empty, f"{name}: k > trials without a stated dependence:\n{unstated}"
        if rows is not None and name != "publication_bias_smd_24h":
            overall = table if "subgroup" not in table else table[table["subgroup"] == "overall"]
            assert set(overall["trials"]) <= {rows["study_id"].nunique()}, name


def test_the_split_rule_gives_several_comparisons_of_a_trial_and_says_so(split_smd):
    """Daly 2018 enters with three dose arms against one placebo when arms are split: the
    trial is pooled once, and the row names it (this failed when k counted comparisons)."""
    table = pooled.pool_smd_by_route(split_smd, POOLING).set_index("subgroup")
    daly = split_smd[split_smd["study_id"] == "Daly2018"]
    assert len(daly) == 3
    assert table.loc[OVERALL_LABEL, "k"] == len(split_smd)
    assert table.loc[OVERALL_LABEL, "trials"] == split_smd["study_id"].nunique()
    assert table.loc[OVERALL_LABEL, "q_df"] == split_smd["study_id"].nunique() - 1
    assert table.loc[OVERALL_LABEL, "dependence"].startswith("Daly2018: 3 comparisons")
    # The model is fitted to one estimate per trial: Daly 2018's three comparisons combined.
    combined = combine_within_clusters(split_smd["yi"], split_smd["vi"], split_smd["study_id"])
    fit = random_effects(combined.yi, combined.vi, POOLING["method"], POOLING["test"])
    assert table.loc[OVERALL_LABEL, "estimate"] == pytest.approx(fit.estimate, rel=1e-12)
    assert table.loc[OVERALL_LABEL, "ci_low"] == pytest.approx(fit.ci_low, rel=1e-12)


def test_sensitivity_analyses_leave_out_trials_not_comparisons(split_smd):
    trials = sorted(split_smd["study_id"].unique())
    for table, column in (
        (pooled.leave_one_out_table(split_smd, POOLING), "omitted"),
        (pooled.cumulative_table(split_smd, POOLING), "added"),
    ):
        assert sorted(table[column]) == trials
    influence = pooled.influence_table(split_smd, POOLING)
    assert sorted(influence["study"]) == trials
    heterogeneity = pooled.heterogeneity_table(split_smd, POOLING)
    assert set(heterogeneity["trials"]) == {len(trials)}


def test_combining_split_comparisons_restores_the_combined_arms():
    """For a mean difference, two arms against a control split in halves, combined by inverse
    variance, give the comparison of the merged arms exactly (PROTOCOL.md §11)."""
    n_arm, n_ctrl, sd = 20.0, 30.0, 8.0
    means, ctrl = np.array([-10.0, -14.0]), -4.0
    md = means - ctrl
    v_split = sd**2 / n_arm + sd**2 / (n_ctrl / 2)
    combined = combine_within_clusters(md, [v_split, v_split], ["t", "t"])
    assert combined.yi[0] == pytest.approx(means.mean() - ctrl, rel=1e-12)
    assert combined.vi[0] == pytest.approx(sd**2 / (2 * n_arm) + sd**2 / n_ctrl, rel=1e-12)


def test_response_rates_combine_the_arms_of_a_trial(tables):
    """Daly 2018's three esketamine arms are one group of that trial's patients."""
    rows = pooled.arm_responses(
        tables["outcomes"],
        tables["arms"],
        tables["studies"],
        PROTOCOL.primary_window,
        PROTOCOL.analysis_set,
        RULES.scale_preference,
    )
    table = pooled.pooled_response_rates(
        tables["outcomes"],
        tables["arms"],
        tables["studies"],
        PROTOCOL,
        RULES.scale_preference,
        POOLING,
    ).set_index("arm_type")
    esk = table.loc["esketamine IN"]
    typed = rows.merge(
        tables["arms"].assign(arm_type=pooled.arm_types(tables["arms"]))[
            ["study_id", "arm_id", "arm_type"]
        ]
    )
    arms = typed[typed["arm_type"] == "esketamine IN"]
    assert esk["k"] == len(arms) > esk["trials"] == arms["study_id"].nunique()
    assert "Daly2018: 3 arms combined" in esk["dependence"]


# ---- the ad hoc Knapp-Hartung interval ---------------------------------------------------


def test_primary_ci_method_is_the_ad_hoc_correction(smd):
    """PROTOCOL.md §11: never narrower than the Wald interval on t(trials - 1). Racemic IV at
    24 h (3 trials that agree) was [0.32, 1.00] with untruncated Hartung-Knapp."""
    assert POOLING["test"] == "adhoc"
    table = pooled.pool_smd_by(smd, "enantiomer", POOLING)
    rows = table[table["subgroup"] != SUBGROUP_TEST_LABEL]
    assert set(rows.loc[rows["trials"] > 1, "test"]) == {"adhoc"}
    for _, row in rows[rows["trials"] > 1].iterrows():
        subset = (
            smd if row["subgroup"] == OVERALL_LABEL else smd[smd["enantiomer"] == row["subgroup"]]
        )
        wald = random_effects(subset["yi"], subset["vi"], POOLING["method"], "z").se_wald
        half = t_ppf(0.975, row["trials"] - 1) * wald
        assert row["ci_high"] - row["ci_low"] >= 2 * half * (1 - 1e-12), row["subgroup"]


# ---- minimum information: what is shown as an answer -------------------------------------


def test_too_few_trials_are_not_shown_as_an_answer(rr):
    """Racemic response RR at 24 h rests on 2 trials: the row says so (the landing page
    showed RR 2.99 [0.00, 2090]); the model's numbers stay in the table for audit."""
    table = pooled.pool_rr_by(rr, "enantiomer", POOLING, "response").set_index("subgroup")
    racemic = table.loc["racemic"]
    assert racemic["trials"] == 2
    assert racemic["display"].startswith("too few trials (2 of 3)")
    assert np.isfinite([racemic["ci_low"], racemic["ci_high"]]).all()
    shown = table[table["trials"] >= POOLING["min_trials"]]
    assert not shown.empty and (shown["display"] == "").all()


def test_prediction_intervals_need_three_trials_and_heterogeneity(smd, rr):
    """No PI from fewer than 3 trials, none at tau^2 = 0 (it would equal the CI): the table
    says why. The engine stays metafor-faithful and still returns one."""
    for table in (
        pooled.pool_smd_by_route(smd, POOLING),
        pooled.pool_rr_by(rr, "enantiomer", POOLING, "response"),
    ):
        rows = table[table["subgroup"] != SUBGROUP_TEST_LABEL]
        few = rows["trials"] < POOLING["pi_min_trials"]
        flat = ~few & (rows["tau2"] == 0)
        assert rows.loc[few | flat, ["pi_low", "pi_high"]].isna().all().all()
        assert rows.loc[few, "pi_note"].str.startswith("fewer than 3 trials").all()
        assert (rows.loc[flat, "pi_note"] == "tau² = 0: the PI equals the CI").all()
        shown = rows[~few & ~flat]
        assert shown[["pi_low", "pi_high"]].notna().all().all()
        assert (shown["pi_note"] == "").all()
    iv = smd[smd["route"] == "IV"]
    fit = random_effects(iv["yi"], iv["vi"], POOLING["method"], POOLING["test"])
    assert fit.tau2 == 0 and (fit.pi_low, fit.pi_high) == (fit.ci_low, fit.ci_high)


# ---- small-study tests over trials ------------------------------------------------------


def test_small_study_tests_count_trials(split_smd):
    """Egger, rank and trim-and-fill on one estimate per trial first; over comparisons too
    where they differ; a note below 10 trials (Handbook 13.3.5.4)."""
    table = pooled.publication_bias_table(split_smd, POOLING)
    trials = split_smd["study_id"].nunique()
    assert list(table["level"]) == ["trials"] * 3 + ["comparisons"] * 3
    assert list(table["k"]) == [trials] * 3 + [len(split_smd)] * 3
    per_trial = pooled.per_trial(split_smd)
    egger = egger_test(per_trial["yi"], per_trial["vi"], POOLING["method"], POOLING["test"])
    assert table.iloc[0]["statistic"] == pytest.approx(egger.statistic, rel=1e-12)
    assert table.iloc[0]["df"] == trials - 2
    if trials < POOLING["small_study_min_trials"]:
        assert table["note"].str.startswith(f"fewer than 10 trials ({trials})").all()
    else:
        assert (table["note"].fillna("") == "").all()


def test_small_study_tests_over_comparisons_only_where_they_differ(smd):
    table = pooled.publication_bias_table(smd.drop_duplicates("study_id"), POOLING)
    assert set(table["level"]) == {"trials"}


# ---- the committed results tables (regenerated by the pipeline) --------------------------


@pytest.mark.parametrize(
    "path",
    sorted(
        p for p in (REPO / "results/tables").glob("*.csv") if "k" in pd.read_csv(p, nrows=0).columns
    ),
    ids=lambda p: p.stem,
)
def test_every_committed_pooled_table_counts_trials(path):
    """Every results table with a count ``k`` has ``trials``, and a ``dependence`` wherever
    k > trials. Reads the committed results: it fails until they are regenerated."""
    table = pd.read_csv(path)
    assert "trials" in table, f"{path.name}: k without trials"
    several = table[table["k"] > table["trials"]]
    stated = "dependence" in table and several["dependence"].notna().all()
    assert several.empty or stated, f"{path.name}: k > trials without a stated dependence"
