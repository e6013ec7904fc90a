"""Simulated trials for validating the Kaplan-Meier reconstruction (Guyot et al., 2012, section
"Validation"): the truth is known, the curve is drawn and read as a digitizer would."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.duration.survfunc import SurvfuncRight


@dataclass(frozen=True)
class Scenario:
    """Two arms with Weibull times (shape 1 = exponential) and uniform censoring.

    Without censoring (``censored=False``) every patient is followed until the event, so the
    Kaplan-Meier curve ends at 0; ``horizon`` is then only the end of the figure's time axis.
    """

    name: str
    shape: float
    scale_treat: float
    scale_ctrl: float
    n: int = 200
    censor_max: float = 120.0
    risk_every: float = 10.0
    horizon: float = 90.0
    censored: bool = True


SCENARIOS = [
    Scenario("exponential", 1.0, 40.0, 15.0),
    Scenario("exponential, light censoring", 1.0, 30.0, 20.0, censor_max=400.0),
    Scenario("weibull increasing hazard", 1.6, 45.0, 25.0),
    Scenario("weibull decreasing hazard", 0.7, 50.0, 18.0),
    Scenario("small trial", 1.0, 35.0, 14.0, n=60, risk_every=15.0),
    # Everyone relapses, most within two weeks: both curves reach 0 (median 7 and 3.5 days).
    Scenario("no censoring, curve reaches 0", 1.0, 10.0, 5.0, censored=False),
]


def simulate_arm(rng, n, shape, scale, censor_max, horizon, censored=True):
    """Event times, censored at uniform times and at the end of follow-up (if ``censored``)."""
    event = scale * rng.weibull(shape, n)
    if not censored:
        return event, np.ones(n, dtype=int)
    censor = np.minimum(rng.uniform(0, censor_max, n), horizon)
    return np.minimum(event, censor), (event <= censor).astype(int)


def digitize(rng, time, event, risk_times, noise=0.003, axis_end=None):
    """Corner points of the KM step function with digitizer error, and the at-risk table.

    A curve that reaches 0 drops onto the time axis, which is read as 0. With ``axis_end``,
    the figure's axis runs on to that time: the reader also takes the curve's end there (on
    the axis, survival 0) and the at-risk table's rows up to it (0 at risk).
    """
    fit = SurvfuncRight(time, event)
    t = np.repeat(fit.surv_times, 2)
    s_true = np.ravel(np.column_stack([np.r_[1.0, fit.surv_prob[:-1]], fit.surv_prob]))
    t = np.r_[0.0, t * (1 + rng.normal(0, 0.002, t.size))]
    s = np.clip(s_true + rng.normal(0, noise, s_true.size), 0, 1)
    s = np.r_[1.0, np.where(s_true == 0, 0.0, s)]
    # A digitizer's readings are made monotone before use (Guyot: "ensure monotonicity").
    t, s = np.maximum.accumulate(t), np.minimum.accumulate(s)
    if axis_end is not None and s[-1] == 0 and axis_end > t[-1]:
        t, s = np.r_[t, axis_end], np.r_[s, 0.0]
    risk_times = risk_times[risk_times <= t[-1]]
    n_at_risk = np.array([(time >= r).sum() for r in risk_times])
    return t, s, risk_times, n_at_risk


def median(time, event) -> float:
    return float(SurvfuncRight(time, event).quantile(0.5))


def survival_at(time, event, day) -> float:
    fit = SurvfuncRight(time, event)
    before = fit.surv_times <= day
    return float(fit.surv_prob[before][-1]) if before.any() else 1.0


def hazard_ratio(t1, e1, t0, e0) -> float:
    group = np.r_[np.ones(t1.size), np.zeros(t0.size)]
    model = PHReg(np.r_[t1, t0], group[:, None], status=np.r_[e1, e0], ties="breslow")
    return float(np.exp(model.fit().params[0]))
