"""How trials become comparisons (PROTOCOL.md §8): randomized pairs, multi-arm trials,
crossover trials and the sensitivity rules, on the repository's data package.

Each test fails on the rules before issue 19: Singh 2016a entered as all four
drug-by-placebo crossings; several comparisons of one trial carried no trial-level
dependence; "as if parallel" raised Lapidus 2014's g from 0.98 to 1.41 (the SD recovered
with r = 0); Diazgranados 2010 and Zarate 2012 entered as within-person d's with their
model's variances (0.013-0.017); no analysis could leave out Fava 2020's 0.1 mg/kg arm.
"""

from __future__ import annotations

from dataclasses import fields, replace
from itertools import pairwise

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import special, stats

from conftest import REPO, validated_package
from frozen import frozen_tables
from ketamine_meta.analyses.comparisons import (
    DEPENDENCE,
    ComparisonRules,
    build_effect_sizes,
    dependence_labels,
    randomized_pairs,
)
from ketamine_meta.analyses.pooling import select_smd_at
from ketamine_meta.analyses.protocol import Protocol

CONFIG = yaml.safe_load((REPO / "config/config.yaml").read_text())
RULES = ComparisonRules(**CONFIG["comparisons"])
PROTOCOL = Protocol.from_config(
    {
        "windows": CONFIG["windows"],
        "timepoint_h": CONFIG["pooling"]["timepoint_h"],
        "analysis_set": CONFIG["analysis_set"],
    }
)
CORRELATIONS = [None, 0.0, 0.25, 0.5, 0.75, 0.9]


@pytest.fixture(scope="module")
def tables():
    return validated_package(REPO / "data/raw")


def build(tables, **changes):
    """Effect sizes and exclusions of the package under the configured rules with ``changes``."""
    return build_effect_sizes(
        tables["studies"],
        tables["arms"],
        tables["outcomes"],
        tables["contrasts"],
        replace(RULES, **changes),
    )


def effects_with(tables, **changes) -> pd.DataFrame:
    return build(tables, **changes)[0]


def j(m: float) -> float:
    """Hedges' J(m), written out (Hedges 1981, eq. 6e)."""
    return float(
        np.exp(special.gammaln(m / 2) - 0.5 * np.log(m / 2) - special.gammaln((m - 1) / 2))
    )


def row(effects: pd.DataFrame, study: str, outcome: str, hours: float) -> pd.Series:
    rows = effects[
        (effects["study_id"] == study)
        & (effects["outcome"] == outcome)
        & np.isclose(effects["timepoint_h"].astype(float), hours)
    ]
    assert len(rows) == 1, rows["comparison_id"].tolist()
    return rows.iloc[0]


# --- Item 1: only randomized pairs (Singh 2016a, 2 x 2: frequency by drug) ------------------


def test_singh2016a_split_compares_only_the_randomized_pairs(tables):
    effects, excluded = build(tables, multi_arm="split")
    singh = effects[effects["study_id"] == "Singh2016a"]
    per_cell = singh.groupby(["outcome", "timepoint_h"])["comparison_id"].agg(sorted)
    assert per_cell[("dropout", 672.0)] == [
        "Singh2016a:ket_2x-vs-pbo_2x",
        "Singh2016a:ket_3x-vs-pbo_3x",
    ]
    # ket_3x has no adverse-event dropout row: only the twice-weekly pair is left.
    assert per_cell[("dropout_adverse_event", 672.0)] == ["Singh2016a:ket_2x-vs-pbo_2x"]
    dropout = singh[singh["outcome"] == "dropout"].set_index("comparison_id")
    # Events of the ClinicalTrials.gov participant flow, no arm split: 6/18 vs 16/17, 6/17 vs
    # 15/16 (log RR drug over saline, Handbook 6.4 / metafor "RR").
    twice, thrice = (dropout.loc[f"Singh2016a:ket_{f}-vs-pbo_{f}"] for f in ("2x", "3x"))
    assert twice["yi"] == pytest.approx(np.log((6 / 18) / (16 / 17)), rel=1e-12)
    assert twice["vi"] == pytest.approx(1 / 6 - 1 / 18 + 1 / 16 - 1 / 17, rel=1e-12)
    assert thrice["yi"] == pytest.approx(np.log((6 / 17) / (15 / 16)), rel=1e-12)
    assert thrice["vi"] == pytest.approx(1 / 6 - 1 / 17 + 1 / 15 - 1 / 16, rel=1e-12)
    assert dropout[["n_treat", "n_ctrl"]].to_numpy().tolist() == [[18, 17], [17, 16]]
    assert set(dropout["dependence"]) == {DEPENDENCE["pairs"]}
    # The thrice-weekly saline arm's adverse-event row is used by no pair, and says why.
    reason = excluded[
        (excluded["study_id"] == "Singh2016a")
        & (excluded["arm_id"] == "pbo_3x")
        & (excluded["outcome"] == "dropout_adverse_event")
    ]["reason"]
    assert reason.str.contains("randomized against").item()


def test_singh2016a_combined_is_one_comparison_of_both_strata(tables):
    singh = effects_with(tables)
    singh = singh[(singh["study_id"] == "Singh2016a") & (singh["outcome"] == "dropout")]
    assert singh["comparison_id"].tolist() == ["Singh2016a:ket_2x+ket_3x-vs-pbo_2x+pbo_3x"]
    r = singh.iloc[0]
    assert (r["events_treat"], r["n_treat"], r["events_ctrl"], r["n_ctrl"]) == (12, 35, 31, 33)
    assert r["yi"] == pytest.approx(np.log((12 / 35) / (31 / 33)), rel=1e-12)
    assert r["dependence"] == DEPENDENCE["combined"]


def _arm(arm_id: str, drug: str, sessions: float, route: str = "IV") -> dict:
    return {"arm_id": arm_id, "drug": drug, "route": route, "sessions": sessions}


def test_randomized_pairs_rule():
    rules = ComparisonRules()
    # One control arm per drug and route: every crossing was randomized.
    three = [_arm("a", "racemic_ketamine", 1), _arm("b", "racemic_ketamine", 1)]
    three += [_arm("p", "saline_placebo", 1), _arm("m", "midazolam", 1)]
    assert randomized_pairs(three, rules) == {("a", "p"), ("a", "m"), ("b", "p"), ("b", "m")}
    # Strata told apart by the schedule.
    strata = [_arm("k2", "racemic_ketamine", 8), _arm("k3", "racemic_ketamine", 12)]
    strata += [_arm("p2", "saline_placebo", 8), _arm("p3", "saline_placebo", 12)]
    assert randomized_pairs(strata, rules) == {("k2", "p2"), ("k3", "p3")}
    # Schedules that do not tell the strata apart: no pairing can be formed.
    unknown = [dict(a, sessions=np.nan) for a in strata]
    assert randomized_pairs(unknown, rules) is None
    odd = [*strata[:1], _arm("k4", "racemic_ketamine", 16), *strata[2:]]
    assert randomized_pairs(odd, rules) is None


def test_unidentified_strata_are_excluded_under_split_and_combined_otherwise(tables):
    # Singh 2016a with its schedules blanked: the package no longer tells its pairs apart.
    arms = tables["arms"].copy()
    arms.loc[arms["study_id"] == "Singh2016a", "sessions"] = np.nan
    blanked = {**tables, "arms": arms}
    split, excluded = build(blanked, multi_arm="split")
    assert not (split["study_id"] == "Singh2016a").any()
    singh = excluded[(excluded["study_id"] == "Singh2016a") & (excluded["outcome"] == "dropout")]
    assert len(singh) == 4 and singh["reason"].str.contains("arms combined only").all()
    combined = effects_with(blanked)
    assert combined.loc[
        (combined["study_id"] == "Singh2016a") & (combined["outcome"] == "dropout"),
        "comparison_id",
    ].tolist() == ["Singh2016a:ket_2x+ket_3x-vs-pbo_2x+pbo_3x"]


@pytest.mark.parametrize("multi_arm", ["combine", "split"])
def test_every_outcome_row_is_used_or_excluded_under_either_rule(tables, multi_arm):
    effects, excluded = build(tables, multi_arm=multi_arm)
    used = {
        (r.study_id, arm, r.outcome, r.scale, float(r.timepoint_h))
        for r in effects[effects["data_basis"] == "arm-level"].itertuples()
        for side in r.comparison_id.split(":", 1)[1].split("-vs-")
        for arm in side.split("+")
    }
    reasons = {
        (r.study_id, r.arm_id, r.outcome, r.scale, float(r.timepoint_h))
        for r in excluded.itertuples()
    }
    for r in tables["outcomes"].itertuples():
        key = (r.study_id, r.arm_id, r.outcome, r.scale, float(r.timepoint_h))
        assert key in used or key in reasons, key


# --- Item 2: trial identity and dependence on every row --------------------------------------


@pytest.mark.parametrize("multi_arm", ["combine", "split"])
def test_several_comparisons_of_one_trial_always_state_their_dependence(tables, multi_arm):
    effects = effects_with(tables, multi_arm=multi_arm)
    assert effects["study_id"].notna().all()
    several = effects.groupby(["study_id", "outcome", "timepoint_h"])["comparison_id"].transform(
        "size"
    )
    assert (effects.loc[several > 1, "dependence"] != "").all()
    combined = effects["comparison_id"].str.contains("+", regex=False)
    assert (
        effects.loc[combined, "dependence"].str.contains(DEPENDENCE["combined"], regex=False).all()
    )
    assert (effects.loc[(several == 1) & ~combined, "dependence"] == "").all()


def test_dependence_labels_of_each_case():
    def rows(study, pairs, basis="arm-level", split=False):
        return [
            {
                "study_id": study,
                "comparison_id": f"{study}:{t}-vs-{c}",
                "outcome": "response",
                "timepoint_h": 24.0,
                "data_basis": basis,
                "n_treat": 10.0,
                "n_ctrl": 5.0 if split else 10.0,
                "n_treat_analysed": 10.0,
                "n_ctrl_analysed": 10.0,
            }
            for t, c in pairs
        ]

    frame = pd.DataFrame(
        rows("One", [("a", "p")])
        + rows("Combined", [("a+b", "p")])
        + rows("Split", [("a", "p"), ("b", "p")], split=True)
        + rows("Contrasts", [("a", "p"), ("b", "p")], basis="reported LSMD")
        + rows("Strata", [("a2", "p2"), ("a3", "p3")])
    )
    assert dependence_labels(frame).tolist() == [
        "",
        DEPENDENCE["combined"],
        DEPENDENCE["split"],
        DEPENDENCE["split"],
        DEPENDENCE["not_split"],
        DEPENDENCE["not_split"],
        DEPENDENCE["pairs"],
        DEPENDENCE["pairs"],
    ]


def test_combining_is_the_primary_rule_and_splitting_says_so(tables):
    assert RULES.multi_arm == "combine"
    primary = effects_with(tables)
    daly = row(primary, "Daly2018", "response", 24)
    assert daly["comparison_id"] == "Daly2018:esk28+esk56+esk84-vs-pbo"
    # The whole placebo arm (1 responder of 33), as the Summary of findings' control risk needs.
    assert (daly["events_ctrl"], daly["n_ctrl"]) == (1, 33)
    split = effects_with(tables, multi_arm="split")
    daly_split = split[
        (split["study_id"] == "Daly2018")
        & (split["outcome"] == "response")
        & (split["timepoint_h"] == 24)
    ]
    assert len(daly_split) == 3
    assert set(daly_split["dependence"]) == {DEPENDENCE["split"]}
    np.testing.assert_allclose(daly_split["events_ctrl"].astype(float), 1 / 3)
    np.testing.assert_allclose(daly_split["n_ctrl"].astype(float), 11)


def test_a_reported_dose_contrast_never_enters_beside_its_combined_arm():
    # Takahashi 2021 reports arm-level change at 28 d and an LS mean difference per dose: the
    # combined arm-level comparison covers every dose, so no contrast is added beside it
    # (the package frozen at 0.4.2, where these are its only 28 d rows).
    takahashi = effects_with(frozen_tables())
    takahashi = takahashi[
        (takahashi["study_id"] == "Takahashi2021")
        & (takahashi["timepoint_h"] == 672)
        & (takahashi["outcome"] == "depression_score")
    ]
    assert takahashi["comparison_id"].tolist() == ["Takahashi2021:esk28+esk56+esk84-vs-pbo"]
    assert takahashi["data_basis"].tolist() == ["arm-level"]


# --- Item 3: within-person d's on the between-person scale -----------------------------------

#: The crossover trials' reported d (ketamine benefit positive), n and time (h).
WITHIN_PERSON = [("Diazgranados2010", 0.52, 18, 0.67), ("Diazgranados2010", 0.80, 18, 48.0)]
WITHIN_PERSON += [("Zarate2012", 0.89, 15, 0.67)]


@pytest.mark.parametrize(("study", "d", "n", "hours"), WITHIN_PERSON)
def test_within_person_d_is_converted_and_takes_the_crossover_variance(tables, study, d, n, hours):
    effects = effects_with(tables)
    r = row(effects, study, "depression_score", hours)
    # d_between = d sqrt(2 (1 - 0.5)) = d; g = J(n - 1) d; v = 2 (1 - 0.5) / n + g^2 / (2 n).
    g = j(n - 1) * d
    assert r["yi"] == pytest.approx(g, rel=1e-12)
    assert r["vi"] == pytest.approx(1 / n + g**2 / (2 * n), rel=1e-12)
    assert r["vi"] > 0.06  # the model's variances were 0.013-0.017
    assert r["n_total"] == n and r["within_correlation"] == 0.5
    # Another standardizing correlation scales the d by sqrt(2 (1 - r)); the variance's r
    # is the paired one, "as if parallel" two groups of n.
    other = row(
        effects_with(tables, crossover_sd_correlation=0.75), study, "depression_score", hours
    )
    assert other["yi"] == pytest.approx(g * np.sqrt(0.5), rel=1e-12)
    parallel = row(
        effects_with(tables, crossover_correlation=None), study, "depression_score", hours
    )
    assert parallel["yi"] == pytest.approx(g, rel=1e-12)
    assert parallel["vi"] == pytest.approx(2 / n + g**2 / (4 * n), rel=1e-12)


def test_within_person_d_can_be_left_out(tables):
    effects, excluded = build(tables, within_person_smd="exclude")
    assert not effects["study_id"].isin(["Diazgranados2010", "Zarate2012"]).any()
    left = excluded[excluded["reason"].str.contains("within-person d")]
    assert sorted(set(left["study_id"])) == ["Diazgranados2010", "Zarate2012"]
    assert len(left) == 4  # three depression d's and Zarate 2012's suicidal-ideation d
    sets = {s["name"]: s for s in CONFIG["sensitivity"]["analysis_sets"]}
    assert sets["within-person d's left out"]["rules"] == {"within_person_smd": "exclude"}


# --- Item 4: ignoring the pairing changes the variance, not g (Lapidus 2014) ----------------


def test_lapidus2014_g_is_the_same_for_every_correlation(tables):
    # MADRS difference -7.6 (95% CI -11.3 to -3.9), 18 completers of a crossover; the SE
    # from the CI on 17 df, the between-person SD with r = 0.5 (Handbook 23.2.7.3).
    se = 7.4 / (2 * stats.t.ppf(0.975, 17))
    sd = se * np.sqrt(18) / np.sqrt(2 * (1 - 0.5))
    g = j(17) * 7.6 / sd
    fits = {
        r: row(effects_with(tables, crossover_correlation=r), "Lapidus2014", "depression_score", 24)
        for r in CORRELATIONS
    }
    for r, fit in fits.items():
        assert fit["yi"] == pytest.approx(g, rel=1e-12), r
    assert g == pytest.approx(0.98, abs=0.005)
    paired = [fits[r]["vi"] for r in CORRELATIONS[1:]]
    assert all(a > b for a, b in pairwise(paired))
    for r in CORRELATIONS[1:]:
        assert fits[r]["vi"] == pytest.approx(2 * (1 - r) / 18 + g**2 / 36, rel=1e-12)
    # As if parallel: two independent groups of 18.
    assert fits[None]["vi"] == pytest.approx(2 / 18 + g**2 / 72, rel=1e-12)
    assert fits[None]["n_total"] == 36 and pd.isna(fits[None]["within_correlation"])


def test_arm_level_crossover_g_is_the_same_as_if_parallel(tables):
    # Berman 2000: change -14 (SD 10) under ketamine, 0 (SD 12) under saline, 7 completers.
    g = j(6) * 14 / np.sqrt((10**2 + 12**2) / 2)
    paired = row(effects_with(tables), "Berman2000", "depression_score", 72)
    parallel = row(
        effects_with(tables, crossover_correlation=None), "Berman2000", "depression_score", 72
    )
    assert paired["yi"] == pytest.approx(g, rel=1e-12)
    assert parallel["yi"] == pytest.approx(g, rel=1e-12)
    assert paired["vi"] == pytest.approx(1 / 7 + g**2 / 14, rel=1e-12)
    assert parallel["vi"] == pytest.approx(2 / 7 + g**2 / 28, rel=1e-12)


# --- Item 5: the sensitivity set without Fava 2020's 0.1 mg/kg arm ---------------------------


def test_fava2020_low_dose_set_leaves_out_that_arm_only(tables):
    sets = {s["name"]: s for s in CONFIG["sensitivity"]["analysis_sets"]}
    entry = sets["without Fava 2020 0.1 mg/kg"]
    assert entry["rules"] == {"exclude_arms": ["Fava2020:ket01"]}
    primary = select_smd_at(effects_with(tables), PROTOCOL)
    effects, excluded = build(tables, **entry["rules"])
    without = select_smd_at(effects, PROTOCOL)
    assert "Fava2020:ket01-vs-mdz" in set(primary["comparison_id"])
    assert set(primary["comparison_id"]) - set(without["comparison_id"]) == {
        "Fava2020:ket01-vs-mdz"
    }
    gone = excluded[excluded["arm_id"] == "ket01"]
    assert set(gone["study_id"]) == {"Fava2020"}
    assert gone["reason"].str.contains("exclude_arms").all()


def test_an_unknown_excluded_arm_is_refused(tables):
    with pytest.raises(LookupError, match=r"exclude_arms: 'Fava2020:ket99'"):
        build(tables, exclude_arms=["Fava2020:ket99"])
    with pytest.raises(ValueError, match="study_id:arm_id"):
        ComparisonRules(exclude_arms=["Fava2020"])
    with pytest.raises(ValueError, match="within_person_smd"):
        ComparisonRules(within_person_smd="drop")
    with pytest.raises(ValueError, match="crossover_sd_correlation"):
        ComparisonRules(crossover_sd_correlation=1.0)


def test_default_rules_are_the_configured_protocol():
    defaults = ComparisonRules()
    for name in (f.name for f in fields(ComparisonRules)):
        if name != "control_drugs":  # the config also compares active treatments (§7)
            assert list(np.atleast_1d(getattr(defaults, name))) == list(
                np.atleast_1d(CONFIG["comparisons"][name])
            ), name
