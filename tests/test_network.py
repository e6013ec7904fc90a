"""Network meta-analysis engine: invariances, the pairwise special case, and refused input."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import optimize

from ketamine_meta.stats.meta_analysis import random_effects
from ketamine_meta.stats.network import (
    NetworkError,
    basic_contrasts,
    connected_components,
    design_matrix,
    direct_evidence_share,
    estimate_network_tau2,
    fit_network,
    log_likelihood,
    network_from_arms,
    network_from_pairwise,
    node_split,
    splittable_comparisons,
)

# A small network: A-B, A-C, B-C trials and one three-arm A-B-C trial (all pairs given).
ARMS = {
    "t1": {"A": (0.0, 0.04), "B": (0.5, 0.05)},
    "t2": {"A": (0.0, 0.03), "C": (0.9, 0.06)},
    "t3": {"B": (0.0, 0.05), "C": (0.2, 0.04)},
    "t4": {"A": (0.1, 0.02), "B": (0.7, 0.03), "C": (1.2, 0.05)},
    "t5": {"A": (0.0, 0.05), "B": (0.2, 0.05)},
    "t6": {"A": (0.0, 0.02), "C": (0.6, 0.04)},
}


def pairwise(arms=ARMS) -> pd.DataFrame:
    rows = []
    for study, trial in arms.items():
        names = list(trial)
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                (y1, v1), (y2, v2) = trial[names[j]], trial[names[i]]
                rows.append((study, names[j], names[i], y1 - y2, v1 + v2))
    return pd.DataFrame(rows, columns=["study", "treat1", "treat2", "yi", "vi"])


@pytest.mark.parametrize("method", ["REML", "ML", "DL"])
def test_fit_does_not_depend_on_row_order_or_orientation(method):
    contrasts = pairwise()
    base = fit_network(network_from_pairwise(contrasts, "A"), method)
    flipped = contrasts.rename(columns={"treat1": "treat2", "treat2": "treat1"})
    flipped["yi"] = -flipped["yi"]
    shuffled = flipped.sample(frac=1.0, random_state=3)
    other = fit_network(network_from_pairwise(shuffled, "A"), method)
    np.testing.assert_allclose(other.coefficients, base.coefficients, atol=1e-8)
    np.testing.assert_allclose(other.vcov, base.vcov, atol=1e-8)
    assert other.tau2 == pytest.approx(base.tau2, abs=1e-8)


def test_reference_choice_only_relabels_effects():
    contrasts = pairwise()
    by_a = fit_network(network_from_pairwise(contrasts, "A"))
    by_b = fit_network(network_from_pairwise(contrasts, "B"))
    # C vs A from the B-referenced fit: (C - B) - (A - B).
    assert by_b.league_estimate.loc["C", "A"] == pytest.approx(
        by_a.effects.set_index("treatment").loc["C", "estimate"], abs=1e-8
    )
    assert by_a.tau2 == pytest.approx(by_b.tau2, abs=1e-8)


@given(
    st.lists(st.tuples(st.floats(-2, 2), st.floats(0.01, 1.0)), min_size=3, max_size=12),
    st.sampled_from(["REML", "ML", "DL"]),
)
def test_two_treatments_is_the_pairwise_random_effects_model(trials, method):
    """With one comparison the network is rma.uni, which matches metafor already."""
    contrasts = pd.DataFrame(
        [(f"s{i}", "B", "A", y, v) for i, (y, v) in enumerate(trials)],
        columns=["study", "treat1", "treat2", "yi", "vi"],
    )
    fit = fit_network(network_from_pairwise(contrasts, "A"), method)
    pairwise_fit = random_effects(contrasts["yi"], contrasts["vi"], method=method, test="z")
    assert fit.tau2 == pytest.approx(pairwise_fit.tau2, abs=1e-6)
    assert fit.coefficients[0] == pytest.approx(pairwise_fit.estimate, abs=1e-6)
    assert fit.effects["se"].iloc[0] == pytest.approx(pairwise_fit.se, abs=1e-6)


def test_pscores_average_one_half_and_rank_the_effects():
    fit = fit_network(network_from_pairwise(pairwise(), "A"))
    assert fit.pscore.mean() == pytest.approx(0.5)
    order = fit.league_estimate.loc[:, "A"].sort_values().index
    assert list(fit.pscore.loc[order].sort_values().index) == list(order)


def test_q_parts_add_up_and_split_is_consistent():
    network = network_from_pairwise(pairwise(), "A")
    fit = fit_network(network)
    assert fit.q_within + fit.q_between == pytest.approx(fit.q)
    assert fit.q_within_df + fit.q_between_df == fit.q_df
    split = node_split(network, "A", "B")
    assert split.difference == pytest.approx(split.direct - split.indirect)
    assert ("A", "B") in splittable_comparisons(network)


def test_a_q_without_degrees_of_freedom_is_nan_not_zero():
    """A star of one trial per comparison: no residual, no repeated design, no loop."""
    star = pairwise({k: ARMS[k] for k in ("t1", "t2")})
    fit = fit_network(network_from_pairwise(star, "A"))
    assert (fit.q_df, fit.q_within_df, fit.q_between_df) == (0, 0, 0)
    assert np.isnan([fit.q, fit.q_within, fit.q_between, fit.q_p]).all()
    # Two trials of A-B: heterogeneity has a degree of freedom, inconsistency none.
    repeated = fit_network(network_from_pairwise(pairwise({k: ARMS[k] for k in ("t1", "t5")}), "A"))
    assert (repeated.q_within_df, repeated.q_between_df) == (1, 0)
    assert repeated.q_within == pytest.approx(repeated.q) and np.isnan(repeated.q_between)


def test_direct_share_is_one_for_a_star_without_loops():
    contrasts = pairwise({k: ARMS[k] for k in ("t1", "t2", "t5", "t6")})
    network = network_from_pairwise(contrasts, "A")
    shares = direct_evidence_share(network, fit_network(network))
    assert shares.to_dict() == pytest.approx({"B": 1.0, "C": 1.0})
    assert splittable_comparisons(network) == []


def test_direct_share_is_below_one_with_indirect_evidence():
    network = network_from_pairwise(pairwise(), "A")
    shares = direct_evidence_share(network, fit_network(network))
    assert ((shares > 0) & (shares < 1)).all()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c.assign(vi=c["vi"].where(c.index != 2, 0.0)), "row 3: vi 0.0 must be"),
        (lambda c: c.assign(yi=c["yi"].where(c.index != 0, np.inf)), "row 1: yi inf"),
        (
            lambda c: c.assign(yi=c["yi"].where(~((c["study"] == "t4") & (c.index == 5)), 9.0)),
            "study 't4': contradictory contrasts",
        ),
        (
            lambda c: c.drop(index=c.index[c["study"] == "t4"][-1]),
            "study 't4': a trial of 3 arms needs all 3 pairwise contrasts",
        ),
        (
            lambda c: c.assign(treat2=c["treat2"].where(c["study"] != "t1", "B")),
            "compares a treatment with itself",
        ),
    ],
)
def test_bad_networks_are_refused_with_the_trial_named(edit, message):
    contrasts = edit(pairwise())
    with pytest.raises(NetworkError, match=message.replace("(", r"\(").replace(")", r"\)")):
        fit_network(network_from_pairwise(contrasts, "A"))


def test_disconnected_network_names_its_components():
    contrasts = pd.DataFrame(
        [("s1", "B", "A", 0.1, 0.1), ("s2", "D", "C", 0.2, 0.1)],
        columns=["study", "treat1", "treat2", "yi", "vi"],
    )
    with pytest.raises(NetworkError, match=r"disconnected: \{A, B\}; \{C, D\}"):
        network_from_pairwise(contrasts, "A")


def test_unknown_reference_lists_the_treatments():
    with pytest.raises(NetworkError, match=r"reference 'Z' is not a treatment.*A, B, C"):
        network_from_pairwise(pairwise(), "Z")


# --- The block form against the dense n x n formulas -----------------------------------------


def random_network(seed: int, trials: int = 30):
    """Trials of 2-4 arms of A-F with true effects and heterogeneity; some lack the reference A,
    so their baseline is their first arm."""
    rng = np.random.default_rng(seed)
    truth = dict(zip("ABCDEF", [0.0, 0.3, 0.5, -0.2, 0.8, 0.1], strict=True))
    rows = []
    for i in range(trials):
        arms = rng.choice(list(truth), size=rng.choice([2, 2, 2, 3, 3, 4]), replace=False)
        base = rng.normal(0.0, 1.0)
        for arm in arms:
            variance = rng.uniform(0.01, 0.2)
            effect = base + truth[arm] + rng.normal(0.0, 0.25) + rng.normal(0.0, np.sqrt(variance))
            rows.append((f"s{i}", arm, effect, variance))
    arms = pd.DataFrame(rows, columns=["study", "treatment", "effect", "variance"])
    assert len(connected_components(network_from_arms(arms, "A").trials)) == 1
    return network_from_arms(arms, "A")


def dense_structure(network, rows):
    """V and W from the trials' arms, row by row, independently of the block layout."""
    variance = {
        (t.study, a): v
        for t in network.trials
        for a, v in zip(t.treatments, t.variances, strict=True)
    }
    same = rows.study[:, None] == rows.study[None, :]
    diagonal = np.eye(len(rows.y), dtype=bool)
    baseline = np.array([variance[(s, b)] for s, b in zip(rows.study, rows.treat2, strict=True)])
    arm = np.array([variance[(s, a)] for s, a in zip(rows.study, rows.treat1, strict=True)])
    V = np.where(same, baseline[:, None], 0.0) + np.diag(arm)
    W = np.where(same, 0.5, 0.0) + 0.5 * diagonal
    return V, W


def dense_gls(y, X, M):
    Mi = np.linalg.inv(M)
    vcov = np.linalg.inv(X.T @ Mi @ X)
    beta = vcov @ X.T @ Mi @ y
    P = Mi - Mi @ X @ vcov @ X.T @ Mi
    return beta, vcov, P


def fixed_effect_q(y, X, V):
    """Q = y' P y at tau^2 = 0, with the dense residual projector P."""
    _, _, P = dense_gls(y, X, V)
    return float(y @ P @ y), P


def dense_loglik(y, X, M, restricted):
    beta, vcov, _ = dense_gls(y, X, M)
    r = y - X @ beta
    rss = r @ np.linalg.solve(M, r)
    n, p = X.shape
    logdet_m = np.linalg.slogdet(M)[1]
    if restricted:
        logdet_xmx = -np.linalg.slogdet(vcov)[1]
        logdet_xx = np.linalg.slogdet(X.T @ X)[1]
        return -0.5 * ((n - p) * np.log(2 * np.pi) + logdet_m + logdet_xmx + rss - logdet_xx)
    return -0.5 * (n * np.log(2 * np.pi) + logdet_m + rss)


def dense_reml_score(y, X, V, W, tau2):
    _, _, P = dense_gls(y, X, V + tau2 * W)
    return -0.5 * (np.trace(P @ W) - y @ P @ W @ P @ y)


@pytest.fixture(params=[1, 2, 3])
def random_model(request):
    network = random_network(request.param)
    rows = basic_contrasts(network)
    X = design_matrix(rows, network.treatments[1:])
    return network, rows, X, *dense_structure(network, rows)


def test_blocks_hold_the_dense_covariance(random_model):
    _, rows, _, V, W = random_model
    assert any(block.rows.shape[1] > 1 for block in rows.blocks)  # multi-arm trials
    assembled_v, assembled_w = np.zeros_like(V), np.zeros_like(W)
    for block in rows.blocks:
        for positions, v, w in zip(block.rows, block.V, block.W, strict=True):
            assembled_v[np.ix_(positions, positions)] = v
            assembled_w[np.ix_(positions, positions)] = w
    np.testing.assert_array_equal(assembled_v, V)
    np.testing.assert_array_equal(assembled_w, W)


@pytest.mark.parametrize("tau2", [0.0, 0.03, 0.4])
@pytest.mark.parametrize("restricted", [True, False])
def test_block_log_likelihood_is_the_dense_one(random_model, tau2, restricted):
    _, rows, X, V, W = random_model
    expected = dense_loglik(rows.y, X, V + tau2 * W, restricted)
    assert log_likelihood(rows, X, tau2, restricted) == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize("method", ["REML", "ML", "DL"])
def test_block_gls_and_q_are_the_dense_ones(random_model, method):
    network, rows, X, V, W = random_model
    fit = fit_network(network, method)
    beta, vcov, _ = dense_gls(rows.y, X, V + fit.tau2 * W)
    np.testing.assert_allclose(fit.coefficients, beta, rtol=0, atol=1e-10)
    np.testing.assert_allclose(fit.vcov, vcov, rtol=0, atol=1e-10)
    q, P = fixed_effect_q(rows.y, X, V)
    assert fit.q == pytest.approx(q, abs=1e-10)
    designs = dict(zip((t.study for t in network.trials), network.designs, strict=True))
    row_design = np.array([designs[s] for s in rows.study])
    q_within = 0.0
    for design in set(row_design):
        idx = np.flatnonzero(row_design == design)
        if len(set(rows.study[idx])) > 1:
            comps = [f"{a}|{b}" for a, b in zip(rows.treat1[idx], rows.treat2[idx], strict=True)]
            Xd = np.column_stack([[c == k for c in comps] for k in dict.fromkeys(comps)])
            q_within += fixed_effect_q(rows.y[idx], Xd.astype(float), V[np.ix_(idx, idx)])[0]
    assert fit.q_within == pytest.approx(q_within, abs=1e-10)
    if method == "DL":
        df = X.shape[0] - X.shape[1]
        assert fit.tau2 == pytest.approx(max(0.0, (q - df) / np.trace(P @ W)), abs=1e-10)


def test_reml_tau2_is_the_root_of_the_dense_score(random_model):
    """Brent is polished to the score's root, so tau^2 does not depend on rounding."""
    _, rows, X, V, W = random_model
    tau2 = estimate_network_tau2(rows, X, "REML")
    assert tau2 > 0
    root = optimize.brentq(
        lambda t: dense_reml_score(rows.y, X, V, W, t), 0.5 * tau2, 2.0 * tau2, xtol=1e-15
    )
    assert tau2 == pytest.approx(root, abs=1e-10)


def test_direct_share_is_the_dense_variance_ratio(random_model):
    network, _, _, _, _ = random_model
    fit = fit_network(network)
    shares = direct_evidence_share(network, fit)
    for column, treatment in enumerate(fit.treatments[1:]):
        trials = [t for t in network.trials if {treatment, "A"} <= set(t.treatments)]
        if not trials:
            assert shares[treatment] == 0.0
            continue
        sub = type(network)(tuple(trials), "A")
        rows = basic_contrasts(sub)
        X = design_matrix(rows, sub.treatments[1:])
        V, W = dense_structure(sub, rows)
        _, vcov, _ = dense_gls(rows.y, X, V + fit.tau2 * W)
        k = sub.treatments[1:].index(treatment)
        expected = min(1.0, fit.vcov[column, column] / vcov[k, k])
        assert shares[treatment] == pytest.approx(expected, abs=1e-10)


def test_splittable_pairs_are_those_with_an_estimable_split_design(random_model):
    """The graph criterion equals the rank of [X, split column] (tests/test_network_parity.py
    checks the split estimates themselves against metafor)."""
    network = random_model[0]
    expected = []
    for first, second in combinations(network.treatments, 2):
        direct = {t.study for t in network.trials if {first, second} <= set(t.treatments)}
        if not direct:
            continue

        def baseline(trial, direct=direct, first=first):
            if trial.study in direct:
                return first
            return "A" if "A" in trial.treatments else trial.treatments[0]

        rows = basic_contrasts(network, baseline)
        split = np.isin(rows.study, list(direct)) & (rows.treat1 == second) & (rows.treat2 == first)
        Xs = np.column_stack([design_matrix(rows, network.treatments[1:]), split])
        if np.linalg.matrix_rank(Xs) == Xs.shape[1]:
            expected.append((first, second))
    assert splittable_comparisons(network) == expected


@pytest.mark.parametrize("method", ["REML", "ML", "DL"])
def test_without_residual_degrees_of_freedom_tau2_is_zero(method):
    """One trial per comparison of a star: as many rows as effects. The restricted
    likelihood is flat in tau^2 there; tau^2 = 0, as ML, DL and a single study give."""
    contrasts = pairwise({k: ARMS[k] for k in ("t1", "t2")})
    fit = fit_network(network_from_pairwise(contrasts, "A"), method)
    assert fit.tau2 == 0.0
    np.testing.assert_allclose(fit.coefficients, contrasts["yi"], atol=1e-12)
    np.testing.assert_allclose(np.diag(fit.vcov), contrasts["vi"], atol=1e-12)
