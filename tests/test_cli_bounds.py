"""Bounds and one-line errors of the ``ketamine-meta`` command line (issue 24).

Each test feeds one class of hostile input to a subcommand in this process and checks the
exit status, the one line on standard error naming file, row, column and value, and that
nothing reaches standard output; the inputs just inside each bound still give results.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest

from conftest import EXPLAIN_REGISTRY
from ketamine_meta.cli.commands import (
    MAX_ABS_EFFECT,
    MAX_NETWORK_CONTRASTS,
    MAX_NETWORK_TREATMENTS,
    MAX_SUBGROUPS,
    VARIANCE_BOUNDS,
    main,
)
from ketamine_meta.stats.km_reconstruction import MAX_PATIENTS

POOL_ROWS = "0.2,0.04\n0.5,0.09\n0.3,0.05\n"
SMD_HEADER = "m1i,sd1i,n1i,m2i,sd2i,n2i"
NMA_HEADER = "study,treat1,treat2,yi,vi\n"


def run(capsys, argv: list[str]) -> tuple[int, str, str]:
    """Status, standard output and standard error of ``ketamine-meta argv``."""
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse refusing an option
        status = exc.code
    out = capsys.readouterr()
    return status, out.out, out.err


def refused(capsys, argv: list[str], *fragments: str) -> str:
    """Assert a one-line usage error holding every fragment; return the line."""
    status, out, err = run(capsys, argv)
    assert status == 2, err
    assert not out
    assert err.count("\n") == 1 and err.endswith("\n"), err
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in {err!r}"
    return err


def write(tmp_path, name: str, text: str | bytes) -> str:
    path = tmp_path / name
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    return str(path)


def table(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), keep_default_na=False)


# --- 1. Text that a spreadsheet would run as a formula ------------------------------------

#: Cells a spreadsheet would run, and how the one-line message shows each.
FORMULAS = {
    "equals": ('=HYPERLINK("http://x","y")', '=HYPERLINK("http://x","y")'),
    "space": (" =1+1", " =1+1"),
    "newline": ("\n=1+1", "\\n=1+1"),
    "nbsp": ("\xa0=1+1", "\\xa0=1+1"),
    "plus": ("+cmd|' /C calc'!A0", "+cmd|' /C calc'!A0"),
    "at": ("@SUM(1)", "@SUM(1)"),
    "minus": ("-x", "-x"),
    "tab": ("\t1", "\\t1"),
    "cr": ("\r1", "\\r1"),
}


def quoted(cell: str) -> str:
    """The cell as one CSV field (quoted, so that newlines and spaces survive)."""
    return '"' + cell.replace('"', '""') + '"'


@pytest.mark.parametrize(("cell", "shown"), FORMULAS.values(), ids=FORMULAS.keys())
def test_pool_refuses_a_formula_subgroup_label(tmp_path, capsys, cell, shown):
    path = write(tmp_path, "in.csv", f"yi,vi,g\n0.2,0.04,a\n0.5,0.09,{quoted(cell)}\n")
    refused(
        capsys,
        ["pool", "--input", path, "--by", "g"],
        f"in.csv: row 2, column 'g', value '{shown}': ",
        "a spreadsheet would run it as a formula",
    )


@pytest.mark.parametrize("label", ["-1", "+2.5", " -3", "a-b", "1e5", "b=c"])
def test_plain_numbers_and_inner_signs_are_labels_copied_unchanged(tmp_path, capsys, label):
    path = write(tmp_path, "in.csv", f"yi,vi,g\n0.2,0.04,a\n0.5,0.09,{quoted(label)}\n")
    status, out, _ = run(capsys, ["pool", "--input", path, "--by", "g"])
    assert status == 0
    assert table(out)["subgroup"].astype(str).tolist()[:2] == sorted(["a", label])


def test_numeric_labels_and_names_are_copied_as_written(tmp_path, capsys):
    """Read as numbers, the labels came out as "2.5" and "-1.0", and "01" could not be named."""
    path = write(tmp_path, "in.csv", "yi,vi,g\n0.2,0.04,+2.5\n0.5,0.09,-1\n0.3,0.05,-1\n")
    status, out, _ = run(capsys, ["pool", "--input", path, "--by", "g"])
    assert status == 0
    assert table(out)["subgroup"].tolist()[:2] == ["+2.5", "-1"]
    path = write(tmp_path, "net.csv", NMA_HEADER + "s1,02,01,0.4,0.1\ns2,03,01,0.3,0.1\n")
    status, out, _ = run(capsys, ["nma", "--input", path, "--reference", "01"])
    assert status == 0
    assert [line.split(",")[2] for line in out.splitlines()[1:]] == ["02", "03"]


def test_pool_refuses_a_formula_analysis_name(tmp_path, capsys):
    path = write(tmp_path, "in.csv", "yi,vi\n" + POOL_ROWS)
    refused(
        capsys,
        ["pool", "--input", path, "--analysis", "=1+1"],
        "--analysis '=1+1'",
        "formula",
    )


@pytest.mark.parametrize("column", ["study", "treat1", "treat2"])
def test_nma_refuses_a_formula_name(tmp_path, capsys, column):
    rows = pd.DataFrame(
        {"study": ["s1", "s2"], "treat1": ["B", "C"], "treat2": ["A", "A"], "yi": [0.4, 0.3]}
    ).assign(vi=0.1)
    rows.loc[1, column] = "@x"
    path = write(tmp_path, "in.csv", rows.to_csv(index=False))
    refused(
        capsys,
        ["nma", "--input", path, "--reference", "A"],
        f"in.csv: row 2, column '{column}', value '@x'",
        "formula",
    )


def test_escalc_refuses_a_formula_in_any_column_it_copies(tmp_path, capsys):
    cells = write(tmp_path, "cells.csv", f"study,{SMD_HEADER}\n-cmd,1,2,10,2,1,10\n")
    refused(
        capsys,
        ["escalc", "--measure", "SMD", "--input", cells],
        "cells.csv: row 1, column 'study', value '-cmd'",
    )
    header = write(tmp_path, "header.csv", f"@note,{SMD_HEADER}\nx,1,2,10,2,1,10\n")
    refused(
        capsys,
        ["escalc", "--measure", "SMD", "--input", header],
        "header.csv: line 1, column '@note'",
        "formula",
    )


def test_escalc_copies_text_that_is_no_formula_unchanged(tmp_path, capsys):
    path = write(
        tmp_path, "in.csv", f"study,{SMD_HEADER}\n-12.5,1,2,10,2,1,10\nA-1,1,2,10,2,1,10\n"
    )
    status, out, _ = run(capsys, ["escalc", "--measure", "SMD", "--input", path])
    assert status == 0
    assert out.splitlines()[1].startswith("-12.5,") and out.splitlines()[2].startswith("A-1,")


# --- 2. reconstruct-km: bounded work and impossible totals --------------------------------

CURVE = "time,survival\n0,1\n10,0.8\n20,0.6\n"


def km(tmp_path, curve: str, risk: str) -> list[str]:
    curve_path, risk_path = write(tmp_path, "curve.csv", curve), write(tmp_path, "risk.csv", risk)
    return ["reconstruct-km", "--curve", curve_path, "--at-risk", risk_path]


def test_km_refuses_a_billion_patients_naming_the_cell_and_the_bound(tmp_path, capsys):
    refused(
        capsys,
        km(tmp_path, CURVE, "time,n_at_risk\n0,1000000000\n"),
        "risk.csv: row 1, column 'n_at_risk', value 1000000000",
        f"bounded to {MAX_PATIENTS}",
    )


def test_km_refuses_a_total_of_no_events_on_a_falling_curve(tmp_path, capsys):
    """It was met by censoring all 10 patients at day 20, silently."""
    refused(
        capsys,
        [*km(tmp_path, CURVE, "time,n_at_risk\n0,10\n"), "--total-events", "0"],
        "--total-events: value 0: the curve falls to 0.6 (curve row 3)",
    )


def test_km_refuses_times_whose_sum_overflows(tmp_path, capsys):
    curve = "time,survival\n0,1\n1e308,0.8\n1.7e308,0.6\n"
    refused(
        capsys,
        km(tmp_path, curve, "time,n_at_risk\n0,10\n"),
        "curve.csv: row 2, column 'time', value 1e+308: times above 1e+12 are refused",
    )


# --- 3. nma: bounded networks ---------------------------------------------------------------


def star(treatments: int) -> str:
    """Contrasts of treatments T1.. each against T0, one trial each."""
    rows = [f"s{i},T{i},T0,{0.01 * i:.2f},0.1" for i in range(1, treatments)]
    return NMA_HEADER + "\n".join(rows) + "\n"


def test_nma_refuses_one_treatment_beyond_the_bound_naming_its_cell(tmp_path, capsys):
    path = write(tmp_path, "in.csv", star(MAX_NETWORK_TREATMENTS + 1))
    refused(
        capsys,
        ["nma", "--input", path, "--reference", "T0"],
        f"in.csv: row {MAX_NETWORK_TREATMENTS}, column 'treat1', "
        f"value 'T{MAX_NETWORK_TREATMENTS}': treatment {MAX_NETWORK_TREATMENTS + 1}",
        f"bounded to {MAX_NETWORK_TREATMENTS}",
    )


def test_nma_fits_a_network_at_the_bound(tmp_path, capsys):
    path = write(tmp_path, "in.csv", star(MAX_NETWORK_TREATMENTS))
    status, out, _ = run(capsys, ["nma", "--input", path, "--reference", "T0"])
    assert status == 0
    effects = table(out).set_index("treatment")
    assert len(effects) == MAX_NETWORK_TREATMENTS - 1
    # One trial per treatment and no heterogeneity to estimate: each estimate is its trial.
    assert effects.loc["T150", "estimate"] == pytest.approx(1.5)


@pytest.mark.parametrize("groups", [MAX_SUBGROUPS, MAX_SUBGROUPS + 1])
def test_pool_subgroups_up_to_the_bound(tmp_path, capsys, groups):
    rows = "".join(f"0.{i % 7},0.0{1 + i % 5},g{i}\n" for i in range(groups))
    argv = ["pool", "--input", write(tmp_path, "in.csv", "yi,vi,g\n" + rows), "--by", "g"]
    if groups > MAX_SUBGROUPS:
        refused(
            capsys,
            argv,
            f"in.csv: row {groups}, column 'g', value 'g{MAX_SUBGROUPS}': subgroup {groups}",
            f"bounded to {MAX_SUBGROUPS} subgroups",
        )
    else:
        status, out, _ = run(capsys, argv)
        # One row per subgroup, the overall row and the test for subgroup differences.
        assert status == 0 and len(table(out)) == groups + 2


def test_nma_refuses_more_contrasts_than_the_bound(tmp_path, capsys):
    rows = "".join(f"s{i},B,A,0.1,0.1\n" for i in range(MAX_NETWORK_CONTRASTS + 1))
    path = write(tmp_path, "in.csv", NMA_HEADER + rows)
    refused(
        capsys,
        ["nma", "--input", path, "--reference", "A"],
        f"in.csv: row {MAX_NETWORK_CONTRASTS + 1}: more than {MAX_NETWORK_CONTRASTS} contrasts",
    )


# --- 5. Tracebacks that became one-line errors ----------------------------------------------


def pipe(monkeypatch, data: bytes) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"yi,vi\n0.1,0.2\n\x00\x01\n", "-: line 3: NUL byte"),
        (b"yi,vi\n0.1,0.2\xe9\n", "-: line 2: byte 0xe9 is not UTF-8"),
    ],
    ids=["NUL", "Latin-1"],
)
def test_binary_standard_input_is_refused_as_a_file_is(monkeypatch, capsys, data, message):
    pipe(monkeypatch, data)
    refused(capsys, ["pool", "--input", "-"], message)


def test_standard_input_with_a_byte_order_mark_is_read(monkeypatch, capsys):
    pipe(monkeypatch, ("\ufeffyi,vi\n" + POOL_ROWS).encode())
    status, out, _ = run(capsys, ["pool", "--input", "-"])
    assert status == 0 and table(out).loc[0, "k"] == 3


@pytest.mark.parametrize("command", ["pool", "nma"])
@pytest.mark.parametrize(
    ("yi", "vi", "cell", "message"),
    [
        ("1e300", "0.1", "column 'yi', value '1e+300'", f"beyond +-{MAX_ABS_EFFECT:g}"),
        ("-1e51", "0.1", "column 'yi', value '-1e+51'", f"beyond +-{MAX_ABS_EFFECT:g}"),
        (
            "0.1",
            "1e-51",
            "column 'vi', value '1e-51'",
            f"outside [{VARIANCE_BOUNDS[0]:g}, {VARIANCE_BOUNDS[1]:g}]",
        ),
    ],
)
def test_effects_and_variances_beyond_the_bounds_are_refused(
    tmp_path, capsys, command, yi, vi, cell, message
):
    """1e300 overflowed in the engine (a traceback); the bounds keep every square a float."""
    if command == "pool":
        path = write(tmp_path, "in.csv", f"yi,vi\n{yi},{vi}\n{yi},{vi}\n")
        argv = ["pool", "--input", path]
    else:
        path = write(tmp_path, "in.csv", f"{NMA_HEADER}s1,B,A,{yi},{vi}\ns2,B,A,{yi},{vi}\n")
        argv = ["nma", "--input", path, "--reference", "A"]
    refused(capsys, argv, f"in.csv: row 1, {cell}", message)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("0.1,inf\n0.2,inf\n", "in.csv: no study with a finite variance"),
        ("0.1,inf\n0.2,1e-60\n", "in.csv: row 2, column 'vi', value '1e-60'"),
    ],
)
def test_a_refusal_after_an_infinite_variance_is_still_one_line(tmp_path, capsys, rows, message):
    """The note on the infinite variance came first, making the error its second line."""
    path = write(tmp_path, "in.csv", "yi,vi\n" + rows)
    refused(capsys, ["pool", "--input", path], message)


@pytest.mark.filterwarnings("error")
def test_effects_and_variances_at_the_bounds_are_pooled(tmp_path, capsys):
    big, (low, high) = MAX_ABS_EFFECT, VARIANCE_BOUNDS
    for vi in (low, high):
        rows = f"yi,vi,g\n{big!r},{vi!r},a\n{-big!r},{vi!r},a\n{big / 2!r},{vi!r},b\n"
        path = write(tmp_path, "in.csv", rows + f"0,{vi!r},b\n")
        status, out, err = run(capsys, ["pool", "--input", path, "--by", "g"])
        assert status == 0, err
        overall = table(out).set_index("subgroup").loc["overall"]
        assert np.isfinite(overall[["estimate", "se", "tau2"]].astype(float)).all()
        assert float(overall["estimate"]) == pytest.approx(big / 8, rel=1e-6)


def test_a_header_beyond_the_csv_field_limit_is_refused(tmp_path, capsys):
    path = write(tmp_path, "in.csv", "yi,vi," + "x" * 200_000 + "\n0.1,0.2,a\n")
    refused(capsys, ["pool", "--input", path], "in.csv: line 1: not a readable CSV header")


def test_a_long_cell_is_shown_cut(tmp_path, capsys):
    path = write(tmp_path, "in.csv", "yi,vi\n" + "7" * 50_000 + "x,0.1\n")
    err = refused(capsys, ["pool", "--input", path], "... (50001 characters)': not a number")
    assert len(err) < 400


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--ai", "x"], "--ai x: "),
        (["--ai", "x", "--ci", "x"], "column 'x' is mapped to both ai and ci"),
        (["--add", "-1"], "--add -1.0: a continuity correction must be finite and >= 0"),
        (["--add", "nan"], "--add nan: a continuity correction must be finite and >= 0"),
        (["--add", "inf"], "--add inf: a continuity correction must be finite and >= 0"),
    ],
    ids=["onto an existing column", "one column twice", "negative add", "nan add", "inf add"],
)
def test_escalc_refuses_mappings_and_corrections_that_misread(tmp_path, capsys, argv, message):
    path = write(tmp_path, "in.csv", "ai,n1i,ci,n2i,x\n0,10,3,10,4\n")
    refused(capsys, ["escalc", "--measure", "RR", "--input", path, *argv], message)


@pytest.mark.parametrize(
    ("measure", "rows"),
    [
        ("SMD", f"{SMD_HEADER}\n1,2,10,2,1,10\n1e308,1,10,-1e308,1,10\n"),
        ("SMD", f"{SMD_HEADER}\n1,2,10,2,1,10\n1,1e-308,10,2,1e-308,10\n"),
        ("SMD", f"{SMD_HEADER}\n1,2,10,2,1,10\n1,1,1e308,2,1,1e308\n"),
        ("OR", "ai,n1i,ci,n2i\n1,10,2,10\n1e308,1e308,1,1e308\n"),
    ],
)
def test_escalc_refuses_an_effect_size_that_overflows(tmp_path, capsys, measure, rows):
    """inf and nan were written as the study's yi and vi."""
    path = write(tmp_path, "in.csv", rows)
    refused(
        capsys,
        ["escalc", "--measure", measure, "--input", path],
        "in.csv: row 2: the effect size is",
        "too large or too small",
    )


def test_escalc_leaves_a_zero_cell_undefined_under_to_none(tmp_path, capsys):
    """Not an overflow: metafor's to = "none" leaves such a study undefined too."""
    path = write(tmp_path, "in.csv", "ai,n1i,ci,n2i\n0,10,3,10\n2,10,3,10\n")
    status, out, _ = run(capsys, ["escalc", "--measure", "OR", "--input", path, "--to", "none"])
    assert status == 0
    assert out.splitlines()[1] == "0,10,3,10,-inf,inf"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (NMA_HEADER + "s1,B,A,0.4,0.1\ns2, ,A,0.3,0.1\n", "row 2, column 'treat1', value ' '"),
        (NMA_HEADER + "s1,A,A,0.1,0.1\ns2,B,A,0.2,0.1\n", "in.csv: row 1, column 'study'"),
    ],
    ids=["blank name", "one row named"],
)
def test_nma_names_single_rows(tmp_path, capsys, text, message):
    path = write(tmp_path, "in.csv", text)
    refused(capsys, ["nma", "--input", path, "--reference", "A"], message)


@pytest.mark.parametrize("label", ["overall", "test for subgroup differences"])
def test_pool_refuses_subgroup_labels_that_would_be_misread(tmp_path, capsys, label):
    path = write(tmp_path, "in.csv", f"yi,vi,g\n0.2,0.04,a\n0.5,0.09,{label}\n0.3,0.05,a\n")
    why = "the name of an output row"
    refused(capsys, ["pool", "--input", path, "--by", "g"], "in.csv: row 2, column 'g'", why)


def test_a_row_without_a_subgroup_label_is_omitted_or_refused(tmp_path, capsys):
    """metafor's na.action = na.omit by default; --na-action fail refuses the file."""
    path = write(tmp_path, "in.csv", "yi,vi,g\n0.2,0.04,a\n0.5,0.09,\n0.3,0.05,a\n")
    status, out, err = run(capsys, ["pool", "--input", path, "--by", "g"])
    assert status == 0
    assert "1 row(s) with a missing value in yi, vi, g left out" in err and "row(s) 2" in err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["subgroup"], r["k"]) for r in rows][:2] == [("a", "2"), ("overall", "2")]
    refused(
        capsys,
        ["pool", "--input", path, "--by", "g", "--na-action", "fail"],
        "in.csv: row 2, column 'g': value is missing",
    )


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("x,,https://a,", "row 1, column 'citation', value 'nan': a value is required"),
        ("Bad Key,c,https://a,", "row 1, column 'source_id', value 'Bad Key'"),
        (",c,https://a,", "row 1, column 'source_id', value 'nan'"),
    ],
)
def test_cite_refuses_sources_that_make_broken_bibtex(tmp_path, capsys, row, message):
    write(tmp_path, "sources.csv", f"source_id,citation,url,doi\n{row}\n")
    refused(capsys, ["cite", "--package", str(tmp_path)], f"sources.csv: {message}")


@pytest.mark.parametrize(
    ("rows", "sources", "message"),
    [
        ("study_id,yi,vi,route\nA,0.1,0.01,IV\n", "x,y\n1,2\n", "missing column(s) source_id"),
        ("study_id,yi,route\nA,0.1,IV\n", "source_id,url\ns,https://a\n", "no column 'vi'"),
    ],
    ids=["sources without source_id", "rows without vi"],
)
def test_explain_names_the_table_it_cannot_read(tmp_path, capsys, rows, sources, message):
    """Both were reported as "no subgroup None": every KeyError was taken for a subgroup."""
    (tmp_path / "results" / "tables").mkdir(parents=True)
    (tmp_path / "data" / "raw").mkdir(parents=True)
    write(tmp_path, "results/outputs.json", EXPLAIN_REGISTRY)
    write(tmp_path, "results/tables/smd_24h_by_study.csv", rows)
    pooled = "subgroup,estimate,ci_low,ci_high,k\noverall,0.1,0.0,0.2,1\n"
    write(tmp_path, "results/tables/pooled_smd_24h_by_route.csv", pooled)
    write(tmp_path, "data/raw/sources.csv", sources)
    refused(capsys, ["explain", "smd_24h", "--root", str(tmp_path)], message)


def test_a_newline_in_a_path_stays_on_the_one_line(tmp_path, capsys):
    refused(capsys, ["pool", "--input", f"{tmp_path}/a\nb.csv"], "/a\\nb.csv: no such file")


@pytest.mark.parametrize(
    "argv",
    [["pool"], ["pool", "--input"], ["nma", "--input", "x.csv"], ["synth", "--trials", "x"]],
)
def test_argument_errors_are_one_line(capsys, argv):
    err = refused(capsys, argv, f"ketamine-meta {argv[0]}: error: ")
    assert f"(see ketamine-meta {argv[0]} --help)" in err


# --- 6. Numbers Python reads but a table does not -------------------------------------------


@pytest.mark.parametrize("cell", ["\u0661\u0662", "1_6.5", "\uff11\uff12", "0x10"])
def test_other_digits_and_separators_in_cells_are_not_numbers(tmp_path, capsys, cell):
    path = write(tmp_path, "in.csv", f"yi,vi\n{cell},0.1\n0.2,0.2\n")
    refused(capsys, ["pool", "--input", path], f"row 1, column 'yi', value '{cell}': not a number")
    curve = write(tmp_path, "curve.csv", f"time,survival\n0,1\n{cell},0.8\n")
    risk = write(tmp_path, "risk.csv", "time,n_at_risk\n0,10\n")
    refused(
        capsys,
        ["reconstruct-km", "--curve", curve, "--at-risk", risk],
        f"curve.csv: row 2, column 'time', value '{cell}': not a number",
    )


def test_a_column_of_true_and_false_is_not_numbers(tmp_path, capsys):
    path = write(tmp_path, "in.csv", "yi,vi\nTrue,0.1\nFalse,0.2\n")
    refused(capsys, ["pool", "--input", path], "row 1, column 'yi', value 'True': not a number")


@pytest.mark.parametrize(
    ("option", "value"),
    [("--level", "\u0660.\u0669"), ("--level", "0_95"), ("--total-events", "\u0661")],
)
def test_other_digits_in_options_are_not_numbers(tmp_path, capsys, option, value):
    if option == "--level":
        argv = ["pool", "--input", write(tmp_path, "in.csv", "yi,vi\n" + POOL_ROWS)]
    else:
        argv = km(tmp_path, CURVE, "time,n_at_risk\n0,10\n")
    refused(capsys, [*argv, option, value], f"argument {option}: '{value}': not a number")


CHANGE_HEADER = "m1i,m2i,sd1i,sd2i,ni,ri"


@pytest.mark.parametrize(
    ("measure", "row", "message"),
    [
        ("SMCC", "12,10,2,2,10,1.5", "row 2, column 'ri', value '1.5': a correlation must lie"),
        ("SMCC", "12,10,2,-2,10,0.5", "column 'sd2i', value '-2': a standard deviation cannot"),
        ("SMCC", "12,10,2,2,2,0.5", "column 'ni', value '2': Hedges' J(n - 1) needs at least 3"),
        ("SMCC", "12,10,2,2,10,1", "column 'sd1i', value '2': the SD of the change scores"),
        ("SMCR", "12,10,0,2,10,0.5", "column 'sd1i', value '0': a standardizer cannot be 0"),
    ],
    ids=["r above 1", "negative SD", "too few people", "no change SD", "zero standardizer"],
)
def test_escalc_refuses_a_standardized_mean_change_it_cannot_compute(
    tmp_path, capsys, measure, row, message
):
    path = write(tmp_path, "in.csv", f"{CHANGE_HEADER}\n12,10,2,2,10,0.5\n{row}\n")
    refused(capsys, ["escalc", "--measure", measure, "--input", path], message)


def test_escalc_takes_only_the_vtypes_metafor_has_for_the_measure(tmp_path, capsys):
    path = write(tmp_path, "in.csv", f"{SMD_HEADER}\n1,2,10,2,1,10\n")
    refused(
        capsys,
        ["escalc", "--measure", "SMD", "--vtype", "HO", "--input", path],
        "--vtype HO: SMD takes LS, LS2, UB, AV (as metafor's escalc)",
    )
