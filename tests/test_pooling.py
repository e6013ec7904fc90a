"""Pooled tables count trials and show only what the trials can answer (issue 19 §1-§2, §7;
PROTOCOL.md §11, §16): the rules of :mod:`ketamine_meta.analyses.pooling` that every pooled
table shares, and the rows it selects under each comparison rule.

Every table is built by the library on the repository's data package: with the configured
comparison rules, and with shared arms split into several comparisons per trial (the rule
that lets a trial contribute several comparisons to one estimate), so that the trial-level
handling is exercised whichever rule is primary (``rules`` in conftest).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import CONFIG, POOLING, PROTOCOL, REPO
from ketamine_meta.analyses import dose, efficacy, pooling, response, safety
from ketamine_meta.analyses.comparisons import ComparisonRules, build_effect_sizes
from ketamine_meta.analyses.protocol import Protocol
from ketamine_meta.stats import effect_sizes
from ketamine_meta.stats.meta_analysis import (
    OVERALL_LABEL,
    SUBGROUP_TEST_LABEL,
    combine_within_clusters,
    random_effects,
)

#: PROTOCOL.md's windows and primary analysis set (the library's defaults).
DEFAULT_PROTOCOL = Protocol()


def effects_with(tables, **rules):
    """The SMD rows pooling selects at 24 h, under the default comparison rules with ``rules``."""
    effects, _ = build_effect_sizes(
        tables["studies"],
        tables["arms"],
        tables["outcomes"],
        tables["contrasts"],
        ComparisonRules(**rules),
    )
    return pooling.select_smd_at(effects, DEFAULT_PROTOCOL)


# ---- every pooled table counts trials ------------------------------------------------------


def _pooled_tables(tables, rules, smd, rr) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """Each pooled results table the pipeline writes (workflow/rules/pool.smk and the dose,
    head-to-head and adverse-event rules), with the rows it pools."""
    scales = rules.scale_preference
    routes = dose.bioavailability_by_route(
        tables["bioavailability"], CONFIG["dose"]["reference_iv_mg"]
    )
    doses = dose.iv_equivalent_doses(smd, routes, CONFIG["dose"]["body_weight_kg"])
    events = ["blood pressure increased", "dissociation"]
    rates = response.pooled_response_rates(
        tables["outcomes"], tables["arms"], tables["studies"], PROTOCOL, scales, POOLING
    )
    built: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {
        f"pooled_smd_24h_by_{m}": (efficacy.pool_smd_by(smd, m, POOLING), smd)
        for m in CONFIG["sensitivity"]["moderators"]
    }
    built |= {
        "pooled_rr_response_24h_by_enantiomer": (
            response.pool_rr_by(rr, "enantiomer", POOLING, "response"),
            rr,
        ),
        "pooled_response_rate_24h_by_arm_type": (rates, None),
        "cost_per_responder": (dose.cost_per_responder(rates, CONFIG["costs"]), None),
        "response_time_course": (
            response.response_time_course(
                tables["outcomes"], tables["arms"], tables["studies"], PROTOCOL, scales, POOLING
            ),
            None,
        ),
        "subgroup_tests_smd_24h": (
            efficacy.subgroup_tests(smd, CONFIG["sensitivity"]["moderators"], POOLING),
            smd,
        ),
        "sensitivity_smd_24h_crossover_correlation": (
            efficacy.crossover_correlation_sensitivity(
                tables, rules, CONFIG["sensitivity"]["crossover_correlations"], POOLING, PROTOCOL
            ),
            None,
        ),
        "sensitivity_smd_24h_analysis_sets": (
            efficacy.analysis_set_sensitivity(
                tables, rules, PROTOCOL, CONFIG["sensitivity"]["analysis_sets"], POOLING
            ),
            None,
        ),
        "adverse_event_rr": (
            safety.adverse_event_table(
                tables["adverse_events"], tables["arms"], events, POOLING
            ).query(f"study_id == '{OVERALL_LABEL}'"),
            None,
        ),
        "dose_response_smd_24h": (dose.dose_response(doses, POOLING)[0], None),
        "enantiomer_head_to_head_24h": (
            efficacy.enantiomer_head_to_head(tables, rules, PROTOCOL, smd, POOLING),
            None,
        ),
        "publication_bias_smd_24h": (efficacy.publication_bias_table(smd, POOLING), smd),
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


# ---- minimum information: what is shown as an answer -------------------------------------


def test_prediction_intervals_need_three_trials_and_heterogeneity(smd, rr):
    """No PI from fewer than 3 trials, none at tau^2 = 0 (it would equal the CI): the table
    says why. The engine stays metafor-faithful and still returns one."""
    for table in (
        efficacy.pool_smd_by_route(smd, POOLING),
        response.pool_rr_by(rr, "enantiomer", POOLING, "response"),
    ):
        rows = table[table["subgroup"] != SUBGROUP_TEST_LABEL]
        few = rows["trials"] < POOLING.pi_min_trials
        flat = ~few & (rows["tau2"] == 0)
        assert rows.loc[few | flat, ["pi_low", "pi_high"]].isna().all().all()
        assert rows.loc[few, "pi_note"].str.startswith("fewer than 3 trials").all()
        assert (rows.loc[flat, "pi_note"] == "tau² = 0: the PI equals the CI").all()
        shown = rows[~few & ~flat]
        assert shown[["pi_low", "pi_high"]].notna().all().all()
        assert (shown["pi_note"] == "").all()
    iv = smd[smd["route"] == "IV"]
    fit = random_effects(iv["yi"], iv["vi"], POOLING.model.method, POOLING.model.test)
    assert fit.tau2 == 0 and (fit.pi_low, fit.pi_high) == (fit.ci_low, fit.ci_high)


# ---- the rows pooled under each comparison rule --------------------------------------------


def test_combining_arms_merges_the_doses_of_a_multi_arm_trial(tables):
    split = effects_with(tables, multi_arm="split")
    combined = effects_with(tables, multi_arm="combine")
    daly_split = split[split["study_id"] == "Daly2018"]
    daly = combined[combined["study_id"] == "Daly2018"]
    assert len(daly_split) == 3 and len(daly) == 1
    assert daly["comparison_id"].item() == "Daly2018:esk28+esk56+esk84-vs-pbo"
    # The merged arm is the three dose arms pooled (Handbook Table 6.5.a), against the whole
    # placebo arm: recompute it from the split rows' arm data.
    arms = daly_split.assign(n=daly_split["n_treat_analysed"])
    n, mean, sd = effect_sizes.combine_groups(
        *arms.iloc[0][["n", "mean_treat", "sd_treat"]],
        *arms.iloc[1][["n", "mean_treat", "sd_treat"]],
    )
    n, mean, sd = effect_sizes.combine_groups(
        n, mean, sd, *arms.iloc[2][["n", "mean_treat", "sd_treat"]]
    )
    ctrl = daly_split.iloc[0]
    yi, vi = effect_sizes.smd(
        ctrl["mean_ctrl"], ctrl["sd_ctrl"], ctrl["n_ctrl_analysed"], mean, sd, n
    )
    assert daly["yi"].item() == pytest.approx(float(yi), rel=1e-12)
    assert daly["vi"].item() == pytest.approx(float(vi), rel=1e-12)
    assert daly["n_total"].item() == n + ctrl["n_ctrl_analysed"]


def test_crossover_differences_need_a_correlation(tables):
    paired = effects_with(tables, crossover_correlation=0.5)
    parallel = effects_with(tables, crossover_correlation=None)
    lapidus = paired[paired["study_id"] == "Lapidus2014"]
    assert len(lapidus) == 1 and lapidus["within_correlation"].item() == 0.5
    # 18 completers received both conditions: they count once.
    assert lapidus["n_total"].item() == 18
    # As if parallel, the paired difference is converted with r = 0 and kept (PROTOCOL.md §8):
    # two groups of 18.
    as_parallel = parallel[parallel["study_id"] == "Lapidus2014"]
    assert as_parallel["within_correlation"].isna().item()
    assert as_parallel["n_total"].item() == 36


def test_a_higher_correlation_gives_a_more_precise_crossover_estimate(tables):
    low = effects_with(tables, crossover_correlation=0.2)
    high = effects_with(tables, crossover_correlation=0.8)
    v_low = low.loc[low["study_id"] == "Lapidus2014", "vi"].item()
    v_high = high.loc[high["study_id"] == "Lapidus2014", "vi"].item()
    assert v_high < v_low


def test_unknown_multi_arm_rule_is_refused():
    with pytest.raises(ValueError, match="multi_arm"):
        ComparisonRules(multi_arm="average")
    with pytest.raises(ValueError, match="crossover_correlation"):
        ComparisonRules(crossover_correlation=1.0)


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
