"""Dose: bioavailability by route, IV-equivalent doses, dose-response and cost per responder."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ketamine_meta.analyses.pooling import (
    SLOPE_MIN_COMPARISONS,
    TRIAL,
    arms_kept_apart,
    slope_fit,
)
from ketamine_meta.analyses.protocol import Pooling


def _cohort(rows: pd.DataFrame) -> pd.Series:
    """Each row's cohort, a row without one its source's own.

    Cast to objects first: a table read with an empty cohort column holds floats.
    """
    return rows["cohort"].astype(object).where(rows["cohort"].notna(), rows["source_id"])


def bioavailability_by_route(bioavailability: pd.DataFrame, reference_mg: float) -> pd.DataFrame:
    """The bioavailability used per route and enantiomer, and the dose equal to ``reference_mg`` IV.

    The value used is the median over cohorts of each cohort's median point estimate, so that
    a source reporting several rows (formulations, doses) counts once, and so do two sources
    reporting one cohort (``cohort``; empty: the source is its own cohort). The IV reference
    is 100% by definition; ``low`` and ``high`` span every point estimate and reported range.
    ``sources`` counts sources, ``cohorts`` the participant cohorts behind them;
    ``equivalent_dose_mg`` is ``reference_mg / bioavailability``, and its low and high ends are
    those of ``high`` and ``low``. Routes without a point estimate get none.
    """
    rows = []
    for (route, enantiomer), group in bioavailability.groupby(["route", "enantiomer"], sort=True):
        points = group["bioavailability_pct"].dropna()
        if points.empty:
            continue
        spread = pd.concat([points, group["range_low_pct"], group["range_high_pct"]]).dropna()
        with_points = group.dropna(subset=["bioavailability_pct"])
        cohort = _cohort(with_points)
        used = float(with_points.groupby(cohort)["bioavailability_pct"].median().median()) / 100
        rows.append(
            {
                "route": route,
                "enantiomer": enantiomer,
                "bioavailability": used,
                "low": float(spread.min()) / 100,
                "high": float(spread.max()) / 100,
                "sources": group["source_id"].nunique(),
                "cohorts": _cohort(group).nunique(),
                "equivalent_dose_mg": reference_mg / used,
                # The equivalent dose over the bioavailability's range: the highest
                # bioavailability gives the lowest dose.
                "equivalent_dose_low_mg": reference_mg / (float(spread.max()) / 100),
                "equivalent_dose_high_mg": reference_mg / (float(spread.min()) / 100),
            }
        )
    return pd.DataFrame(rows)


#: The columns of :func:`arm_doses`.
ARM_DOSE_COLUMNS = ["study_id", "arm_id", "route", "drug", "dose", "dose_unit", "dose_mg"]


def arm_doses(arms: pd.DataFrame, drug: str, body_weight_kg: float) -> pd.DataFrame:
    """Each arm of ``drug`` with a dose, and that dose in mg for an adult of ``body_weight_kg``.

    A dose in mg/kg is multiplied by the weight; one in mg is kept. The bioavailability figure
    places these doses beside each route's IV-equivalent dose.
    """
    rows = arms[(arms["drug"] == drug) & arms["dose"].notna()]
    dose = rows["dose"].astype(float)
    out = rows[ARM_DOSE_COLUMNS[:-1]].copy()
    out["dose_mg"] = np.where(rows["dose_unit"] == "mg_per_kg", dose * body_weight_kg, dose)
    return out.reset_index(drop=True)


def iv_equivalent_doses(
    by_study: pd.DataFrame, routes: pd.DataFrame, body_weight_kg: float
) -> pd.DataFrame:
    """Each comparison's drug dose as IV-equivalent mg/kg: dose x bioavailability.

    A dose in mg is divided by ``body_weight_kg``. The bioavailability is that of the route for
    the arm's enantiomer, else for racemic ketamine by the same route; no potency conversion
    between enantiomers is made. Comparisons whose route has no bioavailability get NaN.
    """
    lookup = routes.set_index(["route", "enantiomer"])["bioavailability"]

    def fraction(route: str, enantiomer: str) -> float:
        for key in ((route, enantiomer), (route, "racemic")):
            if key in lookup.index:
                return float(lookup.loc[key])
        return float("nan")

    f = [fraction(r, e) for r, e in zip(by_study["route"], by_study["enantiomer"], strict=True)]
    dose = by_study["dose_treat"].astype(float)
    per_kg = np.where(by_study["dose_unit_treat"] == "mg_per_kg", dose, dose / body_weight_kg)
    out = by_study[["study_id", "comparison_id", "label", "route", "enantiomer", "yi", "vi"]].copy()
    out["dose_mg_per_kg"] = per_kg
    out["bioavailability"] = f
    out["iv_equivalent_mg_per_kg"] = per_kg * np.asarray(f)
    return out


DOSE_TERMS = ("intercept", "iv_equivalent_mg_per_kg")
DOSE_LINE_COLUMNS = ["dose", "estimate", "ci_low", "ci_high"]


def _dose_response_not_estimable(rows: pd.DataFrame) -> pd.DataFrame:
    """The coefficient table's rows, empty, with ``note`` saying why (PROTOCOL.md §11)."""
    note = (
        f"k = {len(rows)} comparisons with an IV-equivalent dose: a meta-regression needs "
        f"{SLOPE_MIN_COMPARISONS}, so no dose-response is estimated"
    )
    return pd.DataFrame(
        {"term": DOSE_TERMS, "k": len(rows), "trials": rows[TRIAL].nunique(), "note": note}
    )


def dose_response(doses: pd.DataFrame, pooling: Pooling) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Meta-regression of g on IV-equivalent mg/kg; coefficients and the fitted line with CI.

    Returns the coefficient table (plus ``k``, ``trials``, ``tau2``, ``r2``, ``qm``, ``qm_p``,
    ``dependence`` and ``note`` on each row) and a grid of predictions over the observed dose
    range. Below :data:`~ketamine_meta.analyses.pooling.SLOPE_MIN_COMPARISONS` comparisons with
    a dose nothing is fitted: the coefficients are empty, ``note`` says why, and the line has no
    rows.
    The one pooled analysis that keeps a trial's dose arms apart, since the dose is its
    covariate: their shared control is split (PROTOCOL.md §8, §11) and ``dependence`` says so.
    """
    rows = doses.dropna(subset=["iv_equivalent_mg_per_kg"])
    if len(rows) < SLOPE_MIN_COMPARISONS:
        return _dose_response_not_estimable(rows), pd.DataFrame(columns=DOSE_LINE_COLUMNS)
    fit = slope_fit(rows, "iv_equivalent_mg_per_kg", "iv_equivalent_mg_per_kg", pooling)
    dependence = arms_kept_apart(
        rows, "dose arms kept apart (shared control split), treated as independent"
    )
    table = fit.coefficients.assign(
        k=fit.k,
        trials=rows[TRIAL].nunique(),
        tau2=fit.tau2,
        r2=fit.r2,
        qm=fit.qm,
        qm_p=fit.qm_p,
        test=fit.model.test,
        dependence=dependence,
        note="",
    )
    grid = np.linspace(
        rows["iv_equivalent_mg_per_kg"].min(), rows["iv_equivalent_mg_per_kg"].max(), 50
    )
    design = np.column_stack([np.ones(grid.size), grid])
    estimate = design @ fit.coefficients["estimate"].to_numpy()
    se = np.sqrt(np.einsum("ij,jk,ik->i", design, fit.vcov, design))
    crit = fit.model.crit(fit.k - fit.p)
    line = pd.DataFrame(
        {
            "dose": grid,
            "estimate": estimate,
            "ci_low": estimate - crit * se,
            "ci_high": estimate + crit * se,
        }
    )
    return table, line


def cost_per_responder(response_rates: pd.DataFrame, costs: Sequence[Mapping]) -> pd.DataFrame:
    """Course cost divided by the pooled response proportion of the matching arm type.

    The interval divides the cost by the proportion's CI bounds (upper bound of the cost from
    the lower bound of the proportion). Access routes whose arm type has no pooled proportion
    get NaN. ``k``, ``trials``, ``dependence`` and ``display`` are the proportion's
    (:func:`pooled_response_rates`).
    """
    rates = response_rates.set_index("arm_type")
    rows = []
    for entry in costs:
        rate = rates.loc[entry["arm_type"]] if entry["arm_type"] in rates.index else None
        p = (
            (rate["proportion"], rate["ci_low"], rate["ci_high"])
            if rate is not None
            else (np.nan,) * 3
        )
        rows.append(
            {
                "access_route": entry["access_route"],
                "arm_type": entry["arm_type"],
                "course_cost_usd": entry["course_cost_usd"],
                "claims": ";".join(entry["claims"]),
                "response_proportion": p[0],
                "k": rate["k"] if rate is not None else 0,
                "trials": rate["trials"] if rate is not None else 0,
                "dependence": rate["dependence"] if rate is not None else "",
                "display": rate["display"] if rate is not None else "",
                "cost_per_responder": entry["course_cost_usd"] / p[0],
                "cost_per_responder_low": entry["course_cost_usd"] / p[2],
                "cost_per_responder_high": entry["course_cost_usd"] / p[1],
            }
        )
    return pd.DataFrame(rows)
