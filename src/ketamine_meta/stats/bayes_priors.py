r"""Prior distributions of the Bayesian random-effects model: on tau, and on the pooled effect mu.

The heterogeneity priors are densities of tau (not tau^2) on (0, inf), as bayesmeta's
``tau.prior`` is (Röver 2020, section 2.3). Where a source defines its prior on tau^2, as the
empirical priors of Turner et al. (2015) and Rhodes et al. (2015) do (``log tau^2`` normal or
Student t), the density is transformed to tau: if ``z = log tau^2`` has density ``g`` then

.. math:: p(\tau) = g(2 \log \tau) \, \frac{2}{\tau}.

Each prior also states how fast its density falls in the upper tail (``p(tau) ~ tau^-a``), from
which :mod:`ketamine_meta.stats.bayes` decides whether a posterior is proper and which of its
moments exist, instead of integrating an infinite quantity to a finite number.

References
----------
Röver, C. (2020). Bayesian random-effects meta-analysis using the bayesmeta R package.
*Journal of Statistical Software*, 93(6).
Turner, R. M., Jackson, D., Wei, Y., Thompson, S. G., & Higgins, J. P. T. (2015). Predictive
distributions for between-study heterogeneity and simple methods for their application in
Bayesian meta-analysis. *Statistics in Medicine*, 34(6), 984-998.
Rhodes, K. M., Turner, R. M., & Higgins, J. P. T. (2015). Predictive distributions were
developed for the extent of heterogeneity in meta-analyses of continuous outcome data.
*Journal of Clinical Epidemiology*, 68(1), 52-60.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

LOG_2_OVER_PI = math.log(2 / math.pi)
LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


class PriorError(ValueError):
    """A prior that cannot be used: badly specified, or leaving the posterior improper."""


def _positive(value: float, what: str) -> float:
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise PriorError(f"{what} must be a positive finite number, not {value!r}")
    return value


def _finite(value: float, what: str) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise PriorError(f"{what} must be a finite number, not {value!r}")
    return value


@dataclass(frozen=True)
class HalfNormalPrior:
    r"""Half-normal prior on tau: :math:`p(\tau) = \frac{2}{s}\,\phi(\tau / s)`, tau > 0."""

    scale: float

    def __post_init__(self) -> None:
        _positive(self.scale, "the half-normal prior's scale")

    tail_exponent = math.inf
    log_damped = False
    proper = True

    def log_density(self, tau: ArrayLike) -> NDArray[np.float64]:
        """``log p(tau)`` at each ``tau > 0``."""
        tau = np.asarray(tau, dtype=float)
        return 0.5 * LOG_2_OVER_PI - math.log(self.scale) - 0.5 * (tau / self.scale) ** 2

    def typical_tau(self) -> float:
        """A tau of the prior's own size (its median), which scales the quadrature."""
        return self.scale * float(special.ndtri(0.75))

    def __str__(self) -> str:
        return f"half-normal(scale {self.scale:g}) on tau"


@dataclass(frozen=True)
class HalfCauchyPrior:
    r"""Half-Cauchy prior on tau: :math:`p(\tau) = \frac{2}{\pi s (1 + \tau^2/s^2)}`, tau > 0."""

    scale: float

    def __post_init__(self) -> None:
        _positive(self.scale, "the half-Cauchy prior's scale")

    tail_exponent = 2.0
    log_damped = False
    proper = True

    def log_density(self, tau: ArrayLike) -> NDArray[np.float64]:
        """``log p(tau)`` at each ``tau > 0``."""
        tau = np.asarray(tau, dtype=float)
        return LOG_2_OVER_PI - math.log(self.scale) - np.log1p((tau / self.scale) ** 2)

    def typical_tau(self) -> float:
        """The prior's median, which is its scale."""
        return self.scale

    def __str__(self) -> str:
        return f"half-Cauchy(scale {self.scale:g}) on tau"


@dataclass(frozen=True)
class LogNormalTau2Prior:
    r"""Log-normal prior on tau^2: :math:`\log\tau^2 \sim N(m, s^2)` (Turner et al. 2015)."""

    mean: float
    sd: float

    def __post_init__(self) -> None:
        _finite(self.mean, "the log-normal prior's mean of log tau^2")
        _positive(self.sd, "the log-normal prior's SD of log tau^2")

    # Faster than any power of tau: the density falls as exp(-(log tau)^2).
    tail_exponent = math.inf
    log_damped = False
    proper = True

    def log_density(self, tau: ArrayLike) -> NDArray[np.float64]:
        """``log p(tau)`` at each ``tau > 0``."""
        tau = np.asarray(tau, dtype=float)
        z = (2 * np.log(tau) - self.mean) / self.sd
        return -LOG_SQRT_2PI - math.log(self.sd) - 0.5 * z**2 + math.log(2) - np.log(tau)

    def typical_tau(self) -> float:
        """The prior's median of tau, ``exp(m / 2)``."""
        return math.exp(self.mean / 2)

    def __str__(self) -> str:
        return f"log-normal(mean {self.mean:g}, SD {self.sd:g}) on log tau^2"


@dataclass(frozen=True)
class LogTTau2Prior:
    r"""Log-t prior on tau^2: :math:`(\log\tau^2 - m)/s \sim t_\nu` (Rhodes et al. 2015)."""

    location: float
    scale: float
    df: float

    def __post_init__(self) -> None:
        _finite(self.location, "the log-t prior's location of log tau^2")
        _positive(self.scale, "the log-t prior's scale of log tau^2")
        _positive(self.df, "the log-t prior's degrees of freedom")

    # p(tau) ~ 2 / tau * |2 log tau|^-(df + 1): a power of 1, damped by a power of log tau.
    tail_exponent = 1.0
    log_damped = True
    proper = True

    def log_density(self, tau: ArrayLike) -> NDArray[np.float64]:
        """``log p(tau)`` at each ``tau > 0``."""
        tau = np.asarray(tau, dtype=float)
        z = (2 * np.log(tau) - self.location) / self.scale
        nu = self.df
        log_t = (
            special.gammaln((nu + 1) / 2)
            - special.gammaln(nu / 2)
            - 0.5 * math.log(nu * math.pi)
            - (nu + 1) / 2 * np.log1p(z**2 / nu)
        )
        return log_t - math.log(self.scale) + math.log(2) - np.log(tau)

    def typical_tau(self) -> float:
        """The prior's median of tau, ``exp(m / 2)``."""
        return math.exp(self.location / 2)

    def __str__(self) -> str:
        return (
            f"log-t(location {self.location:g}, scale {self.scale:g}, df {self.df:g}) on log tau^2"
        )


@dataclass(frozen=True)
class UniformTauPrior:
    """The improper uniform prior on tau > 0; proper posteriors need enough trials."""

    tail_exponent = 0.0
    log_damped = False
    proper = False

    def log_density(self, tau: ArrayLike) -> NDArray[np.float64]:
        """``log p(tau)`` at each ``tau > 0``."""
        return np.zeros_like(np.asarray(tau, dtype=float))

    def typical_tau(self) -> float:
        """No scale of its own: the quadrature takes the data's."""
        return math.nan

    def __str__(self) -> str:
        return "uniform (improper) on tau"


TauPrior = HalfNormalPrior | HalfCauchyPrior | LogNormalTau2Prior | LogTTau2Prior | UniformTauPrior


@dataclass(frozen=True)
class NormalMuPrior:
    """Normal prior on the pooled effect mu (or a meta-regression coefficient)."""

    mean: float
    sd: float

    def __post_init__(self) -> None:
        _finite(self.mean, "the normal prior's mean of mu")
        _positive(self.sd, "the normal prior's SD of mu")

    proper = True

    def __str__(self) -> str:
        return f"normal(mean {self.mean:g}, SD {self.sd:g})"


@dataclass(frozen=True)
class UniformMuPrior:
    """The improper uniform prior on mu (bayesmeta's default ``mu.prior``)."""

    proper = False

    def __str__(self) -> str:
        return "uniform (improper)"


MuPrior = NormalMuPrior | UniformMuPrior


def _numbers(text: str, fields: list[str], count: int) -> list[float]:
    if len(fields) != count:
        raise PriorError(f"{text!r}: expected {count} number(s) after the prior's name")
    try:
        return [float(field) for field in fields]
    except ValueError:
        raise PriorError(f"{text!r}: {':'.join(fields)!r} is not a list of numbers") from None


def parse_tau_prior(text: str) -> TauPrior:
    """A heterogeneity prior from its command-line spelling.

    ``halfnormal:SCALE`` and ``halfcauchy:SCALE`` on tau; ``lognormal:MEAN:SD`` (log tau^2
    normal, as Turner et al. 2015 define theirs); ``logt:LOCATION:SCALE:DF`` (log tau^2 Student
    t, as Rhodes et al. 2015); ``uniform`` (improper, on tau).
    """
    name, *fields = text.strip().split(":")
    name = name.lower().replace("-", "").replace("_", "")
    if name == "halfnormal":
        return HalfNormalPrior(*_numbers(text, fields, 1))
    if name == "halfcauchy":
        return HalfCauchyPrior(*_numbers(text, fields, 1))
    if name == "lognormal":
        return LogNormalTau2Prior(*_numbers(text, fields, 2))
    if name == "logt":
        return LogTTau2Prior(*_numbers(text, fields, 3))
    if name == "uniform":
        _numbers(text, fields, 0)
        return UniformTauPrior()
    raise PriorError(
        f"{text!r} is not a tau prior: use halfnormal:SCALE, halfcauchy:SCALE, "
        "lognormal:MEAN:SD (on log tau^2), logt:LOCATION:SCALE:DF (on log tau^2) or uniform"
    )


def parse_mu_prior(text: str) -> MuPrior:
    """A prior on mu from its command-line spelling: ``uniform`` or ``normal:MEAN:SD``."""
    name, *fields = text.strip().split(":")
    name = name.lower()
    if name == "normal":
        return NormalMuPrior(*_numbers(text, fields, 2))
    if name == "uniform":
        _numbers(text, fields, 0)
        return UniformMuPrior()
    raise PriorError(f"{text!r} is not a mu prior: use uniform or normal:MEAN:SD")
