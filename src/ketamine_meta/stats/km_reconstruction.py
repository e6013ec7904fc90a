r"""Individual patient data rebuilt from a published Kaplan-Meier curve (Guyot et al., 2012).

Input: coordinates ``(T_k, S_k)`` read off the curve by a digitizer, the number-at-risk table
``(t_i, n_i)`` printed under it and, when reported, the total number of events. Within each
interval of the risk table the algorithm

1. guesses the number censored, :math:`c_i = \mathrm{round}(n_i S(t_{i+1}) / S(t_i) - n_{i+1})`;
2. spreads the censored times evenly over the interval;
3. walks the coordinates, giving each the number of events that reproduces the digitized
   survival, :math:`d_k = \mathrm{round}(\hat n_k (1 - S_k / \hat S_{last}))`, and the number
   at risk that follows;
4. corrects :math:`c_i` by the difference between the rebuilt and the published number at risk
   at the next interval, and repeats until they agree (when rounding makes that impossible,
   the closest count is kept rather than looping).

In the last interval censoring continues at the average rate of the earlier ones, or is
adjusted so the total number of events matches the reported one. Events sit at the
coordinate times, censorings at the midpoints between coordinates, and whoever is left at the
end is censored at the last time.

A curve that reaches :math:`S = 0` has no one left at risk: it is cut at its first zero, so
the events up to that point are rebuilt and later coordinates (on the axis) add nothing.

References
----------
Guyot, P., Ades, A. E., Ouwens, M. J. N. M., & Welton, N. J. (2012). Enhanced secondary
analysis of survival data: reconstructing the data from published Kaplan-Meier survival
curves. *BMC Medical Research Methodology*, 12, 9, "Algorithm" and Table 2.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

#: Bound on the censoring adjustments per interval; the published algorithm converges in a
#: handful, and a pathological input must stop rather than loop.
MAX_ADJUSTMENTS = 10_000
#: Bound on the work of all adjustments, in coordinates walked (about 15 s): a count that
#: climbs slowly through its 10,000 adjustments over thousands of coordinates would
#: otherwise take minutes to hours (measured: 97 s for 3,000 coordinates). Each walk is
#: charged :data:`WALK_OVERHEAD` more, the cost of counting its censoring times. The tests'
#: curves use at most 400,000.
MAX_WALK_STEPS = 5_000_000
WALK_OVERHEAD = 300
#: Most censoring times held in memory at once; larger counts are counted by bisection.
MAX_HELD_TIMES = 100_000
#: Bounds on the work: rows of the curve (digitizers give hundreds of coordinates, a few
#: thousand at most) and of the at-risk table (printed tables have a few dozen; each row is
#: an interval fitted on its own), patients at time 0 (the largest trials have tens of
#: thousands; one array entry is held per patient) and time (1e12 days or seconds is beyond
#: any follow-up, and keeps the sum of two times, whose half places a censoring, finite).
MAX_ROWS = 100_000
MAX_RISK_ROWS = 1_000
MAX_PATIENTS = 1_000_000
MAX_TIME = 1e12


class CurveInputError(ValueError):
    """Digitized coordinates or a risk table that cannot describe a Kaplan-Meier curve.

    The message reads ``"<table>: row <r>, column '<c>', value <v>: <reason>"`` with the row
    counted from 1 over the data rows, so a caller can point at the cell (the command line
    replaces the table name by its file).
    """


# --------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------


#: Marks an error about a whole column rather than one cell.
_NO_VALUE = object()


def _show(value: object) -> str:
    """The cell value as written: integers without a decimal point, floats in full."""
    if value is None:
        return "missing"
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        number = float(value)
        # Shortest exact form, not ``:g``: six significant digits would show 1000001 as 1e+06.
        if math.isfinite(number) and number.is_integer() and abs(number) < 2**53:
            return str(int(number))
        return repr(number)
    return repr(value)


def _invalid(
    table: str, row: int | None, column: str | None, value: object, why: str
) -> CurveInputError:
    """A :class:`CurveInputError` naming the cell; ``row`` is 1-based, ``None`` for no row."""
    where = [
        f"row {row}" if row is not None else "",
        f"column '{column}'" if column is not None else "",
        f"value {_show(value)}" if value is not _NO_VALUE else "",
    ]
    return CurveInputError(f"{table}: {', '.join(w for w in where if w)}: {why}")


def _column(values: ArrayLike, table: str, column: str) -> np.ndarray:
    """One column as floats; a cell that is not a number is reported, missing ones become NaN."""
    cells = np.asarray(values, dtype=object)
    if cells.ndim != 1:
        raise _invalid(
            table,
            None,
            column,
            _NO_VALUE,
            f"expected one column of numbers, got shape {cells.shape}",
        )
    numbers = np.empty(cells.size)
    for i, cell in enumerate(cells):
        if cell is None or cell is pd.NA or cell is pd.NaT:
            numbers[i] = np.nan  # reported as missing by the finiteness check
            continue
        try:
            numbers[i] = _number(cell)
        except (TypeError, ValueError):
            raise _invalid(table, i + 1, column, cell, "not a number") from None
    return numbers


def _number(cell: object) -> float:
    """``float(cell)``, refusing what Python converts but a table does not hold as a number.

    ``float`` reads the digits of other scripts (Arabic-Indic one-two is 12), digit
    separators ("1_6.5" is 16.5) and True (as 1): each a misread cell, not a number.
    """
    if isinstance(cell, bool | np.bool_) or (
        isinstance(cell, str) and (not cell.isascii() or "_" in cell)
    ):
        raise ValueError(cell)
    return float(cell)  # type: ignore[arg-type]


def _check_table(
    table: str, columns: dict[str, np.ndarray], minimum: int, what: str, most: int
) -> None:
    """Equal lengths of ``minimum`` to ``most`` rows and finite cells, or the first bad cell."""
    names = list(columns)
    lengths = [columns[name].size for name in names]
    rows = min(lengths)
    if max(lengths) != rows:
        short = names[lengths.index(rows)]
        others = " and ".join(names)
        raise _invalid(table, rows + 1, short, None, f"{others} must have the same number of rows")
    if rows < minimum:
        raise _invalid(table, rows + 1, names[0], None, what)
    if rows > most:
        raise _invalid(
            table,
            most + 1,
            names[0],
            columns[names[0]][most],
            f"more than {most} rows; the reconstruction is bounded to {most}",
        )
    for i in range(rows):
        for name in names:
            if not math.isfinite(columns[name][i]):
                raise _invalid(table, i + 1, name, columns[name][i], "a finite number is required")


def _check_curve(time: np.ndarray, survival: np.ndarray) -> None:
    """Time from 0, non-decreasing; survival from 1, non-increasing, within [0, 1]."""
    _check_table(
        "curve",
        {"time": time, "survival": survival},
        2,
        "a curve needs at least two coordinates, the first at time 0, survival 1",
        MAX_ROWS,
    )
    start = "the first coordinate must be time 0, survival 1"
    for i in range(time.size):
        row, t, s = i + 1, time[i], survival[i]
        if i == 0 and t != 0:
            raise _invalid("curve", row, "time", t, start)
        if i > 0 and t < time[i - 1]:
            raise _invalid("curve", row, "time", t, "times must not decrease")
        if t > MAX_TIME:
            raise _invalid("curve", row, "time", t, f"times above {MAX_TIME:g} are refused")
        if not 0 <= s <= 1:
            raise _invalid("curve", row, "survival", s, "survival must lie between 0 and 1")
        if i == 0 and s != 1:
            raise _invalid("curve", row, "survival", s, start)
        if i > 0 and s > survival[i - 1]:
            raise _invalid("curve", row, "survival", s, "a Kaplan-Meier curve cannot rise")


def _check_risk_table(risk_time: np.ndarray, n_at_risk: np.ndarray) -> None:
    """Times from 0, increasing; counts whole, non-negative, positive at 0, not rising."""
    _check_table(
        "at-risk",
        {"time": risk_time, "n_at_risk": n_at_risk},
        1,
        "the at-risk table needs at least its row at time 0",
        MAX_RISK_ROWS,
    )
    for i in range(risk_time.size):
        row, t, n = i + 1, risk_time[i], n_at_risk[i]
        if i == 0 and t != 0:
            raise _invalid("at-risk", row, "time", t, "the first row must be time 0")
        if i > 0 and t <= risk_time[i - 1]:
            raise _invalid("at-risk", row, "time", t, "times must increase")
        if n < 0 or not n.is_integer():
            raise _invalid(
                "at-risk", row, "n_at_risk", n, "numbers at risk must be non-negative integers"
            )
        if i == 0 and n == 0:
            raise _invalid("at-risk", row, "n_at_risk", n, "no one is at risk at time 0")
        if i == 0 and n > MAX_PATIENTS:
            raise _invalid(
                "at-risk",
                row,
                "n_at_risk",
                n,
                f"more than {MAX_PATIENTS} patients; the reconstruction is bounded to "
                f"{MAX_PATIENTS}",
            )
        # The row that rises is named, not the one before: it is the cell the reader compares
        # with the figure (a misread digit).
        if i > 0 and n > n_at_risk[i - 1]:
            raise _invalid("at-risk", row, "n_at_risk", n, "numbers at risk cannot rise")


def _check_total(total_events: object, n_start: int, survival: np.ndarray) -> int | None:
    """The reported total as an int the curve allows, or None when not reported.

    Within [0, n_start], and what a Kaplan-Meier curve implies: at least one event once it
    falls below 1, none while it stays at 1, and not everyone when it stays above 0 (the
    last event would take it to 0). Such a total is refused rather than met by censoring
    everyone, which would rebuild data the curve contradicts.
    """
    if total_events is None:
        return None
    try:
        total = _number(total_events)
    except (TypeError, ValueError):
        raise _invalid("total_events", None, None, total_events, "not a number") from None
    if not total.is_integer() or not 0 <= total <= n_start:
        raise _invalid(
            "total_events",
            None,
            None,
            total_events,
            f"must be a whole number between 0 and the number at risk at time 0 ({n_start})",
        )
    lowest = int(np.argmin(survival))
    where = f"the curve falls to {_show(survival[lowest])} (curve row {lowest + 1})"
    if total == 0 and survival[lowest] < 1:
        why = f"{where}, so at least one event happened"
    elif total > 0 and survival[lowest] == 1:
        why = "the curve never falls below 1, so it shows no events"
    elif total == n_start and survival[lowest] > 0:
        why = f"{where}, above 0, so not all {n_start} at risk at time 0 had an event"
    else:
        return int(total)
    raise _invalid("total_events", None, None, total_events, why)


# --------------------------------------------------------------------------------------------
# The algorithm
# --------------------------------------------------------------------------------------------


@dataclass
class _State:
    """Working arrays, one entry per coordinate (``n_hat`` one more: those left at the end)."""

    time: np.ndarray
    survival: np.ndarray
    n_hat: np.ndarray
    events: np.ndarray
    censored: np.ndarray
    km_hat: np.ndarray
    #: Coordinates the adjustments may still walk (:data:`MAX_WALK_STEPS`).
    steps_left: int = field(default_factory=lambda: MAX_WALK_STEPS)


def _until_zero(time: np.ndarray, survival: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The curve up to and including its first coordinate at survival 0.

    Once :math:`S = 0` no one is at risk, so later coordinates (the curve drawn along the
    axis) can hold neither events nor censorings. Cutting there also keeps
    :math:`S(t_i) > 0` at the start of every interval but the last, which step 1's ratio
    :math:`S(t_{i+1}) / S(t_i)` divides by.
    """
    zeros = np.flatnonzero(survival == 0)
    if zeros.size == 0:
        return time, survival
    return time[: zeros[0] + 1], survival[: zeros[0] + 1]


def _intervals(
    time: np.ndarray, risk_time: np.ndarray, n_at_risk: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Risk rows within the curve, with the first and last coordinate of each interval."""
    inside = risk_time <= time[-1]
    risk_time, n_at_risk = risk_time[inside], n_at_risk[inside].astype(int)
    # An at-risk time with no coordinate between it and the previous one leaves an empty
    # interval: it is merged into the previous interval (its count is not used).
    first_at = np.searchsorted(time, risk_time, side="left")
    keep = np.r_[True, first_at[1:] > first_at[:-1]]
    lower = first_at[keep]
    # Intervals end just before the next one starts; the last at the end of the curve.
    upper = np.append(lower[1:] - 1, time.size - 1)
    return risk_time[keep], n_at_risk[keep], lower, upper


def _settle(start: int, saturated: int, gap: Callable[[int], int], state: _State) -> int:
    r"""Guyot's censoring adjustment :math:`c \leftarrow \max(0, c + g(c))`, made to stop.

    :math:`g(c)` is the gap left with :math:`c` censored (rebuilt minus published number at
    risk, or rebuilt minus reported events). Stops, as Guyot's loop does, at :math:`g(c) = 0`,
    or at :math:`g(c) < 0` with :math:`c = 0` (no censoring left to remove). In two cases
    that loop never ends; here it stops with the visited count of smallest :math:`|g|`:
    rounding makes the gap jump over 0 and the counts cycle, or :math:`g(c) > 0` at
    :math:`c \ge` ``saturated``, beyond which more censoring changes nothing (see
    :func:`_saturation`). It also stops, the same way, once ``state`` has walked
    :data:`MAX_WALK_STEPS` coordinates, after one evaluation at least. ``gap`` refits the
    interval, so it is evaluated last at the count returned.
    """
    seen: dict[int, int] = {}
    count = max(start, 0)
    for _ in range(MAX_ADJUSTMENTS):
        if count in seen or (seen and state.steps_left <= 0):
            break
        miss = seen[count] = gap(count)
        if miss == 0 or (miss < 0 and count == 0):
            return count
        if miss > 0 and count >= saturated:
            break
        count = max(count + miss, 0)
    best = min(seen, key=lambda c: (abs(seen[c]), c))
    gap(best)
    return best


def _saturation(state: _State, first: int, stop: int, n_at_risk: int) -> int:
    r"""A censoring count beyond which :func:`_censor_counts` no longer changes the walk.

    With :math:`C` times spread evenly over a span :math:`W`, the first gap of positive
    width :math:`w` receives :math:`\lfloor w (C + 1) / W \rfloor` of them; once that
    exceeds the :math:`n` at risk, everyone left after its events is censored there, whatever
    :math:`C`. So :math:`C \ge (n + 1) W / w + 1` saturates.
    """
    widths = np.diff(state.time[first : stop + 1])
    if widths.size == 0:
        return 0  # a single coordinate: no gap to censor in
    span = float(widths.sum())
    if span == 0:
        return n_at_risk  # all at one time: every censoring falls in the first gap
    count = (int(n_at_risk) + 1) * span / float(widths[widths > 0][0])
    # A first gap too narrow for the count to be a float (times 1e-320 apart) is never
    # saturated: no count to stop at.
    return math.ceil(count) + 1 if math.isfinite(count) else sys.maxsize


def _censor_counts(state: _State, first: int, stop: int, n_censor: int, end_time: float) -> None:
    """Spread ``n_censor`` times evenly over [T[first], end_time]; count them per coordinate.

    Right-closed bins (T[first], T[first + 1]], ... as R's ``hist``: the first also holds the
    times at or before its start, the last those beyond its end. Beyond
    :data:`MAX_HELD_TIMES` the times are counted, not held: the adjustments can try billions
    of them (:func:`_spread_at_or_before`, which gives the same counts).
    """
    state.censored[first:stop] = 0
    if n_censor <= 0 or stop <= first:
        # An interval of a single coordinate has no gap between coordinates to censor in.
        return
    start = state.time[first]
    if n_censor > MAX_HELD_TIMES:
        at_or_before = _spread_at_or_before(start, end_time, n_censor, state.time[first + 1 : stop])
        state.censored[first:stop] = np.diff(np.r_[0, at_or_before, n_censor])
        return
    times = start + np.arange(1, n_censor + 1) * (end_time - start) / (n_censor + 1)
    breaks = state.time[first : stop + 1]
    bins = np.clip(np.searchsorted(breaks, times, side="left") - 1, 0, len(breaks) - 2)
    state.censored[first:stop] = np.bincount(bins, minlength=stop - first)[: stop - first]


def _spread_at_or_before(start: float, end: float, count: int, bounds: np.ndarray) -> np.ndarray:
    """The number of spread times at or before each bound.

    The times are ``start + k (end - start) / (count + 1)`` for k = 1..count. Each count is
    found by bisection on k, computing a time as that expression does, so the counts are
    those of the times themselves (non-decreasing in k, rounding included), in memory and
    time that do not grow with ``count``.
    """
    low = np.zeros(bounds.size, dtype=np.int64)  # times 1..low are <= the bound
    high = np.full(bounds.size, count, dtype=np.int64)  # times beyond high are not
    while np.any(low < high):
        middle = (low + high + 1) // 2
        within = start + middle * (end - start) / (count + 1) <= bounds
        low, high = np.where(within, middle, low), np.where(within, high, middle - 1)
    return low


def _walk(
    state: _State, first: int, last_index: int, stop: int, n_start: int, start_of_curve: bool
) -> int:
    """Events and numbers at risk on coordinates first..stop-1; returns the last event index."""
    state.steps_left -= stop - first + WALK_OVERHEAD
    state.n_hat[first] = n_start
    last = last_index
    for k in range(first, stop):
        if start_of_curve and k == first:
            state.events[k] = 0
            state.km_hat[k] = 1.0
        elif state.km_hat[last] > 0 and state.n_hat[k] > 0:
            state.events[k] = round(state.n_hat[k] * (1 - state.survival[k] / state.km_hat[last]))
            state.km_hat[k] = state.km_hat[last] * (1 - state.events[k] / state.n_hat[k])
        else:
            # No one at risk (or the rebuilt curve already at 0 from rounding): no events.
            state.events[k] = 0
            state.km_hat[k] = state.km_hat[last]
        state.n_hat[k + 1] = state.n_hat[k] - state.events[k] - state.censored[k]
        if state.n_hat[k + 1] < 0:
            # No one can be censored who is no longer at risk.
            state.censored[k] = state.n_hat[k] - state.events[k]
            state.n_hat[k + 1] = 0
        if state.events[k] != 0:
            last = k
    return last


def _fit_interval(
    state: _State, i: int, bounds: tuple[np.ndarray, np.ndarray], n_risk: np.ndarray, last: int
) -> tuple[int, int]:
    """Steps 1-4 on interval ``i`` (not the last); returns its last event index and :math:`c_i`.

    ``n_risk[i + 1]`` becomes the rebuilt number at risk, which the next interval starts from:
    when the published one cannot be met (too many events on the curve), carrying it keeps
    every patient in the walk.
    """
    lower, upper = bounds
    first, stop, following = lower[i], upper[i] + 1, lower[i + 1]
    target = n_risk[i + 1]
    # S > 0 at the start of every interval but the last (the curve is cut at its first zero).
    expected_left = n_risk[i] * state.survival[following] / state.survival[first]
    last_event = last

    def gap(n_censor: int) -> int:
        nonlocal last_event
        _censor_counts(state, first, stop, n_censor, state.time[following])
        last_event = _walk(state, first, last, stop, n_risk[i], i == 0)
        return int(state.n_hat[following] - target)

    saturated = _saturation(state, first, stop, n_risk[i])
    n_censor = _settle(round(expected_left - target), saturated, gap, state)
    n_risk[i + 1] = state.n_hat[following]
    return last_event, n_censor


def _fit_last_interval(
    state: _State,
    bounds: tuple[np.ndarray, np.ndarray],
    n_risk: np.ndarray,
    n_censor_before: int,
    last: int,
    total_events: int | None,
) -> None:
    """The last interval: censoring at the earlier average rate, or to meet the total events."""
    lower, upper = bounds
    final = lower.size - 1
    first, stop = lower[final], upper[final] + 1
    n_censor = 0
    span = float(state.time[upper[final - 1]] - state.time[lower[0]]) if final > 0 else 0.0
    if span > 0:
        rate = n_censor_before * float(state.time[upper[final]] - state.time[first]) / span
        # Capped before rounding: over an earlier span of 1e-320 the rate is infinite.
        n_censor = round(min(rate, n_risk[final]))

    def refit(count: int) -> None:
        # The last coordinate takes no censoring: whoever is left there is censored at the end.
        _censor_counts(state, first, stop - 1, count, state.time[upper[final]])
        _walk(state, first, last, stop, n_risk[final], final == 0)

    refit(n_censor)
    if total_events is None:
        return
    if state.events[:first].sum() >= total_events:
        # Guyot: the earlier intervals already hold the reported events; none in the last,
        # whose patients are all censored at the end.
        state.events[first:stop] = 0
        state.censored[first:stop] = 0
        return

    def excess(count: int) -> int:
        refit(count)
        return int(state.events[:stop].sum() - total_events)

    _settle(n_censor, _saturation(state, first, stop - 1, n_risk[final]), excess, state)


def reconstruct_ipd(
    time: ArrayLike,
    survival: ArrayLike,
    risk_time: ArrayLike,
    n_at_risk: ArrayLike,
    total_events: int | None = None,
) -> pd.DataFrame:
    r"""Rebuild individual event and censoring times from a digitized Kaplan-Meier curve.

    Guyot et al.'s (2012) algorithm (see the module notes): per at-risk interval, censoring
    :math:`c_i = \mathrm{round}(n_i S(t_{i+1}) / S(t_i) - n_{i+1})` spread evenly, events
    :math:`d_k = \mathrm{round}(\hat n_k (1 - S_k / \hat S_{last}))` at the coordinates, and
    :math:`c_i` corrected until the rebuilt number at risk meets the published one.

    Parameters
    ----------
    time, survival : array_like
        Digitized coordinates, starting at (0, 1); times non-decreasing, survival
        non-increasing, within [0, 1]. Coordinates after the first at survival 0 are ignored:
        no one is left at risk there.
    risk_time, n_at_risk : array_like
        The number-at-risk table: times (starting at 0, increasing) and whole counts
        (positive at time 0, non-increasing). Coordinates beyond the last risk time belong to
        the last interval; rows beyond the curve are ignored.
    total_events : int, optional
        Total number of events, when the publication reports it; used to set the censoring
        in the last interval. A total the curve rules out is refused: none on a curve that
        falls, some on a curve that stays at 1, everyone on a curve that stays above 0.

    Returns
    -------
    pandas.DataFrame
        Columns ``time`` and ``event`` (1 event, 0 censored), one row per patient at risk at
        time 0, sorted by time with events before censorings at equal times.
        ``attrs["total_events_requested"]`` holds ``total_events`` (None when not given) and
        ``attrs["total_events_achieved"]`` the number of events rebuilt; they differ when the
        total cannot be met, e.g. when the earlier intervals of the curve already hold more
        events, or the curve stops above the survival the total implies.

    Raises
    ------
    CurveInputError
        Naming the table (``curve``, ``at-risk`` or ``total_events``), 1-based row, column
        and value of the first impossible input: a cell that is not a finite number, survival
        outside [0, 1], times decreasing, a rising curve, at-risk counts negative, not whole
        or rising, a first row not at time 0 (survival 1), tables empty or of unequal columns,
        or a total of events the curve rules out (see :func:`_check_total`). Also beyond the
        bounds on the work: more than :data:`MAX_ROWS` rows in the curve or
        :data:`MAX_RISK_ROWS` in the at-risk table, more than
        :data:`MAX_PATIENTS` at risk at time 0, a time above :data:`MAX_TIME`.

    References
    ----------
    Guyot, P., Ades, A. E., Ouwens, M. J. N. M., & Welton, N. J. (2012). *BMC Medical
    Research Methodology*, 12, 9.

    Examples
    --------
    Ten patients with events on days 1 to 10 and no censoring:

    >>> import numpy as np
    >>> days = np.arange(1.0, 11.0)
    >>> t = np.r_[0.0, np.repeat(days, 2)]
    >>> s = np.r_[1.0, np.ravel(np.column_stack([1 - (days - 1) / 10, 1 - days / 10]))]
    >>> ipd = reconstruct_ipd(t, s, [0, 5], [10, 6], total_events=10)
    >>> ipd["time"].tolist() == days.tolist(), int(ipd["event"].sum())
    (True, 10)
    >>> ipd.attrs
    {'total_events_requested': 10, 'total_events_achieved': 10}

    A reported total the curve cannot give is reported back, not imposed:

    >>> reconstruct_ipd(t, s, [0, 5], [10, 6], total_events=3).attrs
    {'total_events_requested': 3, 'total_events_achieved': 4}
    """
    t = _column(time, "curve", "time")
    s = _column(survival, "curve", "survival")
    _check_curve(t, s)
    rt = _column(risk_time, "at-risk", "time")
    nr = _column(n_at_risk, "at-risk", "n_at_risk")
    _check_risk_table(rt, nr)
    n_start = int(nr[0])
    total = _check_total(total_events, n_start, s)

    t, s = _until_zero(t, s)
    rt, nr, lower, upper = _intervals(t, rt, nr)
    state = _State(
        t,
        s,
        n_hat=np.zeros(t.size + 1, dtype=int),
        events=np.zeros(t.size, dtype=int),
        censored=np.zeros(t.size, dtype=int),
        km_hat=np.ones(t.size),
    )
    last_event, n_censor_before = 0, 0
    for i in range(lower.size - 1):
        last_event, n_censor = _fit_interval(state, i, (lower, upper), nr, last_event)
        n_censor_before += n_censor
    _fit_last_interval(state, (lower, upper), nr, n_censor_before, last_event, total)

    ipd = _patients(state, n_start)
    achieved = int(ipd["event"].sum())
    # Reported, not raised: an unmet total is a property of the published figure, and the
    # rebuilt data remain the best reading of it (the command line warns from these).
    ipd.attrs["total_events_requested"] = total
    ipd.attrs["total_events_achieved"] = achieved
    return ipd


def _patients(state: _State, n_start: int) -> pd.DataFrame:
    """One row per patient: events at coordinates, censorings at midpoints, the rest at the end."""
    t, d, c = state.time, state.events, state.censored
    event_times = np.repeat(t, d)
    midpoints = (t[:-1] + t[1:]) / 2
    censor_times = np.repeat(midpoints, c[:-1])
    left = n_start - len(event_times) - len(censor_times)
    times = np.concatenate([event_times, censor_times, np.full(max(left, 0), t[-1])])
    flags = np.concatenate(
        [np.ones(len(event_times), int), np.zeros(len(censor_times) + max(left, 0), int)]
    )
    frame = pd.DataFrame({"time": times, "event": flags})
    return frame.sort_values(["time", "event"], ascending=[True, False], kind="stable").reset_index(
        drop=True
    )
