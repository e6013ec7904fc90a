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
    sd_from_ci,
    sd_from_se,
    smd,
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
