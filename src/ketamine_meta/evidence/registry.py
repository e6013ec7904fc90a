"""Results posted on ClinicalTrials.gov, turned into data package rows by a reviewed mapping.

A trial's record (the ClinicalTrials.gov API v2 JSON, ``resultsSection``) holds, per outcome
measure, its groups (``OG000``, ...), the participants analysed per group (``denoms``), one
measurement per group (a value with its spread or limits, as ``paramType`` and
``dispersionType`` say) and the between-group ``analyses``; its adverse-events module holds, per
term, the participants affected and at risk in each event group (``EG000``, ...). Which
registry outcome is which protocol outcome, scale, timepoint and value type, which group is
which arm, and which adverse-event term is which package event, the record does not say: a
person writes it in a mapping (``data/registry_maps/NCT*.yaml``, whose structure
``workflow/schemas/registry_mapping.schema.yaml`` checks) and :func:`import_registry` applies it.

Nothing is guessed:

- what the mapping does not name (outcome measures, groups, analyses, adverse-event terms and
  groups, the modules this importer does not read) is listed, never imported;
- a mapping that names what the record lacks (a title, a group id, a term), an arm that the
  package lacks, or a value outside the package's vocabulary is refused, naming its key and
  value (:class:`MappingError`);
- a posted cell that is not a number, or a spread the package cannot hold (a range, an
  interquartile range), is listed with the reason and its row left out;
- what is posted is stored as posted: a standard error as ``se`` with ``sd_source`` from_se,
  a 95% interval as ``ci_low``/``ci_high`` with from_ci (the analyses convert them). The only
  arithmetic is a count from a posted percentage (kept only when a single count of the
  analysed participants rounds to it) and a sign turned because the mapping says the posted
  difference is control minus treatment; ``derivation`` states either.

Numbers are carried as the registry's decimal text (``10.80`` stays ``10.80``), so that an
imported row holds the registry's digits; a derived number is computed in decimal arithmetic.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from ketamine_meta.evidence.datapackage import COUNT_OUTCOMES, SCORE_OUTCOMES

#: The package tables an import writes, in the order they are reported.
TABLES = ("outcomes", "contrasts", "adverse_events")

#: ``paramType`` of a measurement the package stores as a mean (normalized: upper case, words
#: joined by ``_``; the API writes ``MEAN``, a copy may write ``Mean``).
MEAN_TYPES = frozenset({"MEAN", "LEAST_SQUARES_MEAN"})
#: Normalized ``dispersionType`` of an outcome measure, by the column the spread goes to.
SD_TYPES = frozenset({"STANDARD_DEVIATION"})
SE_TYPES = frozenset({"STANDARD_ERROR", "STANDARD_ERROR_OF_MEAN", "STANDARD_ERROR_OF_THE_MEAN"})
CI95_TYPES = frozenset({"95_CONFIDENCE_INTERVAL", "CONFIDENCE_95", "CONFIDENCE_INTERVAL_95"})
#: A posted number: the registry's decimal text (no exponent, no thousands separator).
POSTED_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
POSTED_COUNT = re.compile(r"[0-9]+")
#: Modules of ``resultsSection`` this importer does not read: listed when the record has them.
UNREAD_MODULES = {
    "participantFlowModule": "participant flow",
    "baselineCharacteristicsModule": "baseline characteristics",
}
#: The package's columns that hold provenance or prose, not values (left out of comparisons).
PROSE_COLUMNS = frozenset({"source_id", "locator", "derivation", "note"})


class RegistryError(ValueError):
    """A registry import refused: one line naming the key and the value."""


class MappingError(RegistryError):
    """The mapping names what the record or the package lacks, or breaks the package's rules."""


class RecordError(RegistryError):
    """The record is not a ClinicalTrials.gov results record this importer can read."""


@dataclass
class RegistryImport:
    """Package rows imported from one record, and what was not imported.

    Attributes
    ----------
    tables
        ``outcomes``, ``contrasts`` and ``adverse_events`` rows, each a dict over the table's
        columns in the canonical schema's order (text cells; ``None`` where empty).
    unmapped
        One line per part of the record that the mapping did not name or that could not be
        imported, with the reason.
    """

    tables: dict[str, list[dict[str, str | None]]] = field(
        default_factory=lambda: {name: [] for name in TABLES}
    )
    unmapped: list[str] = field(default_factory=list)


def study_record(document: object, key: str | None = None) -> tuple[dict, str]:
    """The study record in a JSON document, and where in the document it was found.

    Parameters
    ----------
    document
        A bare API v2 study record (a mapping with ``resultsSection``), or, with ``key``, a
        records file holding the study under ``key`` at its top level or one level down (as
        ``{"ctgov_results": {"NCT03434041": ...}}``). The study there is a record, or the list
        of its outcome measures (``resultsSection.outcomeMeasuresModule.outcomeMeasures``), as
        some records files keep them.
    key
        The key of the study in a records file.

    Returns
    -------
    tuple of (dict, str)
        The record (an outcome-measure list wrapped as ``resultsSection``) and its place in the
        document, for messages and locators (``ctgov_results.NCT03434041``; ``""`` for a bare
        record).

    Raises
    ------
    RecordError
        Naming what is missing: no ``resultsSection`` in a bare record, no (or two) places
        holding ``key``, or a value there that is neither a record nor a list of measures.
    """
    if key is None:
        if isinstance(document, Mapping) and isinstance(document.get("resultsSection"), Mapping):
            return dict(document), ""
        raise RecordError(
            "not a ClinicalTrials.gov API v2 study record (no resultsSection object at the top "
            "level); for a records file holding the study under a key, give that key"
        )
    places = _places_of(document, key)
    if len(places) != 1:
        found = "no place" if not places else f"{len(places)} places ({', '.join(places)})"
        raise RecordError(
            f"key {key!r}: {found} in the file holds it (looked at the top level and one level "
            "down)"
        )
    where = places[0]
    value = document[key] if where == key else document[where.split(".", 1)[0]][key]
    if isinstance(value, Mapping) and isinstance(value.get("resultsSection"), Mapping):
        return dict(value), where
    if isinstance(value, list) and all(isinstance(m, Mapping) for m in value):
        return {"resultsSection": {"outcomeMeasuresModule": {"outcomeMeasures": value}}}, where
    raise RecordError(
        f"{where}: neither a study record (with resultsSection) nor a list of outcome measures"
    )


def _places_of(document: object, key: str) -> list[str]:
    if not isinstance(document, Mapping):
        return []
    places = [key] if key in document else []
    places += [
        f"{outer}.{key}"
        for outer, value in document.items()
        if isinstance(value, Mapping) and key in value
    ]
    return places


def import_registry(
    record: Mapping,
    mapping: Mapping,
    canonical: Mapping,
    arms: Collection[str] | None = None,
) -> RegistryImport:
    """The package rows a reviewed mapping makes of a record's posted results.

    Parameters
    ----------
    record
        A ClinicalTrials.gov API v2 study record (:func:`study_record`).
    mapping
        The mapping, already accepted by ``registry_mapping.schema.yaml``: ``nct_id``,
        ``study_id``, ``source_id``, ``groups`` (outcome group id to arm id), ``outcomes``
        (per registry outcome title: outcome, scale, timepoint_h, value_type, and an optional
        ``contrasts``) and ``adverse_events`` (event group id to arm id; term to event name).
    canonical
        The canonical package descriptor: each table's columns (and their order), the allowed
        values the mapping's outcome, scale, value type and measure must take.
    arms
        The package's arm ids of ``study_id``; when given, every mapped arm must be one.

    Returns
    -------
    RegistryImport
        The rows and the list of what was not imported.

    Raises
    ------
    MappingError
        Naming the mapping key and value: a title, group id or term the record lacks, an arm
        the package lacks, a value outside the package's vocabulary, two entries making one row.
    RecordError
        Naming the place in the record: a structure this importer cannot read.
    """
    columns = {name: _columns(canonical, name) for name in TABLES}
    _check_vocabulary(mapping, canonical)
    _check_identity(record, mapping)
    result = RegistryImport()
    results = record["resultsSection"]
    outcome_module = results.get("outcomeMeasuresModule", {})
    measures = _list(outcome_module, "outcomeMeasures", "outcomeMeasuresModule")
    mapped = set()
    for item in _outcome_imports(measures, mapping, arms, result.unmapped):
        result.tables["outcomes"] += item.outcome_rows
        result.tables["contrasts"] += item.contrast_rows
        mapped.add(id(item.measure))
    result.unmapped += [
        f"outcome measure ({measure.get('type', 'type not given')}) {_title(measure)!r} "
        f"[{measure.get('timeFrame', 'no time frame')}]: not in the mapping"
        for measure in measures
        if id(measure) not in mapped
    ]
    result.tables["adverse_events"] = _adverse_event_rows(
        results.get("adverseEventsModule"), mapping, arms, result.unmapped
    )
    result.unmapped += [
        f"{label}: not read (this importer reads outcome measures and adverse events)"
        for unread, label in UNREAD_MODULES.items()
        if results.get(unread)
    ]
    _check_unique_rows(result.tables, canonical)
    for name in TABLES:
        result.tables[name] = [_complete(row, columns[name]) for row in result.tables[name]]
    return result


# ---------------------------------------------------------------------------------------------
# The mapping against the package and the record


def _columns(canonical: Mapping, table: str) -> list[str]:
    return [f["name"] for f in _resource(canonical, table)["schema"]["fields"]]


def _resource(canonical: Mapping, table: str) -> Mapping:
    return next(r for r in canonical["resources"] if r["name"] == table)


def _allowed(canonical: Mapping, table: str, column: str) -> list[str]:
    field_ = next(f for f in _resource(canonical, table)["schema"]["fields"] if f["name"] == column)
    return field_.get("constraints", {}).get("enum", [])


def _check_vocabulary(mapping: Mapping, canonical: Mapping) -> None:
    """Refuse an outcome, scale, value type or measure the package does not allow."""
    for i, entry in enumerate(mapping.get("outcomes", [])):
        for column in ("outcome", "scale", "value_type"):
            _check_allowed(entry.get(column), _allowed(canonical, "outcomes", column), i, column)
        outcome = entry["outcome"]
        if outcome in SCORE_OUTCOMES and "value_type" not in entry:
            raise MappingError(
                f"outcomes[{i}].value_type: a {outcome} needs it (change or endpoint)"
            )
        if outcome not in SCORE_OUTCOMES and "value_type" in entry:
            raise MappingError(
                f"outcomes[{i}].value_type: {entry['value_type']!r}: a {outcome} row is a count "
                "and has no value type"
            )
        for j, contrast in enumerate(entry.get("contrasts", [])):
            allowed = _allowed(canonical, "contrasts", "outcome")
            if outcome not in allowed:
                raise MappingError(
                    f"outcomes[{i}].contrasts: the package holds contrasts of "
                    f"{', '.join(allowed)} only, not of {outcome!r}"
                )
            allowed = _allowed(canonical, "contrasts", "measure")
            _check_allowed(contrast["measure"], allowed, i, f"contrasts[{j}].measure")


def _check_allowed(value: object, allowed: Sequence[str], i: int, key: str) -> None:
    if value is not None and allowed and value not in allowed:
        raise MappingError(
            f"outcomes[{i}].{key}: {value!r} is not allowed here by the package's schema "
            f"(allowed: {', '.join(allowed)})"
        )


def _check_identity(record: Mapping, mapping: Mapping) -> None:
    """Refuse a mapping written for another trial than the record's (when the record says)."""
    posted = record.get("protocolSection", {}).get("identificationModule", {}).get("nctId")
    if posted is not None and posted != mapping["nct_id"]:
        raise MappingError(f"nct_id: {mapping['nct_id']!r}, but the record is {posted!r}")


def _check_arm(arm: str, key: str, arms: Collection[str] | None, study_id: str) -> None:
    if arms is not None and arm not in arms:
        known = ", ".join(sorted(arms)) or "none"
        raise MappingError(
            f"{key}: arm {arm!r} is not an arm of {study_id} in the package (its arms: {known})"
        )


def _list(node: object, name: str, where: str) -> list:
    """``node[name]`` as a list of objects (absent: empty), or a :class:`RecordError`."""
    if not isinstance(node, Mapping):
        raise RecordError(f"{where}: not an object")
    value = node.get(name, [])
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise RecordError(f"{where}.{name}: not a list of objects")
    return value


def _title(measure: Mapping) -> str:
    return str(measure.get("title", ""))


# ---------------------------------------------------------------------------------------------
# Outcome measures


@dataclass
class _MappedMeasure:
    """One mapping entry with the outcome measure it names."""

    index: int
    entry: Mapping
    measure: Mapping
    groups: dict[str, str]
    groups_key: str
    outcome_rows: list[dict] = field(default_factory=list)
    contrast_rows: list[dict] = field(default_factory=list)
    #: Participants analysed per group id (None: the measure gives none in participants).
    counts: dict[str, str] | None = None
    #: Indices of the analyses the contrasts were read from.
    analyses_used: set[int] = field(default_factory=set)


def _mapped_measures(measures: list[Mapping], mapping: Mapping) -> Iterator[_MappedMeasure]:
    """Each outcome entry of the mapping with its measure and group map, or a refusal."""
    for i, entry in enumerate(mapping.get("outcomes", [])):
        matches = [
            m
            for m in measures
            if _title(m) == entry["title"]
            and ("time_frame" not in entry or m.get("timeFrame") == entry["time_frame"])
        ]
        if not matches:
            titles = "; ".join(repr(_title(m)) for m in measures) or "none"
            raise MappingError(
                f"outcomes[{i}].title: {entry['title']!r}"
                + (f" with time_frame {entry['time_frame']!r}" if "time_frame" in entry else "")
                + f" is not an outcome measure of the record (its titles: {titles})"
            )
        if len(matches) > 1:
            frames = "; ".join(repr(m.get("timeFrame")) for m in matches)
            raise MappingError(
                f"outcomes[{i}].title: {entry['title']!r} names {len(matches)} outcome measures; "
                f"give time_frame (theirs: {frames})"
            )
        own = "groups" in entry
        yield _MappedMeasure(
            i,
            entry,
            matches[0],
            dict(entry["groups"] if own else mapping.get("groups", {})),
            f"outcomes[{i}].groups" if own else "groups",
        )


def _outcome_imports(
    measures: list[Mapping],
    mapping: Mapping,
    arms: Collection[str] | None,
    unmapped: list[str],
) -> list[_MappedMeasure]:
    """Every mapped outcome measure with its rows; what was left out goes to ``unmapped``."""
    mapped = list(_mapped_measures(measures, mapping))
    _check_groups(mapped, measures, mapping, arms)
    for item in mapped:
        group_titles = {
            g.get("id"): g.get("title", "")
            for g in _list(item.measure, "groups", _title(item.measure))
        }
        unmapped += [
            f"outcome {_title(item.measure)!r}: group {gid} {title!r} not in {item.groups_key}"
            for gid, title in group_titles.items()
            if gid not in item.groups
        ]
        item.outcome_rows = _outcome_rows(item, mapping, unmapped)
        for j in range(len(item.entry.get("contrasts", []))):
            item.contrast_rows += _contrast_rows(item, j, mapping, unmapped)
        unmapped += [
            f"outcome {_title(item.measure)!r}: statistical analysis {k + 1} (analysis {k}; "
            f"groups {', '.join(map(str, a.get('groupIds', [])))}; "
            f"{a.get('paramType', 'no type')}) not in the mapping"
            for k, a in enumerate(_list(item.measure, "analyses", _title(item.measure)))
            if k not in item.analyses_used
        ]
    return mapped


def _check_groups(
    mapped: list[_MappedMeasure],
    measures: list[Mapping],
    mapping: Mapping,
    arms: Collection[str] | None,
) -> None:
    """Refuse a group id the record lacks, an unknown arm, or a global id whose group changes.

    An outcome's own ``groups`` must name groups of its measure. The mapping-wide ``groups``
    must name groups of some measure, and one id must be one group (the same title) in every
    mapped measure that uses the mapping-wide map: group ids are local to a measure, so a
    trial may number its groups differently between measures.
    """
    study = mapping["study_id"]
    for gid, arm in mapping.get("groups", {}).items():
        _check_arm(arm, f"groups.{gid}", arms, study)
        if not any(gid in _group_ids(m) for m in measures):
            raise MappingError(f"groups.{gid}: no outcome measure of the record has this group")
    first_title: dict[str, tuple[str, str]] = {}
    for item in mapped:
        titles = {
            g.get("id"): g.get("title", "")
            for g in _list(item.measure, "groups", _title(item.measure))
        }
        for gid, arm in item.groups.items():
            key = f"{item.groups_key}.{gid}"
            _check_arm(arm, key, arms, study)
            if gid not in titles:
                if item.groups_key != "groups":
                    raise MappingError(
                        f"{key}: outcome {_title(item.measure)!r} has no group {gid} (its "
                        f"groups: {', '.join(map(str, titles)) or 'none'})"
                    )
                continue
            seen = first_title.setdefault(gid, (titles[gid], _title(item.measure)))
            if item.groups_key == "groups" and seen[0] != titles[gid]:
                raise MappingError(
                    f"groups.{gid}: the group is {seen[0]!r} in outcome {seen[1]!r} but "
                    f"{titles[gid]!r} in outcome {_title(item.measure)!r}; map the groups of "
                    f"outcomes[{item.index}] under its own groups"
                )


def _group_ids(measure: Mapping) -> set[str]:
    return {g.get("id") for g in measure.get("groups", []) if isinstance(g, Mapping)}


def _cell(item: _MappedMeasure) -> tuple[Mapping, Mapping, str]:
    """The measure's class and category the entry names (or the only ones), and a label."""
    entry, measure = item.entry, item.measure
    where = f"outcomes[{item.index}]"
    classes = _list(measure, "classes", _title(measure))
    chosen = _one_titled(classes, entry.get("class"), f"{where}.class", "class", _title(measure))
    categories = _list(chosen, "categories", _title(measure))
    category = _one_titled(
        categories, entry.get("category"), f"{where}.category", "category", _title(measure)
    )
    label = "; ".join(
        f"{kind} {node['title']!r}"
        for kind, node in (("class", chosen), ("category", category))
        if node.get("title")
    )
    return chosen, category, label


def _one_titled(nodes: list[Mapping], title: str | None, key: str, kind: str, outcome: str):
    if title is not None:
        matches = [n for n in nodes if n.get("title") == title]
        if len(matches) != 1:
            titles = "; ".join(repr(n.get("title")) for n in nodes) or "none"
            raise MappingError(
                f"{key}: {title!r} is not one {kind} of outcome {outcome!r} (its {kind} titles: "
                f"{titles})"
            )
        return matches[0]
    if len(nodes) != 1:
        titles = "; ".join(repr(n.get("title")) for n in nodes) or "none"
        raise MappingError(
            f"{key}: outcome {outcome!r} has {len(nodes)} {kind} entries; name one (titles: "
            f"{titles})"
        )
    return nodes[0]


def _participants(measure: Mapping, chosen_class: Mapping) -> dict[str, str] | None:
    """Participants analysed per group: the class's own denominators, else the measure's."""
    denoms = chosen_class.get("denoms") or measure.get("denoms") or []
    for denom in denoms:
        if isinstance(denom, Mapping) and str(denom.get("units", "")).lower() == "participants":
            return {c.get("groupId"): str(c.get("value")) for c in denom.get("counts", [])}
    return None


def _normalized(kind: object) -> str:
    """``Standard Deviation`` and ``STANDARD_DEVIATION`` alike: upper case, ``_`` between words."""
    return re.sub(r"[^A-Z0-9]+", "_", str(kind).upper()).strip("_")


def _outcome_rows(item: _MappedMeasure, mapping: Mapping, unmapped: list[str]) -> list[dict]:
    """One outcomes row per mapped group of the measure; a cell that cannot be stored is listed."""
    measure, entry = item.measure, item.entry
    chosen_class, category, cell_label = _cell(item)
    counts = item.counts = _participants(measure, chosen_class)
    what = f"outcome {_title(measure)!r}"
    if counts is None:
        unmapped.append(f"{what}: no denominator in participants; nothing imported")
        return []
    group_titles = {g.get("id"): g.get("title", "") for g in measure.get("groups", [])}
    by_group = {m.get("groupId"): m for m in _list(category, "measurements", what)}
    rows = []
    for gid, arm in item.groups.items():
        if gid not in group_titles:
            continue
        cell = f"{what}, group {gid} (arm {arm})"
        values, reason = _measurement(entry["outcome"], measure, by_group.get(gid), counts.get(gid))
        if reason is not None:
            unmapped.append(f"{cell}: {reason}; row not imported")
            continue
        locator = _measure_locator(measure, cell_label, gid, group_titles[gid])
        rows.append(
            {
                "study_id": mapping["study_id"],
                "arm_id": arm,
                "outcome": entry["outcome"],
                "scale": entry["scale"],
                "timepoint_h": _number_text(entry["timepoint_h"]),
                "value_type": entry.get("value_type"),
                "data_basis": "primary",
                "source_id": mapping["source_id"],
                "locator": locator,
                "note": _joined(entry.get("note"), _posted_as(measure)),
                **values,
            }
        )
    return rows


def _measurement(
    outcome: str, measure: Mapping, posted: Mapping | None, n_text: str | None
) -> tuple[dict, str | None]:
    """The row's values from one posted measurement, or the reason it cannot be stored."""
    if posted is None:
        return {}, "no measurement posted"
    if n_text is None or not POSTED_COUNT.fullmatch(n_text) or int(n_text) == 0:
        return {}, f"participants analysed {n_text!r} is not a positive count"
    n = int(n_text)
    value = str(posted.get("value", ""))
    if not POSTED_NUMBER.fullmatch(value):
        comment = f" ({posted['comment']})" if posted.get("comment") else ""
        return {}, f"value {value!r} is not a number{comment}"
    param = _normalized(measure.get("paramType"))
    if outcome in COUNT_OUTCOMES:
        return _count_values(param, measure, value, n)
    if param not in MEAN_TYPES:
        return {}, f"paramType {measure.get('paramType')!r} is not a mean"
    return _mean_values(measure, posted, value, n)


def _mean_values(measure: Mapping, posted: Mapping, mean: str, n: int) -> tuple[dict, str | None]:
    """Mean with the posted spread in the column it belongs to, as posted."""
    dispersion = _normalized(measure.get("dispersionType"))
    values = {"n": str(n), "mean": mean}
    if dispersion in SD_TYPES | SE_TYPES:
        spread = str(posted.get("spread", ""))
        if not POSTED_NUMBER.fullmatch(spread) or Decimal(spread) <= 0:
            return {}, f"spread {spread!r} is not a positive number"
        column, source = ("sd", "reported") if dispersion in SD_TYPES else ("se", "from_se")
        return {**values, column: spread, "sd_source": source}, None
    if dispersion in CI95_TYPES:
        low, high = str(posted.get("lowerLimit", "")), str(posted.get("upperLimit", ""))
        if not (POSTED_NUMBER.fullmatch(low) and POSTED_NUMBER.fullmatch(high)):
            return {}, f"95% limits {low!r}, {high!r} are not numbers"
        if Decimal(low) >= Decimal(high):
            return {}, f"95% limits {low}, {high} are not in order"
        return {**values, "ci_low": low, "ci_high": high, "sd_source": "from_ci"}, None
    return {}, (
        f"dispersionType {measure.get('dispersionType')!r} is not a spread the package holds "
        "(standard deviation, standard error or 95% confidence interval)"
    )


def _count_values(param: str, measure: Mapping, value: str, n: int) -> tuple[dict, str | None]:
    """Participants with the outcome: posted as a count, or derived from a posted percentage."""
    unit = str(measure.get("unitOfMeasure", ""))
    if param == "COUNT_OF_PARTICIPANTS":
        if not POSTED_COUNT.fullmatch(value) or int(value) > n:
            return {}, f"count {value!r} is not a whole number of at most {n}"
        return {"n": str(n), "events": value}, None
    if param == "NUMBER" and "percent" in unit.lower():
        events, derivation = count_from_percentage(Decimal(value), n)
        if events is None:
            return {}, derivation
        return {"n": str(n), "events": str(events), "derivation": derivation}, None
    return {}, (
        f"paramType {measure.get('paramType')!r} with unit {unit!r} is neither a count nor a "
        "percentage of participants"
    )


def count_from_percentage(percent: Decimal, n: int) -> tuple[int | None, str]:
    """The count of ``n`` participants that a posted percentage stands for, if only one does.

    A count ``k`` fits when ``100 k / n`` lies within half a unit of the percentage's last
    posted digit of it (either rounding of a tie is accepted).

    Returns
    -------
    tuple of (int or None, str)
        The count and the derivation to store; ``None`` and the reason when no count or more
        than one fits (small differences at large ``n``).
    """
    places = max(-percent.as_tuple().exponent, 0)
    half_unit = Decimal(5) / Decimal(10) ** (places + 1)
    fits = [k for k in range(n + 1) if abs(Decimal(100 * k) / n - percent) <= half_unit]
    product = (percent * n / 100).quantize(Decimal("0.01"))
    if len(fits) != 1:
        shown = ", ".join(map(str, fits)) or "none"
        return None, f"{percent}% of {n} fits {len(fits)} counts ({shown}); not one count"
    k = fits[0]
    back = (Decimal(100 * k) / n).quantize(Decimal("0.01"))
    return k, (
        f"events = {percent}% x {n} = {product} -> {k}; {k}/{n} = {back}% is the only count "
        f"of {n} that rounds to the posted {percent}%"
    )


def _measure_locator(measure: Mapping, cell_label: str, gid: str, group_title: str) -> str:
    """Where the numbers are: the outcome's title and time frame, and the group."""
    parts = [
        f"ClinicalTrials.gov posted results, outcome measure {_title(measure)!r}",
        f"time frame {measure.get('timeFrame', 'not given')!r}",
        cell_label,
        f"group {gid} {group_title!r}",
    ]
    return ", ".join(p for p in parts if p)


def _posted_as(measure: Mapping) -> str:
    dispersion = measure.get("dispersionType")
    spread = f", {dispersion}" if dispersion else ""
    return (
        f"registry {str(measure.get('type', '')).lower() or 'untyped'} outcome, posted as "
        f"{measure.get('paramType')}{spread} ({measure.get('unitOfMeasure', 'no unit')}); "
        "n = participants analysed for this outcome"
    )


# ---------------------------------------------------------------------------------------------
# Between-group analyses


def _contrast_rows(
    item: _MappedMeasure, j: int, mapping: Mapping, unmapped: list[str]
) -> list[dict]:
    """The contrasts row of the analysis that the entry's ``contrasts[j]`` names.

    Stored as treatment minus control; none, and a line in ``unmapped``, when the analysis
    gives no usable estimate or spread.
    """
    entry, measure = item.entry, item.measure
    spec = entry["contrasts"][j]
    key = f"outcomes[{item.index}].contrasts[{j}]"
    treat, ctrl = spec["treat"], spec["ctrl"]
    for role, gid in (("treat", treat), ("ctrl", ctrl)):
        if gid not in item.groups or gid not in _group_ids(measure):
            raise MappingError(
                f"{key}.{role}: {gid!r} is not a mapped group of outcome {_title(measure)!r}"
            )
    analyses = _list(measure, "analyses", _title(measure))
    index = _analysis_index(analyses, spec, key, {treat, ctrl}, _title(measure))
    if index in item.analyses_used:
        raise MappingError(f"{key}: analysis {index} is already imported by another contrast")
    item.analyses_used.add(index)
    analysis = analyses[index]
    what = f"outcome {_title(measure)!r}, statistical analysis {index + 1} (analysis {index})"
    values, reason = _analysis_values(analysis, spec["posted_orientation"])
    counts = item.counts or {}
    if reason is not None:
        unmapped.append(f"{what}: {reason}; contrast not imported")
        return []
    n_treat, n_ctrl = counts.get(treat), counts.get(ctrl)
    return [
        {
            "study_id": mapping["study_id"],
            "arm_id_treat": item.groups[treat],
            "arm_id_ctrl": item.groups[ctrl],
            "outcome": entry["outcome"],
            "scale": entry["scale"],
            "timepoint_h": _number_text(entry["timepoint_h"]),
            "measure": spec["measure"],
            "n_treat": n_treat if n_treat and POSTED_COUNT.fullmatch(n_treat) else None,
            "n_ctrl": n_ctrl if n_ctrl and POSTED_COUNT.fullmatch(n_ctrl) else None,
            "data_basis": "primary",
            "source_id": mapping["source_id"],
            "locator": (
                f"ClinicalTrials.gov posted results, outcome measure {_title(measure)!r}, time "
                f"frame {measure.get('timeFrame', 'not given')!r}, statistical analysis "
                f"{index + 1} ({analysis.get('paramType', 'no type')}; groups "
                f"{', '.join(map(str, analysis.get('groupIds', [])))})"
            ),
            "note": _joined(
                spec.get("note"),
                f"stored as treatment ({treat}) minus control ({ctrl}); posted orientation "
                f"per the mapping: {spec['posted_orientation']}; "
                f"{analysis.get('statisticalMethod', 'method not given')}; "
                "n = participants analysed for this outcome",
            ),
            **values,
        }
    ]


def _analysis_index(
    analyses: list[Mapping], spec: Mapping, key: str, pair: set[str], title: str
) -> int:
    """The analysis the entry names by index, or the only one comparing exactly its groups."""
    listed = "; ".join(
        f"{k}: groups {', '.join(map(str, a.get('groupIds', [])))}" for k, a in enumerate(analyses)
    )
    if "analysis" in spec:
        index = spec["analysis"]
        if index >= len(analyses):
            raise MappingError(
                f"{key}.analysis: {index}: outcome {title!r} has {len(analyses)} analyses "
                f"({listed or 'none'})"
            )
        if not set(analyses[index].get("groupIds", [])) <= pair:
            raise MappingError(
                f"{key}.analysis: {index} compares groups "
                f"{', '.join(analyses[index].get('groupIds', []))}, not only "
                f"{', '.join(sorted(pair))}"
            )
        return index
    fits = [k for k, a in enumerate(analyses) if set(a.get("groupIds", [])) == pair]
    if len(fits) != 1:
        raise MappingError(
            f"{key}: {len(fits)} analyses of outcome {title!r} compare exactly "
            f"{', '.join(sorted(pair))} (its analyses: {listed or 'none'}); give analysis"
        )
    return fits[0]


def _analysis_values(analysis: Mapping, orientation: str) -> tuple[dict, str | None]:
    """Estimate, SE, CI and level of an analysis, turned to treatment minus control."""
    estimate = str(analysis.get("paramValue", ""))
    if not POSTED_NUMBER.fullmatch(estimate):
        return {}, f"paramValue {estimate!r} is not a number"
    values: dict[str, str | None] = {"estimate": estimate}
    se = str(analysis.get("dispersionValue", ""))
    if _normalized(analysis.get("dispersionType")) in SE_TYPES and POSTED_NUMBER.fullmatch(se):
        values["se"] = se
    low, high = str(analysis.get("ciLowerLimit", "")), str(analysis.get("ciUpperLimit", ""))
    if POSTED_NUMBER.fullmatch(low) and POSTED_NUMBER.fullmatch(high):
        if _normalized(analysis.get("ciNumSides", "TWO_SIDED")) != "TWO_SIDED":
            return {}, f"one-sided interval ({analysis.get('ciNumSides')})"
        level = str(analysis.get("ciPctValue", ""))
        if not POSTED_NUMBER.fullmatch(level) or not 0 < Decimal(level) < 100:
            return {}, f"ciPctValue {level!r} is not a level in (0, 100)"
        values |= {"ci_low": low, "ci_high": high, "ci_level": _decimal_text(Decimal(level) / 100)}
    if "se" not in values and "ci_low" not in values:
        return {}, "neither a standard error nor a confidence interval posted"
    if orientation == "ctrl_minus_treat":
        values = _turned(values)
    return values, None


def _turned(values: dict) -> dict:
    """Control minus treatment turned to treatment minus control, with the arithmetic."""
    turned = dict(values, estimate=_decimal_text(-Decimal(values["estimate"])))
    steps = [f"estimate -({values['estimate']}) = {turned['estimate']}"]
    if "ci_low" in values:
        turned["ci_low"] = _decimal_text(-Decimal(values["ci_high"]))
        turned["ci_high"] = _decimal_text(-Decimal(values["ci_low"]))
        steps.append(
            f"CI [-({values['ci_high']}), -({values['ci_low']})] = "
            f"[{turned['ci_low']}, {turned['ci_high']}]"
        )
    turned["derivation"] = (
        "sign turned: the registry posts control minus treatment (mapping, "
        f"posted_orientation); {'; '.join(steps)}"
    )
    return turned


# ---------------------------------------------------------------------------------------------
# Adverse events


def _adverse_event_rows(
    module: object, mapping: Mapping, arms: Collection[str] | None, unmapped: list[str]
) -> list[dict]:
    """One row per mapped term and mapped event group: participants affected of those at risk."""
    spec = mapping.get("adverse_events")
    if module is None:
        if spec is not None:
            raise MappingError("adverse_events: the record has no adverseEventsModule")
        return []
    where = "adverseEventsModule"
    groups = {g.get("id"): g.get("title", "") for g in _list(module, "eventGroups", where)}
    lists = {
        "serious": _list(module, "seriousEvents", where),
        "other": _list(module, "otherEvents", where),
    }
    spec = spec or {"groups": {}, "events": []}
    for gid, arm in spec["groups"].items():
        if gid not in groups:
            known = ", ".join(map(str, groups)) or "none"
            raise MappingError(
                f"adverse_events.groups.{gid}: the record has no such event group (its groups: "
                f"{known})"
            )
        _check_arm(arm, f"adverse_events.groups.{gid}", arms, mapping["study_id"])
    unmapped += [
        f"adverse events: event group {gid} {title!r} not in adverse_events.groups"
        for gid, title in groups.items()
        if gid not in spec["groups"]
    ]
    rows, used = [], set()
    for i, event in enumerate(spec["events"]):
        found = _event_entry(lists[event["list"]], event, i)
        used.add(id(found))
        twin = _twin(lists, event, found)
        rows += _event_rows(found, twin, event, module, groups, spec["groups"], mapping)
    unmapped += [
        f"adverse events, {kind}: {entry.get('term')!r} ({entry.get('organSystem', 'no organ')}) "
        "not in the mapping"
        for kind, entries in lists.items()
        for entry in entries
        if id(entry) not in used
    ]
    return rows


def _event_entry(entries: list[Mapping], event: Mapping, i: int) -> Mapping:
    """The one entry of the named list with the term (and organ system, when given)."""
    matches = [
        e
        for e in entries
        if e.get("term") == event["term"]
        and ("organ_system" not in event or e.get("organSystem") == event["organ_system"])
    ]
    key = f"adverse_events.events[{i}].term"
    if not matches:
        raise MappingError(
            f"{key}: {event['term']!r} is not among the record's {event['list']} adverse events"
            + (f" in organ system {event['organ_system']!r}" if "organ_system" in event else "")
        )
    if len(matches) > 1:
        systems = "; ".join(repr(m.get("organSystem")) for m in matches)
        raise MappingError(
            f"{key}: {event['term']!r} appears {len(matches)} times among the {event['list']} "
            f"adverse events; give organ_system (theirs: {systems})"
        )
    return matches[0]


def _twin(lists: Mapping[str, list[Mapping]], event: Mapping, found: Mapping) -> Mapping | None:
    """The same term and organ system in the other list (serious and other), if posted there."""
    other = "other" if event["list"] == "serious" else "serious"
    return next(
        (
            e
            for e in lists[other]
            if e.get("term") == found.get("term")
            and e.get("organSystem") == found.get("organSystem")
        ),
        None,
    )


def _event_rows(
    found: Mapping,
    twin: Mapping | None,
    event: Mapping,
    module: Mapping,
    groups: Mapping[str, str],
    arm_of: Mapping[str, str],
    mapping: Mapping,
) -> list[dict]:
    other_list = "other" if event["list"] == "serious" else "serious"
    twin_stats = {s.get("groupId"): s for s in (twin or {}).get("stats", [])}
    rows = []
    for stat in found.get("stats", []):
        gid = stat.get("groupId")
        if gid not in arm_of:
            continue
        affected, at_risk = stat.get("numAffected"), stat.get("numAtRisk")
        where = f"adverse event {event['list']} {found.get('term')!r}, group {gid}"
        if not _whole(affected) or not (_whole(at_risk) and int(at_risk) > 0):
            raise RecordError(
                f"{where}: numAffected {affected!r} or numAtRisk {at_risk!r} is not a count"
            )
        if int(affected) > int(at_risk):
            raise RecordError(f"{where}: numAffected {affected} exceeds numAtRisk {at_risk}")
        also = twin_stats.get(gid)
        rows.append(
            {
                "study_id": mapping["study_id"],
                "arm_id": arm_of[gid],
                "event": event["event"],
                "events": str(int(affected)),
                "n": str(int(at_risk)),
                "source_id": mapping["source_id"],
                "locator": (
                    f"ClinicalTrials.gov posted results, adverse events, {event['list']}: term "
                    f"{found.get('term')!r} (organ system {found.get('organSystem', 'not given')!r}"
                    f"), group {gid} {groups.get(gid, '')!r}, participants affected / at risk; "
                    f"time frame {module.get('timeFrame', 'not given')!r}"
                ),
                "note": _joined(
                    event.get("note"),
                    f"also posted among {other_list} adverse events "
                    f"({also.get('numAffected')} of {also.get('numAtRisk')})"
                    if also
                    else None,
                    f"other adverse events posted above a {module['frequencyThreshold']}% "
                    "frequency threshold"
                    if event["list"] == "other" and module.get("frequencyThreshold")
                    else None,
                ),
            }
        )
    return rows


def _whole(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value >= 0
    return isinstance(value, str) and POSTED_COUNT.fullmatch(value) is not None


# ---------------------------------------------------------------------------------------------
# Rows


def _check_unique_rows(tables: Mapping[str, list[dict]], canonical: Mapping) -> None:
    """Refuse two mapping entries that make the same row (a primary key twice)."""
    for name, rows in tables.items():
        key_columns = _resource(canonical, name)["schema"]["primaryKey"]
        seen: set[tuple] = set()
        for row in rows:
            key = tuple(row.get(c) for c in key_columns)
            if key in seen:
                shown = ", ".join(f"{c} {v}" for c, v in zip(key_columns, key, strict=True))
                raise MappingError(
                    f"{_mapping_section(name)}: two entries make the same {name} row ({shown})"
                )
            seen.add(key)


def _mapping_section(table: str) -> str:
    return "adverse_events.events" if table == "adverse_events" else "outcomes"


def _complete(row: Mapping, columns: Sequence[str]) -> dict[str, str | None]:
    """The row over every column of its table, in the table's order (empty: ``None``)."""
    return {column: row.get(column) or None for column in columns}


def _joined(*parts: str | None) -> str | None:
    text = "; ".join(p for p in parts if p)
    return text or None


def _decimal_text(value: Decimal) -> str:
    """Plain decimal text with the digits it has (``2.0`` stays ``2.0``); ``-0`` is ``0``."""
    return format(abs(value) if value == 0 else value, "f")


def _number_text(value: float | int) -> str:
    """A mapping's number (a timepoint) as the package writes it: ``24``, ``0.5``."""
    return _decimal_text(Decimal(repr(value)).normalize())


def compare_with_package(
    tables: Mapping[str, list[dict]],
    package: Mapping[str, list[Mapping[str, str]]],
    canonical: Mapping,
) -> list[str]:
    """Imported rows whose primary key the package already holds, and whether they agree.

    The package's primary keys allow one row per key, so such a row is not appended; its
    values are compared instead, number by number (``10.80`` equals ``10.8``), prose columns
    (source, locator, derivation, note) left out.

    Parameters
    ----------
    tables
        The imported rows, per table (:class:`RegistryImport`).
    package
        The package's rows of the same tables, as text (empty cells ``""`` or absent).
    canonical
        The canonical descriptor (primary keys).

    Returns
    -------
    list of str
        One line per imported row already in the package: agreeing, or the values that differ.
    """
    lines = []
    for name, rows in tables.items():
        key_columns = _resource(canonical, name)["schema"]["primaryKey"]
        existing = {
            tuple(_same_form(r.get(c)) for c in key_columns): r for r in package.get(name, [])
        }
        for row in rows:
            held = existing.get(tuple(_same_form(row.get(c)) for c in key_columns))
            if held is None:
                continue
            compared = [c for c in row if c not in PROSE_COLUMNS and c not in key_columns]
            differ = [
                f"{c} {row.get(c) or 'empty'} here, {held.get(c) or 'empty'} there"
                for c in compared
                if _same_form(row.get(c)) != _same_form(held.get(c))
            ]
            verdict = "differs: " + "; ".join(differ) if differ else "all values agree"
            key = " / ".join(row[c] for c in key_columns if row.get(c))
            lines.append(
                f"{name}: {key} is already in the package (source {held.get('source_id')}): "
                f"{verdict}"
            )
    return lines


def _same_form(value: object) -> object:
    """A cell in a comparable form: numbers as decimals (``672`` = ``672.0``), empty as None."""
    if value is None or value == "":
        return None
    text = str(value)
    if re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", text):
        return Decimal(text).normalize()
    return text
