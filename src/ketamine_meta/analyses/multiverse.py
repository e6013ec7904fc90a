"""The multiverse of the primary 24 h SMD analysis (PROTOCOL.md §21).

A specification is one value of every choice of the ``multiverse`` config. The data choices
(control set, score basis, crossover and multi-arm handling, population, data basis, risk of
bias, window) decide which comparisons, with which g, enter; the model choices (tau²
estimator, CI method) decide how they are pooled. The comparisons are built once per set of
comparison rules, every data specification's subgroups become rows of one padded array, and
each estimator and CI method is one :func:`~ketamine_meta.stats.meta_analysis.fit_batch`
call: there is no loop over specifications in Python.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from ketamine_meta.analyses.comparisons import ComparisonRules, build_effect_sizes
from ketamine_meta.analyses.protocol import Protocol, Window, in_nearest_order
from ketamine_meta.stats.meta_analysis import fit_batch

DATA_CHOICES = (
    "control_set",
    "score_basis",
    "crossover",
    "multi_arm",
    "population",
    "data_basis",
    "risk_of_bias",
    "window",
)
SPEC_COLUMNS = [
    "specification",
    "data_spec",
    *DATA_CHOICES,
    "estimator",
    "test",
    "subgroup",
    "k",
    "trials",
    "estimate",
    "ci_low",
    "ci_high",
    "pi_low",
    "pi_high",
    "tau2",
    "pval",
]


def _names(entries: Sequence) -> list:
    return [e["name"] if isinstance(e, Mapping) else e for e in entries]


def data_specifications(settings: Mapping) -> pd.DataFrame:
    """Every combination of the data choices, numbered (``data_spec``) in a fixed order."""
    axes = [
        _names(settings["control_sets"]),
        _names(settings["score_bases"]),
        _names(settings["crossover"]),
        list(settings["multi_arm"]),
        _names(settings["populations"]),
        _names(settings["data_bases"]),
        list(settings["risk_of_bias"]),
        _names(settings["windows"]),
    ]
    frame = pd.DataFrame(list(itertools.product(*axes)), columns=list(DATA_CHOICES))
    return frame.rename_axis("data_spec").reset_index()


def chunk_specifications(
    settings: Mapping, chunk: int, chunks: int, base_rules: ComparisonRules
) -> pd.DataFrame:
    """The data specifications of one chunk.

    A chunk holds whole sets of comparison rules, so that the comparisons of a rule set
    (the costly step) are built in one chunk only; the sets go, largest first, to the chunk
    with the fewest specifications so far (ties: the lower chunk), a fixed assignment.
    """
    specs = data_specifications(settings)
    keys = [repr(specification_rules(base_rules, spec, settings)) for _, spec in specs.iterrows()]
    sizes = pd.Series(keys).value_counts(sort=False)
    load = [0] * chunks
    chunk_of_key = {}
    for key, size in sorted(sizes.items(), key=lambda item: -item[1]):
        target = min(range(chunks), key=lambda c: load[c])
        chunk_of_key[key] = target
        load[target] += size
    mine = [chunk_of_key[key] == chunk for key in keys]
    return specs[mine].reset_index(drop=True)


def _value(entries: Sequence[Mapping], name: str):
    return next(e["value"] for e in entries if e["name"] == name)


def specification_rules(
    base: ComparisonRules, spec: pd.Series, settings: Mapping
) -> ComparisonRules:
    """The comparison rules a specification implies (what build_effect_sizes needs)."""
    crossover = _value(settings["crossover"], spec["crossover"])
    endpoint_only = _value(settings["score_bases"], spec["score_basis"]) == ["endpoint"]
    return replace(
        base,
        multi_arm=spec["multi_arm"],
        crossover_correlation=None if crossover in (None, "exclude") else float(crossover),
        # A derived change is not an endpoint (PROTOCOL.md §21): the endpoint-only basis
        # prefers endpoints and derives nothing.
        value_type_preference=("endpoint", "change")
        if endpoint_only
        else base.value_type_preference,
        derive_change=False if endpoint_only else base.derive_change,
    )


def specification_analysis_set(spec: pd.Series, settings: Mapping, protocol: Protocol):
    """The analysis set (controls, score basis, population, data basis, designs) of ``spec``."""
    crossover = _value(settings["crossover"], spec["crossover"])
    return replace(
        protocol.analysis_set,
        control_types=tuple(_value(settings["control_sets"], spec["control_set"])),
        value_types=tuple(_value(settings["score_bases"], spec["score_basis"])),
        populations=tuple(_value(settings["populations"], spec["population"])),
        source_basis=tuple(_value(settings["data_bases"], spec["data_basis"])),
        designs=("parallel",) if crossover == "exclude" else protocol.analysis_set.designs,
    )


def specification_window(spec: pd.Series, settings: Mapping, protocol: Protocol) -> Window:
    """The 24 h window of ``spec``: its bounds, the primary window's nominal time."""
    entry = next(w for w in settings["windows"] if w["name"] == spec["window"])
    return Window(entry["name"], protocol.primary_window.nominal_h, entry["low_h"], entry["high_h"])


class _Candidates:
    """The 24 h SMD rows of one rule set, in the order :func:`nearest_in_window` picks from.

    Every specification of the rule set shares the nominal time, so the rows are sorted once
    (data-basis rank, distance from the nominal time, time; stable) and a specification's
    comparisons are, per comparison, the first of its rows in that order: the rows that
    ``nearest_in_window`` returns for the selected rows, in the same order, found with
    array operations. The masks of the analysis sets, windows and risk-of-bias sets are
    computed once each.
    """

    def __init__(self, effects: pd.DataFrame, protocol: Protocol, assessed: set[str]) -> None:
        rows = effects[(effects["outcome"] == "depression_score") & (effects["measure"] == "SMD")]
        self.rows = in_nearest_order(rows, protocol.primary_window.nominal_h).reset_index(drop=True)
        self.comparison = pd.factorize(self.rows["comparison_id"])[0]
        self.study = pd.factorize(self.rows["study_id"])[0]
        self.assessed = self.rows["study_id"].isin(assessed).to_numpy()
        self._masks: dict = {}
        self._levels: dict[str, tuple[np.ndarray, pd.Index]] = {}

    def levels(self, column: str) -> tuple[np.ndarray, pd.Index]:
        """Codes of ``column`` (-1 where missing) and its values, sorted as groupby sorts."""
        if column not in self._levels:
            self._levels[column] = pd.factorize(self.rows[column], sort=True)
        return self._levels[column]

    def _mask(self, key, compute) -> np.ndarray:
        if key not in self._masks:
            self._masks[key] = np.asarray(compute(), dtype=bool)
        return self._masks[key]

    def positions(self, spec: pd.Series, settings: Mapping, protocol: Protocol) -> np.ndarray:
        """Row positions (in order) of the comparisons ``spec`` pools."""
        chosen = specification_analysis_set(spec, settings, protocol)
        window = specification_window(spec, settings, protocol)
        mask = self._mask(chosen, lambda: chosen.mask(self.rows)) & self._mask(
            window, lambda: window.contains(self.rows["timepoint_h"])
        )
        if spec["risk_of_bias"] == "assessed trials":
            mask = mask & self.assessed
        selected = np.flatnonzero(mask)
        _, first = np.unique(self.comparison[selected], return_index=True)
        return selected[np.sort(first)]


def _subgroup_positions(
    candidates: _Candidates, positions: np.ndarray, subgroups: Sequence[str]
) -> list[tuple[str, np.ndarray]]:
    """The selected rows of each subgroup; "overall" is all of them.

    As ``groupby`` gives them: levels sorted, rows in order, no group for a missing value.
    """
    out = []
    for subgroup in subgroups:
        if subgroup == "overall":
            out.append(("overall", positions))
            continue
        codes, values = candidates.levels(subgroup)
        selected = codes[positions]
        for code in np.unique(selected[selected >= 0]):
            out.append((f"{subgroup}: {values[code]}", positions[selected == code]))
    return out


def _specification_positions(
    tables: Mapping[str, pd.DataFrame],
    base_rules: ComparisonRules,
    protocol: Protocol,
    settings: Mapping,
    specs: pd.DataFrame,
) -> Iterator[tuple[pd.Series, _Candidates, np.ndarray]]:
    """Each data specification, the candidate rows of its rule set, and the ones it pools.

    The comparisons are built once per set of comparison rules the specifications imply.
    """
    assessed = set(tables["risk_of_bias"]["study_id"])
    # Keyed by the rules' repr: config lists make the rules themselves unhashable.
    candidates_by_rules: dict[str, _Candidates] = {}
    for _, spec in specs.iterrows():
        rules = specification_rules(base_rules, spec, settings)
        key = repr(rules)
        if key not in candidates_by_rules:
            effects, _ = build_effect_sizes(
                tables["studies"], tables["arms"], tables["outcomes"], tables["contrasts"], rules
            )
            candidates_by_rules[key] = _Candidates(effects, protocol, assessed)
        candidates = candidates_by_rules[key]
        yield spec, candidates, candidates.positions(spec, settings, protocol)


def specification_comparisons(
    tables: Mapping[str, pd.DataFrame],
    base_rules: ComparisonRules,
    protocol: Protocol,
    settings: Mapping,
    specs: pd.DataFrame,
) -> Iterator[tuple[pd.Series, pd.DataFrame]]:
    """Each data specification with the 24 h SMD comparisons it pools (one row each)."""
    for spec, candidates, positions in _specification_positions(
        tables, base_rules, protocol, settings, specs
    ):
        yield spec, candidates.rows.iloc[positions]


def padded(vectors: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """``(yi, vi)`` pairs of different lengths as two NaN-padded arrays for ``fit_batch``."""
    width = max(len(y) for y, _ in vectors)
    yi = np.full((len(vectors), width), np.nan)
    vi = np.full((len(vectors), width), np.nan)
    for i, (y, v) in enumerate(vectors):
        yi[i, : len(y)], vi[i, : len(v)] = y, v
    return yi, vi


def fit_specifications(
    tables: Mapping[str, pd.DataFrame],
    base_rules: ComparisonRules,
    protocol: Protocol,
    settings: Mapping,
    specs: pd.DataFrame,
    level: float,
) -> pd.DataFrame:
    """One row per data specification, subgroup, estimator and CI method."""
    vectors, labels = [], []
    for spec, candidates, positions in _specification_positions(
        tables, base_rules, protocol, settings, specs
    ):
        yi = candidates.rows["yi"].to_numpy(float)
        vi = candidates.rows["vi"].to_numpy(float)
        for subgroup, group in _subgroup_positions(candidates, positions, settings["subgroups"]):
            vectors.append((yi[group], vi[group]))
            labels.append(
                {
                    **spec.to_dict(),
                    "subgroup": subgroup,
                    "trials": len(np.unique(candidates.study[group])),
                }
            )
    if not vectors:
        return pd.DataFrame(columns=SPEC_COLUMNS)
    yi, vi = padded(vectors)
    has_data = np.isfinite(yi).any(axis=1)
    empty = pd.DataFrame([lab for lab, ok in zip(labels, has_data, strict=True) if not ok])
    fitted = pd.DataFrame([lab for lab, ok in zip(labels, has_data, strict=True) if ok])
    frames = []
    for estimator, test in itertools.product(settings["estimators"], settings["tests"]):
        # A specification that leaves no comparison is kept, with k = 0 and no estimate.
        frames.append(empty.assign(estimator=estimator, test=test, k=0))
        if fitted.empty:
            continue
        fit = fit_batch(yi[has_data], vi[has_data], method=estimator, test=test, level=level)
        frames.append(
            fitted.assign(
                estimator=estimator,
                test=test,
                k=fit.k,
                estimate=fit.estimate,
                ci_low=fit.ci_low,
                ci_high=fit.ci_high,
                pi_low=fit.pi_low,
                pi_high=fit.pi_high,
                tau2=fit.tau2,
                pval=fit.pval,
            )
        )
    out = pd.concat([f for f in frames if not f.empty], ignore_index=True).reindex(
        columns=SPEC_COLUMNS
    )
    out["specification"] = [
        f"{d}-{e}-{t}"
        for d, e, t in zip(out["data_spec"], out["estimator"], out["test"], strict=True)
    ]
    return out.sort_values(["data_spec", "estimator", "test", "subgroup"], kind="stable")[
        SPEC_COLUMNS
    ].reset_index(drop=True)


def multiverse_summary(table: pd.DataFrame) -> pd.DataFrame:
    """The multiverse per subgroup.

    The number of specifications and of those left without a comparison; among the others the
    share with the CI above zero, the median and range of the estimates.
    """
    rows = []
    for subgroup, group in table.groupby("subgroup", sort=True):
        fitted = group[group["k"] > 0]
        rows.append(
            {
                "subgroup": subgroup,
                "specifications": len(group),
                "without_comparisons": int((group["k"] == 0).sum()),
                "share_ci_above_zero": float((fitted["ci_low"] > 0).mean()),
                "share_estimate_above_zero": float((fitted["estimate"] > 0).mean()),
                "share_ci_below_zero": float((fitted["ci_high"] < 0).mean()),
                "median_estimate": float(fitted["estimate"].median()),
                "q05_estimate": float(fitted["estimate"].quantile(0.05)),
                "q95_estimate": float(fitted["estimate"].quantile(0.95)),
                "min_estimate": float(fitted["estimate"].min()),
                "max_estimate": float(fitted["estimate"].max()),
                "median_k": float(fitted["k"].median()),
            }
        )
    return pd.DataFrame(rows)
