"""The time-course model of the depression score (PROTOCOL.md §19).

Every comparison's Hedges' g in every window of the protocol enters one multivariate model
(:func:`ketamine_meta.stats.multilevel.fit_autoregressive`): one effect per formulation and
window, random effects correlated over the ordered windows within a comparison. The sampling
covariance goes to the model as one block per comparison, so its cost is linear in their number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from ketamine_meta.analyses.network import node_of
from ketamine_meta.analyses.protocol import Protocol, select_comparisons
from ketamine_meta.stats.multilevel import (
    MultilevelError,
    fit_autoregressive,
    sampling_covariance_blocks,
)

#: |rho| beyond which the autocorrelation is reported as not identified.
RHO_EDGE = 0.999

OBSERVED_COLUMNS = [
    "study_id",
    "comparison_id",
    "group",
    "window",
    "position",
    "nominal_h",
    "timepoint_h",
    "yi",
    "vi",
]
CELL_COLUMNS = [
    "model",
    "structure",
    "method",
    "sampling_correlation",
    "group",
    "window",
    "nominal_h",
    "k",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "tau2",
    "rho",
    "converged",
    "note",
]


def observed_effects(
    effects: pd.DataFrame,
    protocol: Protocol,
    nodes: Sequence[Mapping],
    groups: Sequence[str],
) -> pd.DataFrame:
    """Each comparison's g in each window it reports (nearest visit), with its formulation."""
    frames = []
    for position, window in enumerate(protocol.windows):
        try:
            rows = select_comparisons(
                effects, "depression_score", "SMD", window, protocol.analysis_set
            )
        except ValueError:  # no comparison reports this window
            continue
        frames.append(
            rows.assign(window=window.label, position=position, nominal_h=window.nominal_h)
        )
    if not frames:
        return pd.DataFrame(columns=OBSERVED_COLUMNS)
    rows = pd.concat(frames, ignore_index=True)
    rows["group"] = [
        node_of(d, r, nodes) for d, r in zip(rows["drug_treat"], rows["route"], strict=True)
    ]
    rows = rows[rows["group"].isin(list(groups))]
    return rows.sort_values(["group", "comparison_id", "position"], kind="stable")[
        OBSERVED_COLUMNS
    ].reset_index(drop=True)


def fit_cells(
    observed: pd.DataFrame,
    structure: str,
    correlation: float,
    level: float,
    model: str,
    method: str = "REML",
) -> pd.DataFrame:
    """One row per formulation and window: the modelled g and its CI."""
    cells = observed[["group", "window", "position", "nominal_h"]].drop_duplicates()
    cells = cells.sort_values(["group", "position"], kind="stable").reset_index(drop=True)
    keys = list(zip(cells["group"], cells["window"], strict=True))
    X = pd.DataFrame(
        {
            f"{g}|{w}": ((observed["group"] == g) & (observed["window"] == w)).astype(float)
            for g, w in keys
        }
    ).to_numpy()
    # Per-comparison blocks: the n x n matrix would not fit in memory for a large evidence base.
    V = sampling_covariance_blocks(
        observed["comparison_id"], observed["position"], observed["vi"], correlation
    )
    labels = {
        "model": model,
        "structure": structure,
        "method": method,
        "sampling_correlation": correlation,
    }
    try:
        fit = fit_autoregressive(
            observed["yi"],
            V,
            X,
            list(observed["comparison_id"]),
            list(observed["position"]),
            structure,
            method,
            level,
        )
    except MultilevelError as exc:
        failed = labels | {"group": "", "window": "", "converged": False, "note": str(exc)}
        return pd.DataFrame([failed], columns=CELL_COLUMNS)
    counts = observed.groupby(["group", "window"]).size()
    # A flat likelihood in rho drives it to the edge of (-1, 1): say it is not identified.
    note = (
        "rho at the edge of its range: the data do not identify the correlation over windows"
        if abs(fit.rho) > RHO_EDGE
        else ""
    )
    tau2 = "; ".join(f"{v:.6g}" for v in fit.tau2)
    return cells.assign(
        **labels,
        k=[int(counts.loc[key]) for key in keys],
        estimate=fit.coefficients,
        se=fit.se,
        ci_low=fit.ci_low,
        ci_high=fit.ci_high,
        tau2=tau2,
        rho=fit.rho,
        converged=fit.converged,
        note=note,
    )[CELL_COLUMNS]


def time_course_analysis(
    effects: pd.DataFrame,
    protocol: Protocol,
    nodes: Sequence[Mapping],
    settings: Mapping,
    level: float,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The primary model and its sensitivity models (PROTOCOL.md §19), and the observed g.

    The primary model is the first structure at the configured sampling correlation; the
    other structures at that correlation, and the primary structure at each correlation of
    the range, follow.
    """
    observed = observed_effects(effects, protocol, nodes, settings["groups"])
    primary, *others = settings["structures"]
    r = settings["sampling_correlation"]
    models = [("primary", primary, r)]
    models += [(f"structure {s}", s, r) for s in others]
    models += [
        (f"sampling correlation {c:g}", primary, c)
        for c in settings["sampling_correlation_range"]
        if c != r
    ]
    cells = pd.concat(
        [fit_cells(observed, s, c, level, name, settings["method"]) for name, s, c in models],
        ignore_index=True,
    )
    return cells, observed
