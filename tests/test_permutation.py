"""Permutation tests (``stats.permutation``): exact counts by hand, bounds and seeds.

metafor's ``permutest`` p-values on the BCG data are compared in
``test_metafor_parity_engine.py``. Here: data whose permutation distribution can be counted
by hand, the range and grid of every p-value, the reproducibility of the random path, and the
batch refits against refitting each permutation one at a time.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ketamine_meta.stats.meta_analysis import random_effects
from ketamine_meta.stats.meta_regression import meta_regression
from ketamine_meta.stats.permutation import (
    COMPARISON_TOLERANCE,
    moderator_permutation_test,
    sign_flip_test,
)

#: Twelve studies: 2^12 = 4096 sign flips, more than the default 1000 iterations.
Y12 = np.array([0.1, 0.5, 0.6, 1.3, 0.2, 0.9, -0.2, 0.4, 0.3, 0.8, 0.05, 0.6])
V12 = np.array([0.02, 0.05, 0.03, 0.08, 0.04, 0.06, 0.03, 0.05, 0.04, 0.02, 0.07, 0.03])


@pytest.mark.parametrize("k", [2, 3, 4, 5])
@pytest.mark.parametrize(("method", "test"), [("DL", "z"), ("REML", "z"), ("REML", "adhoc")])
def test_identical_estimates_reach_the_smallest_two_sided_p(k, method, test):
    """k equal estimates of equal variance: only the two flips of one sign for all reach the
    observed |z| (any other has a mean at most (k - 2) / k of it, and tau^2 >= 0), so
    p = 2 / 2^k."""
    result = sign_flip_test(random_effects(np.full(k, 0.3), np.full(k, 0.04), method, test))
    assert result.exact and result.permutations == 2**k
    assert result.pval[0] == 2 / 2**k
    assert result.qm_pval == 2 / 2**k


def test_estimates_that_cancel_out_have_p_one():
    """Observed z = 0: every flip is at least as extreme."""
    result = sign_flip_test(random_effects([0.3, -0.3], [0.04, 0.04], "DL", "z"))
    assert result.statistic[0] == pytest.approx(0.0, abs=1e-15)
    assert (result.pval[0], result.qm_pval) == (1.0, 1.0)


def test_a_binary_moderator_that_separates_the_groups_is_counted_by_hand():
    """4 studies, 2 in each group: 4! / (2! 2!) = 6 distinct arrangements. Two separate
    {0.1, 0.3} from {0.5, 0.7} (|difference| 0.4, z = 2); the other four give a difference of
    0.2 or 0 with tau^2 >= 0, so |z| <= 1: p = 2 / 6."""
    x = np.column_stack([np.ones(4), [0.0, 0.0, 1.0, 1.0]])
    fit = meta_regression([0.1, 0.3, 0.5, 0.7], [0.04] * 4, x, ["intercept", "g"], "DL", "z")
    result = moderator_permutation_test(fit)
    assert result.exact and result.permutations == 6
    assert result.pval[1] == pytest.approx(1 / 3, abs=1e-15)
    assert result.qm_pval == pytest.approx(1 / 3, abs=1e-15)
    # The observed statistics are the fit's own.
    np.testing.assert_array_equal(result.statistic, fit.coefficients["statistic"])
    assert result.qm == fit.qm


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_p_value_is_a_count_of_permutations_from_one_in_n_to_one(seed):
    """The observed arrangement is among the permutations: p >= 1/n, and p n is a count."""
    rng = np.random.default_rng(seed)
    y, v = rng.normal(0.3, 0.4, 7), rng.uniform(0.01, 0.1, 7)
    x = np.column_stack([np.ones(7), rng.uniform(0, 1, 7)])
    results = [
        sign_flip_test(random_effects(y, v)),
        sign_flip_test(random_effects(Y12, V12), iterations=500, seed=seed),
        moderator_permutation_test(meta_regression(y, v, x, ["intercept", "x"]), 500, seed),
    ]
    for result in results:
        n = result.permutations
        p = np.append(result.pval, result.qm_pval)
        assert ((p >= 1 / n) & (p <= 1)).all()
        np.testing.assert_allclose(p * n, np.round(p * n), atol=1e-9)


def test_the_random_path_is_reproducible_with_its_seed():
    fit = random_effects(Y12, V12)
    first, again = sign_flip_test(fit, 1000, seed=7), sign_flip_test(fit, 1000, seed=7)
    assert not first.exact and first.permutations == 1000
    assert (first.pval, first.qm_pval) == (again.pval, again.qm_pval)
    x = np.column_stack([np.ones(12), np.arange(12.0)])
    regression = meta_regression(Y12, V12, x, ["intercept", "order"])
    moderator = moderator_permutation_test(regression, 300, seed=7)
    assert not moderator.exact and moderator.permutations == 300
    repeated = moderator_permutation_test(regression, 300, seed=7)
    np.testing.assert_array_equal(moderator.pval, repeated.pval)


def test_random_flips_estimate_the_exact_p_value():
    """2^12 flips enumerated against 2000 drawn: within 4 binomial SE (plus the observed
    arrangement, always counted)."""
    fit = random_effects(Y12, V12)
    exact = sign_flip_test(fit, iterations=2**12)
    drawn = sign_flip_test(fit, iterations=2000, seed=11)
    assert exact.exact and not drawn.exact
    p = exact.pval[0]
    assert 0 < p < 0.05  # a p-value away from 0 and 1: the comparison could fail
    assert abs(drawn.pval[0] - p) <= 4 * np.sqrt(p * (1 - p) / 2000) + 1 / 2000


def test_the_batch_refits_equal_refitting_each_permutation():
    """REML goes through the batch path (estimates permuted against a fixed matrix); every one
    of the 5! orders refitted one at a time by meta_regression gives the same p-values."""
    y = np.array([0.2, 0.8, 0.1, 0.6, 0.4])
    v = np.array([0.03, 0.05, 0.02, 0.06, 0.04])
    x = np.column_stack([np.ones(5), [1.0, 3.0, 0.5, 2.0, 4.0]])
    fit = meta_regression(y, v, x, ["intercept", "dose"], "REML", "knha")
    result = moderator_permutation_test(fit, iterations=1000)
    assert result.exact and result.permutations == 120
    refits = [
        meta_regression(y, v, x[list(order)], ["intercept", "dose"], "REML", "knha")
        for order in itertools.permutations(range(5))
    ]
    statistics = np.array([r.coefficients["statistic"].to_numpy() for r in refits])
    observed = fit.coefficients["statistic"].to_numpy()
    expected = np.mean(np.abs(statistics) >= np.abs(observed) - COMPARISON_TOLERANCE, axis=0)
    np.testing.assert_array_equal(result.pval, expected)
    assert 1 / 120 < result.pval[1] < 1  # neither bound: the count is informative
