"""Response of :mod:`ketamine_meta.analyses.response` on the repository's data package: risk
ratios pooled over trials and response rates pooled over arms (PROTOCOL.md §11, §16)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import POOLING, PROTOCOL, RULES
from ketamine_meta.analyses import response
from ketamine_meta.analyses.comparisons import ComparisonRules
from ketamine_meta.analyses.protocol import Pooling, Protocol

#: Knapp-Hartung without the ad hoc correction, PROTOCOL.md's windows and analysis set, and
#: the library's default scale preference.
KNHA_POOLING = Pooling.from_config({"timepoint_h": 24, "method": "REML", "test": "knha"})
DEFAULT_PROTOCOL = Protocol()
DEFAULT_SCALES = ComparisonRules().scale_preference


def test_response_rates_combine_the_arms_of_a_trial(tables):
    """Daly 2018's three esketamine arms are one group of that trial's patients."""
    rows = response.arm_responses(
        tables["outcomes"],
        tables["arms"],
        tables["studies"],
        PROTOCOL.primary_window,
        PROTOCOL.analysis_set,
        RULES.scale_preference,
    )
    table = response.pooled_response_rates(
        tables["outcomes"],
        tables["arms"],
        tables["studies"],
        PROTOCOL,
        RULES.scale_preference,
        POOLING,
    ).set_index("arm_type")
    esk = table.loc["esketamine IN"]
    typed = rows.merge(
        tables["arms"].assign(arm_type=response.arm_types(tables["arms"]))[
            ["study_id", "arm_id", "arm_type"]
        ]
    )
    arms = typed[typed["arm_type"] == "esketamine IN"]
    assert esk["k"] == len(arms) > esk["trials"] == arms["study_id"].nunique()
    assert "Daly2018: 3 arms combined" in esk["dependence"]


def test_too_few_trials_are_not_shown_as_an_answer(rr):
    """Racemic response RR at 24 h rests on 2 trials: the row says so (the landing page
    showed RR 2.99 [0.00, 2090]); the model's numbers stay in the table for audit."""
    table = response.pool_rr_by(rr, "enantiomer", POOLING, "response").set_index("subgroup")
    racemic = table.loc["racemic"]
    assert racemic["trials"] == 2
    assert racemic["display"].startswith("too few trials (2 of 3)")
    assert np.isfinite([racemic["ci_low"], racemic["ci_high"]]).all()
    shown = table[table["trials"] >= POOLING.min_trials]
    assert not shown.empty and (shown["display"] == "").all()


def test_response_rate_of_a_single_arm_is_its_own_proportion(tables):
    table = response.pooled_response_rates(
        tables["outcomes"],
        tables["arms"],
        tables["studies"],
        DEFAULT_PROTOCOL,
        DEFAULT_SCALES,
        KNHA_POOLING,
    ).set_index("arm_type")
    single = table[table["k"] == 1]
    assert not single.empty
    np.testing.assert_allclose(single["proportion"], single["events"] / single["n"], rtol=1e-12)
    # Every arm type's pooled proportion lies within its interval.
    assert (
        (table["ci_low"] <= table["proportion"]) & (table["proportion"] <= table["ci_high"])
    ).all()


@pytest.mark.parametrize("measure", ["PLO", "PFT"])
def test_response_rates_by_either_transformation(tables, measure):
    table = response.pooled_response_rates(
        tables["outcomes"],
        tables["arms"],
        tables["studies"],
        DEFAULT_PROTOCOL,
        DEFAULT_SCALES,
        KNHA_POOLING,
        measure,
    )
    assert set(table["measure"]) == {measure}
    assert table["proportion"].between(0, 1).all()
