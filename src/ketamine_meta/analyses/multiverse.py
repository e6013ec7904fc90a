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
from ketamine_meta.analyses.protocol import Protocol, Window, nearest_in_window
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


def chunk_specifications(settings: Mapping, chunk: int, chunks: int) -> pd.DataFrame:
    """The data specifications of one chunk (every ``chunks``-th, from ``chunk``)."""
    specs = data_specifications(settings)
    return specs[specs["data_spec"] % chunks == chunk].reset_index(drop=True)


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


def specification_rows(
    effects: pd.DataFrame,
    spec: pd.Series,
    settings: Mapping,
    protocol: Protocol,
    assessed: set[str],
) -> pd.DataFrame:
    """The 24 h SMD comparisons one data specification pools."""
    window_entry = next(w for w in settings["windows"] if w["name"] == spec["window"])
    window = Window(
        window_entry["name"],
        protocol.primary_window.nominal_h,
        window_entry["low_h"],
        window_entry["high_h"],
    )
    crossover = _value(settings["crossover"], spec["crossover"])
    chosen = replace(
        protocol.analysis_set,
        control_types=tuple(_value(settings["control_sets"], spec["control_set"])),
        value_types=tuple(_value(settings["score_bases"], spec["score_basis"])),
        populations=tuple(_value(settings["populations"], spec["population"])),
        source_basis=tuple(_value(settings["data_bases"], spec["data_basis"])),
        designs=("parallel",) if crossover == "exclude" else protocol.analysis_set.designs,
    )
    rows = effects[
        (effects["outcome"] == "depression_score")
        & (effects["measure"] == "SMD")
        & chosen.mask(effects)
    ]
    if spec["risk_of_bias"] == "assessed trials":
        rows = rows[rows["study_id"].isin(assessed)]
    return nearest_in_window(rows, window, ["comparison_id"])


def _subgroups(rows: pd.DataFrame, subgroups: Sequence[str]) -> list[tuple[str, pd.DataFrame]]:
    out = []
    for subgroup in subgroups:
        if subgroup == "overall":
            out.append(("overall", rows))
            continue
        for level, group in rows.groupby(subgroup, sort=True):
            out.append((f"{subgroup}: {level}", group))
    return out


def specification_comparisons(
    tables: Mapping[str, pd.DataFrame],
    base_rules: ComparisonRules,
    protocol: Protocol,
    settings: Mapping,
    specs: pd.DataFrame,
) -> Iterator[tuple[pd.Series, pd.DataFrame]]:
    """Each data specification with the comparisons it pools.

    The comparisons are built once per set of comparison rules the specifications imply.
    """
    assessed = set(tables["risk_of_bias"]["study_id"])
    # Keyed by the rules' repr: config lists make the rules themselves unhashable.
    effects_by_rules: dict[str, pd.DataFrame] = {}
    for _, spec in specs.iterrows():
        rules = specification_rules(base_rules, spec, settings)
        key = repr(rules)
        if key not in effects_by_rules:
            effects_by_rules[key], _ = build_effect_sizes(
                tables["studies"], tables["arms"], tables["outcomes"], tables["contrasts"], rules
            )
        yield spec, specification_rows(effects_by_rules[key], spec, settings, protocol, assessed)


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
    for spec, rows in specification_comparisons(tables, base_rules, protocol, settings, specs):
        for subgroup, group in _subgroups(rows, settings["subgroups"]):
            vectors.append((group["yi"].to_numpy(float), group["vi"].to_numpy(float)))
            labels.append(
                {**spec.to_dict(), "subgroup": subgroup, "trials": group["study_id"].nunique()}
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
