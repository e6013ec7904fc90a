"""Bayesian random-effects answers beside the frequentist ones (PROTOCOL.md §23).

For Hedges' g and the log risk ratio of response at the primary timepoint, by route,
enantiomer and control type and overall: the posterior of the pooled effect under each
pre-specified prior on tau (the primary first), the probability that it exceeds each threshold,
and the frequentist row of the same trials beside it; racemic against esketamine within and
between trials, kept apart; the shrunken trial estimates; and the density curves the figures
draw. The model is :mod:`ketamine_meta.stats.bayes`; the trial-level steps are
:mod:`ketamine_meta.analyses.pooling`'s, so that each posterior pools exactly the trials of the
frequentist row beside it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ketamine_meta.analyses.claims import claimed_range
from ketamine_meta.analyses.pooling import TRIAL, fit_trials, trial_means
from ketamine_meta.analyses.protocol import Pooling
from ketamine_meta.stats.bayes import BayesianFit, BayesSpec, bayesian_meta_analysis
from ketamine_meta.stats.bayes_priors import MuPrior, TauPrior, parse_mu_prior, parse_tau_prior
from ketamine_meta.stats.model import critical_value

#: The measures of §23 and how each is reported: g as it is, the log RR as a ratio.
MEASURES = ("SMD", "logRR")
OVERALL = "overall"
ONE_TRIAL_NOTE = "1 trial: tau's posterior is its prior's; the interval is the prior's width"


@dataclass(frozen=True)
class NamedPrior:
    """A prior on tau as the protocol names it: ``name`` (a column value), ``label`` (prose)."""

    name: str
    label: str
    tau_prior: TauPrior


@dataclass(frozen=True)
class BayesianProtocol:
    """PROTOCOL.md §23 as configured (``bayesian:``): priors per measure, thresholds, level."""

    level: float
    mu_prior: MuPrior
    priors: Mapping[str, tuple[NamedPrior, ...]]
    thresholds: Mapping[str, tuple[float, ...]]
    moderators: tuple[str, ...]

    @classmethod
    def from_config(cls, config: Mapping) -> BayesianProtocol:
        """The ``bayesian:`` block of the configuration, priors parsed."""
        priors = {
            measure: tuple(
                NamedPrior(p["name"], p["label"], parse_tau_prior(p["tau_prior"]))
                for p in config["priors"][measure]
            )
            for measure in MEASURES
        }
        return cls(
            level=float(config["credible_level"]),
            mu_prior=parse_mu_prior(config["mu_prior"]),
            priors=priors,
            thresholds={m: tuple(float(t) for t in config["thresholds"][m]) for m in MEASURES},
            moderators=tuple(config["moderators"]),
        )

    def spec(self, prior: NamedPrior) -> BayesSpec:
        """The engine's specification under ``prior``."""
        return BayesSpec(prior.tau_prior, self.mu_prior, self.level)

    def primary(self, measure: str) -> NamedPrior:
        """The measure's primary prior (the first configured)."""
        return self.priors[measure][0]


def _reported(measure: str, value: float) -> float:
    """A value of mu on the reporting scale: g as it is, a log risk ratio exponentiated."""
    return math.exp(value) if measure == "logRR" else value


def _threshold_on_fit_scale(measure: str, threshold: float) -> float:
    return math.log(threshold) if measure == "logRR" else threshold


def _posterior_columns(fit: BayesianFit, measure: str, thresholds: Sequence[float]) -> dict:
    """Summary of one fit, intervals on the reporting scale, probabilities per threshold."""
    on_fit_scale = [_threshold_on_fit_scale(measure, t) for t in thresholds]
    summary = fit.summary(on_fit_scale)
    row = {
        "estimate": _reported(measure, summary["mu_median"]),
        "ci_low": _reported(measure, summary["ci_low"]),
        "ci_high": _reported(measure, summary["ci_high"]),
        "hpd_low": _reported(measure, summary["hpd_low"]),
        "hpd_high": _reported(measure, summary["hpd_high"]),
        "pi_low": _reported(measure, summary["pi_low"]),
        "pi_high": _reported(measure, summary["pi_high"]),
        "mu_mean": summary["mu_mean"],
        "mu_sd": summary["mu_sd"],
        "tau_median": summary["tau_median"],
        "tau_low": summary["tau_low"],
        "tau_high": summary["tau_high"],
    }
    for threshold, fit_threshold in zip(thresholds, on_fit_scale, strict=True):
        row[f"prob_above_{threshold:g}"] = summary[f"prob_above_{fit_threshold:g}"]
    return row


def _frequentist_columns(rows: pd.DataFrame, measure: str, pooling: Pooling) -> dict:
    """The frequentist fit of the same trials (§11), on the reporting scale."""
    fit, _ = fit_trials(rows, pooling)
    return {
        "freq_estimate": _reported(measure, fit.estimate),
        "freq_ci_low": _reported(measure, fit.ci_low),
        "freq_ci_high": _reported(measure, fit.ci_high),
        "freq_tau2": fit.tau2,
    }


def _subgroups(
    by_study: pd.DataFrame, moderators: Sequence[str]
) -> list[tuple[str, str, pd.DataFrame]]:
    """``(moderator, level, rows)`` for each level of each moderator, then the overall rows."""
    parts = [
        (moderator, str(level), rows)
        for moderator in moderators
        for level, rows in by_study.groupby(moderator, sort=True)
    ]
    return [*parts, (OVERALL, OVERALL, by_study)]


def posterior_by_subgroup(
    by_study: pd.DataFrame,
    measure: str,
    analysis: str,
    bayes: BayesianProtocol,
    pooling: Pooling,
) -> pd.DataFrame:
    """The posterior of the pooled effect per subgroup and prior, the frequentist fit beside.

    One row per moderator level (and overall) and prior: the posterior median with its
    equal-tailed and shortest credible intervals and the predictive interval (on the ratio
    scale for ``logRR``), mu's posterior mean and SD on the scale fitted, tau's median and
    interval, ``prob_above_T`` per threshold of §23, and the frequentist estimate and CI of the
    same trials (``freq_*``). Trials, not comparisons, are the unit (:func:`trial_means`).
    """
    records = []
    for moderator, level, rows in _subgroups(by_study, bayes.moderators):
        means = trial_means(rows)
        frequentist = _frequentist_columns(rows, measure, pooling)
        for role, prior in enumerate(bayes.priors[measure]):
            fit = bayesian_meta_analysis(means["yi"], means["vi"], bayes.spec(prior))
            records.append(
                {
                    "analysis": analysis,
                    "moderator": moderator,
                    "subgroup": level,
                    "prior": prior.name,
                    "prior_role": "primary" if role == 0 else "sensitivity",
                    "tau_prior": str(prior.tau_prior),
                    "trials": len(means),
                    "k": len(rows),
                    **_posterior_columns(fit, measure, bayes.thresholds[measure]),
                    **frequentist,
                    "note": ONE_TRIAL_NOTE if len(means) == 1 else "",
                }
            )
    return pd.DataFrame.from_records(records)


#: The columns of :func:`racemic_against_esketamine` (also when no trial gives a row).
ENANTIOMER_COLUMNS = [
    "evidence",
    "measure",
    "prior",
    "tau_prior",
    "estimate",
    "ci_low",
    "ci_high",
    "prob_racemic_better",
    "trials",
    "study_id",
    "note",
]


def racemic_against_esketamine(
    pairs: pd.DataFrame, by_study: Mapping[str, pd.DataFrame], bayes: BayesianProtocol
) -> pd.DataFrame:
    """P(racemic better than esketamine), within trials and between trials, kept apart (§12).

    - **Within trial**: the head-to-head comparisons (``pairs``, positive favours racemic;
      :func:`~ketamine_meta.analyses.efficacy.head_to_head_pairs`), one estimate per trial,
      pooled under each prior; P(mu > 0).
    - **Between trials**: per measure in ``by_study`` (``{"SMD": rows, "logRR": rows}``), the
      coefficient of racemic in the Bayesian meta-regression on enantiomer of one estimate
      per trial and enantiomer, uniform priors on both coefficients; P(coefficient > 0).
      Different trials, populations, routes and controls: confounded, as the note says.
    """
    records = []
    for measure in MEASURES:
        within = pairs[pairs["measure"] == measure]
        if len(within):
            records += _within_rows(within, measure, bayes)
        records += _between_rows(by_study[measure], measure, bayes)
    return pd.DataFrame.from_records(records, columns=ENANTIOMER_COLUMNS)


def _within_rows(pairs: pd.DataFrame, measure: str, bayes: BayesianProtocol) -> list[dict]:
    means = trial_means(pairs)
    rows = []
    for prior in bayes.priors[measure]:
        fit = bayesian_meta_analysis(means["yi"], means["vi"], bayes.spec(prior))
        rows.append(
            _contrast_row("within trial", measure, prior, fit.coefficient(0), bayes)
            | {
                "trials": len(means),
                "study_id": "; ".join(means[TRIAL]),
                "note": ONE_TRIAL_NOTE if len(means) == 1 else "",
            }
        )
    return rows


def _contrast_fits(
    rows: pd.DataFrame,
    column: str,
    level: str,
    reference: str,
    measure: str,
    bayes: BayesianProtocol,
) -> tuple[pd.DataFrame, list[tuple[NamedPrior, BayesianFit]]]:
    """The Bayesian meta-regression of ``level`` against ``reference`` of ``column``, per prior.

    One estimate per trial and level (:func:`trial_means`), uniform priors on both
    coefficients (PROTOCOL.md §23); coefficient 1 is ``level`` minus ``reference``. No fit
    where the rows hold one level only.
    """
    two = rows[rows[column].isin([level, reference])]
    means = trial_means(two, within=[column])
    if means[column].nunique() < 2:
        return means, []
    indicator = (means[column] == level).to_numpy(float)
    fits = [
        (
            prior,
            bayesian_meta_analysis(
                means["yi"],
                means["vi"],
                BayesSpec(prior.tau_prior, level=bayes.level),
                mods=indicator,
                terms=[f"{level} minus {reference}"],
            ),
        )
        for prior in bayes.priors[measure]
    ]
    return means, fits


def _between_rows(by_study: pd.DataFrame, measure: str, bayes: BayesianProtocol) -> list[dict]:
    means, fits = _contrast_fits(by_study, "enantiomer", "racemic", "esketamine", measure, bayes)
    return [
        _contrast_row("between trials (meta-regression)", measure, prior, fit.coefficient(1), bayes)
        | {
            "trials": int(means[TRIAL].nunique()),
            "study_id": "",
            "note": "different trials, populations, routes and controls: confounded",
        }
        for prior, fit in fits
    ]


def _contrast_row(
    evidence: str, measure: str, prior: NamedPrior, posterior, bayes: BayesianProtocol
) -> dict:
    alpha = 1 - bayes.level
    return {
        "evidence": evidence,
        "measure": "g" if measure == "SMD" else "RR",
        "prior": prior.name,
        "tau_prior": str(prior.tau_prior),
        "estimate": _reported(measure, posterior.quantile(0.5)),
        "ci_low": _reported(measure, posterior.quantile(alpha / 2)),
        "ci_high": _reported(measure, posterior.quantile(1 - alpha / 2)),
        "prob_racemic_better": posterior.sf(0.0),
    }


def shrunken_trials(
    by_study: pd.DataFrame, bayes: BayesianProtocol, measure: str = "SMD"
) -> pd.DataFrame:
    """Each trial's estimate beside its shrunken estimate under the primary prior (overall).

    Columns ``row, study_id, yi, vi``, the trial's own Wald interval at the credible level
    (``observed_low``, ``observed_high``), and ``theta_median, theta_low, theta_high`` (the
    posterior of the trial's own effect), on the ratio scale for ``logRR``; then one
    ``overall`` row with mu's posterior and one ``new trial`` row with the predictive interval.
    """
    means = trial_means(by_study)
    prior = bayes.primary(measure)
    fit = bayesian_meta_analysis(means["yi"], means["vi"], bayes.spec(prior))
    alpha = 1 - bayes.level
    table = fit.shrinkage_table()
    half = critical_value(bayes.level) * np.sqrt(table["vi"])
    rows = pd.DataFrame(
        {
            "row": "trial",
            TRIAL: means[TRIAL].to_numpy(),
            "yi": table["yi"],
            "vi": table["vi"],
            "observed_low": [_reported(measure, v) for v in table["yi"] - half],
            "observed_high": [_reported(measure, v) for v in table["yi"] + half],
            "theta_median": [_reported(measure, v) for v in table["theta_median"]],
            "theta_low": [_reported(measure, v) for v in table["theta_low"]],
            "theta_high": [_reported(measure, v) for v in table["theta_high"]],
        }
    )
    summaries = []
    for name, posterior in (("overall", fit.coefficient(0)), ("new trial", fit.predictive())):
        summaries.append(
            {
                "row": name,
                TRIAL: "",
                "theta_median": _reported(measure, posterior.quantile(0.5)),
                "theta_low": _reported(measure, posterior.quantile(alpha / 2)),
                "theta_high": _reported(measure, posterior.quantile(1 - alpha / 2)),
            }
        )
    return pd.concat([rows, pd.DataFrame(summaries)], ignore_index=True).assign(prior=prior.name)


#: Points of each density curve the figures draw.
CURVE_POINTS = 201


def density_curves(
    by_study: pd.DataFrame, bayes: BayesianProtocol, moderators: Sequence[str], measure: str = "SMD"
) -> pd.DataFrame:
    """The curves of the posterior figure, so that the figure draws a table.

    - ``mu``: the posterior density of the pooled effect per level of each of ``moderators``
      and overall, under the primary prior, on a grid from its 0.1 % to its 99.9 % quantile;
    - ``tau``: the posterior density of tau (overall) under each prior, and that prior's own
      density (``curve`` = ``prior``), from 0 to the largest posterior 99 % quantile.

    Columns ``quantity, moderator, subgroup, prior, curve, x, density``.
    """
    primary = bayes.primary(measure)
    frames = []
    for moderator, level, rows in _subgroups(by_study, moderators):
        means = trial_means(rows)
        mu = bayesian_meta_analysis(means["yi"], means["vi"], bayes.spec(primary)).coefficient(0)
        x = np.linspace(mu.quantile(0.001), mu.quantile(0.999), CURVE_POINTS)
        frames.append(
            _curve("mu", moderator, level, primary.name, "posterior", x, [mu.pdf(v) for v in x])
        )
    means = trial_means(by_study)
    fits = [
        (p, bayesian_meta_analysis(means["yi"], means["vi"], bayes.spec(p)))
        for p in bayes.priors[measure]
    ]
    top = max(fit.tau_quantile(0.99) for _, fit in fits)
    x = np.linspace(0.0, top, CURVE_POINTS)[1:]
    for prior, fit in fits:
        frames.append(_curve("tau", OVERALL, OVERALL, prior.name, "posterior", x, fit.tau_pdf(x)))
        frames.append(
            _curve(
                "tau",
                OVERALL,
                OVERALL,
                prior.name,
                "prior",
                x,
                np.exp(prior.tau_prior.log_density(x)),
            )
        )
    return pd.concat(frames, ignore_index=True)


def _curve(
    quantity: str, moderator: str, level: str, prior: str, curve: str, x, density
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "quantity": quantity,
            "moderator": moderator,
            "subgroup": level,
            "prior": prior,
            "curve": curve,
            "x": np.asarray(x, dtype=float),
            "density": np.asarray(density, dtype=float),
        }
    )


#: The columns of :func:`claim_probabilities` (also when no claim gives a row).
CLAIM_COLUMNS = [
    "claim_id",
    "quantity",
    "test",
    "question",
    "prior",
    "probability",
    "trials",
    "verdict",
    "computed",
]
#: The claim tests of PROTOCOL.md §14 worded as a threshold of g (§23), each with its question.
CLAIM_TESTS = (
    "smd_overall_range",
    "smd_ratio_to_benchmark",
    "racemic_vs_esketamine",
    "routes_no_difference",
)


def claim_probabilities(
    audit: pd.DataFrame,
    claims: pd.DataFrame,
    by_study: pd.DataFrame,
    enantiomer: pd.DataFrame,
    benchmark: float,
    tolerance: float,
    margin: float,
    bayes: BayesianProtocol,
) -> pd.DataFrame:
    """Posterior probabilities beside the frequentist verdicts of threshold-worded claims (§23).

    One row per claim of :data:`CLAIM_TESTS` in ``audit`` (the claims audit), question and
    prior (SMD priors): ``question`` in words, ``probability``, and the audit's ``verdict``
    and ``computed`` beside them. ``claims`` is ``claims.csv`` (the claimed values),
    ``enantiomer`` the table of :func:`racemic_against_esketamine`, ``benchmark`` the
    antidepressant SMD and ``tolerance`` §14's reading of a point value.
    """
    rows = []
    for _, audited in audit[audit["test"].isin(CLAIM_TESTS)].iterrows():
        claim = claims[claims["claim_id"] == audited["claim_id"]].iloc[0]
        test = audited["test"]
        if test == "racemic_vs_esketamine":
            answers = _enantiomer_answers(enantiomer)
        elif test == "routes_no_difference":
            answers = _route_answers(by_study, margin, bayes)
        else:
            low, high = claimed_range(claim, tolerance)
            if test == "smd_ratio_to_benchmark":
                question = f"P({low:g} x {benchmark:g} <= g <= {high:g} x {benchmark:g})"
                low, high = low * benchmark, high * benchmark
            else:
                question = f"P({low:g} <= g <= {high:g})"
            answers = _range_answers(by_study, low, high, question, bayes)
        for answer in answers:
            rows.append(
                {
                    "claim_id": audited["claim_id"],
                    "quantity": audited["quantity"],
                    "test": test,
                    **answer,
                    "verdict": audited["verdict"],
                    "computed": audited["computed"],
                }
            )
    return pd.DataFrame.from_records(rows, columns=CLAIM_COLUMNS)


def _range_answers(
    by_study: pd.DataFrame, low: float, high: float, question: str, bayes: BayesianProtocol
) -> list[dict]:
    means = trial_means(by_study)
    answers = []
    for prior in bayes.priors["SMD"]:
        mu = bayesian_meta_analysis(means["yi"], means["vi"], bayes.spec(prior)).coefficient(0)
        answers.append(
            {
                "question": question,
                "prior": prior.name,
                "probability": mu.cdf(high) - mu.cdf(low),
                "trials": len(means),
            }
        )
    return answers


def _enantiomer_answers(enantiomer: pd.DataFrame) -> list[dict]:
    rows = enantiomer[enantiomer["measure"] == "g"]
    return [
        {
            "question": f"P(racemic better than esketamine), {r['evidence']}",
            "prior": r["prior"],
            "probability": r["prob_racemic_better"],
            "trials": r["trials"],
        }
        for _, r in rows.iterrows()
    ]


def _route_answers(by_study: pd.DataFrame, margin: float, bayes: BayesianProtocol) -> list[dict]:
    means, fits = _contrast_fits(by_study, "route", "IV", "IN", "SMD", bayes)
    answers = []
    for prior, fit in fits:
        difference = fit.coefficient(1)
        answers.append(
            {
                "question": f"P(|IV - IN| < {margin:g}), between trials (confounded)",
                "prior": prior.name,
                "probability": difference.cdf(margin) - difference.cdf(-margin),
                "trials": int(means[TRIAL].nunique()),
            }
        )
    return answers
