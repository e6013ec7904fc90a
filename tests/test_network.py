"""Network meta-analysis engine: invariances, the pairwise special case, and refused input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketamine_meta.stats.meta_analysis import random_effects
from ketamine_meta.stats.network import (
    NetworkError,
    direct_evidence_share,
    fit_network,
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
