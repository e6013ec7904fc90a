"""The ``ketamine-meta`` command line (see :mod:`ketamine_meta.cli`).

Every error is one line on standard error, exit status 2, naming the file, row, column and
value that caused it (an invalid data package, exit 1, lists its problems one a line).

Text from the input that can reach an output table (``pool --by`` labels and
``--analysis``, ``nma`` treatment and study names, every text cell and column name ``escalc``
passes through) is refused when a spreadsheet would run it as a formula: a cell whose first
character, or first after leading spaces, is ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return, and that is not a plain number (OWASP "CSV injection"; the data package refuses the
same cells, :func:`~ketamine_meta.evidence.datapackage.formula_problem`). Refusing rather
than rewriting keeps every output cell equal to its input, so that names still match.

The work is bounded: effect estimates within +-:data:`MAX_ABS_EFFECT` and variances within
:data:`VARIANCE_BOUNDS` (every square the engines form stays a float), at most
:data:`MAX_SUBGROUPS` subgroups, networks of at most :data:`MAX_NETWORK_TREATMENTS`
treatments and :data:`MAX_NETWORK_CONTRASTS` contrasts,
:data:`~ketamine_meta.evidence.synthetic.MAX_TRIALS` simulated trials, and the bounds of
:mod:`~ketamine_meta.stats.km_reconstruction` (rows, patients, times).
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from importlib import metadata
from pathlib import Path
from typing import NoReturn

import numpy as np
import pandas as pd

from ketamine_meta.analyses.explain import explain, explainable, select_rows, subgroups
from ketamine_meta.cli import new_trial, plots, registry_import
from ketamine_meta.cli.errors import UsageError
from ketamine_meta.cli.pool_options import (
    NA_ACTIONS,
    back_transformed_table,
    model_label,
    omit_missing,
    regression_table,
)
from ketamine_meta.evidence.citations import bibtex, works
from ketamine_meta.evidence.completeness import completeness_warnings
from ketamine_meta.evidence.datapackage import (
    DataPackageError,
    formula_problem,
    validate_package,
)
from ketamine_meta.evidence.package_files import (
    decode_table_bytes,
    read_canonical_schema,
    read_package_dir,
    read_table_text,
    source_tree_canonical_schema,
)
from ketamine_meta.evidence.package_source import PackageSourceError
from ketamine_meta.evidence.synthetic import MAX_TRIALS, write_synthetic_package
from ketamine_meta.io.outputs import REGISTRY_FILE, read_registry
from ketamine_meta.io.tables import to_csv_text
from ketamine_meta.stats.bayes import BayesSpec, bayesian_meta_analysis
from ketamine_meta.stats.bayes_priors import PriorError, parse_mu_prior, parse_tau_prior
from ketamine_meta.stats.effect_sizes import (
    arcsine_proportion,
    correlation,
    fisher_z,
    log_incidence_rate_ratio,
    log_odds_ratio,
    log_proportion,
    log_ratio_of_means,
    log_risk_ratio,
    mean_difference,
    peto_log_odds_ratio,
    proportion,
    proportion_freeman_tukey,
    proportion_logit,
    risk_difference,
    smd,
    smd_paired,
    standardized_mean_change,
)
from ketamine_meta.stats.km_reconstruction import CurveInputError, reconstruct_ipd
from ketamine_meta.stats.meta_analysis import (
    OVERALL_LABEL,
    SUBGROUP_TEST_LABEL,
    percent_weights,
    pool_by_subgroup,
)
from ketamine_meta.stats.model import TESTS, ModelSpec
from ketamine_meta.stats.network import (
    NETWORK_METHODS,
    NetworkError,
    trials_from_arms,
    trials_from_pairwise,
)
from ketamine_meta.stats.network_tables import ARM_COLUMNS, arm_effects, network_tables
from ketamine_meta.stats.tau2 import ESTIMATORS
from ketamine_meta.stats.transforms import BACK_TRANSFORMS, NEEDS_SIZES

#: Raw columns each measure needs, in the order the effect-size function takes them.
MEANS = ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")
TWO_BY_TWO = ("ai", "n1i", "ci", "n2i")
MEASURE_COLUMNS = {
    "SMD": MEANS,
    "MD": MEANS,
    "ROM": MEANS,
    "SMCC": ("m1i", "m2i", "sd1i", "sd2i", "ni", "ri"),
    "SMCR": ("m1i", "m2i", "sd1i", "ni", "ri"),
    "RR": TWO_BY_TWO,
    "OR": TWO_BY_TWO,
    "RD": TWO_BY_TWO,
    "PETO": TWO_BY_TWO,
    "IRR": ("x1i", "t1i", "x2i", "t2i"),
    "PR": ("xi", "ni"),
    "PLN": ("xi", "ni"),
    "PLO": ("xi", "ni"),
    "PAS": ("xi", "ni"),
    "PFT": ("xi", "ni"),
    "COR": ("ri", "ni"),
    "ZCOR": ("ri", "ni"),
}
MEASURE_FUNCTIONS = {
    "SMD": smd,
    "MD": mean_difference,
    "ROM": log_ratio_of_means,
    "SMCC": standardized_mean_change,
    "SMCR": smd_paired,
    "RR": log_risk_ratio,
    "OR": log_odds_ratio,
    "RD": risk_difference,
    "PETO": peto_log_odds_ratio,
    "IRR": log_incidence_rate_ratio,
    "PR": proportion,
    "PLN": log_proportion,
    "PLO": proportion_logit,
    "PAS": arcsine_proportion,
    "PFT": proportion_freeman_tukey,
    "COR": correlation,
    "ZCOR": fisher_z,
}
#: Measures that take metafor's continuity-correction arguments ``add`` and ``to``.
CORRECTED = {"RR", "OR", "RD", "PETO", "IRR", "PR", "PLN", "PLO"}
#: metafor's ``vtype`` options of each measure that has more than its default, LS.
MEASURE_VTYPES = {
    "SMD": ("LS", "LS2", "UB", "AV"),
    "MD": ("LS", "UB", "HO"),
    "ROM": ("LS", "HO", "AV", "AVHO"),
    "SMCC": ("LS", "LS2"),
    "SMCR": ("LS", "LS2"),
    "RD": ("LS", "UB", "AV"),
    "PR": ("LS", "UB", "AV"),
    "PLN": ("LS", "AV"),
    "PLO": ("LS", "AV"),
    "COR": ("LS", "AV"),
}
MEASURE_HELP = (
    "SMD, MD, ROM: Hedges' g, mean difference, log ratio of means from m1i sd1i n1i m2i "
    "sd2i n2i; SMCC, SMCR: standardized mean change (change-score or raw-score "
    "standardization) from m1i m2i sd1i (sd2i for SMCC) ni ri; RR, OR, RD, PETO: log risk "
    "ratio, log odds ratio, risk difference, Peto's log odds ratio from ai n1i ci n2i "
    "(events and totals); IRR: log incidence rate ratio from x1i t1i x2i t2i (events and "
    "person-time); PR, PLN, PLO, PAS, PFT: raw, log, logit, arcsine and Freeman-Tukey "
    "proportion from xi ni; COR, ZCOR: raw and Fisher's z correlation from ri ni"
)


def _stdin_text() -> str:
    """Standard input as :func:`read_table_text` reads a file: UTF-8 text without NUL bytes.

    Read as bytes: a text stream would pass a NUL on to the parser and carry a byte that is
    not UTF-8 as a surrogate until writing fails.
    """
    try:
        return decode_table_bytes(sys.stdin.buffer.read(), "-")
    except PackageSourceError as exc:
        raise UsageError(str(exc)) from exc


def _read_csv(path: str, text_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """A user's CSV file, or a one-line :class:`UsageError` naming the file and what is wrong.

    ``text_columns`` (names and labels copied to the output) are kept as written: read as
    numbers, "+2.5" and "01" would come out as "2.5" and "1".
    """
    if path == "-":
        text = _stdin_text()
    else:
        file = Path(path)
        if not file.exists():
            raise UsageError(f"{path}: no such file")
        try:
            text = read_table_text(file)
        except PackageSourceError as exc:
            raise UsageError(str(exc)) from exc
    try:
        header = next(csv.reader(io.StringIO(text)), [])
    except csv.Error as exc:  # e.g. a header field beyond the csv module's size limit
        raise UsageError(f"{path}: line 1: not a readable CSV header ({exc})") from exc
    if not header:
        raise UsageError(f"{path}: the file is empty: no header row")
    if len(header) == 1 and ";" in header[0]:
        raise UsageError(
            f"{path}: line 1: the header is one column containing ';': the file looks "
            "semicolon-delimited; write it comma-separated"
        )
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        raise UsageError(f"{path}: line 1: column(s) {', '.join(repeated)} appear twice")
    try:
        return pd.read_csv(io.StringIO(text), dtype={c: str for c in text_columns if c in header})
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise UsageError(f"{path}: not a readable CSV file ({exc})") from exc


def _require_columns(frame: pd.DataFrame, columns: list[str], path: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise UsageError(
            f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(frame.columns)}"
        )


def _first_row(mask: np.ndarray) -> int:
    """1-based number of the first data row where ``mask`` holds."""
    return int(np.flatnonzero(mask)[0]) + 1


#: Characters of a cell shown in a message; a longer one is cut (a 100 kB cell is one line,
#: but not a readable one).
SHOWN_CHARACTERS = 80


def _shown(value: object) -> str:
    """A cell as a message shows it: at most :data:`SHOWN_CHARACTERS`, then its length."""
    text = str(value)
    if len(text) <= SHOWN_CHARACTERS:
        return text
    return f"{text[:SHOWN_CHARACTERS]}... ({len(text)} characters)"


def _refuse_cells(frame: pd.DataFrame, path: str, column: str, bad, why: str) -> None:
    """Raise a :class:`UsageError` naming the first row where ``bad`` holds, with its value."""
    bad = np.asarray(bad, dtype=bool)
    if bad.any():
        position = _first_row(bad) - 1
        value = _shown(frame[column].iloc[position])
        # Numbered as in the file: rows omitted for missing values keep their numbers.
        row = int(frame.index[position]) + 1
        raise UsageError(f"{path}: row {row}, column '{column}', value '{value}': {why}")


def _numeric(frame: pd.DataFrame, column: str, path: str) -> np.ndarray:
    """A column as floats; a cell that is not an ASCII number is refused, naming it.

    pandas reads neither other scripts' digits nor "1_6.5" as numbers (Python's ``float``
    would), but it reads a column of True and False as booleans, which would count as 1 and 0.
    """
    cells = frame[column]
    if pd.api.types.is_bool_dtype(cells):
        _refuse_cells(frame, path, column, np.ones(len(cells), dtype=bool), "not a number")
    values = pd.to_numeric(cells, errors="coerce")
    _refuse_cells(frame, path, column, values.isna() & cells.notna(), "not a number")
    return values.to_numpy(dtype=float)


def _formula_reason(text: str) -> str | None:
    """Why a text cell is refused as a spreadsheet formula, or None.

    :func:`~ketamine_meta.evidence.datapackage.formula_problem` of the text, and of the text
    after its leading spaces (newlines and no-break spaces too), which spreadsheets skip.
    """
    return formula_problem(text) or formula_problem(text.lstrip())


def _refuse_formulas(frame: pd.DataFrame, path: str, columns: list[str]) -> None:
    """Refuse the first text cell of ``columns`` that a spreadsheet would run as a formula."""
    for column in columns:
        cells = frame[column]
        if pd.api.types.is_numeric_dtype(cells):
            continue  # numbers are written as plain numbers
        reasons = cells.map(lambda cell: _formula_reason(cell) if isinstance(cell, str) else None)
        bad = reasons.notna().to_numpy()
        if bad.any():
            _refuse_cells(frame, path, column, bad, reasons.iloc[_first_row(bad) - 1])


def _refuse_formula_header(frame: pd.DataFrame, path: str) -> None:
    """Refuse a column name (copied to the output's header) that would run as a formula."""
    for column in frame.columns:
        reason = _formula_reason(str(column))
        if reason:
            raise UsageError(f"{path}: line 1, column '{_shown(column)}': {reason}")


def _refuse_formula_argument(option: str, value: str) -> None:
    """Refuse an option's text (written into the output) that would run as a formula."""
    reason = _formula_reason(value)
    if reason:
        raise UsageError(f"{option} '{_shown(value)}': {reason}")


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate a data package directory against the project's canonical schema."""
    root = Path(args.directory)
    if not root.is_dir():
        raise UsageError(f"{root}: not a directory (give the data package's directory)")
    try:
        canonical = read_canonical_schema(source_tree_canonical_schema())
        descriptor, texts = read_package_dir(root)
    except PackageSourceError as exc:
        raise UsageError(str(exc)) from exc
    try:
        tables = validate_package(descriptor, texts, canonical)
    except DataPackageError as exc:
        print(exc, file=sys.stderr)
        return 1
    for name, frame in tables.items():
        print(f"{name}: {len(frame)} rows valid")
    for warning in completeness_warnings(tables):
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def cmd_escalc(args: argparse.Namespace) -> int:
    """Append yi and vi to a CSV of per-arm data, its own columns unchanged (metafor's escalc)."""
    if not (np.isfinite(args.add) and args.add >= 0):
        raise UsageError(f"--add {args.add}: a continuity correction must be finite and >= 0")
    frame = _read_csv(args.input)
    # Every column is written back out: none may hold a formula.
    _refuse_formula_header(frame, args.input)
    _refuse_formulas(frame, args.input, list(frame.columns))
    # Computed from metafor's names; written as the user's own columns, yi and vi appended.
    own = frame
    frame = _mapped(frame, args)
    columns = list(MEASURE_COLUMNS[args.measure])
    if MEASURE_COLUMNS[args.measure] == TWO_BY_TWO:
        frame = _totals_from_two_by_two(frame, args.input)
    _require_columns(frame, columns, args.input)
    values = [_numeric(frame, c, args.input) for c in columns]
    named = dict(zip(columns, values, strict=True))
    _check_finite(frame, named, args.input)
    _check_counts(frame, args.measure, named, args.input)
    if args.measure in MEASURE_CHECKS:
        MEASURE_CHECKS[args.measure](frame, named, args.input)
    vtypes = MEASURE_VTYPES.get(args.measure, ("LS",))
    if args.vtype not in vtypes:
        raise UsageError(
            f"--vtype {args.vtype}: {args.measure} takes {', '.join(vtypes)} (as metafor's escalc)"
        )
    options = {"add": args.add, "to": args.to} if args.measure in CORRECTED else {}
    if args.measure in MEASURE_VTYPES:
        options["vtype"] = args.vtype
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        frame["yi"], frame["vi"] = MEASURE_FUNCTIONS[args.measure](*values, **options)
    uncorrected = args.measure in CORRECTED and args.to == "none"
    _check_outputs(frame, args.input, _zero_cells(args.measure, named) if uncorrected else None)
    _write(to_csv_text(own.assign(yi=frame["yi"], vi=frame["vi"])), args.output)
    return 0


#: The repository this package runs from (an editable install), where ``explain`` and
#: ``synth`` look when the working directory holds no results or package.
CHECKOUT = Path(__file__).resolve().parents[3]
#: metafor's argument names, which a file's own column names can be mapped onto.
METAFOR_NAMES = (
    *("ai", "bi", "ci", "di", "n1i", "n2i", "m1i", "m2i", "sd1i", "sd2i", "xi", "ni"),
    *("ri", "x1i", "x2i", "t1i", "t2i"),
)


def _mapped(
    frame: pd.DataFrame, args: argparse.Namespace, names: tuple[str, ...] = METAFOR_NAMES
) -> pd.DataFrame:
    """The frame with the file's columns renamed to ``names`` (``--ai tpos``, ``--columns``)."""
    mapping: dict[str, str] = {}
    for pair in filter(None, (args.columns or "").split(",")):
        name, _, column = pair.partition("=")
        if name.strip() not in names or not column.strip():
            raise UsageError(f"--columns {pair!r}: give NAME=COLUMN with NAME one of {names}")
        mapping[name.strip()] = column.strip()
    mapping |= {name: getattr(args, name) for name in names if getattr(args, name, None)}
    _require_columns(frame, list(mapping.values()), args.input)
    for name, column in mapping.items():
        others = [n for n, c in mapping.items() if c == column and n != name]
        if others:
            raise UsageError(f"column '{column}' is mapped to both {name} and {others[0]}")
        if name in frame.columns and name not in mapping.values():
            # Renaming would leave two columns of that name.
            raise UsageError(
                f"--{name} {column}: {args.input} already has a column '{name}'; map that "
                "one, or rename it"
            )
    return frame.rename(columns={column: name for name, column in mapping.items()})


def _totals_from_two_by_two(frame: pd.DataFrame, path: str) -> pd.DataFrame:
    """Metafor's 2x2 form (ai, bi, ci, di): group totals n1i = ai + bi and n2i = ci + di."""
    cells = {"ai", "bi", "ci", "di"}
    if cells <= set(frame.columns) and not {"n1i", "n2i"} & set(frame.columns):
        values = {c: _numeric(frame, c, path) for c in cells}
        for cell in sorted(cells):
            _refuse_cells(frame, path, cell, values[cell] < 0, "a cell count cannot be negative")
        return frame.assign(n1i=values["ai"] + values["bi"], n2i=values["ci"] + values["di"])
    return frame


def _check_finite(frame: pd.DataFrame, values: dict, path: str) -> None:
    """Every input value must be present and finite."""
    for column, array in values.items():
        _refuse_cells(frame, path, column, ~np.isfinite(array), "must be a finite number")


def _check_outputs(frame: pd.DataFrame, path: str, undefined: np.ndarray | None) -> None:
    """The computed ``yi`` and ``vi`` must be finite: inputs of extreme size (1e308) overflow.

    ``undefined`` marks the rows left without a value on purpose: a zero cell under
    ``--to none``, which metafor leaves undefined (NA) too.
    """
    bad = ~(np.isfinite(frame["yi"]) & np.isfinite(frame["vi"])).to_numpy()
    if undefined is not None:
        bad &= ~undefined
    if bad.any():
        row = _first_row(bad)
        yi, vi = frame["yi"].iloc[row - 1], frame["vi"].iloc[row - 1]
        raise UsageError(
            f"{path}: row {row}: the effect size is {yi:g} with variance {vi:g}: the inputs "
            "are too large or too small for floating point (check the units)"
        )


def _event_pairs(measure: str) -> list[tuple[str, str]]:
    """The (events, total) columns of a measure of counts among people."""
    columns = MEASURE_COLUMNS[measure]
    if columns == TWO_BY_TWO:
        return [("ai", "n1i"), ("ci", "n2i")]
    return [("xi", "ni")] if columns == ("xi", "ni") else []


def _zero_cells(measure: str, values: dict) -> np.ndarray:
    """Rows with a zero cell: no events, or events in everyone, in some group.

    Of incidence rates: no events in a group.
    """
    if measure == "IRR":
        return (values["x1i"] == 0) | (values["x2i"] == 0)
    pairs = _event_pairs(measure)
    return np.any([(values[e] == 0) | (values[e] == values[t]) for e, t in pairs], axis=0)


def _group_check(zero_sd: bool, minimum_n: int, positive_means: bool = False):
    """The check of two groups' means, SDs and sizes that a measure of means needs.

    ``zero_sd``: whether an SD of 0 is allowed (a raw difference; not a standardized one);
    ``minimum_n``: the smallest group (Hedges' J needs 2); ``positive_means``: a ratio of
    means takes their log.
    """

    def check(frame: pd.DataFrame, values: dict, path: str) -> None:
        rules = []
        if positive_means:
            why = "a ratio of means needs positive means"
            rules += [(c, values[c] <= 0, why) for c in ("m1i", "m2i")]
        for c in ("sd1i", "sd2i"):
            if zero_sd:
                rules.append((c, values[c] < 0, "a standard deviation cannot be negative"))
            else:
                rules.append((c, values[c] <= 0, "a standard deviation must be positive"))
        people = "participant" if minimum_n == 1 else "participants"
        why = f"a group needs at least {minimum_n} {people}"
        rules += [(c, values[c] < minimum_n, why) for c in ("n1i", "n2i")]
        for column, bad, why in rules:
            _refuse_cells(frame, path, column, bad, why)

    return check


def _change_check(change_score_sd: bool):
    """The check of a standardized mean change: SDs, the correlation, at least 3 people.

    ``change_score_sd`` (SMCC): the SD of the change scores, from both SDs and r, must be
    positive; otherwise (SMCR) the first SD, which standardizes, must be.
    """

    def check(frame: pd.DataFrame, values: dict, path: str) -> None:
        rules = [
            (c, values[c] < 0, "a standard deviation cannot be negative")
            for c in (("sd1i", "sd2i") if change_score_sd else ("sd1i",))
        ]
        rules.append(("ri", np.abs(values["ri"]) > 1, "a correlation must lie between -1 and 1"))
        rules.append(("ni", values["ni"] < 3, "Hedges' J(n - 1) needs at least 3 people"))
        for column, bad, why in rules:
            _refuse_cells(frame, path, column, bad, why)
        if change_score_sd:
            sd1, sd2, r = values["sd1i"], values["sd2i"], values["ri"]
            zero = sd1**2 + sd2**2 - 2 * r * sd1 * sd2 <= 0
            why = "the SD of the change scores, sqrt(sd1i^2 + sd2i^2 - 2 ri sd1i sd2i), is 0"
            _refuse_cells(frame, path, "sd1i", zero, why)
        else:
            _refuse_cells(frame, path, "sd1i", values["sd1i"] == 0, "a standardizer cannot be 0")

    return check


def _check_rates(frame: pd.DataFrame, values: dict, path: str) -> None:
    """Event counts must not be negative and person-times must be positive."""
    for column in ("x1i", "x2i"):
        _refuse_cells(frame, path, column, values[column] < 0, "a count cannot be negative")
    for column in ("t1i", "t2i"):
        _refuse_cells(frame, path, column, values[column] <= 0, "a person-time must be positive")


def _correlation_check(minimum_n: int):
    def check(frame: pd.DataFrame, values: dict, path: str) -> None:
        """A correlation lies in [-1, 1] (Fisher's z: strictly inside); enough people."""
        bound = np.abs(values["ri"]) >= 1 if minimum_n > 2 else np.abs(values["ri"]) > 1
        _refuse_cells(frame, path, "ri", bound, "a correlation must lie between -1 and 1")
        why = f"a correlation's variance needs at least {minimum_n} people"
        _refuse_cells(frame, path, "ni", values["ni"] < minimum_n, why)

    return check


#: Checks of a measure's inputs beyond finite numbers (counts are checked for every measure
#: of counts by :func:`_check_counts`).
MEASURE_CHECKS = {
    "SMD": _group_check(zero_sd=False, minimum_n=2),
    "MD": _group_check(zero_sd=True, minimum_n=1),
    "ROM": _group_check(zero_sd=True, minimum_n=1, positive_means=True),
    "SMCC": _change_check(change_score_sd=True),
    "SMCR": _change_check(change_score_sd=False),
    "IRR": _check_rates,
    "COR": _correlation_check(2),
    "ZCOR": _correlation_check(4),
}


def _check_counts(frame: pd.DataFrame, measure: str, values: dict, path: str) -> None:
    """Events must lie between 0 and their total, and totals must be positive."""
    for events, total in _event_pairs(measure):
        bad = (values[events] < 0) | (values[events] > values[total]) | (values[total] <= 0)
        if bad.any():
            total_value = frame[total].iloc[_first_row(bad) - 1]
            why = f"events must lie between 0 and {total} ({total_value})"
            _refuse_cells(frame, path, events, bad, why)


#: Most subgroups pooled: real subgroup analyses have a handful; each is a model of its own
#: (measured: 1,000 take 3 s, 10,000 take 12 s; a million would take half an hour).
MAX_SUBGROUPS = 1_000


def _check_subgroup_labels(frame: pd.DataFrame, path: str, column: str) -> None:
    """Labels present, no formula, none named as an output row, at most MAX_SUBGROUPS."""
    labels = frame[column]
    _refuse_cells(frame, path, column, labels.isna(), "a subgroup label is required")
    _refuse_formulas(frame, path, [column])
    reserved = labels.astype(str).isin([OVERALL_LABEL, SUBGROUP_TEST_LABEL])
    why = "the name of an output row of its own; give the subgroup another label"
    _refuse_cells(frame, path, column, reserved, why)
    _check_distinct(frame, path, [column], MAX_SUBGROUPS, "subgroup")


def cmd_pool(args: argparse.Namespace) -> int:
    """Pool yi/vi columns as metafor's ``rma`` does.

    Random effects, or the common-effect model with ``--method EE``; with ``--mods``, a
    meta-regression; with ``--bayes``, bayesmeta's model.
    """
    mods = args.mods or []
    text = (args.by,) if args.by else ()
    frame = _read_csv(args.input, text_columns=text)
    _require_columns(frame, [args.yi, args.vi, *text, *mods, *_sizes_column(args)], args.input)
    if frame.empty:
        raise UsageError(f"{args.input}: no rows; at least one study is needed")
    _refuse_formula_argument("--analysis", args.analysis)
    model = _model(args.method, args.test, args.level)
    frame = omit_missing(frame, [args.yi, args.vi, *text, *mods], args.input, args.na_action)
    if args.by:
        _check_subgroup_labels(frame, args.input, args.by)
    # A factor's levels name coefficients in the output.
    _refuse_formulas(frame, args.input, mods)
    yi = _numeric(frame, args.yi, args.input)
    vi = _numeric(frame, args.vi, args.input)
    _check_pool_inputs(frame, args, yi, vi)
    finite = np.isfinite(vi)
    # A study with infinite variance carries no weight (metafor drops it too): say so, once
    # nothing else can fail.
    for row in frame.index[~finite] + 1:
        print(
            f"ketamine-meta pool: note: {args.input}: row {row}, column '{args.vi}': infinite "
            "variance, the study gets no weight and is left out",
            file=sys.stderr,
        )
    groups = frame[args.by].astype(str).to_numpy() if args.by else "all"
    data = pd.DataFrame({"yi": yi, "vi": vi, "group": groups})[finite]
    if args.bayes:
        if args.weights:
            raise UsageError("--weights: a Bayesian fit has no fixed study weights")
        return _write_table(_bayes_table(data, args), args)
    if mods:
        table = regression_table(frame[finite], args, model)
        _write_weights(frame[finite], vi[finite], float(table["tau2"].iloc[0]), args)
        return _write_table(table, args)
    table, _, _ = pool_by_subgroup(
        data,
        by="group",
        analysis=args.analysis,
        **model.arguments,
        n=None,
    )
    overall_tau2 = float(table.loc[table["subgroup"] == OVERALL_LABEL, "tau2"].iloc[0])
    _write_weights(frame[finite], vi[finite], overall_tau2, args)
    if not args.by:
        table = table[table["subgroup"] == OVERALL_LABEL]
    table.insert(table.columns.get_loc("method"), "model", model_label(model))
    return _write_table(_back_transformed(table, frame, args), args)


def _write_weights(
    frame: pd.DataFrame, vi: np.ndarray, tau2: float, args: argparse.Namespace
) -> None:
    """``--weights FILE``: the studies fitted, their own columns and ``weight``.

    :func:`~ketamine_meta.stats.meta_analysis.percent_weights` (metafor's ``weights(res)``) of
    the overall model, or of the meta-regression with ``--mods``; studies left out (a missing
    value, an infinite variance) have no row.
    """
    if args.weights:
        weights = percent_weights(vi, tau2)
        _write(to_csv_text(frame.assign(weight=weights)), args.weights)


def _check_pool_inputs(
    frame: pd.DataFrame, args: argparse.Namespace, yi: np.ndarray, vi: np.ndarray
) -> None:
    """Estimates finite and bounded, variances positive, bounded and of a usable spread."""
    _refuse_cells(frame, args.input, args.yi, ~np.isfinite(yi), "an effect estimate must be finite")
    _check_effect_bound(frame, args.input, args.yi, yi)
    _refuse_cells(frame, args.input, args.vi, vi <= 0, "sampling variances must be positive")
    finite = np.isfinite(vi)
    if not finite.any():
        raise UsageError(f"{args.input}: no study with a finite variance")
    _check_variance_spread(vi[finite], args.input, args.vi)
    _check_variance_bounds(frame, args.input, args.vi, vi)


def _sizes_column(args: argparse.Namespace) -> list[str]:
    """The column of study sizes that ``--transf ipft.hm`` needs (``--ni``), if given."""
    if args.transf in NEEDS_SIZES and not args.ni:
        raise UsageError(f"--transf {args.transf} needs --ni COLUMN (the study sizes)")
    return [args.ni] if args.ni else []


def _back_transformed(table: pd.DataFrame, frame: pd.DataFrame, args: argparse.Namespace):
    """With ``--transf``: :func:`back_transformed_table` with the study sizes of ``--ni``."""
    if not args.transf:
        return table
    sizes = _numeric(frame, args.ni, args.input) if args.ni else None
    return back_transformed_table(table, args.transf, sizes)


def _write_table(table: pd.DataFrame, args: argparse.Namespace) -> int:
    _write(_formatted(table, args.format), args.output)
    return 0


def _bayes_spec(args: argparse.Namespace) -> BayesSpec:
    """The priors and level of ``pool --bayes``, refused in one line if they cannot be used."""
    try:
        return BayesSpec(parse_tau_prior(args.tau_prior), parse_mu_prior(args.mu_prior), args.level)
    except PriorError as exc:
        raise UsageError(str(exc)) from exc
    except ValueError as exc:
        raise UsageError(f"--level {args.level}: {exc}") from exc


def _bayes_table(data: pd.DataFrame, args: argparse.Namespace) -> pd.DataFrame:
    """``pool --bayes``: the posterior of mu per subgroup (with ``--by``) and overall.

    Columns ``analysis, subgroup, k``, bayesmeta's summaries (``mu_median, mu_mean, mu_sd``,
    equal-tailed ``ci_low, ci_high``, shortest ``hpd_low, hpd_high``, ``tau_median, tau_low,
    tau_high``, predictive ``pi_low, pi_high``, ``log_marginal_likelihood``), one
    ``prob_above_T`` per ``--prob-above``, and the priors; ``note`` says where one study
    leaves tau to its prior.
    """
    spec = _bayes_spec(args)
    thresholds = args.prob_above or []
    parts = list(data.groupby("group", sort=True)) if args.by else []
    rows = []
    for subgroup, rows_of in [*parts, (OVERALL_LABEL, data)]:
        try:
            fit = bayesian_meta_analysis(rows_of["yi"], rows_of["vi"], spec)
        except PriorError as exc:
            raise UsageError(f"{args.input}: subgroup '{subgroup}': {exc}") from exc
        summary = fit.summary(thresholds)
        rows.append(
            {
                "analysis": args.analysis,
                "subgroup": subgroup,
                **summary,
                "tau_prior": str(spec.tau_prior),
                "mu_prior": str(spec.mu_prior),
                "note": "1 study: tau's posterior is its prior" if fit.k == 1 else "",
            }
        )
    return pd.DataFrame(rows)


NMA_COLUMNS = ["study", "treat1", "treat2", "yi", "vi"]
NMA_NAMES = ("study", "treat1", "treat2")
NMA_ARM_NAMES = ("study", "treatment")
#: Every name a network's input columns can be mapped onto (``--columns NAME=COLUMN``).
NMA_MAPPABLE = (*NMA_COLUMNS, "covi", *NMA_ARM_NAMES, "event", "n", "mean", "sd")


#: Largest network fitted: published networks have tens of treatments, a hundred at most.
#: At the bounds a fit takes about a minute (measured: 200 treatments, 20,000 two-arm
#: contrasts, 55 s); 2,000 treatments took over three minutes.
MAX_NETWORK_TREATMENTS = 200
MAX_NETWORK_CONTRASTS = 20_000


def _check_network_rows(
    frame: pd.DataFrame, path: str, columns: list[str], names: tuple[str, ...], rows: str
) -> None:
    """A network's input: its columns, 1 to the bound of rows, every name given and plain.

    ``names`` are the study and treatment columns (the last ones name treatments); ``rows``
    says what a row is ("contrasts", "arms").
    """
    _require_columns(frame, columns, path)
    if frame.empty:
        raise UsageError(f"{path}: no rows; a network needs {rows}")
    if len(frame) > MAX_NETWORK_CONTRASTS:
        raise UsageError(
            f"{path}: row {MAX_NETWORK_CONTRASTS + 1}: more than {MAX_NETWORK_CONTRASTS} "
            f"{rows}; a network is bounded to {MAX_NETWORK_CONTRASTS}"
        )
    for column in names:
        blank = frame[column].isna() | (frame[column].astype(str).str.strip() == "")
        _refuse_cells(frame, path, column, blank, "a name is required")
    _refuse_formulas(frame, path, list(names))
    treatments = [c for c in names if c != "study"]
    _check_distinct(frame, path, treatments, MAX_NETWORK_TREATMENTS, "treatment")


def _nma_contrasts(frame: pd.DataFrame, path: str) -> pd.DataFrame:
    """The contrast table with every cell checked: names present, yi finite, vi > 0."""
    _check_network_rows(frame, path, NMA_COLUMNS, NMA_NAMES, "contrasts")
    yi = _numeric(frame, "yi", path)
    vi = _numeric(frame, "vi", path)
    _refuse_cells(frame, path, "yi", ~np.isfinite(yi), "an effect estimate must be finite")
    _refuse_cells(
        frame, path, "vi", ~(np.isfinite(vi) & (vi > 0)), "a variance must be positive and finite"
    )
    _check_effect_bound(frame, path, "yi", yi)
    _check_variance_spread(vi, path, "vi")
    _check_variance_bounds(frame, path, "vi", vi)
    contrasts = pd.DataFrame(
        {
            "study": frame["study"].astype(str),
            "treat1": frame["treat1"].astype(str),
            "treat2": frame["treat2"].astype(str),
            "yi": yi,
            "vi": vi,
        }
    )
    if "covi" in frame:
        covi = _numeric(frame, "covi", path)
        given = ~np.isnan(covi)
        _refuse_cells(frame, path, "covi", given & ~(np.isfinite(covi) & (covi > 0)), POSITIVE)
        contrasts["covi"] = covi
    return contrasts


POSITIVE = "a variance must be positive and finite"


def _nma_arms(frame: pd.DataFrame, path: str, measure: str) -> pd.DataFrame:
    """Arm-level rows, checked, as arm effects: ``study, treatment, effect, variance``.

    On the scale of ``measure``, as netmeta's pairwise() pairs them (:func:`arm_effects`).
    """
    columns = [*NMA_ARM_NAMES, *ARM_COLUMNS[measure]]
    _check_network_rows(frame, path, columns, NMA_ARM_NAMES, "arms")
    values = {c: _numeric(frame, c, path) for c in ARM_COLUMNS[measure]}
    _check_finite(frame, values, path)
    _refuse_cells(frame, path, "n", values["n"] < 1, "an arm needs at least 1 participant")
    if measure == "MD":
        _refuse_cells(frame, path, "sd", values["sd"] <= 0, "a standard deviation must be positive")
    else:
        events = values["event"]
        bad = (events < 0) | (events > values["n"]) | (events != np.round(events))
        _refuse_cells(frame, path, "event", bad, "events must be a whole number from 0 to n")
    study = frame["study"].astype(str).to_numpy()
    effect, variance = arm_effects(measure, study, values)
    bad = ~(np.isfinite(effect) & np.isfinite(variance) & (variance > 0))
    _refuse_cells(
        frame,
        path,
        "event" if measure != "MD" else "n",
        bad,
        "the arm's effect is undefined (no events, or only events, under --add 0?)",
    )
    return pd.DataFrame(
        {
            "study": study,
            "treatment": frame["treatment"].astype(str).to_numpy(),
            "effect": effect,
            "variance": variance,
        }
    )


def _check_distinct(
    frame: pd.DataFrame, path: str, columns: list[str], bound: int, what: str
) -> None:
    """Refuse the cell that names the ``what`` one beyond ``bound`` distinct values."""
    # Row by row, column by column: the order in which a reader meets the names.
    cells = frame[columns].astype(str).to_numpy().ravel()
    first_seen = pd.Index(cells).drop_duplicates()
    if len(first_seen) > bound:
        at = int(np.flatnonzero(cells == first_seen[bound])[0])
        row, column = at // len(columns) + 1, columns[at % len(columns)]
        raise UsageError(
            f"{path}: row {row}, column '{column}', value '{_shown(cells[at])}': {what} "
            f"{bound + 1}; the command is bounded to {bound} {what}s"
        )


def cmd_nma(args: argparse.Namespace) -> int:
    """Random-effects network meta-analysis: every table of :func:`network_tables`.

    Contrasts (``study, treat1, treat2, yi, vi``, and ``covi`` for a multi-arm trial's m - 1
    contrasts) or, with ``--arms``, arm-level rows as netmeta's pairwise() takes them. A
    network of several connected parts is fitted part by part, and says so.
    """
    if args.arms and args.measure is None:
        raise UsageError("--arms needs --measure OR, RR or MD (the scale of the arm effects)")
    if args.measure is not None and not args.arms:
        raise UsageError(f"--measure {args.measure}: only arm-level input (--arms) takes it")
    names = (*NMA_ARM_NAMES, "treat1", "treat2") if args.arms else NMA_NAMES
    frame = _mapped(_read_csv(args.input, text_columns=names), args, NMA_MAPPABLE)
    if args.arms:
        arms = _nma_arms(frame, args.input, args.measure)
        studies = arms["study"]
        trials = _network_input(lambda: trials_from_arms(arms), studies, args.input)
    else:
        contrasts = _nma_contrasts(frame, args.input)
        studies = contrasts["study"]
        trials = _network_input(lambda: trials_from_pairwise(contrasts), studies, args.input)
    model = _model(args.method, "z", args.level)
    tables = _network_input(
        lambda: network_tables(
            trials, args.reference, model.method, model.level, args.small_values
        ),
        studies,
        args.input,
    )
    parts = tables.effects["part"].nunique()
    if parts > 1:
        listed = "; ".join(
            f"part {p}: reference {r}"
            for p, r in tables.effects.groupby("part")["reference"].first().items()
        )
        print(
            f"ketamine-meta nma: the network has {parts} connected parts, fitted one by one "
            f"({listed}); nothing compares treatments of different parts",
            file=sys.stderr,
        )
    if args.output_dir is None:
        return _write_table(tables.effects, args)
    out = Path(args.output_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--output-dir {args.output_dir}: is a file; give a directory")
    out.mkdir(parents=True, exist_ok=True)
    suffix = "json" if args.format == "json" else "csv"
    for name, table in tables.frames().items():
        _write(_formatted(table, args.format), str(out / f"{name}.{suffix}"))
    print(f"wrote {', '.join(f'{n}.{suffix}' for n in tables.frames())} to {out}")
    return 0


def _formatted(table: pd.DataFrame, format_: str) -> str:
    if format_ == "json":
        return table.to_json(orient="records", indent=2, double_precision=15) + "\n"
    return to_csv_text(table)


def _network_input(build, studies: pd.Series, path: str):
    """``build()``, with a :class:`NetworkError` refused in one line naming its rows."""
    try:
        return build()
    except NetworkError as exc:
        if exc.study is None:
            raise UsageError(f"{path}: {exc}") from None
        rows = np.flatnonzero(studies.to_numpy() == exc.study) + 1
        listed = ("row " if len(rows) == 1 else "rows ") + ", ".join(str(r) for r in rows)
        raise UsageError(f"{path}: {listed}, column 'study', value '{exc.study}': {exc}") from None


def cmd_synth(args: argparse.Namespace) -> int:
    """Write a data package of simulated trials with its true effects (truth.json)."""
    if args.trials < 1:
        raise UsageError(f"--trials {args.trials}: at least one trial is needed")
    if args.trials > MAX_TRIALS:
        raise UsageError(f"--trials {args.trials}: at most {MAX_TRIALS} trials are simulated")
    if args.seed < 0:
        raise UsageError(f"--seed {args.seed}: a seed must not be negative")
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{args.out}: exists and is not an empty directory; give a new one")
    template = _template_package(args.template)
    try:
        truth = write_synthetic_package(template, out, args.trials, args.seed)
    except PackageSourceError as exc:
        raise UsageError(str(exc)) from exc
    print(f"wrote {args.trials} simulated trials (seed {truth['seed']}) to {out}")
    return 0


def _template_package(given: str | None) -> Path:
    """``--template``, else ``data/raw`` here, else that of the checkout this package runs from."""
    candidates = [Path(given)] if given else [Path("data/raw"), CHECKOUT / "data/raw"]
    for folder in candidates:
        if (folder / "datapackage.json").is_file():
            return folder
    where = given or f"data/raw here and in {CHECKOUT}"
    raise UsageError(f"{where}: no datapackage.json (the template package)")


def cmd_explain(args: argparse.Namespace) -> int:
    """Print the pooled number and every comparison, data row and source behind it."""
    root = _repository_root(args.root)
    registry = root / REGISTRY_FILE
    analyses = explainable(read_registry(registry)["traced"])
    if args.analysis not in analyses:
        raise UsageError(
            f"{args.analysis}: not an analysis of {registry}; valid: {', '.join(sorted(analyses))}"
        )
    analysis = analyses[args.analysis]
    rows_path = str(root / analysis.rows)
    table = _read_csv(rows_path)
    pooled = [_read_csv(str(root / path)) for path in analysis.pooled]
    # The package the run pulled (its config's data.source), else the repository's own.
    pulled = root / "data/processed/package/sources.csv"
    sources_path = str(pulled if pulled.is_file() else root / "data/raw/sources.csv")
    sources = _read_csv(sources_path)
    _require_columns(sources, ["source_id", "url"], sources_path)
    try:
        select_rows(table, args.subgroup, analysis)
    except KeyError as exc:
        valid = ", ".join(subgroups(table, analysis))
        raise UsageError(
            f"{args.analysis}: no subgroup {args.subgroup!r}; valid (any case): {valid}"
        ) from exc
    try:
        text = explain(table, sources, args.subgroup, pooled, analysis)
    except KeyError as exc:  # a table that is not the one the pipeline wrote
        missing = exc.args[0]
        path = rows_path if missing not in table.columns else ", ".join(analysis.pooled)
        raise UsageError(f"{path}: no column {missing!r} (a table of the pipeline?)") from exc
    _write(text, None)
    return 0


def _repository_root(given: str | None) -> Path:
    """The repository whose results ``explain`` reads.

    ``--root``, else the nearest folder from here upwards with a registry of outputs, else the
    checkout this package runs from.
    """
    if given is not None:
        candidates = [Path(given)]
    else:
        here = Path.cwd().resolve()
        candidates = [here, *here.parents, CHECKOUT]
    for folder in candidates:
        if (folder / REGISTRY_FILE).is_file():
            return folder
    where = Path(given) / REGISTRY_FILE if given else f"{REGISTRY_FILE} upwards from here"
    raise UsageError(f"{where}: no registry of outputs (run the pipeline first: make)")


def cmd_reconstruct_km(args: argparse.Namespace) -> int:
    """Rebuild individual patient data from a digitized Kaplan-Meier curve."""
    curve = _read_csv(args.curve)
    risk = _read_csv(args.at_risk)
    _require_columns(curve, ["time", "survival"], args.curve)
    _require_columns(risk, ["time", "n_at_risk"], args.at_risk)
    values = {
        (path, c): _numeric(frame, c, path)
        for path, frame, columns in (
            (args.curve, curve, ("time", "survival")),
            (args.at_risk, risk, ("time", "n_at_risk")),
        )
        for c in columns
    }
    for (path, column), array in values.items():
        if np.isnan(array).any():
            row = _first_row(np.isnan(array))
            raise UsageError(f"{path}: row {row}, column '{column}': value is missing")
    try:
        ipd = reconstruct_ipd(
            values[(args.curve, "time")],
            values[(args.curve, "survival")],
            values[(args.at_risk, "time")],
            values[(args.at_risk, "n_at_risk")],
            args.total_events,
        )
    except CurveInputError as exc:
        table, _, rest = str(exc).partition(": ")
        path = {"curve": args.curve, "at-risk": args.at_risk, "total_events": "--total-events"}
        raise UsageError(f"{path[table]}: {rest}" if table in path else str(exc)) from exc
    requested = ipd.attrs.get("total_events_requested")
    achieved = ipd.attrs.get("total_events_achieved")
    if requested is not None and achieved != requested:
        print(
            f"ketamine-meta reconstruct-km: warning: --total-events {requested} could not be "
            f"met by the curve; the rebuilt data have {achieved} events",
            file=sys.stderr,
        )
    _write(to_csv_text(ipd), args.out)
    return 0


#: Largest ratio of sampling variances the engine is asked to weigh against each other;
#: metafor already warns beyond 1e7 that results may be unstable.
MAX_VARIANCE_RATIO = 1e12


def _check_variance_spread(vi: np.ndarray, path: str, column: str) -> None:
    low, high = int(np.argmin(vi)), int(np.argmax(vi))
    if np.log10(vi[high]) - np.log10(vi[low]) > np.log10(MAX_VARIANCE_RATIO):
        raise UsageError(
            f"{path}: column '{column}': variances {vi[low]:g} and {vi[high]:g} differ by "
            f"more than {MAX_VARIANCE_RATIO:g}: no stable weights (check the units)"
        )


#: Largest |yi| and range of vi given to the engines: far beyond any effect or variance in
#: any unit, and every square and product the engines form stays a float (at 1e100 REML's
#: likelihood overflows; 1e300 squared is infinite).
MAX_ABS_EFFECT = 1e50
VARIANCE_BOUNDS = (1e-50, 1e50)


def _check_effect_bound(frame: pd.DataFrame, path: str, column: str, yi: np.ndarray) -> None:
    """Refuse the first estimate beyond +-:data:`MAX_ABS_EFFECT`."""
    too_large = np.abs(yi) > MAX_ABS_EFFECT
    why = f"an effect estimate beyond +-{MAX_ABS_EFFECT:g} is refused (check the units)"
    _refuse_cells(frame, path, column, too_large, why)


def _check_variance_bounds(frame: pd.DataFrame, path: str, column: str, vi: np.ndarray) -> None:
    """Refuse the first variance outside :data:`VARIANCE_BOUNDS`.

    An infinite one is not refused: ``pool`` gives that study no weight, as metafor does.
    """
    low, high = VARIANCE_BOUNDS
    why = f"a sampling variance outside [{low:g}, {high:g}] is refused (check the units)"
    _refuse_cells(frame, path, column, (vi < low) | ((vi > high) & np.isfinite(vi)), why)


def _model(method: str, test: str, level: float) -> ModelSpec:
    """The model of the options; argparse has checked ``--method`` and ``--test``."""
    try:
        return ModelSpec(method, test, level)
    except ValueError as exc:
        raise UsageError(f"--level {level}: {exc}") from exc


def cmd_cite(args: argparse.Namespace) -> int:
    """Print (or write) BibTeX of the works behind the package's numbers (all with ``--all``)."""
    package = Path(args.package)
    path = str(package / "sources.csv")
    sources = _read_csv(path)
    _require_columns(sources, ["source_id", "citation", "url", "doi"], args.package)
    # The package's own rules for what BibTeX is built from: a key it can hold, no gaps.
    keys = sources["source_id"].astype(str)
    not_key = sources["source_id"].isna() | ~keys.str.fullmatch(r"[a-z0-9_]+")
    _refuse_cells(sources, path, "source_id", not_key, "a key is lower-case letters, digits, _")
    for column in ("citation", "url"):
        _refuse_cells(sources, path, column, sources[column].isna(), "a value is required")
    if not args.all:
        sources = sources[sources["source_id"].isin(_cited_source_ids(package))]
    _write(bibtex(works(sources)), args.output)
    return 0


def _cited_source_ids(package: Path) -> set[str]:
    """The source ids that a row of one of the package's tables (not sources.csv) names."""
    cited: set[str] = set()
    for table in sorted(package.glob("*.csv")):
        if table.name == "sources.csv":
            continue
        frame = _read_csv(str(table))
        if "source_id" in frame:
            cited |= set(frame["source_id"].dropna().astype(str))
    return cited


def _write(text: str, output: str | None) -> None:
    """Write ``text`` to ``output`` (whole, via a temporary file) or to standard output."""
    if not output or output == "-":
        sys.stdout.write(text)
        return
    target = Path(output)
    if target.is_dir():
        raise UsageError(f"{output}: is a directory; give a file name")
    if not target.parent.is_dir():
        raise UsageError(f"{output}: directory {target.parent} does not exist")
    partial = target.with_name(f".{target.name}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)  # gone once replaced; a failed write leaves none


class _OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, as every other error of the command."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {_one_line(message)} (see {self.prog} --help)\n")


def _ascii_number(text: str, convert: type[int] | type[float]) -> int | float:
    """``convert(text)``, refusing other scripts' digits and digit separators.

    ``int`` and ``float`` read both (Arabic-Indic one-two is 12, "1_0" is 10): in an option
    they are a slip, not a number.
    """
    if not text.isascii() or "_" in text:
        raise argparse.ArgumentTypeError(f"'{_shown(text)}': not a number (ASCII digits)")
    try:
        return convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{_shown(text)}': not a {convert.__name__}") from None


def _decimal(text: str) -> float:
    """An option's number: ASCII, as ``float`` reads it (nan and inf are refused later)."""
    return _ascii_number(text, float)


def _whole(text: str) -> int:
    """An option's whole number, in ASCII digits."""
    return _ascii_number(text, int)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``ketamine-meta`` command."""
    parser = _OneLineParser(
        prog="ketamine-meta",
        description="Meta-analysis tools of the ketamine-meta project (metafor-compatible).",
        epilog="Errors are one line naming file, row, column and value. Text a spreadsheet "
        "would run as a formula (first character, after any spaces, = + - @ tab or CR, not "
        "a number) is refused wherever it would be copied into an output.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="validate a data package directory")
    p.add_argument("directory")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser(
        "escalc",
        help="add yi and vi computed from per-arm columns",
        description="Columns are named as metafor's escalc arguments (ai bi ci di n1i n2i m1i "
        "m2i sd1i sd2i xi ni), or mapped from the file's own names with --ai COLUMN ... or "
        "--columns ai=COLUMN,ci=COLUMN. RR, OR and RD take ai n1i ci n2i, or the 2x2 table "
        "ai bi ci di (totals are then ai + bi and ci + di).",
    )
    p.add_argument("--input", required=True, help="CSV file, or - for standard input")
    p.add_argument("--measure", required=True, choices=sorted(MEASURE_COLUMNS), help=MEASURE_HELP)
    p.add_argument(
        "--add", type=_decimal, default=0.5, help="continuity correction (default 0.5, metafor's)"
    )
    p.add_argument(
        "--to",
        default="only0",
        choices=["only0", "all", "if0all", "none"],
        help="which studies get the correction: only those with a zero cell (default), all, "
        "all if any has a zero cell, none",
    )
    p.add_argument(
        "--vtype",
        default="LS",
        choices=sorted({v for vtypes in MEASURE_VTYPES.values() for v in vtypes}),
        help="sampling variance as metafor's vtype: LS (default, large-sample); also SMD "
        "LS2 UB AV, MD UB HO, ROM HO AV AVHO, SMCC and SMCR LS2, RD and PR UB AV, PLN and "
        "PLO AV, COR AV (UB unbiased, HO equal variances, AV from the studies' mean)",
    )
    p.add_argument("--columns", help="NAME=COLUMN pairs, comma-separated (e.g. ai=tpos,ci=cpos)")
    for name in METAFOR_NAMES:
        p.add_argument(f"--{name}", metavar="COLUMN", help=f"the file's column for {name}")
    p.add_argument("--output", help="write here instead of standard output (- too)")
    p.set_defaults(func=cmd_escalc)

    p = sub.add_parser(
        "pool",
        help="meta-analysis of yi and vi as metafor's rma (REML, z by default)",
        description="With --by, each subgroup is pooled with its own tau^2 and the last row tests "
        "for subgroup differences: Cochran's Q of the subgroup estimates with their standard "
        "errors, chi^2 on (subgroups - 1) df (metafor: rma per subgroup, then "
        "rma(estimates, sei = ses, method = 'FE')$QE).",
    )
    p.add_argument("--input", required=True, help="CSV file, or - for standard input")
    p.add_argument("--yi", default="yi", help="column of effect estimates (default yi)")
    p.add_argument("--vi", default="vi", help="column of sampling variances (default vi)")
    p.add_argument(
        "--method",
        default="REML",
        choices=list(ESTIMATORS),
        help="tau^2 estimator (default REML, as rma()); EE (or FE) fits the common-effect model",
    )
    p.add_argument(
        "--test",
        default="z",
        choices=list(TESTS),
        help="Wald z (default, as rma()), Hartung-Knapp (knha) or its ad hoc truncated form",
    )
    p.add_argument("--level", default=0.95, type=_decimal, help="confidence level (default 0.95)")
    p.add_argument(
        "--by",
        help="column defining subgroups (separate tau^2 each; Q test for subgroup differences); "
        f"at most {MAX_SUBGROUPS}; labels a spreadsheet would run as formulas are refused",
    )
    p.add_argument(
        "--analysis",
        default="pooled",
        help="text of the analysis column (refused if a spreadsheet would run it as a formula)",
    )
    p.add_argument(
        "--mods",
        nargs="+",
        metavar="COLUMN",
        help="meta-regression on these columns (metafor mods = ~ a + b; a text column is a "
        "factor, its first level in sorted order the reference): one row per coefficient, "
        "with QM, QE, tau^2, I^2 and R^2",
    )
    p.add_argument(
        "--na-action",
        default="omit",
        choices=NA_ACTIONS,
        help="rows with a missing value in a column the model uses: omit them with a note "
        "naming them (default, as na.action = na.omit) or refuse the file (fail)",
    )
    p.add_argument(
        "--transf",
        choices=sorted(BACK_TRANSFORMS),
        help="back-transform the estimate and its intervals (metafor's transf): exp for "
        "ratios, ilogit for logits, ztor for Fisher's z, iarcsin, and ipft.hm for "
        "Freeman-Tukey proportions (with --ni)",
    )
    p.add_argument("--ni", metavar="COLUMN", help="study sizes, for --transf ipft.hm")
    p.add_argument(
        "--weights",
        metavar="FILE",
        help="also write the studies fitted with their weight in percent (metafor's "
        "weights(res), of the overall model, or of the meta-regression with --mods)",
    )
    p.add_argument("--format", default="csv", choices=["csv", "json"])
    p.add_argument("--output", help="write here instead of standard output")
    p.add_argument(
        "--bayes",
        action="store_true",
        help="Bayesian random effects by quadrature over tau (bayesmeta's model): posterior "
        "summaries instead of the frequentist fit; --method and --test do not apply",
    )
    p.add_argument(
        "--tau-prior",
        default="halfnormal:0.5",
        help="with --bayes: halfnormal:SCALE, halfcauchy:SCALE, lognormal:MEAN:SD or "
        "logt:LOCATION:SCALE:DF (both on log tau^2), or uniform (default halfnormal:0.5)",
    )
    p.add_argument(
        "--mu-prior", default="uniform", help="with --bayes: uniform (default) or normal:MEAN:SD"
    )
    p.add_argument(
        "--prob-above",
        action="append",
        type=_decimal,
        metavar="T",
        help="with --bayes: add the posterior probability that mu exceeds T (repeatable)",
    )
    p.set_defaults(func=cmd_pool)

    p = sub.add_parser(
        "nma",
        help="random-effects network meta-analysis: effects, league table, P-scores, Q split, "
        "node-splitting, direct evidence",
        description="Contrasts, one row per pairwise contrast: study, treat1, treat2, yi "
        "(treat1 minus treat2), vi. A multi-arm trial gives all its pairs (netmeta's form; its "
        "arm variances are back-calculated, v_A = (v_AB + v_AC - v_BC) / 2), or its m - 1 "
        "contrasts against one arm with their covariance in covi (metafor's V: that arm's "
        "variance). With --arms, one row per arm: study, treatment and, for --measure OR or "
        "RR, event and n, for MD, mean, sd and n (netmeta's pairwise(); 1/2 added to every "
        "arm of a trial with an arm of no events or only events). Own column names: "
        "--columns NAME=COLUMN,... At most "
        f"{MAX_NETWORK_TREATMENTS} treatments and {MAX_NETWORK_CONTRASTS} rows. Consistency "
        "model with one tau^2 (metafor: rma.mv(yi, V, mods = ~ treatments - 1, random = ~ comp "
        "| study, rho = 1/2)), REML by default; z confidence and prediction intervals. A "
        "network of several connected parts is fitted part by part, each against the "
        "reference where it holds it, else its first treatment. Output: each treatment minus "
        "the reference; with --output-dir, also the league table (row minus column), P-scores "
        "(per part), Q within and between designs, node-splitting of every comparison with "
        "direct and indirect evidence, and the share of direct evidence.",
    )
    p.add_argument("--input", required=True, help="CSV file, or - for standard input")
    p.add_argument("--reference", required=True, help="treatment the others are compared with")
    p.add_argument(
        "--method",
        default="REML",
        choices=list(NETWORK_METHODS),
        help="tau^2 estimator (default REML)",
    )
    p.add_argument("--level", default=0.95, type=_decimal, help="confidence level (default 0.95)")
    p.add_argument("--arms", action="store_true", help="arm-level input (see above)")
    p.add_argument(
        "--measure",
        choices=sorted(ARM_COLUMNS),
        help="scale of arm-level input: MD mean difference, OR log odds ratio, RR log risk ratio",
    )
    p.add_argument("--columns", help="NAME=COLUMN pairs, comma-separated (e.g. event=resp)")
    p.add_argument(
        "--small-values",
        default="undesirable",
        choices=["undesirable", "desirable"],
        help="which end of the scale is better, for the P-scores (netmeta's small.values; "
        "default undesirable: larger effects better)",
    )
    p.add_argument("--format", default="csv", choices=["csv", "json"])
    p.add_argument("--output", help="write the effects here instead of standard output")
    p.add_argument(
        "--output-dir",
        help="write every table here: effects, league, pscores, heterogeneity, node_split, "
        "direct_share (.csv or .json)",
    )
    p.set_defaults(func=cmd_nma)

    p = sub.add_parser(
        "synth",
        help="write a data package of simulated trials with known effects",
        description="Simulated trials of every formulation (racemic IV, IN, oral, IM; "
        "esketamine IN, IV; arketamine) against inert or active placebo, with two-dose and "
        "crossover trials, scores at 2 h, 24 h, 7 d and 28 d, response, dissociation and "
        "relapse rows. The true effects are written to DIR/truth.json. The descriptor and the "
        "tables that describe no trial come from --template.",
    )
    p.add_argument(
        "--trials", type=_whole, required=True, help=f"number of trials (1 to {MAX_TRIALS})"
    )
    p.add_argument("--seed", type=_whole, default=1, help="random seed, >= 0 (default 1)")
    p.add_argument("--out", required=True, help="new directory for the package")
    p.add_argument(
        "--template",
        help="package to take the descriptor from (default: data/raw here, else the checkout's)",
    )
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("explain", help="trace a pooled number to its rows and sources")
    p.add_argument(
        "analysis",
        help="a traced analysis of results/outputs.json, e.g. smd_24h, rr_response_24h, "
        "adverse_events, relapse, claims",
    )
    p.add_argument(
        "subgroup",
        nargs="?",
        help="a route, enantiomer, control type, event, regimen, claim id or study, in any case "
        "(default: all rows and the overall estimate)",
    )
    p.add_argument(
        "--root",
        help="repository root (default: the nearest folder upwards holding "
        f"{REGISTRY_FILE}, else the checkout this package runs from)",
    )
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser(
        "reconstruct-km",
        help="rebuild patient-level data from a digitized Kaplan-Meier curve (Guyot 2012)",
    )
    p.add_argument("--curve", required=True, help="CSV with columns time, survival (0-1)")
    p.add_argument("--at-risk", required=True, help="CSV with columns time, n_at_risk")
    p.add_argument(
        "--total-events",
        type=_whole,
        help="total number of events, when reported (refused if the curve rules it out)",
    )
    p.add_argument("--out", help="write IPD (time, event) here instead of standard output")
    p.set_defaults(func=cmd_reconstruct_km)

    p = sub.add_parser(
        "cite",
        help="BibTeX of the works the data package's numbers came from",
        description="One entry per distinct work (sources sharing a DOI, or a citation, are "
        "one work), with author, title, journal, year, volume, number, pages, DOI and URL "
        "where the recorded citation gives them, and the source ids it stands for. By "
        "default only the works whose sources a row of the package's tables names.",
    )
    p.add_argument(
        "--package", default="data/raw", help="data package directory (default data/raw)"
    )
    p.add_argument(
        "--all", action="store_true", help="every source of sources.csv, cited by a row or not"
    )
    p.add_argument("--output", help="write here instead of standard output")
    p.set_defaults(func=cmd_cite)

    # forest and funnel read their input as pool does (these helpers), then draw.
    plots.add_parsers(sub, (_read_csv, _require_columns, _numeric, _check_pool_inputs), _decimal)

    new_trial.register(sub)
    registry_import.register(sub)
    return parser


def _version() -> str:
    try:
        return metadata.version("ketamine-meta")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        message = str(exc)
    except OSError as exc:
        # A file that cannot be read or written (permissions, a full disk): one line, no
        # traceback; the name is the OS's.
        message = f"{exc.filename}: {exc.strerror}"
    print(f"ketamine-meta {args.command}: error: {_one_line(message)}", file=sys.stderr)
    return 2


def _one_line(message: str) -> str:
    """``message`` on one line: control characters (a newline in a cell or a path) escaped."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in message)


if __name__ == "__main__":
    sys.exit(main())
