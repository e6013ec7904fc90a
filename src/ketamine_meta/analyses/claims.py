"""The claims audit: each quantitative claim of the source documents beside what the data show.

``config/claims.yaml`` assigns every claim of ``data/raw/claims.csv`` a *test* (a function
of :data:`TESTS`) or a reason why it is not testable with these data. A test returns a
:class:`Finding`: the number the pipeline computed (estimate, CI, k, n), a verdict and why.

Verdicts (PROTOCOL.md §13, §14)
-------------------------------
``supported``, ``partly supported``, ``not supported``, ``not testable with these data``.
A claimed value ``v`` stated as approximate is read as the range ``v (1 +- tolerance)``; a
claimed range is taken as stated. :func:`range_verdict` compares it with the estimate and CI:
supported when the estimate lies in the range; partly when it does not but at least
``partial_overlap`` of the CI's width lies inside the range (a CI that merely touches the
range does not qualify); else not supported. A pooled estimate from fewer than
``min_trials`` trials, or with a CI wider than ``max_ci_width`` for its kind, gives "not
testable" (:meth:`VerdictRules.insufficient`). A claim marked ``indirect`` in
``config/claims.yaml`` (the evidence answers a different population, timepoint or design)
is at most partly supported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from ketamine_meta.analyses.comparisons import ENANTIOMER, ComparisonRules
from ketamine_meta.analyses.pooled import arm_responses, pool_proportions
from ketamine_meta.analyses.protocol import Protocol, Window, model_options, select_comparisons
from ketamine_meta.stats.meta_analysis import OVERALL_LABEL, SUBGROUP_TEST_LABEL, random_effects

SUPPORTED, PARTLY, NOT_SUPPORTED, NOT_TESTABLE = (
    "supported",
    "partly supported",
    "not supported",
    "not testable with these data",
)
VERDICTS = (SUPPORTED, PARTLY, NOT_SUPPORTED, NOT_TESTABLE)


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
    #: Trials behind a pooled estimate (k may count arms or comparisons).
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
    pooling: Mapping
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

    def model(self) -> dict:
        """Keyword arguments of the configured random-effects model."""
        return model_options(self.pooling)


class NoEvidenceError(LookupError):
    """The package holds no row a claim's test needs; the claim is not testable."""


def require_rows(rows: pd.DataFrame, what: str) -> pd.DataFrame:
    """``rows``, or :class:`NoEvidenceError` naming ``what`` is missing when there are none."""
    if rows.empty:
        raise NoEvidenceError(f"no {what} in the data package")
    return rows


def claimed_range(claim: pd.Series, tolerance: float) -> tuple[float, float]:
    """The range a claim asserts: its stated range, or ``v (1 +- tolerance)`` for a point."""
    low, high = claim["value_low"], claim["value_high"]
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


def _fmt(estimate, low, high, digits=2, scale=1.0, unit="") -> str:
    return (
        f"{estimate * scale:.{digits}f}{unit} [{low * scale:.{digits}f}, {high * scale:.{digits}f}]"
    )


def _pooled_proportion(
    ev: Evidence, outcomes: pd.DataFrame
) -> tuple[float, float, float, int, int, int]:
    """Pooled share: estimate, CI, k arms, participants and trials."""
    fit, (est, low, high, _, _) = pool_proportions(
        outcomes["events"].astype(float), outcomes["n"].astype(float), ev.pooling, "PLO"
    )
    trials = outcomes["study_id"].nunique()
    return float(est), float(low), float(high), fit.k, int(outcomes["n"].sum()), trials


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


def response_24h_drug_vs_placebo(ev: Evidence, claim: pd.Series) -> Finding:
    """About half of drug arms respond at 24 h, under a tenth of placebo arms."""
    window = ev.protocol.primary_window
    drug = _pooled_proportion(ev, _arm_responses(ev, window, True))
    pbo = _pooled_proportion(ev, _arm_responses(ev, window, False))
    low, high = claimed_range(claim, ev.tolerance)
    rules = ev.rules
    drug_ok = rules.insufficient("proportion", drug[5], drug[1], drug[2]) and NOT_TESTABLE
    drug_ok = drug_ok or range_verdict(
        drug[0] * 100, drug[1] * 100, drug[2] * 100, low, high, rules.partial_overlap
    )
    pbo_ok = rules.insufficient("proportion", pbo[5], pbo[1], pbo[2]) and NOT_TESTABLE
    pbo_ok = pbo_ok or range_verdict(pbo[0], pbo[1], pbo[2], 0.0, 0.10, rules.partial_overlap)
    verdict = _two_part_verdict(drug_ok, pbo_ok)
    computed = (
        f"drug arms {_fmt(*drug[:3], 0, 100, '%')} (k = {drug[3]}); "
        f"placebo arms {_fmt(*pbo[:3], 0, 100, '%')} (k = {pbo[3]})"
    )
    reason = (
        f"drug-arm share against the claimed {low:.0f}-{high:.0f}%: {drug_ok} "
        f"({drug[5]} trials); inert-placebo share below 10%: {pbo_ok} ({pbo[5]} trials)"
    )
    return Finding(verdict, reason, computed, drug[0], drug[1], drug[2], drug[3], drug[4])


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
    est, lo, hi, k, n, trials = _pooled_proportion(ev, _arm_responses(ev, WINDOW_24_TO_72H, True))
    return _share_finding(ev, claim, 1 - est, 1 - hi, 1 - lo, k, n, trials)


def _share_finding(ev: Evidence, claim: pd.Series, est, lo, hi, k, n, trials) -> Finding:
    low, high = claimed_range(claim, ev.tolerance)
    verdict = range_verdict(est * 100, lo * 100, hi * 100, low, high, ev.rules.partial_overlap)
    return Finding(
        verdict,
        f"pooled share at 24-72 h against the claimed {low:.0f}-{high:.0f}%",
        f"{_fmt(est, lo, hi, 0, 100, '%')} (k = {k} arms, {trials} trials)",
        est,
        lo,
        hi,
        k,
        n,
        "proportion",
        trials,
    )


def _overall(ev: Evidence, table: str = "pooled_smd_by_route") -> pd.Series:
    return ev[table].set_index("subgroup").loc[OVERALL_LABEL]


def smd_overall_range(ev: Evidence, claim: pd.Series) -> Finding:
    """The pooled SMD at 24 h against the claimed range."""
    o = _overall(ev)
    verdict = range_verdict(
        o["estimate"],
        o["ci_low"],
        o["ci_high"],
        claim["value_low"],
        claim["value_high"],
        ev.rules.partial_overlap,
    )
    return Finding(
        verdict,
        f"pooled g at 24 h against the claimed {claim['value_low']:g}-{claim['value_high']:g}; "
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


def smd_ratio_to_benchmark(ev: Evidence, claim: pd.Series) -> Finding:
    """Ketamine's pooled SMD divided by the antidepressant benchmark (Munkholm 2019)."""
    o = _overall(ev)
    bench = ev["published_estimates"]
    bench = bench[(bench["review_id"] == "munkholm2019_cipriani2018") & (bench["measure"] == "SMD")]
    b = require_rows(bench[bench["subgroup"] == "overall"], "pooled benchmark").iloc[0]
    ratio = np.array([o["estimate"], o["ci_low"], o["ci_high"]]) / b["estimate"]
    verdict = ev.rules.insufficient("smd", _trials(ev), o["ci_low"], o["ci_high"]) and NOT_TESTABLE
    verdict = verdict or range_verdict(
        *ratio, claim["value_low"], claim["value_high"], ev.rules.partial_overlap
    )
    return Finding(
        verdict,
        f"ratio of pooled g ({o['estimate']:.2f}) to the antidepressant SMD {b['estimate']:g} "
        f"(Munkholm 2019 reanalysis of Cipriani 2018); the benchmark's own CI is ignored",
        f"ratio {_fmt(*ratio, 1)}",
        *ratio,
        o["k"],
        o["n"],
    )


def _smd_by_window(ev: Evidence) -> pd.DataFrame:
    """Pooled g in each protocol window, from the primary analysis set (PROTOCOL.md §6)."""
    if "smd_windows" not in ev.cache:
        rows = []
        for window in ev.protocol.windows:
            try:
                sel = select_comparisons(
                    ev["effects"], "depression_score", "SMD", window, ev.protocol.analysis_set
                )
            except ValueError:
                continue
            fit = random_effects(sel["yi"], sel["vi"], **ev.model())
            rows.append(
                {
                    "window": window.label,
                    "estimate": fit.estimate,
                    "ci_low": fit.ci_low,
                    "ci_high": fit.ci_high,
                    "k": fit.k,
                    "trials": sel["study_id"].nunique(),
                }
            )
        ev.cache["smd_windows"] = pd.DataFrame(rows)
    return ev.cache["smd_windows"]


def peak_at_24h(ev: Evidence, claim: pd.Series) -> Finding:
    """Whether the pooled SMD is largest at 24 h among the windows from 40 min to 28 days.

    Only windows whose pooled g meets the minimum-information rule (PROTOCOL.md §13) compete;
    the others are listed. Different trials contribute to each window, so the claim is also
    marked indirect in ``config/claims.yaml``.
    """
    w = _smd_by_window(ev).set_index("window")
    informative = w[
        [
            ev.rules.insufficient("smd", r["trials"], r["ci_low"], r["ci_high"]) is None
            for _, r in w.iterrows()
        ]
    ]
    text = "; ".join(
        f"{i}: {r['estimate']:.2f} (k = {int(r['k'])}"
        f"{'' if i in informative.index else ', too thin to compete'})"
        for i, r in w.iterrows()
    )
    if "24 h" not in informative.index:
        return Finding(NOT_TESTABLE, "the 24 h pooled g does not meet the information rule", text)
    at24 = w.loc["24 h"]
    others = informative.drop(index="24 h")
    best = informative["estimate"].idxmax()
    if best == "24 h":
        clearly = (others["ci_high"] < at24["estimate"]).all()
        verdict = SUPPORTED if clearly else PARTLY
        reason = "the 24 h estimate is the largest" + (
            "" if clearly else ", but the windows' CIs overlap"
        )
    else:
        verdict = PARTLY if at24["ci_high"] >= w.loc[best, "estimate"] else NOT_SUPPORTED
        reason = f"the largest pooled g is at {best}"
    return Finding(
        verdict, reason, text, at24["estimate"], at24["ci_low"], at24["ci_high"], at24["k"]
    )


def onset_within_hours(ev: Evidence, claim: pd.Series) -> Finding:
    """Whether there is an effect already within 40 min to 4 h."""
    windows = _smd_by_window(ev)
    w = require_rows(windows[windows["window"] == "40 min-4 h"], "comparison at 40 min-4 h")
    w = w.iloc[0]
    verdict = SUPPORTED if w["ci_low"] > 0 else PARTLY
    return Finding(
        verdict,
        "pooled g within 40 min to 4 h of the dose",
        f"g = {_fmt(w['estimate'], w['ci_low'], w['ci_high'])}, k = {int(w['k'])}",
        w["estimate"],
        w["ci_low"],
        w["ci_high"],
        w["k"],
        kind="smd",
        trials=w["trials"],
    )


def durability_two_weeks(ev: Evidence, claim: pd.Series) -> Finding:
    """Benefit for days to about two weeks: the pooled g at 7 and 14 days."""
    w = _smd_by_window(ev).set_index("window")
    text = "; ".join(
        f"{i}: {_fmt(r['estimate'], r['ci_low'], r['ci_high'])} (k = {int(r['k'])})"
        for i, r in w.loc[[x for x in ("7 d", "14 d", "28 d") if x in w.index]].iterrows()
    )
    late = w.loc["14 d"] if "14 d" in w.index else None
    if late is None:
        return Finding(NOT_TESTABLE, "no comparison at 14 days", text)
    verdict = PARTLY
    reason = (
        "single-dose and course trials are mixed across windows; at 14 days k = "
        f"{int(late['k'])}, so the fade cannot be timed"
    )
    return Finding(
        verdict,
        reason,
        text,
        late["estimate"],
        late["ci_low"],
        late["ci_high"],
        late["k"],
        kind="smd",
        trials=late["trials"],
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
        f"{', '.join(levels['subgroup'])} have 24 h data: absence of evidence, not equivalence",
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
    """The largest esketamine-vs-placebo comparison at its day-28 endpoint."""
    effects = ev["effects"]
    rows = effects[
        (effects["enantiomer"] == "esketamine")
        & (effects["outcome"] == "depression_score")
        & np.isclose(effects["timepoint_h"], 672)
    ]
    rows = require_rows(rows, "esketamine comparison at day 28")
    top = rows.sort_values("n_total", ascending=False).iloc[0]
    half = 1.959964 * np.sqrt(top["vi"])
    low, high = top["yi"] - half, top["yi"] + half
    verdict = SUPPORTED if top["yi"] < 0.4 and low < 0.1 else PARTLY
    return Finding(
        verdict,
        "a small effect whose interval reaches near zero is read as 'barely better'",
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
    """IV bioavailability is 100% by definition."""
    return Finding(
        SUPPORTED,
        "the IV route is the reference (100%); 99% is within rounding",
        "IV bioavailability 100% (reference)",
        100.0,
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


def maintenance_share_well(ev: Evidence, claim: pd.Series) -> Finding:
    """Share relapse-free among responders who kept receiving the drug."""
    relapse = ev["relapse"]
    arms = ev["arms"].set_index(["study_id", "arm_id"])
    parts, shares = [], []
    for _, r in relapse.iterrows():
        drug = arms.loc[(r["study_id"], r["arm_id"]), "drug"]
        if drug not in ENANTIOMER:
            continue
        if r["measure"] == "relapse_count" and r["n"] > 0:
            share = 1 - r["events"] / r["n"]
            parts.append(
                f"{r['study_id']} {r['arm_id']}: {share:.0%} relapse-free "
                f"({int(r['events'])}/{int(r['n'])} relapsed, follow-up not fixed)"
            )
        elif r["measure"] == "proportion_relapsed" and not pd.isna(r["value"]):
            share = 1 - r["value"]
            parts.append(
                f"{r['study_id']} {r['arm_id']}: {share:.0%} relapse-free at day {r['time_days']:g}"
            )
        else:
            continue
        shares.append(share * 100)
    low, high = claimed_range(claim, ev.tolerance)
    inside = [low <= s <= high for s in shares]
    verdict = SUPPORTED if all(inside) else PARTLY if any(inside) else NOT_SUPPORTED
    return Finding(
        verdict,
        f"shares against the claimed {low:.0f}-{high:.0f}%",
        "; ".join(parts),
        float(np.median(shares)),
        k=len(shares),
    )


def dissociation_share(ev: Evidence, claim: pd.Series) -> Finding:
    """Share of drug-arm participants with dissociation reported as an adverse event."""
    ae = ev["adverse_events"]
    arms = ev["arms"][["study_id", "arm_id", "drug"]]
    rows = ae[ae["event"].str.lower() == "dissociation"].merge(arms)
    rows = rows[rows["drug"].isin(list(ENANTIOMER))]
    est, lo, hi, k, n, trials = _pooled_proportion(ev, rows)
    verdict = range_verdict(
        est * 100, lo * 100, hi * 100, claim["value_low"], 100, ev.rules.partial_overlap
    )
    return Finding(
        verdict,
        "adverse-event reports of dissociation (esketamine trials); no CADSS "
        "or questionnaire share could be read, and spontaneous reports undercount",
        f"{_fmt(est, lo, hi, 0, 100, '%')} (k = {k} arms)",
        est,
        lo,
        hi,
        k,
        n,
        "proportion",
        trials,
    )


def dissociation_vs_placebo(ev: Evidence, claim: pd.Series) -> Finding:
    """Risk ratio of dissociation as an adverse event, drug against placebo."""
    table = ev["adverse_event_rr"]
    row = require_rows(
        table[(table["event"] == "dissociation") & (table["study_id"] == OVERALL_LABEL)],
        "pooled risk ratio of dissociation",
    ).iloc[0]
    rr = np.exp([row["yi"], row["ci_low"], row["ci_high"]])
    verdict = NOT_SUPPORTED if rr[1] > 1 else PARTLY
    return Finding(
        verdict,
        "pooled risk ratio of dissociation reported as an adverse event",
        f"RR = {_fmt(*rr)} (k = {int(row['k'])})",
        *rr,
        row["k"],
        kind="ratio",
        trials=row["k"],
    )


def suicidal_ideation(ev: Evidence, claim: pd.Series) -> Finding:
    """Pooled SMD of suicidal-ideation scores within a day of one infusion."""
    effects = ev["effects"]
    rows = effects[
        (effects["outcome"] == "suicidal_ideation_score") & (effects["timepoint_h"] <= 30)
    ]
    rows = rows.sort_values("timepoint_h").drop_duplicates("study_id", keep="last")
    require_rows(rows, "suicidal-ideation comparison within 30 h")
    fit = random_effects(rows["yi"], rows["vi"], **ev.model())
    verdict = SUPPORTED if fit.ci_low > 0 else PARTLY if fit.estimate > 0 else NOT_SUPPORTED
    return Finding(
        verdict,
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


def long_term_data(ev: Evidence, claim: pd.Series) -> Finding:
    """Trials with follow-up beyond 12 weeks, and whether any tests daily low-dose use."""
    outcomes, relapse = ev["outcomes"], ev["relapse"]
    long = set(outcomes.loc[outcomes["timepoint_h"] > 12 * 168, "study_id"])
    long |= set(relapse.loc[relapse["time_days"] > 84, "study_id"])
    long |= set(relapse.loc[relapse["measure"].isin(["hazard_ratio", "relapse_count"]), "study_id"])
    return Finding(
        SUPPORTED,
        "none of these trials gives ketamine daily at low dose; the long "
        "follow-ups are of intermittent esketamine, IV courses or oral R-107",
        f"{len(long)} trials with follow-up beyond 12 weeks: {', '.join(sorted(long))}",
        float(len(long)),
        k=len(long),
    )


def maintenance_with_antidepressant(ev: Evidence, claim: pd.Series) -> Finding:
    """Randomized maintenance of ketamine or esketamine together with an oral antidepressant."""
    traits = ev["trial_traits"]
    relapse_trials = set(ev["relapse"]["study_id"])
    with_ad = traits[
        (traits["trait"] == "concomitant_antidepressant") & traits["study_id"].isin(relapse_trials)
    ]
    found = ", ".join(f"{r['study_id']} ({r['value']})" for _, r in with_ad.iterrows())
    return Finding(
        PARTLY if found else SUPPORTED,
        "maintenance trials with an oral antidepressant exist for esketamine; none for racemic "
        "ketamine",
        found or "none",
        k=len(with_ad),
    )


TESTS: dict[str, Callable[..., Finding]] = {
    "response_24h_drug_vs_placebo": response_24h_drug_vs_placebo,
    "response_share": response_share,
    "nonresponse_share": nonresponse_share,
    "smd_overall_range": smd_overall_range,
    "smd_ratio_to_benchmark": smd_ratio_to_benchmark,
    "peak_at_24h": peak_at_24h,
    "onset_within_hours": onset_within_hours,
    "durability_two_weeks": durability_two_weeks,
    "routes_no_difference": lambda ev, c: subgroup_no_difference(ev, c, "route"),
    "racemic_vs_esketamine": racemic_vs_esketamine,
    "esketamine_largest_trial": esketamine_largest_trial,
    "iv_dose_share": lambda ev, c: dose_share(ev, c, "IV", "mg_per_kg"),
    "in_dose_share": lambda ev, c: dose_share(ev, c, "IN", "mg"),
    "bioavailability_equivalents": bioavailability_equivalents,
    "iv_bioavailability": iv_bioavailability,
    "relapse_median": relapse_median,
    "maintenance_share_well": maintenance_share_well,
    "dissociation_share": dissociation_share,
    "dissociation_vs_placebo": dissociation_vs_placebo,
    "suicidal_ideation": suicidal_ideation,
    "long_term_data": long_term_data,
    "maintenance_with_antidepressant": maintenance_with_antidepressant,
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
    "n",
    "verdict",
    "why",
]


def _run_test(test, ev: Evidence, claim: pd.Series, indirect: str | None) -> Finding:
    """A claim's finding, or not testable when the package lacks the rows it needs."""
    try:
        return _apply_rules(test(ev, claim), indirect, ev.rules)
    except NoEvidenceError as missing:
        return Finding(NOT_TESTABLE, str(missing), "")


def audit_claims(
    claims: pd.DataFrame, mapping: Mapping[str, Mapping], ev: Evidence
) -> pd.DataFrame:
    """Run each claim's test (or record why it is not testable); one row per claim.

    Raises
    ------
    ValueError
        If a claim has no entry in ``mapping``, an entry names an unknown test, or a
        not-testable entry gives no reason.
    """
    missing = sorted(set(claims["claim_id"]) - set(mapping))
    if missing:
        raise ValueError(f"claims without an entry in config/claims.yaml: {', '.join(missing)}")
    rows = []
    for _, claim in claims.iterrows():
        spec = mapping[claim["claim_id"]]
        test = spec.get("test")
        if test is None:
            if not spec.get("not_testable"):
                raise ValueError(f"{claim['claim_id']}: give a test or a not_testable reason")
            finding = Finding(NOT_TESTABLE, spec["not_testable"], spec.get("computed", ""))
        elif test not in TESTS:
            raise ValueError(f"{claim['claim_id']}: unknown test {test!r}")
        else:
            finding = _run_test(TESTS[test], ev, claim, spec.get("indirect"))
        rows.append(
            {
                **{
                    c: claim[c]
                    for c in ("claim_id", "document", "section", "topic", "claim", "quantity")
                },
                "test": test or "",
                "computed": finding.computed,
                "estimate": finding.estimate,
                "ci_low": finding.ci_low,
                "ci_high": finding.ci_high,
                "k": finding.k,
                "n": finding.n,
                "verdict": finding.verdict,
                "why": finding.reason,
            }
        )
    return pd.DataFrame(rows, columns=AUDIT_COLUMNS)


__all__ = ["VERDICTS", "Evidence", "Finding", "audit_claims", "range_verdict"]
