"""Parity of the statistics engine with R's metafor: effect sizes, estimators, diagnostics.

Reference values come from ``tests/reference/make_metafor_references.R``; the R call that
produced each scenario is stored beside its values (``r_call``), and the scenario ids are
listed in ``tests/parity_grid.py``.

Tolerances: relative 1e-6 with an absolute floor of 1e-9 (quantities that are exactly 0 in one
implementation and a rounding residue in the other). Closed forms need nothing looser. The
iterative ones do not either: the references are converged with ``threshold = 1e-10`` and
uniroot ``tol = 1e-12``, ours with Fisher steps below 1e-12 and bisection to machine
precision. One exception is documented where it is used: metafor's EB iteration, which stops
when a step falls below 1e-10 but approaches the root linearly.
"""

from __future__ import annotations

import numpy as np
import pytest
from parity_grid import (
    BAUJAT,
    BINARY_ESCALC,
    CUMULATIVE,
    ENGINE_RMA,
    INFLUENCE,
    LEAVE_ONE_OUT,
    METAREG,
    PERMUTATION,
    PROPORTION_ESCALC,
    QPROFILE,
    RANKTEST,
    REGTEST,
    RMA_FIELDS,
    SPARSE,
    SUBGROUP_COMMON,
    TRIMFILL,
    TRIMFILL_EDGES,
)
from test_metafor_parity import (
    ADHOC_CUMULATIVE,
    ADHOC_INFLUENCE,
    ADHOC_LEAVE_ONE_OUT,
    ADHOC_RANKTEST,
    ADHOC_REGTEST,
    ADHOC_SUBGROUP_COMMON,
    ADHOC_TRIMFILL,
    trial_level,
)

from frozen import POOLING, frozen_by_study
from ketamine_meta.analyses.efficacy import (
    heterogeneity_table,
    leave_one_out_table,
    publication_bias_table,
)
from ketamine_meta.stats.effect_sizes import (
    inverse_freeman_tukey,
    log_hazard_ratio,
    log_odds_ratio,
    log_risk_ratio,
    proportion_freeman_tukey,
    proportion_logit,
    risk_difference,
    smd_from_p,
    smd_from_t,
    smd_paired,
)
from ketamine_meta.stats.meta_analysis import random_effects, tau2_confidence_interval
from ketamine_meta.stats.meta_regression import meta_regression, subgroups_common_tau2
from ketamine_meta.stats.permutation import moderator_permutation_test, sign_flip_test
from ketamine_meta.stats.publication_bias import egger_test, rank_correlation_test, trim_and_fill
from ketamine_meta.stats.sensitivity import (
    SUMMARY_COLUMNS,
    baujat,
    cumulative,
    influence,
    leave_one_out,
)
from ketamine_meta.stats.sparse import mantel_haenszel, peto

RTOL = 1e-6
ATOL = 1e-9
# metafor's EB stops when its (linearly converging) update falls below 1e-10; ours solves the
# same fixed point exactly, so the two differ by up to about 1e-9 relative in tau^2 and the
# statistics that follow from it.
EB_RTOL = 1e-6

BINARY = {"RR": log_risk_ratio, "OR": log_odds_ratio, "RD": risk_difference}


def close(actual, expected, rtol: float = RTOL) -> None:
    np.testing.assert_allclose(
        np.asarray(actual, dtype=float), np.asarray(expected, dtype=float), rtol=rtol, atol=ATOL
    )


def arrays(inp, *names):
    return [np.asarray(inp[n], dtype=float) for n in names]


# ---- effect sizes -------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", sorted(BINARY_ESCALC))
def test_binary_effect_sizes(reference, scenario):
    ref = reference[scenario]
    inp = ref["input"]
    yi, vi = BINARY[BINARY_ESCALC[scenario]](
        *arrays(inp, "events1", "n1", "events2", "n2"), add=inp["add"], to=inp["to"]
    )
    close(yi, ref["values"]["yi"])
    close(vi, ref["values"]["vi"])


@pytest.mark.parametrize("scenario", sorted(PROPORTION_ESCALC))
def test_proportions(reference, scenario):
    ref = reference[scenario]
    events, n = arrays(ref["input"], "events", "n")
    if PROPORTION_ESCALC[scenario] == "PLO":
        yi, vi = proportion_logit(events, n)
    else:
        yi, vi = proportion_freeman_tukey(events, n)
    close(yi, ref["values"]["yi"])
    close(vi, ref["values"]["vi"])


def test_freeman_tukey_back_transformation(reference):
    ref = reference["pooled_proportion_pft_pritz1997"]
    z, n = arrays(ref["input"], "z", "n")
    close(inverse_freeman_tukey(z, n), ref["values"]["proportion"])


def test_smd_from_t(reference):
    ref = reference["escalc_smd_from_t"]
    yi, vi = smd_from_t(*arrays(ref["input"], "ti", "n1i", "n2i"))
    close(yi, ref["values"]["yi"])
    close(vi, ref["values"]["vi"])


def test_smd_from_p(reference):
    ref = reference["escalc_smd_from_p"]
    yi, vi = smd_from_p(*arrays(ref["input"], "p", "sign", "n1i", "n2i"))
    close(yi, ref["values"]["yi"])
    close(vi, ref["values"]["vi"])


def test_crossover_smd(reference):
    ref = reference["escalc_smcr_crossover"]
    yi, vi = smd_paired(*arrays(ref["input"], "m1i", "m2i", "sdi", "ni", "ri"))
    close(yi, ref["values"]["yi"])
    close(vi, ref["values"]["vi"])


def test_log_hazard_ratio(reference):
    ref = reference["loghr_from_ci"]
    yi, vi = log_hazard_ratio(*arrays(ref["input"], "hr", "lb", "ub"))
    close(yi, ref["values"]["yi"])
    close(vi, ref["values"]["vi"])


# ---- random-effects models over every estimator and test --------------------------------


@pytest.mark.parametrize("scenario", ENGINE_RMA)
@pytest.mark.parametrize("field", RMA_FIELDS)
def test_rma_estimators_and_tests(reference, scenario, field):
    ref = reference[scenario]
    inp = ref["input"]
    fit = random_effects(inp["yi"], inp["vi"], inp["method"], inp["test"])
    close(getattr(fit, field), ref["values"][field], EB_RTOL if inp["method"] == "EB" else RTOL)


@pytest.mark.parametrize("scenario", QPROFILE)
@pytest.mark.parametrize("statistic", ["tau2", "tau", "i2", "h2"])
def test_q_profile_interval(reference, scenario, statistic):
    ref = reference[scenario]
    ci = tau2_confidence_interval(
        random_effects(*trial_level(ref["input"]), ref["input"]["method"])
    )
    ours = [ci[statistic], ci[f"{statistic}_low"], ci[f"{statistic}_high"]]
    close(ours, ref["values"][statistic])


# ---- meta-regression and subgroups ------------------------------------------------------

METAREG_FIELDS = ["tau2", "i2", "h2", "r2", "qe", "qe_p", "qm", "qm_p"]
COEFFICIENT_FIELDS = {
    "beta": "estimate",
    "se": "se",
    "statistic": "statistic",
    "pval": "pval",
    "ci_low": "ci_low",
    "ci_high": "ci_high",
}


def check_regression(fit, expected, rtol=RTOL) -> None:
    for theirs, ours in COEFFICIENT_FIELDS.items():
        close(fit.coefficients[ours], expected[theirs], rtol)
    for field in METAREG_FIELDS:
        if expected[field] is not None:
            close(getattr(fit, field), expected[field], rtol)


@pytest.mark.parametrize("scenario", METAREG)
def test_meta_regression(reference, scenario):
    ref = reference[scenario]
    inp = ref["input"]
    x = np.column_stack([np.ones(len(inp["yi"])), inp["ablat"], inp["year"]])
    fit = meta_regression(
        inp["yi"], inp["vi"], x, ["intercept", "ablat", "year"], inp["method"], inp["test"]
    )
    check_regression(fit, ref["values"], EB_RTOL if inp["method"] == "EB" else RTOL)


@pytest.mark.parametrize("scenario", SUBGROUP_COMMON + ADHOC_SUBGROUP_COMMON)
def test_subgroups_with_common_tau2(reference, scenario):
    ref = reference[scenario]
    inp = ref["input"]
    estimates, between = subgroups_common_tau2(
        inp["yi"], inp["vi"], inp["groups"], "REML", inp["test"]
    )
    expected = ref["values"]["estimates"]
    for theirs, ours in COEFFICIENT_FIELDS.items():
        close(estimates[ours], expected[theirs])
    for field in ("tau2", "qm", "qm_p", "qe", "qe_p"):
        close(getattr(between, field), ref["values"]["between"][field])


# ---- sensitivity ------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", LEAVE_ONE_OUT + ADHOC_LEAVE_ONE_OUT)
@pytest.mark.parametrize("field", SUMMARY_COLUMNS)
def test_leave_one_out(reference, scenario, field):
    ref = reference[scenario]
    inp = ref["input"]
    table = leave_one_out(random_effects(*trial_level(inp), method=inp["method"], test=inp["test"]))
    close(table[field], ref["values"][field])


@pytest.mark.parametrize("scenario", CUMULATIVE + ADHOC_CUMULATIVE)
@pytest.mark.parametrize("field", SUMMARY_COLUMNS)
def test_cumulative(reference, scenario, field):
    ref = reference[scenario]
    inp = ref["input"]
    fit = random_effects(inp["yi"], inp["vi"], method=inp["method"], test=inp["test"])
    table = cumulative(fit, inp["order"])
    close(table[field], ref["values"][field])


INFLUENCE_FIELDS = [
    "rstudent",
    "dffits",
    "cook_d",
    "cov_r",
    "tau2_del",
    "qe_del",
    "hat",
    "weight",
    "dfbetas",
]


@pytest.mark.parametrize("scenario", INFLUENCE + ADHOC_INFLUENCE)
def test_influence(reference, scenario):
    ref = reference[scenario]
    inp = ref["input"]
    table = influence(random_effects(inp["yi"], inp["vi"], method=inp["method"], test=inp["test"]))
    for field in INFLUENCE_FIELDS:
        close(table[field], ref["values"][field])
    assert list(table["influential"]) == ref["values"]["influential"]


@pytest.mark.parametrize("scenario", BAUJAT)
def test_baujat(reference, scenario):
    ref = reference[scenario]
    inp = ref["input"]
    table = baujat(random_effects(inp["yi"], inp["vi"], method=inp["method"], test=inp["test"]))
    for field, expected in ref["values"].items():
        close(table[field], expected)


# ---- publication bias ---------------------------------------------------------------------


@pytest.mark.parametrize("scenario", REGTEST + ADHOC_REGTEST)
def test_egger_regression(reference, scenario):
    ref = reference[scenario]
    inp = ref["input"]
    result = egger_test(random_effects(*trial_level(inp), inp["method"], inp["test"]))
    for field, expected in ref["values"].items():
        close(getattr(result, field), expected)


@pytest.mark.parametrize("scenario", RANKTEST + ADHOC_RANKTEST)
def test_rank_correlation(reference, scenario):
    ref = reference[scenario]
    tau, pval = rank_correlation_test(ref["input"]["yi"], ref["input"]["vi"])
    close([tau, pval], [ref["values"]["tau"], ref["values"]["pval"]])


@pytest.mark.parametrize("scenario", TRIMFILL + ADHOC_TRIMFILL)
def test_trim_and_fill(reference, scenario):
    ref = reference[scenario]
    inp = ref["input"]
    result = trim_and_fill(
        random_effects(inp["yi"], inp["vi"], inp["method"], inp["test"]),
        estimator=inp["estimator"],
    )
    expected = ref["values"]
    assert (result.k0, result.side) == (expected["k0"], expected["side"])
    close(result.se_k0, expected["se_k0"])
    assert result.filled.k == expected["k"]
    for field in ("estimate", "se", "ci_low", "ci_high", "tau2"):
        close(getattr(result.filled, field), expected[field])


@pytest.mark.parametrize("scenario", TRIMFILL_EDGES)
def test_trim_and_fill_edge_cases(reference, scenario):
    """The side forced, Q0, DL and EE, ties and three studies; where metafor stops, so do we."""
    ref = reference[scenario]
    inp = ref["input"]
    fit = random_effects(inp["yi"], inp["vi"], inp["method"], inp["test"])
    expected = ref["values"]
    if "error" in expected:
        with pytest.raises(ValueError, match="Q0 estimator of the missing studies is not defined"):
            trim_and_fill(fit, estimator=inp["estimator"], side=inp.get("side"))
        return
    result = trim_and_fill(fit, estimator=inp["estimator"], side=inp.get("side"))
    assert (result.k0, result.side, result.filled.k) == (
        expected["k0"],
        expected["side"],
        expected["k"],
    )
    close(result.se_k0, expected["se_k0"])
    for field in ("estimate", "se", "ci_low", "ci_high", "tau2"):
        close(getattr(result.filled, field), expected[field])


# ---- sparse data ------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SPARSE)
def test_mantel_haenszel_and_peto(reference, scenario):
    ref = reference[scenario]
    inp = ref["input"]
    counts = arrays(inp, "events1", "n1", "events2", "n2")
    result = (
        peto(*counts) if scenario.startswith("peto") else mantel_haenszel(*counts, inp["measure"])
    )
    for field, expected in ref["values"].items():
        close(getattr(result, field), expected)


# ---- the committed results tables of the pipeline ----------------------------------------


def test_project_leave_one_out_table_matches_metafor(reference):
    table = leave_one_out_table(frozen_by_study(), POOLING)
    expected = reference["project_leave1out_smd_24h"]["values"]
    for field in SUMMARY_COLUMNS:
        close(table[field], expected[field])


def test_project_heterogeneity_table_matches_metafor(reference):
    table = heterogeneity_table(frozen_by_study(), POOLING).set_index("statistic")
    expected = reference["project_qprofile_smd_24h"]["values"]
    for statistic in ("tau2", "tau", "i2", "h2"):
        close(table.loc[statistic, ["estimate", "ci_low", "ci_high"]], expected[statistic])


def test_project_egger_row_matches_metafor(reference):
    table = publication_bias_table(frozen_by_study(), POOLING)
    egger = table.iloc[0]
    expected = reference["project_regtest_smd_24h"]["values"]
    close(
        egger[["statistic", "pval", "estimate", "ci_low", "ci_high"]],
        [
            expected[k]
            for k in ("statistic", "pval", "limit_estimate", "limit_ci_low", "limit_ci_high")
        ],
    )


# ---- permutation tests ----------------------------------------------------------------


@pytest.mark.parametrize("scenario", PERMUTATION)
def test_exact_permutation_tests(reference, scenario):
    ref = reference[scenario]
    inp = ref["input"]
    moderator = inp.get("ablat", inp.get("mods"))
    if moderator is not None:
        x = np.column_stack([np.ones(len(inp["yi"])), moderator])
        fit = meta_regression(
            inp["yi"], inp["vi"], x, ["intercept", "x"], inp["method"], inp["test"]
        )
        result = moderator_permutation_test(fit, 50_000)
    else:
        result = sign_flip_test(random_effects(inp["yi"], inp["vi"], inp["method"], inp["test"]))
    assert result.exact
    # p-values are shares of enumerated permutations: equal to the count.
    close(result.pval, ref["values"]["pval"])
    # metafor drops a permutation whose QM is NA (a perfect fit); the engine counts it.
    dropped = ref["values"].get("qm_na", 0)
    permutations = ref["values"].get("permutations", result.permutations)
    counted = ref["values"]["qm_pval"] * (permutations - dropped) + dropped
    close(result.qm_pval, counted / permutations)
