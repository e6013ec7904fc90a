"""The headline (``figures.headline``) of results tables written here, with every cell known.

``test_report_pages.py`` checks the headline of the committed tables against the landing page
and the README; here the tables are a few rows made up for the test (made-up numbers), so
that each rule has its expected text: which rows come first and how they are named, a pool
below the minimum shown as its trials with their Wald intervals, risk ratios on their
scale, and the caveats in words.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd
import pytest

from conftest import CONFIG, REPO
from ketamine_meta.analyses.protocol import Pooling
from ketamine_meta.figures.headline import (
    HeadlineRow,
    headline,
    headline_markdown,
    headline_tables,
)
from ketamine_meta.io.outputs import REGISTRY_FILE, read_registry

#: The configuration's pooling, built once; the tests below set its level to 90%.
POOLING = Pooling.from_config(CONFIG["pooling"])
AT_90 = replace(POOLING, model=replace(POOLING.model, level=0.9))
#: The normal quantile of a two-sided 90% interval.
Z90 = 1.6448536269514722


def pooled(*rows: dict) -> pd.DataFrame:
    """A pooled table: every row REML with the ad hoc test, no display, a prediction interval."""
    base = {
        "k": 2,
        "trials": 2,
        "n": 100,
        "method": "REML",
        "test": "adhoc",
        "display": None,
        "pi_low": -0.1,
        "pi_high": 0.9,
        "pi_note": None,
    }
    return pd.DataFrame([{**base, **row} for row in rows])


def by_study(*rows: tuple) -> pd.DataFrame:
    columns = ["label", "yi", "vi", "route", "enantiomer", "control_type"]
    return pd.DataFrame(rows, columns=columns)


SMD_BY_STUDY = by_study(
    ("Bell 2021", 0.5, 0.04, "IV", "racemic", "active_placebo"),
    ("Ames 2020", 0.3, 0.09, "IV", "racemic", "inert_placebo"),
    ("Cole 2022", 0.2, 0.01, "IN", "esketamine", "inert_placebo"),
)


def tables(**changes: pd.DataFrame) -> dict[str, pd.DataFrame]:
    base = {
        "pooled_by_route": pooled(
            {
                "subgroup": "IN",
                "k": 1,
                "trials": 1,
                "n": 40,
                "estimate": 0.2,
                "ci_low": 0.0,
                "ci_high": 0.4,
                "display": "1 trial, fewer than 3: not pooled",
            },
            {
                "subgroup": "IV",
                "estimate": 0.44,
                "ci_low": 0.1,
                "ci_high": 0.78,
                "pi_note": "tau² = 0: the PI equals the CI",
            },
            {
                "subgroup": "test for subgroup differences",
                "estimate": 1.0,
                "ci_low": 0.0,
                "ci_high": 2.0,
            },
            {
                "subgroup": "overall",
                "k": 3,
                "trials": 3,
                "n": 140,
                "estimate": 0.3,
                "ci_low": 0.05,
                "ci_high": 0.55,
            },
        ),
        "pooled_by_enantiomer": pooled(
            {
                "subgroup": "overall",
                "k": 3,
                "trials": 3,
                "n": 140,
                "estimate": 0.3,
                "ci_low": 0.05,
                "ci_high": 0.55,
            },
            {"subgroup": "racemic", "estimate": 0.44, "ci_low": 0.1, "ci_high": 0.78},
        ),
        "rr_by_enantiomer": pooled(
            {
                "subgroup": "overall",
                "estimate": math.log(2.0),
                "ci_low": math.log(1.25),
                "ci_high": math.log(3.2),
                "pi_low": math.log(0.8),
                "pi_high": math.log(5.0),
            },
        ),
        "smd_by_study": SMD_BY_STUDY,
        "rr_by_study": by_study(("Ames 2020", math.log(2.0), 0.1, "IV", "racemic", "x")),
        "head_to_head": pd.DataFrame(
            columns=[
                "evidence",
                "study_id",
                "n_racemic",
                "n_esketamine",
                "estimate",
                "ci_low",
                "ci_high",
            ]
        ),
        "publication_bias": pd.DataFrame(
            [
                {
                    "test": "Egger regression (sei)",
                    "level": "trials",
                    "k": 12,
                    "statistic": 2.345,
                    "pval": 0.0004,
                    "estimate": 0.06,
                    "ci_low": -0.27,
                    "ci_high": 0.39,
                    "note": "few trials: read with care",
                },
                {
                    "test": "Begg rank correlation",
                    "level": "trials",
                    "k": 12,
                    "statistic": 0.7,
                    "pval": 0.005,
                    "estimate": None,
                    "ci_low": None,
                    "ci_high": None,
                    "note": None,
                },
            ]
        ),
        "summary_of_findings": pd.DataFrame(
            columns=["comparator", "certainty", "downgrade_risk_of_bias", "risk_of_bias"]
        ),
    }
    return {**base, **changes}


def test_the_tables_read_are_named_by_the_registry_of_outputs():
    names = headline_tables(read_registry(REPO / REGISTRY_FILE))
    assert names["pooled_by_route"] == "pooled_smd_24h_by_route"
    assert names["rr_by_study"] == "rr_response_24h_by_study"
    assert names["summary_of_findings"] == "summary_of_findings"
    assert set(names) == set(tables())


def test_the_overall_row_comes_first_and_the_subgroup_test_is_no_row():
    result = headline(tables(), AT_90)
    labels = [row.label for row in result.smd_rows]
    # Route rows, then the enantiomer rows without a second "all trials".
    assert labels == [
        "all trials",
        "route: intranasal",
        "route: intravenous",
        "enantiomer: racemic",
    ]
    assert result.smd_rows[0] == HeadlineRow(
        "all trials", 3, 3, 140, "0.30 [0.05, 0.55]", "[-0.10, 0.90]"
    )
    assert result.smd_rows[2].prediction == "tau² = 0: the PI equals the CI"


def test_a_route_without_a_word_keeps_its_code():
    route = pooled(
        {"subgroup": "overall", "estimate": 0.3, "ci_low": 0.0, "ci_high": 0.6},
        {"subgroup": "SC", "estimate": 0.3, "ci_low": 0.0, "ci_high": 0.6},
    )
    rows = headline(tables(pooled_by_route=route), AT_90).smd_rows
    assert rows[1].label == "route: SC"


def test_a_pool_below_the_minimum_shows_its_trials_with_wald_intervals_at_the_level():
    """Cole 2022: 0.2 -/+ 1.645 x sqrt(0.01) = [0.04, 0.36] at 90%."""
    row = headline(tables(), AT_90).smd_rows[1]
    half = Z90 * 0.1
    assert row.estimate == (
        f"1 trial, fewer than 3: not pooled: Cole 2022 0.20 [{0.2 - half:.2f}, {0.2 + half:.2f}]"
    )
    assert row.estimate.endswith("[0.04, 0.36]")


def test_the_trials_of_an_overall_pool_below_the_minimum_are_listed_by_label():
    route = pooled(
        {
            "subgroup": "overall",
            "estimate": 0.3,
            "ci_low": 0.0,
            "ci_high": 0.6,
            "display": "too few",
        }
    )
    (row,) = headline(tables(pooled_by_route=route), AT_90).smd_rows[:1]
    assert row.estimate == (
        "too few: Ames 2020 0.30 [-0.19, 0.79]; Bell 2021 0.50 [0.17, 0.83]; "
        "Cole 2022 0.20 [0.04, 0.36]"
    )


def test_risk_ratios_are_shown_on_their_own_scale():
    (row,) = headline(tables(), AT_90).rr_rows
    assert (row.estimate, row.prediction) == ("2.00 [1.25, 3.20]", "[0.80, 5.00]")


def test_the_model_level_and_timepoint_are_the_configuration_s():
    result = headline(tables(), POOLING)
    assert (
        result.model
        == "τ² by REML, ad hoc Hartung-Knapp confidence intervals (never narrower than Wald)"
    )
    assert result.level == POOLING.model.level
    assert result.timepoint == f"{POOLING.timepoint_h:g} h"


def test_the_caveats_name_the_confounding_and_the_small_study_test():
    confounding, head_to_head, small_studies = headline(tables(), AT_90).statements
    assert confounding == (
        "Route, enantiomer and control type are confounded in these trials: every intranasal "
        "comparison is against inert placebo; every intravenous comparison is against active "
        "placebo (midazolam) or inert placebo; every esketamine comparison is intranasal; "
        "every racemic comparison is intravenous. A difference between subgroups may come from "
        "any of the three, or from the populations and eras of the trials (PROTOCOL.md §12)."
    )
    assert head_to_head == "No trial compares racemic ketamine with esketamine directly."
    assert small_studies == (
        "Small-study effects: over trials (k = 12), Egger's t = 2.35, p < 0.001, and the "
        "estimate for a trial of infinite size is 0.06 [-0.27, 0.39]. Few trials: read with care."
    )


def test_a_trial_comparing_the_enantiomers_is_named_with_the_between_trial_difference():
    head_to_head = pd.DataFrame(
        [
            {
                "evidence": "within trial",
                "study_id": "Dunn2020",
                "n_racemic": 29,
                "n_esketamine": 34,
                "estimate": 0.12,
                "ci_low": -0.37,
                "ci_high": 0.62,
            },
            {
                "evidence": "between trials (subgroup difference)",
                "study_id": None,
                "n_racemic": 207,
                "n_esketamine": 1209,
                "estimate": 0.3,
                "ci_low": -0.04,
                "ci_high": 0.64,
            },
        ]
    )
    statement = headline(tables(head_to_head=head_to_head), AT_90).statements[1]
    assert statement == (
        "One trial compares racemic ketamine with esketamine directly (Dunn2020, 29 and 34 "
        "patients): g 0.12 [-0.37, 0.62], racemic minus esketamine. Between trials, the "
        "difference in g is 0.30 [-0.04, 0.64], confounded as above."
    )


def test_the_certainty_names_each_downgrade_with_its_reason():
    reasons = ("risk_of_bias", "inconsistency", "indirectness", "imprecision", "publication_bias")
    row = {"comparator": "inert or active placebo", "certainty": "low"}
    for name in reasons:
        row[f"downgrade_{name}"] = 0
        row[name] = f"{name} fine"
    row |= {"downgrade_risk_of_bias": 1, "risk_of_bias": "4 trials at high risk"}
    row |= {"downgrade_publication_bias": 1, "publication_bias": "Egger p = 0.014"}
    other = {**row, "comparator": "midazolam", "certainty": "very low"}
    sof = pd.DataFrame([other, row])
    statement = headline(tables(summary_of_findings=sof), AT_90).statements[-1]
    assert statement == (
        "Certainty of the overall estimate at 24 h (GRADE): low, downgraded for risk of bias "
        "(4 trials at high risk); publication bias (Egger p = 0.014)."
    )


def test_without_a_rated_overall_row_no_certainty_is_claimed():
    assert len(headline(tables(), AT_90).statements) == 3


def test_the_markdown_block_has_both_tables_at_the_level_and_escapes_bars():
    route = pooled(
        {"subgroup": "overall", "estimate": 0.3, "ci_low": 0.05, "ci_high": 0.55},
        {"subgroup": "A|B", "estimate": 0.3, "ci_low": 0.05, "ci_high": 0.55},
    )
    text = headline_markdown(headline(tables(pooled_by_route=route), AT_90))
    lines = text.splitlines()
    assert lines[0].startswith("Headline at 24 h: random-effects models (τ² by REML, ad hoc")
    assert "| subgroup | k (trials) | n | Hedges' g [90% CI] | prediction interval |" in lines
    assert "|---|---|---|---|---|" in lines
    assert "| subgroup | k (trials) | n | risk ratio of response [90% CI] |" in lines
    assert "| all trials | 2 (2) | 100 | 0.30 [0.05, 0.55] | [-0.10, 0.90] |" in lines
    assert "| route: A\\|B | 2 (2) | 100 | 0.30 [0.05, 0.55] | [-0.10, 0.90] |" in lines
    assert lines[-1].startswith("- Small-study effects:")


@pytest.mark.parametrize("level", [0.9, 0.95])
def test_the_wald_intervals_of_the_trials_widen_with_the_level(level):
    pooling = replace(POOLING, model=replace(POOLING.model, level=level))
    estimate = headline(tables(), pooling).smd_rows[1].estimate
    low, high = (float(x) for x in estimate.rsplit("[", 1)[1].rstrip("]").split(", "))
    half = pooling.model.crit() * 0.1
    assert (low, high) == (round(0.2 - half, 2), round(0.2 + half, 2))
