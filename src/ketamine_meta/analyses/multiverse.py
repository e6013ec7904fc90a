"""The multiverse of the primary 24 h analyses (PROTOCOL.md §21).

A specification is one value of every choice of the ``multiverse`` config. The data choices
(control set, score basis, crossover and multi-arm handling, population, data basis, risk of
bias, window) decide which comparisons, with which effect size, enter; the model choices
(tau² estimator, CI method) decide how they are pooled. The comparisons are built once per set
of comparison rules, every data specification's subgroups become rows of one padded array,
and each estimator and CI method is one :func:`~ketamine_meta.stats.meta_analysis.fit_batch`
call: there is no loop over specifications in Python.

The same machinery fits every outcome of ``multiverse.outcomes`` (§21.1): the 24 h SMD and
the log risk ratio of 24 h response. A choice that does not change an outcome's estimate
(``not_applicable``) is not a choice of its space: the score basis holds the single value
:data:`NOT_APPLICABLE`, and crossover handling keeps only its entries without an r ("as if
parallel", "parallel trials only"), since counts of crossover trials are always analysed as
if parallel.

The summary (§21.3, :func:`multiverse_summary`) counts analyses, not labels: every row of the
specification table carries the fingerprint of the data set it pools (``data_set``), each
value of an estimand choice (``multiverse.estimand_choices``: the control set) has its own
rows, shares are taken over distinct data sets and distinct fits (a data set and a model), and
the choices that cannot vary on the package are found at run time (:func:`choice_effects`).

The inclusion multiverse (§21.2, :func:`inclusion_multiverse`) pools, for the primary data
specification and model, every subset of a subgroup's trials that leaves out at most
``inclusion_drop`` of them, one ``fit_batch`` call per subgroup.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial

import numpy as np
import pandas as pd

from ketamine_meta.analyses.comparisons import ComparisonRules, build_effect_sizes
from ketamine_meta.analyses.protocol import Protocol, Window, in_nearest_order
from ketamine_meta.stats.bayes import BayesSpec, bayesian_batch
from ketamine_meta.stats.meta_analysis import BATCH_BLOCK_CELLS, fit_batch
from ketamine_meta.stats.model import ModelSpec

#: The value of a choice that does not apply to an outcome (PROTOCOL.md §21.1).
NOT_APPLICABLE = "not applicable"
#: The ``not_applicable`` entries of an outcome: the score basis, and the crossover
#: correlation (crossover handling then keeps its entries without an r).
NOT_APPLICABLE_CHOICES = ("score_basis", "crossover_correlation")

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
    "data_set",
    "k",
    "trials",
    "estimate",
    "ci_low",
    "ci_high",
    "pi_low",
    "pi_high",
    "tau2",
    "pval",
    "bayes_estimate",
    "bayes_ci_low",
    "bayes_ci_high",
    "bayes_prob_above_zero",
]
#: The Bayesian posterior of a specification's data set under the measure's primary prior
#: (PROTOCOL.md §23): median, equal-tailed credible interval and P(mu > 0), on the scale
#: fitted (g, log RR). They depend on the data set alone, not on the estimator or test.
BAYES_COLUMNS = SPEC_COLUMNS[-4:]
#: Effect sizes that agree to this many decimals are the same (PROTOCOL.md §21.3).
EQUAL_DECIMALS = 10


def _names(entries: Sequence) -> list:
    return [e["name"] if isinstance(e, Mapping) else e for e in entries]


def multiverse_outcome(settings: Mapping, name: str | None = None) -> Mapping:
    """The entry of ``multiverse.outcomes`` called ``name``; the first (primary) by default."""
    outcomes = settings["outcomes"]
    if name is None:
        return outcomes[0]
    for entry in outcomes:
        if entry["name"] == name:
            return entry
    known = ", ".join(e["name"] for e in outcomes)
    raise ValueError(f"no multiverse outcome {name!r}; outcomes: {known}")


def choice_values(settings: Mapping, outcome: Mapping | None = None) -> dict[str, list]:
    """The values of each data choice (:data:`DATA_CHOICES`) in ``outcome``'s space.

    A non-applicable score basis is the single value :data:`NOT_APPLICABLE`; a
    non-applicable crossover correlation leaves the crossover entries without an r.
    """
    outcome = outcome or multiverse_outcome(settings)
    absent = set(outcome["not_applicable"])
    unknown = absent - set(NOT_APPLICABLE_CHOICES)
    if unknown:
        raise ValueError(f"unknown not_applicable choices: {', '.join(sorted(unknown))}")
    crossover = [
        e
        for e in settings["crossover"]
        if "crossover_correlation" not in absent or e["value"] is None or e["value"] == "exclude"
    ]
    return {
        "control_set": _names(settings["control_sets"]),
        "score_basis": [NOT_APPLICABLE]
        if "score_basis" in absent
        else _names(settings["score_bases"]),
        "crossover": _names(crossover),
        "multi_arm": list(settings["multi_arm"]),
        "population": _names(settings["populations"]),
        "data_basis": _names(settings["data_bases"]),
        "risk_of_bias": list(settings["risk_of_bias"]),
        "window": _names(settings["windows"]),
    }


def data_specifications(settings: Mapping, outcome: Mapping | None = None) -> pd.DataFrame:
    """Every combination of the data choices, numbered (``data_spec``) in a fixed order.

    ``outcome`` is an entry of ``multiverse.outcomes`` (default: the first); its space has
    only the choices that apply to it (:func:`choice_values`).
    """
    axes = choice_values(settings, outcome)
    frame = pd.DataFrame(list(itertools.product(*axes.values())), columns=list(DATA_CHOICES))
    return frame.rename_axis("data_spec").reset_index()


def primary_specification(settings: Mapping, outcome: Mapping | None = None) -> pd.Series:
    """The primary data specification: the first value of every choice (``data_spec`` 0).

    The config lists the primary analysis's value of each choice first (PROTOCOL.md §21.1).
    """
    return data_specifications(settings, outcome).iloc[0]


def chunk_specifications(
    settings: Mapping,
    chunk: int,
    chunks: int,
    base_rules: ComparisonRules,
    outcome: Mapping | None = None,
) -> pd.DataFrame:
    """The data specifications of one chunk.

    A chunk holds whole sets of comparison rules, so that the comparisons of a rule set
    (the costly step) are built in one chunk only; the sets go, largest first, to the chunk
    with the fewest specifications so far (ties: the lower chunk), a fixed assignment. With
    fewer rule sets than chunks, some chunks are empty.
    """
    specs = data_specifications(settings, outcome)
    keys = [
        repr(specification_rules(base_rules, spec, settings)) for spec in specs.to_dict("records")
    ]
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


def specification_rules(base: ComparisonRules, spec: Mapping, settings: Mapping) -> ComparisonRules:
    """The comparison rules a specification implies (what build_effect_sizes needs).

    A score basis that does not apply keeps ``base``'s value preference.
    """
    crossover = _value(settings["crossover"], spec["crossover"])
    endpoint_only = spec["score_basis"] != NOT_APPLICABLE and _value(
        settings["score_bases"], spec["score_basis"]
    ) == ["endpoint"]
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


def specification_analysis_set(spec: Mapping, settings: Mapping, protocol: Protocol):
    """The analysis set (controls, score basis, population, data basis, designs) of ``spec``.

    A score basis that does not apply keeps the protocol's (counts have none, §5).
    """
    crossover = _value(settings["crossover"], spec["crossover"])
    value_types = (
        protocol.analysis_set.value_types
        if spec["score_basis"] == NOT_APPLICABLE
        else tuple(_value(settings["score_bases"], spec["score_basis"]))
    )
    return replace(
        protocol.analysis_set,
        control_types=tuple(_value(settings["control_sets"], spec["control_set"])),
        value_types=value_types,
        populations=tuple(_value(settings["populations"], spec["population"])),
        source_basis=tuple(_value(settings["data_bases"], spec["data_basis"])),
        designs=("parallel",) if crossover == "exclude" else protocol.analysis_set.designs,
    )


def specification_window(spec: Mapping, settings: Mapping, protocol: Protocol) -> Window:
    """The 24 h window of ``spec``: its bounds, the primary window's nominal time."""
    entry = next(w for w in settings["windows"] if w["name"] == spec["window"])
    return Window(entry["name"], protocol.primary_window.nominal_h, entry["low_h"], entry["high_h"])


def row_hashes(rows: pd.DataFrame) -> np.ndarray:
    """A 64-bit hash of each comparison's trial and effect size (PROTOCOL.md §21.3).

    The hash of ``(study_id, yi, vi)``, yi and vi rounded to :data:`EQUAL_DECIMALS`, by
    :func:`pandas.util.hash_pandas_object` (SipHash with a fixed key: the same bytes in any
    process and chunk).
    """
    values = pd.DataFrame(
        {
            "study_id": rows["study_id"].astype(str).to_numpy(),
            # + 0.0: a rounded -0.0 and 0.0 are one value, not two bit patterns.
            **{c: rows[c].to_numpy(float).round(EQUAL_DECIMALS) + 0.0 for c in ("yi", "vi")},
        }
    )
    return pd.util.hash_pandas_object(values, index=False).to_numpy(np.uint64)


def data_set_fingerprint(hashes: np.ndarray) -> str:
    r"""The fingerprint of a data set: the sum of its rows' :func:`row_hashes`, modulo 2^64.

    .. math:: F(S) = \sum_{c \in S} h(c) \bmod 2^{64}

    An additive multiset hash (Clarke et al. 2003): it depends on which comparisons are pooled
    with which effect sizes, not on their order, so the specifications of two rule sets that
    pool the same numbers (split and combined arms of a two-arm trial, r 0.5 and 0.2 without a
    crossover trial) share it. "D" and 16 hexadecimal digits (the letter keeps it text for any
    CSV reader); with a few thousand data sets the chance of two sharing a fingerprint by
    accident is below 1e-12.

    References
    ----------
    Clarke D, Devadas S, van Dijk M, Gassend B, Suh GE. Incremental multiset hash functions
    and their application to memory integrity checking. ASIACRYPT 2003, 188-207.
    """
    # A uint64 sum wraps modulo 2^64, which is the definition.
    return f"D{int(hashes.sum(dtype=np.uint64)):016x}"


class _Candidates:
    """One outcome's rows of one rule set, in the order :func:`nearest_in_window` picks from.

    The outcome and measure are those of an entry of ``multiverse.outcomes``.

    Every specification of the rule set shares the nominal time, so the rows are sorted once
    (data-basis rank, distance from the nominal time, time; stable) and a specification's
    comparisons are, per comparison, the first of its rows in that order: the rows that
    ``nearest_in_window`` returns for the selected rows, in the same order, found with
    array operations. The masks of the analysis sets, windows and risk-of-bias sets are
    computed once each.
    """

    def __init__(
        self, effects: pd.DataFrame, protocol: Protocol, assessed: set[str], outcome: Mapping
    ) -> None:
        rows = effects[
            (effects["outcome"] == outcome["outcome"]) & (effects["measure"] == outcome["measure"])
        ]
        self.rows = in_nearest_order(rows, protocol.primary_window.nominal_h).reset_index(drop=True)
        self.yi = self.rows["yi"].to_numpy(float)
        self.vi = self.rows["vi"].to_numpy(float)
        self.comparison = pd.factorize(self.rows["comparison_id"])[0]
        self.study = pd.factorize(self.rows["study_id"])[0]
        self.assessed = self.rows["study_id"].isin(assessed).to_numpy()
        self.row_hash = row_hashes(self.rows)
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

    def positions(self, spec: Mapping, settings: Mapping, protocol: Protocol) -> np.ndarray:
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
    outcome: Mapping | None = None,
) -> Iterator[tuple[dict, _Candidates, np.ndarray]]:
    """Each data specification, the candidate rows of its rule set, and the ones it pools.

    The comparisons are built once per set of comparison rules the specifications imply.
    """
    outcome = outcome or multiverse_outcome(settings)
    assessed = set(tables["risk_of_bias"]["study_id"])
    # Keyed by the rules' repr: config lists make the rules themselves unhashable.
    candidates_by_rules: dict[str, _Candidates] = {}
    for spec in specs.to_dict("records"):
        rules = specification_rules(base_rules, spec, settings)
        key = repr(rules)
        if key not in candidates_by_rules:
            effects, _ = build_effect_sizes(
                tables["studies"], tables["arms"], tables["outcomes"], tables["contrasts"], rules
            )
            candidates_by_rules[key] = _Candidates(effects, protocol, assessed, outcome)
        candidates = candidates_by_rules[key]
        yield spec, candidates, candidates.positions(spec, settings, protocol)


def specification_comparisons(
    tables: Mapping[str, pd.DataFrame],
    base_rules: ComparisonRules,
    protocol: Protocol,
    settings: Mapping,
    specs: pd.DataFrame,
    outcome: Mapping | None = None,
) -> Iterator[tuple[pd.Series, pd.DataFrame]]:
    """Each data specification with the comparisons it pools, one row each.

    ``outcome`` is an entry of ``multiverse.outcomes`` (default: the first).
    """
    for spec, candidates, positions in _specification_positions(
        tables, base_rules, protocol, settings, specs, outcome
    ):
        yield pd.Series(spec), candidates.rows.iloc[positions]


def padded(
    vectors: Sequence[tuple[np.ndarray, np.ndarray]], width: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(yi, vi)`` pairs of different lengths as two NaN-padded arrays for ``fit_batch``.

    ``width`` defaults to the longest pair.
    """
    width = width or max(len(y) for y, _ in vectors)
    yi = np.full((len(vectors), width), np.nan)
    vi = np.full((len(vectors), width), np.nan)
    for i, (y, v) in enumerate(vectors):
        yi[i, : len(y)], vi[i, : len(v)] = y, v
    return yi, vi


def padding_width(k: int) -> int:
    """The width a meta-analysis of ``k`` estimates is padded to: a power of two, at least 8.

    A row's sums then depend on its own ``k`` only, not on the longest row of its batch: a
    specification's results are the same bytes whichever chunk (or cluster job) fits it,
    and rows of similar size share a batch, so that at most half of the array is padding.
    """
    return max(8, 1 << max(k - 1, 0).bit_length())


#: The fields of a fit that the multiverse table keeps.
FIT_FIELDS = ("k", "estimate", "ci_low", "ci_high", "pi_low", "pi_high", "tau2", "pval")


def fit_by_width(
    vectors: Sequence[tuple[np.ndarray, np.ndarray]],
    estimators: Sequence[str],
    tests: Sequence[str],
    level: float,
) -> dict[tuple[str, str], dict[str, np.ndarray]]:
    """Every meta-analysis of ``vectors`` under every estimator and test, batched by width.

    The meta-analyses are grouped by :func:`padding_width`, in blocks of at most
    ``BATCH_BLOCK_CELLS`` cells (:mod:`ketamine_meta.stats.meta_analysis`); each block is
    one ``fit_batch`` call per estimator and test, and tau² is estimated once per estimator
    (the tests share it). Returns, per ``(estimator, test)``, the :data:`FIT_FIELDS` in the
    order of ``vectors``.
    """
    widths = np.array([padding_width(len(y)) for y, _ in vectors])
    fits = {
        (e, t): {f: np.empty(len(vectors), dtype=int if f == "k" else float) for f in FIT_FIELDS}
        for e in estimators
        for t in tests
    }
    for width in np.unique(widths):
        same_width = np.flatnonzero(widths == width)
        # The padded arrays too are built a block of rows at a time (fit_batch's own block
        # size), so that their memory stays bounded however many trials there are.
        block = max(1, BATCH_BLOCK_CELLS // int(width))
        for start in range(0, len(same_width), block):
            rows = same_width[start : start + block]
            yi, vi = padded([vectors[i] for i in rows], int(width))
            for estimator in estimators:
                tau2 = None
                for test in tests:
                    fit = fit_batch(yi, vi, method=estimator, test=test, level=level, tau2=tau2)
                    tau2 = fit.tau2
                    for field in FIT_FIELDS:
                        fits[(estimator, test)][field][rows] = getattr(fit, field)
    return fits


def bayes_by_data_set(
    vectors: Sequence[tuple[np.ndarray, np.ndarray]], data_sets: Sequence[str], spec: BayesSpec
) -> pd.DataFrame:
    """The Bayesian posterior of each distinct data set (:data:`BAYES_COLUMNS`, by data set).

    Each distinct data set is fitted once (:func:`~ketamine_meta.stats.bayes.bayesian_batch`),
    padded to :func:`padding_width` of its own size so that its numbers are the same bytes in
    whichever chunk fits it.
    """
    first: dict[str, int] = {}
    for position, name in enumerate(data_sets):
        first.setdefault(name, position)
    names = list(first)
    widths = np.array([padding_width(len(vectors[first[n]][0])) for n in names])
    out = pd.DataFrame(index=pd.Index(names, name="data_set"), columns=BAYES_COLUMNS, dtype=float)
    for width in np.unique(widths):
        same = [names[i] for i in np.flatnonzero(widths == width)]
        yi, vi = padded([vectors[first[n]] for n in same], int(width))
        fit = bayesian_batch(yi, vi, spec, thresholds=[0.0])
        out.loc[same] = np.column_stack(
            [fit.mu_median, fit.ci_low, fit.ci_high, fit.prob_above[0.0]]
        )
    return out


def fit_specifications(
    tables: Mapping[str, pd.DataFrame],
    base_rules: ComparisonRules,
    protocol: Protocol,
    settings: Mapping,
    specs: pd.DataFrame,
    level: float,
    outcome: Mapping | None = None,
    bayes: BayesSpec | None = None,
) -> pd.DataFrame:
    """One row per data specification, subgroup, estimator and CI method.

    ``outcome`` is an entry of ``multiverse.outcomes`` (default: the first); ``specs`` are
    rows of its :func:`data_specifications`. With ``bayes`` (the measure's primary prior,
    PROTOCOL.md §23) each row also carries its data set's posterior (:data:`BAYES_COLUMNS`,
    :func:`bayes_by_data_set`); without, those columns are empty.
    """
    vectors, labels = [], []
    for spec, candidates, positions in _specification_positions(
        tables, base_rules, protocol, settings, specs, outcome
    ):
        for subgroup, group in _subgroup_positions(candidates, positions, settings["subgroups"]):
            vectors.append((candidates.yi[group], candidates.vi[group]))
            labels.append(
                {
                    **spec,
                    "subgroup": subgroup,
                    # A specification left without a comparison pools no data set.
                    "data_set": data_set_fingerprint(candidates.row_hash[group])
                    if len(group)
                    else None,
                    "trials": len(np.unique(candidates.study[group])),
                }
            )
    if not vectors:
        return pd.DataFrame(columns=SPEC_COLUMNS)
    has_data = np.array([len(y) > 0 for y, _ in vectors])
    empty = pd.DataFrame([lab for lab, ok in zip(labels, has_data, strict=True) if not ok])
    fitted = pd.DataFrame([lab for lab, ok in zip(labels, has_data, strict=True) if ok])
    fitted_vectors = [v for v, ok in zip(vectors, has_data, strict=True) if ok]
    fits = fit_by_width(fitted_vectors, settings["estimators"], settings["tests"], level)
    if bayes is not None and not fitted.empty:
        posterior = bayes_by_data_set(fitted_vectors, list(fitted["data_set"]), bayes)
        fitted = fitted.join(posterior, on="data_set")
    frames = []
    for estimator, test in itertools.product(settings["estimators"], settings["tests"]):
        # A specification that leaves no comparison is kept, with k = 0 and no estimate.
        frames.append(empty.assign(estimator=estimator, test=test, k=0))
        if not fitted.empty:
            frames.append(fitted.assign(estimator=estimator, test=test, **fits[(estimator, test)]))
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


#: The columns of a multiverse summary (PROTOCOL.md §21.3): the raw counts, the distinct
#: ones, the trials, the shares and estimates over distinct analyses, and the choices.
SUMMARY_COLUMNS = [
    "estimand",
    "subgroup",
    "specifications",
    "without_comparisons",
    "kept_specifications",
    "data_sets",
    "fits",
    "trials_min",
    "trials_max",
    "share_data_sets_ci_above_zero",
    "share_ci_above_zero",
    "share_estimate_above_zero",
    "share_ci_below_zero",
    "median_estimate",
    "q05_estimate",
    "q95_estimate",
    "min_estimate",
    "max_estimate",
    "median_k",
    "share_data_sets_prob_above_zero_95",
    "median_bayes_estimate",
    "choices_varied",
    "choices_without_effect",
    "empty_levels",
]
#: The key of a distinct fit: a data set pooled by one tau² estimator and one CI method.
FIT_KEY = ["data_set", "estimator", "test"]


def estimand_labels(table: pd.DataFrame, estimand_choices: Sequence[str]) -> pd.Series:
    """The estimand of each row: its values of ``estimand_choices`` ("choice: value; ...").

    Without estimand choices every row answers one question, "all specifications".
    """
    if not estimand_choices:
        return pd.Series("all specifications", index=table.index)
    parts = [f"{choice}: " + table[choice].astype(str) for choice in estimand_choices]
    return parts[0].str.cat(parts[1:], sep="; ") if len(parts) > 1 else parts[0]


def distinct_fits(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per distinct fit (:data:`FIT_KEY`) among ``rows`` with a comparison, the first.

    Specifications that differ only in choices that leave their data set unchanged are one
    fit; the same data set pooled by two models is two (PROTOCOL.md §21.3).
    """
    fitted = rows[rows["k"] > 0].sort_values(["data_spec", "estimator", "test"], kind="stable")
    return fitted.drop_duplicates(FIT_KEY)


@dataclass(frozen=True)
class ChoiceEffects:
    """How the data choices act on one estimand and subgroup (PROTOCOL.md §21.3).

    Attributes
    ----------
    varied : tuple of str
        Choices whose levels give different data sets.
    without_effect : tuple of str
        Choices whose every non-empty level gives the same data set, for every combination
        of the other choices: fixed at their first non-empty level.
    empty_levels : tuple of str
        ``"choice: level"`` of the levels that leave every specification without a
        comparison: left out.
    kept : numpy.ndarray
        ``data_spec`` of the kept data specifications: with a comparison, no empty level, and
        every choice without effect at its first non-empty level.
    """

    varied: tuple[str, ...]
    without_effect: tuple[str, ...]
    empty_levels: tuple[str, ...]
    kept: np.ndarray


def _varies(values: pd.Series) -> bool:
    """Whether ``values`` (not empty) hold more than one value."""
    return bool(values.ne(values.iloc[0]).any())


def _without_effect(grid: pd.DataFrame, choice: str, choices: Sequence[str]) -> bool:
    """Whether every level of ``choice`` gives one data set whatever the other choices are."""
    others = [c for c in choices if c != choice]
    first = (
        grid.groupby(others, sort=False)["data_set"].transform("first")
        if others
        else grid["data_set"].iloc[0]
    )
    return bool((grid["data_set"] == first).all())


def choice_effects(grid: pd.DataFrame, choices: Sequence[str]) -> ChoiceEffects:
    """The run-time rule of PROTOCOL.md §21.3 on one estimand and subgroup.

    Parameters
    ----------
    grid : pandas.DataFrame
        One row per data specification of the estimand, in ``data_spec`` order: its
        ``data_spec``, its value of every choice of ``choices``, and the fingerprint of the
        data set it pools in the subgroup (``data_set``, "" for none). The levels of each
        choice come in the config's order (the first is the primary analysis's).
    choices : sequence of str
        The choices judged: the data choices with more than one level, estimand choices
        excluded.

    Returns
    -------
    ChoiceEffects
        (1) a level whose every specification pools nothing is empty and left out; (2) of
        the rest, a choice whose levels give the same data set for every combination of the
        other choices is without effect and fixed at its first remaining level. Fixing several
        such choices at once keeps every distinct data set (each is reached at the first level
        of each), so the distinct data sets and fits of the kept specifications are those of
        the whole space.
    """
    if (grid["data_set"] == "").all():
        return ChoiceEffects((), (), (), np.array([], dtype=int))
    empty = [
        (choice, level)
        for choice in choices
        for level in pd.unique(grid[choice])
        if (grid.loc[grid[choice] == level, "data_set"] == "").all()
    ]
    live = grid
    for choice, level in empty:
        live = live[live[choice] != level]
    judged = [c for c in choices if _varies(live[c])]
    without = [c for c in judged if _without_effect(live, c, judged)]
    kept = live[live["data_set"] != ""]
    for choice in without:
        kept = kept[kept[choice] == live[choice].iloc[0]]
    return ChoiceEffects(
        varied=tuple(c for c in judged if c not in without),
        without_effect=tuple(without),
        empty_levels=tuple(f"{choice}: {level}" for choice, level in empty),
        kept=kept["data_spec"].to_numpy(int),
    )


def _named(values: Sequence[str]) -> str:
    return "; ".join(values) or "none"


def _summary_row(
    group: pd.DataFrame, effects: ChoiceEffects, model: ModelSpec
) -> dict[str, float | int | str]:
    """The summary of one estimand and subgroup: counts, trials, shares, estimates, choices."""
    fits = distinct_fits(group)
    data_sets = fits.drop_duplicates("data_set")
    primary = fits[(fits["estimator"] == model.method) & (fits["test"] == model.test)]
    return {
        "specifications": len(group),
        "without_comparisons": int((group["k"] == 0).sum()),
        "kept_specifications": int(group["data_spec"].isin(effects.kept).sum()),
        "data_sets": len(data_sets),
        "fits": len(fits),
        "trials_min": data_sets["trials"].min() if len(fits) else 0,
        "trials_max": data_sets["trials"].max() if len(fits) else 0,
        "share_data_sets_ci_above_zero": float((primary["ci_low"] > 0).mean()),
        "share_ci_above_zero": float((fits["ci_low"] > 0).mean()),
        "share_estimate_above_zero": float((fits["estimate"] > 0).mean()),
        "share_ci_below_zero": float((fits["ci_high"] < 0).mean()),
        "median_estimate": float(fits["estimate"].median()),
        "q05_estimate": float(fits["estimate"].quantile(0.05)),
        "q95_estimate": float(fits["estimate"].quantile(0.95)),
        "min_estimate": float(fits["estimate"].min()),
        "max_estimate": float(fits["estimate"].max()),
        "median_k": float(data_sets["k"].median()),
        **_bayes_summary(data_sets),
        "choices_varied": _named(effects.varied),
        "choices_without_effect": _named(effects.without_effect),
        "empty_levels": _named(effects.empty_levels),
    }


def _bayes_summary(data_sets: pd.DataFrame) -> dict[str, float]:
    """Over distinct data sets, the primary prior's posterior (PROTOCOL.md §23).

    NaN where the table holds no posterior (a multiverse fitted without ``bayes``).
    """
    posterior = data_sets.reindex(columns=BAYES_COLUMNS)
    if posterior["bayes_prob_above_zero"].isna().all():
        return {"share_data_sets_prob_above_zero_95": np.nan, "median_bayes_estimate": np.nan}
    return {
        "share_data_sets_prob_above_zero_95": float(
            (posterior["bayes_prob_above_zero"] >= 0.95).mean()
        ),
        "median_bayes_estimate": float(posterior["bayes_estimate"].median()),
    }


def _judged_choices(table: pd.DataFrame, estimand_choices: Sequence[str]) -> list[str]:
    """The data choices with more than one level that are not estimand choices."""
    return [c for c in DATA_CHOICES if c not in estimand_choices and _varies(table[c])]


def _subgroup_grid(specs: pd.DataFrame, group: pd.DataFrame) -> pd.DataFrame:
    """``specs`` with the data set each pools in ``group``'s subgroup ("" for none)."""
    data_sets = group[group["k"] > 0].drop_duplicates("data_spec").set_index("data_spec")
    return specs.assign(data_set=specs["data_spec"].map(data_sets["data_set"]).fillna(""))


def estimand_groups(
    table: pd.DataFrame, estimand_choices: Sequence[str]
) -> Iterator[tuple[str, str, pd.DataFrame, Callable[[], ChoiceEffects]]]:
    """Each estimand and subgroup of ``table``, its rows, and how to get its choice effects.

    ``table`` is the specification table with the choices of its data specifications. The
    estimands come in ``data_spec`` order (the primary first), the subgroups sorted. The last
    item computes the group's :func:`choice_effects` when called: the costly step, which a
    reader of one group, or of the rows alone, does not pay for every group.
    """
    table = table.sort_values(["data_spec", "estimator", "test"], kind="stable")
    table = table.assign(estimand=estimand_labels(table, estimand_choices))
    choices = _judged_choices(table, estimand_choices)
    for estimand, rows in table.groupby("estimand", sort=False):
        specs = rows.drop_duplicates("data_spec")[["data_spec", *choices]]
        for subgroup, group in rows.groupby("subgroup", sort=True):
            yield estimand, subgroup, group, partial(_group_effects, specs, group, choices)


def _group_effects(specs: pd.DataFrame, group: pd.DataFrame, choices: list[str]) -> ChoiceEffects:
    return choice_effects(_subgroup_grid(specs, group), choices)


def estimand_subgroups(
    table: pd.DataFrame, estimand_choices: Sequence[str]
) -> Iterator[tuple[str, str, pd.DataFrame, ChoiceEffects]]:
    """Each estimand and subgroup of ``table``, its rows, and its :func:`choice_effects`.

    As :func:`estimand_groups`, the choice effects computed.
    """
    for estimand, subgroup, group, effects in estimand_groups(table, estimand_choices):
        yield estimand, subgroup, group, effects()


def kept_specifications(
    table: pd.DataFrame, estimand_choices: Sequence[str], subgroup: str = "overall"
) -> tuple[pd.DataFrame, ChoiceEffects]:
    """The primary estimand's kept specifications in ``subgroup`` (PROTOCOL.md §21.3).

    The primary estimand is ``data_spec`` 0's; its rows of the kept data specifications (every
    model), and the :func:`choice_effects` that kept them.
    """
    primary = estimand_labels(table[table["data_spec"] == 0], estimand_choices).iloc[0]
    for estimand, name, group, effects_of in estimand_groups(table, estimand_choices):
        if (estimand, name) == (primary, subgroup):
            effects = effects_of()
            return group[group["data_spec"].isin(effects.kept)], effects
    raise ValueError(f"the primary estimand ({primary}) has no multiverse subgroup {subgroup!r}")


def multiverse_summary(
    table: pd.DataFrame, estimand_choices: Sequence[str], model: ModelSpec
) -> pd.DataFrame:
    """The multiverse per estimand and subgroup (PROTOCOL.md §21.3).

    Parameters
    ----------
    table : pandas.DataFrame
        The specification table (:data:`SPEC_COLUMNS`: its choices, ``data_set``, the fit).
    estimand_choices : sequence of str
        Data choices whose values are different estimands (``multiverse.estimand_choices``):
        each value has its own rows, never pooled into one share.
    model : ModelSpec
        The primary model (the configuration's ``pooling``), by whose ``method`` and ``test``
        each distinct data set's CI is judged once.

    Returns
    -------
    pandas.DataFrame
        :data:`SUMMARY_COLUMNS`: the raw number of specifications (a route or enantiomer
        counts those with a comparison in it) and of those without any; the kept
        specifications (:class:`ChoiceEffects`); the distinct data sets and fits
        (:func:`distinct_fits`) and the fewest and most trials they pool; the share of data
        sets whose primary-model CI lies above zero; over the distinct fits, the shares with
        the CI above zero, the estimate above zero and the CI below zero, and the median,
        5-95 % range and extremes of the estimates; the median k of the data sets; the share
        of data sets whose posterior under the primary prior puts at least 0.95 on mu > 0,
        and the median of their posterior medians (PROTOCOL.md §23); and the choices varied,
        without effect and the empty levels ("none" if none).
    """
    if model.method not in set(table["estimator"]) or model.test not in set(table["test"]):
        raise ValueError(
            f"the primary model ({model.method}, {model.test}) is not among the "
            "multiverse's estimators and tests"
        )
    rows = [
        {"estimand": estimand, "subgroup": subgroup, **_summary_row(group, effects, model)}
        for estimand, subgroup, group, effects in estimand_subgroups(table, estimand_choices)
    ]
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


INCLUSION_COLUMNS = [
    "subgroup",
    "trials",
    "k",
    "subsets",
    "estimate",
    "ci_low",
    "ci_high",
    "share_ci_above_zero",
    "median_estimate",
    "min_estimate",
    "max_estimate",
    "dropped_for_min_estimate",
    "dropped_for_max_estimate",
    "method",
    "test",
]


def inclusion_subsets(trials: Sequence[str], drop: int = 2) -> list[tuple[str, ...]]:
    """Every subset of ``trials`` of size at least ``len(trials) - drop`` (the full set too).

    At least one trial; fewest trials first, each size in the order of
    :func:`itertools.combinations`.
    """
    n = len(trials)
    return [
        c for size in range(max(n - drop, 1), n + 1) for c in itertools.combinations(trials, size)
    ]


def _not_enumerated(subgroup, trials, group, fit, settings, model: ModelSpec) -> dict:
    """The row of a subgroup too large to enumerate: the fit of all its trials, and why."""
    why = f"not enumerated: more than {settings['inclusion_max_trials']} trials"
    return {
        "subgroup": subgroup,
        "trials": len(trials),
        "k": len(group),
        "subsets": 0,
        "estimate": fit.estimate[0],
        "ci_low": fit.ci_low[0],
        "ci_high": fit.ci_high[0],
        "share_ci_above_zero": np.nan,
        "median_estimate": np.nan,
        "min_estimate": np.nan,
        "max_estimate": np.nan,
        "dropped_for_min_estimate": why,
        "dropped_for_max_estimate": why,
        "method": model.method,
        "test": model.test,
    }


def _left_out(trials: Sequence[str], kept: np.ndarray) -> str:
    """The trials a subset leaves out, "; "-joined ("none" for the full set)."""
    return "; ".join(t for t, k in zip(trials, kept, strict=True) if not k) or "none"


def inclusion_multiverse(
    tables: Mapping[str, pd.DataFrame],
    base_rules: ComparisonRules,
    protocol: Protocol,
    settings: Mapping,
    model: ModelSpec,
    outcome: Mapping | None = None,
) -> pd.DataFrame:
    """The inclusion multiverse of the primary specification (PROTOCOL.md §21.2).

    For the primary data specification (:func:`primary_specification`) of ``outcome``
    (default: the first of ``multiverse.outcomes``) and the model ``model`` (the config's
    ``pooling``), per subgroup of ``settings["subgroups"]``:
    every subset of the subgroup's trials of :func:`inclusion_subsets` with ``drop =
    settings["inclusion_drop"]``, a trial entering with all its comparisons. The subsets are
    masks over the subgroup's comparisons, fitted in one ``fit_batch`` call per subgroup.

    Returns one row per subgroup (:data:`INCLUSION_COLUMNS`): trials and comparisons (k), the
    number of subsets, the fit of all trials, the share of subsets with the CI above zero,
    the median, smallest and largest estimate, and the trials left out of the subsets with
    the smallest and the largest estimate ("; "-joined; "none" for the full set; ties: the
    first subset).
    """
    specs = primary_specification(settings, outcome).to_frame().T
    [(_, candidates, positions)] = _specification_positions(
        tables, base_rules, protocol, settings, specs, outcome
    )
    yi, vi = candidates.yi, candidates.vi
    study = candidates.rows["study_id"].to_numpy(str)
    rows = []
    for subgroup, group in _subgroup_positions(candidates, positions, settings["subgroups"]):
        if not len(group):
            continue  # no comparison (a window without trials): no subsets, no row
        trials = sorted(set(study[group]))
        enumerated = len(trials) <= settings["inclusion_max_trials"]
        subsets = inclusion_subsets(trials, settings["inclusion_drop"]) if enumerated else [trials]
        # member[s, t]: trial t is in subset s; a comparison is in a subset with its trial.
        member = np.array([np.isin(trials, subset) for subset in subsets])
        mask = member[:, np.searchsorted(trials, study[group])]
        fit = fit_batch(
            np.tile(yi[group], (len(subsets), 1)),
            np.tile(vi[group], (len(subsets), 1)),
            **model.arguments,
            mask=mask,
        )
        full = int(np.flatnonzero(member.all(axis=1))[0])
        if not enumerated:
            rows.append(_not_enumerated(subgroup, trials, group, fit, settings, model))
            continue
        lowest, highest = int(np.argmin(fit.estimate)), int(np.argmax(fit.estimate))
        rows.append(
            {
                "subgroup": subgroup,
                "trials": len(trials),
                "k": len(group),
                "subsets": len(subsets),
                "estimate": fit.estimate[full],
                "ci_low": fit.ci_low[full],
                "ci_high": fit.ci_high[full],
                "share_ci_above_zero": float((fit.ci_low > 0).mean()),
                "median_estimate": float(np.median(fit.estimate)),
                "min_estimate": fit.estimate[lowest],
                "max_estimate": fit.estimate[highest],
                "dropped_for_min_estimate": _left_out(trials, member[lowest]),
                "dropped_for_max_estimate": _left_out(trials, member[highest]),
                "method": model.method,
                "test": model.test,
            }
        )
    return pd.DataFrame(rows, columns=INCLUSION_COLUMNS)
