"""Unit and property tests of the effect-size functions (values against metafor are in
test_metafor_parity.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketamine_meta.stats.effect_sizes import (
    hedges_correction,
    log_risk_ratio,
    mean_difference,
    peto_log_odds_ratio,
    peto_terms,
    sd_from_ci,
    sd_from_se,
    smd,
    smd_paired,
    standardized_mean_change,
)

means = st.floats(-50, 50, allow_nan=False)
sds = st.floats(0.5, 20, allow_nan=False)
sizes = st.integers(3, 400)


@pytest.mark.parametrize("m", [2, 5, 10, 38, 120])
def test_hedges_correction_is_the_gamma_ratio(m):
    exact = math.gamma(m / 2) / (math.sqrt(m / 2) * math.gamma((m - 1) / 2))
    assert hedges_correction(m) == pytest.approx(exact, rel=1e-12)


def test_hedges_correction_approaches_the_usual_approximation():
    # J(m) = 1 - 3/(4m - 1) + O(m^-2) (Hedges 1981).
    assert hedges_correction(1000) == pytest.approx(1 - 3 / (4 * 1000 - 1), abs=1e-6)


def test_smd_by_hand():
    # d = (10 - 8) / 4 = 0.5 with equal SDs; J(38) and the LS variance written out.
    yi, vi = smd(10, 4, 20, 8, 4, 20)
    j = hedges_correction(38)
    assert yi == pytest.approx(0.5 * j, rel=1e-12)
    assert vi == pytest.approx(1 / 20 + 1 / 20 + (0.5 * j) ** 2 / 80, rel=1e-12)


@given(means, sds, sizes, means, sds, sizes)
def test_smd_swapping_arms_flips_sign(m1, s1, n1, m2, s2, n2):
    y12, v12 = smd(m1, s1, n1, m2, s2, n2)
    y21, v21 = smd(m2, s2, n2, m1, s1, n1)
    assert y21 == pytest.approx(-y12, abs=1e-12)
    assert v21 == pytest.approx(v12, rel=1e-12)


@given(means, sds, sizes, means, sds, sizes, st.floats(0.01, 100), st.floats(-100, 100))
def test_smd_is_scale_free(m1, s1, n1, m2, s2, n2, scale, shift):
    y, v = smd(m1, s1, n1, m2, s2, n2)
    y2, v2 = smd(m1 * scale + shift, s1 * scale, n1, m2 * scale + shift, s2 * scale, n2)
    assert y2 == pytest.approx(y, rel=1e-9, abs=1e-9)
    assert v2 == pytest.approx(v, rel=1e-9)


@given(st.integers(0, 50), st.integers(1, 50), st.integers(0, 50), st.integers(1, 50))
def test_log_rr_swapping_arms_flips_sign(a, extra1, c, extra2):
    y12, v12 = log_risk_ratio(a, a + extra1, c, c + extra2)
    y21, v21 = log_risk_ratio(c, c + extra2, a, a + extra1)
    assert y21 == pytest.approx(-y12, abs=1e-12)
    assert v21 == pytest.approx(v12, rel=1e-12)


def test_log_rr_correction_only_where_a_cell_is_zero():
    y, v = log_risk_ratio([0, 10], [20, 20], [5, 5], [20, 20])
    assert y[0] == pytest.approx(np.log((0.5 / 21) / (5.5 / 21)))
    assert y[1] == pytest.approx(np.log(10 / 5))  # untouched: no zero cell
    assert v[1] == pytest.approx(1 / 10 - 1 / 20 + 1 / 5 - 1 / 20)


def test_sd_conversions():
    assert sd_from_se(2.0, 25) == pytest.approx(10.0)
    # n >= 60 uses the normal quantile: width 2 * 1.959964 * SE.
    assert sd_from_ci(10 - 1.959964, 10 + 1.959964, 100) == pytest.approx(10.0, rel=1e-6)
    # n < 60 uses t with n - 1 df (Cochrane Handbook 6.5.2.2): t(0.975, 24) = 2.063899.
    assert sd_from_ci(10 - 2.063899, 10 + 2.063899, 25) == pytest.approx(5.0, rel=1e-6)


def test_the_standardized_mean_change_divides_by_the_sd_of_the_change_scores():
    # sd of change = sqrt(4 + 4 - 2 * 0.5 * 2 * 2) = 2, so d = (12 - 10) / 2 = 1.
    g, v = standardized_mean_change(12.0, 10.0, 2.0, 2.0, 10, 0.5)
    j = float(hedges_correction(9))
    assert float(g) == pytest.approx(j, rel=1e-15)
    assert float(v) == pytest.approx(1 / 10 + j**2 / 20, rel=1e-15)
    _, v_ls2 = standardized_mean_change(12.0, 10.0, 2.0, 2.0, 10, 0.5, vtype="LS2")
    assert float(v_ls2) == pytest.approx(j**2 * (1 / 10 + 1 / 20), rel=1e-15)


def test_the_raw_score_change_takes_r_into_its_variance_only():
    g, v = smd_paired(12.0, 10.0, 4.0, 10, 0.75)
    j = float(hedges_correction(9))
    assert float(g) == pytest.approx(j * 0.5, rel=1e-15)
    assert float(v) == pytest.approx(2 * 0.25 / 10 + (j * 0.5) ** 2 / 20, rel=1e-15)
    _, v_ls2 = smd_paired(12.0, 10.0, 4.0, 10, 0.75, vtype="LS2")
    assert float(v_ls2) == pytest.approx(j**2 * (2 * 0.25 / 10 + 0.25 / 20), rel=1e-15)
    with pytest.raises(ValueError, match="vtype"):
        smd_paired(12.0, 10.0, 4.0, 10, 0.75, vtype="UB")


def test_peto_s_log_odds_ratio_is_observed_minus_expected_over_the_hypergeometric_variance():
    # 5/10 against 2/10: E = 7 * 10 / 20 = 3.5, V = 7 * 13 * (1/2) * (1/2) / 19.
    yi, vi = peto_log_odds_ratio(5, 10, 2, 10)
    variance = 7 * 13 * 0.25 / 19
    assert float(yi) == pytest.approx(1.5 / variance, rel=1e-15)
    assert float(vi) == pytest.approx(1 / variance, rel=1e-15)
    deviation, v = peto_terms(*(np.array([x]) for x in (5.0, 5.0, 2.0, 8.0)))
    assert (deviation[0], v[0]) == pytest.approx((1.5, variance), rel=1e-15)
    # A zero cell: 1/2 added to each of its table's four cells, as metafor's default does.
    corrected, _ = peto_log_odds_ratio(0, 10, 2, 10)
    assert float(corrected) == pytest.approx(
        float(peto_log_odds_ratio(0.5, 11, 2.5, 11, to="none")[0]), rel=1e-15
    )


def test_smd_and_md_take_metafor_s_other_variances():
    # Two groups of 10 with SDs 2 and 4: the pooled SD is sqrt(10), m = 18.
    g, _ = smd(12.0, 2.0, 10, 10.0, 4.0, 10)
    j = float(hedges_correction(18))
    d = 2 / math.sqrt(10)
    assert float(g) == pytest.approx(j * d, rel=1e-15)
    _, v_ls2 = smd(12.0, 2.0, 10, 10.0, 4.0, 10, vtype="LS2")
    assert float(v_ls2) == pytest.approx(j**2 * (0.2 + d**2 / 40), rel=1e-14)
    _, v_ub = smd(12.0, 2.0, 10, 10.0, 4.0, 10, vtype="UB")
    assert float(v_ub) == pytest.approx(0.2 + (1 - 16 / (18 * j**2)) * float(g) ** 2, rel=1e-14)
    # AV: every study's variance from the size-weighted mean g of the studies given.
    g2, v_av = smd([12.0, 11.0], [2.0, 2.0], [10, 30], [10.0, 10.0], [4.0, 2.0], [10, 30], "AV")
    mean_g = (20 * g2[0] + 60 * g2[1]) / 80
    np.testing.assert_allclose(v_av, [0.2 + mean_g**2 / 40, 2 / 30 + mean_g**2 / 120], rtol=1e-14)
    with pytest.raises(ValueError, match="unknown vtype 'HO'"):
        smd(12.0, 2.0, 10, 10.0, 4.0, 10, vtype="HO")
    _, v_ho = mean_difference(12.0, 2.0, 10, 10.0, 4.0, 10, vtype="HO")
    assert float(v_ho) == pytest.approx(10 * 0.2, rel=1e-15)
    assert float(mean_difference(12.0, 2.0, 10, 10.0, 4.0, 10)[1]) == pytest.approx(2.0)
