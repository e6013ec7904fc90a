"""The Kaplan-Meier reconstruction validated as Guyot et al. (2012) validated theirs.

Simulated trials with known truth (exponential and Weibull times, uniform censoring, two arms
of 200, and a small trial of 60): the KM curve is drawn, read as a digitizer would (its corner
points with SD 0.003 noise in survival and 0.2% in time, made monotone), rebuilt with the at-risk
table every 10 days and the total events, and compared with the true data over 20 seeds per
scenario.

Stated accuracy (worst case over the 20 seeds, measured when the tests were written; the
bounds below leave a margin): median within 5% (15% for n = 60), survival at days 14, 28 and 56
within 0.02 (0.055), log hazard ratio within 0.07 (0.09); on average the log HR is off by
under 0.03 (0.035 for n = 60).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from km_simulation import (
    SCENARIOS,
    digitize,
    hazard_ratio,
    median,
    simulate_arm,
    survival_at,
)

from ketamine_meta.cli import main
from ketamine_meta.km_reconstruction import CurveInputError, reconstruct_ipd

SEEDS = range(20)
# Bounds per trial size: worst-case median (relative), survival (absolute) and |log HR|, and
# the mean |log HR| over the seeds.
BOUNDS = {200: (0.08, 0.03, 0.10, 0.03), 60: (0.20, 0.07, 0.12, 0.05)}


def rebuild(rng, scenario, scale):
    time, event = simulate_arm(
        rng, scenario.n, scenario.shape, scale, scenario.censor_max, scenario.horizon
    )
    risk = np.arange(0, scenario.horizon + 1, scenario.risk_every)
    ipd = reconstruct_ipd(*digitize(rng, time, event, risk), total_events=int(event.sum()))
    return (time, event), (ipd["time"].to_numpy(), ipd["event"].to_numpy())


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_rebuilt_data_reproduce_the_truth(scenario):
    median_err, surv_err, log_hr_err = [], [], []
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        arms = [rebuild(rng, scenario, s) for s in (scenario.scale_treat, scenario.scale_ctrl)]
        for truth, rebuilt in arms:
            assert rebuilt[0].size == truth[0].size  # one row per patient at risk at time 0
            true_median = median(*truth)
            if np.isfinite(true_median):
                median_err.append(abs(median(*rebuilt) - true_median) / true_median)
            surv_err += [
                abs(survival_at(*rebuilt, d) - survival_at(*truth, d)) for d in (14, 28, 56)
            ]
        (t1, e1), (r1, f1) = arms[0]
        (t0, e0), (r0, f0) = arms[1]
        log_hr_err.append(abs(np.log(hazard_ratio(r1, f1, r0, f0) / hazard_ratio(t1, e1, t0, e0))))
    median_bound, surv_bound, hr_bound, mean_hr_bound = BOUNDS[scenario.n]
    assert max(median_err) < median_bound
    assert max(surv_err) < surv_bound
    assert max(log_hr_err) < hr_bound
    assert np.mean(log_hr_err) < mean_hr_bound


def test_total_events_is_honoured_when_reachable():
    rng = np.random.default_rng(7)
    time, event = simulate_arm(rng, 150, 1.0, 30.0, 200.0, 90.0)
    args = digitize(rng, time, event, np.arange(0, 91, 10))
    ipd = reconstruct_ipd(*args, total_events=int(event.sum()))
    assert abs(int(ipd["event"].sum()) - int(event.sum())) <= 3
    assert len(ipd) == 150 and ipd["time"].is_monotonic_increasing


def test_a_curve_without_censoring_is_rebuilt_exactly():
    # 10 patients, events at days 1..10, no censoring: the KM curve steps by 0.1.
    days = np.arange(1, 11, dtype=float)
    t = np.r_[0.0, np.repeat(days, 2)]
    s = np.r_[1.0, np.ravel(np.column_stack([1 - (days - 1) / 10, 1 - days / 10]))]
    ipd = reconstruct_ipd(t, s, [0, 5], [10, 6])
    assert ipd["event"].sum() == 10
    assert sorted(ipd.loc[ipd["event"] == 1, "time"]) == list(days)


@pytest.mark.parametrize(
    ("time", "survival", "risk_time", "n_at_risk", "message"),
    [
        ([0, 1, 2], [1, 0.9, 1.2], [0], [10], "row 3, column 'survival', value 1.2"),
        ([0, 2, 1], [1, 0.9, 0.8], [0], [10], "row 3, column 'time', value 1: times must not"),
        ([0, 1, 2], [1, 0.8, 0.9], [0], [10], "a Kaplan-Meier curve cannot rise"),
        ([0, 1, 2], [1, 0.9, 0.8], [0, 1], [10, 12], "row 2, column 'n_at_risk'"),
        ([1, 2], [0.9, 0.8], [0], [10], "first coordinate must be time 0"),
        ([0, 1], [1, 0.9], [1], [10], "first row must be time 0"),
    ],
)
def test_impossible_curves_are_refused(time, survival, risk_time, n_at_risk, message):
    with pytest.raises(CurveInputError, match=message.replace("(", r"\(")):
        reconstruct_ipd(time, survival, risk_time, n_at_risk)


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
