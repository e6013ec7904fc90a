"""Properties every effect size and model must have, whatever the data (hypothesis).

Values are checked against metafor in the parity suites; these tests check invariances that
a wrong sign, a wrong scale or an order dependence would break.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketamine_meta.stats import meta_analysis
from ketamine_meta.stats.effect_sizes import (
    combine_groups,
    log_odds_ratio,
    log_risk_ratio,
    risk_difference,
    smd,
    smd_paired,
)
from ketamine_meta.stats.meta_analysis import fit_batch, random_effects
from ketamine_meta.stats.meta_regression import meta_regression, meta_regression_batch

METHODS = ["REML", "DL", "PM", "ML", "SJ", "EB"]
FIELDS = ("estimate", "se", "ci_low", "ci_high", "pi_low", "pi_high", "tau2", "q", "i2")

arm = st.tuples(
    st.floats(-40, 40, allow_nan=False),  # mean
    st.floats(0.5, 20, allow_nan=False),  # SD
    st.integers(3, 300),  # n
)
table = st.integers(2, 300).flatmap(
    lambda n1: st.integers(2, 300).flatmap(
        lambda n2: st.tuples(st.integers(0, n1), st.just(n1), st.integers(0, n2), st.just(n2))
    )
)
studies = st.lists(
    st.tuples(st.floats(-2, 2, allow_nan=False), st.floats(0.005, 1.0, allow_nan=False)),
    min_size=2,
    max_size=12,
)


@settings(max_examples=100, deadline=None)
@given(arm, arm)
def test_swapping_arms_flips_the_smd(a, b):
    g_ab, v_ab = smd(a[0], a[1], a[2], b[0], b[1], b[2])
    g_ba, v_ba = smd(b[0], b[1], b[2], a[0], a[1], a[2])
    assert g_ba == pytest.approx(-g_ab, rel=1e-12, abs=1e-12)
    assert v_ba == pytest.approx(v_ab, rel=1e-12)


@settings(max_examples=100, deadline=None)
@given(table, st.sampled_from(["only0", "all", "if0all", "none"]))
def test_swapping_arms_flips_binary_measures(cells, to):
    a, n1, c, n2 = cells
    for measure in (log_risk_ratio, log_odds_ratio, risk_difference):
        y_ab, v_ab = measure(a, n1, c, n2, to=to)
        y_ba, v_ba = measure(c, n2, a, n1, to=to)
        if np.isfinite(y_ab):
            assert y_ba == pytest.approx(-y_ab, rel=1e-12, abs=1e-12)
            assert v_ba == pytest.approx(v_ab, rel=1e-12)


@settings(max_examples=100, deadline=None)
@given(arm, arm, st.floats(0.01, 100), st.floats(-50, 50))
def test_rescaling_and_shifting_scores_leaves_the_smd_unchanged(a, b, scale, shift):
    g, v = smd(a[0], a[1], a[2], b[0], b[1], b[2])
    g2, v2 = smd(a[0] * scale + shift, a[1] * scale, a[2], b[0] * scale + shift, b[1] * scale, b[2])
    assert g2 == pytest.approx(g, rel=1e-9, abs=1e-12)
    assert v2 == pytest.approx(v, rel=1e-9)


@settings(max_examples=60, deadline=None)
@given(arm, arm, st.floats(-0.9, 0.95), st.floats(0.01, 100))
def test_crossover_smd_is_scale_free_and_falls_with_correlation(a, b, r, scale):
    g, v = smd_paired(a[0], b[0], a[1], a[2], r)
    g2, v2 = smd_paired(a[0] * scale, b[0] * scale, a[1] * scale, a[2], r)
    assert g2 == pytest.approx(g, rel=1e-9, abs=1e-12)
    assert v2 == pytest.approx(v, rel=1e-9)
    # A higher within-person correlation can only make the paired estimate more precise.
    _, v_higher = smd_paired(a[0], b[0], a[1], a[2], min(r + 0.04, 0.99))
    assert v_higher < v


@settings(max_examples=60, deadline=None)
@given(arm, arm)
def test_combining_groups_keeps_the_total_and_the_grand_mean(a, b):
    n, mean, sd = combine_groups(a[2], a[0], a[1], b[2], b[0], b[1])
    assert n == a[2] + b[2]
    assert mean == pytest.approx((a[2] * a[0] + b[2] * b[0]) / n)
    assert sd >= min(a[1], b[1]) * np.sqrt((min(a[2], b[2]) - 1) / (n - 1)) - 1e-9


@settings(max_examples=40, deadline=None)
@given(studies, st.sampled_from(METHODS), st.randoms(use_true_random=False))
def test_reordering_studies_leaves_every_estimator_unchanged(data, method, rnd):
    yi, vi = map(np.array, zip(*data, strict=True))
    order = list(range(len(yi)))
    rnd.shuffle(order)
    a = random_effects(yi, vi, method)
    b = random_effects(yi[order], vi[order], method)
    for field in FIELDS:
        assert getattr(b, field) == pytest.approx(getattr(a, field), rel=1e-7, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(studies, st.sampled_from(METHODS), st.floats(-5, 5), st.sampled_from(["knha", "z"]))
def test_a_study_with_infinite_variance_changes_nothing(data, method, y_extra, test):
    yi, vi = map(np.array, zip(*data, strict=True))
    a = random_effects(yi, vi, method, test)
    b = random_effects(np.append(yi, y_extra), np.append(vi, np.inf), method, test)
    assert b.k == a.k
    for field in FIELDS:
        assert getattr(b, field) == pytest.approx(getattr(a, field), rel=1e-9, abs=1e-12)


def _padded(datasets) -> tuple[np.ndarray, np.ndarray]:
    """Meta-analyses of different sizes as NaN-padded ``yi`` and ``vi`` arrays."""
    width = max(len(d) for d in datasets)
    y = np.full((len(datasets), width), np.nan)
    v = np.full((len(datasets), width), np.nan)
    for i, d in enumerate(datasets):
        y[i, : len(d)], v[i, : len(d)] = zip(*d, strict=True)
    return y, v


@settings(max_examples=30, deadline=None)
@given(st.lists(studies, min_size=1, max_size=6), st.sampled_from(METHODS))
def test_batch_fit_equals_one_fit_at_a_time(datasets, method):
    """Padding meta-analyses of different sizes into one batch changes no result."""
    y, v = _padded(datasets)
    batch = fit_batch(y, v, method)
    for i, d in enumerate(datasets):
        single = random_effects(*map(np.array, zip(*d, strict=True)), method)
        for field in FIELDS:
            assert getattr(batch, field)[i] == pytest.approx(
                getattr(single, field), rel=1e-9, abs=1e-12
            )


@settings(max_examples=30, deadline=None)
@given(st.lists(studies, min_size=1, max_size=6), st.sampled_from(METHODS))
def test_a_batch_refitted_with_its_tau2_under_another_test_equals_a_fresh_fit(datasets, method):
    """What the multiverse does: tau² estimated once per estimator, reused for each test."""
    y, v = _padded(datasets)
    first = fit_batch(y, v, method, "z")
    for test in ("knha", "adhoc"):
        reused, fresh = (
            fit_batch(y, v, method, test, tau2=first.tau2),
            fit_batch(y, v, method, test),
        )
        for field in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high", "tau2", "pval"):
            np.testing.assert_array_equal(getattr(reused, field), getattr(fresh, field))


def test_a_tau2_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match="tau2 has shape"):
        fit_batch(np.zeros((2, 3)), np.ones((2, 3)), "REML", tau2=np.zeros(3))


@settings(max_examples=30, deadline=None)
@given(studies.filter(lambda d: len(d) >= 3), st.sampled_from(METHODS))
def test_intercept_only_regression_is_the_random_effects_model(data, method):
    yi, vi = map(np.array, zip(*data, strict=True))
    fit = meta_regression(yi, vi, np.ones((yi.size, 1)), ["intercept"], method, "knha")
    re = random_effects(yi, vi, method, "knha")
    assert fit.tau2 == pytest.approx(re.tau2, rel=1e-6, abs=1e-9)
    assert fit.coefficients["estimate"][0] == pytest.approx(re.estimate, rel=1e-6, abs=1e-9)
    assert fit.coefficients["se"][0] == pytest.approx(re.se, rel=1e-6, abs=1e-9)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(-2, 2, allow_nan=False),
            st.floats(0.01, 1.0, allow_nan=False),
            st.floats(-3, 3, allow_nan=False),
        ),
        min_size=4,
        max_size=10,
    ).filter(lambda d: len({round(x, 3) for *_, x in d}) > 2),
    st.sampled_from(["REML", "ML", "DL"]),
    st.sampled_from(["knha", "z"]),
)
def test_batch_meta_regression_equals_one_fit_at_a_time(data, method, test):
    yi, vi, mod = map(np.array, zip(*data, strict=True))
    x = np.column_stack([np.ones(yi.size), mod])
    rng = np.random.default_rng(0)
    orders = np.array([rng.permutation(yi.size) for _ in range(5)])
    batch = meta_regression_batch(yi[orders], vi[orders], x, ["intercept", "m"], method, test)
    for i, order in enumerate(orders):
        single = meta_regression(yi[order], vi[order], x, ["intercept", "m"], method, test)
        assert batch.tau2[i] == pytest.approx(single.tau2, rel=1e-7, abs=1e-9)
        np.testing.assert_allclose(
            batch.beta[i], single.coefficients["estimate"], rtol=1e-7, atol=1e-9
        )
        assert batch.qm[i] == pytest.approx(single.qm, rel=1e-6, abs=1e-9, nan_ok=True)


@pytest.mark.parametrize("method", METHODS)
def test_a_batch_fitted_in_blocks_of_rows_equals_one_call(monkeypatch, method):
    """fit_batch splits a large batch into blocks of rows to bound its memory; the meta-
    analyses are independent, so every field must be the same bits."""
    rng = np.random.default_rng(7)
    y = rng.normal(0.4, 0.3, (23, 9))
    v = rng.uniform(0.01, 0.2, (23, 9))
    y[rng.random((23, 9)) < 0.3] = np.nan  # meta-analyses of different sizes
    y[:, 0] = 0.1
    whole = meta_analysis.fit_batch(y, v, method, "knha")
    monkeypatch.setattr(meta_analysis, "BATCH_BLOCK_CELLS", 20)  # 2 rows a block
    blocked = meta_analysis.fit_batch(y, v, method, "knha", tau2=None)
    reused = meta_analysis.fit_batch(y, v, method, "adhoc", tau2=whole.tau2)
    for field in dataclasses.fields(whole):
        np.testing.assert_array_equal(getattr(blocked, field.name), getattr(whole, field.name))
    np.testing.assert_array_equal(
        reused.ci_low, meta_analysis.fit_batch(y, v, method, "adhoc").ci_low
    )
