"""Adding a trial (issue 21 §2): the scaffold, the warnings of validate, the derived counts."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, tree_digest, validated_package
from ketamine_meta.analyses.grade import NOT_ASSESSED, risk_of_bias, unassessed_note
from ketamine_meta.analyses.screening import prisma_counts
from ketamine_meta.cli.commands import main
from ketamine_meta.evidence.completeness import completeness_warnings

SCAFFOLD = [
    "new-trial",
    "Smith2027",
    "--arm",
    "ket05:racemic_ketamine:IV:0.5:mg_per_kg",
    "--arm",
    "pbo:saline_placebo:IV",
    "--source-id",
    "smith2027_pmc",
    "--url",
    "https://pmc.ncbi.nlm.nih.gov/articles/PMC0000000",
    "--citation",
    "Smith A et al. A trial. J 2027",
    "--pmid",
    "12345678",
]


@pytest.fixture
def package(tmp_path):
    shutil.copytree(REPO / "data" / "raw", tmp_path / "raw")
    return tmp_path / "raw"


def _scaffold(package, *extra: str) -> int:
    return main([*SCAFFOLD, "--package", str(package), *extra])


def test_the_scaffold_writes_a_valid_skeleton_in_every_table(package, capsys):
    assert _scaffold(package) == 0
    out = capsys.readouterr().out
    tables = validated_package(package)
    study = tables["studies"].set_index("study_id").loc["Smith2027"]
    assert (study["year"], study["pmid"], study["design"]) == (2027, 12345678, "parallel")
    arms = tables["arms"][tables["arms"]["study_id"] == "Smith2027"]
    assert list(arms["arm_id"]) == ["ket05", "pbo"]
    assert list(arms["dose"].astype(float).fillna(-1)) == [0.5, -1]
    screening = tables["screening"].set_index("candidate_id").loc["Smith2027"]
    assert (screening["decision"], screening["comparator"]) == ("include", "saline_placebo")
    gaps = tables["extraction_gaps"][tables["extraction_gaps"]["study_id"] == "Smith2027"]
    assert list(gaps["what"]) == ["risk of bias: not assessed", "outcome rows not yet extracted"]
    assert "smith2027_pmc" in set(tables["sources"]["source_id"])
    # What is left to do is printed, each placeholder located to its file, row and column.
    assert "to do: Smith2027: screening.csv row" in out and "column found_in" in out
    assert out.count("still a placeholder") == 8


def test_the_scaffold_refuses_without_writing(package, capsys):
    before = tree_digest(package)
    assert _scaffold(package, "--arm", "x:ketamine:IV") == 2
    assert "drug" in capsys.readouterr().err
    assert (
        main(
            [
                *SCAFFOLD[:2],
                "--arm",
                "a:saline_placebo:IV",
                "--arm",
                "b:midazolam:IV",
                "--source-id",
                "s",
                "--package",
                str(package),
            ]
        )
        == 2
    )
    assert "no arm of racemic_ketamine" in capsys.readouterr().err
    assert tree_digest(package) == before
    assert _scaffold(package) == 0
    assert _scaffold(package) == 2
    assert "study_id 'Smith2027' is already there" in capsys.readouterr().err


def test_a_new_source_needs_its_url_and_citation(package, capsys):
    arguments = [a for a in SCAFFOLD if a not in SCAFFOLD[7:11]]
    assert main([*arguments, "--package", str(package)]) == 2
    assert "give its --url and --citation" in capsys.readouterr().err


def test_validate_names_an_unfinished_trial(package, capsys):
    """A trial entered in studies.csv, arms.csv and outcomes.csv only: valid, with warnings."""
    for name, row in {
        "studies.csv": "Lone2027,,2027,,,,parallel,TRD,standard,,fava2020_pmc,Abstract,",
        "arms.csv": "Lone2027,ket,racemic_ketamine,IV,0.5,mg_per_kg,1,,,fava2020_pmc,Table 1,\n"
        "Lone2027,pbo,saline_placebo,IV,,,1,,,fava2020_pmc,Table 1,",
    }.items():
        with (package / name).open("a", encoding="utf-8") as handle:
            handle.write(row + "\n")
    assert main(["validate", str(package)]) == 0
    warnings = [
        line for line in capsys.readouterr().err.splitlines() if line.startswith("warning: Lone")
    ]
    assert warnings == [
        "warning: Lone2027: no screening record with decision 'include' (screening.csv "
        "candidate_id Lone2027; studies.csv row 51): the PRISMA flow counts it as included "
        "without a screening decision".replace("row 51", f"row {_rows(package, 'studies')}"),
        "warning: Lone2027: no risk-of-bias judgement (risk_of_bias.csv): the summary of "
        "findings counts it as not assessed",
        f"warning: Lone2027: neither a PMID nor a registry id (studies.csv row "
        f"{_rows(package, 'studies')})",
        f"warning: Lone2027: arm ket has no outcome, contrast, adverse-event or relapse row "
        f"(arms.csv row {_rows(package, 'arms') - 1})",
        f"warning: Lone2027: arm pbo has no outcome, contrast, adverse-event or relapse row "
        f"(arms.csv row {_rows(package, 'arms')})",
    ]


def _rows(package, table: str) -> int:
    return len(pd.read_csv(package / f"{table}.csv"))


def test_a_logged_gap_is_not_a_warning():
    """Every trial of today's package lacking a judgement, an id or results has it logged,
    except those named here (the gaps not yet logged)."""
    warnings = completeness_warnings(validated_package(REPO / "data" / "raw"))
    assert all(": neither a PMID" in w or ": no risk-of-bias" in w for w in warnings), warnings


def test_the_prisma_flow_counts_every_trial_of_the_package():
    tables = validated_package(REPO / "data" / "raw")
    empty = pd.DataFrame({"study_id": []})
    counts, _ = prisma_counts(tables["screening"], tables["studies"], empty, empty)
    assert counts["extracted"] == len(tables["studies"])
    assert counts["included"] >= counts["extracted"]
    unscreened = tables["screening"][tables["screening"]["candidate_id"] != "Fava2020"]
    without, _ = prisma_counts(unscreened, tables["studies"], empty, empty)
    assert without["included"] == counts["included"]
    assert without["candidates"] == counts["candidates"]
    assert (
        without["records"]
        == counts["records"] - (tables["screening"]["candidate_id"] == "Fava2020").sum()
    )


def test_an_unassessed_trial_is_counted_and_named_in_the_risk_of_bias_share():
    weights = np.array([0.5, 0.3, 0.2])
    judgements = ["low", NOT_ASSESSED, "high"]
    level, why, high, concerns = risk_of_bias(weights, judgements)
    assert (level, high, concerns) == (0, 0.2, 0.5)
    assert why == "50% of weight at high risk or some concerns (20% high)"
    assert unassessed_note(weights, judgements) == "; 1 trial(s) not assessed (30% of weight)"
    assert unassessed_note(weights, ["low", "low", "high"]) == ""


def test_the_summary_of_findings_names_the_unassessed_trials():
    """A trial with no review's risk-of-bias judgement (in 0.5.0: Chen 2023, Janik 2025) counts
    as some concerns in the headline row, which says how many there are, and only then."""
    sof = pd.read_csv(REPO / "results" / "tables" / "summary_of_findings.csv")
    row = sof[sof["comparator"] == "inert or active placebo"].squeeze()
    judged = set(pd.read_csv(REPO / "data" / "raw" / "risk_of_bias.csv")["study_id"])
    unassessed = [s for s in row["studies"].split(";") if s not in judged]
    if unassessed:
        assert f"; {len(unassessed)} trial(s) not assessed (" in row["risk_of_bias"]
    else:
        assert "not assessed (" not in row["risk_of_bias"]
