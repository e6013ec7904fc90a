"""The scenario ids of ``tests/reference/metafor_reference.json``, by family.

Both parity test modules draw their parametrization from here, and
``test_reference_grid_is_complete`` checks that the union is exactly the committed grid, so
a scenario added to the R script without a test (or the reverse) fails.
"""

from __future__ import annotations

METHODS = ("REML", "DL", "PM", "ML", "SJ", "EB", "HE", "HS", "HSk", "EE", "FE")
#: Statistics of an ``rma`` fit compared field by field.
RMA_FIELDS = [
    "k",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "pi_low",
    "pi_high",
    "statistic",
    "pval",
    "tau2",
    "i2",
    "h2",
    "q",
    "q_df",
    "q_p",
    "weights",
]
TESTS = ("knha", "z", "adhoc")

# ---- the spine's grid (test_metafor_parity.py) -----------------------------------------
ESCALC_SCENARIOS = {
    "escalc_smd_normand1999": "SMD",
    "escalc_smd_edge_cases": "SMD",
    "escalc_rr_bcg": "RR",
    "escalc_rr_zero_cells": "RR",
}
RMA_SCENARIOS = [
    f"rma_{data}_{method}_{test}"
    for data in ("bcg", "normand1999")
    for method in ("REML", "DL")
    for test in ("knha", "z")
] + [
    "rma_homogeneous_REML_knha",
    "rma_k2_REML_knha",
    "rma_fisher_two_cycle_REML_knha",
    "project_rma_smd_24h_overall",
]
SUBGROUP_SCENARIOS = ["subgroup_bcg_alloc_REML_knha", "project_subgroup_smd_24h_route"]
PROJECT_ESCALC = ["project_escalc_smd_24h"]

# ---- the statistics engine (test_metafor_parity_engine.py) -----------------------------
BINARY_ESCALC = {"escalc_or_bcg": "OR", "escalc_rd_bcg": "RD"} | {
    f"escalc_{m.lower()}_sparse_{to}": m
    for m in ("RR", "OR", "RD")
    for to in ("only0", "all", "if0all")
}
PROPORTION_ESCALC = {"escalc_plo_pritz1997": "PLO", "escalc_pft_pritz1997": "PFT"}
OTHER_ESCALC = [
    "pooled_proportion_pft_pritz1997",
    "escalc_smd_from_t",
    "escalc_smd_from_p",
    "escalc_smcr_crossover",
    "loghr_from_ci",
]
ENGINE_RMA = (
    [f"rma_hackshaw1998_{m}_{t}" for m in METHODS for t in TESTS]
    + [f"rma_bcg_{m}_knha_all" for m in METHODS]
    + ["rma_k1_REML_knha", "rma_reml_interior_maximum_knha"]
)
QPROFILE = [f"qprofile_{d}" for d in ("bcg", "hackshaw1998", "normand1999")] + [
    "project_qprofile_smd_24h"
]
METAREG = [
    f"metareg_bcg_ablat_year_{m}_{t}"
    for m, t in (
        ("REML", "knha"),
        ("REML", "z"),
        ("ML", "z"),
        ("DL", "knha"),
        ("PM", "knha"),
        ("SJ", "z"),
        ("REML", "adhoc"),
        ("EB", "z"),
    )
]
SUBGROUP_COMMON = [f"subgroup_common_tau2_bcg_alloc_{t}" for t in ("knha", "z")]
LEAVE_ONE_OUT = ["leave1out_bcg_REML_knha", "project_leave1out_smd_24h"]
CUMULATIVE = ["cumul_bcg_year_REML_knha"]
INFLUENCE = [f"influence_bcg_REML_{t}" for t in ("knha", "z")]
BAUJAT = ["baujat_bcg_REML_knha"]
BIAS_SPECS = [
    ("bcg", "REML", "knha"),
    ("hackshaw1998", "REML", "z"),
    ("hackshaw1998", "DL", "knha"),
]
REGTEST = [f"regtest_{d}_{m}_{t}" for d, m, t in BIAS_SPECS] + ["project_regtest_smd_24h"]
RANKTEST = [f"ranktest_{d}_{m}_{t}" for d, m, t in BIAS_SPECS]
TRIMFILL = [
    f"trimfill_{d}_{e}"
    for d, e in (
        ("hackshaw1998", "L0"),
        ("hackshaw1998", "R0"),
        ("bcg", "L0"),
        ("normand1999", "L0"),
    )
]
# Edge cases: the side forced, Q0, R0 with nothing to fill, DL and the common-effect model,
# tied estimates and three studies (one where metafor stops, as the engine does).
TRIMFILL_EDGES = [
    "trimfill_edge_hackshaw1998_L0_REML_left",
    "trimfill_edge_hackshaw1998_L0_REML_right",
    "trimfill_edge_hackshaw1998_Q0_REML",
    "trimfill_edge_normand1999_Q0_REML",
    "trimfill_edge_bcg_R0_REML",
    "trimfill_edge_hackshaw1998_L0_DL",
    "trimfill_edge_hackshaw1998_R0_EE",
    *(f"trimfill_edge_ties_{e}_REML" for e in ("L0", "R0", "Q0")),
    *(f"trimfill_edge_three_{e}_REML" for e in ("L0", "R0", "Q0")),
]
SPARSE = [f"mh_{m}_{d}" for d in ("yusuf1985", "sparse") for m in ("or", "rr", "rd")] + [
    f"peto_{d}" for d in ("yusuf1985", "sparse")
]

PERMUTATION = [
    f"permutest_{model}_bcg8_{test}" for model in ("intercept", "ablat") for test in ("knha", "z")
] + ["permutest_mods_perfect_fit_knha"]

ALL_SCENARIOS = (
    set(ESCALC_SCENARIOS)
    | set(RMA_SCENARIOS)
    | set(SUBGROUP_SCENARIOS)
    | set(PROJECT_ESCALC)
    | set(BINARY_ESCALC)
    | set(PROPORTION_ESCALC)
    | set(OTHER_ESCALC)
    | set(ENGINE_RMA)
    | set(QPROFILE)
    | set(METAREG)
    | set(SUBGROUP_COMMON)
    | set(LEAVE_ONE_OUT)
    | set(CUMULATIVE)
    | set(INFLUENCE)
    | set(BAUJAT)
    | set(REGTEST)
    | set(RANKTEST)
    | set(TRIMFILL)
    | set(TRIMFILL_EDGES)
    | set(SPARSE)
    | set(PERMUTATION)
)
