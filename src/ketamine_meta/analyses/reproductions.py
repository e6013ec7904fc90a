"""Published meta-analyses reproduced on this project's data.

Each specification (``config/reproductions/*.yaml``) names a published pooled estimate (a row
of the data package's ``published_estimates``) and how to select and pool the comparisons
that reproduce it, as the review defined its trial set (PROTOCOL.md §4 of the issue: its
comparator split, its search date, its populations, its timepoint, and its own trial list
where a page shows it). The published estimate is turned to this project's orientation
(positive SMD, ratio above 1 favour the drug) before the two are set side by side.

A row is judged only when ours holds enough of the review's trials (PROTOCOL.md §22,
:class:`ComparabilityRules`): at least half of the review's trial count for that estimate and
at least 3 trials, counting trials, not comparisons; otherwise it says "not comparable" and
why. A judged row's agreement is the difference, ours minus published on the analysis scale
(log for ratios), and its CI: the published SE is recovered from its 95% CI (symmetric on the
analysis scale), and the two SEs are combined as if independent. Because the two estimates
share trials, that CI is conservative (too wide); a CI that excludes 0 is a real disagreement.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ketamine_meta.analyses.protocol import DEFAULT_WINDOWS, Window, nearest_in_window, window_at
from ketamine_meta.stats.effect_sizes import log_odds_ratio
from ketamine_meta.stats.meta_analysis import random_effects
from ketamine_meta.stats.model import critical_value

RATIO_MEASURES = {"OR", "RR"}
#: ``agreement`` of a row whose trial set is too small a part of the review's (§22).
NOT_COMPARABLE = "not comparable"
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
    "review_trials",
    "ours",
    "ours_ci_low",
    "ours_ci_high",
    "ours_k",
    "ours_trials",
    "difference",
    "difference_ci_low",
    "difference_ci_high",
    "agreement",
    "comparability",
    "method",
    "trial_set",
    "gap_reason",
]


def select_comparisons(
    effects: pd.DataFrame, ours: Mapping, windows: tuple[Window, ...] = DEFAULT_WINDOWS
) -> pd.DataFrame:
    """Comparisons of a specification: outcome, window, drugs, routes, controls, populations.

    ``trials`` (the review's own list, where known) and ``published_before`` (the year of
    the review's search date) narrow the set further. Within the window of ``timepoint_h``
    each comparison enters once, with the visit nearest its nominal time.
    """
    measure = "SMD" if ours["measure"] == "SMD" else "logRR"
    rows = effects[
        (effects["outcome"] == ours["outcome"])
        & (effects["measure"] == measure)
        & effects["enantiomer"].isin(ours["enantiomers"])
        & effects["route"].isin(ours["routes"])
        & effects["drug_ctrl"].isin(ours["controls"])
        & effects["population"].isin(ours["populations"])
        & (effects["setting"] == "standard")
    ]
    if ours.get("trials"):
        rows = rows[rows["study_id"].isin(ours["trials"])]
    if ours.get("published_before"):
        rows = rows[rows["year"].astype(int) <= ours["published_before"]]
    window = window_at(windows, ours["timepoint_h"])
    return nearest_in_window(rows, window, ["comparison_id"]).reset_index(drop=True)


def _trial_set(ours: Mapping) -> str:
    """How the trial set was defined, for the table."""
    parts = [
        f"controls {', '.join(ours['controls'])}",
        f"populations {', '.join(ours['populations'])}",
    ]
    if ours.get("published_before"):
        parts.append(f"published up to {ours['published_before']}")
    if ours.get("trials"):
        parts.append(f"the review's own list ({len(ours['trials'])} trials in the package)")
    return "; ".join(parts)


def _estimates(rows: pd.DataFrame, measure: str) -> tuple[np.ndarray, np.ndarray]:
    if measure == "OR":
        return log_odds_ratio(
            rows["events_treat"].astype(float),
            rows["n_treat"].astype(float),
            rows["events_ctrl"].astype(float),
            rows["n_ctrl"].astype(float),
        )
    return rows["yi"].to_numpy(float), rows["vi"].to_numpy(float)


@dataclass(frozen=True)
class ComparabilityRules:
    """When a reproduction is judged (PROTOCOL.md §22).

    ``reproduction_rules`` of ``config/claims.yaml``. A reproduction tests whether the same
    trials give the same answer; with a small part of the review's trials an agreement or a
    difference says nothing about that (Lakens et al., BMC Psychology 2016;4:24).

    Attributes
    ----------
    min_share : float
        Fewest trials ours must pool, as a share of the review's trial count.
    min_trials : int
        Fewest trials ours must pool.
    """

    min_share: float = 0.5
    min_trials: int = 3

    def needed(self, review_trials: float) -> int:
        """Trials ours must pool against a review of ``review_trials``: max(3, ceil(half))."""
        return max(self.min_trials, math.ceil(self.min_share * review_trials))

    def not_comparable(self, ours: int, review_trials: float) -> str | None:
        """Why ``ours`` trials cannot be judged against the review's, or None."""
        if pd.isna(review_trials):
            return "the review's number of trials for this estimate is not stated"
        if ours > review_trials:
            return (
                f"ours pools {ours} trials, more than the review's {review_trials:g}: the trial "
                "sets differ"
            )
        needed = self.needed(review_trials)
        if ours < needed:
            return (
                f"ours pools {ours} of the review's {review_trials:g} trials, fewer than the "
                f"{needed} a judgement needs (at least {self.min_share:.0%} of the review's and "
                f"at least {self.min_trials})"
            )
        return None


def _review_trials(pub: pd.Series, spec: Mapping) -> float:
    """The review's trial count: the published row's k, else the specification's count."""
    if pd.notna(pub["k"]):
        return float(pub["k"])
    stated = spec.get("review_trials")
    return float(stated["count"]) if stated else np.nan


def reproduce(
    name: str,
    spec: Mapping,
    effects: pd.DataFrame,
    published: pd.DataFrame,
    windows: tuple[Window, ...] = DEFAULT_WINDOWS,
    rules: ComparabilityRules = ComparabilityRules(),
) -> dict:
    """One row of the reproductions table (columns :data:`REPRODUCTION_COLUMNS`)."""
    key = spec["published"]
    match = published[
        (published["review_id"] == spec["review_id"])
        & (published["outcome"] == key["outcome"])
        & (published["timepoint"] == key["timepoint"])
        & (published["measure"] == key["measure"])
        & (published["subgroup"] == key["subgroup"])
        & (published["comparison"] == key.get("comparison", published["comparison"]))
    ]
    if len(match) != 1:
        raise ValueError(f"{name}: {len(match)} published_estimates rows match {dict(key)}")
    pub = match.iloc[0]
    ours = spec["ours"]
    ratio = ours["measure"] in RATIO_MEASURES
    sign = spec["published_sign"]
    # A review may give its estimate without an interval (McGirr 2015's abstract): an empty
    # bound is NaN, which the difference's CI then carries instead of failing.
    low, high = (float(pub[b]) if pd.notna(pub[b]) else np.nan for b in ("ci_low", "ci_high"))
    missing = np.isnan(low) or np.isnan(high)
    bounds = [low, high] if ratio or missing else sorted([sign * low, sign * high])
    review_trials = _review_trials(pub, spec)
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
        "review_trials": review_trials,
        "method": f"{ours['method']}, {ours['test']}",
        "trial_set": _trial_set(ours),
        "gap_reason": spec["trial_selection"],
    }
    rows = select_comparisons(effects, ours, windows)
    if rows.empty:
        return row | {
            "ours_k": 0,
            "ours_trials": "",
            "agreement": NOT_COMPARABLE,
            "comparability": f"{NOT_COMPARABLE}: no comparison qualifies",
            "gap_reason": spec["trial_selection"] + " No comparison qualifies.",
        }
    yi, vi = _estimates(rows, ours["measure"])
    fit = random_effects(yi, vi, method=ours["method"], test=ours["test"])
    back = np.exp if ratio else (lambda v: v)
    ours_values = back(np.array([fit.estimate, fit.ci_low, fit.ci_high]))
    difference, low, high = _difference(fit, row, ratio)
    trials = sorted(set(rows["study_id"]))
    published_k = "an unstated number of" if pd.isna(review_trials) else f"{review_trials:g}"
    driver = (
        f" Ours pools {len(trials)} trial(s) against the review's {published_k}; the missing "
        "trials' numbers for this window are not in the package (extraction_gaps.csv)."
    )
    return row | {
        "gap_reason": spec["trial_selection"] + driver,
        "ours": ours_values[0],
        "ours_ci_low": ours_values[1],
        "ours_ci_high": ours_values[2],
        "ours_k": fit.k,
        "ours_trials": ";".join(trials),
        "difference": difference,
        "difference_ci_low": low,
        "difference_ci_high": high,
        **_judgement(len(trials), review_trials, low, high, rules, "trials" in ours),
    }


def _judgement(
    ours: int,
    review_trials: float,
    low: float,
    high: float,
    rules: ComparabilityRules,
    own_list: bool,
) -> dict:
    """``agreement`` and ``comparability`` of a row (PROTOCOL.md §22)."""
    reason = rules.not_comparable(ours, review_trials)
    if reason:
        return {"agreement": NOT_COMPARABLE, "comparability": f"{NOT_COMPARABLE}: {reason}"}
    assumed = (
        "" if own_list else "; the review's list is unknown, ours are taken to be among its trials"
    )
    return {
        "agreement": "agree" if low <= 0 <= high else "differ",
        "comparability": (
            f"comparable: ours pools {ours} of the review's {review_trials:g} trials{assumed}"
        ),
    }


def _difference(fit, row: Mapping, ratio: bool) -> tuple[float, float, float]:
    """Ours minus published on the analysis scale, with a 95% CI treating them as independent.

    The published SE is its 95% CI's width over 2 x 1.96 on the analysis scale (log for
    ratios).
    """
    transform = np.log if ratio else (lambda v: v)
    published = transform(row["published"])
    crit = critical_value(0.95)
    published_se = (transform(row["published_ci_high"]) - transform(row["published_ci_low"])) / (
        2 * crit
    )
    difference = float(fit.estimate - published)
    se = float(np.sqrt(fit.se**2 + published_se**2))
    half = crit * se
    return difference, difference - half, difference + half


def reproductions_table(
    specs: Mapping[str, Mapping],
    effects: pd.DataFrame,
    published: pd.DataFrame,
    windows: tuple[Window, ...] = DEFAULT_WINDOWS,
    rules: ComparabilityRules = ComparabilityRules(),
) -> pd.DataFrame:
    """:func:`reproduce` for every specification, in name order.

    ``difference`` is ours minus published on the analysis scale (log for ratios), with its
    CI in ``difference_ci_low`` / ``difference_ci_high``; ``agreement`` is what it implies
    where the row is comparable (PROTOCOL.md §22), else "not comparable", and
    ``comparability`` says why.
    """
    rows = [
        reproduce(name, specs[name], effects, published, windows, rules) for name in sorted(specs)
    ]
    return pd.DataFrame(rows, columns=REPRODUCTION_COLUMNS)
