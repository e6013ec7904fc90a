"""The Kaplan-Meier reconstruction validated as Guyot et al. (2012) validated theirs.

Simulated trials with known truth (exponential and Weibull times, uniform censoring, two arms
of 200, and a small trial of 60): the KM curve is drawn, read as a digitizer would (its corner
points with SD 0.003 noise in survival and 0.2% in time, made monotone; a drop onto the time
axis read as 0, and the axis and at-risk table running on to day 90), rebuilt with the at-risk
table every 10 days and the total events, and compared with the true data over 20 seeds per
scenario. One scenario has no censoring at all and heavy early events (exponential, means of 10
and 5 days): both curves reach 0, mostly within a month, and the at-risk table ends in zeros.

Stated accuracy (worst case over the 20 seeds, measured when the tests were written; the
bounds below leave a margin): median within 5% (15% for n = 60), survival at days 14, 28 and 56
within 0.02 (0.055), log hazard ratio within 0.07 (0.09); on average the log HR is off by
under 0.03 (0.035 for n = 60). Without censoring: median within 5.2% (one event time off at
a gap in the events near the median), survival within 0.009, log HR within 0.015 (mean
0.005). The reported total of events is met within 4 in every scenario.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from km_simulation import (
    SCENARIOS,
    digitize,
    hazard_ratio,
    median,
    simulate_arm,
    survival_at,
)
from statsmodels.duration.survfunc import SurvfuncRight

from ketamine_meta.cli.commands import main
from ketamine_meta.stats import km_reconstruction
from ketamine_meta.stats.km_reconstruction import (
    MAX_PATIENTS,
    MAX_RISK_ROWS,
    MAX_ROWS,
    CurveInputError,
    _spread_at_or_before,
    reconstruct_ipd,
)

SEEDS = range(20)
# Bounds per scenario: worst-case median (relative), survival (absolute) and |log HR|, and the
# mean |log HR| over the seeds.
TRIAL_200 = (0.08, 0.03, 0.10, 0.03)
BOUNDS = {
    "exponential": TRIAL_200,
    "exponential, light censoring": TRIAL_200,
    "weibull increasing hazard": TRIAL_200,
    "weibull decreasing hazard": TRIAL_200,
    "small trial": (0.20, 0.07, 0.12, 0.05),
    "no censoring, curve reaches 0": (0.08, 0.02, 0.03, 0.01),
}
#: Largest |rebuilt - reported| total of events over the seeds (measured: 4).
TOTAL_EVENTS_BOUND = 6


def rebuild(rng, scenario, scale):
    time, event = simulate_arm(
        rng,
        scenario.n,
        scenario.shape,
        scale,
        scenario.censor_max,
        scenario.horizon,
        censored=scenario.censored,
    )
    risk = np.arange(0, scenario.horizon + 1, scenario.risk_every)
    digitized = digitize(rng, time, event, risk, axis_end=scenario.horizon)
    ipd = reconstruct_ipd(*digitized, total_events=int(event.sum()))
    return (time, event), (ipd["time"].to_numpy(), ipd["event"].to_numpy()), ipd.attrs


def ten_deaths():
    """Ten patients, events on days 1..10, no censoring: corner points of a KM curve to 0."""
    days = np.arange(1, 11, dtype=float)
    t = np.r_[0.0, np.repeat(days, 2)]
    s = np.r_[1.0, np.ravel(np.column_stack([1 - (days - 1) / 10, 1 - days / 10]))]
    return days, t, s


@pytest.mark.filterwarnings("error")  # a 0/0 in the algorithm must not pass as a warning
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_rebuilt_data_reproduce_the_truth(scenario):
    median_err, surv_err, log_hr_err, total_err = [], [], [], []
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        arms = [rebuild(rng, scenario, s) for s in (scenario.scale_treat, scenario.scale_ctrl)]
        for truth, rebuilt, attrs in arms:
            assert rebuilt[0].size == truth[0].size  # one row per patient at risk at time 0
            assert attrs["total_events_requested"] == truth[1].sum()
            assert attrs["total_events_achieved"] == rebuilt[1].sum()
            total_err.append(abs(int(rebuilt[1].sum()) - int(truth[1].sum())))
            if not scenario.censored:
                # Everyone relapses: the rebuilt curve, like the true one, ends at 0.
                assert SurvfuncRight(*rebuilt).surv_prob[-1] == 0
            true_median = median(*truth)
            if np.isfinite(true_median):
                median_err.append(abs(median(*rebuilt) - true_median) / true_median)
            surv_err += [
                abs(survival_at(*rebuilt, d) - survival_at(*truth, d)) for d in (14, 28, 56)
            ]
        (t1, e1), (r1, f1), _ = arms[0]
        (t0, e0), (r0, f0), _ = arms[1]
        log_hr_err.append(abs(np.log(hazard_ratio(r1, f1, r0, f0) / hazard_ratio(t1, e1, t0, e0))))
    median_bound, surv_bound, hr_bound, mean_hr_bound = BOUNDS[scenario.name]
    assert len(median_err) == 2 * len(SEEDS)
    assert max(median_err) < median_bound
    assert max(surv_err) < surv_bound
    assert max(log_hr_err) < hr_bound
    assert np.mean(log_hr_err) < mean_hr_bound
    assert max(total_err) <= TOTAL_EVENTS_BOUND


def test_the_uncensored_scenario_reaches_zero_within_follow_up():
    # The scenario is there to exercise S = 0: check that it does, in every arm and seed.
    scenario = next(s for s in SCENARIOS if not s.censored)
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        for scale in (scenario.scale_treat, scenario.scale_ctrl):
            time, event = simulate_arm(rng, scenario.n, scenario.shape, scale, 0, 0, censored=False)
            t, s, risk_time, n_at_risk = digitize(
                rng, time, event, np.arange(0, 91, 10.0), axis_end=scenario.horizon
            )
            assert event.all() and time.max() < scenario.horizon
            assert s[-1] == 0 and t[-1] == scenario.horizon == risk_time[-1]
            assert n_at_risk[-1] == 0


def test_total_events_is_honoured_when_reachable():
    rng = np.random.default_rng(7)
    time, event = simulate_arm(rng, 150, 1.0, 30.0, 200.0, 90.0)
    args = digitize(rng, time, event, np.arange(0, 91, 10))
    ipd = reconstruct_ipd(*args, total_events=int(event.sum()))
    assert abs(int(ipd["event"].sum()) - int(event.sum())) <= 3
    assert len(ipd) == 150 and ipd["time"].is_monotonic_increasing


def test_a_curve_without_censoring_is_rebuilt_exactly():
    days, t, s = ten_deaths()
    ipd = reconstruct_ipd(t, s, [0, 5], [10, 6])
    assert ipd["event"].sum() == 10
    assert sorted(ipd.loc[ipd["event"] == 1, "time"]) == list(days)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize(
    ("extra_t", "extra_s", "risk_time", "n_at_risk"),
    [
        # The digitizer stops where the curve reaches 0.
        ([], [], [0, 5], [10, 6]),
        # It follows the axis on to day 20; the at-risk table runs on with zeros.
        ([15, 20], [0, 0], [0, 5, 10, 15, 20], [10, 6, 1, 0, 0]),
        # A risk time falls between the last drop and more points on the axis.
        ([10.5, 12, 14], [0, 0, 0], [0, 5, 11, 12, 14], [10, 6, 0, 0, 0]),
    ],
    ids=["ends at zero", "axis to day 20", "risk rows on the axis"],
)
def test_a_curve_reaching_zero_rebuilds_every_event(extra_t, extra_s, risk_time, n_at_risk):
    days, t, s = ten_deaths()
    ipd = reconstruct_ipd(np.r_[t, extra_t], np.r_[s, extra_s], risk_time, n_at_risk)
    # Coordinates at S = 0 after the last death add no one: ten events on days 1..10.
    assert ipd["time"].tolist() == days.tolist()
    assert ipd["event"].tolist() == [1] * 10
    assert ipd.attrs == {"total_events_requested": None, "total_events_achieved": 10}


@pytest.mark.filterwarnings("error")
def test_a_curve_read_at_its_bottom_corners_reaching_zero():
    # Only the lower corner of each step: the interval from day 10 starts at S = 0.
    days = np.arange(1, 11, dtype=float)
    t, s = np.r_[0, days, 20], np.r_[1, 1 - days / 10, 0]
    ipd = reconstruct_ipd(t, s, [0, 5, 10, 15, 20], [10, 6, 1, 0, 0], total_events=10)
    assert sorted(ipd.loc[ipd["event"] == 1, "time"]) == days.tolist()
    assert ipd.attrs == {"total_events_requested": 10, "total_events_achieved": 10}


@pytest.mark.parametrize("total", [10, None])
def test_a_total_the_curve_gives_is_reported_as_met(total):
    _, t, s = ten_deaths()
    ipd = reconstruct_ipd(t, s, [0, 5], [10, 6], total_events=total)
    assert ipd.attrs["total_events_requested"] == total
    assert ipd.attrs["total_events_achieved"] == 10 == ipd["event"].sum()


@pytest.mark.parametrize(
    ("curve", "risk", "total", "achieved"),
    [
        # Days 1..4 already hold 4 events before the last interval: 3 cannot be met.
        ("ten deaths", ([0, 5], [10, 6]), 3, 4),
        # The curve stops at 0.5 of 10: there are no censorings to turn into events.
        ("half", ([0], [10]), 8, 5),
        # The last interval is one coordinate, with no gap to censor in: 3 events there.
        ("one-point last interval", ([0, 3], [10, 5]), 5, 7),
    ],
)
def test_a_total_the_curve_cannot_give_is_reported(curve, risk, total, achieved):
    t, s = {
        "ten deaths": ten_deaths()[1:],
        "half": (np.arange(6.0), np.r_[1, 1 - np.arange(1, 6) / 10]),
        "one-point last interval": ([0, 1, 2, 3], [1, 0.8, 0.6, 0.2]),
    }[curve]
    ipd = reconstruct_ipd(t, s, *risk, total_events=total)
    assert ipd.attrs["total_events_requested"] == total
    assert ipd.attrs["total_events_achieved"] == achieved == ipd["event"].sum()
    assert len(ipd) == risk[1][0]


RISING = "numbers at risk cannot rise"


@pytest.mark.parametrize(
    ("n_at_risk", "message"),
    [
        ([120, 95, 101, 60], f"at-risk: row 3, column 'n_at_risk', value 101: {RISING}"),
        # Counts above a million were shown with six digits ("value 1e+06").
        (
            [1_000_000, 1_000_000, 1_000_001, 5],
            f"at-risk: row 3, column 'n_at_risk', value 1000001: {RISING}",
        ),
        # A missing count hid the rise after it (no row was named); the missing cell is first.
        (
            [120, np.nan, 130, 60],
            "at-risk: row 2, column 'n_at_risk', value nan: a finite number is required",
        ),
    ],
)
def test_a_rising_at_risk_row_is_named(n_at_risk, message):
    with pytest.raises(CurveInputError) as raised:
        reconstruct_ipd([0, 10, 20, 30], [1, 0.8, 0.6, 0.5], [0, 10, 20, 30], n_at_risk)
    assert str(raised.value) == message


CURVE = ([0, 1, 2], [1, 0.9, 0.8])
RISK = ([0, 1], [10, 8])
INF, NAN = float("inf"), float("nan")


@pytest.mark.parametrize(
    ("curve", "risk", "total", "message"),
    [
        # Survival outside [0, 1].
        (([0, 1, 2], [1, 0.9, 1.2]), RISK, None, "curve: row 3, column 'survival', value 1.2: "
         "survival must lie between 0 and 1"),
        (([0, 1, 2], [1, 0.9, -0.1]), RISK, None, "curve: row 3, column 'survival', value -0.1: "
         "survival must lie between 0 and 1"),
        # Times decreasing, a rising curve.
        (([0, 2, 1], [1, 0.9, 0.8]), RISK, None, "curve: row 3, column 'time', value 1: "
         "times must not decrease"),
        (([0, 1, 2], [1, 0.8, 0.9]), RISK, None, "curve: row 3, column 'survival', value 0.9: "
         "a Kaplan-Meier curve cannot rise"),
        (CURVE, ([0, 1, 1], [10, 8, 7]), None, "at-risk: row 3, column 'time', value 1: "
         "times must increase"),
        # Negative or non-integer at-risk numbers.
        (CURVE, ([0, 1], [10, -1]), None, "at-risk: row 2, column 'n_at_risk', value -1: "
         "numbers at risk must be non-negative integers"),
        (CURVE, ([0, 1], [10, 7.5]), None, "at-risk: row 2, column 'n_at_risk', value 7.5: "
         "numbers at risk must be non-negative integers"),
        # NaN or infinite values anywhere.
        (([0, NAN, 2], [1, 0.9, 0.8]), RISK, None, "curve: row 2, column 'time', value nan: "
         "a finite number is required"),
        (([0, 1, INF], [1, 0.9, 0.8]), RISK, None, "curve: row 3, column 'time', value inf: "
         "a finite number is required"),
        (([0, 1, 2], [1, NAN, 0.8]), RISK, None, "curve: row 2, column 'survival', value nan: "
         "a finite number is required"),
        (([0, 1, 2], [1, 0.9, -INF]), RISK, None, "curve: row 3, column 'survival', value -inf: "
         "a finite number is required"),
        (CURVE, ([0, NAN], [10, 8]), None, "at-risk: row 2, column 'time', value nan: "
         "a finite number is required"),
        (CURVE, ([0, 1], [INF, 8]), None, "at-risk: row 1, column 'n_at_risk', value inf: "
         "a finite number is required"),
        (([0, None, 2], [1, 0.9, 0.8]), RISK, None, "curve: row 2, column 'time', value nan: "
         "a finite number is required"),
        (CURVE, RISK, NAN, "total_events: value nan: must be a whole number between 0 and the "
         "number at risk at time 0 (10)"),
        # Not numbers at all.
        (([0, "one", 2], [1, 0.9, 0.8]), RISK, None, "curve: row 2, column 'time', value 'one': "
         "not a number"),
        (CURVE, RISK, "ten", "total_events: value 'ten': not a number"),
        # Empty tables, too short or of unequal columns.
        (([], []), RISK, None, "curve: row 1, column 'time', value missing: a curve needs at "
         "least two coordinates, the first at time 0, survival 1"),
        (([0], [1]), RISK, None, "curve: row 2, column 'time', value missing: a curve needs at "
         "least two coordinates, the first at time 0, survival 1"),
        (CURVE, ([], []), None, "at-risk: row 1, column 'time', value missing: the at-risk "
         "table needs at least its row at time 0"),
        (([0, 1, 2], [1, 0.9]), RISK, None, "curve: row 3, column 'survival', value missing: "
         "time and survival must have the same number of rows"),
        (CURVE, ([0, 1], [10]), None, "at-risk: row 2, column 'n_at_risk', value missing: "
         "time and n_at_risk must have the same number of rows"),
        (([[0, 1]], [1, 0.9]), RISK, None, "curve: column 'time': expected one column of "
         "numbers, got shape (1, 2)"),
        # Where the curve and the table must start.
        (([1, 2], [0.9, 0.8]), RISK, None, "curve: row 1, column 'time', value 1: the first "
         "coordinate must be time 0, survival 1"),
        (([0, 2], [0.95, 0.8]), RISK, None, "curve: row 1, column 'survival', value 0.95: the "
         "first coordinate must be time 0, survival 1"),
        (CURVE, ([1], [10]), None, "at-risk: row 1, column 'time', value 1: the first row "
         "must be time 0"),
        (CURVE, ([0], [0]), None, "at-risk: row 1, column 'n_at_risk', value 0: no one is at "
         "risk at time 0"),
        # A reported total outside what the table allows.
        (CURVE, RISK, 11, "total_events: value 11: must be a whole number between 0 and the "
         "number at risk at time 0 (10)"),
        (CURVE, RISK, 2.5, "total_events: value 2.5: must be a whole number between 0 and the "
         "number at risk at time 0 (10)"),
        # A total the curve rules out: none on a falling curve (all were censored silently),
        # some on a flat one, everyone on one that stays above 0.
        (CURVE, RISK, 0, "total_events: value 0: the curve falls to 0.8 (curve row 3), so at "
         "least one event happened"),
        (([0, 1, 2], [1, 1, 1]), RISK, 2, "total_events: value 2: the curve never falls below "
         "1, so it shows no events"),
        (CURVE, RISK, 10, "total_events: value 10: the curve falls to 0.8 (curve row 3), above "
         "0, so not all 10 at risk at time 0 had an event"),
        # What float() reads but a table does not hold as a number.
        (([0, "\u0661", 2], [1, 0.9, 0.8]), RISK, None, "curve: row 2, column 'time', value "
         "'\u0661': not a number"),
        (([0, "1_0", 20], [1, 0.9, 0.8]), RISK, None, "curve: row 2, column 'time', value "
         "'1_0': not a number"),
        (CURVE, ([0, 1], [True, 8]), None, "at-risk: row 1, column 'n_at_risk', value True: "
         "not a number"),
        (CURVE, RISK, True, "total_events: value True: not a number"),
        # Beyond the bounds on the work.
        (([0, 1, 2e12], [1, 0.9, 0.8]), RISK, None, "curve: row 3, column 'time', value "
         "2000000000000: times above 1e+12 are refused"),
        (CURVE, ([0], [1_000_001]), None, "at-risk: row 1, column 'n_at_risk', value 1000001: "
         "more than 1000000 patients; the reconstruction is bounded to 1000000"),
        (CURVE, ([0], [1e9]), None, "at-risk: row 1, column 'n_at_risk', value 1000000000: "
         "more than 1000000 patients; the reconstruction is bounded to 1000000"),
    ],
)  # fmt: skip
def test_invalid_input_names_table_row_column_and_value(curve, risk, total, message):
    with pytest.raises(CurveInputError) as raised:
        reconstruct_ipd(*curve, *risk, total_events=total)
    assert str(raised.value) == message


def test_more_rows_than_the_bound_are_refused_before_any_work():
    time = np.arange(MAX_ROWS + 1.0)
    survival = np.linspace(1, 0.5, MAX_ROWS + 1)
    with pytest.raises(CurveInputError) as raised:
        reconstruct_ipd(time, survival, [0], [10])
    assert str(raised.value) == (
        f"curve: row {MAX_ROWS + 1}, column 'time', value {MAX_ROWS}: more than {MAX_ROWS} "
        f"rows; the reconstruction is bounded to {MAX_ROWS}"
    )


def test_an_at_risk_table_longer_than_its_bound_is_refused():
    rows = MAX_RISK_ROWS + 1
    with pytest.raises(CurveInputError) as raised:
        reconstruct_ipd(*CURVE, np.arange(rows, dtype=float), np.full(rows, 10))
    assert str(raised.value) == (
        f"at-risk: row {rows}, column 'time', value {rows - 1}: more than {MAX_RISK_ROWS} "
        f"rows; the reconstruction is bounded to {MAX_RISK_ROWS}"
    )


def test_the_bounds_themselves_are_accepted():
    days = np.linspace(0, 100, MAX_ROWS)
    survival = np.r_[1.0, np.linspace(0.999, 0.5, MAX_ROWS - 1)]
    ipd = reconstruct_ipd(days, survival, [0, 50], [MAX_PATIENTS, MAX_PATIENTS // 2])
    assert len(ipd) == MAX_PATIENTS
    assert ipd["event"].sum() == ipd.attrs["total_events_achieved"] > 0


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("total", [None, 60])
@pytest.mark.parametrize(
    "time", [[0, 1e-320, 1, 2], [0, 5e-324, 1e-300, 1e12]], ids=["subnormal gap", "1e-300 span"]
)
def test_gaps_too_narrow_for_a_float_ratio_do_not_overflow(time, total):
    """A first gap of 1e-320 made the saturation count and the last interval's rate infinite
    (OverflowError converting them to int); the curve is still rebuilt, one row a patient."""
    ipd = reconstruct_ipd(time, [1, 0.9, 0.5, 0.4], [0, time[2]], [100, 10], total_events=total)
    assert len(ipd) == 100
    assert ipd.attrs["total_events_achieved"] == ipd["event"].sum() > 0


def test_spread_censoring_is_counted_as_the_times_themselves_fall():
    """The counts per coordinate equal those of the materialized times (R's hist bins)."""
    rng = np.random.default_rng(5)
    for _ in range(2000):
        breaks = np.cumsum(rng.choice([0.0, 1e-320, 0.1, 1 / 3, 1.0, 3.7], rng.integers(2, 10)))
        start, end, count = breaks[0], breaks[-1], int(rng.integers(1, 2000))
        times = start + np.arange(1, count + 1) * (end - start) / (count + 1)
        bins = np.clip(np.searchsorted(breaks, times, side="left") - 1, 0, breaks.size - 2)
        expected = np.bincount(bins, minlength=breaks.size - 1)
        counted = np.diff(np.r_[0, _spread_at_or_before(start, end, count, breaks[1:-1]), count])
        assert counted.tolist() == expected.tolist()
    # Ten billion times, as a climbing adjustment tried, without holding them.
    assert _spread_at_or_before(0.0, 10.0, 10**10, np.array([5.0])).tolist() == [5 * 10**9]


def test_adjustments_stop_within_the_walk_budget(monkeypatch):
    """A total far below the curve's events made the censoring climb through 10,000
    adjustments of 3,000 coordinates (97 s); the walk budget stops it with the best count."""
    monkeypatch.setattr(km_reconstruction, "MAX_WALK_STEPS", 60_000)
    walked = []
    walk = km_reconstruction._walk

    def counting(state, first, *rest):
        walked.append(rest[1] - first)
        return walk(state, first, *rest)

    monkeypatch.setattr(km_reconstruction, "_walk", counting)
    time = np.linspace(0, 100, 3000)
    survival = np.r_[1.0, np.exp(-time[1:] / 80)]
    ipd = reconstruct_ipd(time, survival, [0], [100_000], total_events=1000)
    charged = sum(walked) + len(walked) * km_reconstruction.WALK_OVERHEAD
    # It stops at the first adjustment past the budget, then refits the best count once.
    assert 60_000 <= charged <= 60_000 + 2 * (3000 + km_reconstruction.WALK_OVERHEAD)
    assert len(ipd) == 100_000
    assert ipd.attrs["total_events_achieved"] == ipd["event"].sum() > 1000


@st.composite
def digitized_curves(draw):
    """Any valid input: a non-increasing curve (maybe to 0 and along the axis), any table."""
    n = draw(st.integers(1, 300))
    points = draw(st.integers(1, 30))
    gaps = draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 3.7]), min_size=points, max_size=points))
    levels = draw(st.lists(st.floats(0, 1), min_size=points, max_size=points))
    on_axis = draw(st.integers(0, points))  # the last points read on the axis, at 0
    time = np.r_[0.0, np.cumsum(gaps)]
    survival = np.r_[1.0, np.sort(levels)[::-1]]
    survival[len(survival) - on_axis :] = 0.0
    risk_time = np.unique(np.r_[0.0, draw(st.lists(st.floats(0.1, 120), max_size=12))])
    drops = draw(st.lists(st.integers(0, 60), min_size=risk_time.size - 1, max_size=12))
    n_at_risk = np.maximum(n - np.cumsum(np.r_[0, drops[: risk_time.size - 1]]), 0)
    # Any total the curve allows: some events once it falls, not everyone unless it reaches 0.
    falls, reaches_zero = survival[-1] < 1, survival[-1] == 0
    low, high = int(falls), n if reaches_zero else (n - 1 if falls else 0)
    total = draw(st.none() | st.integers(low, high)) if low <= high else None
    return time, survival, risk_time, n_at_risk, total


@pytest.mark.filterwarnings("error")
@settings(max_examples=300, deadline=None)
@given(digitized_curves())
def test_any_valid_input_gives_one_row_per_patient(case):
    time, survival, risk_time, n_at_risk, total = case
    ipd = reconstruct_ipd(time, survival, risk_time, n_at_risk, total_events=total)
    assert len(ipd) == n_at_risk[0]
    assert ipd["time"].between(0, time[-1]).all() and ipd["time"].is_monotonic_increasing
    assert ipd.attrs["total_events_requested"] == total
    assert ipd.attrs["total_events_achieved"] == ipd["event"].sum()
    if survival[-1] == 0:
        # No one is left at risk once the curve reaches 0: no one is placed after it.
        assert ipd["time"].max() <= time[np.flatnonzero(survival == 0)[0]]


def test_command_line(tmp_path, capsys):
    rng = np.random.default_rng(3)
    time, event = simulate_arm(rng, 80, 1.0, 30.0, 200.0, 90.0)
    t, s, rt, nr = digitize(rng, time, event, np.arange(0, 91, 15))
    pd.DataFrame({"time": t, "survival": s}).to_csv(tmp_path / "curve.csv", index=False)
    pd.DataFrame({"time": rt, "n_at_risk": nr}).to_csv(tmp_path / "risk.csv", index=False)
    out = tmp_path / "ipd.csv"
    args = ["reconstruct-km", "--curve", str(tmp_path / "curve.csv")]
    args += ["--at-risk", str(tmp_path / "risk.csv"), "--total-events", str(event.sum())]
    assert main([*args, "--out", str(out)]) == 0
    ipd = pd.read_csv(out)
    assert list(ipd.columns) == ["time", "event"] and len(ipd) == 80


def test_command_line_names_the_bad_cell(tmp_path, capsys):
    pd.DataFrame({"time": [0, 5, 10], "survival": [1, 0.8, 1.3]}).to_csv(
        tmp_path / "c.csv", index=False
    )
    pd.DataFrame({"time": [0], "n_at_risk": [20]}).to_csv(tmp_path / "r.csv", index=False)
    code = main(
        ["reconstruct-km", "--curve", str(tmp_path / "c.csv"), "--at-risk", str(tmp_path / "r.csv")]
    )
    assert code == 2
    assert "c.csv: row 3, column 'survival', value 1.3" in capsys.readouterr().err
