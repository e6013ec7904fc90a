r"""The specification of a random-effects model: tau^2 estimator, inference and confidence level.

metafor's fitting functions take the model as three arguments (``rma(yi, vi, method = "REML",
test = "knha", level = 95)``), and its fitted objects keep them (``x$method``, ``x$test``,
``x$level``) so that post-estimation functions (``leave1out``, ``influence``, ``cumul``,
``permutest``, ``regtest``, ``trimfill``, ``confint``) refit with the same model without being
told again. :class:`ModelSpec` is that triple here: validated and normalised once, carried by
every fitted result of the engine, and the one place the critical value of an interval is
computed (:meth:`ModelSpec.crit`, :func:`critical_value`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from ketamine_meta.stats.distributions import norm_ppf, t_ppf
from ketamine_meta.stats.tau2 import ESTIMATORS, Tau2Method

TestMethod = Literal["knha", "adhoc", "z"]
#: Inference for the pooled estimate: Hartung-Knapp(-Sidik-Jonkman), its ad hoc truncated form,
#: or Wald z (metafor ``test = "knha"``, ``"adhoc"``, ``"z"``).
TESTS: tuple[str, ...] = ("knha", "adhoc", "z")


def confidence_level(value: float) -> float:
    """A confidence level as a fraction: ``value`` in (0, 1), or a percentage as metafor reads it.

    metafor takes ``level = 95`` to mean 0.95; percentages from 50 up to (not including) 100
    are read that way. Everything else (NaN, infinities, 0, 1, negative values, 2, 100) is
    refused, since it would silently give empty or meaningless intervals.

    Raises
    ------
    ValueError
        If ``value`` is not such a level.
    """
    value = float(value)
    if 0 < value < 1:
        return value
    if 50 <= value < 100:
        return value / 100
    raise ValueError(
        f"{value!r} is not a confidence level: give a fraction in (0, 1) (0.95) or a "
        "percentage in [50, 100) (95)"
    )


def critical_value(level: ArrayLike, df: ArrayLike | None = None):
    r"""Critical value of a two-sided interval at ``level`` (a fraction in (0, 1)).

    .. math::

        c = \Phi^{-1}\Big(\frac{1 + \text{level}}{2}\Big) \quad\text{or}\quad
        c = t^{-1}_{df}\Big(\frac{1 + \text{level}}{2}\Big)

    the standard normal quantile without ``df`` (and where ``df`` is infinite), else the
    quantile of Student's t on ``df`` degrees of freedom; ``level`` and ``df`` broadcast. An
    interval is then ``estimate -/+ c SE``.

    With one ``level`` the t quantile is evaluated once per distinct ``df``: it is found by
    iteration (``stdtrit``), and a batch of fits holds few distinct df (one per size of
    meta-analysis), which takes 10^5 critical values from 0.07 s to well under a millisecond.
    The values are the same bits either way.

    References
    ----------
    Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package. *Journal
    of Statistical Software*, 36(3): ``rma.uni`` takes ``qnorm(alpha / 2, lower.tail = FALSE)``,
    or ``qt(alpha / 2, df = k - p, lower.tail = FALSE)`` for a t-based test, with
    ``alpha = 1 - level``.
    """
    upper = 0.5 + np.asarray(level, dtype=float) / 2
    if df is None:
        return norm_ppf(upper)[()]
    df = np.asarray(df, dtype=float)
    if upper.ndim > 0:
        return _normal_or_t(upper, df)
    distinct, position = np.unique(df, return_inverse=True)
    return _normal_or_t(upper, distinct)[position].reshape(df.shape)[()]


def _normal_or_t(upper: np.ndarray, df: np.ndarray) -> np.ndarray:
    """``t_ppf(upper, df)``, and the normal quantile where ``df`` is infinite."""
    infinite = np.isposinf(df)
    # The t quantile at infinite df differs from the normal one in the last bits: the normal
    # quantile is taken there, as metafor does for a z test.
    t = t_ppf(upper, np.where(infinite, 1.0, df))
    return np.asarray(np.where(infinite, norm_ppf(upper), t))


@dataclass(frozen=True)
class ModelSpec:
    r"""A random-effects model, as metafor's ``rma`` arguments ``method``, ``test``, ``level``.

    Validated and normalised once, here: an unknown estimator or test is refused, and a level
    given as a percentage (95) is stored as a fraction (0.95), as metafor reads it. Frozen and
    hashable, so that one specification can be shared by every fit and used as a key.

    Parameters
    ----------
    method : {"REML", "DL", "PM", "ML", "SJ", "EB"}
        Estimator of tau^2 (:mod:`ketamine_meta.stats.tau2`; metafor ``method``).
    test : {"knha", "adhoc", "z"}
        Inference for the coefficients (metafor ``test``): Wald z, or the Hartung-Knapp
        variance scaled by :math:`s^2 = \sum w_i e_i^2 / (k - p)` (truncated at 1 from below
        for ``"adhoc"``) with t intervals and tests on ``k - p`` df.
    level : float
        Confidence level of the confidence and prediction intervals (metafor ``level``): a
        fraction in (0, 1), or a percentage in [50, 100).

    Raises
    ------
    ValueError
        Naming the value, if ``method``, ``test`` or ``level`` is not one of these.

    References
    ----------
    Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package. *Journal
    of Statistical Software*, 36(3), ``rma.uni`` arguments ``method``, ``test`` and ``level``.
    Knapp, G., & Hartung, J. (2003). Improved tests for a random effects meta-regression with
    a single covariate. *Statistics in Medicine*, 22(17), 2693-2710.
    """

    method: Tau2Method = "REML"
    test: TestMethod = "knha"
    level: float = 0.95

    def __post_init__(self) -> None:
        if self.method not in ESTIMATORS:
            raise ValueError(
                f"unknown tau^2 method {self.method!r}; choose from {sorted(ESTIMATORS)}"
            )
        if self.test not in TESTS:
            raise ValueError(f"unknown test {self.test!r}; choose from {list(TESTS)}")
        # The one normalisation of the level; frozen, so set through object.
        object.__setattr__(self, "level", confidence_level(self.level))

    @property
    def arguments(self) -> dict[str, str | float]:
        """``method``, ``test`` and ``level`` as keyword arguments of the engine's fits."""
        return {"method": self.method, "test": self.test, "level": self.level}

    def crit(self, df: ArrayLike | None = None):
        r"""Critical value of the model's two-sided intervals at :attr:`level`.

        .. math::

            c = \Phi^{-1}\Big(\frac{1 + \text{level}}{2}\Big) \text{ for } z, \qquad
            c = t^{-1}_{df}\Big(\frac{1 + \text{level}}{2}\Big) \text{ for knha and adhoc}

        Parameters
        ----------
        df : array_like, optional
            Degrees of freedom of the t distribution (``k - p``) for a t-based test; ignored
            for ``"z"``. Without it (or where it is infinite) the normal quantile is given:
            a Wald interval at the model's level, as the engine uses for a single estimate
            whatever the test (metafor falls back to z when ``k = 1``).

        Returns
        -------
        float or numpy.ndarray
            :func:`critical_value` of :attr:`level` and ``df``.
        """
        return critical_value(self.level, None if self.test == "z" else df)
