"""Published meta-analyses reproduced on this project's data.

Each specification (``config/reproductions/*.yaml``) names a published pooled estimate (a row
of the data package's ``published_estimates``) and how to select and pool the comparisons
that reproduce it. The published estimate is turned to this project's orientation (positive
SMD, ratio above 1 favour the drug) before the two are set side by side.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ketamine_meta.effect_sizes import log_odds_ratio
from ketamine_meta.meta_analysis import random_effects

RATIO_MEASURES = {"OR", "RR"}
REPRODUCTION_COLUMNS = [
    "reproduction",
    "review_id",
    "outcome",
    "timepoint",
    "measure",
    "published",
    "published_ci_low",
    "published_ci_high",
    "published_k",
    "ours",
    "ours_ci_low",
    "ours_ci_high",
    "ours_k",
    "ours_trials",
    "difference",
    "ci_overlap",
    "method",
    "gap_reason",
]


def select_comparisons(effects: pd.DataFrame, ours: Mapping) -> pd.DataFrame:
    """Comparisons matching a specification's outcome, timepoint, drugs, routes and controls."""
    measure = "SMD" if ours["measure"] == "SMD" else "logRR"
    rows = effects[
        (effects["outcome"] == ours["outcome"])
        & (effects["measure"] == measure)
        & np.isclose(effects["timepoint_h"].astype(float), ours["timepoint_h"])
        & effects["enantiomer"].isin(ours["enantiomers"])
        & effects["route"].isin(ours["routes"])
        & effects["drug_ctrl"].isin(ours["controls"])
        & effects["population"].isin(ours["populations"])
    ]
    return rows.reset_index(drop=True)


def _estimates(rows: pd.DataFrame, measure: str) -> tuple[np.ndarray, np.ndarray]:
    if measure == "OR":
        return log_odds_ratio(
            rows["events_treat"].astype(float),
            rows["n_treat"].astype(float),
            rows["events_ctrl"].astype(float),
            rows["n_ctrl"].astype(float),
        )
    return rows["yi"].to_numpy(float), rows["vi"].to_numpy(float)


def reproduce(name: str, spec: Mapping, effects: pd.DataFrame, published: pd.DataFrame) -> dict:
    """One row of the reproductions table (columns :data:`REPRODUCTION_COLUMNS`)."""
    key = spec["published"]
    match = published[
        (published["review_id"] == spec["review_id"])
        & (published["outcome"] == key["outcome"])
        & (published["timepoint"] == key["timepoint"])
        & (published["measure"] == key["measure"])
        & (published["subgroup"] == key["subgroup"])
    ]
    if len(match) != 1:
        raise ValueError(f"{name}: {len(match)} published_estimates rows match {dict(key)}")
    pub = match.iloc[0]
    ours = spec["ours"]
    ratio = ours["measure"] in RATIO_MEASURES
    sign = spec["published_sign"]
    bounds = (
        sorted([sign * pub["ci_low"], sign * pub["ci_high"]])
        if not ratio
        else [
            pub["ci_low"],
            pub["ci_high"],
        ]
    )
    row = {
        "reproduction": name,
        "review_id": spec["review_id"],
        "outcome": key["outcome"],
        "timepoint": key["timepoint"],
        "measure": key["measure"],
        "published": sign * pub["estimate"] if not ratio else pub["estimate"],
        "published_ci_low": bounds[0],
        "published_ci_high": bounds[1],
        "published_k": pub["k"],
        "method": f"{ours['method']}, {ours['test']}",
        "gap_reason": spec["trial_selection"],
    }
    rows = select_comparisons(effects, ours)
    if rows.empty:
        return row | {
            "ours_k": 0,
            "gap_reason": spec["trial_selection"] + " No comparison qualifies.",
        }
    yi, vi = _estimates(rows, ours["measure"])
    fit = random_effects(yi, vi, method=ours["method"], test=ours["test"])
    back = np.exp if ratio else (lambda v: v)
    ours_values = back(np.array([fit.estimate, fit.ci_low, fit.ci_high]))
    difference = (
        float(np.log(ours_values[0]) - np.log(row["published"]))
        if ratio
        else float(ours_values[0] - row["published"])
    )
    overlap = not (
        ours_values[2] < row["published_ci_low"] or ours_values[1] > row["published_ci_high"]
    )
    return row | {
        "ours": ours_values[0],
        "ours_ci_low": ours_values[1],
        "ours_ci_high": ours_values[2],
        "ours_k": fit.k,
        "ours_trials": ";".join(sorted(set(rows["study_id"]))),
        "difference": difference,
        "ci_overlap": overlap,
    }


def reproductions_table(
    specs: Mapping[str, Mapping], effects: pd.DataFrame, published: pd.DataFrame
) -> pd.DataFrame:
    """:func:`reproduce` for every specification, in name order.

    ``difference`` is ours minus published on the analysis scale (log for ratios).
    """
    rows = [reproduce(name, specs[name], effects, published) for name in sorted(specs)]
    return pd.DataFrame(rows, columns=REPRODUCTION_COLUMNS)
