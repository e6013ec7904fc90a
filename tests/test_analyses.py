"""The pipeline's named analyses on the repository's data package: choices that config makes."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import REPO, validated_package
from ketamine_meta.analyses.comparisons import ComparisonRules, build_effect_sizes
from ketamine_meta.analyses.pooled import (
    crossover_correlation_sensitivity,
    pooled_response_rates,
    select_smd_at,
    subgroup_tests,
)
from ketamine_meta.analyses.protocol import Protocol
from ketamine_meta.stats.effect_sizes import combine_groups, smd

POOLING = {"timepoint_h": 24, "method": "REML", "test": "knha", "level": 0.95}
#: PROTOCOL.md's windows and primary analysis set.
PROTOCOL = Protocol()
SCALES = ComparisonRules().scale_preference


@pytest.fixture(scope="module")
def tables():
    return validated_package(REPO / "data/raw")


def effects_with(tables, **rules):
    effects, _ = build_effect_sizes(
        tables["studies"],
        tables["arms"],
        tables["outcomes"],
        tables["contrasts"],
        ComparisonRules(**rules),
    )
    return select_smd_at(effects, PROTOCOL)


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
    n, mean, sd = combine_groups(
        *arms.iloc[0][["n", "mean_treat", "sd_treat"]],
        *arms.iloc[1][["n", "mean_treat", "sd_treat"]],
    )
    n, mean, sd = combine_groups(n, mean, sd, *arms.iloc[2][["n", "mean_treat", "sd_treat"]])
    ctrl = daly_split.iloc[0]
    yi, vi = smd(ctrl["mean_ctrl"], ctrl["sd_ctrl"], ctrl["n_ctrl_analysed"], mean, sd, n)
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


def test_crossover_sensitivity_table(tables):
    table = crossover_correlation_sensitivity(
        tables, ComparisonRules(), [None, 0.5], POOLING, PROTOCOL
    )
    assert table["crossover_comparisons"].tolist() == [1, 1]
    assert table["k"].tolist()[1] == table["k"].tolist()[0]
    assert table["estimate"].notna().all()


def test_unknown_multi_arm_rule_is_refused():
    with pytest.raises(ValueError, match="multi_arm"):
        ComparisonRules(multi_arm="average")
    with pytest.raises(ValueError, match="crossover_correlation"):
        ComparisonRules(crossover_correlation=1.0)


def test_response_rate_of_a_single_arm_is_its_own_proportion(tables):
    table = pooled_response_rates(
        tables["outcomes"], tables["arms"], tables["studies"], PROTOCOL, SCALES, POOLING
    ).set_index("arm_type")
    single = table[table["k"] == 1]
    assert not single.empty
    np.testing.assert_allclose(single["proportion"], single["events"] / single["n"], rtol=1e-12)
    # Every arm type's pooled proportion lies within its interval.
    assert (
        (table["ci_low"] <= table["proportion"]) & (table["proportion"] <= table["ci_high"])
    ).all()


@pytest.mark.parametrize("measure", ["PLO", "PFT"])
def test_response_rates_by_either_transformation(tables, measure):
    table = pooled_response_rates(
        tables["outcomes"], tables["arms"], tables["studies"], PROTOCOL, SCALES, POOLING, measure
    )
    assert set(table["measure"]) == {measure}
    assert table["proportion"].between(0, 1).all()


def test_subgroup_tests_skip_a_single_level_moderator(tables):
    by_study = effects_with(tables)
    one_level = by_study.assign(population="TRD")
    table = subgroup_tests(one_level, ["population", "route"], POOLING)
    assert table["moderator"].tolist() == ["route", "route"]
    assert table["tau2_model"].tolist() == ["separate", "common"]
