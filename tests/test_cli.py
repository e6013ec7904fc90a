"""The ketamine-meta command line on CSV files, including its error messages."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pandas as pd
import pytest
from pybtex.database import parse_string

from conftest import REPO
from ketamine_meta.cli.commands import main
from ketamine_meta.evidence.citations import SOURCE_KINDS, source_kind


def write(tmp_path, name, frame):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return str(path)


def test_pool_by_subgroup_matches_the_library(tmp_path, capsys, reference):
    ref = reference["subgroup_bcg_alloc_REML_knha"]
    frame = pd.DataFrame(
        {"y": ref["input"]["yi"], "v": ref["input"]["vi"], "alloc": ref["input"]["groups"]}
    )
    path = write(tmp_path, "bcg.csv", frame)
    assert (
        main(
            [
                *["pool", "--input", path, "--yi", "y", "--vi", "v", "--by", "alloc"],
                *["--test", "knha", "--format", "json"],
            ]
        )
        == 0
    )
    rows = {r["subgroup"]: r for r in json.loads(capsys.readouterr().out)}
    for name, expected in ref["values"]["subgroups"].items():
        assert rows[name]["estimate"] == pytest.approx(expected["estimate"], rel=1e-6)
        assert rows[name]["ci_low"] == pytest.approx(expected["ci_low"], rel=1e-6)
    assert rows["test for subgroup differences"]["q"] == pytest.approx(
        ref["values"]["q_between"], rel=1e-6
    )


def test_pool_overall_only(tmp_path, capsys, reference):
    ref = reference["rma_bcg_DL_z"]
    path = write(
        tmp_path, "d.csv", pd.DataFrame({"yi": ref["input"]["yi"], "vi": ref["input"]["vi"]})
    )
    assert main(["pool", "--input", path, "--method", "DL", "--test", "z"]) == 0
    out = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    assert list(out["subgroup"]) == ["overall"]
    assert out.loc[0, "tau2"] == pytest.approx(ref["values"]["tau2"], rel=1e-6)


def test_escalc_smd(tmp_path, capsys, reference):
    ref = reference["escalc_smd_normand1999"]
    frame = pd.DataFrame({f"{k[:-1]}{k[-1]}i": v for k, v in ref["input"].items()})
    path = write(tmp_path, "n.csv", frame)
    assert main(["escalc", "--input", path, "--measure", "SMD"]) == 0
    out = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    assert out["yi"].tolist() == pytest.approx(ref["values"]["yi"], rel=1e-6)


@pytest.mark.parametrize(
    ("frame", "args", "message"),
    [
        (pd.DataFrame({"yi": [0.1]}), [], "missing column(s) vi"),
        (
            pd.DataFrame({"yi": [0.1, 0.2], "vi": [0.01, -0.02]}),
            [],
            "row 2, column 'vi', value '-0.02': sampling variances must be positive",
        ),
        (
            pd.DataFrame({"yi": [0.1, "abc"], "vi": [0.01, 0.02]}),
            [],
            "row 2, column 'yi', value 'abc': not a number",
        ),
        (pd.DataFrame({"yi": [], "vi": []}), [], "at least one study"),
    ],
)
def test_pool_bad_input(tmp_path, capsys, frame, args, message):
    path = write(tmp_path, "bad.csv", frame)
    assert main(["pool", "--input", path, *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "bad.csv" in err


def test_validate_the_repository_package(capsys):
    assert main(["validate", str(REPO / "data/raw")]) == 0
    assert "outcomes:" in capsys.readouterr().out


def test_console_script_is_installed():
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    script = Path(sys.executable).with_name("ketamine-meta")
    assert script.exists() or shutil.which("ketamine-meta")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "pool" in result.stdout


@pytest.mark.parametrize(
    "scenario",
    ["escalc_or_bcg", "escalc_rd_bcg", "escalc_rr_sparse_all", "escalc_or_sparse_if0all"],
)
def test_escalc_binary_measures(tmp_path, capsys, reference, scenario):
    ref = reference[scenario]
    inp = ref["input"]
    frame = pd.DataFrame(
        {"ai": inp["events1"], "n1i": inp["n1"], "ci": inp["events2"], "n2i": inp["n2"]}
    )
    measure = scenario.split("_")[1].upper()
    path = write(tmp_path, "b.csv", frame)
    assert main(["escalc", "--input", path, "--measure", measure, "--to", inp["to"]]) == 0
    out = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    assert out["yi"].tolist() == pytest.approx(ref["values"]["yi"], rel=1e-6)
    assert out["vi"].tolist() == pytest.approx(ref["values"]["vi"], rel=1e-6)


@pytest.mark.parametrize("measure", ["PLO", "PFT"])
def test_escalc_proportions(tmp_path, capsys, reference, measure):
    ref = reference[f"escalc_{measure.lower()}_pritz1997"]
    frame = pd.DataFrame({"xi": ref["input"]["events"], "ni": ref["input"]["n"]})
    path = write(tmp_path, "p.csv", frame)
    assert main(["escalc", "--input", path, "--measure", measure]) == 0
    out = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    assert out["yi"].tolist() == pytest.approx(ref["values"]["yi"], rel=1e-6)


@pytest.mark.parametrize("method", ["REML", "DL", "PM", "ML", "SJ", "EB"])
@pytest.mark.parametrize("test", ["knha", "z", "adhoc"])
def test_pool_every_estimator_and_test(tmp_path, capsys, reference, method, test):
    ref = reference[f"rma_hackshaw1998_{method}_{test}"]
    frame = pd.DataFrame({"yi": ref["input"]["yi"], "vi": ref["input"]["vi"]})
    path = write(tmp_path, "h.csv", frame)
    assert main(["pool", "--input", path, "--method", method, "--test", test]) == 0
    out = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    for column in ("estimate", "se", "ci_low", "ci_high", "pi_low", "pi_high", "tau2", "q_p"):
        assert out.loc[0, column] == pytest.approx(ref["values"][column], rel=1e-6, abs=1e-9)


def test_escalc_refuses_impossible_counts(tmp_path, capsys):
    frame = pd.DataFrame({"ai": [3, 12], "n1i": [10, 10], "ci": [1, 2], "n2i": [10, 10]})
    path = write(tmp_path, "bad.csv", frame)
    assert main(["escalc", "--input", path, "--measure", "OR"]) == 2
    assert "row 2, column 'ai', value '12': events must lie between 0 and n1i" in (
        capsys.readouterr().err
    )


def test_cite_writes_the_works_behind_analysed_numbers_and_all_with_all(capsys):
    package = REPO / "data/raw"
    sources = pd.read_csv(package / "sources.csv")
    cited = set()
    for table in package.glob("*.csv"):
        frame = pd.read_csv(table, dtype=str)
        if table.name != "sources.csv" and "source_id" in frame:
            cited |= set(frame["source_id"].dropna())
    for argv, expected in (([], cited), (["--all"], set(sources["source_id"]))):
        assert main(["cite", "--package", str(package), *argv]) == 0
        entries = parse_string(capsys.readouterr().out, "bibtex").entries
        listed = [
            i.replace("\\_", "_") for e in entries.values() for i in e.fields["sources"].split(", ")
        ]
        assert sorted(listed) == sorted(expected)
    # Every field the citation gives, e.g. the first trial's report.
    fava = entries["fava2020double"]
    assert [str(p) for p in fava.persons["author"]] == ["Fava, M.", "others"]
    assert {k: fava.fields[k] for k in ("journal", "year", "volume", "number", "pages")} == {
        "journal": "Mol Psychiatry",
        "year": "2020",
        "volume": "25",
        "number": "7",
        "pages": "1592--1603",
    }
    assert fava.fields["doi"] == "10.1038/s41380-018-0256-5"


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert re.fullmatch(r"ketamine-meta \d+\.\d+\.\d+\n", capsys.readouterr().out)


def test_two_by_two_table_and_mapped_columns_give_the_totals_form(tmp_path, capsys):
    """metafor's escalc(ai, bi, ci, di) equals escalc(ai, n1i, ci, n2i) with n = events + rest."""
    cells = pd.DataFrame(
        {"tpos": [10, 8, 0], "tneg": [10, 12, 20], "cpos": [5, 3, 2], "cneg": [15, 17, 18]}
    )
    totals = pd.DataFrame(
        {
            "ai": cells["tpos"],
            "n1i": cells["tpos"] + cells["tneg"],
            "ci": cells["cpos"],
            "n2i": cells["cpos"] + cells["cneg"],
        }
    )
    (tmp_path / "cells.csv").write_text(cells.to_csv(index=False))
    (tmp_path / "totals.csv").write_text(totals.to_csv(index=False))
    for measure in ("RR", "OR", "RD"):
        main(["escalc", "--input", str(tmp_path / "totals.csv"), "--measure", measure])
        expected = pd.read_csv(io.StringIO(capsys.readouterr().out))
        argv = ["escalc", "--input", str(tmp_path / "cells.csv"), "--measure", measure]
        main([*argv, "--ai", "tpos", "--bi", "tneg", "--columns", "ci=cpos,di=cneg"])
        got = pd.read_csv(io.StringIO(capsys.readouterr().out))
        np.testing.assert_allclose(got[["yi", "vi"]], expected[["yi", "vi"]], rtol=1e-12)


def test_escalc_pipes_into_pool_through_standard_streams(tmp_path, capsys, monkeypatch):
    frame = pd.DataFrame(
        {
            "m1i": [10, 12, 9],
            "sd1i": [4, 5, 4],
            "n1i": [20, 25, 30],
            "m2i": [14, 15, 13],
            "sd2i": [4, 5, 5],
            "n2i": [20, 25, 30],
        }
    )
    (tmp_path / "arms.csv").write_text(frame.to_csv(index=False))
    assert (
        main(["escalc", "--input", str(tmp_path / "arms.csv"), "--measure", "SMD", "--output", "-"])
        == 0
    )
    # Standard input is read as bytes (sys.stdin.buffer), as a pipe delivers it.
    piped = io.TextIOWrapper(io.BytesIO(capsys.readouterr().out.encode()), encoding="utf-8")
    monkeypatch.setattr("sys.stdin", piped)
    assert main(["pool", "--input", "-"]) == 0
    pooled = pd.read_csv(io.StringIO(capsys.readouterr().out)).squeeze()
    assert pooled["subgroup"] == "overall" and pooled["k"] == 3


def test_unknown_column_mapping_is_refused(tmp_path, capsys):
    (tmp_path / "cells.csv").write_text("tpos,tneg\n1,2\n")
    argv = ["escalc", "--input", str(tmp_path / "cells.csv"), "--measure", "RR"]
    assert main([*argv, "--columns", "zz=tpos"]) == 2
    assert "give NAME=COLUMN" in capsys.readouterr().err
    assert main([*argv, "--ai", "missing"]) == 2
    assert "missing column(s) missing" in capsys.readouterr().err


def test_pool_help_names_the_subgroup_test(capsys):
    with pytest.raises(SystemExit):
        main(["pool", "--help"])
    assert "Cochran's Q" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("url", "citation", "kind"),
    [
        (
            "https://pmc.ncbi.nlm.nih.gov/articles/PMC1/table/T1",
            "Daly EJ et al. JAMA Psychiatry",
            "PMC",
        ),
        (
            "https://pmc.ncbi.nlm.nih.gov/articles/PMC2/table/x",
            "Cochrane review, Characteristics",
            "review",
        ),
        ("https://clinicaltrials.gov/ct2/show/results/NCT1", "NCT1 results", "registry"),
        (
            "https://psychiatryonline.org/doi/10.1176/x",
            "Grunebaum MF et al. Am J Psychiatry",
            "journal",
        ),
        ("http://47.251.13.51:8081/123", "PubMed record mirror", "aggregator"),
        ("https://www.scribd.com/document/1", "APA 2013 conference abstract", "conference"),
        (
            "https://github.com/o/r/blob/0123/cache/ft.txt",
            "Chen X et al. COPY of the PMC full text (systematic review cache)",
            "repository_copy",
        ),
    ],
)
def test_source_kind_rules(url, citation, kind):
    assert source_kind(url, citation) == kind


def test_explain_flags_aggregator_sources(capsys):
    assert main(["explain", "smd_24h", "--root", str(REPO)]) == 0
    out = capsys.readouterr().out
    sources = pd.read_csv(REPO / "data/raw/sources.csv")
    assert set(sources["source_kind"]) <= set(SOURCE_KINDS)
    assert "[journal]" in out and "[PMC]" in out
    weak = sources.loc[sources["source_kind"] == "aggregator", "source_id"]
    assert any(f"{sid} <" in out and "weak source" in out for sid in weak)
