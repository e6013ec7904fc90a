"""What every pooled question shares: the primary selection, one estimate per trial, the fit.

The unit of analysis is the trial (PROTOCOL.md §11): :func:`trial_means` combines a trial's
comparisons, :func:`fit_trials` fits the configured model (a
:class:`~ketamine_meta.analyses.protocol.Pooling`) to them, and :func:`with_display` applies the
minimum-information rule to a pooled table. The statistics live in
:mod:`ketamine_meta.stats.meta_analysis`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ketamine_meta.analyses.protocol import (
    Pooling,
    Protocol,
    select_comparisons,
)
from ketamine_meta.stats.meta_analysis import (
    RandomEffectsResult,
    combine_within_clusters,
    dependence_note,
    random_effects,
)
from ketamine_meta.stats.meta_regression import MetaRegressionResult, meta_regression


def select_smd_at(effects: pd.DataFrame, protocol: Protocol) -> pd.DataFrame:
    """Depression-score SMDs of the primary window and analysis set (see :func:`select_at`)."""
    return select_at(effects, "depression_score", "SMD", protocol)


def select_at(
    effects: pd.DataFrame, outcome: str, measure: str, protocol: Protocol
) -> pd.DataFrame:
    """One row per comparison of ``outcome`` and ``measure`` in the primary window and set.

    See :func:`~ketamine_meta.analyses.protocol.select_comparisons` (PROTOCOL.md §6-§10).

    Raises
    ------
    ValueError
        If no comparison is left to pool.
    """
    return select_comparisons(
        effects, outcome, measure, protocol.primary_window, protocol.analysis_set
    )


#: The column naming a comparison's trial: every pooled estimate counts these (PROTOCOL.md §11).
TRIAL = "study_id"


def trial_means(rows: pd.DataFrame, within: Sequence[str] = ()) -> pd.DataFrame:
    """The comparisons of each trial (and level of ``within``) combined into one estimate.

    :func:`~ketamine_meta.stats.meta_analysis.combine_within_clusters` on ``study_id`` and the
    ``within`` columns: the unit of analysis is the trial (PROTOCOL.md §11). Columns
    ``study_id``, the ``within`` columns, ``yi``, ``vi``, ``size`` (comparisons combined) and
    ``label`` (the key columns joined by " / "), in order of first appearance.
    """
    keys = [TRIAL, *within]
    labels = rows[keys].astype(str).agg(" / ".join, axis=1)
    means = combine_within_clusters(rows["yi"], rows["vi"], labels)
    first = rows[keys].set_axis(labels).groupby(level=0, sort=False).first()
    return (
        first.loc[means.cluster]
        .rename_axis("label")
        .reset_index()
        .assign(yi=means.yi, vi=means.vi, size=means.size)
    )


def trial_dependence(means: pd.DataFrame) -> str:
    """:func:`~ketamine_meta.stats.meta_analysis.dependence_note` of :func:`trial_means`."""
    return dependence_note(means["label"], means["size"])


def per_trial(by_study: pd.DataFrame) -> pd.DataFrame:
    """One row per trial: its comparisons combined (:func:`trial_means`), first year, total n.

    Columns ``study_id, yi, vi, year, n_total, comparisons`` (the comparison ids, ``;``-joined),
    in order of first appearance. The input of every per-trial sensitivity analysis
    (leave-one-out, influence, cumulative, heterogeneity, small-study tests).
    """
    means = trial_means(by_study)
    grouped = by_study.groupby(TRIAL, sort=False)
    trials = means[TRIAL]
    return pd.DataFrame(
        {
            TRIAL: trials,
            "yi": means["yi"],
            "vi": means["vi"],
            "year": grouped["year"].min().loc[trials].to_numpy(),
            "n_total": grouped["n_total"].sum().loc[trials].to_numpy(),
            "comparisons": grouped["comparison_id"].agg(";".join).loc[trials].to_numpy(),
        }
    )


def fit_trials(rows: pd.DataFrame, pooling: Pooling) -> tuple[RandomEffectsResult, dict]:
    """``pooling.model`` fitted to one estimate per trial of ``rows``.

    Returns the fit and the counts a pooled table reports beside it: ``k`` (comparisons),
    ``trials`` and ``dependence`` (:func:`~ketamine_meta.stats.meta_analysis.dependence_note`).
    """
    means = trial_means(rows)
    fit = random_effects(means["yi"], means["vi"], **pooling.model.arguments)
    return fit, {"k": len(rows), "trials": fit.k, "dependence": trial_dependence(means)}


def display_columns(trials: pd.Series, tau2: pd.Series, pooling: Pooling) -> pd.DataFrame:
    """``display`` and ``pi_note`` of pooled rows: the minimum-information rule (PROTOCOL.md §11).

    - ``display`` is empty where the estimate rests on at least ``pooling.min_trials`` trials
      (an answer), else "too few trials (2 of 3): ..." (show the trial-level results instead).
    - ``pi_note`` is empty where a prediction interval is printed: at least
      ``pooling.pi_min_trials`` trials and tau^2 > 0; else it says why there is none.
    """
    least, least_pi = pooling.min_trials, pooling.pi_min_trials
    trials = trials.astype(float)
    display = np.where(
        trials < least,
        [f"too few trials ({t:g} of {least}): see the trial-level results" for t in trials],
        "",
    )
    pi_note = np.select(
        [trials < least_pi, tau2.astype(float) <= 0],
        [f"fewer than {least_pi} trials: no prediction interval", "tau² = 0: the PI equals the CI"],
        "",
    )
    return pd.DataFrame({"display": display, "pi_note": pi_note}, index=trials.index)


def with_display(table: pd.DataFrame, pooling: Pooling) -> pd.DataFrame:
    """``table`` with :func:`display_columns`, its PI emptied where ``pi_note`` says why.

    Rows without a pooled estimate (the test for subgroup differences, a sensitivity set left
    without trials) get neither.
    """
    estimated = table["trials"].fillna(0) > 0
    notes = display_columns(table.loc[estimated, "trials"], table.loc[estimated, "tau2"], pooling)
    out = table.assign(display="", pi_note="")
    out.loc[estimated, ["display", "pi_note"]] = notes
    out.loc[out["pi_note"] != "", ["pi_low", "pi_high"]] = np.nan
    return out


#: Fewest comparisons for a meta-regression on one covariate: an intercept, a slope and tau^2
#: leave no residual degree of freedom below three.
SLOPE_MIN_COMPARISONS = 3


def slope_fit(
    rows: pd.DataFrame, covariate: str, term: str, pooling: Pooling
) -> MetaRegressionResult:
    """``pooling.model``'s meta-regression of ``yi`` on an intercept and ``rows[covariate]``.

    The coefficients are named ``intercept`` and ``term``; one row of ``rows`` is one point
    (a trial's arms kept apart stay apart: :func:`arms_kept_apart` says which).
    """
    x = np.column_stack([np.ones(len(rows)), rows[covariate]])
    return meta_regression(
        rows["yi"], rows["vi"], x, ["intercept", term], **pooling.model.arguments
    )


def arms_kept_apart(rows: pd.DataFrame, treated_as: str) -> str:
    """``"Trial: 2 <treated_as>"`` for each trial with several rows, ``; ``-joined."""
    counts = rows.groupby(TRIAL, sort=True).size()
    return "; ".join(
        f"{trial}: {count} {treated_as}" for trial, count in counts.items() if count > 1
    )
