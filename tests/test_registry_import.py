"""Posted registry results into package rows (issue 21): ``evidence.registry`` and its command.

Unit tests run on a small synthetic study record in the ClinicalTrials.gov API v2 structure
(made-up numbers, never data); the fixture tests import the stored copies of NCT03434041 and
NCT04599855 with their reviewed mappings and show that the imported rows equal the rows read
by hand from the same copies (``tests/fixtures/registry``).
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import CANONICAL, REPO
from ketamine_meta.cli.commands import main
from ketamine_meta.evidence.configuration import (
    ConfigError,
    check_against_schema,
    load_checked_yaml,
    load_yaml_file,
)
from ketamine_meta.evidence.registry import (
    MappingError,
    RecordError,
    compare_with_package,
    count_from_percentage,
    import_registry,
    study_record,
)

SCHEMA = REPO / "workflow" / "schemas" / "registry_mapping.schema.yaml"
FIXTURES = REPO / "tests" / "fixtures" / "registry"
MAPS = REPO / "data" / "registry_maps"
HEADERS = {
    name: next(csv.reader(io.StringIO((REPO / "data" / "raw" / f"{name}.csv").read_text())))
    for name in ("outcomes", "contrasts", "adverse_events")
}
#: Columns that hold provenance or prose: locators differ in wording between two readers.
PROSE = {"source_id", "locator", "derivation", "note"}


# ---------------------------------------------------------------------------------------------
# A synthetic record in the API v2 structure (invented numbers)


def _groups(*titles: str) -> list[dict]:
    return [{"id": f"OG00{i}", "title": t} for i, t in enumerate(titles)]


def _denoms(*counts: str) -> list[dict]:
    return [
        {
            "units": "Participants",
            "counts": [{"groupId": f"OG00{i}", "value": c} for i, c in enumerate(counts)],
        }
    ]


def _measure(title, param, dispersion, unit, frame, measurements, counts=("40", "38"), **extra):
    measure = {
        "type": "SECONDARY",
        "title": title,
        "paramType": param,
        "unitOfMeasure": unit,
        "timeFrame": frame,
        "groups": _groups("Drug", "Placebo"),
        "denoms": _denoms(*counts),
        "classes": [{"categories": [{"measurements": measurements}]}],
        **extra,
    }
    if dispersion is not None:
        measure["dispersionType"] = dispersion
    return measure


def _values(*cells: dict) -> list[dict]:
    return [{"groupId": f"OG00{i}", **cell} for i, cell in enumerate(cells)]


def synthetic_record() -> dict:
    """Six outcome measures (SD, SE, CI, count, percentage, unmapped) and adverse events."""
    analysis = {
        "groupIds": ["OG000", "OG001"],
        "statisticalMethod": "ANCOVA",
        "paramType": "Mean Difference (Final Values)",
        "paramValue": "-4.5",
        "ciPctValue": "95",
        "ciNumSides": "TWO_SIDED",
        "ciLowerLimit": "-7.4",
        "ciUpperLimit": "-1.6",
        "dispersionType": "STANDARD_ERROR_OF_MEAN",
        "dispersionValue": "1.50",
    }
    measures = [
        _measure(
            "Change in MADRS at 24 hours",
            "MEAN",
            "Standard Deviation",
            "score on a scale",
            "Baseline to 24 hours",
            _values({"value": "-12.0", "spread": "8.50"}, {"value": "-7.5", "spread": "7.25"}),
            analyses=[analysis],
        ),
        _measure(
            "Change in MADRS at Day 7",
            "LEAST_SQUARES_MEAN",
            "Standard Error",
            "score on a scale",
            "Baseline to Day 7",
            _values({"value": "-10.2", "spread": "1.30"}, {"value": "-6.1", "spread": "1.35"}),
            counts=("37", "36"),
        ),
        _measure(
            "MADRS at Day 28",
            "MEAN",
            "95% Confidence Interval",
            "score on a scale",
            "Day 28",
            _values(
                {"value": "18.0", "lowerLimit": "15.1", "upperLimit": "20.9"},
                {"value": "22.0", "lowerLimit": "19.0", "upperLimit": "25.0"},
            ),
            counts=("35", "34"),
        ),
        _measure(
            "Number of Responders at 24 hours",
            "COUNT_OF_PARTICIPANTS",
            None,
            "Participants",
            "24 hours",
            _values({"value": "17"}, {"value": "6"}),
        ),
        _measure(
            "Percentage of Participants in Remission at 24 hours",
            "NUMBER",
            None,
            "percentage of participants",
            "24 hours",
            _values({"value": "22.5"}, {"value": "7.9"}),
        ),
        _measure(
            "Quality of life at Day 28",
            "MEAN",
            "Standard Deviation",
            "score on a scale",
            "Day 28",
            _values({"value": "3.0", "spread": "1.0"}, {"value": "2.0", "spread": "1.0"}),
        ),
    ]
    stats = [
        {"groupId": "EG000", "numEvents": 3, "numAffected": 2, "numAtRisk": 41},
        {"groupId": "EG001", "numEvents": 0, "numAffected": 0, "numAtRisk": 40},
    ]
    hypertension_other = [
        {"groupId": "EG000", "numEvents": 9, "numAffected": 8, "numAtRisk": 41},
        {"groupId": "EG001", "numEvents": 2, "numAffected": 2, "numAtRisk": 40},
    ]
    dissociation = [
        {"groupId": "EG000", "numEvents": 30, "numAffected": 21, "numAtRisk": 41},
        {"groupId": "EG001", "numEvents": 4, "numAffected": 3, "numAtRisk": 40},
    ]
    return {
        "protocolSection": {"identificationModule": {"nctId": "NCT00000001"}},
        "resultsSection": {
            "participantFlowModule": {"groups": [{"id": "FG000", "title": "Drug"}]},
            "outcomeMeasuresModule": {"outcomeMeasures": measures},
            "adverseEventsModule": {
                "frequencyThreshold": "5",
                "timeFrame": "Day 1 to Day 28",
                "eventGroups": [
                    {"id": "EG000", "title": "Drug"},
                    {"id": "EG001", "title": "Placebo"},
                    {"id": "EG002", "title": "Open-label extension"},
                ],
                "seriousEvents": [
                    {"term": "Hypertension", "organSystem": "Vascular disorders", "stats": stats}
                ],
                "otherEvents": [
                    {
                        "term": "Hypertension",
                        "organSystem": "Vascular disorders",
                        "stats": hypertension_other,
                    },
                    {
                        "term": "Dissociation",
                        "organSystem": "Psychiatric disorders",
                        "stats": dissociation,
                    },
                    {"term": "Nausea", "organSystem": "Gastrointestinal disorders", "stats": []},
                ],
            },
        },
    }


def synthetic_mapping() -> dict:
    return {
        "nct_id": "NCT00000001",
        "study_id": "Synth2024",
        "source_id": "synth2024_ctgov",
        "groups": {"OG000": "drg", "OG001": "pbo"},
        "outcomes": [
            {
                "title": "Change in MADRS at 24 hours",
                "outcome": "depression_score",
                "scale": "MADRS",
                "timepoint_h": 24,
                "value_type": "change",
                "contrasts": [
                    {
                        "treat": "OG000",
                        "ctrl": "OG001",
                        "measure": "MD",
                        "posted_orientation": "treat_minus_ctrl",
                    }
                ],
            },
            {
                "title": "Change in MADRS at Day 7",
                "outcome": "depression_score",
                "scale": "MADRS",
                "timepoint_h": 168,
                "value_type": "change",
            },
            {
                "title": "MADRS at Day 28",
                "outcome": "depression_score",
                "scale": "MADRS",
                "timepoint_h": 672,
                "value_type": "endpoint",
            },
            {
                "title": "Number of Responders at 24 hours",
                "outcome": "response",
                "scale": "MADRS",
                "timepoint_h": 24,
            },
            {
                "title": "Percentage of Participants in Remission at 24 hours",
                "outcome": "remission",
                "scale": "MADRS",
                "timepoint_h": 24,
            },
        ],
        "adverse_events": {
            "groups": {"EG000": "drg", "EG001": "pbo"},
            "events": [
                {"term": "Hypertension", "list": "other", "event": "blood pressure increased"},
                {"term": "Dissociation", "list": "other", "event": "dissociation"},
            ],
        },
    }


def run(record=None, mapping=None, arms=None):
    mapping = synthetic_mapping() if mapping is None else mapping
    check_against_schema(mapping, load_yaml_file(SCHEMA), "mapping.yaml")
    return import_registry(record or synthetic_record(), mapping, CANONICAL, arms)


def by_key(rows: list[dict], *columns: str) -> dict[tuple, dict]:
    return {tuple(row[c] for c in columns): row for row in rows}


# ---------------------------------------------------------------------------------------------
# Parsing


def test_rows_carry_every_column_of_their_table_in_order():
    tables = run().tables
    for name, rows in tables.items():
        assert rows, name
        assert all(list(row) == HEADERS[name] for row in rows)


def test_a_standard_deviation_is_stored_as_posted():
    rows = by_key(run().tables["outcomes"], "arm_id", "outcome", "timepoint_h")
    row = rows[("drg", "depression_score", "24")]
    assert (row["n"], row["mean"], row["sd"], row["sd_source"]) == (
        "40",
        "-12.0",
        "8.50",
        "reported",
    )
    assert row["se"] is None and row["derivation"] is None
    assert (row["value_type"], row["data_basis"], row["source_id"]) == (
        "change",
        "primary",
        "synth2024_ctgov",
    )
    assert row["locator"] == (
        "ClinicalTrials.gov posted results, outcome measure 'Change in MADRS at 24 hours', time "
        "frame 'Baseline to 24 hours', group OG000 'Drug'"
    )


def test_a_standard_error_is_stored_as_se_not_converted():
    rows = by_key(run().tables["outcomes"], "arm_id", "outcome", "timepoint_h")
    row = rows[("pbo", "depression_score", "168")]
    assert (row["n"], row["mean"], row["se"], row["sd_source"]) == ("36", "-6.1", "1.35", "from_se")
    assert row["sd"] is None and row["derivation"] is None
    assert "LEAST_SQUARES_MEAN, Standard Error" in row["note"]


def test_a_confidence_interval_is_stored_as_its_bounds():
    rows = by_key(run().tables["outcomes"], "arm_id", "outcome", "timepoint_h")
    row = rows[("drg", "depression_score", "672")]
    assert (row["mean"], row["ci_low"], row["ci_high"], row["sd_source"]) == (
        "18.0",
        "15.1",
        "20.9",
        "from_ci",
    )
    assert row["value_type"] == "endpoint" and row["sd"] is None and row["se"] is None


def test_counts_are_taken_and_percentages_turned_into_the_one_count_that_fits():
    rows = by_key(run().tables["outcomes"], "arm_id", "outcome")
    responders = rows[("drg", "response")]
    assert (responders["events"], responders["n"], responders["derivation"]) == ("17", "40", None)
    assert responders["value_type"] is None and responders["mean"] is None
    remitted = rows[("pbo", "remission")]
    assert (remitted["events"], remitted["n"]) == ("3", "38")
    assert remitted["derivation"] == (
        "events = 7.9% x 38 = 3.00 -> 3; 3/38 = 7.89% is the only count of 38 that rounds to "
        "the posted 7.9%"
    )
    assert rows[("drg", "remission")]["events"] == "9"  # 22.5% of 40


@pytest.mark.parametrize(
    ("percent", "n", "count"),
    [("19.3", 109, 21), ("0.0", 12, 0), ("100", 7, 7), ("10.0", 2000, None), ("50.0", 3, None)],
)
def test_count_from_percentage(percent, n, count):
    events, derivation = count_from_percentage(Decimal(percent), n)
    assert events == count
    if count is None:
        assert "not one count" in derivation


def test_a_percentage_without_one_fitting_count_is_listed_not_guessed():
    record = synthetic_record()
    measures = record["resultsSection"]["outcomeMeasuresModule"]["outcomeMeasures"]
    measures[4]["classes"][0]["categories"][0]["measurements"][0]["value"] = "50.1"
    result = run(record)
    assert ("drg", "remission") not in by_key(result.tables["outcomes"], "arm_id", "outcome")
    assert (
        "outcome 'Percentage of Participants in Remission at 24 hours', group OG000 (arm drg): "
        "50.1% of 40 fits 0 counts (none); not one count; row not imported"
    ) in result.unmapped


def test_a_value_that_is_not_a_number_is_listed_with_the_registry_comment():
    record = synthetic_record()
    measures = record["resultsSection"]["outcomeMeasuresModule"]["outcomeMeasures"]
    cell = measures[0]["classes"][0]["categories"][0]["measurements"][1]
    cell.update(value="NA", comment="No participants analysed")
    result = run(record)
    scores = [r for r in result.tables["outcomes"] if r["outcome"] == "depression_score"]
    assert [r["arm_id"] for r in scores if r["timepoint_h"] == "24"] == ["drg"]
    assert (
        "outcome 'Change in MADRS at 24 hours', group OG001 (arm pbo): value 'NA' is not a "
        "number (No participants analysed); row not imported"
    ) in result.unmapped


def test_a_spread_the_package_cannot_hold_is_listed():
    record = synthetic_record()
    record["resultsSection"]["outcomeMeasuresModule"]["outcomeMeasures"][0]["dispersionType"] = (
        "Inter-Quartile Range"
    )
    result = run(record)
    assert not [r for r in result.tables["outcomes"] if r["timepoint_h"] == "24" and r["mean"]]
    assert any(
        "'Inter-Quartile Range' is not a spread the package holds" in u for u in result.unmapped
    )


# ---------------------------------------------------------------------------------------------
# Contrasts


def test_a_contrast_posted_as_treatment_minus_control_is_kept():
    (row,) = run().tables["contrasts"]
    assert (row["arm_id_treat"], row["arm_id_ctrl"], row["measure"]) == ("drg", "pbo", "MD")
    assert (row["estimate"], row["se"], row["ci_low"], row["ci_high"], row["ci_level"]) == (
        "-4.5",
        "1.50",
        "-7.4",
        "-1.6",
        "0.95",
    )
    assert (row["n_treat"], row["n_ctrl"], row["derivation"]) == ("40", "38", None)
    assert "stored as treatment (OG000) minus control (OG001)" in row["note"]


def test_a_contrast_posted_as_control_minus_treatment_is_turned_and_says_so():
    mapping = synthetic_mapping()
    mapping["outcomes"][0]["contrasts"][0]["posted_orientation"] = "ctrl_minus_treat"
    (row,) = run(mapping=mapping).tables["contrasts"]
    assert (row["estimate"], row["se"], row["ci_low"], row["ci_high"]) == (
        "4.5",
        "1.50",
        "1.6",
        "7.4",
    )
    assert row["derivation"] == (
        "sign turned: the registry posts control minus treatment (mapping, posted_orientation); "
        "estimate -(-4.5) = 4.5; CI [-(-1.6), -(-7.4)] = [1.6, 7.4]"
    )


def test_an_analysis_is_chosen_by_its_two_groups_or_named_by_index():
    record = synthetic_record()
    measure = record["resultsSection"]["outcomeMeasuresModule"]["outcomeMeasures"][0]
    measure["analyses"].append(dict(measure["analyses"][0], paramValue="-1.0"))
    with pytest.raises(MappingError, match=r"outcomes\[0\]\.contrasts\[0\]: 2 analyses"):
        run(record)
    mapping = synthetic_mapping()
    mapping["outcomes"][0]["contrasts"][0]["analysis"] = 1
    result = run(record, mapping)
    assert result.tables["contrasts"][0]["estimate"] == "-1.0"
    assert any("statistical analysis 1 (analysis 0;" in line for line in result.unmapped)


# ---------------------------------------------------------------------------------------------
# Adverse events


def test_adverse_events_are_participants_affected_of_those_at_risk():
    rows = by_key(run().tables["adverse_events"], "arm_id", "event")
    assert [(r["events"], r["n"]) for r in rows.values()] == [
        ("8", "41"),
        ("2", "40"),
        ("21", "41"),
        ("3", "40"),
    ]
    row = rows[("drg", "blood pressure increased")]
    assert row["locator"] == (
        "ClinicalTrials.gov posted results, adverse events, other: term 'Hypertension' (organ "
        "system 'Vascular disorders'), group EG000 'Drug', participants affected / at risk; time "
        "frame 'Day 1 to Day 28'"
    )
    assert "also posted among serious adverse events (2 of 41)" in row["note"]
    assert "also posted" not in rows[("drg", "dissociation")]["note"]


# ---------------------------------------------------------------------------------------------
# What is not imported is listed


def test_everything_unmapped_is_listed():
    assert run().unmapped == [
        "outcome measure (SECONDARY) 'Quality of life at Day 28' [Day 28]: not in the mapping",
        "adverse events: event group EG002 'Open-label extension' not in adverse_events.groups",
        "adverse events, serious: 'Hypertension' (Vascular disorders) not in the mapping",
        "adverse events, other: 'Nausea' (Gastrointestinal disorders) not in the mapping",
        "participant flow: not read (this importer reads outcome measures and adverse events)",
    ]


def test_a_group_the_outcome_map_leaves_out_is_listed():
    mapping = synthetic_mapping()
    mapping["outcomes"][1]["groups"] = {"OG000": "drg"}
    result = run(mapping=mapping)
    assert (
        "outcome 'Change in MADRS at Day 7': group OG001 'Placebo' not in outcomes[1].groups"
    ) in result.unmapped
    assert [r["arm_id"] for r in result.tables["outcomes"] if r["timepoint_h"] == "168"] == ["drg"]


# ---------------------------------------------------------------------------------------------
# Refusals name the mapping key and value


def _edit(path: str, value):
    mapping = synthetic_mapping()
    *parents, last = path.split("/")
    node = mapping
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return mapping


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("outcomes/0/title", "Nope", "outcomes[0].title: 'Nope' is not an outcome measure"),
        ("groups", {"OG000": "drg", "OG009": "pbo"}, "groups.OG009: no outcome measure"),
        (
            "outcomes/1/groups",
            {"OG000": "drg", "OG009": "pbo"},
            "outcomes[1].groups.OG009: outcome 'Change in MADRS at Day 7' has no group OG009",
        ),
        ("outcomes/0/outcome", "mood", "outcomes[0].outcome: 'mood' is not allowed"),
        ("outcomes/2/scale", "MADRS10", "outcomes[2].scale: 'MADRS10' is not allowed"),
        ("outcomes/3/value_type", "change", "outcomes[3].value_type: 'change': a response row"),
        ("nct_id", "NCT99999999", "nct_id: 'NCT99999999', but the record is 'NCT00000001'"),
        (
            "adverse_events/groups",
            {"EG000": "drg", "EG009": "pbo"},
            "adverse_events.groups.EG009: the record has no such event group",
        ),
        (
            "adverse_events/events/0/term",
            "Syncope",
            "adverse_events.events[0].term: 'Syncope' is not among the record's other",
        ),
        (
            "outcomes/0/contrasts/0/ctrl",
            "OG002",
            "outcomes[0].contrasts[0].ctrl: 'OG002' is not a mapped group",
        ),
        (
            "outcomes/3/contrasts",
            [
                {
                    "treat": "OG000",
                    "ctrl": "OG001",
                    "measure": "MD",
                    "posted_orientation": "treat_minus_ctrl",
                }
            ],
            "outcomes[3].contrasts: the package holds contrasts of",
        ),
        ("outcomes/2/timepoint_h", 168, "outcomes: two entries make the same outcomes row"),
    ],
)
def test_a_mapping_naming_what_is_not_there_is_refused(path, value, message):
    mapping = _edit(path, value)
    if path == "outcomes/2/timepoint_h":
        mapping["outcomes"][2]["value_type"] = "change"
    with pytest.raises(MappingError) as refused:
        run(mapping=mapping)
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_score_outcome_without_value_type_is_refused():
    mapping = synthetic_mapping()
    del mapping["outcomes"][0]["value_type"]
    with pytest.raises(MappingError, match=r"outcomes\[0\]\.value_type: a depression_score needs"):
        run(mapping=mapping)


def test_an_arm_the_package_lacks_is_refused():
    with pytest.raises(MappingError) as refused:
        run(arms={"drug", "pbo"})
    assert str(refused.value) == (
        "groups.OG000: arm 'drg' is not an arm of Synth2024 in the package (its arms: drug, pbo)"
    )
    assert run(arms={"drg", "pbo"}).tables["outcomes"]


def test_a_group_id_that_changes_group_between_outcomes_is_refused():
    record = synthetic_record()
    measures = record["resultsSection"]["outcomeMeasuresModule"]["outcomeMeasures"]
    measures[1]["groups"] = _groups("Placebo", "Drug")
    with pytest.raises(MappingError) as refused:
        run(record)
    assert str(refused.value).startswith(
        "groups.OG000: the group is 'Drug' in outcome 'Change in MADRS at 24 hours' but "
        "'Placebo' in outcome 'Change in MADRS at Day 7'"
    )


# ---------------------------------------------------------------------------------------------
# The record in its file


def test_a_bare_record_and_a_records_file_under_a_key_are_both_read():
    record = synthetic_record()
    assert study_record(record) == (record, "")
    assert study_record({"NCT00000001": record}, "NCT00000001") == (record, "NCT00000001")
    measures = record["resultsSection"]["outcomeMeasuresModule"]["outcomeMeasures"]
    wrapped, where = study_record({"ctgov_results": {"NCT00000001": measures}}, "NCT00000001")
    assert where == "ctgov_results.NCT00000001"
    assert wrapped["resultsSection"]["outcomeMeasuresModule"]["outcomeMeasures"] is measures


@pytest.mark.parametrize(
    ("document", "key", "message"),
    [
        ({"studies": []}, None, "no resultsSection object at the top level"),
        ({"a": {}}, "NCT00000001", "key 'NCT00000001': no place in the file holds it"),
        (
            {"NCT00000001": [], "b": {"NCT00000001": []}},
            "NCT00000001",
            "2 places (NCT00000001, b.NCT00000001)",
        ),
        ({"NCT00000001": "text"}, "NCT00000001", "neither a study record"),
    ],
)
def test_a_file_without_the_study_is_refused(document, key, message):
    with pytest.raises(RecordError) as refused:
        study_record(document, key)
    assert message in str(refused.value)


def test_compare_with_package_reads_numbers_as_numbers():
    tables = run().tables
    row = dict(tables["outcomes"][0])
    held = dict(row, sd="8.5", source_id="paper", locator="Table 2")
    assert compare_with_package({"outcomes": [row]}, {"outcomes": [held]}, CANONICAL) == [
        "outcomes: Synth2024 / drg / depression_score / MADRS / 24 / change is already in the "
        "package (source paper): all values agree"
    ]
    held["n"] = "41"
    (line,) = compare_with_package({"outcomes": [row]}, {"outcomes": [held]}, CANONICAL)
    assert line.endswith("differs: n 40 here, 41 there")


# ---------------------------------------------------------------------------------------------
# The mapping file


def test_the_repository_mappings_pass_their_schema():
    paths = sorted(MAPS.glob("*.yaml"))
    assert [p.name for p in paths] == ["NCT03434041.yaml", "NCT04599855.yaml"]
    for path in paths:
        assert load_checked_yaml(path, SCHEMA)["nct_id"] == path.stem


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nct_id: NCT00000001\nnct_id: NCT00000002\n", "the key 'nct_id' appears twice"),
        ("nct_id: !!python/object:os.system x\n", "the YAML tag !!python/object:os.system"),
        (
            "nct_id: NCT00000001\nstudy_id: S\nsource_id: s\nadverse_events: {groups: {EG0: a}, "
            "events: [{term: t, list: other, event: e}]}\nextra: 1\n",
            "Additional properties are not allowed ('extra' was unexpected)",
        ),
        (
            "nct_id: NCT1\nstudy_id: S\nsource_id: s\nadverse_events: {groups: {EG0: a}, "
            "events: [{term: t, list: other, event: e}]}\n",
            "nct_id: 'NCT1' does not match",
        ),
        (
            "nct_id: NCT00000001\nstudy_id: S\nsource_id: s\nadverse_events: {groups: {EG0: a}, "
            "events: [{term: t, list: other, event: e, note: '=HYPERLINK(1)'}]}\n",
            "adverse_events.events[0].note: '=HYPERLINK(1)' does not match",
        ),
    ],
)
def test_a_mapping_file_that_is_not_plain_or_not_a_mapping_is_refused(tmp_path, text, message):
    path = tmp_path / "map.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as refused:
        load_checked_yaml(path, SCHEMA)
    assert message in str(refused.value) and str(path) in str(refused.value)


# ---------------------------------------------------------------------------------------------
# The command


def _files(tmp_path: Path, record: dict | None = None, mapping: dict | None = None):
    record_path = tmp_path / "record.json"
    record_path.write_text(json.dumps(record or synthetic_record()))
    map_path = tmp_path / "map.yaml"
    map_path.write_text(json.dumps(mapping or synthetic_mapping()))  # JSON is YAML
    return str(record_path), str(map_path)


def _refusal(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ketamine-meta import-registry: error: ")
    return lines[0]


def test_the_command_writes_the_package_tables_and_the_unmapped_list(tmp_path, capsys):
    record, mapping = _files(tmp_path)
    out = tmp_path / "out"
    assert main(["import-registry", record, "--map", mapping, "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "adverse_events.csv",
        "contrasts.csv",
        "outcomes.csv",
        "unmapped.txt",
    ]
    for name, header in HEADERS.items():
        lines = (out / f"{name}.csv").read_text().splitlines()
        assert lines[0].split(",") == header
    outcomes = list(csv.DictReader(io.StringIO((out / "outcomes.csv").read_text())))
    assert [(r["arm_id"], r["timepoint_h"], r["sd"]) for r in outcomes[:2]] == [
        ("drg", "24", "8.50"),
        ("pbo", "24", "7.25"),
    ]
    unmapped = (out / "unmapped.txt").read_text().splitlines()
    assert len(unmapped) == 5
    captured = capsys.readouterr()
    assert captured.out == f"wrote 10 outcomes, 1 contrasts, 4 adverse_events to {out}\n"
    assert all(f"  {line}" in captured.err.splitlines() for line in unmapped)
    assert not list(tmp_path.glob(".out.partial-*"))


def test_the_command_refuses_a_directory_with_files(tmp_path, capsys):
    record, mapping = _files(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.csv").write_text("x\n")
    assert main(["import-registry", record, "--map", mapping, "--out", str(out)]) == 2
    assert "exists and is not an empty directory" in _refusal(capsys)
    assert [p.name for p in out.iterdir()] == ["keep.csv"]


def test_the_command_names_the_mapping_file_key_and_value(tmp_path, capsys):
    record, mapping = _files(tmp_path, mapping=_edit("outcomes/0/title", "Nope"))
    out = tmp_path / "out"
    assert main(["import-registry", record, "--map", mapping, "--out", str(out)]) == 2
    assert f"error: {mapping}: outcomes[0].title: 'Nope' is not an outcome measure" in (
        _refusal(capsys)
    )
    assert not out.exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"resultsSection": {}, \n "x": ', "line 2, column 7: not valid JSON"),
        ('{"resultsSection": {}, "resultsSection": {}}', "the key 'resultsSection' appears twice"),
        ('{"resultsSection": {"v": NaN}}', "NaN is not a number JSON allows"),
    ],
)
def test_the_command_refuses_a_record_file_that_is_not_json(tmp_path, capsys, text, message):
    _, mapping = _files(tmp_path)
    record = tmp_path / "bad.json"
    record.write_text(text)
    assert (
        main(["import-registry", str(record), "--map", mapping, "--out", str(tmp_path / "o")]) == 2
    )
    assert f"{record}: " in (line := _refusal(capsys)) and message in line


def test_the_command_checks_arms_against_the_package(tmp_path, capsys):
    mapping = synthetic_mapping()
    mapping["study_id"] = "Daly2018"
    record, map_path = _files(tmp_path, mapping=mapping)
    args = ["import-registry", record, "--map", map_path, "--package", str(REPO / "data" / "raw")]
    assert main([*args, "--out", str(tmp_path / "a")]) == 2
    assert f"{map_path}: groups.OG000: arm 'drg' is not an arm of Daly2018 in the package" in (
        _refusal(capsys)
    )
    mapping["groups"] = {"OG000": "esk56", "OG001": "pbo"}
    mapping["adverse_events"]["groups"] = {"EG000": "esk56", "EG001": "pbo"}
    record, map_path = _files(tmp_path, mapping=mapping)
    args[3] = map_path
    assert main([*args, "--out", str(tmp_path / "b")]) == 0


def test_nothing_is_left_half_written_when_a_write_fails(tmp_path, capsys, monkeypatch):
    record, mapping = _files(tmp_path)
    written = []
    real_write = Path.write_text

    def failing_write(self, text, *args, **kwargs):
        if written:
            raise OSError(28, "No space left on device", str(self))
        written.append(self)
        return real_write(self, text, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", failing_write)
    out = tmp_path / "out"
    assert main(["import-registry", record, "--map", mapping, "--out", str(out)]) == 2
    assert "No space left on device" in _refusal(capsys)
    assert not out.exists()
    assert not list(tmp_path.glob(".out.partial-*"))


# ---------------------------------------------------------------------------------------------
# The stored registry copies: imported rows equal the hand-extracted ones


def _expected(nct: str) -> dict[tuple, dict]:
    """The hand-extracted rows of the registry copy, keyed by table and primary key."""
    with open(FIXTURES / f"{nct}.expected.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    return {_key(row["table"], row): row for row in rows}


def _primary_key(table: str) -> list[str]:
    resource = next(r for r in CANONICAL["resources"] if r["name"] == table)
    return resource["schema"]["primaryKey"]


def _key(table: str, row: dict) -> tuple:
    return (table, *(_number(row[c]) for c in _primary_key(table)))


def _number(text: str | None) -> object:
    """Decimal for number cells (``10.80`` equals ``10.8``), the text otherwise, None if empty."""
    if not text:
        return None
    try:
        return Decimal(text).normalize()
    except ArithmeticError:
        return text


def _imported(tmp_path: Path, nct: str, capsys) -> tuple[dict[tuple, dict], list[str]]:
    out = tmp_path / nct
    args = [str(FIXTURES / f"{nct}.json"), "--key", nct, "--map", str(MAPS / f"{nct}.yaml")]
    assert main(["import-registry", *args, "--out", str(out)]) == 0
    capsys.readouterr()
    rows = {}
    for table in HEADERS:
        path = out / f"{table}.csv"
        if path.exists():
            rows |= {_key(table, r): r for r in csv.DictReader(io.StringIO(path.read_text()))}
    return rows, (out / "unmapped.txt").read_text().splitlines()


def _disagreements(expected: dict[tuple, dict], imported: dict[tuple, dict]) -> list[str]:
    problems = []
    for key, row in expected.items():
        if key not in imported:
            problems.append(f"{key}: not imported")
            continue
        for column in HEADERS[key[0]]:
            if column in PROSE:
                continue
            if _number(row[column]) != _number(imported[key][column]):
                problems.append(
                    f"{key} {column}: {row[column]!r} by hand, {imported[key][column]!r}"
                )
    return problems


def test_nct04599855_imports_exactly_the_hand_extracted_rows(tmp_path, capsys):
    expected = _expected("NCT04599855")
    imported, unmapped = _imported(tmp_path, "NCT04599855", capsys)
    assert len(expected) == 10
    assert _disagreements(expected, imported) == []
    assert set(imported) == set(expected)
    assert unmapped == []


def test_nct03434041_imports_the_hand_extracted_registry_rows(tmp_path, capsys):
    expected = _expected("NCT03434041")
    imported, unmapped = _imported(tmp_path, "NCT03434041", capsys)
    assert len(expected) == 4
    assert _disagreements(expected, imported) == []
    # The other imported rows (MADRS change at 24 h and Day 28 and their LS-mean differences)
    # were read by hand from the article, not from the registry copy.
    others = sorted(
        (key[0], row.get("arm_id") or row["arm_id_treat"], row["outcome"], row["timepoint_h"])
        for key, row in imported.items()
        if key not in expected
    )
    assert others == [
        ("contrasts", "eskflex", "depression_score", "24"),
        ("contrasts", "eskflex", "depression_score", "672"),
        ("outcomes", "eskflex", "depression_score", "24"),
        ("outcomes", "eskflex", "depression_score", "672"),
        ("outcomes", "pbo", "depression_score", "24"),
        ("outcomes", "pbo", "depression_score", "672"),
    ]
    assert unmapped == [
        "outcome measure (SECONDARY) 'Percentage of Participants With Onset of Clinical "
        "Response' [Day 2 up to Day 28]: not in the mapping",
        "outcome measure (SECONDARY) 'Percentage of Participants With Sustained Remission' "
        "[Up to Day 28]: not in the mapping",
    ]


def test_the_fixtures_keep_the_stored_copy_s_shape():
    for nct in ("NCT03434041", "NCT04599855"):
        document = json.loads((FIXTURES / f"{nct}.json").read_text())
        assert list(document) == ["ctgov_results"] and list(document["ctgov_results"]) == [nct]
        assert study_record(document, nct)[1] == f"ctgov_results.{nct}"
