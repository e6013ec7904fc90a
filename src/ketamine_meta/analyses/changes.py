"""What changed since the last data release: the headline results before and after.

``make release`` (``tools/release_data.py``) records each release of the data package in
``data/releases/ketamine-meta-data-X.Y.Z.json`` (:func:`release_record`): the data version,
the archive's SHA-256, the commit the release was built from and a :func:`snapshot` of that
commit's headline results. The workflow (rule ``what_changed``) takes the same snapshot of
the current results and lists what differs from the newest release (:func:`newest_release`,
:func:`compare`), one :class:`Change` each:

- ``study``: a trial added to or removed from the data package, or one whose rows changed in
  any table (each trial's rows are fingerprinted per table, :func:`study_fingerprints`);
- ``trials``: an analysis that pools other trials than it did;
- ``estimate``: a row of a pooled-estimate table (:data:`ESTIMATE_TABLES`) whose estimate,
  interval, counts or certainty moved, or that appeared or went;
- ``verdict``: a claim whose audit verdict moved.

The tables are named as their slices register them (slice and table key,
:class:`SnapshotTables`), and their file names are read from the workflow's registry of outputs
(``results/outputs.json``): nothing here spells a file name, so another primary timepoint reads
its own tables. A record keys its rows by the tables' file names, as the registry gives them.

Every value is kept as the CSV text holds it (floats at the 12 significant digits of
``ketamine_meta.io.tables``), so the same results give the same snapshot and record byte
for byte, and a change of any written digit is reported. Tables are read as text
(:func:`text_table`): no value is parsed, rounded or guessed on the way.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import astuple, dataclass, field
from pathlib import Path

import pandas as pd

#: Where release records are kept, relative to the repository root (the working directory).
RELEASE_DIR = Path("data/releases")
#: A record's file name; the version is the data package's (``datapackage.json``).
RELEASE_NAME = re.compile(r"ketamine-meta-data-(\d+(?:\.\d+)*)\.json")
#: Moderators of the primary analysis with a pooled-SMD table (route included).
SMD_MODERATORS = ("route", "enantiomer", "control_type", "population")
#: The columns naming a row of a table pooled by subgroup.
BY_SUBGROUP = ("analysis", "subgroup")
#: The pooled-estimate tables, as their slices register them (slice, table key), and the
#: columns naming a row: the headline's tables, that is the primary analysis by each
#: moderator, the risk ratio and the proportions of response, the pooled relapse figures and
#: the summary of findings.
ESTIMATE_TABLES: dict[tuple[str, str], tuple[str, ...]] = {
    **{("efficacy", f"pooled_by_{m}"): BY_SUBGROUP for m in SMD_MODERATORS},
    ("response", "rr_pooled"): BY_SUBGROUP,
    ("response", "rates"): ("outcome", "timepoint_h", "arm_type"),
    ("relapse", "pooled"): ("quantity", "route", "enantiomer", "regimen"),
    ("certainty", "summary"): ("outcome", "formulation", "comparator", "measure"),
}
#: The per-trial tables of the primary analyses, whose ``study_id`` are the trials pooled.
TRIAL_TABLES = (("efficacy", "by_study"), ("response", "rr_by_study"))
#: The claims audit, whose verdicts a snapshot keeps.
CLAIMS_TABLE = ("claims", "audit")
#: The data package's summary, whose version the page names (not part of a snapshot).
PACKAGE_SUMMARY_TABLE = ("data", "summary")
#: What is kept of each pooled row: counts, estimate and interval, and the GRADE rating.
ESTIMATE_FIELDS = ("k", "trials", "estimate", "ci_low", "ci_high", "certainty")
#: Fields whose change is shown as the row's before and after (the rest go in the note).
INTERVAL_FIELDS = ("estimate", "ci_low", "ci_high")
#: Tables whose estimate column has another name.
ESTIMATE_COLUMN = {"proportion": "estimate"}
#: The columns of ``results/tables/what_changed.csv``.
COLUMNS = ("kind", "key", "before", "after", "note")
#: Notes of a trial's change, counted by :func:`change_summary`.
STUDY_ADDED = "added to the data package"
STUDY_REMOVED = "removed from the data package"
STUDY_CHANGED = "rows changed in "


def text_table(csv_text: str) -> pd.DataFrame:
    """A CSV's cells exactly as written: every cell is text, an empty cell ``""``."""
    return pd.read_csv(io.StringIO(csv_text), dtype=str, keep_default_na=False)


def registered_stem(registry: Mapping, table: tuple[str, str]) -> str:
    """The file name (stem under ``results/tables``) of a (slice, table key) in ``registry``.

    ``registry`` is the workflow's registry of outputs as ``results/outputs.json`` holds it.
    """
    piece, key = table
    return registry["slices"][piece]["tables"][key]["stem"]


@dataclass(frozen=True)
class SnapshotTables:
    """The results tables (stems under ``results/tables``) that :func:`snapshot` reads.

    ``estimates`` maps each pooled-estimate table to the columns naming its rows
    (:data:`ESTIMATE_TABLES`), ``trials`` are the per-trial tables (:data:`TRIAL_TABLES`) and
    ``claims`` the claims audit. Built from the registry (:meth:`from_registry`).
    """

    estimates: dict[str, tuple[str, ...]] = field(hash=False)
    trials: tuple[str, ...]
    claims: str

    @classmethod
    def from_registry(cls, registry: Mapping) -> SnapshotTables:
        """The tables' stems as the workflow's registry of outputs names them."""
        return cls(
            {registered_stem(registry, t): c for t, c in ESTIMATE_TABLES.items()},
            tuple(registered_stem(registry, t) for t in TRIAL_TABLES),
            registered_stem(registry, CLAIMS_TABLE),
        )

    @property
    def stems(self) -> tuple[str, ...]:
        """Every table :func:`snapshot` reads."""
        return (*self.estimates, *self.trials, self.claims)


def _row_key(stem: str, record: Mapping[str, str], columns: tuple[str, ...]) -> str:
    return f"{stem}: " + " / ".join(record[c] for c in columns)


def _keyed_rows(
    tables: Mapping[str, pd.DataFrame], names: SnapshotTables
) -> Iterator[tuple[str, dict[str, str]]]:
    """Each row of the pooled-estimate tables with its key, refusing a key given twice."""
    for stem, columns in names.estimates.items():
        frame = tables[stem].rename(columns=ESTIMATE_COLUMN)
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(f"{stem}.csv: no column {missing[0]!r} to name its rows by")
        seen = set()
        for row, record in enumerate(frame.to_dict("records"), start=1):
            key = _row_key(stem, record, columns)
            if key in seen:
                raise ValueError(f"{stem}.csv: row {row}: the row {key!r} is there twice")
            seen.add(key)
            yield key, record


def pooled_estimates(
    tables: Mapping[str, pd.DataFrame], names: SnapshotTables
) -> dict[str, dict[str, str]]:
    """Every pooled row's :data:`ESTIMATE_FIELDS` (those its table has), by row key."""
    return {
        key: {f: record[f] for f in ESTIMATE_FIELDS if f in record}
        for key, record in _keyed_rows(tables, names)
    }


def pooled_trials(tables: Mapping[str, pd.DataFrame], names: SnapshotTables) -> dict[str, list]:
    """The trials each analysis pools, sorted.

    The per-trial tables' ``study_id`` by table stem, and the trials of each pooled row that
    names them (``studies``, ``;``-separated) by row key.
    """
    trials = {stem: sorted(set(tables[stem]["study_id"])) for stem in names.trials}
    for key, record in _keyed_rows(tables, names):
        if "studies" in record:
            trials[key] = sorted({s.strip() for s in record["studies"].split(";") if s.strip()})
    return trials


def claim_verdicts(claims: pd.DataFrame) -> dict[str, str]:
    """The claims audit's verdict of each claim, by ``claim_id``."""
    return dict(zip(claims["claim_id"], claims["verdict"], strict=True))


def _rows_digest(rows: pd.DataFrame) -> str:
    """SHA-256 of a set of rows: columns by name, rows sorted, so that order does not count."""
    columns = sorted(rows.columns)
    lines = sorted(
        json.dumps([record[c] for c in columns], ensure_ascii=False)
        for record in rows.to_dict("records")
    )
    return hashlib.sha256("\n".join([json.dumps(columns), *lines]).encode("utf-8")).hexdigest()


def study_fingerprints(package: Mapping[str, pd.DataFrame]) -> dict[str, dict[str, dict]]:
    """Each trial's rows in every table of the data package: their number and SHA-256.

    Parameters
    ----------
    package
        The validated tables as text (:func:`text_table` of what ``validate`` writes), by name.

    Returns
    -------
    dict
        ``{study_id: {table: {"rows": n, "sha256": digest}}}`` for every trial of ``studies``
        and every table with a ``study_id`` column holding rows of it.
    """
    fingerprints: dict[str, dict[str, dict]] = {
        s: {} for s in sorted(package["studies"]["study_id"])
    }
    for name in sorted(package):
        frame = package[name]
        if "study_id" not in frame.columns:
            continue
        for study, rows in frame[frame["study_id"].isin(fingerprints)].groupby("study_id"):
            fingerprints[study][name] = {"rows": len(rows), "sha256": _rows_digest(rows)}
    return fingerprints


def snapshot(
    tables: Mapping[str, pd.DataFrame], package: Mapping[str, pd.DataFrame], names: SnapshotTables
) -> dict:
    """The headline results and the trials' data, as a release records them.

    Parameters
    ----------
    tables
        The results tables ``names`` gives, as text, by stem.
    package
        The validated data package, as text, by table name (:func:`study_fingerprints`).
    names
        Which tables are which (:meth:`SnapshotTables.from_registry`).
    """
    return {
        "estimates": pooled_estimates(tables, names),
        "trials": pooled_trials(tables, names),
        "verdicts": claim_verdicts(tables[names.claims]),
        "studies": study_fingerprints(package),
    }


def data_version(summary: pd.DataFrame) -> str:
    """The data package's version in ``data_package_summary.csv``."""
    return summary.loc[summary["item"] == "version", "value"].iloc[0]


def release_record(
    version: str,
    archive: str,
    sha256: str,
    commit: str | None,
    data_raw_dirty: bool | None,
    results_snapshot: dict,
) -> dict:
    """The record of one release of the data package.

    Parameters
    ----------
    version
        The data package's version.
    archive, sha256
        The archive's file name and SHA-256.
    commit
        The commit the release was built from (``None`` outside a git repository).
    data_raw_dirty
        Whether ``data/raw``, which the archive holds, differed from ``commit``.
    results_snapshot
        The :func:`snapshot` of the commit's results and of the released package.
    """
    return {
        "data_version": version,
        "archive": {"name": archive, "sha256": sha256},
        "git": {"commit": commit, "data_raw_dirty": data_raw_dirty},
        "snapshot": results_snapshot,
    }


def record_json(record: Mapping) -> str:
    """A release record as text: keys sorted, one value a line, so that it diffs well."""
    return json.dumps(record, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def release_record_name(version: str) -> str:
    """The file name of the record of data version ``version``."""
    return f"ketamine-meta-data-{version}.json"


def newest_release(paths: Iterable[str | Path]) -> Path | None:
    """The record of the highest data version among ``paths`` (``None`` if there is none).

    Raises
    ------
    ValueError
        Naming a file whose name is not ``ketamine-meta-data-X.Y.Z.json``.
    """
    versions = {}
    for path in map(Path, paths):
        match = RELEASE_NAME.fullmatch(path.name)
        if not match:
            raise ValueError(
                f"{path}: not a release record's name (ketamine-meta-data-X.Y.Z.json, X.Y.Z "
                "the data version)"
            )
        versions[tuple(int(part) for part in match.group(1).split("."))] = path
    return versions[max(versions)] if versions else None


def parse_record(text: str, where: str) -> dict:
    """The release record in ``text`` (the file ``where``).

    Raises
    ------
    ValueError
        One line naming ``where``: not JSON, or the first part of a record that is missing.
    """
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: not a release record: not JSON ({exc})") from None
    if not isinstance(record, dict):
        raise ValueError(f"{where}: not a release record (a JSON object is expected)")
    missing = [p for p in ("data_version", "archive", "git", "snapshot") if p not in record]
    missing += [
        f"snapshot.{p}"
        for p in ("estimates", "trials", "verdicts", "studies")
        if isinstance(record.get("snapshot"), dict) and p not in record["snapshot"]
    ]
    if missing:
        raise ValueError(f"{where}: not a release record: no {missing[0]!r}")
    return record


@dataclass(frozen=True)
class Change:
    """One thing that differs from the release: a row of ``what_changed.csv``.

    ``before`` and ``after`` hold every digit; ``shown`` is the pair as a reader sees it
    (numbers to as few significant digits as tell them apart).
    """

    kind: str
    key: str
    before: str
    after: str
    note: str
    shown: tuple[str, str]


def _change(kind: str, key: str, before: str, after: str, note: str) -> Change:
    return Change(kind, key, before, after, note, (before, after))


def _row_counts(tables: Mapping[str, dict], names: Iterable[str]) -> str:
    return "; ".join(
        f"{name}: {tables[name]['rows'] if name in tables else 0} rows" for name in names
    )


def _study_changes(before: Mapping[str, dict], after: Mapping[str, dict]) -> Iterator[Change]:
    for study in sorted(before.keys() | after.keys()):
        old, new = before.get(study), after.get(study)
        if old is None:
            yield _change("study", study, "", _row_counts(new, sorted(new)), STUDY_ADDED)
        elif new is None:
            yield _change("study", study, _row_counts(old, sorted(old)), "", STUDY_REMOVED)
        elif old != new:
            tables = sorted(t for t in old.keys() | new.keys() if old.get(t) != new.get(t))
            yield _change(
                "study",
                study,
                _row_counts(old, tables),
                _row_counts(new, tables),
                STUDY_CHANGED + ", ".join(tables),
            )


def _listed(items: Iterable[str]) -> str:
    return "; ".join(items)


def _trial_changes(before: Mapping[str, list], after: Mapping[str, list]) -> Iterator[Change]:
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if old is None:
            note = "new analysis"
        elif new is None:
            note = "analysis no longer in the results"
        else:
            added, removed = sorted(set(new) - set(old)), sorted(set(old) - set(new))
            note = _listed(
                (["added " + ", ".join(added)] if added else [])
                + (["removed " + ", ".join(removed)] if removed else [])
            )
        yield _change("trials", key, _listed(old or []), _listed(new or []), note)


def _number(value: str, digits: int | None) -> str:
    return value if digits is None or value == "" else f"{float(value):.{digits}g}"


def _interval(fields: Mapping[str, str] | None, digits: int | None = None) -> str:
    """``estimate [ci_low, ci_high]`` (the estimate alone without an interval)."""
    if not fields or not fields.get("estimate"):
        return ""
    text = _number(fields["estimate"], digits)
    if fields.get("ci_low") and fields.get("ci_high"):
        text += f" [{_number(fields['ci_low'], digits)}, {_number(fields['ci_high'], digits)}]"
    return text


def _readable(old: Mapping[str, str] | None, new: Mapping[str, str] | None) -> tuple[str, str]:
    """Both intervals to three significant digits, or as many as tell them apart."""
    for digits in range(3, 13):
        shown = (_interval(old, digits), _interval(new, digits))
        if shown[0] != shown[1] or _interval(old) == _interval(new):
            return shown
    return (_interval(old), _interval(new))


def _estimate_changes(before: Mapping[str, dict], after: Mapping[str, dict]) -> Iterator[Change]:
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if old is None:
            note = "new row"
        elif new is None:
            note = "row no longer in the results"
        else:
            fields = [f for f in ESTIMATE_FIELDS if old.get(f, "") != new.get(f, "")]
            moved = [f for f in fields if f in INTERVAL_FIELDS]
            note = _listed(
                ([", ".join(moved) + " moved"] if moved else [])
                + [
                    f"{f} {old.get(f) or 'empty'} -> {new.get(f) or 'empty'}"
                    for f in fields
                    if f not in INTERVAL_FIELDS
                ]
            )
        yield Change("estimate", key, _interval(old), _interval(new), note, _readable(old, new))


def _verdict_changes(before: Mapping[str, str], after: Mapping[str, str]) -> Iterator[Change]:
    for claim in sorted(before.keys() | after.keys()):
        old, new = before.get(claim), after.get(claim)
        if old != new:
            note = "new claim" if old is None else "claim no longer audited" if new is None else ""
            yield _change("verdict", claim, old or "", new or "", note)


def compare(before: Mapping, after: Mapping) -> list[Change]:
    """Everything that differs between two snapshots: trials, pooled trials, estimates, verdicts.

    Within each kind the changes are sorted by key; identical snapshots give no change.
    """
    return [
        *_study_changes(before["studies"], after["studies"]),
        *_trial_changes(before["trials"], after["trials"]),
        *_estimate_changes(before["estimates"], after["estimates"]),
        *_verdict_changes(before["verdicts"], after["verdicts"]),
    ]


def changes_table(changes: Iterable[Change]) -> pd.DataFrame:
    """``results/tables/what_changed.csv``: one row per change (:data:`COLUMNS`)."""
    return pd.DataFrame([astuple(c)[: len(COLUMNS)] for c in changes], columns=list(COLUMNS))


def release_label(record: Mapping) -> str:
    """The release as a sentence names it: version, commit, and uncommitted data if any."""
    git = record["git"]
    if git["commit"] is None:
        built = "built outside a git repository"
    else:
        built = f"built from commit {git['commit'][:7]}"
        if git["data_raw_dirty"]:
            built += ", with uncommitted changes in data/raw"
    return f"{record['data_version']} ({built})"


def _counted(count: int, forms: tuple[str, str], names: list[str] | None = None) -> str:
    """``1 trial added``, ``2 trials added (A, B)``: ``forms`` is (singular, plural)."""
    text = f"{count} {forms[count != 1]}"
    return f"{text} ({', '.join(names)})" if names else text


def change_summary(table: pd.DataFrame) -> str:
    """What changed in one sentence (without its full stop), from ``what_changed.csv``.

    Trials are named (added, removed, changed); analyses, estimates and verdicts are counted.
    """
    if table.empty:
        return "nothing changed"
    studies = table[table["kind"] == "study"]
    parts = []
    for forms, picked in (
        (("trial added", "trials added"), studies["note"] == STUDY_ADDED),
        (("trial removed", "trials removed"), studies["note"] == STUDY_REMOVED),
        (
            ("trial with changed data", "trials with changed data"),
            studies["note"].str.startswith(STUDY_CHANGED),
        ),
    ):
        if picked.any():
            parts.append(_counted(int(picked.sum()), forms, list(studies.loc[picked, "key"])))
    for kind, forms in (
        ("trials", ("analysis pooling other trials", "analyses pooling other trials")),
        ("estimate", ("pooled estimate moved", "pooled estimates moved")),
        ("verdict", ("claim verdict moved", "claim verdicts moved")),
    ):
        count = int((table["kind"] == kind).sum())
        if count:
            parts.append(_counted(count, forms))
    return "; ".join(parts)


#: The sections of ``what_changed.md``: kind and heading.
MARKDOWN_SECTIONS = (
    ("study", "Trials in the data package"),
    ("trials", "Trials each analysis pools"),
    ("estimate", "Pooled estimates (before -> after)"),
    ("verdict", "Claim verdicts (before -> after)"),
)


def _markdown_item(change: Change) -> str:
    before, after = change.shown
    if change.kind == "study":
        # Row counts only where they moved: a changed cell leaves them as they were.
        counts = f" ({before} -> {after})" if before and after and before != after else ""
        return f"- {change.key}: {change.note}{counts}"
    if change.kind == "trials":
        return f"- `{change.key}`: {change.note}"
    note = f" ({change.note})" if change.note else ""
    return f"- `{change.key}`: {before or 'none'} -> {after or 'none'}{note}"


def what_changed_markdown(
    changes: list[Change], record: Mapping | None, current_version: str
) -> str:
    """``results/what_changed.md``: the changes since the release, for a reader.

    Parameters
    ----------
    changes
        :func:`compare` of the release's snapshot and the current one.
    record
        The release record compared with (``None``: no release recorded yet).
    current_version
        The version of the data package the results were built from.
    """
    lines = ["# What changed since the last data release", ""]
    if record is None:
        lines += [
            "No data release has been recorded yet: `make release` records one in "
            "`data/releases/`, and this page then compares the results with it.",
        ]
        return "\n".join(lines) + "\n"
    summary = change_summary(changes_table(changes))
    lines += [
        f"Compared with data release {release_label(record)}, with the results now built "
        f"from data version {current_version}: {summary}.",
        "",
    ]
    if not changes:
        lines += [
            "The trials' data, the trials each analysis pools, the pooled estimates and the "
            "claim verdicts are as released.",
            "",
        ]
    for kind, heading in MARKDOWN_SECTIONS:
        items = [_markdown_item(c) for c in changes if c.kind == kind]
        if items:
            lines += [f"## {heading}", "", *items, ""]
    lines.append(
        "Every value with all its digits: `results/tables/what_changed.csv`; the release: "
        f"`{RELEASE_DIR / release_record_name(record['data_version'])}`."
    )
    return "\n".join(lines) + "\n"
