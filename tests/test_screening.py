"""Screening (:mod:`ketamine_meta.analyses.screening`): the PRISMA 2020 flow counts and the
exclusion reasons grouped, from a hand-made screening log."""

from __future__ import annotations

import pandas as pd

from conftest import REPO, validated_package
from ketamine_meta.analyses.screening import EXCLUSION_GROUPS, prisma_counts

SCREENING = pd.DataFrame(
    {
        "candidate_id": ["A", "B", "B", "C", "D", "E", "F", "G", "H"],
        "decision": [
            "include",
            "unclear",
            "include",  # a later record settles B
            "exclude",
            "exclude",
            "exclude",
            "unclear",
            "exclude",
            "include",  # H is included but not yet extracted
        ],
        "reason": [
            "",
            "no full text",
            "RCT in TRD",
            "Not randomized (open label)",
            "Adolescents only",
            "Duplicate report of A",
            "awaiting results",
            "wrong outcome",
            "",
        ],
    }
)
STUDIES = pd.DataFrame({"study_id": ["A", "B", "Z"]})  # Z has no screening record
BY_STUDY = pd.DataFrame({"study_id": ["A", "A", "B"]})
RELAPSE = pd.DataFrame({"study_id": ["B"]})


def test_the_flow_counts():
    counts, _ = prisma_counts(SCREENING, STUDIES, BY_STUDY, RELAPSE)
    assert counts == {
        "records": 9,
        "candidates": 9,  # A-H and Z
        "excluded": 4,
        "unclear": 1,
        "included": 4,  # A, B, H and Z
        "extracted": 3,
        "to_extract": 1,
        "in_primary": 2,
        "with_relapse": 1,
    }


def test_exclusions_are_grouped_by_reason_most_frequent_first():
    _, reasons = prisma_counts(SCREENING, STUDIES, BY_STUDY, RELAPSE)
    assert list(reasons.items()) == [
        ("children or adolescents", 1),
        ("duplicate or secondary report", 1),
        ("not randomized", 1),
        ("other", 1),
    ]
    more = pd.concat(
        [
            SCREENING,
            pd.DataFrame(
                {"candidate_id": ["J"], "decision": ["exclude"], "reason": ["Secondary analysis"]}
            ),
        ]
    )
    _, reasons = prisma_counts(more, STUDIES, BY_STUDY, RELAPSE)
    assert next(iter(reasons.items())) == ("duplicate or secondary report", 2)


def test_a_trial_in_the_package_counts_as_included_whatever_the_log_says():
    log = SCREENING.assign(
        decision=SCREENING["decision"].where(SCREENING["candidate_id"] != "A", "exclude")
    )
    counts, reasons = prisma_counts(log, STUDIES, BY_STUDY, RELAPSE)
    assert counts["included"] == 4 and counts["excluded"] == 4
    assert sum(reasons.values()) == 4


def test_every_group_of_reasons_is_named():
    assert {group for _, group in EXCLUSION_GROUPS} == {
        "not randomized",
        "not a depressive episode",
        "children or adolescents",
        "duplicate or secondary report",
        "no results published",
    }


def test_the_package_flow_is_consistent():
    tables = validated_package(REPO / "data/raw")
    counts, reasons = prisma_counts(
        tables["screening"], tables["studies"], tables["studies"], tables["relapse"]
    )
    assert counts["extracted"] == tables["studies"]["study_id"].nunique()
    assert counts["included"] == counts["extracted"] + counts["to_extract"]
    assert counts["candidates"] >= counts["included"] + counts["excluded"] + counts["unclear"]
    assert sum(reasons.values()) == counts["excluded"]
