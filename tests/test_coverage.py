"""What the data package covers (:mod:`ketamine_meta.analyses.coverage`): trials with outcome
data by route, enantiomer and timepoint window, counted on small hand-made tables."""

from __future__ import annotations

import pandas as pd

from conftest import REPO, validated_package
from ketamine_meta.analyses.coverage import (
    EFFICACY_OUTCOMES,
    TIMEPOINT_LABELS,
    coverage_markdown,
    coverage_table,
)

ARMS = pd.DataFrame(
    {
        "study_id": ["A", "A", "B", "B", "C", "C", "D", "D"],
        "drug": [
            "racemic_ketamine",
            "saline",
            "esketamine",
            "intranasal_placebo",
            "racemic_ketamine",
            "esketamine",
            "arketamine",
            "saline",
        ],
        "route": ["IV", "IV", "IN", "IN", "IV", "IN", "IV", "IV"],
    }
)
OUTCOMES = pd.DataFrame(
    {
        "study_id": ["A", "A", "A", "B", "B", "C", "D"],
        "outcome": [
            "depression_score",
            "depression_score",
            "response",
            "depression_score",
            "dropout",
            "remission",
            "depression_score",
        ],
        # A at baseline (not counted), 24 h and 24 h again; B at 4 h and a dropout at 7 d
        # (safety, not counted); C at 28 d; D only at baseline.
        "timepoint_h": [0, 24, 24, 4, 168, 672, 0],
    }
)
CONTRASTS = pd.DataFrame({"study_id": ["B"], "timepoint_h": [1000]})


def test_counts_trials_by_route_enantiomer_and_window():
    table = coverage_table(ARMS, OUTCOMES, CONTRASTS)
    assert list(table.columns) == ["trials", *TIMEPOINT_LABELS]
    expected = pd.DataFrame(
        # trials, ≤4 h, 24 h, 48-96 h, 7 d, 14 d, 21-28 d, >28 d
        [
            [2, 1, 0, 0, 0, 0, 1, 1],  # IN esketamine: B at 4 h and 1000 h (contrast), C at 28 d
            [1, 0, 0, 0, 0, 0, 0, 0],  # IV arketamine: D has baseline data only
            [2, 0, 1, 0, 0, 0, 1, 0],  # IV racemic: A at 24 h (once), C at 28 d
        ],
        index=pd.MultiIndex.from_tuples(
            [("IN", "esketamine"), ("IV", "arketamine"), ("IV", "racemic")],
            names=["route", "enantiomer"],
        ),
        columns=["trials", *TIMEPOINT_LABELS],
    )
    pd.testing.assert_frame_equal(table, expected, check_dtype=False, check_names=False)


def test_dropouts_are_not_efficacy_data():
    assert "dropout" not in EFFICACY_OUTCOMES
    only_dropout = OUTCOMES[OUTCOMES["outcome"] == "dropout"]
    table = coverage_table(ARMS, only_dropout, CONTRASTS.iloc[:0])
    assert (table[TIMEPOINT_LABELS] == 0).all().all()
    # Trial C (racemic IV and esketamine IN arms) counts once in each of its rows.
    assert table["trials"].tolist() == [2, 1, 2]


def test_markdown_rendering():
    text = coverage_markdown(coverage_table(ARMS, OUTCOMES, CONTRASTS))
    lines = text.splitlines()
    assert lines[0] == "| route | enantiomer | trials | " + " | ".join(TIMEPOINT_LABELS) + " |"
    assert lines[1] == "|" + " --- |" * (3 + len(TIMEPOINT_LABELS))
    assert lines[2] == "| IN | esketamine | 2 | 1 | 0 | 0 | 0 | 0 | 1 | 1 |"
    assert lines[4] == "| IV | racemic | 2 | 0 | 1 | 0 | 0 | 0 | 1 | 0 |"
    assert text.endswith("\n") and len(lines) == 5


def test_the_package_coverage_is_within_its_trial_counts():
    """On the repository's package: no window counts more trials than the row has."""
    tables = validated_package(REPO / "data/raw")
    table = coverage_table(tables["arms"], tables["outcomes"], tables["contrasts"])
    assert table.loc[("IN", "esketamine"), "24 h"] >= 1
    assert (table[TIMEPOINT_LABELS].le(table["trials"], axis=0)).all().all()
