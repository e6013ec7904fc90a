"""The tables of a network of any shape (:mod:`ketamine_meta.stats.network_tables`): arm
effects as netmeta's pairwise() pairs them, parts fitted one by one, P-scores either way up,
and the m - 1 contrasts of a multi-arm trial with their covariance. Values against metafor
are in test_cli_network.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ketamine_meta.stats.network import (
    NetworkError,
    fit_network,
    network_from_arms,
    trials_from_arms,
    trials_from_pairwise,
)
from ketamine_meta.stats.network_tables import arm_effects, network_tables

# A triangle A-B-C (a three-arm trial and two two-arm trials) and, apart, D-E.
ARMS = pd.DataFrame(
    {
        "study": ["t1", "t1", "t1", "t2", "t2", "t3", "t3", "t4", "t4"],
        "treatment": ["A", "B", "C", "A", "B", "B", "C", "D", "E"],
        "effect": [0.0, 0.4, 0.9, 0.1, 0.6, 0.2, 0.5, 0.0, 0.3],
        "variance": [0.05, 0.06, 0.07, 0.04, 0.05, 0.06, 0.05, 0.1, 0.1],
    }
)


def test_arm_effects_of_counts_correct_every_arm_of_a_trial_with_an_extreme_arm():
    study = ["s1", "s1", "s2", "s2"]
    values = {"event": [0, 4, 3, 5], "n": [10, 10, 10, 10]}
    y, v = arm_effects("OR", study, values)
    # s1 has an arm without events: 1/2 added to both its arms; s2 is left as it is.
    np.testing.assert_allclose(y, np.log([0.5 / 10.5, 4.5 / 6.5, 3 / 7, 5 / 5]), rtol=1e-15)
    np.testing.assert_allclose(v, [1 / 0.5 + 1 / 10.5, 1 / 4.5 + 1 / 6.5, 1 / 3 + 1 / 7, 0.4])
    y, v = arm_effects("RR", study, values)
    np.testing.assert_allclose(y, np.log([0.5 / 11, 4.5 / 11, 0.3, 0.5]), rtol=1e-15)
    np.testing.assert_allclose(v, [1 / 0.5 - 1 / 11, 1 / 4.5 - 1 / 11, 1 / 3 - 0.1, 0.1])
    y, v = arm_effects("MD", study, {"mean": [1, 2, 3, 4], "sd": [2, 2, 1, 1], "n": [4] * 4})
    assert (y.tolist(), v.tolist()) == ([1, 2, 3, 4], [1, 1, 0.25, 0.25])
    with pytest.raises(ValueError, match="unknown arm-level measure 'SMD'"):
        arm_effects("SMD", study, values)


def test_each_connected_part_is_fitted_against_its_own_reference():
    tables = network_tables(trials_from_arms(ARMS), "A")
    effects = tables.effects.set_index("treatment")
    assert effects["part"].to_dict() == {"B": 1, "C": 1, "E": 2}
    assert effects["reference"].to_dict() == {"B": "A", "C": "A", "E": "D"}
    assert effects["trials"].to_dict() == {"B": 3, "C": 3, "E": 1}
    # The part of one two-arm trial is that trial: E minus D, its variance the arms' sum.
    assert effects.loc["E", "estimate"] == pytest.approx(0.3, rel=1e-12)
    assert effects.loc["E", "se"] == pytest.approx(np.sqrt(0.2), rel=1e-12)
    # Part 1 as a network of its own gives the same numbers.
    alone = fit_network(network_from_arms(ARMS[ARMS["study"] != "t4"], "A"))
    np.testing.assert_allclose(
        effects.loc[["B", "C"], "estimate"], alone.effects["estimate"], rtol=1e-12
    )
    league = tables.league
    assert set(zip(league["part"], league["row"], league["column"], strict=True)) == {
        *((1, r, c) for r in "ABC" for c in "ABC" if r != c),
        (2, "D", "E"),
        (2, "E", "D"),
    }
    q = tables.heterogeneity.set_index(["part", "component"])
    assert q.loc[(2, "total"), "df"] == 0 and np.isnan(q.loc[(2, "total"), "q"])
    # Only the triangle has comparisons with direct and indirect evidence.
    assert set(tables.node_split["part"]) == {1}


def test_p_scores_turn_over_when_small_values_are_desirable():
    larger = network_tables(trials_from_arms(ARMS), "A").pscores["pscore"]
    smaller = network_tables(trials_from_arms(ARMS), "A", small_values="desirable").pscores
    np.testing.assert_allclose(smaller["pscore"], 1 - larger, rtol=1e-15)
    # Within a part of two, one is better with certainty 1 - p and the other p.
    two = smaller[smaller["treatment"].isin(["D", "E"])]["pscore"]
    assert two.sum() == pytest.approx(1.0, rel=1e-15)


def test_a_reference_in_no_part_is_refused():
    with pytest.raises(NetworkError, match="reference 'Z' is not a treatment"):
        network_tables(trials_from_arms(ARMS), "Z")


def test_m_minus_1_contrasts_with_their_covariance_are_the_trial_s_arms():
    t1 = ARMS[ARMS["study"] == "t1"]
    base = t1.iloc[0]
    basic = pd.DataFrame(
        {
            "study": "t1",
            "treat1": t1["treatment"].iloc[1:],
            "treat2": base["treatment"],
            "yi": t1["effect"].iloc[1:] - base["effect"],
            "vi": t1["variance"].iloc[1:] + base["variance"],
            "covi": base["variance"],
        }
    )
    (trial,) = trials_from_pairwise(basic)
    assert trial.treatments == ("A", "B", "C")
    np.testing.assert_allclose(trial.variances, t1["variance"], rtol=1e-12)
    np.testing.assert_allclose(np.diff(trial.effects), np.diff(t1["effect"]), rtol=1e-12)
    with pytest.raises(NetworkError, match="covi must be positive and below every vi"):
        trials_from_pairwise(basic.assign(covi=0.2))
    with pytest.raises(NetworkError, match="need one covariance"):
        trials_from_pairwise(basic.assign(covi=[0.05, 0.06]))
