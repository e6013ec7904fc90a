"""Bad-input classes of the cli area (issue 24); the builders are those of cases.py.

Formula text copied into an output, work beyond the command line's bounds, totals a
Kaplan-Meier curve rules out, numbers Python reads but a table does not, and inputs that
ended in a traceback: each is now one line on standard error, exit status 2.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from pathlib import Path

from bad_inputs.cases import (
    NMA_HEADER,
    NMA_OK,
    POOL_OK,
    SMD_HEADER,
    Case,
    chain,
    escalc,
    km,
    nma,
    pool,
    write,
)

from conftest import EXPLAIN_REGISTRY

CASES: list[Case] = []


def _add(id: str, what: str, spec: tuple, exit: int, message: list[str]) -> None:
    args, build = spec
    CASES.append(Case(id, what, args, exit, message, build))


class _PipedStdin:
    """Standard input holding ``data``: reading it puts the real ``sys.stdin`` back.

    The corpus runs each case in this process, so the stand-in must not outlive the command
    that reads it (pytest does not restore ``sys.stdin``).
    """

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._real = sys.stdin

    @property
    def buffer(self) -> io.BytesIO:
        sys.stdin = self._real
        return io.BytesIO(self._data)


def piped(data: bytes) -> Callable[[Path], None]:
    """Give ``data`` to the command's standard input (``--input -``)."""

    def build(tmp: Path) -> None:
        sys.stdin = _PipedStdin(data)

    return build


def by(labels: list[str], *extra: str) -> tuple[list[str], Callable[[Path], None]]:
    """``pool --by g`` over studies labelled ``labels`` (each quoted: spaces survive)."""
    rows = [f'0.{i + 2},0.0{i + 4},"{label}"' for i, label in enumerate(labels)]
    return pool("yi,vi,g\n" + "\n".join(rows) + "\n", "--by", "g", *extra)


def star(treatments: int) -> str:
    """A network of treatments T1.. each against T0 in a trial of its own."""
    return NMA_HEADER + "".join(f"s{i},T{i},T0,0.1,0.1\n" for i in range(1, treatments))


FORMULA = "spreadsheet would run it as a formula"
KM_RISK_10 = "time,n_at_risk\n0,10\n"
FALLS_TO_06 = "time,survival\n0,1\n10,0.8\n20,0.6\n"

# --- Formula text that would be copied into an output -------------------------------------
_add(
    "cli_formula_subgroup",
    "pool --by label starting with =",
    by(["a", '=HYPERLINK(""http://x"",""y"")']),
    2,
    ["in.csv", "row 2", "column 'g'", "=HYPERLINK", FORMULA],
)
_add(
    "cli_formula_after_space",
    "a subgroup label with = after a no-break space",
    by(["a", "\xa0=1+1"]),
    2,
    ["row 2", "column 'g'", "value '\\xa0=1+1'", FORMULA],
)
_add(
    "cli_formula_after_newline",
    "a subgroup label with = on its second line",
    by(["a", "\n=1+1"]),
    2,
    ["row 2", "value '\\n=1+1'", FORMULA],
)
_add(
    "cli_formula_analysis",
    "pool --analysis starting with +",
    pool(POOL_OK, "--analysis", "+cmd|' /C calc'!A0"),
    2,
    ["--analysis '+cmd", FORMULA],
)
_add(
    "cli_formula_treatment",
    "an nma treatment starting with @",
    nma(NMA_OK.replace("s2,C,B", "s2,@C,B")),
    2,
    ["in.csv", "row 2", "column 'treat1'", "'@C'", FORMULA],
)
_add(
    "cli_formula_study",
    "an nma study name starting with - that is no number",
    nma(NMA_OK.replace("s1,B,A", "-s1,B,A")),
    2,
    ["row 1", "column 'study'", "'-s1'", FORMULA],
)
_add(
    "cli_formula_escalc_cell",
    "a text column escalc passes through, starting with a tab",
    escalc(f"study,{SMD_HEADER}" + '"\t=1",1,2,10,2,1,10\n'),
    2,
    ["in.csv", "row 1", "column 'study'", "'\\t=1'", FORMULA],
)
_add(
    "cli_formula_escalc_header",
    "a column name escalc passes through, starting with =",
    escalc(f"=cmd,{SMD_HEADER}x,1,2,10,2,1,10\n"),
    2,
    ["in.csv", "line 1", "column '=cmd'", FORMULA],
)
_add(
    "cli_signed_number_label_passes",
    "subgroup labels that are signed numbers (passes, copied as given)",
    by(["-1", "+2.5", "-1"]),
    0,
    ["pooled,+2.5,1,", "pooled,-1,2,"],
)

# --- reconstruct-km: bounded work, totals the curve rules out ------------------------------
_add(
    "cli_km_billion_at_risk",
    "a billion at risk (exhausted the memory)",
    km(FALLS_TO_06, "time,n_at_risk\n0,1000000000\n"),
    2,
    ["risk.csv", "row 1", "column 'n_at_risk'", "1000000000", "bounded to 1000000"],
)
_add(
    "cli_km_too_many_points",
    "a curve of 100,001 coordinates",
    km(
        "time,survival\n0,1\n" + "".join(f"{t},0.9\n" for t in range(1, 100_001)),
        KM_RISK_10,
    ),
    2,
    ["curve.csv", "row 100001", "column 'time'", "100000", "bounded to 100000"],
)
_add(
    "cli_km_too_many_risk_rows",
    "an at-risk table of 1,001 rows, each an interval fitted on its own",
    km(FALLS_TO_06, "time,n_at_risk\n" + "".join(f"{t},10\n" for t in range(1_001))),
    2,
    ["risk.csv", "row 1001", "column 'time'", "bounded to 1000"],
)
_add(
    "cli_km_no_events_on_a_falling_curve",
    "--total-events 0 on a curve falling to 0.6 (censored everyone, silently)",
    km(FALLS_TO_06, KM_RISK_10, "--total-events", "0"),
    2,
    ["--total-events", "value 0", "the curve falls to 0.6", "at least one event"],
)
_add(
    "cli_km_events_on_a_flat_curve",
    "events reported on a curve that stays at 1",
    km("time,survival\n0,1\n10,1\n", KM_RISK_10, "--total-events", "3"),
    2,
    ["--total-events", "value 3", "never falls below 1"],
)
_add(
    "cli_km_everyone_on_a_curve_above_zero",
    "everyone an event on a curve that stays above 0",
    km(FALLS_TO_06, KM_RISK_10, "--total-events", "10"),
    2,
    ["--total-events", "value 10", "not all 10"],
)
_add(
    "cli_km_huge_time",
    "a time of 1e308 (the midpoints overflowed)",
    km("time,survival\n0,1\n1e308,0.8\n1.7e308,0.6\n", KM_RISK_10),
    2,
    ["curve.csv", "row 2", "column 'time'", "1e+308", "times above 1e+12"],
)
_add(
    "cli_km_subnormal_gap_passes",
    "coordinates 1e-320 apart (an OverflowError; passes)",
    km("time,survival\n0,1\n1e-320,0.9\n1,0.5\n2,0.4\n", "time,n_at_risk\n0,100\n1,10\n"),
    0,
    ["time,event"],
)
_add(
    "cli_km_total_in_other_digits",
    "--total-events in Arabic-Indic digits",
    km(FALLS_TO_06, KM_RISK_10, "--total-events", "\u0663"),
    2,
    ["argument --total-events", "not a number (ASCII digits)"],
)

# --- nma: bounded networks --------------------------------------------------------------------
_add(
    "cli_nma_too_many_treatments",
    "a network of 201 treatments (2,000 took 197 s)",
    nma(star(201), reference="T0"),
    2,
    ["in.csv", "row 200", "column 'treat1'", "'T200'", "bounded to 200"],
)
_add(
    "cli_nma_too_many_contrasts",
    "a network of 20,001 contrasts",
    nma(NMA_HEADER + "s,B,A,0.1,0.1\n" * 20_001),
    2,
    ["in.csv", "row 20001", "more than 20000 contrasts"],
)
_add(
    "cli_nma_overflowing_estimate",
    "an nma estimate of 1e300 (a traceback in the optimizer)",
    nma(NMA_OK.replace("s1,B,A,0.4", "s1,B,A,1e300")),
    2,
    ["row 1", "column 'yi'", "'1e+300'", "beyond +-1e+50"],
)
_add(
    "cli_nma_variance_spread",
    "nma variances 1e-300 and 1e300",
    nma(NMA_HEADER + "s1,B,A,0.1,1e-300\ns2,B,A,0.2,1e300\n"),
    2,
    ["column 'vi'", "differ by more than"],
)
_add(
    "cli_nma_blank_treatment",
    "a treatment name of one space",
    nma(NMA_OK.replace("s2,C,B", "s2, ,B")),
    2,
    ["row 2", "column 'treat1'", "value ' '", "a name is required"],
)

# --- synth ---------------------------------------------------------------------------------
SYNTH = ["synth", "--out", "{tmp}/synthetic"]
_add(
    "cli_synth_billion_trials",
    "a billion simulated trials",
    ([*SYNTH, "--trials", "1000000000"], lambda tmp: None),
    2,
    ["--trials 1000000000", "at most 100000"],
)
_add(
    "cli_synth_negative_seed",
    "a negative seed (a traceback in numpy)",
    ([*SYNTH, "--trials", "3", "--seed", "-1"], lambda tmp: None),
    2,
    ["--seed -1", "must not be negative"],
)
_add(
    "cli_synth_template_bad_json",
    "a template whose descriptor is not JSON (a traceback)",
    (
        [*SYNTH, "--trials", "3", "--template", "{tmp}/template"],
        write("template/datapackage.json", '{"resources": ['),
    ),
    2,
    ["template: datapackage.json", "not valid JSON"],
)

# --- Tracebacks and misreadings of pool and escalc ------------------------------------------
STDIN_POOL = ["pool", "--input", "-"]
_add(
    "cli_stdin_nul",
    "binary standard input with a NUL byte",
    (STDIN_POOL, piped(b"yi,vi\n\x00\x01\n")),
    2,
    ["-: line 2", "NUL byte"],
)
_add(
    "cli_stdin_latin1",
    "standard input in Latin-1 (a UnicodeEncodeError)",
    (STDIN_POOL, piped(b"yi,vi\n0.1,0.2\xe9\n")),
    2,
    ["-: line 2", "byte 0xe9 is not UTF-8"],
)
_add(
    "cli_stdin_passes",
    "UTF-8 on standard input with a byte-order mark (passes)",
    (STDIN_POOL, piped(("\ufeff" + POOL_OK).encode())),
    0,
    ["pooled,overall,3,"],
)
_add(
    "cli_pool_overflowing_estimate",
    "pool with an estimate of 1e300 (overflow in the engine)",
    pool("yi,vi\n1e300,0.1\n-1e300,0.2\n0.3,0.1\n"),
    2,
    ["in.csv", "row 1", "column 'yi'", "'1e+300'", "beyond +-1e+50"],
)
_add(
    "cli_pool_tiny_variances",
    "pool with every variance 1e-300 (a traceback)",
    pool("yi,vi\n1e-300,1e-300\n2e-300,1e-300\n"),
    2,
    ["row 1", "column 'vi'", "'1e-300'", "outside [1e-50, 1e+50]"],
)
_add(
    "cli_pool_reserved_label",
    "a subgroup named overall (two rows of that name)",
    by(["a", "overall", "a"]),
    2,
    ["row 2", "column 'g'", "'overall'", "an output row of its own"],
)
_add(
    "cli_pool_too_many_subgroups",
    "1,001 subgroups, each a model of its own",
    by([f"g{i}" for i in range(1_001)]),
    2,
    ["in.csv", "row 1001", "column 'g'", "'g1000'", "bounded to 1000 subgroups"],
)
_add(
    "cli_pool_missing_label",
    "a study without a subgroup label, --na-action fail (by default omitted, as na.omit)",
    pool("yi,vi,g\n0.2,0.04,a\n0.5,0.09,\n", "--by", "g", "--na-action", "fail"),
    2,
    ["row 2", "column 'g'", "value is missing"],
)
_add(
    "cli_header_beyond_field_limit",
    "a header field of 200,000 characters (a csv.Error traceback)",
    pool("yi,vi," + "x" * 200_000 + "\n0.1,0.2,a\n"),
    2,
    ["in.csv", "line 1", "not a readable CSV header"],
)
_add(
    "cli_long_cell_shown_cut",
    "a 200,000-character cell in a number column",
    pool("yi,vi\n" + "x" * 200_000 + ",0.1\n"),
    2,
    ["row 1", "column 'yi'", "(200000 characters)", "not a number"],
)
_add(
    "cli_other_script_digits",
    "Arabic-Indic digits in a number column",
    pool("yi,vi\n\u0661\u0662,0.1\n0.2,0.2\n"),
    2,
    ["row 1", "column 'yi'", "'\u0661\u0662'", "not a number"],
)
_add(
    "cli_digit_separator",
    "a digit separator (1_6.5) in a number column",
    pool("yi,vi\n1_6.5,0.1\n0.2,0.2\n"),
    2,
    ["row 1", "column 'yi'", "'1_6.5'", "not a number"],
)
_add(
    "cli_true_false_column",
    "a column of True and False read as 1 and 0",
    pool("yi,vi\nTrue,0.1\nFalse,0.2\n"),
    2,
    ["row 1", "column 'yi'", "'True'", "not a number"],
)
_add(
    "cli_level_other_digits",
    "--level in Arabic-Indic digits",
    pool(POOL_OK, "--level", "\u0660.\u0669"),
    2,
    ["argument --level", "not a number (ASCII digits)"],
)
_add(
    "cli_escalc_mapped_onto_existing",
    "--ai naming a column when the file has an ai column too (a traceback)",
    (
        ["escalc", "--measure", "RR", "--input", "{tmp}/in.csv", "--ai", "x"],
        write("in.csv", "ai,n1i,ci,n2i,x\n1,10,3,10,4\n"),
    ),
    2,
    ["--ai x", "already has a column 'ai'"],
)
_add(
    "cli_escalc_negative_add",
    "a negative continuity correction (negative variances)",
    (
        ["escalc", "--measure", "RR", "--input", "{tmp}/in.csv", "--add", "-1"],
        write("in.csv", "ai,n1i,ci,n2i\n0,10,3,10\n"),
    ),
    2,
    ["--add -1.0", "finite and >= 0"],
)
_add(
    "cli_escalc_smd_overflow",
    "means of +-1e308 (g written as inf)",
    escalc(SMD_HEADER + "\n1e308,1,10,-1e308,1,10\n"),
    2,
    ["in.csv", "row 1", "the effect size is inf", "too large or too small"],
)

# --- Messages that were not one line ---------------------------------------------------------
_add(
    "cli_newline_in_path",
    "a file name with a newline",
    (["pool", "--input", "{tmp}/a\nb.csv"], lambda tmp: None),
    2,
    ["a\\nb.csv", "no such file"],
)
_add(
    "cli_argument_error",
    "a required option missing (usage and error were two lines)",
    (["pool"], lambda tmp: None),
    2,
    ["ketamine-meta pool: error:", "--input", "(see ketamine-meta pool --help)"],
)
_add(
    "cli_cite_missing_citation",
    "cite on a sources.csv with an empty citation (title = {nan})",
    (
        ["cite", "--package", "{tmp}/cited"],
        write("cited/sources.csv", "source_id,citation,url,doi\nx,,https://a,\n"),
    ),
    2,
    ["sources.csv", "row 1", "column 'citation'", "a value is required"],
)


# --- explain on a --root whose tables are not the pipeline's --------------------------------


def explain_root(rows: str, sources: str) -> tuple[list[str], Callable[[Path], None]]:
    """``explain smd_24h`` on a root holding the given rows table and sources.csv."""
    return ["explain", "smd_24h", "--root", "{tmp}/root"], chain(
        write("root/results/outputs.json", EXPLAIN_REGISTRY),
        write("root/results/tables/smd_24h_by_study.csv", rows),
        write(
            "root/results/tables/pooled_smd_24h_by_route.csv",
            "subgroup,estimate,ci_low,ci_high,k\noverall,0.1,0.0,0.2,1\n",
        ),
        write("root/data/raw/sources.csv", sources),
    )


_add(
    "cli_explain_without_registry",
    "explain on a root the pipeline has not run in (no results/outputs.json)",
    (["explain", "smd_24h", "--root", "{tmp}/empty"], write("empty/data/raw/sources.csv", "")),
    2,
    ["empty/results/outputs.json", "no registry of outputs", "run the pipeline first"],
)
_add(
    "cli_explain_unregistered_analysis",
    "explain of an analysis the registry does not trace names those it does",
    (
        ["explain", "smd_48h", "--root", "{tmp}/root"],
        write("root/results/outputs.json", EXPLAIN_REGISTRY),
    ),
    2,
    ["smd_48h: not an analysis of", "valid: smd_24h"],
)
_add(
    "cli_explain_sources_without_key",
    "explain with a sources.csv lacking source_id (reported as 'no subgroup None')",
    explain_root("study_id,yi,vi,route\nA,0.1,0.01,IV\n", "x,y\n1,2\n"),
    2,
    ["sources.csv", "missing column(s) source_id, url"],
)
_add(
    "cli_explain_rows_without_vi",
    "explain with a rows table lacking vi (reported as 'no subgroup None')",
    explain_root("study_id,yi,route\nA,0.1,IV\n", "source_id,url\ns,https://a\n"),
    2,
    ["smd_24h_by_study.csv", "no column 'vi'"],
)
