"""The claims audit: each quantitative claim of the source documents beside what the data show.

``config/claims.yaml`` assigns every claim of ``data/raw/claims.csv`` a *test* (a
:class:`ClaimTest` of :data:`TESTS`) or a reason why it is not testable with these data. A test
returns a :class:`Finding`: the number the pipeline computed (estimate, CI, k, n), a verdict
and why.

Verdicts (PROTOCOL.md §13, §14)
-------------------------------
``supported``, ``partly supported``, ``not supported``, ``not testable with these data``.
A claimed value ``v`` stated as approximate is read as the range ``v (1 +- tolerance)``; a
claimed range is taken as stated; a claim stated in words is read as the range its entry gives
(``reads_as``). :func:`range_verdict` compares it with the estimate and CI: supported when the
estimate lies in the range; partly when it does not but at least ``partial_overlap`` of the
CI's width lies inside the range (a CI that merely touches the range does not qualify); else
not supported. A claimed direction is judged by :func:`direction_verdict`, a claimed absence
of difference by :func:`no_difference_verdict` (never supported: no equivalence margin is
pre-specified). A pooled estimate from fewer than ``min_trials`` trials, or with a CI wider
than ``max_ci_width`` for its kind, gives "not testable" (:meth:`VerdictRules.insufficient`).
A claim marked ``indirect`` in ``config/claims.yaml`` (the evidence answers a different
population, timepoint or design) is at most partly supported. A claim about a named study
(``named_study``) is judged on that study's rows only, and is not testable when the package
does not hold it.

Every test declares the verdicts its rule can give (:attr:`ClaimTest.verdicts`);
``tests/test_claims.py`` perturbs each test's inputs and checks that it reaches each of them
and no other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy import special

from ketamine_meta.analyses.comparisons import ENANTIOMER, ComparisonRules
from ketamine_meta.analyses.protocol import Pooling, Protocol, Window, select_comparisons
from ketamine_meta.analyses.response import arm_responses, pool_proportions
from ketamine_meta.stats.effect_sizes import log_risk_ratio, proportion_logit, smd
from ketamine_meta.stats.meta_analysis import OVERALL_LABEL, SUBGROUP_TEST_LABEL, random_effects

SUPPORTED, PARTLY, NOT_SUPPORTED, NOT_TESTABLE = (
    "supported",
    "partly supported",
    "not supported",
    "not testable with these data",
)
VERDICTS = (SUPPORTED, PARTLY, NOT_SUPPORTED, NOT_TESTABLE)

#: "Long-term": follow-up beyond 12 weeks after the first dose, in days.
LONG_TERM_DAYS = 12 * 7
#: Outcome rows of ``outcomes.csv`` that record harms (with their own timepoint).
HARM_OUTCOMES = ("dropout", "dropout_adverse_event")
#: Adverse-event terms of ``adverse_events.csv`` that name a dissociative experience.
DISSOCIATIVE_EVENTS = ("dissociation", "derealization", "depersonalization/derealization disorder")
#: An arm's ``co_treatment`` that names an oral antidepressant.
ANTIDEPRESSANT = r"(?i)antidepressant|\bSSRI\b|\bSNRI\b|\bAD\b"


@dataclass(frozen=True)
class Finding:
    """What the pipeline computed for a claim, and the verdict."""

    verdict: str
    reason: str
    computed: str = ""
    estimate: float = np.nan
    ci_low: float = np.nan
    ci_high: float = np.nan
    k: float = np.nan
    n: float = np.nan
    #: ``proportion``, ``smd`` or ``ratio`` for a pooled estimate that the minimum-information
    #: rule (PROTOCOL.md §13) applies to; empty for counts, single trials and lookups.
    kind: str = ""
    #: Trials behind a pooled estimate.
    trials: float = np.nan


@dataclass(frozen=True)
class VerdictRules:
    """The verdict rules of PROTOCOL.md §13-§14 (``config/claims.yaml``).

    Attributes
    ----------
    tolerance : float
        A claimed "about v" is read as ``v (1 +- tolerance)``.
    partial_overlap : float
        Share of the CI's width that must lie inside the claimed range for "partly".
    min_trials : int
        Fewest trials a pooled estimate needs to enter a verdict.
    max_ci_width : mapping of str to float
        Widest CI allowed per kind of estimate: ``proportion`` (on 0-1), ``smd``, and
        ``ratio`` (upper over lower bound of a risk, odds or hazard ratio).
    """

    tolerance: float = 0.2
    partial_overlap: float = 0.25
    min_trials: int = 3
    max_ci_width: Mapping[str, float] = field(
        default_factory=lambda: {"proportion": 0.4, "smd": 1.0, "ratio": 4.0}
    )

    def insufficient(self, kind: str, k: float, ci_low: float, ci_high: float) -> str | None:
        """Why a pooled estimate is too thin for a verdict (PROTOCOL.md §13), or None."""
        if not k >= self.min_trials:
            return f"k = {k:g} trials, fewer than the {self.min_trials} a verdict needs"
        width = ci_high / ci_low if kind == "ratio" else ci_high - ci_low
        if not width <= self.max_ci_width[kind]:
            what = "upper/lower bound" if kind == "ratio" else "CI width"
            return (
                f"{what} {width:.2f} exceeds the {self.max_ci_width[kind]:g} a {kind} verdict "
                "allows"
            )
        return None


@dataclass
class Evidence:
    """The tables the tests read (results of the pipeline and the data package)."""

    tables: Mapping[str, pd.DataFrame]
    pooling: Pooling
    rules: VerdictRules = field(default_factory=VerdictRules)
    protocol: Protocol = field(default_factory=Protocol)
    scale_preference: tuple[str, ...] = tuple(ComparisonRules().scale_preference)
    cache: dict = field(default_factory=dict)

    @property
    def tolerance(self) -> float:
        """A claimed "about v" is read as ``v (1 +- tolerance)`` (PROTOCOL.md §14)."""
        return self.rules.tolerance

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def only(self, study_ids: Sequence[str]) -> Evidence:
        """The evidence of the named studies alone (PROTOCOL.md §13).

        Tables keyed by study keep those studies' rows; tables of pooled results, which rest
        on other trials too, are left out, so a test that reads one cannot judge the study.
        """
        kept = {
            name: table[table["study_id"].isin(list(study_ids))]
            for name, table in self.tables.items()
            if "study_id" in table
        }
        return replace(self, tables=kept, cache={})


class NoEvidenceError(LookupError):
    """The package holds no row a claim's test needs; the claim is not testable."""


def require_rows(rows: pd.DataFrame, what: str) -> pd.DataFrame:
    """``rows``, or :class:`NoEvidenceError` naming ``what`` is missing when there are none."""
    if rows.empty:
        raise NoEvidenceError(f"no {what} in the data package")
    return rows


def claimed_range(claim: pd.Series, tolerance: float) -> tuple[float, float]:
    """The range a claim asserts: its stated range, or ``v (1 +- tolerance)`` for a point.

    Raises
    ------
    ValueError
        If the claim states no value (its entry must then give ``reads_as``).
    """
    low, high = claim["value_low"], claim["value_high"]
    if pd.isna(low) or pd.isna(high):
        raise ValueError(
            f"{claim['claim_id']}: the claim states no value; give reads_as in config/claims.yaml"
        )
    if low == high:
        return low * (1 - tolerance), high * (1 + tolerance)
    return low, high


def range_verdict(
    estimate: float,
    ci_low: float,
    ci_high: float,
    low: float,
    high: float,
    partial_overlap: float = 0.25,
) -> str:
    """Verdict of an estimate and CI against the claimed range [low, high] (PROTOCOL.md §14).

    Supported if the estimate lies in the range; partly if it does not but at least
    ``partial_overlap`` of the CI's width lies inside the range; else not supported.
    """
    if low <= estimate <= high:
        return SUPPORTED
    width = ci_high - ci_low
    inside = max(0.0, min(ci_high, high) - max(ci_low, low))
    if width > 0 and inside / width >= partial_overlap:
        return PARTLY
    return NOT_SUPPORTED


def direction_verdict(estimate: float, ci_low: float, null: float = 0.0) -> str:
    """Verdict of a claimed effect above ``null`` (PROTOCOL.md §14).

    Supported when the CI lies above ``null``; partly when the estimate does but the CI does
    not; not supported when the estimate is at or below ``null``.
    """
    if ci_low > null:
        return SUPPORTED
    return PARTLY if estimate > null else NOT_SUPPORTED


def no_difference_verdict(ci_low: float, ci_high: float, null: float = 0.0) -> str:
    """Verdict of a claimed absence of difference (PROTOCOL.md §14).

    Never supported: without a pre-specified equivalence margin a CI that includes ``null``
    is absence of evidence, not evidence of absence (Altman & Bland, BMJ 1995;311:485).
    Partly when the CI includes ``null``, not supported when it excludes it.
    """
    return PARTLY if ci_low <= null <= ci_high else NOT_SUPPORTED


def _wald_interval(ev: Evidence, yi: float, vi: float) -> tuple[float, float]:
    """One estimate's Wald interval at the level of the configured model."""
    half = ev.pooling.model.crit() * np.sqrt(vi)
    return yi - half, yi + half


def _fmt(estimate, low, high, digits=2, scale=1.0, unit="") -> str:
    return (
        f"{estimate * scale:.{digits}f}{unit} [{low * scale:.{digits}f}, {high * scale:.{digits}f}]"
    )


def _per_trial_counts(rows: pd.DataFrame, events: str = "events") -> pd.DataFrame:
    """A trial's arms summed into one (Handbook 6.5.2.10): ``study_id``, ``events``, ``n``.

    Several arms of one trial are not independent trials (issue 19 §1); for a share they are
    one group of participants.
    """
    return (
        rows.assign(events=rows[events].astype(float), n=rows["n"].astype(float))
        .groupby("study_id", sort=True)[["events", "n"]]
        .sum()
        .reset_index()
    )


def _pooled_proportion(
    ev: Evidence, rows: pd.DataFrame
) -> tuple[float, float, float, int, int, int]:
    """Pooled share of arms, a trial's arms summed first: estimate, CI, arms, n and trials."""
    trials = _per_trial_counts(require_rows(rows, "arm with events and n"))
    fit, (est, low, high, _, _) = pool_proportions(trials["events"], trials["n"], ev.pooling, "PLO")
    return float(est), float(low), float(high), len(rows), int(trials["n"].sum()), fit.k


#: The claims' "24-72 h" span (a claim's own wording, not a protocol window).
WINDOW_24_TO_72H = Window("24-72 h", 24.0, 20.0, 96.0)


def _arm_responses(ev: Evidence, window: Window, drug: bool) -> pd.DataFrame:
    """Responders per arm in ``window`` (depression scales only), drug or inert-placebo arms."""
    placebo_set = replace(ev.protocol.analysis_set, control_types=("inert_placebo",))
    rows = arm_responses(
        ev["outcomes"], ev["arms"], ev["studies"], window, placebo_set, ev.scale_preference
    )
    active = rows["drug"].isin(list(ENANTIOMER))
    return rows[active if drug else ~active]


def _share_part(ev: Evidence, share: tuple, low: float, high: float) -> tuple[str, str]:
    """Verdict of one pooled share (0-1) against [low, high] (0-1), and its text (§13-§14)."""
    thin = ev.rules.insufficient("proportion", share[5], share[1], share[2])
    if thin:
        return NOT_TESTABLE, f"{NOT_TESTABLE} (insufficient information: {thin})"
    verdict = range_verdict(*share[:3], low, high, ev.rules.partial_overlap)
    return verdict, verdict


def response_24h_drug_vs_placebo(ev: Evidence, claim: pd.Series) -> Finding:
    """About half of drug arms respond at 24 h, under a tenth of placebo arms."""
    window = ev.protocol.primary_window
    drug = _pooled_proportion(ev, _arm_responses(ev, window, True))
    pbo = _pooled_proportion(ev, _arm_responses(ev, window, False))
    low, high = claimed_range(claim, ev.tolerance)
    drug_ok, drug_text = _share_part(ev, drug, low / 100, high / 100)
    pbo_ok, pbo_text = _share_part(ev, pbo, 0.0, 0.10)
    computed = (
        f"drug arms {_fmt(*drug[:3], 0, 100, '%')} ({drug[5]} trials, {drug[3]} arms); "
        f"placebo arms {_fmt(*pbo[:3], 0, 100, '%')} ({pbo[5]} trials, {pbo[3]} arms)"
    )
    reason = (
        f"drug-arm share against the claimed {low:.0f}-{high:.0f}%: {drug_text}; "
        f"inert-placebo share below 10%: {pbo_text}"
    )
    return Finding(
        _two_part_verdict(drug_ok, pbo_ok),
        reason,
        computed,
        drug[0],
        drug[1],
        drug[2],
        drug[5],
        drug[4],
    )


def _two_part_verdict(first: str, second: str) -> str:
    """A claim of two parts: supported only if both are; a part not testable caps it at partly."""
    parts = {first, second}
    if parts == {SUPPORTED}:
        return SUPPORTED
    if parts == {NOT_TESTABLE}:
        return NOT_TESTABLE
    if NOT_SUPPORTED in parts and SUPPORTED not in parts:
        return NOT_SUPPORTED
    return PARTLY


def response_share(ev: Evidence, claim: pd.Series) -> Finding:
    """Share of drug arms' participants responding between 24 and 72 h."""
    return _share_finding(
        ev, claim, *_pooled_proportion(ev, _arm_responses(ev, WINDOW_24_TO_72H, True))
    )


def nonresponse_share(ev: Evidence, claim: pd.Series) -> Finding:
    """Share of drug arms' participants not responding between 24 and 72 h."""
    est, lo, hi, arms, n, trials = _pooled_proportion(
        ev, _arm_responses(ev, WINDOW_24_TO_72H, True)
    )
    return _share_finding(ev, claim, 1 - est, 1 - hi, 1 - lo, arms, n, trials)


def _share_finding(ev: Evidence, claim: pd.Series, est, lo, hi, arms, n, trials) -> Finding:
    low, high = claimed_range(claim, ev.tolerance)
    verdict = range_verdict(est * 100, lo * 100, hi * 100, low, high, ev.rules.partial_overlap)
    return Finding(
        verdict,
        f"pooled share at 24-72 h against the claimed {low:.0f}-{high:.0f}%",
        f"{_fmt(est, lo, hi, 0, 100, '%')} ({trials} trials, {arms} arms)",
        est,
        lo,
        hi,
        trials,
        n,
        "proportion",
        trials,
    )


def _overall(ev: Evidence, table: str = "pooled_smd_by_route") -> pd.Series:
    overall = ev[table].set_index("subgroup")
    return require_rows(overall.loc[overall.index == OVERALL_LABEL], "pooled 24 h SMD").iloc[0]


def smd_overall_range(ev: Evidence, claim: pd.Series) -> Finding:
    """The pooled SMD at 24 h against the claimed range."""
    o = _overall(ev)
    low, high = claimed_range(claim, ev.tolerance)
    verdict = range_verdict(
        o["estimate"], o["ci_low"], o["ci_high"], low, high, ev.rules.partial_overlap
    )
    return Finding(
        verdict,
        f"pooled g at 24 h against the claimed {low:g}-{high:g}; "
        f"prediction interval {o['pi_low']:.2f} to {o['pi_high']:.2f}",
        f"g = {_fmt(o['estimate'], o['ci_low'], o['ci_high'])}, k = {int(o['k'])}",
        o["estimate"],
        o["ci_low"],
        o["ci_high"],
        o["k"],
        o["n"],
        "smd",
        _trials(ev),
    )


def _trials(ev: Evidence) -> int:
    """Trials in the primary SMD analysis."""
    return ev["smd_by_study"]["study_id"].nunique()


#: The published estimate antidepressants are compared with (PROTOCOL.md §14).
BENCHMARK_REVIEW = "munkholm2019_cipriani2018"


def antidepressant_benchmark(published_estimates: pd.DataFrame) -> pd.Series:
    """The antidepressants' pooled SMD (Munkholm 2019 reanalysis of Cipriani 2018), its row."""
    bench = published_estimates[
        (published_estimates["review_id"] == BENCHMARK_REVIEW)
        & (published_estimates["measure"] == "SMD")
        & (published_estimates["subgroup"] == "overall")
    ]
    return require_rows(bench, "pooled benchmark").iloc[0]


def smd_ratio_to_benchmark(ev: Evidence, claim: pd.Series) -> Finding:
    """Ketamine's pooled SMD divided by the antidepressant benchmark (Munkholm 2019)."""
    o = _overall(ev)
    b = antidepressant_benchmark(ev["published_estimates"])
    ratio = np.array([o["estimate"], o["ci_low"], o["ci_high"]]) / b["estimate"]
    low, high = claimed_range(claim, ev.tolerance)
    verdict = ev.rules.insufficient("smd", _trials(ev), o["ci_low"], o["ci_high"]) and NOT_TESTABLE
    verdict = verdict or range_verdict(*ratio, low, high, ev.rules.partial_overlap)
    return Finding(
        verdict,
        f"ratio of pooled g ({o['estimate']:.2f}) to the antidepressant SMD {b['estimate']:g} "
        f"(Munkholm 2019 reanalysis of Cipriani 2018); the benchmark's own CI is ignored",
        f"ratio {_fmt(*ratio, 1)}",
        *ratio,
        o["k"],
        o["n"],
    )


def _single_dose_trials(ev: Evidence) -> set[str]:
    """Trials whose every drug arm had one session (``arms.sessions``)."""
    arms = _active_arms(ev)
    single = arms["sessions"].eq(1).groupby(arms["study_id"]).all()
    return set(single[single].index)


def _smd_by_window(ev: Evidence, single_dose: bool = False) -> pd.DataFrame:
    """Pooled g in each protocol window, from the primary analysis set (PROTOCOL.md §6).

    ``single_dose`` keeps only trials whose drug arms had a single session: the evidence of
    how long one dose lasts (PROTOCOL.md §14).
    """
    key = ("smd_windows", single_dose)
    if key not in ev.cache:
        effects = ev["effects"]
        if single_dose:
            effects = effects[effects["study_id"].isin(_single_dose_trials(ev))]
        rows = []
        for window in ev.protocol.windows:
            try:
                sel = select_comparisons(
                    effects, "depression_score", "SMD", window, ev.protocol.analysis_set
                )
            except ValueError:
                continue
            fit = random_effects(sel["yi"], sel["vi"], **ev.pooling.model.arguments)
            rows.append(
                {
                    "window": window.label,
                    "days": window.nominal_h / 24,
                    "estimate": fit.estimate,
                    "ci_low": fit.ci_low,
                    "ci_high": fit.ci_high,
                    "k": fit.k,
                    "trials": sel["study_id"].nunique(),
                }
            )
        columns = ["window", "days", "estimate", "ci_low", "ci_high", "k", "trials"]
        ev.cache[key] = pd.DataFrame(rows, columns=columns)
    return ev.cache[key]


def _informative(ev: Evidence, windows: pd.DataFrame) -> pd.Series:
    """Which windows' pooled g meets the minimum-information rule (PROTOCOL.md §13)."""
    return pd.Series(
        [
            ev.rules.insufficient("smd", r["trials"], r["ci_low"], r["ci_high"]) is None
            for _, r in windows.iterrows()
        ],
        index=windows.index,
        dtype=bool,
    )


def peak_at_24h(ev: Evidence, claim: pd.Series) -> Finding:
    """Whether the pooled SMD is largest at 24 h among the windows from 40 min to 28 days.

    Only windows whose pooled g meets the minimum-information rule (PROTOCOL.md §13) compete;
    the others are listed. Different trials contribute to each window, so the claim is also
    marked indirect in ``config/claims.yaml``.
    """
    w = _smd_by_window(ev).set_index("window")
    informative = w[_informative(ev, w)]
    text = "; ".join(
        f"{i}: {r['estimate']:.2f} (k = {int(r['k'])}"
        f"{'' if i in informative.index else ', too thin to compete'})"
        for i, r in w.iterrows()
    )
    primary = ev.protocol.primary_window.label
    if primary not in informative.index:
        return Finding(
            NOT_TESTABLE, f"the {primary} pooled g does not meet the information rule", text
        )
    at24 = w.loc[primary]
    others = informative.drop(index=primary)
    best = informative["estimate"].idxmax()
    if best == primary:
        clearly = (others["ci_high"] < at24["estimate"]).all()
        verdict = SUPPORTED if clearly else PARTLY
        reason = f"the {primary} estimate is the largest" + (
            "" if clearly else ", but the windows' CIs overlap"
        )
    else:
        verdict = PARTLY if at24["ci_high"] >= w.loc[best, "estimate"] else NOT_SUPPORTED
        reason = f"the largest pooled g is at {best}"
    return Finding(
        verdict, reason, text, at24["estimate"], at24["ci_low"], at24["ci_high"], at24["k"]
    )


def onset_within_hours(ev: Evidence, claim: pd.Series) -> Finding:
    """Whether there is an effect already within 40 min to 4 h: a claimed direction (§14)."""
    windows = _smd_by_window(ev)
    w = require_rows(windows[windows["window"] == "40 min-4 h"], "comparison at 40 min-4 h")
    w = w.iloc[0]
    return Finding(
        direction_verdict(w["estimate"], w["ci_low"]),
        "pooled g within 40 min to 4 h of the dose: an effect when its CI lies above 0",
        f"g = {_fmt(w['estimate'], w['ci_low'], w['ci_high'])}, k = {int(w['k'])}",
        w["estimate"],
        w["ci_low"],
        w["ci_high"],
        w["k"],
        kind="smd",
        trials=w["trials"],
    )


def single_dose_duration(ev: Evidence, claim: pd.Series) -> Finding:
    """How long one dose lasts: when the single-dose pooled g stops lying above 0 (§14).

    For each window after the primary one, the pooled g of single-dose trials (every drug arm
    one session; no trial of the package mixes single doses and courses); windows that meet
    §13 only. The benefit's end lies in (t_a, t_b] days: t_a the last window whose CI
    lies above 0 before the first, t_b, whose CI does not (t_a is the primary window when the
    first already does not). Against the claimed span [L, H]: supported when (t_a, t_b] lies
    inside it, partly when they overlap, not supported when they do not. When every window's
    CI lies above 0 the end is not observed: not supported if the last window is later than
    H, else not testable.
    """
    low, high = claimed_range(claim, ev.tolerance)
    primary = ev.protocol.primary_window
    w = _smd_by_window(ev, single_dose=True)
    later = w[w["days"] > primary.nominal_h / 24]
    later = later[_informative(ev, later)]
    text = "single-dose trials: " + (
        "; ".join(
            f"{r['window']}: g = {_fmt(r['estimate'], r['ci_low'], r['ci_high'])} "
            f"({int(r['trials'])} trials)"
            for _, r in w.iterrows()
        )
        or "none"
    )
    if later.empty:
        return Finding(
            NOT_TESTABLE,
            f"no window after {primary.label} has a single-dose pooled g that meets the "
            "information rule",
            text,
        )
    above = later["ci_low"] > 0
    if above.all():
        last = later.iloc[-1]
        if last["days"] <= high:
            return Finding(
                NOT_TESTABLE, f"the benefit lasts to the last window ({last['window']})", text
            )
        return _duration_finding(NOT_SUPPORTED, f"still above 0 at {last['window']}", text, last)
    first_not = int(np.argmax(~above.to_numpy()))
    t_b = later.iloc[first_not]
    t_a = later.iloc[first_not - 1]["days"] if first_not else primary.nominal_h / 24
    if low <= t_a and t_b["days"] <= high:
        verdict = SUPPORTED
    elif t_b["days"] >= low and t_a < high:
        verdict = PARTLY
    else:
        verdict = NOT_SUPPORTED
    return _duration_finding(
        verdict,
        f"the benefit ends between day {t_a:g} and day {t_b['days']:g} "
        f"(claimed {low:g}-{high:g} days)",
        text,
        t_b,
    )


def _duration_finding(verdict: str, what: str, text: str, row: pd.Series) -> Finding:
    return Finding(
        verdict,
        f"{what}; single-dose trials only, each window pools different trials",
        text,
        row["estimate"],
        row["ci_low"],
        row["ci_high"],
        row["k"],
        trials=row["trials"],
    )


def subgroup_no_difference(ev: Evidence, claim: pd.Series, moderator: str) -> Finding:
    """No difference between subgroups (route or enantiomer): the test for differences."""
    tests = ev["subgroup_tests"]
    row = require_rows(
        tests[(tests["moderator"] == moderator) & (tests["tau2_model"] == "separate")],
        f"subgroup test by {moderator}",
    ).iloc[0]
    pooled = ev[f"pooled_smd_by_{moderator}"]
    levels = pooled[~pooled["subgroup"].isin([OVERALL_LABEL, SUBGROUP_TEST_LABEL])]
    text = "; ".join(
        f"{r['subgroup']}: g = {r['estimate']:.2f} (k = {int(r['k'])})"
        for _, r in levels.iterrows()
    )
    return Finding(
        PARTLY if row["pval"] > 0.05 else NOT_SUPPORTED,
        f"no detectable difference (Q test p = {row['pval']:.2f}), but only "
        f"{', '.join(levels['subgroup'])} have 24 h data: absence of evidence, not equivalence"
        if row["pval"] > 0.05
        else f"the subgroups differ (Q test p = {row['pval']:.3f})",
        text,
        row["statistic"],
        k=row["k"],
    )


def racemic_vs_esketamine(ev: Evidence, claim: pd.Series) -> Finding:
    """Racemic against esketamine: the head-to-head trials first, then between trials.

    The randomized within-trial contrast (``enantiomer_head_to_head``, PROTOCOL.md §12) is
    the direct evidence; the between-trial difference in pooled g is confounded and only
    corroborates. "At least as good": supported when the direct estimate is >= 0 and the
    between-trial difference agrees, partly when they disagree or only the between-trial
    difference exists, not supported when the direct CI lies below 0. "Superior" further
    needs a direct CI above 0.
    """
    table = ev["head_to_head"]
    direct = table[(table["evidence"] == "within trial") & (table["measure"] == "g")]
    between = require_rows(
        table[table["evidence"].str.startswith("between")], "between-trial enantiomer estimate"
    ).iloc[0]
    superior = "superior" in claim["quantity"]
    parts = [
        f"{r['study_id']} (within trial): g = {_fmt(r['estimate'], r['ci_low'], r['ci_high'])}"
        for _, r in direct.iterrows()
    ]
    parts.append(
        f"between trials: difference in g = "
        f"{_fmt(between['estimate'], between['ci_low'], between['ci_high'])} "
        f"(k = {between['k']:g} comparisons)"
    )
    if direct.empty:
        verdict = PARTLY if between["estimate"] >= 0 else NOT_SUPPORTED
        reason = "no head-to-head trial at 24 h; between-trial difference only (confounded)"
        return Finding(
            verdict,
            reason,
            "; ".join(parts),
            between["estimate"],
            between["ci_low"],
            between["ci_high"],
            between["k"],
        )
    d = direct.iloc[0]
    agrees = (d["estimate"] >= 0) == (between["estimate"] >= 0)
    if d["ci_high"] < 0:
        verdict = NOT_SUPPORTED
    elif superior:
        verdict = SUPPORTED if d["ci_low"] > 0 and agrees else PARTLY
    else:
        verdict = SUPPORTED if d["estimate"] >= 0 and agrees else PARTLY
    if verdict == SUPPORTED and len(direct) < ev.rules.min_trials:
        # Fewer head-to-head trials than a pooled verdict needs (PROTOCOL.md §13).
        verdict = PARTLY
    few = len(direct) < ev.rules.min_trials
    reason = (
        f"randomized head-to-head evidence from {len(direct)} trial(s) "
        f"({', '.join(direct['study_id'])})"
        + (f", fewer than the {ev.rules.min_trials} a supported verdict needs" if few else "")
        + f"; the between-trial difference {'agrees' if agrees else 'disagrees'} in direction "
        "and is confounded by population, route and control"
    )
    return Finding(
        verdict,
        reason,
        "; ".join(parts),
        d["estimate"],
        d["ci_low"],
        d["ci_high"],
        len(direct),
        d["n_racemic"] + d["n_esketamine"],
    )


def esketamine_largest_trial(ev: Evidence, claim: pd.Series) -> Finding:
    """The largest esketamine-vs-placebo comparison at day 28, against the claim's reading.

    "Barely better than placebo" is read as a range of g (``reads_as``), judged by the range
    rule (PROTOCOL.md §14).
    """
    effects = ev["effects"]
    rows = effects[
        (effects["enantiomer"] == "esketamine")
        & (effects["outcome"] == "depression_score")
        & np.isclose(effects["timepoint_h"], 672)
    ]
    top = require_rows(rows, "esketamine comparison at day 28")
    top = top.sort_values("n_total", ascending=False, kind="stable").iloc[0]
    low, high = _wald_interval(ev, top["yi"], top["vi"])
    claimed_low, claimed_high = claimed_range(claim, ev.tolerance)
    return Finding(
        range_verdict(top["yi"], low, high, claimed_low, claimed_high, ev.rules.partial_overlap),
        f"g of the largest trial against 'barely better', read as g {claimed_low:g} to "
        f"{claimed_high:g}",
        f"{top['label']}: g = {_fmt(top['yi'], low, high)}, n = {top['n_total']:g}",
        top["yi"],
        low,
        high,
        1,
        top["n_total"],
    )


def _active_arms(ev: Evidence) -> pd.DataFrame:
    arms = ev["arms"]
    return arms[arms["drug"].isin(list(ENANTIOMER))]


def dose_share(ev: Evidence, claim: pd.Series, route: str, unit: str) -> Finding:
    """Share of drug arms of a route whose dose lies in the claimed range."""
    arms = _active_arms(ev)
    arms = arms[(arms["route"] == route) & (arms["dose_unit"] == unit) & arms["dose"].notna()]
    require_rows(arms, f"{route} arm with a dose in {unit}")
    low, high = claim["value_low"], claim["value_high"]
    inside = arms["dose"].between(low, high)
    share = inside.mean()
    verdict = SUPPORTED if share >= 0.5 else PARTLY if share > 0 else NOT_SUPPORTED
    doses = ", ".join(f"{d:g}: {c}" for d, c in arms["dose"].value_counts().sort_index().items())
    return Finding(
        verdict,
        f"{inside.sum()} of {len(arms)} {route} arms dosed within the claim",
        f"doses (arms): {doses}",
        share,
        k=len(arms),
    )


def bioavailability_equivalents(ev: Evidence, claim: pd.Series) -> Finding:
    """The doses equivalent to 35 mg IV implied by the published bioavailability figures."""
    routes = ev["bioavailability_by_route"]
    racemic = routes[routes["enantiomer"] == "racemic"].set_index("route")
    claimed = {"IN": 70, "SL": 140, "PO": 175}
    parts, verdicts = [], []
    for route, dose in claimed.items():
        if route not in racemic.index:
            continue
        r = racemic.loc[route]
        low_dose, high_dose = 35 / r["high"], 35 / r["low"]
        verdicts.append(
            range_verdict(r["equivalent_dose_mg"], low_dose, high_dose, dose * 0.8, dose * 1.2)
        )
        parts.append(
            f"{route}: {r['equivalent_dose_mg']:.0f} mg ({low_dose:.0f}-{high_dose:.0f}) "
            f"vs claimed {dose}"
        )
    if not verdicts:
        raise NoEvidenceError("no racemic IN, SL or PO bioavailability in the data package")
    verdict = (
        SUPPORTED
        if set(verdicts) == {SUPPORTED}
        else NOT_SUPPORTED
        if SUPPORTED not in verdicts and PARTLY not in verdicts
        else PARTLY
    )
    return Finding(
        verdict,
        "median bioavailability over published sources per route (racemic), range over sources",
        "; ".join(parts),
        k=len(parts),
    )


def iv_bioavailability(ev: Evidence, claim: pd.Series) -> Finding:
    """IV bioavailability (the reference, 100%) against the claimed value."""
    routes = ev["bioavailability_by_route"]
    iv = require_rows(
        routes[(routes["route"] == "IV") & (routes["enantiomer"] == "racemic")],
        "racemic IV bioavailability",
    ).iloc[0]
    percent = iv["bioavailability"] * 100
    low, high = claimed_range(claim, ev.tolerance)
    return Finding(
        range_verdict(percent, percent, percent, low, high, ev.rules.partial_overlap),
        f"IV is the reference route of bioavailability; {percent:g}% against the claimed "
        f"{low:g}-{high:g}%",
        f"IV bioavailability {percent:g}% (reference)",
        percent,
    )


def relapse_median(ev: Evidence, claim: pd.Series) -> Finding:
    """Median days to relapse after a course, against the claimed range (PROTOCOL.md §15).

    Only post-course evidence counts: medians reported for responders followed after a
    course without further ketamine (cohorts and randomized arms followed after their course).
    Means among relapsers are listed but not judged (a mean over relapsers is not a median of
    the followed group); maintenance-withdrawal trials answer another question and are left out.
    Supported when every median lies in the claimed range, partly when some do, not supported
    when none does; not testable without a post-course median.
    """
    table = ev["durability"]
    post = table[table["evidence_class"] == "post_course"]
    medians = post[(post["measure"] == "median_days_to_relapse") & post["value"].notna()]
    means = post[(post["measure"] == "mean_days_to_relapse") & post["value"].notna()]
    low, high = claim["value_low"], claim["value_high"]
    listed = "; ".join(
        f"{r['id']} ({r['design']}, {r['drug'].replace('_', ' ')} {r['route']}): "
        f"median {r['value']:g} d"
        for _, r in medians.iterrows()
    )
    context = "; ".join(f"{r['id']}: mean {r['value']:g} d" for _, r in means.iterrows())
    if medians.empty:
        return Finding(NOT_TESTABLE, "no post-course median time to relapse", context)
    inside = medians["value"].between(low, high)
    verdict = SUPPORTED if inside.all() else PARTLY if inside.any() else NOT_SUPPORTED
    return Finding(
        verdict,
        f"{int(inside.sum())} of {len(medians)} post-course medians within {low:g}-{high:g} "
        "days; cohorts are small, mostly open-label, and some overlap; maintenance-withdrawal "
        "trials are not used",
        f"{listed}; means among relapsers (not judged): {context}",
        float(medians["value"].median()),
        k=len(medians),
    )


def _continued_arms(ev: Evidence) -> pd.DataFrame:
    """Relapse rows of arms randomized to continue a ketamine enantiomer (PROTOCOL.md §15)."""
    relapse = ev["relapse"]
    arms = ev["arms"][["study_id", "arm_id", "drug"]]
    rows = relapse[relapse["regimen"] == "continued"].merge(arms)
    return rows[rows["drug"].isin(list(ENANTIOMER))]


def _relapse_free_by_trial(counted: pd.DataFrame) -> pd.DataFrame:
    """Logit of each trial's relapse-free share; strata of one trial by fixed effect (§15).

    Strata of one trial (e.g. SUSTAIN-1's stable remitters and responders) are not
    independent trials: their logits are combined by a fixed-effect inverse-variance model
    (statsmodels ``combine_effects``).
    """
    # Imported here: statsmodels loads scipy.stats, about 0.45 s for every process.
    from statsmodels.stats.meta_analysis import combine_effects

    yi, vi = proportion_logit(counted["n"] - counted["events"], counted["n"])
    strata = counted[["study_id"]].assign(yi=yi, vi=vi)
    rows = []
    for study, group in strata.groupby("study_id", sort=True):
        if len(group) == 1:
            rows.append(group.iloc[0].to_dict())
            continue
        fe = combine_effects(group["yi"].to_numpy(), group["vi"].to_numpy())
        rows.append({"study_id": study, "yi": fe.mean_effect_fe, "vi": fe.sd_eff_w_fe**2})
    return pd.DataFrame(rows, columns=["study_id", "yi", "vi"])


def maintenance_share_well(ev: Evidence, claim: pd.Series) -> Finding:
    """Share relapse-free among responders randomized to continue the drug (§14, §15).

    Only arms randomized to continue a ketamine enantiomer: never an after-course, stopped
    or comparator arm (PROTOCOL.md §15 keeps post-course relapse and maintenance apart). Each
    arm's relapse-free share among those followed (``relapse_count``, or a
    ``proportion_relapsed`` with its counts); strata of one trial combined by fixed effect;
    trials pooled on the logit scale by the model of ``pooling`` (one trial: its own Wald
    interval). Arms without counts are listed, not pooled. The range rule applies to the
    pooled share, and §13 (kind proportion) to its trials.
    """
    rows = require_rows(_continued_arms(ev), "arm randomized to continue the drug")
    counted = rows[
        rows["measure"].isin(["relapse_count", "proportion_relapsed"])
        & rows["events"].notna()
        & (rows["n"] > 0)
    ].drop_duplicates(["study_id", "arm_id"])
    listed = rows[(rows["measure"] == "proportion_relapsed") & rows["value"].notna()]
    listed = listed[
        ~listed.set_index(["study_id", "arm_id"]).index.isin(
            counted.set_index(["study_id", "arm_id"]).index
        )
    ]
    parts = [
        f"{r['study_id']} {r['arm_id']}: {1 - r['events'] / r['n']:.0%} relapse-free "
        f"({int(r['events'])}/{int(r['n'])} relapsed"
        + (f", day {r['time_days']:g})" if pd.notna(r["time_days"]) else ", follow-up not fixed)")
        for _, r in counted.iterrows()
    ]
    parts += [
        f"{r['study_id']} {r['arm_id']}: {1 - r['value']:.0%} relapse-free at day "
        f"{r['time_days']:g} (no counts, not pooled)"
        for _, r in listed.iterrows()
    ]
    if counted.empty:
        return Finding(NOT_TESTABLE, "no continued arm reports its counts", "; ".join(parts))
    trials = _relapse_free_by_trial(counted)
    if len(trials) == 1:
        estimate, variance = trials["yi"].iloc[0], trials["vi"].iloc[0]
        bounds = np.array([estimate, *_wald_interval(ev, estimate, variance)])
    else:
        fit = random_effects(trials["yi"], trials["vi"], **ev.pooling.model.arguments)
        bounds = np.array([fit.estimate, fit.ci_low, fit.ci_high])
    est, lo, hi = special.expit(bounds)
    low, high = claimed_range(claim, ev.tolerance)
    return Finding(
        range_verdict(est * 100, lo * 100, hi * 100, low, high, ev.rules.partial_overlap),
        f"pooled relapse-free share on continued treatment against the claimed "
        f"{low:.0f}-{high:.0f}%; follow-up differs between trials; after-course and stopped "
        "arms are not used (PROTOCOL.md §15)",
        f"{_fmt(est, lo, hi, 0, 100, '%')} ({len(trials)} trials): " + "; ".join(parts),
        est,
        lo,
        hi,
        len(trials),
        counted["n"].sum(),
        "proportion",
        len(trials),
    )


def dissociation_share(ev: Evidence, claim: pd.Series) -> Finding:
    """Share of drug-arm participants with dissociation reported as an adverse event."""
    ae = ev["adverse_events"]
    arms = ev["arms"][["study_id", "arm_id", "drug"]]
    rows = ae[ae["event"].str.lower() == "dissociation"].merge(arms)
    rows = rows[rows["drug"].isin(list(ENANTIOMER))]
    est, lo, hi, n_arms, n, trials = _pooled_proportion(ev, rows)
    verdict = range_verdict(
        est * 100, lo * 100, hi * 100, claim["value_low"], 100, ev.rules.partial_overlap
    )
    return Finding(
        verdict,
        "adverse-event reports of dissociation; no CADSS or questionnaire share could be read, "
        "and spontaneous reports undercount",
        f"{_fmt(est, lo, hi, 0, 100, '%')} ({trials} trials, {n_arms} arms)",
        est,
        lo,
        hi,
        trials,
        n,
        "proportion",
        trials,
    )


def dissociation_vs_placebo(ev: Evidence, claim: pd.Series) -> Finding:
    """Risk ratio of dissociation as an adverse event, drug against placebo: no difference."""
    table = ev["adverse_event_rr"]
    dissociation = table[table["event"] == "dissociation"]
    row = require_rows(
        dissociation[dissociation["study_id"] == OVERALL_LABEL], "pooled risk ratio of dissociation"
    ).iloc[0]
    # k counts comparisons; §13 counts the trials behind them.
    trials = dissociation.loc[dissociation["study_id"] != OVERALL_LABEL, "study_id"].nunique()
    rr = np.exp([row["yi"], row["ci_low"], row["ci_high"]])
    return Finding(
        no_difference_verdict(row["ci_low"], row["ci_high"]),
        "pooled risk ratio of dissociation reported as an adverse event; a CI that includes 1 "
        "is absence of evidence, not equivalence",
        f"RR = {_fmt(*rr)} ({trials} trials, {int(row['k'])} comparisons)",
        *rr,
        trials,
        kind="ratio",
        trials=trials,
    )


def suicidal_ideation(ev: Evidence, claim: pd.Series) -> Finding:
    """Pooled SMD of suicidal-ideation scores within a day of one infusion: a direction."""
    effects = ev["effects"]
    rows = effects[
        (effects["outcome"] == "suicidal_ideation_score") & (effects["timepoint_h"] <= 30)
    ]
    rows = rows.sort_values("timepoint_h").drop_duplicates("study_id", keep="last")
    require_rows(rows, "suicidal-ideation comparison within 30 h")
    fit = random_effects(rows["yi"], rows["vi"], **ev.pooling.model.arguments)
    return Finding(
        direction_verdict(fit.estimate, fit.ci_low),
        "g of suicidal-ideation scores (positive: less ideation), latest visit within 24 h",
        f"g = {_fmt(fit.estimate, fit.ci_low, fit.ci_high)}, k = {fit.k} "
        f"({', '.join(rows['study_id'])})",
        fit.estimate,
        fit.ci_low,
        fit.ci_high,
        fit.k,
        kind="smd",
        trials=rows["study_id"].nunique(),
    )


def _follow_up_days(ev: Evidence) -> pd.Series:
    """Each trial's longest follow-up in days: its latest outcome visit or relapse time."""
    outcomes, relapse = ev["outcomes"], ev["relapse"]
    times = pd.concat(
        [
            outcomes[["study_id"]].assign(days=outcomes["timepoint_h"].astype(float) / 24),
            relapse[["study_id"]].assign(days=relapse["time_days"].astype(float)),
        ]
    )
    return times.dropna().groupby("study_id")["days"].max()


def no_long_term_daily_dosing(ev: Evidence, claim: pd.Series) -> Finding:
    """No long-term data on daily dosing: an absence claim (PROTOCOL.md §14).

    A drug arm is dosed daily when it had at least one session per day of its trial's
    follow-up, and that follow-up is a week or more (the package records sessions, not the
    dosing period, so the follow-up stands for it). Not supported when such an arm's trial
    was followed beyond 12 weeks; supported otherwise.
    """
    follow_up = _follow_up_days(ev)
    arms = _active_arms(ev)
    arms = arms.assign(days=arms["study_id"].map(follow_up))
    daily = arms[(arms["days"] >= 7) & (arms["sessions"] >= arms["days"])]
    long_daily = daily[daily["days"] > LONG_TERM_DAYS]
    long = follow_up[follow_up > LONG_TERM_DAYS]
    listed = "; ".join(
        f"{r['study_id']} {r['arm_id']} ({r['dose']:g} {r['dose_unit']} {r['route']}, "
        f"{r['sessions']:g} sessions, followed {r['days']:g} days)"
        for _, r in daily.iterrows()
    )
    verdict = NOT_SUPPORTED if not long_daily.empty else SUPPORTED
    return Finding(
        verdict,
        f"{len(long_daily)} daily-dosed arms were followed beyond 12 weeks"
        + ("" if long_daily.empty else f" ({', '.join(sorted(set(long_daily['study_id'])))})"),
        f"{len(long)} trials followed beyond 12 weeks ({', '.join(long.index) or 'none'}); "
        f"daily-dosed arms: {listed or 'none'}",
        float(len(long_daily)),
        k=len(long_daily),
    )


def long_term_harms_scarce(ev: Evidence, claim: pd.Series) -> Finding:
    """Little formal long-term safety evidence: a scarcity claim (PROTOCOL.md §14).

    Supported when fewer than ``min_trials`` trials report harms (adverse events, dropouts)
    beyond 12 weeks after the first dose; not supported when at least that many do. A harm
    row without its own time (``adverse_events``) counts at its trial's longest follow-up.
    """
    outcomes, ae = ev["outcomes"], ev["adverse_events"]
    harms = outcomes[outcomes["outcome"].isin(HARM_OUTCOMES)]
    follow_up = _follow_up_days(ev)
    times = pd.concat(
        [
            harms[["study_id"]].assign(days=harms["timepoint_h"].astype(float) / 24),
            ae[["study_id"]]
            .drop_duplicates()
            .pipe(lambda f: f.assign(days=f["study_id"].map(follow_up))),
        ]
    )
    longest = times.dropna().groupby("study_id")["days"].max()
    long = longest[longest > LONG_TERM_DAYS]
    verdict = SUPPORTED if len(long) < ev.rules.min_trials else NOT_SUPPORTED
    return Finding(
        verdict,
        f"{len(long)} trials report harms beyond 12 weeks, against the {ev.rules.min_trials} "
        "that a pooled verdict needs (PROTOCOL.md §13); the anecdotal part (use several times "
        "a week for years) is not a trial claim and is not judged",
        f"{len(longest)} trials report harms; longest follow-up of their harms "
        f"{longest.max():g} days"
        + (f"; beyond 12 weeks: {', '.join(long.index)}" if len(long) else "")
        if len(longest)
        else "no trial reports harms",
        float(len(long)),
        k=len(long),
    )


def maintenance_with_antidepressant(ev: Evidence, claim: pd.Series) -> Finding:
    """Maintenance trials testing an antidepressant added to ketamine: an absence claim (§14).

    Per maintenance trial (``relapse.csv``), the arms that continued a ketamine enantiomer
    and whether each had an antidepressant (``arms.co_treatment``). Not supported when a
    trial continued the drug with and without one; partly when trials gave one in every
    continued arm (the combination is studied, its added value is not); supported otherwise.
    """
    continued = _continued_arms(ev)[["study_id", "arm_id"]].drop_duplicates()
    arms = continued.merge(ev["arms"][["study_id", "arm_id", "co_treatment"]])
    with_ad = arms["co_treatment"].fillna("").str.contains(ANTIDEPRESSANT)
    by_trial = with_ad.groupby(arms["study_id"]).agg(["any", "all"])
    contrasted = by_trial[by_trial["any"] & ~by_trial["all"]].index
    combined = by_trial[by_trial["all"]].index
    verdict = SUPPORTED
    if len(contrasted):
        verdict = NOT_SUPPORTED
    elif len(combined):
        verdict = PARTLY
    found = "; ".join(
        f"{r['study_id']} {r['arm_id']}: {r['co_treatment']}" for _, r in arms[with_ad].iterrows()
    )
    return Finding(
        verdict,
        f"{len(contrasted)} maintenance trials continued the drug with and without an "
        f"antidepressant; {len(combined)} gave one in every continued arm (the combination, "
        "not its added value)",
        f"continued arms with an antidepressant: {found or 'none'}",
        k=len(contrasted),
    )


def _given(value: object) -> str:
    """A number as ``:g``, or "not in the package" for a missing one."""
    return "not in the package" if pd.isna(value) else f"{value:g}"


def _frequency_pairs(ev: Evidence) -> list[pd.DataFrame]:
    """Per trial, its drug arms of one drug, route and dose at the least and most sessions."""
    arms = _active_arms(ev).dropna(subset=["sessions", "dose"])
    same = ["study_id", "drug", "route", "dose", "dose_unit"]
    return [
        group.sort_values("sessions").iloc[[0, -1]]
        for _, group in arms.groupby(same, sort=True)
        if group["sessions"].min() < group["sessions"].max()
    ]


def _latest_scores(ev: Evidence, pair: pd.DataFrame) -> pd.DataFrame:
    """Both arms' depression scores at the latest visit and scale they both report."""
    outcomes = ev["outcomes"]
    rows = outcomes[
        (outcomes["study_id"] == pair["study_id"].iloc[0])
        & outcomes["arm_id"].isin(pair["arm_id"])
        & (outcomes["outcome"] == "depression_score")
    ]
    both = rows.groupby(["timepoint_h", "scale", "value_type"]).filter(
        lambda g: g["arm_id"].nunique() == 2
    )
    if both.empty:
        return both
    latest = both[both["timepoint_h"] == both["timepoint_h"].max()]
    first = latest.iloc[0]
    return latest[
        (latest["scale"] == first["scale"]) & (latest["value_type"] == first["value_type"])
    ]


def dosing_frequency_no_difference(ev: Evidence, claim: pd.Series) -> Finding:
    """No difference between dosing frequencies: a claimed absence of difference (§14).

    Trials that randomized one drug and dose at two frequencies (``arms.sessions``), their
    depression scores at the latest visit both arms report: g of the more frequent arm
    against the less frequent one (oriented so that a larger improvement is positive). Not
    testable where the package lacks an arm's n, mean or SD; otherwise the no-difference rule.
    """
    pairs = _frequency_pairs(ev)
    if not pairs:
        raise NoEvidenceError("no trial of one dose at two frequencies in the data package")
    computed, missing = [], []
    for pair in pairs:
        scores = _latest_scores(ev, pair).set_index("arm_id")
        less, more = pair["arm_id"].iloc[0], pair["arm_id"].iloc[-1]
        study = pair["study_id"].iloc[0]
        if len(scores) != 2:
            missing.append(f"{study}: no depression score both arms report")
            continue
        a, b = scores.loc[less], scores.loc[more]
        described = (
            f"{study} {a['scale']} {a['value_type']} at {a['timepoint_h']:g} h "
            f"({a['timepoint_h'] / 24:g} days after the first dose): "
            + ", ".join(
                f"{sessions:g} sessions {_given(r['mean'])} (SD {_given(r['sd'])}, "
                f"n {_given(r['n'])})"
                for sessions, r in ((pair["sessions"].iloc[0], a), (pair["sessions"].iloc[-1], b))
            )
        )
        if scores[["n", "mean", "sd"]].isna().any().any():
            missing.append(described)
            continue
        # Scores fall as patients improve: the less frequent arm's mean first.
        yi, vi = smd(a["mean"], a["sd"], a["n"], b["mean"], b["sd"], b["n"])
        computed.append((study, float(yi), float(vi), described))
    if not computed:
        return Finding(
            NOT_TESTABLE,
            "the package lacks these arms' n (or mean or SD), so no difference or CI can be "
            "computed",
            "; ".join(missing),
        )
    if len(computed) == 1:
        study, yi, vi, described = computed[0]
        low, high = _wald_interval(ev, yi, vi)
        kind, estimate = "", yi
    else:
        fit = random_effects(
            [c[1] for c in computed], [c[2] for c in computed], **ev.pooling.model.arguments
        )
        estimate, low, high, kind = fit.estimate, fit.ci_low, fit.ci_high, "smd"
    return Finding(
        no_difference_verdict(low, high),
        "g of the more frequent against the less frequent schedule; a CI that includes 0 is "
        "absence of evidence, not equivalence",
        f"g = {_fmt(estimate, low, high)}; " + "; ".join(c[3] for c in computed),
        estimate,
        low,
        high,
        len(computed),
        kind=kind,
        trials=len(computed),
    )


def _dissociative_rows(ev: Evidence) -> pd.DataFrame:
    """Adverse-event rows of a dissociative experience, with each arm's drug and enantiomer."""
    ae = ev["adverse_events"]
    rows = ae[ae["event"].str.lower().isin(DISSOCIATIVE_EVENTS)]
    rows = rows.merge(ev["arms"][["study_id", "arm_id", "drug"]])
    return rows.assign(enantiomer=rows["drug"].map(ENANTIOMER))


def enantiomer_dissociation(ev: Evidence, claim: pd.Series) -> Finding:
    """Esketamine dissociates less than racemic ketamine: a claimed direction (§14).

    Only trials that randomized both enantiomers and report a dissociative adverse event for
    both: the log risk ratio, racemic over esketamine (positive: less on esketamine), a
    trial's arms of one enantiomer summed. Across trials the terms, controls and populations
    differ, so single-enantiomer trials are listed, not compared.
    """
    rows = _dissociative_rows(ev)
    drug = rows[rows["enantiomer"].notna()]
    both = drug.groupby("study_id")["enantiomer"].agg(lambda s: {"racemic", "esketamine"} <= set(s))
    head_to_head = drug[drug["study_id"].isin(both[both].index)]
    if head_to_head.empty:
        read = "; ".join(
            f"{enantiomer}: {', '.join(sorted(set(g['study_id'])))} "
            f"({', '.join(sorted(set(g['event'].str.lower())))})"
            for enantiomer, g in drug.groupby("enantiomer", sort=True)
        )
        return Finding(
            NOT_TESTABLE,
            "no trial reports a dissociative adverse event for both enantiomers; across trials "
            "the terms, controls and populations differ",
            f"dissociative adverse events read for {read or 'no drug arm'}",
        )
    counts = []
    for study, trial in head_to_head.groupby("study_id", sort=True):
        term = next(t for t in DISSOCIATIVE_EVENTS if (trial["event"].str.lower() == t).any())
        trial = trial[trial["event"].str.lower() == term]
        summed = _per_trial_counts(trial.assign(study_id=trial["enantiomer"])).set_index("study_id")
        counts.append((study, term, summed.loc["racemic"], summed.loc["esketamine"]))
    yi, vi = log_risk_ratio(
        [c[2]["events"] for c in counts],
        [c[2]["n"] for c in counts],
        [c[3]["events"] for c in counts],
        [c[3]["n"] for c in counts],
    )
    if len(counts) == 1:
        estimate, (low, high), kind = float(yi[0]), _wald_interval(ev, yi[0], vi[0]), ""
    else:
        fit = random_effects(yi, vi, **ev.pooling.model.arguments)
        estimate, low, high, kind = fit.estimate, fit.ci_low, fit.ci_high, "ratio"
    rr = np.exp([estimate, low, high])
    return Finding(
        direction_verdict(estimate, low),
        "risk ratio of a dissociative adverse event, racemic over esketamine, within trials "
        "that randomized both",
        f"RR = {_fmt(*rr)}; "
        + "; ".join(
            f"{s} {t}: racemic {r['events']:g}/{r['n']:g}, esketamine {e['events']:g}/{e['n']:g}"
            for s, t, r, e in counts
        ),
        *rr,
        len(counts),
        kind=kind,
        trials=len(counts),
    )


@dataclass(frozen=True)
class ClaimTest:
    """A test of the audit and the verdicts its rule can give (PROTOCOL.md §14).

    ``verdicts`` include "not testable" where the minimum-information rule (§13) or missing
    rows can make the claim untestable.
    """

    function: Callable[[Evidence, pd.Series], Finding]
    verdicts: frozenset[str]

    def __call__(self, ev: Evidence, claim: pd.Series) -> Finding:
        """The test's finding before the rules of §13-§14 (:func:`run_test` applies them)."""
        return self.function(ev, claim)


#: Verdicts of a claimed value, range or direction (range and direction rules, §13).
ALL = frozenset(VERDICTS)
#: A claimed absence of difference is never supported (§14).
NO_DIFFERENCE = frozenset({PARTLY, NOT_SUPPORTED, NOT_TESTABLE})
#: A claimed absence ("none") or scarcity: the package holds such trials or not (§14).
ABSENCE = frozenset({SUPPORTED, NOT_SUPPORTED})

TESTS: dict[str, ClaimTest] = {
    "response_24h_drug_vs_placebo": ClaimTest(response_24h_drug_vs_placebo, ALL),
    "response_share": ClaimTest(response_share, ALL),
    "nonresponse_share": ClaimTest(nonresponse_share, ALL),
    "smd_overall_range": ClaimTest(smd_overall_range, ALL),
    "smd_ratio_to_benchmark": ClaimTest(smd_ratio_to_benchmark, ALL),
    "peak_at_24h": ClaimTest(peak_at_24h, ALL),
    "onset_within_hours": ClaimTest(onset_within_hours, ALL),
    "single_dose_duration": ClaimTest(single_dose_duration, ALL),
    "routes_no_difference": ClaimTest(
        lambda ev, c: subgroup_no_difference(ev, c, "route"), NO_DIFFERENCE
    ),
    "racemic_vs_esketamine": ClaimTest(racemic_vs_esketamine, ALL),
    "esketamine_largest_trial": ClaimTest(esketamine_largest_trial, ALL),
    "iv_dose_share": ClaimTest(lambda ev, c: dose_share(ev, c, "IV", "mg_per_kg"), ALL),
    "in_dose_share": ClaimTest(lambda ev, c: dose_share(ev, c, "IN", "mg"), ALL),
    "bioavailability_equivalents": ClaimTest(bioavailability_equivalents, ALL),
    "iv_bioavailability": ClaimTest(
        iv_bioavailability, frozenset({SUPPORTED, NOT_SUPPORTED, NOT_TESTABLE})
    ),
    "relapse_median": ClaimTest(relapse_median, ALL),
    "maintenance_share_well": ClaimTest(maintenance_share_well, ALL),
    "dissociation_share": ClaimTest(dissociation_share, ALL),
    "dissociation_vs_placebo": ClaimTest(dissociation_vs_placebo, NO_DIFFERENCE),
    "suicidal_ideation": ClaimTest(suicidal_ideation, ALL),
    "no_long_term_daily_dosing": ClaimTest(no_long_term_daily_dosing, ABSENCE),
    "long_term_harms_scarce": ClaimTest(long_term_harms_scarce, ABSENCE),
    "maintenance_with_antidepressant": ClaimTest(
        maintenance_with_antidepressant, ABSENCE | {PARTLY}
    ),
    "dosing_frequency_no_difference": ClaimTest(dosing_frequency_no_difference, NO_DIFFERENCE),
    "enantiomer_dissociation": ClaimTest(enantiomer_dissociation, ALL),
}


def _apply_rules(finding: Finding, indirect: str | None, rules: VerdictRules) -> Finding:
    """The minimum-information rule (§13) and the cap for indirect evidence (§14)."""
    if finding.kind and finding.verdict != NOT_TESTABLE:
        thin = rules.insufficient(finding.kind, finding.trials, finding.ci_low, finding.ci_high)
        if thin:
            return replace(
                finding, verdict=NOT_TESTABLE, reason=f"insufficient information: {thin}"
            )
    if indirect and finding.verdict == SUPPORTED:
        return replace(finding, verdict=PARTLY, reason=f"{finding.reason}; indirect: {indirect}")
    if indirect:
        return replace(finding, reason=f"{finding.reason}; indirect: {indirect}")
    return finding


AUDIT_COLUMNS = [
    "claim_id",
    "document",
    "section",
    "topic",
    "claim",
    "quantity",
    "test",
    "computed",
    "estimate",
    "ci_low",
    "ci_high",
    "k",
    "trials",
    "n",
    "verdict",
    "why",
]


def run_test(test: ClaimTest, ev: Evidence, claim: pd.Series, indirect: str | None) -> Finding:
    """A claim's finding after §13-§14, or not testable when the package lacks its rows."""
    try:
        return _apply_rules(test(ev, claim), indirect, ev.rules)
    except NoEvidenceError as missing:
        return Finding(NOT_TESTABLE, str(missing), "")


def _named_study_finding(test: ClaimTest, ev: Evidence, claim: pd.Series, spec: Mapping) -> Finding:
    """A claim about a named study, judged on that study alone (PROTOCOL.md §13).

    Raises
    ------
    ValueError
        If a study id is not in the package, or the test reads a table of pooled results.
    """
    named = spec["named_study"]
    ids = list(named["study_ids"])
    unknown = sorted(set(ids) - set(ev["studies"]["study_id"]))
    if unknown:
        raise ValueError(
            f"{claim['claim_id']}: named_study.study_ids {', '.join(unknown)} not in studies.csv"
        )
    if ids:
        try:
            return run_test(test, ev.only(ids), claim, spec.get("indirect"))
        except KeyError as table:
            raise ValueError(
                f"{claim['claim_id']}: test {spec['test']} reads {table}, a table of pooled "
                "results, so it cannot judge a named study"
            ) from None
    context = run_test(test, ev, claim, None)
    return Finding(
        NOT_TESTABLE,
        f"the claim is about {named['label']}, which is not in the data package "
        "(PROTOCOL.md §13: a claim about a named study is judged on that study)",
        f"not judged, the package's other trials: {context.computed}" if context.computed else "",
    )


def read_as(claim: pd.Series, spec: Mapping) -> pd.Series:
    """The claim with the range its entry reads a worded claim as (``reads_as``, §14).

    Raises
    ------
    ValueError
        If the claim states a value of its own.
    """
    reading = spec.get("reads_as")
    if reading is None:
        return claim
    if pd.notna(claim["value_low"]) or pd.notna(claim["value_high"]):
        raise ValueError(
            f"{claim['claim_id']}: reads_as is for a claim stated in words, but claims.csv "
            f"gives {claim['value_low']:g}-{claim['value_high']:g}"
        )
    return pd.concat(
        [
            claim.drop(["value_low", "value_high"]),
            pd.Series({"value_low": float(reading[0]), "value_high": float(reading[1])}),
        ]
    )


def claim_finding(claim: pd.Series, spec: Mapping, ev: Evidence) -> Finding:
    """The finding of one claim under its entry of ``config/claims.yaml``.

    Raises
    ------
    ValueError
        If the entry gives neither a test nor a not-testable reason, or names an unknown test.
    """
    test = spec.get("test")
    if test is None:
        if not spec.get("not_testable"):
            raise ValueError(f"{claim['claim_id']}: give a test or a not_testable reason")
        return Finding(NOT_TESTABLE, spec["not_testable"], spec.get("computed", ""))
    if test not in TESTS:
        raise ValueError(f"{claim['claim_id']}: unknown test {test!r}")
    claim = read_as(claim, spec)
    if "named_study" in spec:
        return _named_study_finding(TESTS[test], ev, claim, spec)
    return run_test(TESTS[test], ev, claim, spec.get("indirect"))


def audit_claims(
    claims: pd.DataFrame, mapping: Mapping[str, Mapping], ev: Evidence
) -> pd.DataFrame:
    """Run each claim's test (or record why it is not testable); one row per claim.

    Raises
    ------
    ValueError
        If a claim has no entry in ``mapping`` or its entry is refused by
        :func:`claim_finding`.
    """
    missing = sorted(set(claims["claim_id"]) - set(mapping))
    if missing:
        raise ValueError(f"claims without an entry in config/claims.yaml: {', '.join(missing)}")
    rows = []
    for _, claim in claims.iterrows():
        spec = mapping[claim["claim_id"]]
        finding = claim_finding(claim, spec, ev)
        rows.append(
            {
                **{
                    c: claim[c]
                    for c in ("claim_id", "document", "section", "topic", "claim", "quantity")
                },
                "test": spec.get("test", ""),
                "computed": finding.computed,
                "estimate": finding.estimate,
                "ci_low": finding.ci_low,
                "ci_high": finding.ci_high,
                "k": finding.k,
                "trials": finding.trials,
                "n": finding.n,
                "verdict": finding.verdict,
                "why": finding.reason,
            }
        )
    return pd.DataFrame(rows, columns=AUDIT_COLUMNS)


__all__ = [
    "TESTS",
    "VERDICTS",
    "ClaimTest",
    "Evidence",
    "Finding",
    "audit_claims",
    "claim_finding",
    "direction_verdict",
    "no_difference_verdict",
    "range_verdict",
    "read_as",
    "run_test",
]
