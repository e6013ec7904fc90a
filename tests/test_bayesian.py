"""The Bayesian question (:mod:`ketamine_meta.analyses.bayesian`, PROTOCOL.md §23): each table
row is the engine's posterior of exactly the trials of the frequentist row beside it, on small
hand-made comparison tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from conftest import CONFIG
from ketamine_meta.analyses import bayesian
from ketamine_meta.analyses.pooling import fit_trials, trial_means
from ketamine_meta.analyses.protocol import Pooling
from ketamine_meta.stats.bayes import BayesSpec, bayesian_meta_analysis
from ketamine_meta.stats.bayes_priors import HalfNormalPrior, LogNormalTau2Prior, LogTTau2Prior

POOLING = Pooling.from_config(CONFIG["pooling"])
BAYES = bayesian.BayesianProtocol.from_config(CONFIG["bayesian"])

#: Five comparisons of four trials (B has two arms against one control: combined per trial).
BY_STUDY = pd.DataFrame(
    {
        "study_id": ["A", "B", "B", "C", "D"],
        "comparison_id": ["A:1", "B:1", "B:2", "C:1", "D:1"],
        "route": ["IN", "IN", "IN", "IV", "IV"],
        "enantiomer": ["esketamine", "esketamine", "esketamine", "racemic", "racemic"],
        "control_type": ["inert_placebo"] * 3 + ["active_placebo"] * 2,
        "yi": [0.4, 0.6, 0.5, 0.9, 0.3],
        "vi": [0.03, 0.05, 0.05, 0.08, 0.06],
        "n_total": [100, 60, 60, 40, 50],
        "year": [2019, 2018, 2018, 2013, 2020],
    }
)


def test_the_configured_protocol_is_section_23():
    assert BAYES.primary("SMD").tau_prior == LogTTau2Prior(-2.99, 2.16, 5)
    assert BAYES.primary("logRR").tau_prior == LogNormalTau2Prior(-2.12, 1.53)
    assert [p.tau_prior for p in BAYES.priors["SMD"][1:]] == [
        HalfNormalPrior(0.5),
        LogTTau2Prior(-3.44, 2.59, 5),
    ]
    assert BAYES.thresholds == {"SMD": (0.0, 0.2, 0.5), "logRR": (1.0, 1.25)}
    assert BAYES.level == 0.95


def test_each_row_is_the_posterior_of_the_trials_beside_its_frequentist_fit():
    table = bayesian.posterior_by_subgroup(BY_STUDY, "SMD", "smd", BAYES, POOLING)
    assert len(table) == (2 + 2 + 2 + 1) * 3  # route, enantiomer, control type, overall x priors
    row = table[(table["moderator"] == "overall") & (table["prior"] == "halfnormal_0.5")].iloc[0]
    means = trial_means(BY_STUDY)
    fit = bayesian_meta_analysis(means["yi"], means["vi"], BayesSpec(HalfNormalPrior(0.5)))
    summary = fit.summary([0.0, 0.2, 0.5])
    assert (row["trials"], row["k"]) == (4, 5)
    assert row["estimate"] == pytest.approx(summary["mu_median"], abs=1e-14)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(
        (summary["ci_low"], summary["ci_high"]), abs=1e-14
    )
    assert row["prob_above_0.5"] == pytest.approx(summary["prob_above_0.5"], abs=1e-14)
    frequentist, _ = fit_trials(BY_STUDY, POOLING)
    assert row["freq_estimate"] == pytest.approx(frequentist.estimate, abs=1e-14)
    assert row["freq_ci_high"] == pytest.approx(frequentist.ci_high, abs=1e-14)
    assert row["prior_role"] == "sensitivity"


def test_risk_ratios_are_reported_as_ratios_and_thresholds_taken_as_ratios():
    rr = BY_STUDY.assign(yi=[0.7, 1.1, 0.9, 0.5, 0.2], vi=[0.2, 0.4, 0.4, 0.3, 0.5])
    table = bayesian.posterior_by_subgroup(rr, "logRR", "rr", BAYES, POOLING)
    row = table[(table["moderator"] == "overall") & (table["prior_role"] == "primary")].iloc[0]
    means = trial_means(rr)
    fit = bayesian_meta_analysis(
        means["yi"], means["vi"], BayesSpec(LogNormalTau2Prior(-2.12, 1.53))
    )
    assert row["estimate"] == pytest.approx(math.exp(fit.coefficient().quantile(0.5)), rel=1e-13)
    assert row["prob_above_1.25"] == pytest.approx(fit.prob_above(math.log(1.25)), abs=1e-14)
    assert row["prob_above_1"] == pytest.approx(fit.prob_above(0.0), abs=1e-14)


def test_a_one_trial_row_says_its_heterogeneity_is_the_prior():
    table = bayesian.posterior_by_subgroup(BY_STUDY, "SMD", "smd", BAYES, POOLING)
    one = table[table["trials"] == 1]
    assert one.empty  # every level here has two trials
    single = bayesian.posterior_by_subgroup(
        BY_STUDY[BY_STUDY["study_id"] == "A"], "SMD", "smd", BAYES, POOLING
    )
    assert set(single["note"]) == {bayesian.ONE_TRIAL_NOTE}


def test_racemic_against_esketamine_keeps_within_and_between_apart():
    pairs = pd.DataFrame(
        {
            "study_id": ["E"],
            "comparison_id": ["E:1"],
            "measure": ["SMD"],
            "yi": [0.12],
            "vi": [0.06],
        }
    )
    table = bayesian.racemic_against_esketamine(pairs, {"SMD": BY_STUDY, "logRR": BY_STUDY}, BAYES)
    within = table[
        (table["evidence"] == "within trial") & (table["prior"] == "rhodes2015_mental_health")
    ].iloc[0]
    fit = bayesian_meta_analysis([0.12], [0.06], BayesSpec(LogTTau2Prior(-2.99, 2.16, 5)))
    assert within["prob_racemic_better"] == pytest.approx(fit.prob_above(0.0), abs=1e-14)
    assert within["note"] == bayesian.ONE_TRIAL_NOTE
    between = table[
        (table["evidence"] == "between trials (meta-regression)") & (table["measure"] == "g")
    ]
    assert len(between) == 3 and (between["trials"] == 4).all()
    means = trial_means(BY_STUDY, within=["enantiomer"])
    racemic = (means["enantiomer"] == "racemic").to_numpy(float)
    regression = bayesian_meta_analysis(
        means["yi"], means["vi"], BayesSpec(LogTTau2Prior(-2.99, 2.16, 5)), mods=racemic
    )
    assert between.iloc[0]["prob_racemic_better"] == pytest.approx(
        regression.coefficient(1).sf(0.0), abs=1e-14
    )
    assert between.iloc[0]["estimate"] == pytest.approx(
        regression.coefficient(1).quantile(0.5), abs=1e-14
    )
    assert "confounded" in between.iloc[0]["note"]
    # Response has no head-to-head rows here: only its between-trial rows.
    assert set(table.loc[table["measure"] == "RR", "evidence"]) == {
        "between trials (meta-regression)"
    }


def test_shrunken_trials_lie_between_the_trial_and_the_pooled_posterior():
    table = bayesian.shrunken_trials(BY_STUDY, BAYES)
    trials = table[table["row"] == "trial"]
    overall = table[table["row"] == "overall"].iloc[0]
    assert list(trials["study_id"]) == ["A", "B", "C", "D"]
    np.testing.assert_allclose(
        trials["observed_low"], trials["yi"] - 1.959963984540054 * np.sqrt(trials["vi"]), rtol=1e-14
    )
    shrink = (trials["theta_median"] - overall["theta_median"]) / (
        trials["yi"] - overall["theta_median"]
    )
    assert ((shrink > 0) & (shrink < 1)).all()
    new_trial = table[table["row"] == "new trial"].iloc[0]
    assert (
        new_trial["theta_high"] - new_trial["theta_low"]
        > overall["theta_high"] - overall["theta_low"]
    )


def test_density_curves_are_the_posteriors_and_the_priors():
    curves = bayesian.density_curves(BY_STUDY, BAYES, ["route"])
    mu = curves[(curves["quantity"] == "mu") & (curves["subgroup"] == "overall")]
    assert len(mu) == bayesian.CURVE_POINTS
    # From its 0.1 % to its 99.9 % quantile: 99.8 % of the mass.
    assert np.trapezoid(mu["density"], mu["x"]) == pytest.approx(0.998, abs=2e-4)
    prior = curves[
        (curves["quantity"] == "tau")
        & (curves["curve"] == "prior")
        & (curves["prior"] == "halfnormal_0.5")
    ]
    np.testing.assert_allclose(
        prior["density"], np.exp(HalfNormalPrior(0.5).log_density(prior["x"])), rtol=1e-14
    )
    assert set(curves.loc[curves["quantity"] == "mu", "subgroup"]) == {"IN", "IV", "overall"}


def test_claim_probabilities_answer_each_threshold_claim_under_each_prior():
    audit = pd.DataFrame(
        {
            "claim_id": ["C1", "C2", "C3", "C4", "C5"],
            "quantity": ["g 0.6-1.0", "2-3x SSRIs", "racemic better", "routes equal", "other"],
            "test": [
                "smd_overall_range",
                "smd_ratio_to_benchmark",
                "racemic_vs_esketamine",
                "routes_no_difference",
                "peak_at_24h",
            ],
            "verdict": ["not supported", "not supported", "partly supported", "partly", "x"],
            "computed": ["g = ...", "ratio ...", "...", "...", "..."],
        }
    )
    claims = pd.DataFrame(
        {
            "claim_id": ["C1", "C2", "C3", "C4", "C5"],
            "value_low": [0.6, 2.0, np.nan, np.nan, 24],
            "value_high": [1.0, 3.0, np.nan, np.nan, 24],
        }
    )
    pairs = pd.DataFrame(
        {
            "study_id": ["E"],
            "comparison_id": ["E:1"],
            "measure": ["SMD"],
            "yi": [0.12],
            "vi": [0.06],
        }
    )
    enantiomer = bayesian.racemic_against_esketamine(
        pairs, {"SMD": BY_STUDY, "logRR": BY_STUDY}, BAYES
    )
    table = bayesian.claim_probabilities(audit, claims, BY_STUDY, enantiomer, 0.3, 0.2, 0.2, BAYES)
    assert list(table.groupby("claim_id", sort=False).size()) == [3, 3, 6, 3]
    means = trial_means(BY_STUDY)
    mu = bayesian_meta_analysis(
        means["yi"], means["vi"], BayesSpec(LogTTau2Prior(-2.99, 2.16, 5))
    ).coefficient()
    first = table.iloc[0]
    assert first["question"] == "P(0.6 <= g <= 1)"
    assert first["probability"] == pytest.approx(mu.cdf(1.0) - mu.cdf(0.6), abs=1e-14)
    ratio = table[table["claim_id"] == "C2"].iloc[0]
    assert ratio["probability"] == pytest.approx(mu.cdf(0.9) - mu.cdf(0.6), abs=1e-14)
    routes = table[table["claim_id"] == "C4"].iloc[0]
    by_route = trial_means(BY_STUDY, within=["route"])
    iv = (by_route["route"] == "IV").to_numpy(float)
    difference = bayesian_meta_analysis(
        by_route["yi"], by_route["vi"], BayesSpec(LogTTau2Prior(-2.99, 2.16, 5)), mods=iv
    ).coefficient(1)
    assert routes["probability"] == pytest.approx(
        difference.cdf(0.2) - difference.cdf(-0.2), abs=1e-14
    )
    assert (table["verdict"].iloc[:3] == "not supported").all()


def test_without_both_enantiomers_the_tables_are_empty_but_keep_their_columns():
    """A package (or timepoint) with no head-to-head trial and one enantiomer: no row, but the
    columns a reader and the claims step expect (the 28-day test package has none)."""
    esketamine = BY_STUDY[BY_STUDY["enantiomer"] == "esketamine"]
    no_pairs = pd.DataFrame(columns=["study_id", "comparison_id", "measure", "yi", "vi"])
    table = bayesian.racemic_against_esketamine(
        no_pairs, {"SMD": esketamine, "logRR": esketamine}, BAYES
    )
    assert table.empty and list(table.columns) == bayesian.ENANTIOMER_COLUMNS
    audit = pd.DataFrame(
        {
            "claim_id": ["C3"],
            "quantity": ["racemic better"],
            "test": ["racemic_vs_esketamine"],
            "verdict": ["not testable with these data"],
            "computed": [""],
        }
    )
    claims = pd.DataFrame({"claim_id": ["C3"], "value_low": [np.nan], "value_high": [np.nan]})
    answers = bayesian.claim_probabilities(audit, claims, esketamine, table, 0.3, 0.2, 0.2, BAYES)
    assert answers.empty and list(answers.columns) == bayesian.CLAIM_COLUMNS
