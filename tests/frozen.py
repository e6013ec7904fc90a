"""The project's own data frozen at data version 0.4.2, for tests that compare with fixed values.

``tests/fixtures/package-0.4.2`` holds the validated studies, arms, outcomes and contrasts of
that release and the by-study table the pipeline wrote from them (which
``tests/reference/make_metafor_references.R`` reads). Tests that hold the pipeline's numbers to
metafor's, or to a structure seen in those trials, run today's code on this copy: a trial
added to the live package never moves them, and no R is needed to keep them green. Tests of
the live results compare them with a refit of themselves instead (tests/test_consistency.py).
"""

from __future__ import annotations

from functools import cache

import pandas as pd

from conftest import CONFIG, POOLING, PROTOCOL, REPO, RULES
from ketamine_meta.analyses.comparisons import build_effect_sizes
from ketamine_meta.analyses.network import network_analysis
from ketamine_meta.analyses.pooling import select_smd_at
from ketamine_meta.evidence.package_files import read_validated_table

FROZEN = REPO / "tests" / "fixtures" / "package-0.4.2"
TABLES = ("studies", "arms", "outcomes", "contrasts")


@cache
def frozen_tables() -> dict[str, pd.DataFrame]:
    """The frozen package's trial tables, as the validate rule writes them."""
    return {name: read_validated_table(FROZEN / f"{name}.csv") for name in TABLES}


def frozen_by_study() -> pd.DataFrame:
    """The 24 h SMD comparisons today's code builds from the frozen package."""
    tables = frozen_tables()
    effects, _ = build_effect_sizes(
        tables["studies"], tables["arms"], tables["outcomes"], tables["contrasts"], rules=RULES
    )
    return select_smd_at(effects, PROTOCOL)


@cache
def frozen_network_effects(outcome: str) -> pd.DataFrame:
    """The network meta-analysis effects table of ``outcome`` on the frozen package."""
    results, _, _ = network_analysis(
        frozen_tables(),
        RULES,
        PROTOCOL,
        CONFIG["network"],
        POOLING.model.level,
        outcome,
    )
    return results.effects
