"""The named analyses of the pipeline, composed from effect sizes and the pooling engine."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ketamine_meta.meta_analysis import pool_by_subgroup


def select_smd_at(effects: pd.DataFrame, timepoint_h: float) -> pd.DataFrame:
    """Rows of depression-score SMDs at ``timepoint_h``, sorted by route, study, comparison.

    Raises
    ------
    ValueError
        If no comparison reports that timepoint.
    """
    rows = effects[
        (effects["measure"] == "SMD")
        & (effects["outcome"] == "depression_score")
        & np.isclose(effects["timepoint_h"].astype(float), timepoint_h)
    ]
    if rows.empty:
        raise ValueError(f"no depression-score comparison at {timepoint_h:g} h to pool")
    return rows.sort_values(["route", "study_id", "comparison_id"], kind="stable").reset_index(
        drop=True
    )


def pool_smd_by_route(by_study: pd.DataFrame, pooling: Mapping) -> pd.DataFrame:
    """Pool Hedges' g per route and overall (random effects, settings from config ``pooling``).

    The ``analysis`` column reads ``smd_depression_{t}h`` with ``t`` the timepoint in hours.
    """
    analysis = f"smd_depression_{float(pooling['timepoint_h']):g}h"
    table, _, _ = pool_by_subgroup(
        by_study,
        by="route",
        analysis=analysis,
        method=pooling["method"],
        test=pooling["test"],
        level=pooling["level"],
    )
    return table
