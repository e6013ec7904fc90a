"""What changed since the last data release: snapshots, their comparison, the release record.

The synthetic tables below are made up for these tests (two trials, one pooled row per
table); the committed record and outputs are checked against the repository's own files.
"""

from __future__ import annotations

import json
import re
import sys

import pandas as pd
import pytest
import yaml
from docutils import nodes
from docutils.core import publish_doctree

from conftest import REPO, validated_package
from ketamine_meta.analyses.changes import (
    COLUMNS,
    RELEASE_DIR,
    SnapshotTables,
    changes_table,
    compare,
    newest_release,
    parse_record,
    record_json,
    release_record,
    snapshot,
    study_fingerprints,
    text_table,
    what_changed_markdown,
)
from ketamine_meta.figures.report_pages import what_changed_rst
from ketamine_meta.io.outputs import REGISTRY_FILE, read_registry
from ketamine_meta.io.tables import to_csv_text

sys.path.insert(0, str(REPO / "tools"))
import release_data

LABEL = "24h"
#: The tables a snapshot reads, as the committed registry (of the 24 h configuration) names them.
NAMES = SnapshotTables.from_registry(read_registry(REPO / REGISTRY_FILE))


def _frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, dtype=str)


def _results() -> dict[str, pd.DataFrame]:
    """A small set of results tables with every table :func:`snapshot` reads."""
    pooled = {"k": "2", "trials": "2", "estimate": "0.5", "ci_low": "0.1", "ci_high": "0.9"}
    tables = {
        stem: _frame([{"analysis": "smd_depression_24h", "subgroup": "overall", **pooled}])
        for stem in NAMES.estimates
        if stem.startswith("pooled_smd") or stem.startswith("pooled_rr")
    }
    tables[f"pooled_response_rate_{LABEL}_by_arm_type"] = _frame(
        [{"outcome": "response", "timepoint_h": "24", "arm_type": "racemic IV", "k": "1",
          "trials": "1", "proportion": "0.4", "ci_low": "0.2", "ci_high": "0.6"}]
    )  # fmt: skip
    tables["relapse_pooled"] = _frame(
        [{"quantity": "median days to relapse", "route": "IN", "enantiomer": "esketamine",
          "regimen": "stopped", "k": "1", "trials": "1", "estimate": "273", "ci_low": "199",
          "ci_high": "373", "studies": "Beta2020"}]
    )  # fmt: skip
    tables["summary_of_findings"] = _frame(
        [{"outcome": "Depression score at 24 h", "formulation": "any ketamine",
          "comparator": "inert or active placebo", "measure": "Hedges' g", "k": "2",
          "trials": "2", "estimate": "0.5", "ci_low": "0.1", "ci_high": "0.9",
          "certainty": "low", "studies": "Alpha2019;Beta2020"}]
    )  # fmt: skip
    for stem in NAMES.trials:
        tables[stem] = _frame([{"study_id": "Alpha2019"}, {"study_id": "Beta2020"}])
    tables["claims_audit"] = _frame(
        [
            {"claim_id": "C01", "verdict": "supported"},
            {"claim_id": "C02", "verdict": "not supported"},
        ]
    )
    return tables


def _package() -> dict[str, pd.DataFrame]:
    """A small data package of two trials, as text."""
    return {
        "studies": _frame(
            [{"study_id": "Alpha2019", "year": "2019"}, {"study_id": "Beta2020", "year": "2020"}]
        ),
        "outcomes": _frame(
            [
                {"study_id": "Alpha2019", "arm_id": "ket", "mean": "-10.5"},
                {"study_id": "Alpha2019", "arm_id": "pbo", "mean": "-4"},
                {"study_id": "Beta2020", "arm_id": "esk", "mean": "-12"},
            ]
        ),
        "sources": _frame([{"source_id": "s1", "url": "https://example.org"}]),
    }  # fmt: skip


def _changed(results=None, package=None) -> list:
    return compare(
        snapshot(_results(), _package(), NAMES),
        snapshot(results or _results(), package or _package(), NAMES),
    )


def test_snapshot_of_synthetic_tables():
    taken = snapshot(_results(), _package(), NAMES)
    assert set(taken) == {"estimates", "trials", "verdicts", "studies"}
    route = f"pooled_smd_{LABEL}_by_route: smd_depression_24h / overall"
    assert taken["estimates"][route] == {
        "k": "2", "trials": "2", "estimate": "0.5", "ci_low": "0.1", "ci_high": "0.9"
    }  # fmt: skip
    rate = f"pooled_response_rate_{LABEL}_by_arm_type: response / 24 / racemic IV"
    assert taken["estimates"][rate]["estimate"] == "0.4"  # read from its column 'proportion'
    sof = (
        "summary_of_findings: Depression score at 24 h / any ketamine / inert or active placebo"
        " / Hedges' g"
    )
    assert taken["estimates"][sof]["certainty"] == "low"
    assert len(taken["estimates"]) == 8  # one row in each pooled-estimate table
    assert taken["trials"][f"smd_{LABEL}_by_study"] == ["Alpha2019", "Beta2020"]
    assert taken["trials"][sof] == ["Alpha2019", "Beta2020"]
    assert taken["verdicts"] == {"C01": "supported", "C02": "not supported"}
    studies = taken["studies"]
    assert set(studies) == {"Alpha2019", "Beta2020"}
    assert set(studies["Alpha2019"]) == {"studies", "outcomes"}  # sources has no study_id
    assert studies["Alpha2019"]["outcomes"]["rows"] == 2
    assert re.fullmatch(r"[0-9a-f]{64}", studies["Alpha2019"]["outcomes"]["sha256"])


def test_a_fingerprint_ignores_row_order_but_not_a_cell():
    package = _package()
    before = study_fingerprints(package)
    package["outcomes"] = package["outcomes"].iloc[::-1].reset_index(drop=True)
    assert study_fingerprints(package) == before
    package["outcomes"].loc[package["outcomes"]["arm_id"] == "pbo", "mean"] = "-4.5"
    after = study_fingerprints(package)
    assert after["Alpha2019"]["outcomes"] != before["Alpha2019"]["outcomes"]
    assert after["Beta2020"] == before["Beta2020"]


def test_identical_snapshots_change_nothing():
    assert _changed() == []
    text = what_changed_markdown([], _record(), "0.1.0")
    assert "nothing changed" in text
    assert "as released" in text
    assert changes_table([]).columns.tolist() == list(COLUMNS)


def test_an_added_trial_is_reported_in_the_package_and_in_the_analysis():
    package, results = _package(), _results()
    package["studies"] = pd.concat(
        [package["studies"], _frame([{"study_id": "Gamma2024", "year": "2024"}])]
    )
    stem = f"smd_{LABEL}_by_study"
    results[stem] = pd.concat([results[stem], _frame([{"study_id": "Gamma2024"}])])
    rows = changes_table(_changed(results, package)).to_dict("records")
    assert rows == [
        {"kind": "study", "key": "Gamma2024", "before": "", "after": "studies: 1 rows",
         "note": "added to the data package"},
        {"kind": "trials", "key": stem, "before": "Alpha2019; Beta2020",
         "after": "Alpha2019; Beta2020; Gamma2024", "note": "added Gamma2024"},
    ]  # fmt: skip


def test_a_changed_trial_is_named_with_the_tables_that_changed():
    package = _package()
    outcomes = package["outcomes"]
    outcomes.loc[outcomes["study_id"] == "Beta2020", "mean"] = "-13"
    (change,) = _changed(package=package)
    assert (change.kind, change.key) == ("study", "Beta2020")
    assert change.note == "rows changed in outcomes"
    assert (change.before, change.after) == ("outcomes: 1 rows", "outcomes: 1 rows")


def test_a_moved_estimate_shows_before_and_after():
    results = _results()
    stem = f"pooled_smd_{LABEL}_by_route"
    results[stem].loc[0, ["k", "estimate", "ci_low"]] = ["3", "0.6123456789", "0.2"]
    (change,) = _changed(results)
    assert change.kind == "estimate"
    assert change.key == f"{stem}: smd_depression_24h / overall"
    assert (change.before, change.after) == ("0.5 [0.1, 0.9]", "0.6123456789 [0.2, 0.9]")
    assert change.shown == ("0.5 [0.1, 0.9]", "0.612 [0.2, 0.9]")
    assert change.note == "estimate, ci_low moved; k 2 -> 3"


def test_a_change_in_a_late_digit_is_shown_with_the_digits_that_tell():
    results = _results()
    results[f"pooled_smd_{LABEL}_by_route"].loc[0, "estimate"] = "0.500001"
    (change,) = _changed(results)
    assert change.shown == ("0.5 [0.1, 0.9]", "0.500001 [0.1, 0.9]")


def test_a_moved_verdict_is_reported():
    results = _results()
    results["claims_audit"].loc[1, "verdict"] = "partly supported"
    (change,) = _changed(results)
    assert (change.kind, change.key, change.before, change.after) == (
        "verdict",
        "C02",
        "not supported",
        "partly supported",
    )


def _record(version: str = "0.1.0") -> dict:
    return release_record(
        version, f"ketamine-meta-data-{version}.tar.gz", "ab" * 32, "c" * 40, False,
        snapshot(_results(), _package(), NAMES),
    )  # fmt: skip


def test_the_page_lists_every_change_readably():
    results, package = _results(), _package()
    results["claims_audit"].loc[1, "verdict"] = "partly supported"
    results[f"pooled_smd_{LABEL}_by_route"].loc[0, "estimate"] = "0.6123456789"
    package["studies"] = pd.concat([package["studies"], _frame([{"study_id": "Gamma2024"}])])
    text = what_changed_markdown(_changed(results, package), _record(), "0.2.0")
    assert "Compared with data release 0.1.0 (built from commit ccccccc)" in text
    assert "data version 0.2.0: 1 trial added (Gamma2024)" in text
    assert "1 pooled estimate moved; 1 claim verdict moved." in text
    assert "- Gamma2024: added to the data package" in text
    assert (
        f"- `pooled_smd_{LABEL}_by_route: smd_depression_24h / overall`: 0.5 [0.1, 0.9] -> "
        "0.612 [0.1, 0.9] (estimate moved)"
    ) in text
    assert "- `C02`: not supported -> partly supported" in text


def test_before_any_release_the_page_says_so():
    text = what_changed_markdown([], None, "0.1.0")
    assert "No data release has been recorded yet" in text


def test_the_release_record_is_deterministic():
    first = record_json(_record())
    # The same contents built in another order give the same bytes.
    reordered = _record()
    reordered["snapshot"] = dict(reversed(list(reordered["snapshot"].items())))
    assert record_json(reordered) == first
    assert first.endswith("}\n")
    assert parse_record(first, "x.json") == _record()


def test_release_writes_the_same_record_twice(tmp_path):
    """The tool itself: the same repository gives the same archive and record, byte for byte."""
    runs = [release_data.release(tmp_path / f"dist{i}", tmp_path / f"rec{i}") for i in (1, 2)]
    (archive, digest, record), (_, digest2, record2) = runs
    assert digest == digest2
    assert record.read_bytes() == record2.read_bytes()
    written = parse_record(record.read_text(encoding="utf-8"), str(record))
    assert written["archive"] == {"name": archive.name, "sha256": digest}
    version = yaml.safe_load((REPO / "data/raw/datapackage.json").read_text())["version"]
    assert record.name == f"ketamine-meta-data-{version}.json" == f"{archive.name[:-7]}.json"


def test_newest_release_goes_by_version_number(tmp_path):
    names = ["ketamine-meta-data-0.9.1.json", "ketamine-meta-data-0.10.0.json"]
    assert newest_release([tmp_path / n for n in names]) == tmp_path / names[1]
    assert newest_release([]) is None
    with pytest.raises(ValueError, match=r"notes\.json: not a release record's name"):
        newest_release([tmp_path / "notes.json"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not JSON"),
        ("[]", "a JSON object is expected"),
        ('{"data_version": "1"}', "no 'archive'"),
    ],
)
def test_a_broken_record_is_refused_in_one_line(text, message):
    with pytest.raises(ValueError, match=f"^r.json: not a release record.*{message}"):
        parse_record(text, "r.json")


# ---- the committed record and outputs -------------------------------------------------------


def _newest_committed() -> dict:
    path = newest_release(sorted((REPO / RELEASE_DIR).glob("*.json")))
    return parse_record(path.read_text(encoding="utf-8"), str(path))


def test_every_committed_record_is_a_data_version_of_the_changelog():
    changelog = (REPO / "data/raw/CHANGELOG.md").read_text(encoding="utf-8")
    versions = set(re.findall(r"^## (\d+\.\d+\.\d+) \(", changelog, flags=re.MULTILINE))
    records = sorted((REPO / RELEASE_DIR).glob("*.json"))
    assert records
    for path in records:
        record = parse_record(path.read_text(encoding="utf-8"), str(path))
        assert path.name == f"ketamine-meta-data-{record['data_version']}.json"
        assert record["data_version"] in versions
        assert re.fullmatch(r"[0-9a-f]{64}", record["archive"]["sha256"])


def test_the_rule_outputs_are_committed_and_name_the_newest_release():
    table = REPO / "results/tables/what_changed.csv"
    page = REPO / "results/what_changed.md"
    assert table.is_file() and page.is_file()
    assert text_table(table.read_text(encoding="utf-8")).columns.tolist() == list(COLUMNS)
    assert f"data release {_newest_committed()['data_version']} (" in page.read_text()


def test_the_committed_comparison_is_that_of_the_committed_results():
    """What the rule writes from the committed results and data/raw, byte for byte."""
    tables = {
        stem: text_table((REPO / f"results/tables/{stem}.csv").read_text(encoding="utf-8"))
        for stem in NAMES.stems
    }
    package = {
        name: text_table(to_csv_text(frame))
        for name, frame in validated_package(REPO / "data/raw").items()
    }
    changes = compare(_newest_committed()["snapshot"], snapshot(tables, package, NAMES))
    committed = (REPO / "results/tables/what_changed.csv").read_text(encoding="utf-8")
    assert to_csv_text(changes_table(changes)) == committed


def test_the_snapshot_reads_the_tables_the_registry_names():
    """No file name is spelled in the library: another timepoint's registry names other tables."""
    registry = (REPO / REGISTRY_FILE).read_text(encoding="utf-8")
    other = SnapshotTables.from_registry(json.loads(registry.replace("_24h", "_48h")))
    assert other.stems == tuple(stem.replace("_24h", "_48h") for stem in NAMES.stems)
    assert "pooled_smd_48h_by_route" in other.estimates
    assert other.trials == ("smd_48h_by_study", "rr_response_48h_by_study")
    assert other.claims == NAMES.claims == "claims_audit"


def _rendered(text: str) -> nodes.document:
    """As Snakemake's report renders the landing page: its link targets appended (an unknown
    target or any warning stops docutils; a target left unreferenced is only information)."""
    targets = "\n\n.. _what_changed.html: javascript:app.showResultInfo('x')\n"
    tree = publish_doctree(text + targets, settings_overrides={"halt_level": 2, "report_level": 5})
    assert not list(tree.findall(nodes.system_message))
    return tree


def test_the_landing_page_names_the_release_and_links_the_table():
    results = _results()
    results["claims_audit"].loc[1, "verdict"] = "partly supported"
    changes = changes_table(_changed(results))
    tree = _rendered(what_changed_rst(_record(), text_table(to_csv_text(changes))))
    assert tree.astext().startswith("What changed since data release 0.1.0")
    assert (
        "Compared with data release 0.1.0 (built from commit ccccccc): 1 claim verdict moved."
        in tree.astext()
    )
    (link,) = tree.findall(nodes.reference)
    assert link.astext() == "what_changed.html"
    unchanged = what_changed_rst(_record(), text_table(to_csv_text(changes_table([]))))
    assert "ccccccc): nothing changed." in _rendered(unchanged).astext()
    before_any = _rendered(what_changed_rst(None, changes)).astext()
    assert "No data release has been recorded yet" in before_any


def test_a_pooled_row_given_twice_is_refused():
    results = _results()
    stem = "relapse_pooled"
    results[stem] = pd.concat([results[stem], results[stem]], ignore_index=True)
    with pytest.raises(ValueError, match=r"^relapse_pooled\.csv: row 2: the row .* is there twice"):
        snapshot(results, _package(), NAMES)
