"""Study-level effect sizes and the conversions that feed them.

Every function here mirrors an ``escalc`` measure of R's metafor (Viechtbauer, 2010) and
is tested against values metafor computed (``tests/reference/``). Inputs are array-likes;
outputs are NumPy arrays of the broadcast shape.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from ketamine_meta.stats.distributions import t_isf
from ketamine_meta.stats.model import critical_value

FloatArray = NDArray[np.float64]


def hedges_correction(df: ArrayLike) -> FloatArray:
    r"""Exact small-sample bias correction factor for the standardized mean difference.

    .. math:: J(m) = \frac{\Gamma(m/2)}{\sqrt{m/2}\,\Gamma((m-1)/2)}

    Parameters
    ----------
    df : array_like
        Degrees of freedom ``m = n1 + n2 - 2``.

    Returns
    -------
    numpy.ndarray
        The factor ``J``; Hedges' g is ``J`` times Cohen's d.

    References
    ----------
    Hedges, L. V. (1981). Distribution theory for Glass's estimator of effect size and related
    estimators. *Journal of Educational Statistics*, 6(2), 107-128, eq. 6e.
    """
    m = np.asarray(df, dtype=float)
    # Log-gamma keeps the ratio finite for the large m of pooled trials.
    return np.exp(special.gammaln(m / 2) - 0.5 * np.log(m / 2) - special.gammaln((m - 1) / 2))


#: metafor's ``vtype`` of the standardized mean difference (:func:`smd`).
SmdVarianceType = Literal["LS", "LS2", "UB", "AV"]


def smd(
    m1: ArrayLike,
    sd1: ArrayLike,
    n1: ArrayLike,
    m2: ArrayLike,
    sd2: ArrayLike,
    n2: ArrayLike,
    vtype: SmdVarianceType = "LS",
) -> tuple[FloatArray, FloatArray]:
    r"""Hedges' g (bias-corrected standardized mean difference) and its sampling variance.

    .. math::

        s_p = \sqrt{\frac{(n_1-1)s_1^2 + (n_2-1)s_2^2}{n_1+n_2-2}}, \qquad
        g = J(n_1+n_2-2)\,\frac{\bar x_1 - \bar x_2}{s_p}, \qquad
        v = \frac{1}{n_1} + \frac{1}{n_2} + \frac{g^2}{2(n_1+n_2)}

    This is metafor's ``escalc(measure = "SMD")`` with its default large-sample variance
    (``vtype = "LS"``). Its other variances, with :math:`d = g / J`, :math:`m = n_1 + n_2 - 2`,
    :math:`N = n_1 + n_2` and :math:`\bar g = \sum N_i g_i / \sum N_i` over the studies given:

    .. math::

        v_{LS2} = J^2 \left(\frac1{n_1} + \frac1{n_2} + \frac{d^2}{2N}\right), \quad
        v_{UB} = \frac1{n_1} + \frac1{n_2} + \left(1 - \frac{m - 2}{m J^2}\right) g^2, \quad
        v_{AV} = \frac1{n_1} + \frac1{n_2} + \frac{\bar g^2}{2N}

    Parameters
    ----------
    m1, sd1, n1 : array_like
        Mean, standard deviation and size of group 1.
    m2, sd2, n2 : array_like
        Mean, standard deviation and size of group 2. ``n`` may be fractional (a shared
        control group split between comparisons).

    Returns
    -------
    yi, vi : numpy.ndarray
        Hedges' g (group 1 minus group 2) and its variance.

    References
    ----------
    Hedges, L. V., & Olkin, I. (1985). *Statistical methods for meta-analysis*, ch. 5, eqs. 8 and
    15. Borenstein, M., et al. (2009). *Introduction to meta-analysis*, eqs. 4.18-4.24.
    """
    m1, sd1, n1, m2, sd2, n2 = (np.asarray(a, dtype=float) for a in (m1, sd1, n1, m2, sd2, n2))
    df = n1 + n2 - 2
    sd_pooled = np.sqrt(_pooled_variance(sd1, n1, sd2, n2))
    correction = hedges_correction(df)
    yi = correction * (m1 - m2) / sd_pooled
    if vtype == "LS":
        return yi, smd_variance(yi, n1, n2)
    total = n1 + n2
    if vtype == "LS2":
        d = (m1 - m2) / sd_pooled
        return yi, correction**2 * (1 / n1 + 1 / n2 + d**2 / (2 * total))
    if vtype == "UB":
        return yi, 1 / n1 + 1 / n2 + (1 - (df - 2) / (df * correction**2)) * yi**2
    if vtype == "AV":
        return yi, 1 / n1 + 1 / n2 + _weighted_mean(yi, total) ** 2 / (2 * total)
    raise _unknown_vtype(vtype, "LS, LS2, UB or AV")


def smd_variance(g: ArrayLike, n1: ArrayLike, n2: ArrayLike) -> FloatArray:
    r"""Large-sample variance of a standardized mean difference.

    .. math:: v = \frac{1}{n_1} + \frac{1}{n_2} + \frac{g^2}{2(n_1+n_2)}

    metafor's ``escalc(measure = "SMD", vtype = "LS")``, also used for a reported d or g
    (``escalc(di = ...)``).

    References
    ----------
    Hedges, L. V. (1981), eq. 6e; Borenstein, M., et al. (2009), eq. 4.20.
    """
    g, n1, n2 = (np.asarray(a, dtype=float) for a in (g, n1, n2))
    return 1 / n1 + 1 / n2 + g**2 / (2 * (n1 + n2))


ContinuityTarget = Literal["only0", "all", "if0all", "none"]


def _pooled_variance(
    sd1: FloatArray, n1: FloatArray, sd2: FloatArray, n2: FloatArray
) -> FloatArray:
    """The two groups' pooled variance, :math:`((n_1-1)s_1^2 + (n_2-1)s_2^2)/(n_1+n_2-2)`."""
    return ((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2) / (n1 + n2 - 2)


def _weighted_mean(values: FloatArray, weights: FloatArray) -> float:
    """The weighted mean over the studies that have a value (metafor's ``.wmean``)."""
    known = ~(np.isnan(values) | np.isnan(weights))
    return float(np.sum(weights[known] * values[known]) / np.sum(weights[known]))


def _unknown_vtype(vtype: str, options: str) -> ValueError:
    return ValueError(f"unknown vtype {vtype!r}: {options}")


def continuity_corrected_cells(
    events1: ArrayLike,
    n1: ArrayLike,
    events2: ArrayLike,
    n2: ArrayLike,
    add: float = 0.5,
    to: ContinuityTarget = "only0",
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """The four cells of each 2x2 table after metafor's continuity correction.

    ``to`` says where ``add`` goes, as in ``escalc``: ``"only0"`` to the cells of studies
    with a zero cell, ``"all"`` to every study, ``"if0all"`` to every study if any has a zero
    cell, ``"none"`` nowhere.

    Returns
    -------
    a, b, c, d : numpy.ndarray
        Events and non-events of group 1, events and non-events of group 2.
    """
    a, n1, c, n2 = (np.asarray(x, dtype=float) for x in (events1, n1, events2, n2))
    return _corrected(np.stack(np.broadcast_arrays(a, n1 - a, c, n2 - c)), add, to)


def _corrected(cells: FloatArray, add: float, to: ContinuityTarget) -> tuple[FloatArray, ...]:
    """Add ``add`` to the cells (first axis) of the studies ``to`` selects."""
    has_zero = (cells == 0).any(axis=0)
    if to == "only0":
        correction = np.where(has_zero, add, 0.0)
    elif to == "all":
        correction = np.full(has_zero.shape, add)
    elif to == "if0all":
        correction = np.full(has_zero.shape, add if has_zero.any() else 0.0)
    elif to == "none":
        correction = np.zeros(has_zero.shape)
    else:
        raise ValueError(f"unknown continuity target {to!r}")
    return tuple(cell + correction for cell in cells)


def log_risk_ratio(
    events1: ArrayLike,
    n1: ArrayLike,
    events2: ArrayLike,
    n2: ArrayLike,
    add: float = 0.5,
    to: ContinuityTarget = "only0",
) -> tuple[FloatArray, FloatArray]:
    r"""Log risk ratio and its variance (metafor ``escalc(measure = "RR")``).

    .. math::

        \log RR = \log\frac{a/n_1}{c/n_2}, \qquad
        v = \frac{1}{a} - \frac{1}{n_1} + \frac{1}{c} - \frac{1}{n_2}

    By default ``add`` is added to the four cells of a study only where one of them is zero
    (``to = "only0"``, metafor's default; see :func:`continuity_corrected_cells`). A study with
    no events in either arm (or all events in both) then gives a finite estimate of 0; exclude
    such studies upstream if that is not wanted.

    Parameters
    ----------
    events1, n1 : array_like
        Events and total in group 1 (the treatment).
    events2, n2 : array_like
        Events and total in group 2 (the control).
    add : float, default 0.5
        Continuity correction.
    to : {"only0", "all", "if0all", "none"}
        Which studies receive it.

    Returns
    -------
    yi, vi : numpy.ndarray
        Log risk ratio (group 1 over group 2) and its variance.

    References
    ----------
    Borenstein, M., et al. (2009). *Introduction to meta-analysis*, eqs. 5.1-5.3.
    Cochrane Handbook for Systematic Reviews of Interventions, version 6.4 (2023), section
    10.4.4.2.
    """
    a, b, c, d = continuity_corrected_cells(events1, n1, events2, n2, add, to)
    n1, n2 = a + b, c + d
    with np.errstate(divide="ignore", invalid="ignore"):
        yi = np.log((a / n1) / (c / n2))
        vi = 1 / a - 1 / n1 + 1 / c - 1 / n2
    return yi, vi


def log_odds_ratio(
    events1: ArrayLike,
    n1: ArrayLike,
    events2: ArrayLike,
    n2: ArrayLike,
    add: float = 0.5,
    to: ContinuityTarget = "only0",
) -> tuple[FloatArray, FloatArray]:
    r"""Log odds ratio and its variance (metafor ``escalc(measure = "OR")``).

    .. math::

        \log OR = \log\frac{a d}{b c}, \qquad v = \frac1a + \frac1b + \frac1c + \frac1d

    with the continuity correction of :func:`continuity_corrected_cells`.

    References
    ----------
    Woolf, B. (1955). On estimating the relation between blood group and disease. *Annals of
    Human Genetics*, 19(4), 251-253. Borenstein, M., et al. (2009), eqs. 5.8-5.10.
    """
    a, b, c, d = continuity_corrected_cells(events1, n1, events2, n2, add, to)
    with np.errstate(divide="ignore", invalid="ignore"):
        yi = np.log(a * d / (b * c))
        vi = 1 / a + 1 / b + 1 / c + 1 / d
    return yi, vi


def peto_log_odds_ratio(
    events1: ArrayLike,
    n1: ArrayLike,
    events2: ArrayLike,
    n2: ArrayLike,
    add: float = 0.5,
    to: ContinuityTarget = "only0",
) -> tuple[FloatArray, FloatArray]:
    r"""Peto's one-step log odds ratio and its variance (metafor ``escalc(measure = "PETO")``).

    With :math:`a` the events of group 1, :math:`x_t` all events, :math:`y_t` all
    non-events and :math:`N = n_1 + n_2`:

    .. math::

        E = \frac{x_t n_1}{N}, \quad
        V = \frac{x_t\, y_t\, n_1 n_2}{N^2 (N - 1)}, \qquad
        y = \frac{a - E}{V}, \quad v = \frac1V

    with the continuity correction of :func:`continuity_corrected_cells`, which metafor
    applies to this measure as to the others.

    References
    ----------
    Yusuf, S., Peto, R., Lewis, J., Collins, R., & Sleight, P. (1985). Beta blockade during
    and after myocardial infarction: an overview of the randomized trials. *Progress in
    Cardiovascular Diseases*, 27(5), 335-371.
    """
    a, b, c, d = continuity_corrected_cells(events1, n1, events2, n2, add, to)
    deviation, variance = peto_terms(a, b, c, d)
    with np.errstate(divide="ignore", invalid="ignore"):
        return deviation / variance, 1 / variance


def peto_terms(
    a: FloatArray, b: FloatArray, c: FloatArray, d: FloatArray
) -> tuple[FloatArray, FloatArray]:
    r"""Each 2x2 table's observed minus expected events of group 1, :math:`a - E`, and ``V``.

    The hypergeometric mean and variance of :math:`a` given the margins (formulas in
    :func:`peto_log_odds_ratio`); Peto's pooled log odds ratio is :math:`\sum(a - E)/\sum V`
    (:func:`ketamine_meta.stats.sparse.peto`).
    """
    n1, n2 = a + b, c + d
    total = n1 + n2
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = (a + c) * n1 / total
        variance = (a + c) * (b + d) * (n1 / total) * (n2 / total) / (total - 1)
    return a - expected, variance


def risk_difference(
    events1: ArrayLike,
    n1: ArrayLike,
    events2: ArrayLike,
    n2: ArrayLike,
    add: float = 0.5,
    to: ContinuityTarget = "only0",
    vtype: Literal["LS", "UB", "AV"] = "LS",
) -> tuple[FloatArray, FloatArray]:
    r"""Risk difference and its variance (metafor ``escalc(measure = "RD")``).

    .. math::

        RD = p_1 - p_2, \qquad v_{LS} = \frac{p_1(1-p_1)}{n_1} + \frac{p_2(1-p_2)}{n_2}

    ``UB`` divides by :math:`n - 1`; ``AV`` takes each group's size-weighted mean proportion
    over the studies given in place of its own.

    computed, like metafor (``addyi = addvi = TRUE``), from the corrected cells, so the
    default ``to = "only0"`` shifts a zero-cell study slightly towards 1/2.

    References
    ----------
    Borenstein, M., et al. (2009), eqs. 5.11-5.13; metafor ``escalc``, ``vtype = "LS"``.
    """
    a, b, c, d = continuity_corrected_cells(events1, n1, events2, n2, add, to)
    p1, p2 = a / (a + b), c / (c + d)
    if vtype == "LS":
        return p1 - p2, p1 * (1 - p1) / (a + b) + p2 * (1 - p2) / (c + d)
    if vtype == "UB":
        return p1 - p2, p1 * (1 - p1) / (a + b - 1) + p2 * (1 - p2) / (c + d - 1)
    if vtype == "AV":
        q1, q2 = _weighted_mean(p1, a + b), _weighted_mean(p2, c + d)
        return p1 - p2, q1 * (1 - q1) / (a + b) + q2 * (1 - q2) / (c + d)
    raise _unknown_vtype(vtype, "LS, UB or AV")


def proportion_logit(
    events: ArrayLike,
    n: ArrayLike,
    add: float = 0.5,
    to: ContinuityTarget = "only0",
    vtype: Literal["LS", "AV"] = "LS",
) -> tuple[FloatArray, FloatArray]:
    r"""Logit of a single-group proportion and its variance (metafor ``escalc("PLO")``).

    .. math:: y = \log\frac{x}{n - x}, \qquad v = \frac1x + \frac1{n-x}

    ``add`` goes to ``x`` and ``n - x`` where one of them is zero (``to = "only0"``).
    ``vtype = "AV"``: :math:`v = 1/(\bar p n) + 1/((1 - \bar p) n)` with :math:`\bar p` the
    size-weighted mean proportion of the studies given. Back-transform pooled values with
    :func:`scipy.special.expit`.

    References
    ----------
    Lipsey, M. W., & Wilson, D. B. (2001). *Practical meta-analysis*, Table 3.2;
    metafor ``escalc`` (Viechtbauer, 2010).
    """
    x, m = _proportion_cells(events, n, add, to)
    if vtype == "LS":
        return np.log(x / m), 1 / x + 1 / m
    if vtype == "AV":
        mean_p = _weighted_mean(x / (x + m), x + m)
        return np.log(x / m), 1 / (mean_p * (x + m)) + 1 / ((1 - mean_p) * (x + m))
    raise _unknown_vtype(vtype, "LS or AV")


def proportion_freeman_tukey(events: ArrayLike, n: ArrayLike) -> tuple[FloatArray, FloatArray]:
    r"""Freeman-Tukey double-arcsine transformed proportion (metafor ``escalc("PFT")``).

    .. math::

        y = \tfrac12\left[\arcsin\sqrt{\frac{x}{n+1}} + \arcsin\sqrt{\frac{x+1}{n+1}}\right],
        \qquad v = \frac{1}{4n + 2}

    Needs no continuity correction. Back-transform with
    :func:`inverse_freeman_tukey`.

    References
    ----------
    Freeman, M. F., & Tukey, J. W. (1950). Transformations related to the angular and the
    square root. *Annals of Mathematical Statistics*, 21(4), 607-611.
    """
    x, n = np.asarray(events, dtype=float), np.asarray(n, dtype=float)
    yi = 0.5 * (np.arcsin(np.sqrt(x / (n + 1))) + np.arcsin(np.sqrt((x + 1) / (n + 1))))
    return yi, 1 / (4 * n + 2)


def inverse_freeman_tukey(z: ArrayLike, n: ArrayLike) -> FloatArray:
    r"""Back-transform a (pooled) Freeman-Tukey value to a proportion.

    Miller's inversion with the harmonic mean :math:`\bar n` of the study sizes:

    .. math::

        p = \tfrac12\left[1 - \operatorname{sgn}(\cos 2z)\sqrt{1 - \left(\sin 2z +
        \frac{\sin 2z - 1/\sin 2z}{\bar n}\right)^2}\right]

    clipped to 0 and 1 beyond the transforms of 0 and 1 (metafor ``transf.ipft.hm``).

    Parameters
    ----------
    z : array_like
        Values on the double-arcsine scale (estimate, CI bounds).
    n : array_like
        Sample sizes of the studies pooled; only their harmonic mean is used.

    References
    ----------
    Miller, J. J. (1978). The inverse of the Freeman-Tukey double arcsine transformation.
    *The American Statistician*, 32(4), 138.
    """
    z = np.asarray(z, dtype=float)
    n_harmonic = 1 / np.mean(1 / np.asarray(n, dtype=float))
    s = np.sin(2 * z)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 0.5 * (1 - np.sign(np.cos(2 * z)) * np.sqrt(1 - (s + (s - 1 / s) / n_harmonic) ** 2))
    zero, one = proportion_freeman_tukey(np.array([0.0, n_harmonic]), n_harmonic)[0]
    p = np.where(z > one, 1.0, np.where(z < zero, 0.0, p))
    return p


def mean_difference(
    m1: ArrayLike,
    sd1: ArrayLike,
    n1: ArrayLike,
    m2: ArrayLike,
    sd2: ArrayLike,
    n2: ArrayLike,
    vtype: Literal["LS", "UB", "HO"] = "LS",
) -> tuple[FloatArray, FloatArray]:
    r"""Raw mean difference and its variance (metafor ``escalc("MD")``).

    .. math::

        y = \bar x_1 - \bar x_2, \qquad v_{LS} = v_{UB} = \frac{s_1^2}{n_1} + \frac{s_2^2}{n_2},
        \qquad v_{HO} = s_p^2 \left(\frac1{n_1} + \frac1{n_2}\right)

    ``HO`` assumes equal variances (:math:`s_p` the pooled SD, as in :func:`smd`).

    References
    ----------
    Borenstein, M., Hedges, L. V., Higgins, J. P. T., & Rothstein, H. R. (2009).
    *Introduction to meta-analysis*, eq. 4.5 (unequal variances).
    """
    m1, sd1, n1, m2, sd2, n2 = (np.asarray(a, dtype=float) for a in (m1, sd1, n1, m2, sd2, n2))
    if vtype in ("LS", "UB"):
        return m1 - m2, sd1**2 / n1 + sd2**2 / n2
    if vtype == "HO":
        return m1 - m2, _pooled_variance(sd1, n1, sd2, n2) * (1 / n1 + 1 / n2)
    raise _unknown_vtype(vtype, "LS, UB or HO")


def log_ratio_of_means(
    m1: ArrayLike,
    sd1: ArrayLike,
    n1: ArrayLike,
    m2: ArrayLike,
    sd2: ArrayLike,
    n2: ArrayLike,
    vtype: Literal["LS", "HO", "AV", "AVHO"] = "LS",
) -> tuple[FloatArray, FloatArray]:
    r"""Log ratio of means (response ratio) and its variance (metafor ``escalc("ROM")``).

    .. math::

        y = \log\frac{\bar x_1}{\bar x_2}, \qquad
        v_{LS} = \frac{s_1^2}{n_1 \bar x_1^2} + \frac{s_2^2}{n_2 \bar x_2^2}

    ``HO`` puts the pooled SD in both terms; ``AV`` each group's size-weighted mean
    coefficient of variation over the studies given in place of its own :math:`s / \bar x`;
    ``AVHO`` one mean coefficient of variation over both groups.

    References
    ----------
    Hedges, L. V., Gurevitch, J., & Curtis, P. S. (1999). The meta-analysis of response
    ratios in experimental ecology. *Ecology*, 80(4), 1150-1156, eq. 1 and 9.
    """
    m1, sd1, n1, m2, sd2, n2 = (np.asarray(a, dtype=float) for a in (m1, sd1, n1, m2, sd2, n2))
    yi = np.log(m1 / m2)
    if vtype == "LS":
        return yi, sd1**2 / (n1 * m1**2) + sd2**2 / (n2 * m2**2)
    if vtype == "HO":
        pooled = _pooled_variance(sd1, n1, sd2, n2)
        return yi, pooled / (n1 * m1**2) + pooled / (n2 * m2**2)
    cv1, cv2 = sd1 / m1, sd2 / m2
    if vtype == "AV":
        return yi, _weighted_mean(cv1, n1) ** 2 / n1 + _weighted_mean(cv2, n2) ** 2 / n2
    if vtype == "AVHO":
        known = ~(np.isnan(n1) | np.isnan(n2) | np.isnan(cv1) | np.isnan(cv2))
        both = (np.sum((n1 * cv1)[known]) + np.sum((n2 * cv2)[known])) / np.sum((n1 + n2)[known])
        return yi, both**2 * (1 / n1 + 1 / n2)
    raise _unknown_vtype(vtype, "LS, HO, AV or AVHO")


def correlation(
    r: ArrayLike, n: ArrayLike, vtype: Literal["LS", "AV"] = "LS"
) -> tuple[FloatArray, FloatArray]:
    r"""Raw correlation and its variance (metafor ``escalc("COR")``).

    .. math:: y = r, \qquad v_{LS} = \frac{(1 - r^2)^2}{n - 1}

    ``AV`` puts the size-weighted mean correlation of the studies given in place of ``r``
    (metafor's ``UB`` belongs to ``UCOR``, the unbiased correlation, not to this measure).

    References
    ----------
    Borenstein et al. (2009), eq. 6.1.
    """
    r, n = np.asarray(r, dtype=float), np.asarray(n, dtype=float)
    yi = r + 0.0 * n
    if vtype == "LS":
        return yi, (1 - r**2) ** 2 / (n - 1)
    if vtype == "AV":
        return yi, (1 - _weighted_mean(yi, n) ** 2) ** 2 / (n - 1)
    raise _unknown_vtype(vtype, "LS or AV")


def fisher_z(r: ArrayLike, n: ArrayLike) -> tuple[FloatArray, FloatArray]:
    r"""Fisher's r-to-z transformed correlation (metafor ``escalc("ZCOR")``).

    .. math:: y = \tfrac12 \log\frac{1 + r}{1 - r}, \qquad v = \frac{1}{n - 3}

    Back-transform pooled values with :func:`numpy.tanh`.

    References
    ----------
    Fisher, R. A. (1921). On the "probable error" of a coefficient of correlation deduced
    from a small sample. *Metron*, 1, 3-32. Borenstein et al. (2009), eq. 6.2-6.3.
    """
    r, n = np.asarray(r, dtype=float), np.asarray(n, dtype=float)
    return np.arctanh(r) + 0.0 * n, 1 / (n - 3)


def proportion(
    events: ArrayLike,
    n: ArrayLike,
    add: float = 0.5,
    to: ContinuityTarget = "only0",
    vtype: Literal["LS", "UB", "AV"] = "LS",
) -> tuple[FloatArray, FloatArray]:
    r"""Raw proportion and its variance (metafor ``escalc("PR")``).

    .. math:: y = \frac{x}{n}, \qquad v_{LS} = \frac{y(1 - y)}{n}

    ``UB`` divides by :math:`n - 1`; ``AV`` takes the size-weighted mean proportion of the
    studies given in place of ``y``.

    ``add`` goes to ``x`` and ``n - x`` where one of them is zero (``to = "only0"``), as
    metafor does by default for this measure.
    """
    x, m = _proportion_cells(events, n, add, to)
    p = x / (x + m)
    if vtype == "LS":
        return p, p * (1 - p) / (x + m)
    if vtype == "UB":
        return p, p * (1 - p) / (x + m - 1)
    if vtype == "AV":
        mean_p = _weighted_mean(p, x + m)
        return p, mean_p * (1 - mean_p) / (x + m)
    raise _unknown_vtype(vtype, "LS, UB or AV")


def log_proportion(
    events: ArrayLike,
    n: ArrayLike,
    add: float = 0.5,
    to: ContinuityTarget = "only0",
    vtype: Literal["LS", "AV"] = "LS",
) -> tuple[FloatArray, FloatArray]:
    r"""Log proportion and its variance (metafor ``escalc("PLN")``).

    .. math:: y = \log\frac{x}{n}, \qquad v_{LS} = \frac1x - \frac1n, \qquad
        v_{AV} = \frac{1}{\bar p n} - \frac1n

    with the continuity correction of :func:`proportion`; :math:`\bar p` the size-weighted
    mean proportion of the studies given.
    """
    x, m = _proportion_cells(events, n, add, to)
    if vtype == "LS":
        return np.log(x / (x + m)), 1 / x - 1 / (x + m)
    if vtype == "AV":
        mean_p = _weighted_mean(x / (x + m), x + m)
        return np.log(x / (x + m)), 1 / (mean_p * (x + m)) - 1 / (x + m)
    raise _unknown_vtype(vtype, "LS or AV")


def arcsine_proportion(events: ArrayLike, n: ArrayLike) -> tuple[FloatArray, FloatArray]:
    r"""Arcsine square-root transformed proportion (metafor ``escalc("PAS")``).

    .. math:: y = \arcsin\sqrt{\frac{x}{n}}, \qquad v = \frac{1}{4n}

    Needs no continuity correction (metafor's ``add`` is 0 for it). Back-transform with
    :func:`ketamine_meta.stats.transforms.inverse_arcsine`.
    """
    x, n = np.asarray(events, dtype=float), np.asarray(n, dtype=float)
    return np.arcsin(np.sqrt(x / n)), 1 / (4 * n)


def _proportion_cells(events, n, add: float, to: ContinuityTarget):
    """Events and non-events of a single group after metafor's continuity correction."""
    x, n = np.asarray(events, dtype=float), np.asarray(n, dtype=float)
    return _corrected(np.stack(np.broadcast_arrays(x, n - x)), add, to)


def log_incidence_rate_ratio(
    events1: ArrayLike,
    time1: ArrayLike,
    events2: ArrayLike,
    time2: ArrayLike,
    add: float = 0.5,
    to: ContinuityTarget = "only0",
) -> tuple[FloatArray, FloatArray]:
    r"""Log incidence rate ratio and its variance (metafor ``escalc("IRR")``).

    .. math:: y = \log\frac{x_1 / t_1}{x_2 / t_2}, \qquad v = \frac1{x_1} + \frac1{x_2}

    ``add`` goes to both counts where one of them is zero (``to = "only0"``).

    References
    ----------
    Rothman, K. J., Greenland, S., & Lash, T. L. (2008). *Modern epidemiology* (3rd ed.),
    ch. 14.
    """
    x1, x2 = _corrected(
        np.stack(np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (events1, events2)))),
        add,
        to,
    )
    t1, t2 = np.asarray(time1, dtype=float), np.asarray(time2, dtype=float)
    return np.log(x1 / t1) - np.log(x2 / t2), 1 / x1 + 1 / x2


def log_hazard_ratio(
    hr: ArrayLike, ci_low: ArrayLike, ci_high: ArrayLike, level: float = 0.95
) -> tuple[FloatArray, FloatArray]:
    r"""Log hazard ratio and its variance from a reported HR and its confidence interval.

    .. math:: y = \log HR, \qquad SE = \frac{\log U - \log L}{2\,z_{1-\alpha/2}}

    References
    ----------
    Parmar, M. K. B., Torri, V., & Stewart, L. (1998). Extracting summary statistics to
    perform meta-analyses of the published literature for survival endpoints. *Statistics in
    Medicine*, 17(24), 2815-2834, eq. 5; Tierney, J. F., et al. (2007). *Trials*, 8, 16.
    """
    se = (np.log(np.asarray(ci_high, dtype=float)) - np.log(np.asarray(ci_low, dtype=float))) / (
        2 * critical_value(level)
    )
    return np.log(np.asarray(hr, dtype=float)), se**2


def smd_from_t(t: ArrayLike, n1: ArrayLike, n2: ArrayLike) -> tuple[FloatArray, FloatArray]:
    r"""Hedges' g from an independent-samples t statistic (metafor ``escalc("SMD", ti=)``).

    .. math:: d = t\sqrt{1/n_1 + 1/n_2}, \qquad g = J(n_1+n_2-2)\,d

    with the variance of :func:`smd_variance`.

    References
    ----------
    Borenstein, M., et al. (2009), eq. 7.3 (d from t); Hedges (1981) for J.
    """
    n1, n2 = np.asarray(n1, dtype=float), np.asarray(n2, dtype=float)
    g = hedges_correction(n1 + n2 - 2) * np.asarray(t, dtype=float) * np.sqrt(1 / n1 + 1 / n2)
    return g, smd_variance(g, n1, n2)


def smd_from_p(
    p: ArrayLike, sign: ArrayLike, n1: ArrayLike, n2: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    r"""Hedges' g from a two-sided p-value of an independent-samples t test.

    .. math:: t = \operatorname{sgn}\cdot t^{-1}_{n_1+n_2-2}(1 - p/2)

    then :func:`smd_from_t`. ``sign`` (+1 or -1) gives the direction the p-value cannot.

    References
    ----------
    Cochrane Handbook, version 6.4 (2023), section 6.5.2.3 (t from p).
    """
    n1, n2 = np.asarray(n1, dtype=float), np.asarray(n2, dtype=float)
    p = np.asarray(p, dtype=float)
    t = np.sign(np.asarray(sign, dtype=float)) * t_isf(p / 2, n1 + n2 - 2)
    return smd_from_t(t, n1, n2)


#: metafor's ``vtype`` of the standardized mean changes: ``"LS"`` (large-sample, from g) and
#: ``"LS2"`` (from the uncorrected d, times J²).
ChangeVarianceType = Literal["LS", "LS2"]


def smd_paired(
    m1: ArrayLike,
    m2: ArrayLike,
    sd: ArrayLike,
    n: ArrayLike,
    r: ArrayLike,
    vtype: ChangeVarianceType = "LS",
) -> tuple[FloatArray, FloatArray]:
    r"""Standardized mean difference of a paired (crossover) comparison.

    The difference is standardized by the between-person SD of the scores, so it is on the
    scale of a parallel-group g; the within-person correlation ``r`` enters its variance:

    .. math::

        g = J(n-1)\,d, \quad d = \frac{\bar x_1 - \bar x_2}{s}, \qquad
        v_{LS} = \frac{2(1-r)}{n} + \frac{g^2}{2n}, \qquad
        v_{LS2} = J^2 \left(\frac{2(1-r)}{n} + \frac{d^2}{2n}\right)

    This is metafor's ``escalc(measure = "SMCR", m1i, m2i, sd1i = s, ni = n, ri = r, vtype)``.
    For a crossover trial ``s`` is the SD pooled over the two treatment periods,
    :math:`\sqrt{(s_1^2 + s_2^2)/2}`.

    References
    ----------
    Becker, B. J. (1988). Synthesizing standardized mean-change measures. *British Journal of
    Mathematical and Statistical Psychology*, 41(2), 257-278. Elbourne, D. R., et al. (2002).
    Meta-analyses involving cross-over trials. *Int J Epidemiol*, 31(1), 140-149. Cochrane
    Handbook, version 6.4 (2023), section 23.2.7.
    """
    m1, m2, sd, n, r = (np.asarray(a, dtype=float) for a in (m1, m2, sd, n, r))
    return _standardized_change((m1 - m2) / sd, 2 * (1 - r), n, vtype)


def standardized_mean_change(
    m1: ArrayLike,
    m2: ArrayLike,
    sd1: ArrayLike,
    sd2: ArrayLike,
    n: ArrayLike,
    r: ArrayLike,
    vtype: ChangeVarianceType = "LS",
) -> tuple[FloatArray, FloatArray]:
    r"""Standardized mean change with change-score standardization (metafor ``"SMCC"``).

    The mean change is divided by the SD of the change scores, from the two SDs and the
    correlation ``r`` of the paired measurements:

    .. math::

        s_D = \sqrt{s_1^2 + s_2^2 - 2 r s_1 s_2}, \quad d = \frac{\bar x_1 - \bar x_2}{s_D},
        \quad g = J(n-1)\,d, \qquad
        v_{LS} = \frac1n + \frac{g^2}{2n}, \qquad
        v_{LS2} = J^2 \left(\frac1n + \frac{d^2}{2n}\right)

    References
    ----------
    Gibbons, R. D., Hedeker, D. R., & Davis, J. M. (1993). Estimation of effect size from a
    series of experiments involving paired comparisons. *Journal of Educational Statistics*,
    18(3), 271-279. Viechtbauer, W. metafor ``escalc`` documentation, "Outcome Measures for
    Individual Groups", measure ``"SMCC"``.
    """
    m1, m2, sd1, sd2, n, r = (np.asarray(a, dtype=float) for a in (m1, m2, sd1, sd2, n, r))
    sd_change = np.sqrt(sd1**2 + sd2**2 - 2 * r * sd1 * sd2)
    return _standardized_change((m1 - m2) / sd_change, 1.0, n, vtype)


def _standardized_change(
    d: FloatArray, scale: FloatArray | float, n: FloatArray, vtype: ChangeVarianceType
) -> tuple[FloatArray, FloatArray]:
    """Hedges' g = J(n - 1) d and its variance ``scale / n + (g or d)² / (2n)`` (LS, LS2)."""
    correction = hedges_correction(n - 1)
    g = correction * d
    if vtype == "LS":
        return g, scale / n + g**2 / (2 * n)
    if vtype == "LS2":
        return g, correction**2 * (scale / n + d**2 / (2 * n))
    raise _unknown_vtype(vtype, "LS or LS2")


def sd_between_from_paired_se(se_difference: ArrayLike, n: ArrayLike, r: ArrayLike) -> FloatArray:
    r"""Between-person SD implied by the SE of a paired (crossover) mean difference.

    .. math:: SD_{diff} = SE\sqrt n, \qquad SD = \frac{SD_{diff}}{\sqrt{2(1-r)}}

    assuming equal SDs in the two periods.

    References
    ----------
    Cochrane Handbook, version 6.4 (2023), section 23.2.7.3 (eq. for the correlation
    coefficient, solved for the SD).
    """
    n, r = np.asarray(n, dtype=float), np.asarray(r, dtype=float)
    return np.asarray(se_difference, dtype=float) * np.sqrt(n) / np.sqrt(2 * (1 - r))


def combine_groups(
    n1: ArrayLike, m1: ArrayLike, sd1: ArrayLike, n2: ArrayLike, m2: ArrayLike, sd2: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    r"""Size, mean and SD of two groups combined into one (e.g. two doses of one drug).

    .. math::

        N = n_1 + n_2, \quad M = \frac{n_1 m_1 + n_2 m_2}{N}, \quad
        SD = \sqrt{\frac{(n_1-1)s_1^2 + (n_2-1)s_2^2 + \frac{n_1 n_2}{N}(m_1-m_2)^2}{N-1}}

    References
    ----------
    Cochrane Handbook, version 6.4 (2023), section 6.5.2.10, Table 6.5.a.
    """
    n1, m1, sd1, n2, m2, sd2 = (np.asarray(a, dtype=float) for a in (n1, m1, sd1, n2, m2, sd2))
    n = n1 + n2
    mean = (n1 * m1 + n2 * m2) / n
    var = ((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2 + n1 * n2 / n * (m1 - m2) ** 2) / (n - 1)
    return n, mean, np.sqrt(var)


def _normal_or_t_quantile(small: ArrayLike, df: ArrayLike, level: ArrayLike) -> FloatArray:
    """Two-sided quantile the Cochrane Handbook uses to recover a spread from an interval.

    The Handbook (6.5.2.2-3) divides the width by 3.92 (twice the normal quantile) for large
    samples and by twice the t quantile with ``df`` degrees of freedom where ``small``.
    """
    df = np.asarray(df, dtype=float)
    # NaN df (unknown group sizes) never reaches the t branch, but must not warn either.
    t_df = np.where(np.isfinite(df), np.maximum(df, 1), 1)
    return critical_value(level, np.where(small, t_df, np.inf))


def sd_from_se(se: ArrayLike, n: ArrayLike) -> FloatArray:
    r"""Standard deviation of a group from the standard error of its mean.

    .. math:: SD = SE\,\sqrt{n}

    References
    ----------
    Cochrane Handbook, version 6.4 (2023), section 6.5.2.2.
    """
    return np.asarray(se, dtype=float) * np.sqrt(np.asarray(n, dtype=float))


def sd_from_ci(lower: ArrayLike, upper: ArrayLike, n: ArrayLike, level: float = 0.95) -> FloatArray:
    r"""Standard deviation of a group from a confidence interval of its mean.

    .. math:: SD = \sqrt{n}\,\frac{U - L}{2\,q}

    where ``q`` is the normal quantile (1.96 at 95%) for ``n >= 60`` and the t quantile with
    ``n - 1`` degrees of freedom below that.

    References
    ----------
    Cochrane Handbook, version 6.4 (2023), section 6.5.2.2.
    """
    n = np.asarray(n, dtype=float)
    width = np.asarray(upper, dtype=float) - np.asarray(lower, dtype=float)
    return np.sqrt(n) * width / (2 * _normal_or_t_quantile(n < 60, n - 1, level))


def se_from_ci_of_difference(
    lower: ArrayLike, upper: ArrayLike, n1: ArrayLike, n2: ArrayLike, level: ArrayLike = 0.95
) -> FloatArray:
    r"""Standard error of a between-group difference from its confidence interval.

    .. math:: SE = \frac{U - L}{2\,q}

    with ``q`` the t quantile on ``n1 + n2 - 2`` degrees of freedom when either group has
    fewer than 60 participants, and the normal quantile otherwise (or when the group sizes
    are unknown, NaN).

    References
    ----------
    Cochrane Handbook, version 6.4 (2023), section 6.5.2.3.
    """
    n1, n2 = np.asarray(n1, dtype=float), np.asarray(n2, dtype=float)
    small = (np.minimum(n1, n2) < 60) & np.isfinite(n1 + n2)
    width = np.asarray(upper, dtype=float) - np.asarray(lower, dtype=float)
    return width / (2 * _normal_or_t_quantile(small, n1 + n2 - 2, level))


def se_from_ci_of_paired_difference(
    lower: ArrayLike, upper: ArrayLike, n: ArrayLike, level: ArrayLike = 0.95
) -> FloatArray:
    r"""Standard error of a paired (within-person) mean difference from its confidence interval.

    .. math:: SE = \frac{U - L}{2\,q}

    with ``q`` the t quantile on ``n - 1`` degrees of freedom when ``n < 60`` and the normal
    quantile otherwise.

    References
    ----------
    Cochrane Handbook, version 6.4 (2023), sections 6.5.2.3 and 23.2.7.3.
    """
    n = np.asarray(n, dtype=float)
    width = np.asarray(upper, dtype=float) - np.asarray(lower, dtype=float)
    return width / (2 * _normal_or_t_quantile(n < 60, n - 1, level))


def sd_from_se_of_difference(se: ArrayLike, n1: ArrayLike, n2: ArrayLike) -> FloatArray:
    r"""Pooled within-group SD implied by the standard error of a mean difference.

    .. math:: SD = \frac{SE}{\sqrt{1/n_1 + 1/n_2}}

    Valid for a difference between independent groups (parallel design), not for a paired
    (crossover) difference.

    References
    ----------
    Cochrane Handbook, version 6.4 (2023), section 6.5.2.3.
    """
    n1, n2 = np.asarray(n1, dtype=float), np.asarray(n2, dtype=float)
    return np.asarray(se, dtype=float) / np.sqrt(1 / n1 + 1 / n2)
