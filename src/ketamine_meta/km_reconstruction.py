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
   at the next interval, and repeats until they agree.

In the last interval censoring continues at the average rate of the earlier ones, or is
adjusted so the total number of events matches the reported one. Events sit at the
coordinate times, censorings at the midpoints between coordinates, and whoever is left at the
end is censored at the last time.

References
----------
Guyot, P., Ades, A. E., Ouwens, M. J. N. M., & Welton, N. J. (2012). Enhanced secondary
analysis of survival data: reconstructing the data from published Kaplan-Meier survival
curves. *BMC Medical Research Methodology*, 12, 9, "Algorithm" and Table 2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

#: Bound on the censoring adjustments per interval; the published algorithm converges in a
#: handful, and a pathological input must fail rather than loop.
MAX_ADJUSTMENTS = 10_000


class CurveInputError(ValueError):
    """Digitized coordinates or a risk table that cannot describe a Kaplan-Meier curve."""


@dataclass
class _State:
    time: np.ndarray
    survival: np.ndarray
    n_hat: np.ndarray
    events: np.ndarray
    censored: np.ndarray
    km_hat: np.ndarray


def _check(time, survival, risk_time, n_at_risk, total_events) -> None:
    def fail(table: str, i: int, column: str, value: object, why: str) -> None:
        raise CurveInputError(f"{table}: row {i + 1}, column '{column}', value {value:g}: {why}")

    for i, s in enumerate(survival):
        if not 0 <= s <= 1:
            fail("curve", i, "survival", s, "survival must lie between 0 and 1")
    for i in range(1, len(time)):
        if time[i] < time[i - 1]:
            fail("curve", i, "time", time[i], "times must not decrease")
        if survival[i] > survival[i - 1]:
            fail("curve", i, "survival", survival[i], "a Kaplan-Meier curve cannot rise")
    if len(time) < 2 or time[0] != 0 or survival[0] != 1:
        raise CurveInputError("curve: the first coordinate must be time 0, survival 1")
    for i in range(1, len(risk_time)):
        if risk_time[i] <= risk_time[i - 1]:
            fail("at-risk", i, "time", risk_time[i], "times must increase")
        if n_at_risk[i] > n_at_risk[i - 1]:
            fail("at-risk", i, "n_at_risk", n_at_risk[i], "numbers at risk cannot rise")
    if len(risk_time) == 0 or risk_time[0] != 0:
        raise CurveInputError("at-risk table: the first row must be time 0")
    if np.any(np.asarray(n_at_risk) < 0) or np.any(np.asarray(n_at_risk) != np.round(n_at_risk)):
        raise CurveInputError("at-risk table: numbers at risk must be non-negative integers")
    if total_events is not None and not 0 <= total_events <= n_at_risk[0]:
        raise CurveInputError(
            f"total events {total_events} must lie between 0 and the number at risk at time 0"
        )


def _censor_counts(state: _State, first: int, stop: int, n_censor: int, end_time: float) -> None:
    """Spread ``n_censor`` times evenly over [T[first], end_time]; count them per coordinate."""
    state.censored[first:stop] = 0
    if n_censor <= 0:
        return
    start = state.time[first]
    times = start + np.arange(1, n_censor + 1) * (end_time - start) / (n_censor + 1)
    breaks = state.time[first : stop + 1]
    # Right-closed bins (b0, b1], (b1, b2], ... with the first closed on the left, as R's hist.
    bins = np.clip(np.searchsorted(breaks, times, side="left") - 1, 0, len(breaks) - 2)
    state.censored[first:stop] = np.bincount(bins, minlength=stop - first)[: stop - first]


def _walk(
    state: _State, first: int, last_index: int, stop: int, n_start: int, start_of_curve: bool
) -> int:
    """Events and numbers at risk on coordinates first..stop-1; returns the last event index."""
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


def reconstruct_ipd(
    time: ArrayLike,
    survival: ArrayLike,
    risk_time: ArrayLike,
    n_at_risk: ArrayLike,
    total_events: int | None = None,
) -> pd.DataFrame:
    """Rebuild individual event and censoring times from a digitized Kaplan-Meier curve.

    Parameters
    ----------
    time, survival : array_like
        Digitized coordinates, starting at (0, 1); times non-decreasing, survival
        non-increasing, within [0, 1].
    risk_time, n_at_risk : array_like
        The number-at-risk table: times (starting at 0, increasing) and counts
        (non-increasing). Coordinates beyond the last risk time belong to the last interval.
    total_events : int, optional
        Total number of events, when the publication reports it.

    Returns
    -------
    pandas.DataFrame
        Columns ``time`` and ``event`` (1 event, 0 censored), one row per patient at risk at
        time 0, sorted by time with events before censorings at equal times.

    Raises
    ------
    CurveInputError
        Naming the table, row and value of the first impossible input.
    """
    t = np.asarray(time, dtype=float)
    s = np.asarray(survival, dtype=float)
    rt = np.asarray(risk_time, dtype=float)
    nr = np.asarray(n_at_risk, dtype=float)
    _check(t, s, rt, nr, total_events)
    nr = nr.astype(int)
    rt, nr = rt[rt <= t[-1]], nr[rt <= t[-1]]
    # An at-risk time with no coordinate between it and the previous one leaves an empty
    # interval: it is merged into the previous interval (its count is not used).
    first_at = np.searchsorted(t, rt, side="left")
    keep = np.r_[True, first_at[1:] > first_at[:-1]]
    rt, nr = rt[keep], nr[keep]
    # First coordinate at or after each risk time; intervals end before the next one's start.
    lower = np.searchsorted(t, rt, side="left")
    upper = np.append(lower[1:] - 1, len(t) - 1)
    n_int = len(rt)
    state = _State(
        t,
        s,
        n_hat=np.zeros(len(t) + 1, dtype=int),
        events=np.zeros(len(t), dtype=int),
        censored=np.zeros(len(t), dtype=int),
        km_hat=np.ones(len(t)),
    )
    n_censor = np.zeros(n_int, dtype=int)
    last_event = 0
    for i in range(n_int - 1):
        target = nr[i + 1]
        n_censor[i] = round(nr[i] * s[lower[i + 1]] / s[lower[i]] - target)
        for _ in range(MAX_ADJUSTMENTS):
            n_censor[i] = max(n_censor[i], 0)
            _censor_counts(state, lower[i], upper[i] + 1, n_censor[i], t[lower[i + 1]])
            last = _walk(state, lower[i], last_event, upper[i] + 1, nr[i], i == 0)
            rebuilt = state.n_hat[lower[i + 1]]
            if rebuilt == target or (rebuilt < target and n_censor[i] == 0):
                break
            n_censor[i] += rebuilt - target
        else:
            raise CurveInputError(f"interval {i + 1} of the at-risk table did not reconcile")
        # Fewer left than published (too many events on the curve): carry the rebuilt count.
        nr[i + 1] = min(nr[i + 1], state.n_hat[lower[i + 1]])
        last_event = last
    final = n_int - 1
    first, stop = lower[final], upper[final] + 1
    span = t[upper[final - 1]] - t[lower[0]] if final > 0 else 0.0
    if final > 0 and span > 0:
        rate = n_censor[:final].sum() * (t[upper[final]] - t[lower[final]]) / span
        n_censor[final] = min(round(rate), nr[final])
    _censor_counts(state, first, stop - 1, n_censor[final], t[upper[final]])
    _walk(state, first, last_event, stop, nr[final], final == 0)
    if total_events is not None:
        before = state.events[:first].sum()
        if before >= total_events:
            state.events[first:stop] = 0
            state.censored[first:stop] = 0
        else:
            for _ in range(MAX_ADJUSTMENTS):
                excess = state.events[:stop].sum() - total_events
                if excess == 0 or (excess < 0 and n_censor[final] == 0):
                    break
                n_censor[final] = max(0, n_censor[final] + excess)
                _censor_counts(state, first, stop - 1, n_censor[final], t[upper[final]])
                _walk(state, first, last_event, stop, nr[final], final == 0)
    return _patients(state, int(np.asarray(n_at_risk)[0]))


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
