"""The analysis protocol (PROTOCOL.md) and the miscodings its review found.

Each miscoding of the protocol-and-evidence review has a test here that fails on the old
behaviour: the commit before the protocol counted a suicidal-ideation response as depression
response, pooled Lii 2023's endpoint scores, printed the response forest plot's prediction
interval on the log scale, took the bioavailability median over rows, called Reif 2023's
continued esketamine "after a course", pooled SUSTAIN-1's strata by Hartung-Knapp at k = 2,
drew relapse fits past their follow-up, let k = 2 proportions decide verdicts, dropped the
crossover trial from the "as if parallel" analysis and joined different trials' time-course
points with lines.
"""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO, validated_package
from ketamine_meta.analyses.claims import (
    NOT_SUPPORTED,
    NOT_TESTABLE,
    PARTLY,
    SUPPORTED,
    Finding,
    VerdictRules,
    _apply_rules,
    range_verdict,
)
from ketamine_meta.analyses.comparisons import (
    ComparisonRules,
    build_effect_sizes,
    derive_change_rows,
)
from ketamine_meta.analyses.dose import bioavailability_by_route
from ketamine_meta.analyses.efficacy import (
    analysis_set_sensitivity,
    crossover_correlation_sensitivity,
    enantiomer_head_to_head,
)
from ketamine_meta.analyses.pooling import select_at, select_smd_at
from ketamine_meta.analyses.protocol import (
    AnalysisSet,
    Pooling,
    Protocol,
    Window,
    nearest_in_window,
)
from ketamine_meta.analyses.relapse import durability_evidence, relapse_by_study, relapse_pooled
from ketamine_meta.analyses.response import arm_responses, pool_rr_by
from ketamine_meta.figures.plotting import ForestLabels, forest_plot
from ketamine_meta.figures.relapse_plots import relapse_curves
from ketamine_meta.figures.response_plots import response_time_course_plot
from ketamine_meta.stats.meta_regression import meta_regression

CONFIG = yaml.safe_load((REPO / "config/config.yaml").read_text())
SCHEMA = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
PROTOCOL_TEXT = (REPO / "PROTOCOL.md").read_text()
POOLING = Pooling.from_config(CONFIG["pooling"])
PROTOCOL = Protocol.from_config(
    {
        "windows": CONFIG["windows"],
        "timepoint_h": POOLING.timepoint_h,
        "analysis_set": CONFIG["analysis_set"],
    }
)
RULES = ComparisonRules(**CONFIG["comparisons"])


@pytest.fixture(scope="module")
def tables():
    return validated_package(REPO / "data/raw")


@pytest.fixture(scope="module")
def effects(tables):
    frame, _ = build_effect_sizes(
        tables["studies"], tables["arms"], tables["outcomes"], tables["contrasts"], RULES
    )
    return frame


# --- The protocol and the configuration agree ---------------------------------------------


def _sections() -> set[str]:
    return set(re.findall(r"^## (§\d+)", PROTOCOL_TEXT, flags=re.M))


def _descriptions(node, path=""):
    """Every (path, description) of the schema's properties."""
    if isinstance(node, dict):
        for key, value in node.get("properties", {}).items():
            yield f"{path}.{key}".lstrip("."), value.get("description", "")
            yield from _descriptions(value, f"{path}.{key}")


def test_protocol_sections_named_by_the_config_exist():
    named = set(re.findall(r"§\d+", (REPO / "config/config.yaml").read_text()))
    named |= set(re.findall(r"§\d+", (REPO / "config/claims.yaml").read_text()))
    assert named, "config names no protocol section"
    assert named <= _sections(), f"config names missing sections: {named - _sections()}"


@pytest.mark.parametrize(
    "key", ["comparisons", "windows", "analysis_set", "pooling", "sensitivity.analysis_sets"]
)
def test_every_analysis_choice_in_the_schema_cites_its_protocol_section(key):
    descriptions = dict(_descriptions(SCHEMA))
    cited = re.findall(r"§\d+", descriptions[key])
    assert cited and set(cited) <= _sections()


def test_protocol_window_table_is_the_configured_windows():
    rows = re.findall(r"^\| ([^|]+?) \| (\d+) \| ([\d.]+) \| (\d+) \|$", PROTOCOL_TEXT, re.M)
    table = [
        {"label": a, "nominal_h": float(b), "low_h": float(c), "high_h": float(d)}
        for a, b, c, d in rows
    ]
    configured = [
        {k: (float(v) if k != "label" else v) for k, v in w.items()} for w in CONFIG["windows"]
    ]
    assert table == configured


def test_primary_analysis_set_is_the_protocols():
    assert PROTOCOL.analysis_set == AnalysisSet()
    assert PROTOCOL.primary_window == Window("24 h", 24.0, 20.0, 30.0)
    assert list(RULES.value_type_preference) == ["change", "endpoint"]


# --- Windows and the data-basis hierarchy ---------------------------------------------------


def test_nearest_visit_in_a_window_wins_and_ties_go_to_the_earlier():
    rows = pd.DataFrame(
        {"comparison_id": ["a", "a", "a", "b", "b"], "timepoint_h": [22, 26, 48, 21, 25]}
    )
    chosen = nearest_in_window(rows, Window("24 h", 24, 20, 30), ["comparison_id"])
    assert dict(zip(chosen["comparison_id"], chosen["timepoint_h"], strict=True)) == {
        "a": 22,
        "b": 25,
    }


def _mini_package(secondary_arm_level: bool, primary_contrast: bool):
    studies = pd.DataFrame(
        {
            "study_id": ["T2020"],
            "design": ["parallel"],
            "population": ["MDD"],
            "year": [2020],
            "setting": ["standard"],
        }
    )
    arms = pd.DataFrame(
        {
            "study_id": ["T2020"] * 2,
            "arm_id": ["ket", "pbo"],
            "drug": ["racemic_ketamine", "saline_placebo"],
            "route": ["IV", "IV"],
            "dose": [0.5, np.nan],
            "dose_unit": ["mg_per_kg", np.nan],
        }
    )
    columns = [
        "study_id",
        "arm_id",
        "outcome",
        "scale",
        "timepoint_h",
        "n",
        "mean",
        "sd",
        "sd_source",
        "se",
        "ci_low",
        "ci_high",
        "events",
        "value_type",
        "data_basis",
        "source_id",
        "locator",
    ]
    rows = [
        [
            "T2020",
            arm,
            "depression_score",
            "MADRS",
            24,
            20,
            mean,
            8.0,
            "reported",
            np.nan,
            np.nan,
            np.nan,
            np.nan,
            "change",
            "secondary",
            "review",
            "Table 2",
        ]
        for arm, mean in (("ket", -15.0), ("pbo", -5.0))
    ]
    outcomes = pd.DataFrame(rows if secondary_arm_level else [], columns=columns)
    contrasts = pd.DataFrame(
        [
            {
                "study_id": "T2020",
                "arm_id_treat": "ket",
                "arm_id_ctrl": "pbo",
                "outcome": "depression_score",
                "scale": "MADRS",
                "timepoint_h": 24,
                "measure": "MD",
                "estimate": -4.0,
                "se": 2.0,
                "ci_low": np.nan,
                "ci_high": np.nan,
                "ci_level": 0.95,
                "n_treat": 20,
                "n_ctrl": 20,
                "data_basis": "primary",
                "source_id": "trial",
                "locator": "abstract",
            }
        ][: 1 if primary_contrast else 0]
    )
    return studies, arms, outcomes, contrasts


def test_a_primary_contrast_beats_a_secondary_arm_level_row():
    studies, arms, outcomes, contrasts = _mini_package(True, True)
    effects, _ = build_effect_sizes(studies, arms, outcomes, contrasts, ComparisonRules())
    row = effects.squeeze()
    assert (row["source_basis"], row["data_basis"]) == ("primary", "reported MD")
    assert row["contrast_estimate"] == -4.0


def test_a_secondary_row_fills_a_comparison_without_a_primary_one():
    studies, arms, outcomes, contrasts = _mini_package(True, False)
    effects, _ = build_effect_sizes(studies, arms, outcomes, contrasts, ComparisonRules())
    row = effects.squeeze()
    assert (row["source_basis"], row["data_basis"]) == ("secondary", "arm-level")


def test_derived_change_sd_follows_handbook_6_5_2_8():
    rows = pd.DataFrame(
        {
            "study_id": ["T"] * 2,
            "arm_id": ["a"] * 2,
            "outcome": ["depression_score"] * 2,
            "scale": ["MADRS"] * 2,
            "timepoint_h": [0, 24],
            "n": [20, 20],
            "mean": [25.1, 12.7],
            "sd": [8.3, 7.6],
            "sd_used": [8.3, 7.6],
            "sd_source": ["reported"] * 2,
            "se": [np.nan] * 2,
            "ci_low": [np.nan] * 2,
            "ci_high": [np.nan] * 2,
            "events": [np.nan] * 2,
            "value_type": ["endpoint"] * 2,
            "data_basis": ["primary"] * 2,
            "source_id": ["s"] * 2,
            "locator": ["Table 1 day 0", "Table 1 day 1"],
            "derivation": [np.nan] * 2,
        }
    )
    derived = derive_change_rows(rows, 0.5).squeeze()
    assert derived["mean"] == pytest.approx(12.7 - 25.1)
    assert derived["sd_used"] == pytest.approx(np.sqrt(8.3**2 + 7.6**2 - 2 * 0.5 * 8.3 * 7.6))
    assert (derived["value_type"], derived["sd_source"]) == ("change", "imputed")


# --- The miscodings ---------------------------------------------------------------------


def test_suicidal_ideation_response_is_never_depression_response(tables, effects):
    """Grunebaum 2018's SSI response entered the response RR forest and pooled rates."""
    response = effects[effects["outcome"] == "response"]
    assert "Grunebaum2018" not in set(response["study_id"])
    assert not response["scale"].isin(["SSI", "BSS", "MADRS-SI", "SI-unspecified"]).any()
    arms24 = arm_responses(
        tables["outcomes"],
        tables["arms"],
        tables["studies"],
        PROTOCOL.primary_window,
        PROTOCOL.analysis_set,
        RULES.scale_preference,
    )
    assert "Grunebaum2018" not in set(arms24["study_id"])
    assert set(arms24["scale"]) <= set(RULES.scale_preference)


def test_lii2023_enters_as_derived_change_and_only_in_the_surgical_sensitivity_set(tables, effects):
    """Lii 2023's arms differ at baseline: change scores reverse the endpoint's sign."""
    lii = effects[
        (effects["study_id"] == "Lii2023")
        & (effects["outcome"] == "depression_score")
        & (effects["timepoint_h"] == 24)
    ].squeeze()
    assert lii["value_type"] == "change" and lii["sd_source_treat"] == "imputed"
    assert lii["yi"] < 0 and lii["setting"] == "surgical_anaesthesia"
    assert "Lii2023" not in set(select_smd_at(effects, PROTOCOL)["study_id"])
    table = analysis_set_sensitivity(
        tables, RULES, PROTOCOL, CONFIG["sensitivity"]["analysis_sets"], POOLING
    ).set_index("analysis")
    assert "Lii2023" in table.loc["including surgical anaesthesia", "studies"].split(";")
    assert "Lii2023" not in table.loc["primary analysis", "studies"].split(";")


def test_response_forest_prints_its_prediction_interval_on_the_ratio_scale(effects):
    by_study = select_at(effects, "response", "logRR", PROTOCOL)
    pooled = pool_rr_by(by_study, "enantiomer", POOLING, "response")
    figure = forest_plot(
        by_study,
        pooled,
        subgroup="enantiomer",
        subgroup_names={},
        labels=ForestLabels(effect="Risk ratio", model="test", exponentiate=True),
    )
    texts = [t.get_text() for ax in figure.axes for t in ax.texts]
    overall = pooled.set_index("subgroup").loc["overall"]
    # tau2 = 0 over these trials: no prediction interval, and the figure says why (§11).
    assert overall["tau2"] == 0 and overall["pi_note"] in texts
    assert not any("nan" in text for text in texts)
    # Where one is defined it is drawn on the ratio scale, never as log risk ratios.
    pooled.loc[pooled["subgroup"] == "overall", ["pi_low", "pi_high"]] = [np.log(0.5), np.log(4)]
    figure = forest_plot(
        by_study,
        pooled,
        subgroup="enantiomer",
        subgroup_names={},
        labels=ForestLabels(effect="Risk ratio", model="test", exponentiate=True),
    )
    texts = [t.get_text() for ax in figure.axes for t in ax.texts]
    assert "[ 0.50,  4.00]" in texts and f"[{np.log(0.5):5.2f}, {np.log(4):5.2f}]" not in texts


def test_bioavailability_median_counts_each_source_once():
    rows = pd.DataFrame(
        {
            "route": ["IN"] * 5,
            "enantiomer": ["racemic"] * 5,
            "source_id": ["a", "a", "a", "b", "c"],
            "bioavailability_pct": [30.0, 30.0, 30.0, 50.0, 60.0],
            "range_low_pct": [np.nan] * 5,
            "range_high_pct": [np.nan] * 5,
            "cohort": [np.nan] * 5,
        }
    )
    table = bioavailability_by_route(rows, 35.0).squeeze()
    # Over rows the median is 30; over sources (30, 50, 60) it is 50.
    assert table["bioavailability"] == pytest.approx(0.50)
    assert (table["sources"], table["cohorts"]) == (3, 3)


def test_two_sources_of_one_cohort_count_once(tables):
    """The 6-patient sublingual and oral cohort (25 mg against 10 mg IV) reached the package
    through two pages: it counted as two of racemic SL's four sources (issue 19 §7)."""
    table = bioavailability_by_route(tables["bioavailability"], 35.0)
    sl = table.set_index(["route", "enantiomer"]).loc[("SL", "racemic")]
    assert (sl["sources"], sl["cohorts"]) == (4, 3)
    # Cohorts: 29 (n = 8), 30 (n = 3), and the shared cohort's median of 32 and 24, 28.
    assert sl["bioavailability"] == pytest.approx(0.29)


def test_reif2023_esketamine_arm_is_continued_not_after_a_course(tables):
    by_study = relapse_by_study(tables["relapse"], tables["arms"]).set_index(["study_id", "arm_id"])
    assert by_study.loc[("Reif2023", "eskflex"), "regimen"] == "continued"
    assert by_study.loc[("Ekstrand2022", "ket05"), "regimen"] == "after course"


def test_sustain1_strata_are_combined_by_fixed_effect_not_pooled_as_trials(tables):
    by_study = relapse_by_study(tables["relapse"], tables["arms"])
    pooled = relapse_pooled(by_study, tables["relapse"], tables["arms"], POOLING)
    hr = pooled[pooled["regimen"] == "continued vs stopped"].squeeze()
    # Inverse-variance combination of log HR 0.49 [0.29, 0.84] and 0.30 [0.16, 0.55]
    # (SE from each 95% CI), by hand.
    y = np.log([0.49, 0.30])
    se = (np.log([0.84, 0.55]) - np.log([0.29, 0.16])) / (2 * 1.959963984540054)
    w = 1 / se**2
    estimate, half = (w * y).sum() / w.sum(), 1.959963984540054 / np.sqrt(w.sum())
    assert hr["method"] == "FE (strata of one trial)" and hr["test"] == "z"
    assert hr["estimate"] == pytest.approx(np.exp(estimate), rel=1e-9)
    assert hr["ci_low"] == pytest.approx(np.exp(estimate - half), rel=1e-9)
    assert hr["ci_high"] == pytest.approx(np.exp(estimate + half), rel=1e-9)
    assert hr["ci_high"] < 1  # Hartung-Knapp at k = 2 gave 0.02 to 8.7


def test_summary_fits_stop_at_the_longest_follow_up(tables):
    by_study = relapse_by_study(tables["relapse"], tables["arms"]).set_index(["study_id", "arm_id"])
    ekstrand = by_study.loc[("Ekstrand2022", "ket05")]
    assert ekstrand["follow_up_days"] == 365
    reif = by_study.loc[("Reif2023", "eskflex")]
    assert reif["follow_up_days"] == 168 and np.isfinite(reif["relapse_free_day_56"])
    fits = by_study[by_study["data_basis"] == "summary fit"]
    figure = relapse_curves(fits.reset_index(), "route", days=365.0)
    for ax in figure.axes:
        for line in ax.get_lines():
            assert line.get_xdata().max() <= fits["follow_up_days"].max() + 1e-9
    short = fits[fits["follow_up_days"] < 56]
    assert short["relapse_free_day_56"].isna().all()


def test_a_verdict_needs_minimum_information():
    rules = VerdictRules()
    assert rules.insufficient("proportion", 2, 0.0, 1.0)
    assert rules.insufficient("proportion", 5, 0.1, 0.6)  # CI wider than 0.40
    assert rules.insufficient("proportion", 5, 0.3, 0.6) is None
    thin = Finding(
        SUPPORTED, "r", estimate=0.5, ci_low=0.0, ci_high=1.0, k=2, kind="proportion", trials=2
    )
    assert _apply_rules(thin, None, rules).verdict == NOT_TESTABLE


def test_partly_supported_needs_a_quarter_of_the_interval_inside_the_claim():
    # The CI 0.0-0.61 touches the claimed 0.6-1.0 by 0.01 of its 0.61 width: not supported.
    assert range_verdict(0.5, 0.0, 0.61, 0.6, 1.0) == NOT_SUPPORTED
    assert range_verdict(0.5, 0.3, 0.8, 0.6, 1.0) == PARTLY
    assert range_verdict(0.7, 0.3, 0.8, 0.6, 1.0) == SUPPORTED


def test_indirect_evidence_caps_a_verdict_at_partly():
    finding = Finding(SUPPORTED, "in range")
    capped = _apply_rules(finding, "24 h against 8 weeks", VerdictRules())
    assert capped.verdict == PARTLY and "indirect: 24 h against 8 weeks" in capped.reason


def test_as_if_parallel_keeps_the_crossover_trial(tables):
    table = crossover_correlation_sensitivity(tables, RULES, [None, 0.5], POOLING, PROTOCOL)
    parallel, paired = table.iloc[0], table.iloc[1]
    assert parallel["k"] == paired["k"]
    assert parallel["crossover_comparisons"] == paired["crossover_comparisons"] >= 1


def test_time_course_points_are_not_joined_across_trials(tables):
    table = pd.DataFrame(
        {
            "timepoint_h": ["24 h", "7 d", "24 h", "7 d"],
            "arm_type": ["racemic IV", "racemic IV", "placebo (saline)", "placebo (saline)"],
            "proportion": [0.5, 0.3, 0.1, 0.1],
            "ci_low": [0.4, 0.2, 0.05, 0.05],
            "ci_high": [0.6, 0.4, 0.2, 0.2],
            "k": [3, 2, 3, 2],
        }
    )
    figure = response_time_course_plot(table)
    for ax in figure.axes:
        for line in ax.get_lines():
            assert line.get_linestyle() == "None"


# --- Route, enantiomer, control type ---------------------------------------------------


def test_pooled_analyses_never_mix_active_treatment_with_placebo(effects):
    primary = select_smd_at(effects, PROTOCOL)
    assert set(primary["control_type"]) <= {"inert_placebo", "active_placebo"}
    response = select_at(effects, "response", "logRR", PROTOCOL)
    assert set(response["control_type"]) <= {"inert_placebo", "active_placebo"}
    assert (effects["control_type"] == "active_treatment").any()


def test_head_to_head_trial_beside_the_between_trial_difference(tables, effects):
    by_study = select_smd_at(effects, PROTOCOL)
    table = enantiomer_head_to_head(tables, RULES, PROTOCOL, by_study, POOLING)
    within = table[table["evidence"] == "within trial"]
    assert set(within["study_id"]) == {"CorreiaMelo2020"}
    between = table[table["evidence"].str.startswith("between")].squeeze()
    two = by_study[by_study["enantiomer"].isin(["racemic", "esketamine"])]
    x = np.column_stack([np.ones(len(two)), (two["enantiomer"] == "racemic").to_numpy(float)])
    fit = meta_regression(two["yi"], two["vi"], x, ["a", "b"], method="REML", test="knha")
    assert between["estimate"] == pytest.approx(fit.coefficients["estimate"].iloc[1], rel=1e-12)


def test_durability_keeps_post_course_and_maintenance_withdrawal_apart(tables):
    table = durability_evidence(tables["durability_cohorts"], tables["relapse"], tables["arms"])
    classes = table.groupby("id")["evidence_class"].agg(set)
    assert classes["Daly2019"] == {"maintenance_withdrawal"}
    assert classes["Ekstrand2022"] >= {"post_course"}
    assert classes["murrough2013b_6inf"] == {"post_course"}
    assert set(table["evidence_class"]) == {"post_course", "maintenance_withdrawal", "comparator"}


def test_every_outcome_row_is_used_or_excluded_with_a_reason(tables):
    """No arm row vanishes: each enters an effect size or has an exclusion record."""
    effects, excluded = build_effect_sizes(
        tables["studies"], tables["arms"], tables["outcomes"], tables["contrasts"], RULES
    )
    used = set()
    for _, r in effects[effects["data_basis"] == "arm-level"].iterrows():
        sides = r["comparison_id"].split(":", 1)[1].split("-vs-")
        # A combined arm (PROTOCOL.md §8) uses every arm it joins.
        for arm in (a for side in sides for a in side.split("+")):
            used.add((r["study_id"], arm, r["outcome"], r["scale"], float(r["timepoint_h"])))
    reasons = {
        (r.study_id, r.arm_id, r.outcome, r.scale, float(r.timepoint_h))
        for r in excluded.itertuples()
    }
    for r in tables["outcomes"].itertuples():
        key = (r.study_id, r.arm_id, r.outcome, r.scale, float(r.timepoint_h))
        assert key in used or key in reasons, key
    assert excluded["reason"].str.len().gt(0).all()


def test_default_comparison_rules_are_the_configured_protocol():
    assert list(ComparisonRules().scale_preference) == CONFIG["comparisons"]["scale_preference"]


def test_reproductions_judge_agreement_by_the_difference_and_its_ci():
    table = pd.read_csv(REPO / "results/tables/reproductions.csv").set_index("reproduction")
    done = table[table["ours_k"] > 0]
    ratio = done["measure"].isin(["OR", "RR"])
    published = np.where(ratio, np.log(done["published"]), done["published"])
    ours = np.where(ratio, np.log(done["ours"]), done["ours"])
    np.testing.assert_allclose(done["difference"], ours - published, rtol=1e-9)
    inside = (done["difference_ci_low"] <= 0) & (0 <= done["difference_ci_high"])
    judged = done["agreement"] != "not comparable"
    assert (done.loc[judged, "agreement"] == np.where(inside[judged], "agree", "differ")).all()
    # Cochrane's placebo and midazolam comparisons are reproduced apart.
    assert set(table.loc["cochrane2021_smd_24h", "ours_trials"].split(";")).isdisjoint(
        table.loc["cochrane2021_smd_24h_midazolam", "ours_trials"].split(";")
    )
    specs = {
        p.stem: yaml.safe_load(p.read_text())
        for p in (REPO / "config/reproductions").glob("*.yaml")
    }
    assert specs["cochrane2021_smd_24h"]["ours"]["controls"] == ["saline_placebo"]
    assert specs["kishimoto2016_g_day1"]["ours"]["published_before"] == 2015


def test_config_readme_parameter_table_is_current():
    """config/README.md is what tools/config_readme.py writes from the schema and config."""
    result = subprocess.run(
        [sys.executable, "tools/config_readme.py", "--check"], cwd=REPO, capture_output=True
    )
    assert result.returncode == 0, "config/README.md is stale: run python tools/config_readme.py"
    text = (REPO / "config/README.md").read_text()
    assert '| `pooling.method` | `"REML"` |' in text and "§11" in text
