"""Posted registry results into package rows (``evidence.registry``), one measure at a time.

``test_registry_import.py`` imports a six-measure synthetic record and the stored copies of two
trials, through the library and the ``import-registry`` command. Here the record holds one
outcome measure (a mean with its SD, two groups, invented numbers), changed one cell at a time
so that each rule shows alone: the row made of it, each reason a posted cell is listed rather
than imported, what an absent module means, and the arithmetic of a count from a percentage.
"""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from conftest import CANONICAL
from ketamine_meta.evidence.registry import (
    TABLES,
    MappingError,
    RegistryImport,
    compare_with_package,
    count_from_percentage,
    import_registry,
)

TITLE = "Change in MADRS at 24 hours"


def measure() -> dict:
    """A mean change with its SD in a drug and a placebo group."""
    return {
        "title": TITLE,
        "paramType": "MEAN",
        "dispersionType": "Standard Deviation",
        "unitOfMeasure": "score",
        "timeFrame": "Baseline to 24 hours",
        "groups": [{"id": "OG000", "title": "Drug"}, {"id": "OG001", "title": "Placebo"}],
        "denoms": [
            {
                "units": "Participants",
                "counts": [
                    {"groupId": "OG000", "value": "40"},
                    {"groupId": "OG001", "value": "38"},
                ],
            }
        ],
        "classes": [
            {
                "categories": [
                    {
                        "measurements": [
                            {"groupId": "OG000", "value": "-12.0", "spread": "8.50"},
                            {"groupId": "OG001", "value": "-7.5", "spread": "7.25"},
                        ]
                    }
                ]
            }
        ],
    }


def record(*measures: dict, **modules: dict) -> dict:
    return {
        "resultsSection": {
            "outcomeMeasuresModule": {"outcomeMeasures": list(measures) or [measure()]},
            **modules,
        }
    }


def mapping(**changes) -> dict:
    entry = {
        "title": TITLE,
        "outcome": "depression_score",
        "scale": "MADRS",
        "timepoint_h": 24,
        "value_type": "change",
    }
    return {
        "nct_id": "NCT00000009",
        "study_id": "Ames2020",
        "source_id": "ames2020_ctgov",
        "groups": {"OG000": "ket", "OG001": "pbo"},
        "outcomes": [{**entry, **changes}],
    }


def cell(measure_: dict, group: int) -> dict:
    """The posted measurement of ``group`` (0 or 1) of a measure, to change."""
    return measure_["classes"][0]["categories"][0]["measurements"][group]


def _schema(table: str) -> dict:
    """The canonical schema of ``table``."""
    (resource,) = [r for r in CANONICAL["resources"] if r["name"] == table]
    return resource["schema"]


def test_nothing_imported_is_empty_tables_in_their_order():
    empty = RegistryImport()
    assert list(empty.tables) == list(TABLES) == ["outcomes", "contrasts", "adverse_events"]
    assert all(rows == [] for rows in empty.tables.values()) and empty.unmapped == []


def test_a_mean_with_its_sd_is_one_row_per_group_with_the_posted_digits():
    result = import_registry(record(), mapping(), CANONICAL)
    rows = result.tables["outcomes"]
    columns = [f["name"] for f in _schema("outcomes")["fields"]]
    assert [list(row) for row in rows] == [columns, columns]
    assert [(r["arm_id"], r["n"], r["mean"], r["sd"]) for r in rows] == [
        ("ket", "40", "-12.0", "8.50"),
        ("pbo", "38", "-7.5", "7.25"),
    ]
    first = rows[0]
    assert (first["sd_source"], first["data_basis"], first["timepoint_h"]) == (
        "reported",
        "primary",
        "24",
    )
    assert (first["se"], first["ci_low"], first["events"], first["derivation"]) == (None,) * 4
    assert "group OG000 'Drug'" in first["locator"] and TITLE in first["locator"]
    assert result.tables["contrasts"] == result.tables["adverse_events"] == []
    assert result.unmapped == []


@pytest.mark.parametrize(("given", "written"), [(24, "24"), (24.0, "24"), (0.5, "0.5")])
def test_a_timepoint_is_written_as_the_package_writes_numbers(given, written):
    rows = import_registry(record(), mapping(timepoint_h=given), CANONICAL).tables["outcomes"]
    assert {row["timepoint_h"] for row in rows} == {written}


def _changed(change) -> dict:
    changed = measure()
    change(changed)
    return changed


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            lambda m: m["denoms"][0]["counts"][0].update(value="0"),
            "participants analysed '0' is not a positive count",
        ),
        (lambda m: cell(m, 0).update(spread="-1.0"), "spread '-1.0' is not a positive number"),
        (lambda m: cell(m, 0).update(value="1,200"), "value '1,200' is not a number"),
        (lambda m: cell(m, 0).update(value="NA", comment="not collected"), "(not collected)"),
        (lambda m: m["classes"][0]["categories"][0]["measurements"].pop(0), "no measurement"),
    ],
)
def test_a_cell_that_cannot_be_stored_is_listed_and_its_row_left_out(change, reason):
    result = import_registry(record(_changed(change)), mapping(), CANONICAL)
    assert [row["arm_id"] for row in result.tables["outcomes"]] == ["pbo"]
    (line,) = result.unmapped
    assert line.startswith(f"outcome {TITLE!r}, group OG000 (arm ket): ")
    assert reason in line and line.endswith("; row not imported")


def test_a_measure_that_is_no_mean_is_listed_for_every_group():
    result = import_registry(
        record(_changed(lambda m: m.update(paramType="MEDIAN"))), mapping(), CANONICAL
    )
    assert result.tables["outcomes"] == []
    assert [line.split(": ", 1)[1] for line in result.unmapped] == [
        "paramType 'MEDIAN' is not a mean; row not imported"
    ] * 2


def test_a_95_interval_is_stored_only_when_its_limits_are_in_order():
    def interval(low: str, high: str):
        def change(m):
            m["dispersionType"] = "95% Confidence Interval"
            for group in (0, 1):
                del cell(m, group)["spread"]
                cell(m, group).update(lowerLimit=low, upperLimit=high)

        return import_registry(record(_changed(change)), mapping(), CANONICAL)

    stored = interval("-15.1", "-8.9").tables["outcomes"][0]
    assert (stored["ci_low"], stored["ci_high"], stored["sd_source"]) == (
        "-15.1",
        "-8.9",
        "from_ci",
    )
    reversed_ = interval("-8.9", "-15.1")
    assert reversed_.tables["outcomes"] == []
    assert "95% limits -8.9, -15.1 are not in order" in reversed_.unmapped[0]


def test_an_unmapped_measure_is_listed_with_what_the_record_says_of_it():
    other = {"title": "Quality of life", "type": "SECONDARY", "timeFrame": "Day 28"}
    bare = {"title": "Sleep"}
    result = import_registry(record(measure(), other, bare), mapping(), CANONICAL)
    assert result.unmapped == [
        "outcome measure (SECONDARY) 'Quality of life' [Day 28]: not in the mapping",
        "outcome measure (type not given) 'Sleep' [no time frame]: not in the mapping",
    ]


def test_modules_the_importer_does_not_read_are_named():
    modules = {
        "participantFlowModule": {"groups": [{"id": "FG000"}]},
        "baselineCharacteristicsModule": {"groups": [{"id": "BG000"}]},
    }
    result = import_registry(record(**modules), mapping(), CANONICAL)
    assert result.unmapped == [
        "participant flow: not read (this importer reads outcome measures and adverse events)",
        "baseline characteristics: not read (this importer reads outcome measures and adverse "
        "events)",
    ]


def test_adverse_events_mapped_for_a_record_without_them_are_refused():
    with_events = {
        **mapping(),
        "adverse_events": {"groups": {"EG000": "ket"}, "events": []},
    }
    with pytest.raises(MappingError, match="adverse_events: the record has no adverseEventsModule"):
        import_registry(record(), with_events, CANONICAL)


def test_a_record_that_does_not_name_its_trial_is_not_checked_against_the_mapping():
    named = record()
    named["protocolSection"] = {"identificationModule": {"nctId": "NCT00000009"}}
    assert import_registry(named, mapping(), CANONICAL).tables == (
        import_registry(record(), mapping(), CANONICAL).tables
    )
    other = copy.deepcopy(named)
    other["protocolSection"]["identificationModule"]["nctId"] = "NCT00000010"
    with pytest.raises(MappingError, match="but the record is 'NCT00000010'"):
        import_registry(other, mapping(), CANONICAL)


@pytest.mark.parametrize("posted", ["17", "18"])
def test_a_count_halfway_between_two_percentages_fits_both(posted):
    """7 of 40 is 17.5%: posted as 17 or as 18 (either rounding of a tie), it is 7."""
    count, derivation = count_from_percentage(Decimal(posted), 40)
    assert count == 7
    product = (Decimal(posted) * 40 / 100).quantize(Decimal("0.01"))
    assert derivation == (
        f"events = {posted}% x 40 = {product} -> 7; 7/40 = 17.50% is the only count of 40 "
        f"that rounds to the posted {posted}%"
    )


def test_a_percentage_s_posted_digits_set_how_close_a_count_must_come():
    """33% of 100 is 33; 33.3% is no count of 100 (33 is 0.3 away, beyond 0.05)."""
    assert count_from_percentage(Decimal("33"), 100)[0] == 33
    count, derivation = count_from_percentage(Decimal("33.3"), 100)
    assert count is None
    assert derivation == "33.3% of 100 fits 0 counts (none); not one count"


def test_rows_the_package_lacks_are_not_compared():
    rows = import_registry(record(), mapping(), CANONICAL).tables
    held = [dict(rows["outcomes"][0], arm_id="other")]
    assert compare_with_package(rows, {"outcomes": held}, CANONICAL) == []


def test_a_row_held_with_other_prose_and_number_forms_agrees():
    rows = import_registry(record(), mapping(), CANONICAL).tables
    row = rows["outcomes"][0]
    held = dict(
        row,
        timepoint_h="24.0",
        mean="-12",
        sd="8.5",
        note="read from the paper",
        locator="Table 2",
        derivation="",
    )
    (line,) = compare_with_package({"outcomes": [row]}, {"outcomes": [held]}, CANONICAL)
    assert line.endswith("all values agree")
    held["sd_source"] = "from_se"
    (line,) = compare_with_package({"outcomes": [row]}, {"outcomes": [held]}, CANONICAL)
    assert line.endswith("differs: sd_source reported here, from_se there")
