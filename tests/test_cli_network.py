"""``ketamine-meta nma`` against R's metafor, as a netmeta or metafor user would run it.

Each ``cli_scenarios`` entry of ``tests/reference/network_reference.json`` (written by
``tests/reference/make_network_references.R``, regenerated and compared by ``.ci/run``)
holds a data set of metafor's that no other test uses (dat.dogliotti2014, dat.linde2015),
as arm-level rows or as each trial's m - 1 contrasts with their covariance, the command-line
arguments, and what ``rma.mv(yi, V, mods = ~ treatments - 1, random = ~ comp | study,
rho = 1/2)`` gives: the effects against the reference with their CIs and PIs, the league
table, the P-scores, Q within and between designs, and the node-split of every comparison
with direct and indirect evidence. Agreement to 1e-6.
"""

from __future__ import annotations

import json
from itertools import permutations

import numpy as np
import pandas as pd
import pytest

from conftest import REPO
from ketamine_meta.cli.commands import main

pytestmark = pytest.mark.metafor

SCENARIOS = json.loads((REPO / "tests/reference/network_reference.json").read_text())[
    "cli_scenarios"
]
#: Absolute, as tests/test_network_parity.py: R's optimizer leaves tau^2 off in the 7th digit
#: on dat.dogliotti2014 (see the R script), which moves effects near 0 by up to 5e-8.
TOLERANCE = {"rel": 0, "abs": 1e-6}


@pytest.fixture(scope="module", params=SCENARIOS, ids=[s["id"] for s in SCENARIOS])
def run(request, tmp_path_factory):
    """The scenario and the tables the command wrote for it."""
    scenario = request.param
    folder = tmp_path_factory.mktemp(scenario["id"])
    path = folder / "input.csv"
    pd.DataFrame(scenario["input"]).to_csv(path, index=False)
    out = folder / "tables"
    argv = ["nma", "--input", str(path), *scenario["cli_args"], "--output-dir", str(out)]
    assert main(argv) == 0
    tables = {p.stem: pd.read_csv(p, keep_default_na=False, na_values=[""]) for p in out.iterdir()}
    return scenario, tables


def test_the_effects_against_the_reference_are_metafor_s(run):
    scenario, tables = run
    values, effects = scenario["values"], tables["effects"]
    assert effects["treatment"].tolist() == values["treatments"]
    assert (effects["part"] == 1).all()
    for column in ("estimate", "se", "ci_low", "ci_high", "pi_low", "pi_high"):
        assert effects[column].tolist() == pytest.approx(values[column], **TOLERANCE)
    assert effects["tau2"].tolist() == pytest.approx([values["tau2"]] * len(effects), **TOLERANCE)


def test_the_league_table_and_p_scores_are_metafor_s(run):
    scenario, tables = run
    values = scenario["values"]
    names = values["league_treatments"]
    estimate, se = np.array(values["league_estimate"]), np.array(values["league_se"])
    league = tables["league"].set_index(["row", "column"])
    pairs = list(permutations(range(len(names)), 2))
    assert len(league) == len(pairs)
    for i, j in pairs:
        row = league.loc[(names[i], names[j])]
        assert (row["estimate"], row["se"]) == pytest.approx(
            (estimate[i, j], se[i, j]), **TOLERANCE
        )
        z = 1.959963984540054
        assert row["ci_low"] == pytest.approx(estimate[i, j] - z * se[i, j], **TOLERANCE)
    pscores = tables["pscores"].set_index("treatment")["pscore"]
    assert pscores.loc[names].tolist() == pytest.approx(values["pscore"], **TOLERANCE)


def test_q_within_and_between_designs_are_metafor_s(run):
    scenario, tables = run
    values = scenario["values"]
    q = tables["heterogeneity"].set_index("component")
    for component, key in (
        ("total", "q"),
        ("within designs", "q_within"),
        ("between designs", "q_between"),
    ):
        assert q.loc[component, "q"] == pytest.approx(values[key], **TOLERANCE)
        assert q.loc[component, "df"] == values[f"{key}_df"]


def test_every_comparison_with_direct_and_indirect_evidence_is_split_as_metafor_splits_it(run):
    scenario, tables = run
    expected = {(s["first"], s["second"]): s for s in scenario["values"]["splits"]}
    splits = tables["node_split"].set_index(["first", "second"])
    assert set(splits.index) == set(expected)
    fields = ("direct", "direct_se", "indirect", "indirect_se", "difference", "difference_se")
    for pair, reference in expected.items():
        row = splits.loc[pair]
        assert row["trials_direct"] == reference["k_direct"]
        for field in (*fields, "pval", "tau2"):
            assert row[field] == pytest.approx(reference[field], **TOLERANCE), (pair, field)


def test_the_direct_share_is_a_proportion_and_zero_without_direct_trials(run):
    scenario, tables = run
    share = tables["direct_share"].set_index("treatment")["direct_share"]
    assert ((share >= 0) & (share <= 1)).all()
    frame = pd.DataFrame(scenario["input"])
    reference = scenario["cli_args"][scenario["cli_args"].index("--reference") + 1]
    if "treatment" in frame:
        with_reference = set(frame.loc[frame["treatment"] == reference, "study"])
        direct = set(frame.loc[frame["study"].isin(with_reference), "treatment"]) - {reference}
        assert set(share[share > 0].index) == direct
