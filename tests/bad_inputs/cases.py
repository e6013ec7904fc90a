"""The bad-input corpus: one case per class, each with its expected exit status and message.

A case builds its input under a temporary directory ``tmp`` (a copy of the repository's data
package is at ``tmp / "pkg"``), then runs ``ketamine-meta`` with ``args`` (``{tmp}`` is
replaced by the directory). ``exit`` is the status it must end with and ``message`` the
fragments its output must contain; "passes" cases (exit 0) keep classes that work today
working.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from test_bad_input import edit_cell


@dataclass(frozen=True)
class Case:
    """One class of bad input."""

    id: str
    what: str
    args: list[str]
    exit: int
    message: list[str]
    build: Callable[[Path], None] = field(default=lambda tmp: None)


# --- Builders -------------------------------------------------------------------------------


def write(name: str, text: str | bytes) -> Callable[[Path], None]:
    def build(tmp: Path) -> None:
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)

    return build


def descriptor(edit: Callable[[dict], None]) -> Callable[[Path], None]:
    """Edit the package copy's datapackage.json."""

    def build(tmp: Path) -> None:
        path = tmp / "pkg" / "datapackage.json"
        data = json.loads(path.read_text())
        edit(data)
        path.write_text(json.dumps(data, indent=2))

    return build


def resource_path(index: int, value: str) -> Callable[[Path], None]:
    return descriptor(lambda d: d["resources"][index].__setitem__("path", value))


def cell(table: str, row: int, column: str, value: str) -> Callable[[Path], None]:
    """Set one cell (1-based data row) of a package table."""
    return lambda tmp: edit_cell(tmp / "pkg" / table, row, column, value)


def table_text(table: str, edit: Callable[[str], str | bytes]) -> Callable[[Path], None]:
    """Rewrite a package table's whole text (or bytes)."""

    def build(tmp: Path) -> None:
        path = tmp / "pkg" / table
        new = edit(path.read_text(encoding="utf-8"))
        (path.write_bytes if isinstance(new, bytes) else path.write_text)(new)

    return build


def header_only(table: str) -> Callable[[Path], None]:
    return table_text(table, lambda t: t.split("\n", 1)[0] + "\n")


def chain(*builders: Callable[[Path], None]) -> Callable[[Path], None]:
    def build(tmp: Path) -> None:
        for b in builders:
            b(tmp)

    return build


def latin1_in_first_row(text: str) -> bytes:
    """The table saved as Latin-1 with an accented letter in its first data row."""
    header, rows = text.split("\n", 1)
    return (header + "\n" + rows.replace("a", "\xe9", 1)).encode("latin-1", "replace")


VALIDATE = ["validate", "{tmp}/pkg"]
LOCATED = "row 1"

SMD_HEADER = "m1i,sd1i,n1i,m2i,sd2i,n2i\n"
POOL_OK = "yi,vi\n0.2,0.04\n0.5,0.09\n0.3,0.05\n"
CURVE_OK = "time,survival\n0,1\n10,0.8\n20,0.6\n30,0.5\n"
RISK_OK = "time,n_at_risk\n0,50\n10,40\n20,30\n"
KM = ["reconstruct-km", "--curve", "{tmp}/curve.csv", "--at-risk", "{tmp}/risk.csv"]


def escalc(text: str) -> tuple[list[str], Callable[[Path], None]]:
    return ["escalc", "--measure", "SMD", "--input", "{tmp}/in.csv"], write("in.csv", text)


def pool(text: str, *extra: str) -> tuple[list[str], Callable[[Path], None]]:
    return ["pool", "--input", "{tmp}/in.csv", *extra], write("in.csv", text)


def km(curve: str, risk: str, *extra: str) -> tuple[list[str], Callable[[Path], None]]:
    return [*KM, *extra], chain(write("curve.csv", curve), write("risk.csv", risk))


# --- The corpus ---------------------------------------------------------------------------

CASES: list[Case] = [
    # The descriptor: paths, JSON, encoding.
    Case(
        "traversal_relative",
        "resource path leaving the package",
        VALIDATE,
        2,
        ["resources[2].path", "'../../raw/outcomes.csv'", "inside the package"],
        resource_path(2, "../../raw/outcomes.csv"),
    ),
    Case(
        "traversal_absolute",
        "absolute resource path",
        VALIDATE,
        2,
        ["'/etc/passwd'", "inside the package"],
        resource_path(0, "/etc/passwd"),
    ),
    Case(
        "traversal_backslash",
        "Windows-style resource path",
        VALIDATE,
        2,
        ["..\\\\raw.csv", "inside the package"],
        resource_path(0, "..\\raw.csv"),
    ),
    Case(
        "path_not_normalized",
        "resource path with ./",
        VALIDATE,
        2,
        ["'./studies.csv'", "normalized"],
        resource_path(0, "./studies.csv"),
    ),
    Case(
        "path_is_descriptor",
        "resource path naming the descriptor",
        VALIDATE,
        2,
        ["'datapackage.json'"],
        resource_path(0, "datapackage.json"),
    ),
    Case(
        "descriptor_bad_json",
        "malformed JSON descriptor",
        VALIDATE,
        2,
        ["datapackage.json", "not valid JSON", "line 1"],
        write("pkg/datapackage.json", '{"resources": ['),
    ),
    Case(
        "descriptor_no_resources",
        "descriptor without resources",
        VALIDATE,
        2,
        ["no 'resources' list"],
        write("pkg/datapackage.json", '{"name": "x"}'),
    ),
    Case(
        "descriptor_resource_without_path",
        "resource without a path",
        VALIDATE,
        2,
        ["resources[0] has no 'path'"],
        descriptor(lambda d: d["resources"][0].pop("path")),
    ),
    Case(
        "descriptor_not_utf8",
        "descriptor in Latin-1",
        VALIDATE,
        2,
        ["datapackage.json", "not UTF-8"],
        write("pkg/datapackage.json", b'{"title": "caf\xe9"}'),
    ),
    Case(
        "no_descriptor",
        "directory without datapackage.json",
        ["validate", "{tmp}/empty"],
        2,
        ["datapackage.json", "no such file"],
        write("empty/.keep", ""),
    ),
    Case(
        "validate_a_file",
        "a file where a package directory is expected",
        ["validate", "{tmp}/pkg/studies.csv"],
        2,
        ["not a directory"],
    ),
    # Table files that cannot be read as CSV text.
    Case(
        "latin1_byte",
        "a Latin-1 byte in a table",
        VALIDATE,
        2,
        ["studies.csv", "line 2", "byte 0xe9 is not UTF-8"],
        table_text("studies.csv", latin1_in_first_row),
    ),
    Case(
        "binary_table",
        "a binary file as a table",
        VALIDATE,
        2,
        ["arms.csv", "NUL byte"],
        write("pkg/arms.csv", b"\x1f\x8b\x08\x00\x00binary"),
    ),
    Case(
        "table_is_directory",
        "a table that is a directory",
        VALIDATE,
        2,
        ["claims.csv", "is a directory"],
        chain(lambda tmp: (tmp / "pkg" / "claims.csv").unlink(), write("pkg/claims.csv/x", "x")),
    ),
    Case(
        "duplicated_header",
        "a column named twice",
        VALIDATE,
        1,
        ["sources.csv", "line 1", "column 'url'", "appears twice"],
        table_text("sources.csv", lambda t: t.replace("citation,url", "url,url", 1)),
    ),
    Case(
        "semicolon_delimited",
        "a semicolon-delimited table",
        VALIDATE,
        1,
        ["bioavailability.csv", "semicolon-delimited"],
        table_text("bioavailability.csv", lambda t: t.replace(",", ";")),
    ),
    Case(
        "empty_file",
        "an empty table file",
        VALIDATE,
        1,
        ["claims.csv", "the file is empty"],
        write("pkg/claims.csv", ""),
    ),
    Case(
        "truncated_row",
        "a file cut inside a row",
        VALIDATE,
        1,
        ["truncated row"],
        table_text("arms.csv", lambda t: t[: t.index("\n", 200) + 20]),
    ),
    Case(
        "cut_inside_quote",
        "a file cut inside a quoted field",
        VALIDATE,
        1,
        ["unreadable CSV"],
        table_text("studies.csv", lambda t: t[: t.index('"', t.index("\n")) + 10]),
    ),
    Case(
        "missing_listed_file",
        "a listed table that is absent",
        VALIDATE,
        1,
        ["claims.csv", "missing"],
        lambda tmp: (tmp / "pkg" / "claims.csv").unlink(),
    ),
    Case(
        "missing_column",
        "a required column removed from the header",
        VALIDATE,
        1,
        ["sources.csv", "column 'doi'", "required column is missing"],
        table_text("sources.csv", lambda t: t.replace(",doi", ",doy", 1)),
    ),
    # Cells.
    Case(
        "formula_equals",
        "a locator starting with =",
        VALIDATE,
        1,
        ["studies.csv", LOCATED, "column 'locator'", "formula"],
        cell("studies.csv", 1, "locator", '=HYPERLINK("http://x","y")'),
    ),
    Case(
        "formula_plus",
        "a citation starting with +",
        VALIDATE,
        1,
        ["sources.csv", LOCATED, "column 'citation'", "formula"],
        cell("sources.csv", 1, "citation", "+cmd|' /C calc'!A0"),
    ),
    Case(
        "formula_at",
        "a note starting with @",
        VALIDATE,
        1,
        ["arms.csv", LOCATED, "column 'note'", "formula"],
        cell("arms.csv", 1, "note", "@SUM(1)"),
    ),
    Case(
        "formula_minus",
        "a locator starting with - that is no number",
        VALIDATE,
        1,
        ["studies.csv", LOCATED, "formula"],
        cell("studies.csv", 1, "locator", "-2+3+cmd"),
    ),
    Case(
        "formula_tab",
        "a note starting with a tab",
        VALIDATE,
        1,
        ["arms.csv", LOCATED, "formula"],
        cell("arms.csv", 1, "note", "\t=1+1"),
    ),
    Case(
        "outcomes_header_only",
        "outcomes.csv with its header only",
        VALIDATE,
        1,
        ["outcomes.csv", "no data rows"],
        header_only("outcomes.csv"),
    ),
    Case(
        "studies_header_only",
        "studies.csv with its header only",
        VALIDATE,
        1,
        ["studies.csv", "no data rows"],
        header_only("studies.csv"),
    ),
    Case(
        "unknown_enum",
        "a value outside a vocabulary",
        VALIDATE,
        1,
        ["arms.csv", LOCATED, "column 'route'", "'transdermal'"],
        cell("arms.csv", 1, "route", "transdermal"),
    ),
    Case(
        "non_integer",
        "text in an integer column",
        VALIDATE,
        1,
        ["arms.csv", "column 'n_randomized'", "not an integer"],
        cell("arms.csv", 3, "n_randomized", "eighteen"),
    ),
    Case(
        "bad_year",
        "a year that is not a year",
        VALIDATE,
        1,
        ["studies.csv", "column 'year'"],
        cell("studies.csv", 1, "year", "20x3"),
    ),
    Case(
        "required_empty",
        "a required cell left empty",
        VALIDATE,
        1,
        ["studies.csv", LOCATED, "column 'setting'", "value is required"],
        cell("studies.csv", 1, "setting", ""),
    ),
    Case(
        "bad_data_basis",
        "a data basis outside the vocabulary",
        VALIDATE,
        1,
        ["outcomes.csv", LOCATED, "column 'data_basis'"],
        cell("outcomes.csv", 1, "data_basis", "tertiary"),
    ),
    Case(
        "foreign_key",
        "a source_id with no source",
        VALIDATE,
        1,
        ["studies.csv", LOCATED, "column 'source_id'", "no matching"],
        cell("studies.csv", 1, "source_id", "nowhere_2024"),
    ),
    Case(
        "duplicate_key",
        "a duplicated primary key",
        VALIDATE,
        1,
        ["studies.csv", "column 'study_id'"],
        cell("studies.csv", 2, "study_id", "Murrough2013"),
    ),
    Case(
        "events_exceed_n",
        "responders above n",
        VALIDATE,
        1,
        ["outcomes.csv", "column 'events'", "events exceed n"],
        chain(
            cell("outcomes.csv", 1, "outcome", "response"),
            cell("outcomes.csv", 1, "events", "900"),
            cell("outcomes.csv", 1, "mean", ""),
            cell("outcomes.csv", 1, "se", ""),
            cell("outcomes.csv", 1, "sd_source", ""),
            cell("outcomes.csv", 1, "value_type", ""),
        ),
    ),
    Case(
        "negative_sd",
        "a negative SD",
        VALIDATE,
        1,
        ["outcomes.csv", "column 'sd'", "'-3.2'"],
        chain(cell("outcomes.csv", 3, "sd", "-3.2")),
    ),
    Case(
        "relapse_share_above_one",
        "a proportion relapsed of 40",
        VALIDATE,
        1,
        ["relapse.csv", "column 'value'"],
        cell("relapse.csv", 9, "value", "40"),
    ),
    Case(
        "bad_regimen",
        "a relapse regimen outside the vocabulary",
        VALIDATE,
        1,
        ["relapse.csv", LOCATED, "column 'regimen'"],
        cell("relapse.csv", 1, "regimen", "maybe"),
    ),
    Case(
        "durability_bad_design",
        "a durability design outside the vocabulary",
        VALIDATE,
        1,
        ["durability_cohorts.csv", LOCATED, "column 'design'"],
        cell("durability_cohorts.csv", 1, "design", "anecdote"),
    ),
]


def _add(id: str, what: str, spec: tuple, exit: int, message: list[str]) -> None:
    args, build = spec
    CASES.append(Case(id, what, args, exit, message, build))


_add(
    "escalc_negative_sd",
    "escalc SMD with a negative SD",
    escalc(SMD_HEADER + "1,-2,10,2,1,10\n"),
    2,
    ["in.csv", "row 1", "column 'sd1i'", "'-2'", "must be positive"],
)
_add(
    "escalc_zero_sd",
    "escalc SMD with SD = 0",
    escalc(SMD_HEADER + "1,2,10,2,0,10\n"),
    2,
    ["column 'sd2i'", "'0'", "must be positive"],
)
_add(
    "escalc_zero_n",
    "escalc SMD with n = 0",
    escalc(SMD_HEADER + "1,2,0,2,1,10\n"),
    2,
    ["column 'n1i'", "at least 2"],
)
_add(
    "escalc_negative_n",
    "escalc SMD with a negative n",
    escalc(SMD_HEADER + "1,2,10,2,1,-4\n"),
    2,
    ["column 'n2i'", "'-4'"],
)
_add(
    "escalc_infinite_mean",
    "escalc SMD with an infinite mean",
    escalc(SMD_HEADER + "inf,2,10,2,1,10\n"),
    2,
    ["column 'm1i'", "'inf'", "finite"],
)
_add(
    "escalc_missing_mean",
    "escalc SMD with an empty mean",
    escalc(SMD_HEADER + ",2,10,2,1,10\n"),
    2,
    ["column 'm1i'", "finite"],
)
_add(
    "escalc_text",
    "escalc SMD with text in a number column",
    escalc(SMD_HEADER + "1,two,10,2,1,10\n"),
    2,
    ["column 'sd1i'", "'two'", "not a number"],
)
_add(
    "escalc_missing_column",
    "escalc SMD without a needed column",
    escalc("m1i,sd1i,n1i,m2i,sd2i\n1,2,10,2,1\n"),
    2,
    ["missing column(s) n2i"],
)
_add(
    "escalc_events_exceed",
    "escalc RR with events above n",
    (
        ["escalc", "--measure", "RR", "--input", "{tmp}/in.csv"],
        write("in.csv", "ai,n1i,ci,n2i\n12,10,2,10\n"),
    ),
    2,
    ["column 'ai'", "'12'", "between 0 and n1i"],
)
_add(
    "escalc_latin1",
    "escalc input with a Latin-1 byte",
    escalc(b"m1i,sd1i,n1i,m2i,sd2i,n2i\n1,2,10,2,1,10 \xe9\n"),
    2,
    ["in.csv", "line 2", "not UTF-8"],
)
_add(
    "escalc_semicolon",
    "escalc input delimited by semicolons",
    escalc("m1i;sd1i;n1i\n1;2;3\n"),
    2,
    ["semicolon-delimited"],
)
_add(
    "escalc_duplicate_header",
    "escalc input with a repeated column",
    escalc("m1i,m1i,sd1i\n1,2,3\n"),
    2,
    ["column(s) m1i appear twice"],
)
_add("escalc_empty_file", "escalc input that is empty", escalc(""), 2, ["the file is empty"])
_add("escalc_binary", "escalc input that is binary", escalc(b"\x00\x01\x02"), 2, ["NUL byte"])
_add(
    "escalc_missing_file",
    "escalc input that does not exist",
    (["escalc", "--measure", "SMD", "--input", "{tmp}/nope.csv"], lambda tmp: None),
    2,
    ["nope.csv", "no such file"],
)
_add(
    "escalc_directory_input",
    "a directory where a file is expected",
    (["escalc", "--measure", "SMD", "--input", "{tmp}"], lambda tmp: None),
    2,
    ["is a directory"],
)
_add(
    "escalc_output_missing_dir",
    "output into a directory that does not exist",
    (
        ["escalc", "--measure", "SMD", "--input", "{tmp}/in.csv", "--output", "{tmp}/no/where.csv"],
        write("in.csv", SMD_HEADER + "1,2,10,2,1,10\n"),
    ),
    2,
    ["directory", "does not exist"],
)
_add(
    "escalc_output_is_directory",
    "output path that is a directory",
    (
        ["escalc", "--measure", "SMD", "--input", "{tmp}/in.csv", "--output", "{tmp}"],
        write("in.csv", SMD_HEADER + "1,2,10,2,1,10\n"),
    ),
    2,
    ["is a directory"],
)
_add(
    "escalc_passes",
    "a valid SMD row (passes today, stays passing)",
    escalc(SMD_HEADER + "1,2,10,2,1,10\n"),
    0,
    ["yi,vi"],
)
# pool.
_add(
    "pool_infinite_yi",
    "pool with an infinite estimate",
    pool("yi,vi\n0.1,0.1\ninf,0.2\n"),
    2,
    ["row 2", "column 'yi'", "'inf'", "finite"],
)
_add(
    "pool_zero_vi",
    "pool with a zero variance",
    pool("yi,vi\n0.1,0.1\n0.2,0\n"),
    2,
    ["row 2", "column 'vi'", "must be positive"],
)
_add(
    "pool_infinite_vi",
    "pool with an infinite variance (dropped, said on stderr)",
    pool("yi,vi\n0.1,0.1\n0.3,inf\n0.5,0.2\n"),
    0,
    ["row 2", "infinite variance", "left out"],
)
_add(
    "pool_extreme_variances",
    "pool with variances 1e-300 and 1e300",
    pool("yi,vi\n0.1,1e-300\n0.3,1e300\n0.5,0.2\n"),
    2,
    ["differ by more than"],
)
_add(
    "pool_level_nan",
    "pool --level nan",
    pool(POOL_OK, "--level", "nan"),
    2,
    ["--level nan", "not a confidence level"],
)
_add(
    "pool_level_two",
    "pool --level 2",
    pool(POOL_OK, "--level", "2"),
    2,
    ["--level 2", "not a confidence level"],
)
_add(
    "pool_level_zero",
    "pool --level 0",
    pool(POOL_OK, "--level", "0"),
    2,
    ["not a confidence level"],
)
_add(
    "pool_level_one", "pool --level 1", pool(POOL_OK, "--level", "1"), 2, ["not a confidence level"]
)
_add(
    "pool_level_percent",
    "pool --level 95 as metafor reads it (passes)",
    pool(POOL_OK, "--level", "95"),
    0,
    ["overall"],
)
_add("pool_no_rows", "pool input with a header only", pool("yi,vi\n"), 2, ["no rows"])
_add(
    "pool_missing_by",
    "pool --by a column that is absent",
    pool(POOL_OK, "--by", "route"),
    2,
    ["missing column(s) route"],
)
_add(
    "pool_missing_value",
    "pool --na-action fail with an empty variance (the default omits the row, as na.omit)",
    pool("yi,vi\n0.1,\n0.2,0.3\n", "--na-action", "fail"),
    2,
    ["row 1", "column 'vi'", "missing"],
)
_add(
    "pool_only_missing_values",
    "pool with no row complete",
    pool("yi,vi\n0.1,\n,0.3\n"),
    2,
    ["every row lacks a value in yi, vi"],
)
# reconstruct-km.
_add(
    "km_survival_above_one",
    "a curve above 1",
    km("time,survival\n0,1\n10,1.2\n", RISK_OK),
    2,
    ["curve.csv", "row 2", "column 'survival'"],
)
_add(
    "km_time_decreasing",
    "curve times going back",
    km("time,survival\n0,1\n10,0.8\n5,0.7\n", RISK_OK),
    2,
    ["curve.csv", "row 3", "column 'time'"],
)
_add(
    "km_rising_at_risk",
    "an at-risk count that rises",
    km(CURVE_OK, "time,n_at_risk\n0,50\n10,40\n20,45\n"),
    2,
    ["risk.csv", "row 3", "column 'n_at_risk'", "45"],
)
_add(
    "km_missing_column",
    "a curve without survival",
    km("time,s\n0,1\n", RISK_OK),
    2,
    ["missing column(s) survival"],
)
_add(
    "km_survival_reaches_zero",
    "everyone relapses (passes: a normal case)",
    km("time,survival\n0,1\n5,0.5\n10,0.2\n15,0\n20,0\n", "time,n_at_risk\n0,20\n10,4\n20,0\n"),
    0,
    ["time,event"],
)
_add(
    "km_total_events_unmet",
    "a total of events the curve cannot give (warned)",
    km(CURVE_OK, RISK_OK, "--total-events", "49"),
    0,
    ["warning", "--total-events 49", "could not be met"],
)
# explain.
_add(
    "explain_unknown_subgroup",
    "explain a subgroup that does not exist",
    (["explain", "smd_24h", "Transdermal"], lambda tmp: None),
    2,
    ["no subgroup 'Transdermal'"],
)


# nma.
def nma(text: str, reference: str = "A") -> tuple[list[str], Callable[[Path], None]]:
    return ["nma", "--input", "{tmp}/in.csv", "--reference", reference], write("in.csv", text)


NMA_HEADER = "study,treat1,treat2,yi,vi\n"
# Two two-arm trials and a three-arm trial with all its pairs (B-A 0.5, C-A 0.9, C-B 0.4).
NMA_OK = (
    NMA_HEADER
    + "s1,B,A,0.4,0.1\ns2,C,B,0.3,0.1\ns3,B,A,0.5,0.09\ns3,C,A,0.9,0.1\ns3,C,B,0.4,0.11\n"
)

_add(
    "nma_passes",
    "a connected network with a three-arm trial (passes)",
    nma(NMA_OK),
    0,
    [
        "part,reference,treatment,estimate,se,ci_low,ci_high,pi_low,pi_high,tau2,trials",
        "\n1,A,B,",
        "\n1,A,C,",
    ],
)
_add(
    "nma_disconnected",
    "a network in two pieces: each fitted on its own, and said so (passes)",
    nma(NMA_HEADER + "s1,B,A,0.4,0.1\ns2,D,C,0.3,0.1\n"),
    0,
    ["2 connected parts", "part 1: reference A; part 2: reference C", "\n2,C,D,0.3,"],
)
_add(
    "nma_reference_in_no_trial",
    "a disconnected network whose reference is in none of its trials",
    nma(NMA_HEADER + "s1,B,A,0.4,0.1\ns2,D,C,0.3,0.1\n", reference="E"),
    2,
    ["reference 'E' is not a treatment", "A, B, C, D"],
)
_add(
    "nma_arms_without_measure",
    "arm-level input without its scale",
    (
        ["nma", "--input", "{tmp}/in.csv", "--reference", "A", "--arms"],
        write("in.csv", "study,treatment,event,n\ns1,A,3,10\ns1,B,5,10\n"),
    ),
    2,
    ["--arms needs --measure OR, RR or MD"],
)
_add(
    "nma_arms_events_above_n",
    "an arm with more events than participants",
    (
        ["nma", "--input", "{tmp}/in.csv", "--reference", "A", "--arms", "--measure", "OR"],
        write("in.csv", "study,treatment,event,n\ns1,A,3,10\ns1,B,12,10\n"),
    ),
    2,
    ["in.csv", "row 2", "column 'event'", "'12'", "a whole number from 0 to n"],
)
_add(
    "nma_covariance_above_variance",
    "a three-arm trial's covariance larger than one of its contrasts' variances",
    nma(
        "study,treat1,treat2,yi,vi,covi\ns1,B,A,0.4,0.1,\n"
        "s2,B,A,0.5,0.09,0.05\ns2,C,A,0.9,0.04,0.05\n"
    ),
    2,
    ["rows 2, 3", "'s2'", "covi must be positive and below every vi"],
)
_add(
    "nma_output_dir_is_a_file",
    "every network table asked for in a directory that is a file",
    (
        ["nma", "--input", "{tmp}/in.csv", "--reference", "A", "--output-dir", "{tmp}/in.csv"],
        write("in.csv", NMA_OK),
    ),
    2,
    ["--output-dir", "in.csv: is a file; give a directory"],
)
_add(
    "nma_contradictory",
    "a three-arm trial whose contrasts disagree",
    nma(NMA_OK.replace("s3,C,B,0.4,0.11", "s3,C,B,2.0,0.11")),
    2,
    ["in.csv", "rows 3, 4, 5", "column 'study'", "'s3'", "contradictory contrasts"],
)
_add(
    "nma_incomplete_multiarm",
    "a three-arm trial with one pair missing",
    nma(NMA_OK.replace("s3,C,B,0.4,0.11\n", "")),
    2,
    ["rows 3, 4", "'s3'", "needs all 3 pairwise contrasts", "missing B vs C"],
)
_add(
    "nma_zero_variance",
    "a contrast with a zero variance",
    nma(NMA_OK.replace("s2,C,B,0.3,0.1", "s2,C,B,0.3,0")),
    2,
    ["row 2", "column 'vi'", "'0.0'", "must be positive"],
)
_add(
    "nma_unknown_reference",
    "a reference that is not in the network",
    nma(NMA_OK, reference="placebo"),
    2,
    ["reference 'placebo' is not a treatment", "A, B, C"],
)
_add(
    "nma_missing_column",
    "contrasts without a vi column",
    nma("study,treat1,treat2,yi\ns1,B,A,0.4\n"),
    2,
    ["missing column(s) vi"],
)
_add(
    "nma_text_yi",
    "text in the yi column",
    nma(NMA_OK.replace("s1,B,A,0.4,0.1", "s1,B,A,big,0.1")),
    2,
    ["row 1", "column 'yi'", "'big'", "not a number"],
)
# synth.
_add(
    "synth_zero_trials",
    "a synthetic package of no trials",
    (["synth", "--trials", "0", "--out", "{tmp}/synthetic"], lambda tmp: None),
    2,
    ["--trials 0", "at least one trial"],
)
_add(
    "synth_not_a_template",
    "a template directory without a descriptor",
    (
        ["synth", "--trials", "3", "--out", "{tmp}/synthetic", "--template", "{tmp}"],
        lambda tmp: None,
    ),
    2,
    ["no datapackage.json"],
)

# Classes grouped by area, each module building on the helpers above.
from bad_inputs import cases_cli, cases_config, cases_package  # noqa: E402

CASES += cases_package.CASES + cases_cli.CASES + cases_config.CASES
