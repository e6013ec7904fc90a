r"""Relapse after response: parametric curves fitted to published summaries, and their pooling.

Where a trial gives only summaries of time to relapse (a median, the share relapsed by a
stated day, the number followed), the relapse-free curve is taken to be

- exponential, :math:`S(t) = e^{-\lambda t}`, from one summary: a median ``m`` gives
  :math:`\lambda = \ln 2 / m`; a share ``p`` relapsed by day ``t`` gives
  :math:`\lambda = -\ln(1-p)/t`;
- not fitted where an arm has a median and a share: a two-parameter Weibull would pass through
  both exactly and leave its shape untested (PROTOCOL.md §15; Ekstrand 2022's pair gives a
  shape of 0.3 and a relapse by day 14 that no source reports). Such an arm is tabulated with
  its two summaries as observed, and drawn without a curve.

Uncertainty, on :math:`\log\lambda` of the exponential: from ``d`` relapses,
:math:`SE = 1/\sqrt d` (the exponential MLE); from a share of ``n``, by the delta method,
:math:`SE = \sqrt{p / ((1-p) n)} / (-\ln(1-p))`. A curve without a count behind it has none.
These fits are labelled ``summary fit`` wherever they appear, and never mixed with curves
rebuilt from published Kaplan-Meier figures (:mod:`ketamine_meta.stats.km_reconstruction`).

References
----------
Collett, D. (2015). *Modelling survival data in medical research* (3rd ed.), sections 5.1-5.2
(exponential and Weibull, SE of the exponential rate). Guyot, P., et al. (2012), Discussion
(summary-based approaches as the fallback when no curve can be digitized).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ketamine_meta.analyses.comparisons import ENANTIOMER
from ketamine_meta.analyses.protocol import Pooling
from ketamine_meta.stats.effect_sizes import log_hazard_ratio
from ketamine_meta.stats.meta_analysis import RandomEffectsResult, random_effects
from ketamine_meta.stats.model import critical_value

#: Days at which relapse-free shares are reported.
REPORT_DAYS = (14, 28, 56)
LN2 = float(np.log(2))


@dataclass(frozen=True)
class SummaryFit:
    r"""A relapse-free curve fitted to published summaries.

    Attributes
    ----------
    distribution : str
        ``"exponential"`` or ``"weibull"``.
    scale : float
        Exponential: :math:`1/\lambda` (days); Weibull: ``b`` (days).
    shape : float
        Weibull shape ``k`` (1 for the exponential).
    log_rate_se : float
        SE of :math:`\log\lambda` (exponential with a count behind it), else NaN.
    basis : str
        Which summaries the fit used.
    """

    distribution: str
    scale: float
    shape: float
    log_rate_se: float
    basis: str

    def survival(self, t: np.ndarray | float, z: float = 0.0) -> np.ndarray:
        """Relapse-free share at ``t`` days; ``z`` shifts the rate by ``z`` SEs (bands)."""
        t = np.asarray(t, dtype=float)
        scale = self.scale * np.exp(-z * self.log_rate_se) if z else self.scale
        return np.exp(-((t / scale) ** self.shape))

    def median(self, z: float = 0.0) -> float:
        """Median time to relapse in days; ``z`` as in :meth:`survival`."""
        scale = self.scale * np.exp(-z * self.log_rate_se) if z else self.scale
        return float(scale * LN2 ** (1 / self.shape))


def exponential_from_median(median: float, relapses: float | None = None) -> SummaryFit:
    r"""Exponential curve with the given median; SE :math:`1/\sqrt d` when ``d`` is known."""
    se = 1 / np.sqrt(relapses) if relapses else np.nan
    basis = "median" + (f", {int(relapses)} relapses" if relapses else "")
    return SummaryFit("exponential", median / LN2, 1.0, float(se), basis)


def exponential_from_share(share: float, day: float, n: float | None = None) -> SummaryFit:
    """Exponential curve through a share relapsed by ``day``; delta-method SE given ``n``."""
    if not 0 < share < 1:
        raise ValueError(f"a share relapsed must lie strictly between 0 and 1, not {share}")
    rate = -np.log1p(-share) / day
    se = np.sqrt(share / ((1 - share) * n)) / -np.log1p(-share) if n else np.nan
    basis = f"share relapsed by day {day:g}" + (f" of {int(n)}" if n else "")
    return SummaryFit("exponential", float(1 / rate), 1.0, float(se), basis)


def _summaries(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An arm's reported medians and shares relapsed (rows with a value)."""
    median = rows.loc[(rows["measure"] == "median_days_to_relapse") & rows["value"].notna()]
    share = rows.loc[(rows["measure"] == "proportion_relapsed") & rows["value"].notna()]
    return median, share


def fit_arm(rows: pd.DataFrame) -> SummaryFit | None:
    """The exponential curve one arm's single time-based summary allows.

    ``rows`` are the arm's rows of ``relapse.csv``. None when no time-based summary exists (a
    count of relapses over an unstated follow-up), and when a median and a share both exist:
    one curve through both would be a Weibull fixed exactly by them (PROTOCOL.md §15).
    """
    median, share = _summaries(rows)
    counts = rows.loc[rows["measure"] == "relapse_count"]
    relapses = counts["events"].iloc[0] if len(counts) else None
    if len(median) and len(share):
        return None
    if len(median):
        return exponential_from_median(median["value"].iloc[0], relapses)
    if len(share):
        row = share.iloc[0]
        return exponential_from_share(row["value"], row["time_days"], _or_none(row["n"]))
    return None


def _or_none(value: object) -> float | None:
    return None if pd.isna(value) else float(value)


RELAPSE_BY_STUDY_COLUMNS = [
    "study_id",
    "arm_id",
    "route",
    "enantiomer",
    "regimen",
    "n_followed",
    "relapses",
    "median_days",
    "median_ci_low",
    "median_ci_high",
    *[f"relapse_free_day_{d}" for d in REPORT_DAYS],
    "follow_up_days",
    "distribution",
    "scale",
    "shape",
    "log_rate_se",
    "data_basis",
    "fit_basis",
]


def _prior_treatment(arms: pd.DataFrame, study_id: str, arm: pd.Series) -> pd.Series:
    """The ketamine arm a relapse arm's participants responded to (itself if active)."""
    if arm["drug"] in ENANTIOMER:
        return arm
    active = arms[(arms["study_id"] == study_id) & arms["drug"].isin(list(ENANTIOMER))]
    return active.iloc[0] if len(active) and arm["drug"] != "other_active" else arm


#: How ``relapse.regimen`` values read in tables and figures (PROTOCOL.md §15).
REGIMEN_LABEL = {
    "continued": "continued",
    "stopped": "stopped",
    "after_course": "after course",
    "comparator": "comparator",
}


def follow_up_days(rows: pd.DataFrame) -> float:
    """The longest follow-up an arm's rows show: a share's day, a median or its upper bound.

    A summary-fit curve says nothing beyond it (PROTOCOL.md §15); NaN when no row gives a time.
    """
    summaries = rows[rows["measure"].isin(["median_days_to_relapse", "mean_days_to_relapse"])]
    times = pd.concat([rows["time_days"], summaries["value"], summaries["ci_high"]]).dropna()
    return float(times.max()) if len(times) else np.nan


def relapse_by_study(
    relapse: pd.DataFrame, arms: pd.DataFrame, level: float = 0.95
) -> pd.DataFrame:
    """One row per study and arm with a relapse summary (see :data:`RELAPSE_BY_STUDY_COLUMNS`).

    Intervals are Wald intervals at ``level`` (a fraction).
    """
    crit = critical_value(level)
    arm_info = arms.set_index(["study_id", "arm_id"])
    rows = []
    for (study_id, arm_id), group in relapse.groupby(["study_id", "arm_id"], sort=True):
        arm = arm_info.loc[(study_id, arm_id)]
        prior = _prior_treatment(arms, study_id, arm)
        fit = fit_arm(group[group["measure"] != "hazard_ratio"])
        counts = group[group["measure"] == "relapse_count"]
        n_followed = group["n"].dropna()
        record = {
            "study_id": study_id,
            "arm_id": arm_id,
            "route": prior["route"],
            "enantiomer": ENANTIOMER.get(prior["drug"], "none"),
            "regimen": REGIMEN_LABEL[group["regimen"].iloc[0]],
            "n_followed": n_followed.iloc[0] if len(n_followed) else np.nan,
            "relapses": counts["events"].iloc[0] if len(counts) else np.nan,
            "data_basis": "summary fit" if fit else "count only (no follow-up time)",
        }
        horizon = follow_up_days(group)
        record["follow_up_days"] = horizon
        median, share = _summaries(group)
        if len(median) and len(share):
            record |= _observed_summaries(median.iloc[0], share.iloc[0])
        if fit:
            # A median the fit places beyond the follow-up was not observed: not tabulated.
            observed = fit.median() <= horizon
            has_se = np.isfinite(fit.log_rate_se) and observed
            record |= {
                "median_days": fit.median() if observed else np.nan,
                "median_ci_low": fit.median(crit) if has_se else np.nan,
                "median_ci_high": fit.median(-crit) if has_se else np.nan,
                # Only up to the source's follow-up: a fit is not evidence beyond it.
                **{
                    f"relapse_free_day_{d}": float(fit.survival(d)) if d <= horizon else np.nan
                    for d in REPORT_DAYS
                },
                "distribution": fit.distribution,
                "scale": fit.scale,
                "shape": fit.shape,
                "log_rate_se": fit.log_rate_se,
                "fit_basis": fit.basis,
            }
        rows.append(record)
    return pd.DataFrame(rows, columns=RELAPSE_BY_STUDY_COLUMNS)


def _observed_summaries(median: pd.Series, share: pd.Series) -> dict:
    """The record of an arm with a median and a share: both as observed, no curve."""
    return {
        "median_days": median["value"],
        "data_basis": OBSERVED_SUMMARIES,
        "fit_basis": (
            f"median {median['value']:g} days; {share['value']:.0%} relapsed by day "
            f"{share['time_days']:g}"
        ),
    }


#: ``data_basis`` of an arm with a median and a share: tabulated, drawn as points, no curve.
OBSERVED_SUMMARIES = "observed summaries (no curve: a Weibull through two would be untested)"


RELAPSE_POOLED_COLUMNS = [
    "quantity",
    "route",
    "enantiomer",
    "regimen",
    "k",
    "trials",
    "dependence",
    "studies",
    "estimate",
    "ci_low",
    "ci_high",
    "tau2",
    "method",
    "test",
    "data_basis",
]


def relapse_pooled(
    by_study: pd.DataFrame, relapse: pd.DataFrame, arms: pd.DataFrame, pooling: Pooling
) -> pd.DataFrame:
    r"""Pooled median time to relapse, and the pooled HR of continuing versus stopping.

    Medians are pooled per route x enantiomer x regimen.

    Medians are pooled on the log scale, :math:`\log m = \log(\ln 2) - \log\lambda`, with the
    SE of :math:`\log\lambda` (arms whose fit has one); hazard ratios as log HR with the
    variance from their CI (:func:`~ketamine_meta.stats.effect_sizes.log_hazard_ratio`). Both by the
    random-effects model of ``pooling``.
    """
    rows = []
    usable = by_study[
        by_study["log_rate_se"].notna()
        & by_study["median_days"].notna()
        & (by_study["regimen"] != "comparator")
    ]
    for (route, enantiomer, regimen_), group in usable.groupby(["route", "enantiomer", "regimen"]):
        fit = random_effects(
            np.log(group["median_days"]), group["log_rate_se"] ** 2, **pooling.model.arguments
        )
        rows.append(
            _pooled_row(fit, group)
            | {
                "quantity": "median days to relapse",
                "route": route,
                "enantiomer": enantiomer,
                "regimen": regimen_,
                "data_basis": "summary fit",
            }
        )
    hrs = relapse[relapse["measure"] == "hazard_ratio"].dropna(
        subset=["value", "ci_low", "ci_high"]
    )
    if len(hrs):
        rows.append(_pooled_hazard_ratio(hrs, arms, pooling))
    return pd.DataFrame(rows, columns=RELAPSE_POOLED_COLUMNS)


def _pooled_hazard_ratio(hrs: pd.DataFrame, arms: pd.DataFrame, pooling: Pooling) -> dict:
    """Hazard ratio of relapse, continued against stopped (PROTOCOL.md §15).

    Strata of one trial (e.g. SUSTAIN-1's stable remitters and stable responders) are not
    independent trials: they are combined by a fixed-effect inverse-variance model (statsmodels
    ``combine_effects``), with a Wald interval at the model's level. Several trials would then
    be pooled by the random-effects model of ``pooling``; with one trial its combined strata
    are the estimate.
    """
    # Imported here: statsmodels loads scipy.stats, about 0.45 s for every process.
    from statsmodels.stats.meta_analysis import combine_effects

    yi, vi = log_hazard_ratio(hrs["value"], hrs["ci_low"], hrs["ci_high"])
    per_trial = pd.DataFrame({"study_id": hrs["study_id"].to_numpy(), "yi": yi, "vi": vi})
    combined, several = [], []
    for study, strata in per_trial.groupby("study_id", sort=True):
        fe = combine_effects(strata["yi"].to_numpy(), strata["vi"].to_numpy())
        combined.append((fe.mean_effect_fe, fe.sd_eff_w_fe**2, len(strata)))
        several += [study] if len(strata) > 1 else []
    first = arms.set_index(["study_id", "arm_id"]).loc[
        (hrs["study_id"].iloc[0], hrs["arm_id"].iloc[0])
    ]
    described = {
        "quantity": "hazard ratio of relapse, continued vs stopped",
        "route": first["route"],
        "enantiomer": ENANTIOMER.get(first["drug"], "none"),
        "regimen": "continued vs stopped",
        "studies": ";".join(sorted(set(hrs["study_id"]))),
        "data_basis": "reported hazard ratios",
    }
    described |= {
        "trials": len(combined),
        "dependence": (
            f"strata of one trial combined by a fixed-effect model (§15): {', '.join(several)}"
            if several
            else ""
        ),
    }
    if len(combined) == 1:
        estimate, variance, strata = combined[0]
        half = pooling.model.crit() * np.sqrt(variance)
        return described | {
            "k": strata,
            "estimate": np.exp(estimate),
            "ci_low": np.exp(estimate - half),
            "ci_high": np.exp(estimate + half),
            "tau2": 0.0,
            "method": "FE (strata of one trial)",
            "test": "z",
        }
    y, v, _ = map(np.array, zip(*combined, strict=True))
    fit = random_effects(y, v, **pooling.model.arguments)
    return _pooled_row(fit, hrs) | described | {"k": len(hrs)}


def _pooled_row(fit: RandomEffectsResult, rows: pd.DataFrame) -> dict:
    """Columns of a pooled row fitted on the log scale, back-transformed."""
    return {
        "k": fit.k,
        "trials": rows["study_id"].nunique(),
        "studies": ";".join(sorted(set(rows["study_id"]))),
        "estimate": np.exp(fit.estimate),
        "ci_low": np.exp(fit.ci_low),
        "ci_high": np.exp(fit.ci_high),
        "tau2": fit.tau2,
        "method": fit.model.method,
        "test": fit.test,
    }


REPRODUCTION_COLUMNS = [
    "study_id",
    "arm",
    "figure",
    "published",
    "published_ci_low",
    "published_ci_high",
    "ours",
    "ours_ci_low",
    "ours_ci_high",
    "difference",
    "how_ours_was_obtained",
    "source_id",
    "locator",
]


def relapse_reproduction(relapse: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Each published durability figure beside what the package's data give for it.

    - A hazard ratio: ours is the HR rebuilt from the log HR and the SE its interval implies,
      so the interval tests whether the published bounds are symmetric on the log scale.
    - A median: ours is the median of the arm's fitted curve and its interval comes from the
      fit's uncertainty (relapse count or share and n), compared with the published interval.
    - A share relapsed by a day: ours is the fitted curve at that day.

    Where the fit is forced through the published value, the difference is 0 by construction;
    ``how_ours_was_obtained`` says so. Our intervals are Wald intervals at ``level``.
    """
    crit = critical_value(level)
    rows = []
    for (study_id, arm_id), group in relapse.groupby(["study_id", "arm_id"], sort=True):
        fit = fit_arm(group[group["measure"] != "hazard_ratio"])
        for _, rec in group.iterrows():
            base = {
                "study_id": study_id,
                "published": rec["value"],
                "published_ci_low": rec["ci_low"],
                "published_ci_high": rec["ci_high"],
                "source_id": rec["source_id"],
                "locator": rec["locator"],
            }
            if rec["measure"] == "hazard_ratio" and not pd.isna(rec["ci_low"]):
                y, v = log_hazard_ratio(rec["value"], rec["ci_low"], rec["ci_high"], level)
                se = float(np.sqrt(v))
                ours = (
                    float(np.exp(y)),
                    float(np.exp(y - crit * se)),
                    float(np.exp(y + crit * se)),
                )
                how = "log HR with the SE from the published interval, back-transformed"
                figure = "hazard ratio of relapse"
                arm = f"{arm_id} vs {rec['arm_id_ctrl']}"
            elif rec["measure"] == "median_days_to_relapse" and fit and not pd.isna(rec["value"]):
                has_se = np.isfinite(fit.log_rate_se)
                ours = (
                    fit.median(),
                    fit.median(crit) if has_se else np.nan,
                    fit.median(-crit) if has_se else np.nan,
                )
                how = f"{fit.distribution} summary fit ({fit.basis}); the point by construction"
                figure, arm = "median days to relapse", arm_id
            elif rec["measure"] == "proportion_relapsed" and fit:
                ours = (1 - float(fit.survival(rec["time_days"])), np.nan, np.nan)
                how = f"{fit.distribution} summary fit ({fit.basis}) at day {rec['time_days']:g}"
                figure, arm = f"share relapsed by day {rec['time_days']:g}", arm_id
            else:
                continue
            rows.append(
                base
                | {
                    "arm": arm,
                    "figure": figure,
                    "ours": ours[0],
                    "ours_ci_low": ours[1],
                    "ours_ci_high": ours[2],
                    # Rounding residue of a curve forced through the value is reported as 0.
                    "difference": _without_residue(ours[0] - rec["value"], rec["value"]),
                    "how_ours_was_obtained": how,
                }
            )
    return pd.DataFrame(rows, columns=REPRODUCTION_COLUMNS)


def _without_residue(difference: float, value: float) -> float:
    return 0.0 if abs(difference) <= 1e-12 * max(1.0, abs(value)) else float(difference)


DURABILITY_COLUMNS = [
    "evidence_class",
    "design",
    "id",
    "arm_id",
    "drug",
    "route",
    "population",
    "measure",
    "time_days",
    "value",
    "n",
    "events",
    "source_id",
    "locator",
    "note",
]

#: Evidence class of a randomized relapse arm by its regimen (PROTOCOL.md §15).
REGIMEN_CLASS = {
    "after_course": "post_course",
    "continued": "maintenance_withdrawal",
    "stopped": "maintenance_withdrawal",
    "comparator": "comparator",
}


def durability_evidence(
    cohorts: pd.DataFrame, relapse: pd.DataFrame, arms: pd.DataFrame
) -> pd.DataFrame:
    """Every durability figure as published, labelled by evidence class and design.

    Post-course relapse (responders followed after a course, from cohorts and randomized
    trials) and maintenance withdrawal (responders randomized to continue or stop) are kept
    apart (PROTOCOL.md §15); the values are the sources', with no model in between.
    """
    trial_rows = relapse.merge(arms[["study_id", "arm_id", "drug", "route"]], how="left")
    trials = pd.DataFrame(
        {
            "evidence_class": trial_rows["regimen"].map(REGIMEN_CLASS),
            "design": "randomized trial (" + trial_rows["regimen"].str.replace("_", " ") + ")",
            "id": trial_rows["study_id"],
            "arm_id": trial_rows["arm_id"],
            "drug": trial_rows["drug"],
            "route": trial_rows["route"],
            "population": trial_rows["population"],
            "measure": trial_rows["measure"],
            "time_days": trial_rows["time_days"],
            "value": trial_rows["value"],
            "n": trial_rows["n"],
            "events": trial_rows["events"],
            "source_id": trial_rows["source_id"],
            "locator": trial_rows["locator"],
            "note": trial_rows["note"],
        }
    )
    cohort_rows = cohorts.rename(columns={"cohort_id": "id"}).assign(arm_id="")
    table = pd.concat([cohort_rows[DURABILITY_COLUMNS], trials[DURABILITY_COLUMNS]])
    order = {"post_course": 0, "maintenance_withdrawal": 1, "comparator": 2}
    return (
        table.assign(_order=table["evidence_class"].map(order))
        .sort_values(["_order", "id", "arm_id", "measure", "time_days"], kind="stable")
        .drop(columns="_order")
        .reset_index(drop=True)
    )
