# Reference values from R's metafor for the parity tests in tests/test_metafor_parity.py.
#
# Usage (from the repository root):
#   Rscript tests/reference/make_metafor_references.R [OUTPUT.json]
# Default output: tests/reference/metafor_reference.json. `.ci/run` regenerates the file
# into a temporary path and fails if it differs from the committed one.
#
# Every value is stored beside the R call that produced it ("r_call"). Iterative fits use
# control = list(threshold = 1e-10) so that the reference itself is converged far below the
# 1e-6 tolerance of the tests (metafor's default threshold on the change in tau^2 is 1e-5).

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
out_path <- if (length(args) >= 1) args[[1]] else "tests/reference/metafor_reference.json"
project_table <- "results/tables/smd_24h_by_study.csv"
ctrl <- list(threshold = 1e-10, maxiter = 10000)

scenarios <- list()
add <- function(id, r_call, input, values) {
  scenarios[[id]] <<- list(id = id, r_call = r_call, input = input, values = values)
}

rma_values <- function(fit) {
  pred <- predict(fit)
  list(
    k = fit$k, estimate = as.numeric(fit$beta), se = fit$se,
    ci_low = fit$ci.lb, ci_high = fit$ci.ub,
    pi_low = pred$pi.lb, pi_high = pred$pi.ub,
    statistic = fit$zval, pval = fit$pval,
    tau2 = fit$tau2, i2 = fit$I2, h2 = fit$H2,
    q = fit$QE, q_df = fit$k - fit$p, q_p = fit$QEp,
    weights = as.numeric(1 / (fit$vi + fit$tau2))
  )
}

add_rma <- function(id, yi, vi, method, test, label) {
  fit <- rma(yi, vi, method = method, test = test, control = ctrl)
  add(id,
      sprintf("rma(yi, vi, method = \"%s\", test = \"%s\", control = list(threshold = 1e-10)); predict(fit)   # %s",
              method, test, label),
      list(yi = yi, vi = vi, method = method, test = test),
      rma_values(fit))
}

# ---- effect sizes ---------------------------------------------------------------------

# SMD (Hedges' g, exact correction, vtype = "LS") on dat.normand1999 (9 stroke-unit trials).
dat <- escalc(measure = "SMD", m1i = m1i, sd1i = sd1i, n1i = n1i,
              m2i = m2i, sd2i = sd2i, n2i = n2i, data = dat.normand1999)
add("escalc_smd_normand1999",
    "escalc(measure = \"SMD\", m1i, sd1i, n1i, m2i, sd2i, n2i, data = dat.normand1999)",
    list(m1 = dat.normand1999$m1i, sd1 = dat.normand1999$sd1i, n1 = dat.normand1999$n1i,
         m2 = dat.normand1999$m2i, sd2 = dat.normand1999$sd2i, n2 = dat.normand1999$n2i),
    list(yi = as.numeric(dat$yi), vi = as.numeric(dat$vi)))

# SMD edge cases: tiny groups (J far from 1), fractional n (a split control), equal means.
edge <- data.frame(m1 = c(10, 22.5, 30, 15), sd1 = c(2, 8.1, 5, 4), n1 = c(2, 5, 40, 12),
                   m2 = c(12, 30.25, 30, 9), sd2 = c(3, 7.4, 6, 4.5), n2 = c(2, 7.5, 41, 6.5))
res <- escalc(measure = "SMD", m1i = m1, sd1i = sd1, n1i = n1, m2i = m2, sd2i = sd2, n2i = n2,
              data = edge)
add("escalc_smd_edge_cases",
    "escalc(measure = \"SMD\", m1i, sd1i, n1i, m2i, sd2i, n2i, data = edge)  # n = 2 per arm, fractional n, equal means",
    as.list(edge), list(yi = as.numeric(res$yi), vi = as.numeric(res$vi)))

# log RR on dat.bcg (no zero cells) and on tables with zero cells (add = 1/2, to = "only0").
bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
add("escalc_rr_bcg",
    "escalc(measure = \"RR\", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)",
    list(events1 = dat.bcg$tpos, n1 = dat.bcg$tpos + dat.bcg$tneg,
         events2 = dat.bcg$cpos, n2 = dat.bcg$cpos + dat.bcg$cneg),
    list(yi = as.numeric(bcg$yi), vi = as.numeric(bcg$vi)))

zero <- data.frame(ai = c(0, 12, 5, 20), n1i = c(15, 30, 25, 20), ci = c(3, 0, 5, 10), n2i = c(14, 31, 25, 22))
rz <- escalc(measure = "RR", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = zero, add = 1/2, to = "only0")
add("escalc_rr_zero_cells",
    "escalc(measure = \"RR\", ai, n1i, ci, n2i, data = zero, add = 1/2, to = \"only0\")  # zero events, and all events in one arm",
    list(events1 = zero$ai, n1 = zero$n1i, events2 = zero$ci, n2 = zero$n2i),
    list(yi = as.numeric(rz$yi), vi = as.numeric(rz$vi)))

# ---- random-effects models ------------------------------------------------------------

for (method in c("REML", "DL")) {
  for (test in c("knha", "z")) {
    add_rma(sprintf("rma_bcg_%s_%s", method, test), as.numeric(bcg$yi), as.numeric(bcg$vi),
            method, test, "dat.bcg log RR")
    add_rma(sprintf("rma_normand1999_%s_%s", method, test), as.numeric(dat$yi), as.numeric(dat$vi),
            method, test, "dat.normand1999 SMD")
  }
}

# tau^2 = 0 (homogeneous estimates) and k = 2: boundary and smallest poolable cases.
homog <- list(yi = c(0.10, 0.12, 0.11, 0.09), vi = c(0.04, 0.05, 0.03, 0.06))
add_rma("rma_homogeneous_REML_knha", homog$yi, homog$vi, "REML", "knha", "tau^2 at its boundary 0")
add_rma("rma_k2_REML_knha", c(0.5, -0.2), c(0.02, 0.03), "REML", "knha", "k = 2")

# Plain Fisher scoring falls into a two-cycle here and metafor stops with "did not converge";
# its documented remedy is a smaller step (stepadj). Our safeguarded scoring must land on the
# same REML estimate.
cyc <- list(yi = c(0, 1, 1, 1, 1), vi = c(0.125, 1, 1, 1, 1))
fit <- rma(cyc$yi, cyc$vi, method = "REML", test = "knha",
           control = list(threshold = 1e-10, maxiter = 10000, stepadj = 0.5))
add("rma_fisher_two_cycle_REML_knha",
    "rma(yi, vi, method = \"REML\", test = \"knha\", control = list(threshold = 1e-10, maxiter = 10000, stepadj = 0.5)); predict(fit)",
    list(yi = cyc$yi, vi = cyc$vi, method = "REML", test = "knha"), rma_values(fit))

# ---- subgroups: separate tau^2, Q test on the subgroup estimates -----------------------

subgroup_values <- function(yi, vi, groups, method, test) {
  levels <- sort(unique(groups))
  fits <- lapply(levels, function(g) rma(yi[groups == g], vi[groups == g], method = method,
                                         test = test, control = ctrl))
  names(fits) <- levels
  est <- sapply(fits, function(f) as.numeric(f$beta))
  # The subgroup test uses each subgroup's model-based (Wald) SE.
  se_wald <- sapply(levels, function(g) {
    rma(yi[groups == g], vi[groups == g], method = method, test = "z", control = ctrl)$se
  })
  between <- rma(est, sei = se_wald, method = "FE")
  list(subgroups = lapply(fits, rma_values), q_between = between$QE,
       q_between_df = length(levels) - 1, q_between_p = between$QEp)
}

add("subgroup_bcg_alloc_REML_knha",
    paste("per level g of alloc: rma(yi, vi, subset = alloc == g, method = \"REML\", test = \"knha\");",
          "between: rma(estimates, sei = wald_ses, method = \"FE\")$QE"),
    list(yi = as.numeric(bcg$yi), vi = as.numeric(bcg$vi), groups = as.character(dat.bcg$alloc)),
    subgroup_values(as.numeric(bcg$yi), as.numeric(bcg$vi), as.character(dat.bcg$alloc), "REML", "knha"))

# ---- the project's own data: SMD at 24 h by route -------------------------------------

proj <- read.csv(project_table, stringsAsFactors = FALSE)
# The pipeline's orientation: group 1 is the control, so a positive g favours the drug. Rows
# built from means (arm-level, or a reported mean difference turned into means and a pooled SD)
# go through escalc from those means; a reported Cohen's d without SE through escalc's di.
from_means <- !is.na(proj$mean_treat)
# A reported mean difference enters as means (difference, 0) with the pooled SD its SE implies,
# SD = SE / sqrt(1/n1 + 1/n2) (Cochrane Handbook 6.5.2.3): rebuilt here from the contrast.
md_rows <- proj$data_basis %in% c("reported MD", "reported LSMD")
sd_md <- proj$contrast_se / sqrt(1 / proj$n_treat + 1 / proj$n_ctrl)
proj$mean_treat[md_rows] <- proj$contrast_estimate[md_rows]
proj$mean_ctrl[md_rows] <- 0
proj$sd_treat[md_rows] <- sd_md[md_rows]
proj$sd_ctrl[md_rows] <- sd_md[md_rows]
pe <- escalc(measure = "SMD", m1i = mean_ctrl, sd1i = sd_ctrl, n1i = n_ctrl,
             m2i = mean_treat, sd2i = sd_treat, n2i = n_treat, data = proj[from_means, ])
d_rows <- proj$data_basis == "reported SMD_d"
# contrast_estimate is treatment minus control; escalc's group 1 is the control, hence the sign.
pd_ <- escalc(measure = "SMD", di = -proj$contrast_estimate[d_rows], n1i = proj$n_ctrl[d_rows],
              n2i = proj$n_treat[d_rows])
# A d reported with its CI keeps that uncertainty: v = (J * SE)^2.
j <- exp(lgamma((proj$n_treat + proj$n_ctrl - 2) / 2) -
         log(sqrt((proj$n_treat + proj$n_ctrl - 2) / 2)) - lgamma((proj$n_treat + proj$n_ctrl - 3) / 2))
pd_$vi <- ifelse(is.na(proj$contrast_se[d_rows]), pd_$vi, (j[d_rows] * proj$contrast_se[d_rows])^2)
yi <- rep(NA_real_, nrow(proj)); vi <- rep(NA_real_, nrow(proj))
yi[from_means] <- pe$yi; vi[from_means] <- pe$vi
yi[d_rows] <- pd_$yi; vi[d_rows] <- pd_$vi
computed <- from_means | d_rows
add("project_escalc_smd_24h",
    sprintf("escalc(measure = \"SMD\", m1i = mean_ctrl, sd1i = sd_ctrl, n1i = n_ctrl, m2i = mean_treat, sd2i = sd_treat, n2i = n_treat) on rows with means, escalc(measure = \"SMD\", di, n1i, n2i) on reported d, of read.csv(\"%s\")", project_table),
    list(comparison_id = proj$comparison_id[computed]),
    list(yi = yi[computed], vi = vi[computed]))
pe <- data.frame(yi = ifelse(computed, yi, proj$yi), vi = ifelse(computed, vi, proj$vi))
add_rma("project_rma_smd_24h_overall", as.numeric(pe$yi), as.numeric(pe$vi), "REML", "knha",
        "project SMD at 24 h, all routes")
add("project_subgroup_smd_24h_route",
    "as subgroup_bcg_alloc_REML_knha, groups = route, on the project's SMD at 24 h",
    list(yi = as.numeric(pe$yi), vi = as.numeric(pe$vi), groups = proj$route),
    subgroup_values(as.numeric(pe$yi), as.numeric(pe$vi), proj$route, "REML", "knha"))

doc <- list(
  generated_by = "tests/reference/make_metafor_references.R",
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  scenarios = unname(scenarios)
)
writeLines(toJSON(doc, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"), out_path)
cat(sprintf("wrote %d scenarios to %s\n", length(scenarios), out_path))
