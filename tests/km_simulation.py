"""Simulated trials for validating the Kaplan-Meier reconstruction (Guyot et al., 2012, section
"Validation"): the truth is known, the curve is drawn and read as a digitizer would."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.duration.survfunc import SurvfuncRight


@dataclass(frozen=True)
class Scenario:
    """Two arms with Weibull times (shape 1 = exponential) and uniform censoring."""

    name: str
    shape: float
    scale_treat: float
    scale_ctrl: float
    n: int = 200
    censor_max: float = 120.0
    risk_every: float = 10.0
    horizon: float = 90.0


SCENARIOS = [
    Scenario("exponential", 1.0, 40.0, 15.0),
    Scenario("exponential, light censoring", 1.0, 30.0, 20.0, censor_max=400.0),
    Scenario("weibull increasing hazard", 1.6, 45.0, 25.0),
    Scenario("weibull decreasing hazard", 0.7, 50.0, 18.0),
    Scenario("small trial", 1.0, 35.0, 14.0, n=60, risk_every=15.0),
]


def simulate_arm(rng, n, shape, scale, censor_max, horizon):
    """Event times, censored at uniform times and at the end of follow-up."""
    event = scale * rng.weibull(shape, n)
    censor = np.minimum(rng.uniform(0, censor_max, n), horizon)
    return np.minimum(event, censor), (event <= censor).astype(int)


def digitize(rng, time, event, risk_times, noise=0.003):
    """Corner points of the KM step function with digitizer error, and the at-risk table."""
    fit = SurvfuncRight(time, event)
    t = np.repeat(fit.surv_times, 2)
    s = np.ravel(np.column_stack([np.r_[1.0, fit.surv_prob[:-1]], fit.surv_prob]))
    t = np.r_[0.0, t * (1 + rng.normal(0, 0.002, t.size))]
    s = np.r_[1.0, np.clip(s + rng.normal(0, noise, s.size), 0, 1)]
    # A digitizer's readings are made monotone before use (Guyot: "ensure monotonicity").
    t, s = np.maximum.accumulate(t), np.minimum.accumulate(s)
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
