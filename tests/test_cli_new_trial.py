"""The rows ``new-trial`` makes (:mod:`ketamine_meta.cli.new_trial`), from its functions.

tests/test_new_trial.py runs the command end to end on a copy of the package; here the
skeleton is built from a parsed command line and checked cell by cell.
"""

from __future__ import annotations

import argparse
import shutil

import pytest

from conftest import REPO, validated_package
from ketamine_meta.cli import new_trial
from ketamine_meta.cli.errors import UsageError
from ketamine_meta.evidence.completeness import PLACEHOLDER

COMPARATORS = frozenset({"saline_placebo", "midazolam"})
COMMAND = [
    "new-trial",
    "Smith2027b",
    "--package",
    "data/raw",
    "--arm",
    "ket05:racemic_ketamine:IV:0.5:mg_per_kg",
    "--arm",
    "mdz:midazolam:IV:0.045:mg_per_kg",
    "--source-id",
    "smith2027_pmc",
    "--url",
    "https://example.org/smith2027",
    "--citation",
    "Smith A et al. A trial. J 2027",
]


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    new_trial.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(list(argv))


def rows_of(args: argparse.Namespace, source_known: bool = False) -> dict:
    match = new_trial.STUDY_ID.fullmatch(args.study_id)
    return new_trial.skeleton_rows(args, match, source_known, COMPARATORS)


def test_the_study_id_is_author_then_year():
    match = new_trial.STUDY_ID.fullmatch("Smith2027b")
    assert (match["author"], match["year"]) == ("Smith", "2027")
    for bad in ("smith2027", "Smith27", "Smith2027bb", "2027Smith"):
        assert new_trial.STUDY_ID.fullmatch(bad) is None, bad


def test_the_skeleton_of_each_table():
    rows = rows_of(parse(*COMMAND))
    assert sorted(rows) == ["arms", "extraction_gaps", "screening", "sources", "studies"]
    assert rows["sources"] == [
        {
            "source_id": "smith2027_pmc",
            "citation": "Smith A et al. A trial. J 2027",
            "url": "https://example.org/smith2027",
            "source_kind": "journal",
        }
    ]
    study = rows["studies"][0]
    assert (study["study_id"], study["year"], study["design"], study["population"]) == (
        "Smith2027b",
        "2027",
        "parallel",
        "TRD",
    )
    assert [
        (a["arm_id"], a["drug"], a["route"], a["dose"], a["dose_unit"]) for a in rows["arms"]
    ] == [
        ("ket05", "racemic_ketamine", "IV", "0.5", "mg_per_kg"),
        ("mdz", "midazolam", "IV", "0.045", "mg_per_kg"),
    ]
    screening = rows["screening"][0]
    assert (screening["first_author"], screening["drug"], screening["route"]) == (
        "Smith",
        "racemic_ketamine",
        "IV",
    )
    assert (screening["comparator"], screening["decision"]) == ("midazolam", "include")
    assert [gap["what"] for gap in rows["extraction_gaps"]] == [
        "risk of bias: not assessed",
        "outcome rows not yet extracted",
    ]


def test_cells_only_the_source_can_fill_hold_the_placeholder():
    rows = rows_of(parse(*COMMAND))
    locator = f"{PLACEHOLDER}: where in smith2027_pmc (table, row, column, or abstract sentence)"
    assert rows["studies"][0]["locator"] == locator
    assert {arm["locator"] for arm in rows["arms"]} == {locator}
    screening = rows["screening"][0]
    assert screening["found_in"].startswith(f"{PLACEHOLDER}: ")
    assert screening["reason"].startswith(f"{PLACEHOLDER}: ")
    assert all(gap["reason"].startswith(f"{PLACEHOLDER}: ") for gap in rows["extraction_gaps"])


def test_a_known_source_is_not_repeated_and_a_new_one_needs_url_and_citation():
    assert rows_of(parse(*COMMAND), source_known=True)["sources"] == []
    without_url = [c for c in COMMAND if c not in ("--url", "https://example.org/smith2027")]
    with pytest.raises(UsageError, match="is new: give its --url and --citation"):
        rows_of(parse(*without_url))


@pytest.mark.parametrize(
    ("arms", "comparator"),
    [
        (["mdz:midazolam:IV"], "midazolam"),
        (["pbo:intranasal_placebo:IN"], "unclear"),
        (["esk:esketamine:IN:56:mg"], "none"),
    ],
)
def test_the_screening_comparator(arms, comparator):
    """The control arm's drug where the screening log allows it, else unclear; none if all
    arms are the drug."""
    argv = (
        COMMAND[:4] + ["--arm", "ket:racemic_ketamine:IV"] + [a for x in arms for a in ("--arm", x)]
    )
    argv += COMMAND[8:]
    assert rows_of(parse(*argv))["screening"][0]["comparator"] == comparator


@pytest.mark.parametrize(
    ("arms", "message"),
    [
        (["ket:racemic_ketamine:IV"], "at least two arms"),
        (["pbo:saline_placebo:IV", "mdz:midazolam:IV"], "no arm of racemic_ketamine"),
        (["ket:racemic_ketamine", "pbo:saline_placebo:IV"], "expected ARM_ID:DRUG:ROUTE"),
        (["ket:racemic_ketamine:IV:0.5", "pbo:saline_placebo:IV"], "expected ARM_ID:DRUG:ROUTE"),
    ],
)
def test_arms_that_cannot_make_a_trial_are_refused(arms, message):
    argv = COMMAND[:4] + [a for x in arms for a in ("--arm", x)] + COMMAND[8:]
    with pytest.raises(UsageError, match=message):
        rows_of(parse(*argv))


def test_the_command_appends_validating_rows_and_refuses_a_taken_id(tmp_path, capsys):
    package = tmp_path / "raw"
    shutil.copytree(REPO / "data" / "raw", package)
    before = (package / "arms.csv").read_text()
    argv = [c if c != "data/raw" else str(package) for c in COMMAND]
    assert new_trial.cmd_new_trial(parse(*argv)) == 0
    after = (package / "arms.csv").read_text()
    assert after.startswith(before)
    assert after[len(before) :].splitlines()[0].startswith("Smith2027b,ket05,racemic_ketamine,")
    tables = validated_package(package)
    assert "Smith2027b" in set(tables["studies"]["study_id"])
    out = capsys.readouterr().out
    assert f"{package / 'arms.csv'}: 2 row(s) added" in out
    with pytest.raises(UsageError, match="study_id 'Smith2027b' is already there"):
        new_trial.cmd_new_trial(parse(*argv))
    assert not list(package.glob(".*.new-trial"))
