"""The analysis protocol's rules: timepoint windows, analysis sets and the pooling model.

``PROTOCOL.md`` fixes which comparisons each analysis pools and how; this module encodes its
rules so that every analysis selects and pools rows the same way:

- a :class:`Window` (§6) is a range of hours after the first dose; within it each comparison
  (or arm) enters once, with the visit nearest the nominal time (ties: the earlier);
- an :class:`AnalysisSet` (§5, §7, §8, §9, §10) names the control types, populations,
  settings, data bases, score bases and designs an analysis pools;
- :class:`Pooling` (§11, §16) is the random-effects model every pooled estimate is fitted
  with, the primary timepoint and the minimum information a pooled estimate needs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace

import numpy as np
import pandas as pd

from ketamine_meta.stats.model import ModelSpec


@dataclass(frozen=True)
class Window:
    """A timepoint window of PROTOCOL.md §6 (hours after the first dose)."""

    label: str
    nominal_h: float
    low_h: float
    high_h: float

    def __post_init__(self) -> None:
        if not self.low_h <= self.nominal_h <= self.high_h:
            raise ValueError(
                f"window {self.label!r}: nominal {self.nominal_h:g} h is outside "
                f"[{self.low_h:g}, {self.high_h:g}] h"
            )

    def contains(self, hours: pd.Series) -> pd.Series:
        """Whether each time (hours) lies in [low_h, high_h]."""
        hours = hours.astype(float)
        return (hours >= self.low_h) & (hours <= self.high_h)


#: The windows of PROTOCOL.md §6, as in ``config/config.yaml`` (``windows``).
DEFAULT_WINDOWS = (
    Window("40 min-4 h", 2.0, 0.5, 4.0),
    Window("24 h", 24.0, 20.0, 30.0),
    Window("72 h", 72.0, 44.0, 96.0),
    Window("7 d", 168.0, 144.0, 200.0),
    Window("14 d", 336.0, 300.0, 400.0),
    Window("28 d", 672.0, 600.0, 700.0),
)


def windows_from_config(entries: Sequence[Mapping]) -> tuple[Window, ...]:
    """The ``windows`` list of the configuration as :class:`Window` objects."""
    return tuple(Window(**entry) for entry in entries)


def window_at(windows: Sequence[Window], nominal_h: float) -> Window:
    """The window whose nominal time is ``nominal_h``.

    Raises
    ------
    ValueError
        If no window has that nominal time.
    """
    for window in windows:
        if np.isclose(window.nominal_h, nominal_h):
            return window
    known = ", ".join(f"{w.label} ({w.nominal_h:g} h)" for w in windows)
    raise ValueError(f"no window has the nominal time {nominal_h:g} h; windows: {known}")


@dataclass(frozen=True)
class AnalysisSet:
    """Which comparisons an analysis pools (PROTOCOL.md §5, §7-§10).

    Each attribute lists the allowed values of one column of the effect-size table:
    ``control_type``, ``population``, ``setting``, ``source_basis``, ``value_type`` (score
    rows only; counts have none; a reported standardized difference whose basis is not
    given enters only a set with both bases) and ``design``. The defaults are the primary set.
    """

    control_types: tuple[str, ...] = ("inert_placebo", "active_placebo")
    populations: tuple[str, ...] = ("MDD", "TRD", "bipolar", "mixed")
    settings: tuple[str, ...] = ("standard",)
    source_basis: tuple[str, ...] = ("primary", "secondary")
    value_types: tuple[str, ...] = ("change", "endpoint")
    designs: tuple[str, ...] = ("parallel", "crossover")

    @classmethod
    def from_config(cls, entry: Mapping, base: AnalysisSet | None = None) -> AnalysisSet:
        """An analysis set from a config mapping; keys it lacks keep ``base``'s values."""
        names = {f.name for f in fields(cls)}
        unknown = set(entry) - names
        if unknown:
            raise ValueError(f"unknown analysis_set keys: {', '.join(sorted(unknown))}")
        return replace(base or cls(), **{k: tuple(v) for k, v in entry.items()})

    def mask(self, effects: pd.DataFrame) -> pd.Series:
        """Whether each effect row belongs to the set."""
        score = effects["measure"] == "SMD"
        # A reported d or g whose basis the source does not give enters only a set that
        # allows both bases.
        unreported = effects["value_type"].isna() & bool(
            {"change", "endpoint"} <= set(self.value_types)
        )
        return (
            self.trial_mask(effects)
            & effects["control_type"].isin(self.control_types)
            & effects["source_basis"].isin(self.source_basis)
            & (~score | effects["value_type"].isin(self.value_types) | unreported)
        )

    def trial_mask(self, rows: pd.DataFrame) -> pd.Series:
        """Whether each row's trial (its ``population``, ``setting``, ``design``) is in the set."""
        return (
            rows["population"].isin(self.populations)
            & rows["setting"].isin(self.settings)
            & rows["design"].isin(self.designs)
        )

    def describe(self) -> str:
        """One line naming the set, for tables and captions."""
        return "; ".join(
            f"{f.name.replace('_', ' ')}: {', '.join(getattr(self, f.name))}" for f in fields(self)
        )


def _basis_rank(effects: pd.DataFrame) -> pd.Series:
    """0 arm-level primary, 1 primary contrast, 2 arm-level secondary, 3 secondary contrast."""
    contrast = (effects["data_basis"] != "arm-level").astype(int)
    return 2 * (effects["source_basis"] == "secondary").astype(int) + contrast


def nearest_in_window(
    rows: pd.DataFrame, window: Window, key: Sequence[str], rank: pd.Series | None = None
) -> pd.DataFrame:
    """Per ``key``, the row in ``window`` nearest its nominal time (ties: the earlier).

    ``rank`` (lower first) comes before the distance in time; by default, rows with a
    ``source_basis`` are ranked by the data-basis hierarchy (PROTOCOL.md §10).
    """
    inside = rows[window.contains(rows["timepoint_h"])]
    ordered = in_nearest_order(
        inside, window.nominal_h, None if rank is None else rank[inside.index]
    )
    return ordered.drop_duplicates(list(key))


def in_nearest_order(
    rows: pd.DataFrame, nominal_h: float, rank: pd.Series | None = None
) -> pd.DataFrame:
    """``rows`` in the order :func:`nearest_in_window` picks from.

    By ``rank`` (default: the data-basis hierarchy), then distance from ``nominal_h``, then
    time; a stable sort, so that a subset of the rows keeps the same relative order.
    """
    if rank is None:
        rank = _basis_rank(rows) if "source_basis" in rows else pd.Series(0, index=rows.index)
    order = rows.assign(
        _distance=(rows["timepoint_h"].astype(float) - nominal_h).abs(),
        _rank=rank[rows.index],
    )
    nearest = order.sort_values(["_rank", "_distance", "timepoint_h"], kind="stable")
    return nearest.drop(columns=["_distance", "_rank"])


#: PROTOCOL.md §11: REML with the ad hoc Knapp-Hartung correction, 95% intervals.
PROTOCOL_MODEL = ModelSpec("REML", "adhoc", 0.95)


@dataclass(frozen=True)
class Pooling:
    """How every pooled estimate is fitted and when it is shown (PROTOCOL.md §6, §11, §16).

    Built once from the configuration's ``pooling`` block by :meth:`from_config` and passed
    to every analysis that pools; the defaults are PROTOCOL.md's.

    Attributes
    ----------
    model : ModelSpec
        The random-effects model: tau^2 estimator, test and confidence level (§11).
    timepoint_h : float
        Nominal time of the primary window, hours after the first dose (§6).
    min_trials : int
        Fewest trials a pooled estimate is shown from as an answer (§11).
    pi_min_trials : int
        Fewest trials a prediction interval is shown from (with tau^2 > 0; §11).
    small_study_min_trials : int
        Fewest trials small-study tests are read from (§16; Handbook 13.3.5.4).
    """

    model: ModelSpec = PROTOCOL_MODEL
    timepoint_h: float = 24.0
    min_trials: int = 3
    pi_min_trials: int = 3
    small_study_min_trials: int = 10

    #: The keys of the configuration's ``pooling`` block that make :attr:`model`.
    MODEL_KEYS = ("method", "test", "level")

    @classmethod
    def from_config(cls, entry: Mapping) -> Pooling:
        """From the configuration's ``pooling`` block; keys it lacks keep PROTOCOL.md's values.

        ``method``, ``test`` and ``level`` make the :class:`ModelSpec`, which validates them
        and reads a level of 95 as 0.95.

        Raises
        ------
        ValueError
            For an unknown key, or a model the engine does not fit (naming the value).
        """
        names = {f.name for f in fields(cls)} - {"model"}
        unknown = set(entry) - names - set(cls.MODEL_KEYS)
        if unknown:
            raise ValueError(f"unknown pooling keys: {', '.join(sorted(unknown))}")
        base = cls()
        model = {k: entry.get(k, getattr(base.model, k)) for k in cls.MODEL_KEYS}
        return cls(
            model=ModelSpec(**model),
            timepoint_h=float(entry.get("timepoint_h", base.timepoint_h)),
            **{k: int(entry[k]) for k in names - {"timepoint_h"} if k in entry},
        )

    @property
    def timepoint_label(self) -> str:
        """The primary timepoint as analyses and tables name it, e.g. ``24h``."""
        return f"{self.timepoint_h:g}h"


def select_comparisons(
    effects: pd.DataFrame,
    outcome: str,
    measure: str,
    window: Window,
    analysis_set: AnalysisSet,
) -> pd.DataFrame:
    """The rows of one outcome and measure an analysis pools, one per comparison.

    Rows of the set in the window, the nearest visit per comparison (:func:`nearest_in_window`),
    sorted by route, study and comparison.

    Raises
    ------
    ValueError
        If no comparison is left to pool.
    """
    rows = effects[
        (effects["outcome"] == outcome)
        & (effects["measure"] == measure)
        & analysis_set.mask(effects)
    ]
    chosen = nearest_in_window(rows, window, ["comparison_id"])
    if chosen.empty:
        raise ValueError(f"no {outcome} comparison ({measure}) in the {window.label} window")
    return chosen.sort_values(["route", "study_id", "comparison_id"], kind="stable").reset_index(
        drop=True
    )


@dataclass(frozen=True)
class Protocol:
    """The windows, the primary timepoint and the primary analysis set of an analysis run.

    Built from the configuration by :meth:`from_config` (keys ``windows``,
    ``pooling.timepoint_h``, ``analysis_set``); the defaults are PROTOCOL.md's.
    """

    windows: tuple[Window, ...] = DEFAULT_WINDOWS
    timepoint_h: float = 24.0
    analysis_set: AnalysisSet = AnalysisSet()

    @property
    def primary_window(self) -> Window:
        """The window of the primary timepoint."""
        return window_at(self.windows, self.timepoint_h)

    @classmethod
    def from_config(cls, config: Mapping) -> Protocol:
        """From a mapping with ``windows``, ``timepoint_h`` and ``analysis_set``."""
        return cls(
            windows_from_config(config["windows"]),
            float(config["timepoint_h"]),
            AnalysisSet.from_config(config["analysis_set"]),
        )

    def with_set(self, analysis_set: AnalysisSet) -> Protocol:
        """The same windows and timepoint with another analysis set."""
        return replace(self, analysis_set=analysis_set)


__all__ = [
    "DEFAULT_WINDOWS",
    "PROTOCOL_MODEL",
    "AnalysisSet",
    "Pooling",
    "Protocol",
    "Window",
    "nearest_in_window",
    "select_comparisons",
    "window_at",
    "windows_from_config",
]
