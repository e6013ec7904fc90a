r"""Fixed-effect pooling of 2x2 tables for sparse data: Mantel-Haenszel and Peto.

Both work on the raw counts, so studies with a zero cell need no continuity correction for
the pooled estimate. The heterogeneity Q of Mantel-Haenszel uses the study-level estimates of
:mod:`ketamine_meta.stats.effect_sizes` (``add = 1/2, to = "only0"``, studies with no events or
only events in both arms dropped), as metafor ``rma.mh`` does. Compared with metafor in
``tests/test_metafor_parity.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from ketamine_meta.stats.distributions import chi2_sf, norm_sf
from ketamine_meta.stats.effect_sizes import (
    log_odds_ratio,
    log_risk_ratio,
    peto_terms,
    risk_difference,
)
from ketamine_meta.stats.model import critical_value

SparseMeasure = Literal["OR", "RR", "RD"]
STUDY_LEVEL = {"OR": log_odds_ratio, "RR": log_risk_ratio, "RD": risk_difference}


@dataclass(frozen=True)
class FixedEffectResult:
    """A fixed-effect pooled estimate (log scale for OR and RR) with its heterogeneity test.

    Attributes
    ----------
    k : int
        Studies entering the heterogeneity test.
    estimate, se, ci_low, ci_high, statistic, pval : float
        Pooled estimate, its SE, Wald interval, z statistic and p-value.
    q, q_p, i2, h2 : float
        Heterogeneity Q (df ``k - 1``), its p-value, I^2 (percent, from Q) and H^2.
    measure, method : str
    """

    k: int
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    statistic: float
    pval: float
    q: float
    q_p: float
    i2: float
    h2: float
    measure: str
    method: str


def _tables(events1, n1, events2, n2):
    a, n1, c, n2 = (np.asarray(x, dtype=float) for x in (events1, n1, events2, n2))
    return a, n1 - a, c, n2 - c, n1, n2, n1 + n2


def _result(estimate, se, q, k, level, measure, method) -> FixedEffectResult:
    crit = critical_value(level)
    z = estimate / se
    return FixedEffectResult(
        k=int(k),
        estimate=float(estimate),
        se=float(se),
        ci_low=float(estimate - crit * se),
        ci_high=float(estimate + crit * se),
        statistic=float(z),
        pval=float(2 * norm_sf(abs(z))),
        q=float(q),
        q_p=float(chi2_sf(q, k - 1)) if k > 1 else 1.0,
        i2=float(max(0.0, 100 * (q - (k - 1)) / q)) if k > 1 and q > 0 else 0.0,
        h2=float(q / (k - 1)) if k > 1 else 1.0,
        measure=measure,
        method=method,
    )


def mantel_haenszel(
    events1: ArrayLike,
    n1: ArrayLike,
    events2: ArrayLike,
    n2: ArrayLike,
    measure: SparseMeasure = "OR",
    level: float = 0.95,
) -> FixedEffectResult:
    r"""Mantel-Haenszel pooled odds ratio, risk ratio or risk difference.

    With cells :math:`a_i, b_i, c_i, d_i` and :math:`N_i = n_{1i} + n_{2i}`:

    .. math::

        OR_{MH} = \frac{\sum a_i d_i / N_i}{\sum b_i c_i / N_i}, \quad
        RR_{MH} = \frac{\sum a_i n_{2i} / N_i}{\sum c_i n_{1i} / N_i}, \quad
        RD_{MH} = \frac{\sum (a_i n_{2i} - c_i n_{1i}) / N_i}{\sum n_{1i} n_{2i} / N_i}

    The variance of log OR is Robins, Breslow & Greenland's (1986); of log RR, Greenland &
    Robins' (1985); of RD, Sato, Greenland & Robins' (1989).

    References
    ----------
    Mantel, N., & Haenszel, W. (1959). *JNCI*, 22(4), 719-748. Robins, J., Breslow, N., &
    Greenland, S. (1986). *Biometrics*, 42(2), 311-323. Greenland, S., & Robins, J. M. (1985).
    *Biometrics*, 41(1), 55-68. Sato, T., Greenland, S., & Robins, J. M. (1989). *Biometrics*,
    45(4), 1323-1324. metafor ``rma.mh``.
    """
    a, b, c, d, n1, n2, n = _tables(events1, n1, events2, n2)
    if measure == "OR":
        p, q_ = (a + d) / n, (b + c) / n
        r, s = a * d / n, b * c / n
        big_r, big_s = r.sum(), s.sum()
        estimate = np.log(big_r / big_s)
        var = 0.5 * (
            (p * r).sum() / big_r**2
            + (p * s + q_ * r).sum() / (big_r * big_s)
            + (q_ * s).sum() / big_s**2
        )
    elif measure == "RR":
        big_r, big_s = (a * n2 / n).sum(), (c * n1 / n).sum()
        estimate = np.log(big_r / big_s)
        var = (n1 * n2 * (a + c) / n**2 - a * c / n).sum() / (big_r * big_s)
    elif measure == "RD":
        denom = (n1 * n2 / n).sum()
        estimate = (a * n2 / n - c * n1 / n).sum() / denom
        var = (
            estimate
            * (c * (n1 / n) ** 2 - a * (n2 / n) ** 2 + n1 * n2 * (n2 - n1) / (2 * n**2)).sum()
            + (a * (n2 - c) / n + c * (n1 - a) / n).sum() / 2
        ) / denom**2
    else:
        raise ValueError(f"unknown measure {measure!r}; choose OR, RR or RD")
    yi, vi = STUDY_LEVEL[measure](a, n1, c, n2)
    # Studies without events, or with only events, in both arms carry no information on
    # heterogeneity (metafor: drop00 = TRUE for the study-level estimates).
    keep = ~(((a == 0) & (c == 0)) | ((b == 0) & (d == 0)))
    q = max(0.0, float(np.sum((yi[keep] - estimate) ** 2 / vi[keep])))
    return _result(estimate, np.sqrt(var), q, keep.sum(), level, measure, "MH")


def peto(
    events1: ArrayLike, n1: ArrayLike, events2: ArrayLike, n2: ArrayLike, level: float = 0.95
) -> FixedEffectResult:
    r"""Peto's one-step pooled log odds ratio.

    .. math::

        E_i = \frac{(a_i + c_i) n_{1i}}{N_i}, \quad
        V_i = \frac{(a_i + c_i)(b_i + d_i) n_{1i} n_{2i}}{N_i^2 (N_i - 1)}, \quad
        \log OR_{Peto} = \frac{\sum (a_i - E_i)}{\sum V_i}, \quad SE = \Big(\sum V_i\Big)^{-1/2}

    and :math:`Q = \sum (a_i - E_i)^2 / V_i - (\sum (a_i - E_i))^2 / \sum V_i` over studies
    with :math:`V_i > 0`.

    References
    ----------
    Yusuf, S., Peto, R., Lewis, J., Collins, R., & Sleight, P. (1985). Beta blockade during and
    after myocardial infarction. *Progress in Cardiovascular Diseases*, 27(5), 335-371.
    metafor ``rma.peto``.
    """
    a, b, c, d, *_ = _tables(events1, n1, events2, n2)
    deviation, v = peto_terms(a, b, c, d)
    estimate = deviation.sum() / v.sum()
    informative = v > 0
    q = max(
        0.0,
        float(
            np.sum(deviation[informative] ** 2 / v[informative]) - deviation.sum() ** 2 / v.sum()
        ),
    )
    return _result(estimate, np.sqrt(1 / v.sum()), q, informative.sum(), level, "OR", "Peto")
