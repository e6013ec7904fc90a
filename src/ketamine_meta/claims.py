"""The claims audit: each quantitative claim of the source documents beside what the data show.

``config/claims.yaml`` assigns every claim of ``data/raw/claims.csv`` a *test* (a function
of :data:`TESTS`) or a reason why it is not testable with these data. A test returns a
:class:`Finding`: the number the pipeline computed (estimate, CI, k, n), a verdict and why.

Verdicts
--------
``supported``, ``partly supported``, ``not supported``, ``not testable with these data``.
A claimed value ``v`` stated as approximate is read as the range ``v (1 +- tolerance)``; a
claimed range is taken as stated. :func:`range_verdict` compares it with the estimate and CI:
supported when the estimate lies in the range, partly when only the CI reaches it, not
supported when the CI misses it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ketamine_meta.analyses import TIME_COURSE_WINDOWS, pool_proportions
from ketamine_meta.comparisons import ENANTIOMER
from ketamine_meta.meta_analysis import OVERALL_LABEL, SUBGROUP_TEST_LABEL, random_effects

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


@dataclass
class Evidence:
    """The tables the tests read (results of the pipeline and the data package)."""

    tables: Mapping[str, pd.DataFrame]
    pooling: Mapping
    tolerance: float
    cache: dict = field(default_factory=dict)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def model(self) -> dict:
        """Keyword arguments of the configured random-effects model."""
        return {k: self.pooling[k] for k in ("method", "test", "level")}


def claimed_range(claim: pd.Series, tolerance: float) -> tuple[float, float]:
    """The range a claim asserts: its stated range, or ``v (1 +- tolerance)`` for a point."""
    low, high = claim["value_low"], claim["value_high"]
    if low == high:
        return low * (1 - tolerance), high * (1 + tolerance)
    return low, high


def range_verdict(estimate: float, ci_low: float, ci_high: float, low: float, high: float) -> str:
    """Supported if the estimate is in [low, high]; partly if only the CI reaches it; else not."""
    if low <= estimate <= high:
        return SUPPORTED
    if ci_high >= low and ci_low <= high:
        return PARTLY
    return NOT_SUPPORTED


def _fmt(estimate, low, high, digits=2, scale=1.0, unit="") -> str:
    return (
        f"{estimate * scale:.{digits}f}{unit} [{low * scale:.{digits}f}, {high * scale:.{digits}f}]"
    )


def _pooled_proportion(
    ev: Evidence, outcomes: pd.DataFrame
) -> tuple[float, float, float, int, int]:
    fit, (est, low, high, _, _) = pool_proportions(
        outcomes["events"].astype(float), outcomes["n"].astype(float), ev.pooling, "PLO"
    )
    return float(est), float(low), float(high), fit.k, int(outcomes["n"].sum())


def _arm_responses(ev: Evidence, hours: tuple[float, float], drug: bool) -> pd.DataFrame:
    outcomes, arms = ev["outcomes"], ev["arms"]
    rows = outcomes[
        (outcomes["outcome"] == "response")
        & outcomes["timepoint_h"].between(*hours)
        & outcomes["events"].notna()
        & outcomes["n"].notna()
    ].merge(arms[["study_id", "arm_id", "drug"]])
    active = rows["drug"].isin(list(ENANTIOMER))
    placebo = rows["drug"].isin(["saline_placebo", "intranasal_placebo", "oral_placebo"])
    rows = rows[active if drug else placebo]
    return rows.sort_values(["study_id", "arm_id", "timepoint_h", "scale"]).drop_duplicates(
        ["study_id", "arm_id"]
    )


def response_24h_drug_vs_placebo(ev: Evidence, claim: pd.Series) -> Finding:
    """About half of drug arms respond at 24 h, under a tenth of placebo arms."""
    drug = _pooled_proportion(ev, _arm_responses(ev, (20, 30), True))
    pbo = _pooled_proportion(ev, _arm_responses(ev, (20, 30), False))
    low, high = claimed_range(claim, ev.tolerance)
    drug_ok = range_verdict(drug[0] * 100, drug[1] * 100, drug[2] * 100, low, high)
    pbo_ok = SUPPORTED if pbo[0] < 0.10 else (PARTLY if pbo[1] < 0.10 else NOT_SUPPORTED)
    verdict = (
        SUPPORTED
        if drug_ok == pbo_ok == SUPPORTED
        else NOT_SUPPORTED
        if NOT_SUPPORTED in (drug_ok, pbo_ok) and SUPPORTED not in (drug_ok, pbo_ok)
        else PARTLY
    )
    computed = (
        f"drug arms {_fmt(*drug[:3], 0, 100, '%')} (k = {drug[3]}); "
        f"placebo arms {_fmt(*pbo[:3], 0, 100, '%')} (k = {pbo[3]})"
    )
    reason = (
        f"drug-arm share against the claimed {low:.0f}-{high:.0f}%: {drug_ok}; placebo share "
        f"below 10%: {pbo_ok}"
    )
    return Finding(verdict, reason, computed, drug[0], drug[1], drug[2], drug[3], drug[4])


def response_share(ev: Evidence, claim: pd.Series) -> Finding:
    """Share of drug arms' participants responding between 24 and 72 h."""
    return _share_finding(ev, claim, *_pooled_proportion(ev, _arm_responses(ev, (20, 96), True)))


def nonresponse_share(ev: Evidence, claim: pd.Series) -> Finding:
    """Share of drug arms' participants not responding between 24 and 72 h."""
    est, lo, hi, k, n = _pooled_proportion(ev, _arm_responses(ev, (20, 96), True))
    return _share_finding(ev, claim, 1 - est, 1 - hi, 1 - lo, k, n)


def _share_finding(ev: Evidence, claim: pd.Series, est, lo, hi, k, n) -> Finding:
    low, high = claimed_range(claim, ev.tolerance)
    verdict = range_verdict(est * 100, lo * 100, hi * 100, low, high)
    return Finding(
        verdict,
        f"pooled share at 24-72 h against the claimed {low:.0f}-{high:.0f}%",
        f"{_fmt(est, lo, hi, 0, 100, '%')} (k = {k} arms)",
        est,
        lo,
        hi,
        k,
        n,
    )


def _overall(ev: Evidence, table: str = "pooled_smd_by_route") -> pd.Series:
    return ev[table].set_index("subgroup").loc[OVERALL_LABEL]


def smd_overall_range(ev: Evidence, claim: pd.Series) -> Finding:
    """The pooled SMD at 24 h against the claimed range."""
    o = _overall(ev)
    verdict = range_verdict(
        o["estimate"], o["ci_low"], o["ci_high"], claim["value_low"], claim["value_high"]
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
    )


def smd_ratio_to_benchmark(ev: Evidence, claim: pd.Series) -> Finding:
    """Ketamine's pooled SMD divided by the antidepressant benchmark (Munkholm 2019)."""
    o = _overall(ev)
    bench = ev["published_estimates"]
    bench = bench[(bench["review_id"] == "munkholm2019_cipriani2018") & (bench["measure"] == "SMD")]
    b = bench[bench["subgroup"] == "overall"].iloc[0]
    ratio = np.array([o["estimate"], o["ci_low"], o["ci_high"]]) / b["estimate"]
    verdict = range_verdict(*ratio, claim["value_low"], claim["value_high"])
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
    if "smd_windows" not in ev.cache:
        effects = ev["effects"]
        rows = []
        for label, _, low, high in TIME_COURSE_WINDOWS:
            sel = (
                effects[
                    (effects["outcome"] == "depression_score")
                    & (effects["measure"] == "SMD")
                    & effects["timepoint_h"].between(low, high)
                ]
                .sort_values("timepoint_h")
                .drop_duplicates("comparison_id")
            )
            if sel.empty:
                continue
            fit = random_effects(sel["yi"], sel["vi"], **ev.model())
            rows.append(
                {
                    "window": label,
                    "estimate": fit.estimate,
                    "ci_low": fit.ci_low,
                    "ci_high": fit.ci_high,
                    "k": fit.k,
                }
            )
        ev.cache["smd_windows"] = pd.DataFrame(rows)
    return ev.cache["smd_windows"]


def peak_at_24h(ev: Evidence, claim: pd.Series) -> Finding:
    """Whether the pooled SMD is largest at 24 h among the windows from 40 min to 28 days."""
    w = _smd_by_window(ev).set_index("window")
    at24 = w.loc["24 h"]
    others = w.drop(index="24 h")
    best = w["estimate"].idxmax()
    text = "; ".join(f"{i}: {r['estimate']:.2f} (k = {int(r['k'])})" for i, r in w.iterrows())
    if best == "24 h":
        clearly = (others["ci_high"] < at24["estimate"]).all()
        verdict = SUPPORTED if clearly else PARTLY
        reason = "the 24 h estimate is the largest" + (
            "" if clearly else ", but the windows' CIs overlap"
        )
    else:
        verdict = PARTLY if at24["ci_high"] >= w.loc[best, "estimate"] else NOT_SUPPORTED
        reason = f"the largest pooled g is at {best}; different trials contribute to each window"
    return Finding(
        verdict, reason, text, at24["estimate"], at24["ci_low"], at24["ci_high"], at24["k"]
    )


def onset_within_hours(ev: Evidence, claim: pd.Series) -> Finding:
    """Whether there is an effect already within 40 min to 4 h."""
    w = _smd_by_window(ev).set_index("window").loc["40 min-4 h"]
    verdict = SUPPORTED if w["ci_low"] > 0 else PARTLY
    return Finding(
        verdict,
        "pooled g within 40 min to 4 h of the dose",
        f"g = {_fmt(w['estimate'], w['ci_low'], w['ci_high'])}, k = {int(w['k'])}",
        w["estimate"],
        w["ci_low"],
        w["ci_high"],
        w["k"],
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
        verdict, reason, text, late["estimate"], late["ci_low"], late["ci_high"], late["k"]
    )


def subgroup_no_difference(ev: Evidence, claim: pd.Series, moderator: str) -> Finding:
    """No difference between subgroups (route or enantiomer): the test for differences."""
    tests = ev["subgroup_tests"]
    row = tests[(tests["moderator"] == moderator) & (tests["tau2_model"] == "separate")].iloc[0]
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
    """Racemic against esketamine, pooled SMD at 24 h and the test between them."""
    pooled = ev["pooled_smd_by_enantiomer"].set_index("subgroup")
    rac, esk = pooled.loc["racemic"], pooled.loc["esketamine"]
    p = pooled.loc[SUBGROUP_TEST_LABEL, "q_p"]
    diff = rac["estimate"] - esk["estimate"]
    superior = "superior" in claim["quantity"]
    if superior:
        verdict = SUPPORTED if p < 0.05 and diff > 0 else PARTLY if diff > 0 else NOT_SUPPORTED
    else:
        verdict = SUPPORTED if diff >= 0 else PARTLY
    return Finding(
        verdict,
        f"racemic minus esketamine g = {diff:.2f}, test for subgroup differences p = {p:.2f}; "
        "different trials, populations and controls, no head-to-head comparison at 24 h",
        f"racemic g = {_fmt(rac['estimate'], rac['ci_low'], rac['ci_high'])} "
        f"(k = {int(rac['k'])}); "
        f"esketamine g = {_fmt(esk['estimate'], esk['ci_low'], esk['ci_high'])} "
        f"(k = {int(esk['k'])})",
        diff,
        k=rac["k"] + esk["k"],
    )


def esketamine_largest_trial(ev: Evidence, claim: pd.Series) -> Finding:
    """The largest esketamine-vs-placebo comparison at its day-28 endpoint."""
    effects = ev["effects"]
    rows = effects[
        (effects["enantiomer"] == "esketamine")
        & (effects["outcome"] == "depression_score")
        & np.isclose(effects["timepoint_h"], 672)
    ]
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
    """Median time to relapse of the summary fits against the claimed week to a month."""
    table = ev["relapse_by_study"]
    fits = table[(table["data_basis"] == "summary fit") & (table["regimen"] != "comparator")]
    low, high = claim["value_low"], claim["value_high"]
    inside = fits["median_days"].between(low, high)
    text = "; ".join(
        f"{r['study_id']} {r['arm_id']} ({r['regimen']}): {r['median_days']:.0f} d"
        for _, r in fits.iterrows()
    )
    verdict = SUPPORTED if inside.all() else PARTLY if inside.any() else NOT_SUPPORTED
    return Finding(
        verdict,
        "medians of summary-fitted curves (not rebuilt data); the trials followed stabilized "
        "responders in maintenance or withdrawal designs, not single-infusion responders",
        text,
        float(fits["median_days"].median()),
        k=len(fits),
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
    est, lo, hi, k, n = _pooled_proportion(ev, rows)
    verdict = range_verdict(est * 100, lo * 100, hi * 100, claim["value_low"], 100)
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
    )


def dissociation_vs_placebo(ev: Evidence, claim: pd.Series) -> Finding:
    """Risk ratio of dissociation as an adverse event, drug against placebo."""
    table = ev["adverse_event_rr"]
    row = table[(table["event"] == "dissociation") & (table["study_id"] == OVERALL_LABEL)].iloc[0]
    rr = np.exp([row["yi"], row["ci_low"], row["ci_high"]])
    verdict = NOT_SUPPORTED if rr[1] > 1 else PARTLY
    return Finding(
        verdict,
        "pooled risk ratio of dissociation reported as an adverse event",
        f"RR = {_fmt(*rr)} (k = {int(row['k'])})",
        *rr,
        row["k"],
    )


def suicidal_ideation(ev: Evidence, claim: pd.Series) -> Finding:
    """Pooled SMD of suicidal-ideation scores within a day of one infusion."""
    effects = ev["effects"]
    rows = effects[
        (effects["outcome"] == "suicidal_ideation_score") & (effects["timepoint_h"] <= 30)
    ]
    rows = rows.sort_values("timepoint_h").drop_duplicates("study_id", keep="last")
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
            finding = TESTS[test](ev, claim)
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
