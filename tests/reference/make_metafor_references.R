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
# The project's primary CI method is the ad hoc Knapp-Hartung correction (test = "adhoc",
# PROTOCOL.md §11): every family the pipeline fits with it has adhoc scenarios below.

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
out_path <- if (length(args) >= 1) args[[1]] else "tests/reference/metafor_reference.json"
project_table <- "tests/fixtures/package-0.4.2/smd_24h_by_study.csv"
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
    # A common-effect model has no prediction interval of its own: it is the CI.
    pi_low = if (is.null(pred$pi.lb)) pred$ci.lb else pred$pi.lb,
    pi_high = if (is.null(pred$pi.ub)) pred$ci.ub else pred$pi.ub,
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
  for (test in c("knha", "z", "adhoc")) {
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
# The ad hoc correction where it binds: estimates that agree more than their variances predict
# (Hartung-Knapp factor below 1), at tau^2 = 0, with k = 2 and k = 3 (the racemic IV case).
add_rma("rma_homogeneous_REML_adhoc", homog$yi, homog$vi, "REML", "adhoc", "tau^2 = 0, factor < 1")
add_rma("rma_k2_REML_adhoc", c(0.5, -0.2), c(0.02, 0.03), "REML", "adhoc", "k = 2")
add_rma("rma_k2_agreeing_REML_adhoc", c(0.40, 0.42), c(0.05, 0.06), "REML", "adhoc",
        "k = 2, near-identical estimates: knha collapses, adhoc does not")
add_rma("rma_k3_agreeing_REML_adhoc", c(0.80, 0.54, 0.73), c(0.117, 0.052, 0.065), "REML",
        "adhoc", "k = 3, tau^2 = 0, factor < 1")

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

for (test in c("knha", "adhoc")) {
  add(sprintf("subgroup_bcg_alloc_REML_%s", test),
      paste(sprintf("per level g of alloc: rma(yi, vi, subset = alloc == g, method = \"REML\", test = \"%s\");", test),
            "between: rma(estimates, sei = wald_ses, method = \"FE\")$QE"),
      list(yi = as.numeric(bcg$yi), vi = as.numeric(bcg$vi), groups = as.character(dat.bcg$alloc),
           method = "REML", test = test),
      subgroup_values(as.numeric(bcg$yi), as.numeric(bcg$vi), as.character(dat.bcg$alloc), "REML", test))
}

# ---- one estimate per trial: aggregate(struct = "ID") --------------------------------

# Comparisons of one trial combined by their inverse-variance mean (PROTOCOL.md §11):
# clusters of one, two and three estimates, in an order that is not sorted.
clustered <- escalc(measure = "GEN", yi = c(0.5, 0.2, 0.3, 0.9, 0.1, 0.7, 0.65),
                    vi = c(0.04, 0.05, 0.02, 0.1, 0.03, 0.08, 0.07),
                    data = data.frame(trial = c("b", "a", "b", "c", "a", "d", "b")))
agg <- aggregate(clustered, cluster = trial, struct = "ID")
add("aggregate_id_clusters",
    "aggregate(escalc(measure = \"GEN\", yi, vi, data = data.frame(trial)), cluster = trial, struct = \"ID\")",
    list(yi = as.numeric(clustered$yi), vi = as.numeric(clustered$vi), cluster = clustered$trial),
    list(cluster = agg$trial, yi = as.numeric(agg$yi), vi = as.numeric(agg$vi)))
fit <- rma(yi, vi, data = agg, method = "REML", test = "adhoc", control = ctrl)
add("aggregate_id_rma_REML_adhoc",
    "rma(yi, vi, data = aggregate(clustered, cluster = trial, struct = \"ID\"), method = \"REML\", test = \"adhoc\"); predict(fit)",
    list(yi = as.numeric(clustered$yi), vi = as.numeric(clustered$vi), cluster = clustered$trial,
         method = "REML", test = "adhoc"),
    rma_values(fit))

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
# Crossover comparisons are paired: escalc("SMCR") with the between-person SD (pooled over the
# two conditions; for a reported paired difference SE * sqrt(n) / sqrt(2 (1 - r)), Cochrane
# Handbook 23.2.7.3), n participants and the configured within-person correlation r.
paired <- !is.na(proj$within_correlation)
n_pair <- pmin(proj$n_treat, proj$n_ctrl)
sd_pair <- ifelse(md_rows,
                  proj$contrast_se * sqrt(n_pair) / sqrt(2 * (1 - proj$within_correlation)),
                  sqrt((proj$sd_ctrl^2 + proj$sd_treat^2) / 2))
if (any(paired)) {
  pc <- escalc(measure = "SMCR", m1i = proj$mean_ctrl[paired], m2i = proj$mean_treat[paired],
               sd1i = sd_pair[paired], ni = n_pair[paired], ri = proj$within_correlation[paired])
  yi[paired] <- pc$yi; vi[paired] <- pc$vi
}
computed <- from_means | d_rows
add("project_escalc_smd_24h",
    sprintf("escalc(measure = \"SMD\", m1i = mean_ctrl, sd1i = sd_ctrl, n1i = n_ctrl, m2i = mean_treat, sd2i = sd_treat, n2i = n_treat) on rows with means, escalc(measure = \"SMD\", di, n1i, n2i) on reported d, escalc(measure = \"SMCR\", m1i, m2i, sd1i, ni, ri) on crossover rows, of read.csv(\"%s\")", project_table),
    list(comparison_id = proj$comparison_id[computed]),
    list(yi = yi[computed], vi = vi[computed]))
pe <- data.frame(yi = ifelse(computed, yi, proj$yi), vi = ifelse(computed, vi, proj$vi))
# The project's model (config pooling, PROTOCOL.md §11): REML, the ad hoc Knapp-Hartung
# correction, one estimate per trial. The comparisons of a trial in one pooled estimate are
# first combined by their inverse-variance mean: aggregate(struct = "ID"), per trial overall
# and per trial and route in the subgroups.
proj_test <- "adhoc"
proj_es <- escalc(measure = "GEN", yi = as.numeric(pe$yi), vi = as.numeric(pe$vi),
                  data = data.frame(study = proj$study_id, route = proj$route))
proj_trials <- aggregate(proj_es, cluster = study, struct = "ID")
proj_routes <- aggregate(proj_es, cluster = paste(study, route), struct = "ID")
fit <- rma(yi, vi, data = proj_trials, method = "REML", test = proj_test, control = ctrl)
add("project_rma_smd_24h_overall",
    sprintf("rma(yi, vi, data = aggregate(escalc(\"GEN\", yi, vi), cluster = study_id, struct = \"ID\"), method = \"REML\", test = \"%s\"); predict(fit)  # project SMD at 24 h, all routes", proj_test),
    list(yi = as.numeric(pe$yi), vi = as.numeric(pe$vi), cluster = proj$study_id, method = "REML",
         test = proj_test),
    rma_values(fit))
add("project_subgroup_smd_24h_route",
    sprintf("as subgroup_bcg_alloc_REML_%s on aggregate(escalc(\"GEN\", yi, vi), cluster = paste(study_id, route), struct = \"ID\"), groups = route, the project's SMD at 24 h", proj_test),
    list(yi = as.numeric(pe$yi), vi = as.numeric(pe$vi), groups = proj$route, cluster = proj$study_id,
         method = "REML", test = proj_test),
    subgroup_values(as.numeric(proj_routes$yi), as.numeric(proj_routes$vi), proj_routes$route,
                    "REML", proj_test))

# ==== the statistics engine grid (issue 4) ===========================================
# Root-finding estimators (PM, Q-profile) use uniroot, whose default tol is
# .Machine$double.eps^0.25 ~ 1e-4: the references are run with tol = 1e-12 so they are exact
# to far below the tests' 1e-6.
ctrl_root <- list(threshold = 1e-10, maxiter = 10000, tol = 1e-12)

# ---- effect sizes: binary, proportions, t and p, crossover, hazard ratios -------------

bcg_or <- escalc(measure = "OR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
add("escalc_or_bcg",
    "escalc(measure = \"OR\", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)",
    list(events1 = dat.bcg$tpos, n1 = dat.bcg$tpos + dat.bcg$tneg,
         events2 = dat.bcg$cpos, n2 = dat.bcg$cpos + dat.bcg$cneg, add = 0.5, to = "only0"),
    list(yi = as.numeric(bcg_or$yi), vi = as.numeric(bcg_or$vi)))
bcg_rd <- escalc(measure = "RD", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
add("escalc_rd_bcg",
    "escalc(measure = \"RD\", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)",
    list(events1 = dat.bcg$tpos, n1 = dat.bcg$tpos + dat.bcg$tneg,
         events2 = dat.bcg$cpos, n2 = dat.bcg$cpos + dat.bcg$cneg, add = 0.5, to = "only0"),
    list(yi = as.numeric(bcg_rd$yi), vi = as.numeric(bcg_rd$vi)))

# Zero cells, including a study with no events in either arm (an all-zero event column) and
# one with only events in one arm; each continuity-correction choice.
sparse <- data.frame(ai = c(0, 12, 5, 0, 20), n1i = c(15, 30, 25, 18, 20),
                     ci = c(3, 0, 5, 0, 10), n2i = c(14, 31, 25, 17, 22))
for (measure in c("RR", "OR", "RD")) {
  for (to in c("only0", "all", "if0all")) {
    r <- escalc(measure = measure, ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = sparse,
                add = 1/2, to = to)
    add(sprintf("escalc_%s_sparse_%s", tolower(measure), to),
        sprintf("escalc(measure = \"%s\", ai, n1i, ci, n2i, data = sparse, add = 1/2, to = \"%s\")  # zero cells, a double-zero study",
                measure, to),
        list(events1 = sparse$ai, n1 = sparse$n1i, events2 = sparse$ci, n2 = sparse$n2i,
             add = 0.5, to = to),
        list(yi = as.numeric(r$yi), vi = as.numeric(r$vi)))
  }
}

# Single-group proportions (dat.pritz1997) plus 0 of 10 and 10 of 10.
prop <- data.frame(xi = c(dat.pritz1997$xi, 0, 10), ni = c(dat.pritz1997$ni, 10, 10))
plo <- escalc(measure = "PLO", xi = xi, ni = ni, data = prop)
add("escalc_plo_pritz1997",
    "escalc(measure = \"PLO\", xi, ni, data = prop)  # dat.pritz1997 plus 0/10 and 10/10",
    list(events = prop$xi, n = prop$ni), list(yi = as.numeric(plo$yi), vi = as.numeric(plo$vi)))
pft <- escalc(measure = "PFT", xi = xi, ni = ni, data = prop)
add("escalc_pft_pritz1997",
    "escalc(measure = \"PFT\", xi, ni, data = prop)",
    list(events = prop$xi, n = prop$ni), list(yi = as.numeric(pft$yi), vi = as.numeric(pft$vi)))
pft_fit <- rma(yi, vi, data = pft, method = "REML", control = ctrl)
pft_pred <- predict(pft_fit, transf = transf.ipft.hm, targs = list(ni = prop$ni))
add("pooled_proportion_pft_pritz1997",
    "predict(rma(yi, vi, data = pft, method = \"REML\"), transf = transf.ipft.hm, targs = list(ni = prop$ni))",
    list(events = prop$xi, n = prop$ni, z = c(as.numeric(pft_fit$beta), pft_fit$ci.lb, pft_fit$ci.ub)),
    list(proportion = c(pft_pred$pred, pft_pred$ci.lb, pft_pred$ci.ub)))

tp <- data.frame(ti = c(2.1, -0.8, 3.4, 0.3), n1i = c(20, 35, 12, 60), n2i = c(22, 30, 11, 58))
smd_t <- escalc(measure = "SMD", ti = ti, n1i = n1i, n2i = n2i, data = tp)
add("escalc_smd_from_t", "escalc(measure = \"SMD\", ti, n1i, n2i, data = tp)",
    as.list(tp), list(yi = as.numeric(smd_t$yi), vi = as.numeric(smd_t$vi)))
pp <- data.frame(p = c(0.04, 0.30, 0.001, 0.75), sign = c(1, -1, 1, 1),
                 n1i = c(20, 35, 12, 60), n2i = c(22, 30, 11, 58))
smd_p <- escalc(measure = "SMD", ti = pp$sign * qt(pp$p / 2, df = pp$n1i + pp$n2i - 2, lower.tail = FALSE),
                n1i = pp$n1i, n2i = pp$n2i)
add("escalc_smd_from_p",
    "escalc(measure = \"SMD\", ti = sign * qt(p / 2, df = n1i + n2i - 2, lower.tail = FALSE), n1i, n2i)",
    as.list(pp), list(yi = as.numeric(smd_p$yi), vi = as.numeric(smd_p$vi)))

# Crossover: SMCR with the SD pooled over periods and a within-person correlation.
cx <- data.frame(m1i = c(12.1, 20.4, 15.0), m2i = c(18.3, 24.9, 15.5), sdi = c(7.2, 9.1, 5.5),
                 ni = c(18, 15, 40), ri = c(0.5, 0.2, 0.8))
smcr <- escalc(measure = "SMCR", m1i = m1i, m2i = m2i, sd1i = sdi, ni = ni, ri = ri, data = cx)
add("escalc_smcr_crossover",
    "escalc(measure = \"SMCR\", m1i, m2i, sd1i = sdi, ni, ri, data = cx)  # crossover, pooled-period SD",
    as.list(cx), list(yi = as.numeric(smcr$yi), vi = as.numeric(smcr$vi)))

hr <- data.frame(hr = c(0.49, 0.30, 1.2), lb = c(0.29, 0.16, 0.8), ub = c(0.84, 0.55, 1.8))
add("loghr_from_ci",
    "yi = log(hr); vi = ((log(ub) - log(lb)) / (2 * qnorm(0.975)))^2  # Parmar 1998; no metafor call",
    as.list(hr),
    list(yi = log(hr$hr), vi = ((log(hr$ub) - log(hr$lb)) / (2 * qnorm(0.975)))^2))

# ---- tau^2 estimators x tests ----------------------------------------------------------

hack <- dat.hackshaw1998
# HE, HS, HSk and the common-effect model (EE, FE): metafor warns that Knapp-Hartung is not
# meant for a common-effect model, and fits it all the same.
for (method in c("REML", "DL", "PM", "ML", "SJ", "EB", "HE", "HS", "HSk", "EE", "FE")) {
  for (test in c("knha", "z", "adhoc")) {
    fit <- suppressWarnings(rma(hack$yi, hack$vi, method = method, test = test, control = ctrl_root))
    add(sprintf("rma_hackshaw1998_%s_%s", method, test),
        sprintf("rma(yi, vi, data = dat.hackshaw1998, method = \"%s\", test = \"%s\", control = list(threshold = 1e-10, tol = 1e-12)); predict(fit)", method, test),
        list(yi = hack$yi, vi = hack$vi, method = method, test = test), rma_values(fit))
  }
  fit <- suppressWarnings(rma(as.numeric(bcg$yi), as.numeric(bcg$vi), method = method, test = "knha", control = ctrl_root))
  add(sprintf("rma_bcg_%s_knha_all", method),
      sprintf("rma(yi, vi, method = \"%s\", test = \"knha\") on dat.bcg log RR", method),
      list(yi = as.numeric(bcg$yi), vi = as.numeric(bcg$vi), method = method, test = "knha"),
      rma_values(fit))
}
# The restricted likelihood need not be unimodal: here it falls from tau^2 = 0, yet an
# interior maximum (reached from metafor's HE start) is higher. Dataset 3256 of the
# benchmark's simulation (benchmarks/batch_vs_metafor.py, seed 20261124).
bimodal <- list(
  yi = c(1.3809481098846257, 0.42803700918011806, 0.52438149899924602, -0.05382860723109173,
         0.22784587348238666, 1.1079219927255637, 1.5757623367173872, 0.48496962415787004,
         -0.095782034324487175, 0.65122241073966824),
  vi = c(0.20652280020999206, 0.045376645249139369, 0.032088045381331171, 0.20661882957798997,
         0.16488564651459581, 0.20230813140008236, 0.22056235424608572, 0.066493508794035802,
         0.12299439046092482, 0.12266245540676027))
add_rma("rma_reml_interior_maximum_knha", bimodal$yi, bimodal$vi, "REML", "knha",
        "REML score negative at 0, interior maximum higher")
add_rma("rma_k1_REML_knha", 0.3, 0.04, "REML", "knha", "k = 1: metafor switches to z")

# Q-profile CI for tau^2 (and the I^2, H^2 and tau bounds it implies).
qp_values <- function(fit) {
  ci <- confint(fit, type = "QP", control = list(tol = 1e-12))$random
  list(tau2 = ci["tau^2", ], tau = ci["tau", ], i2 = ci["I^2(%)", ], h2 = ci["H^2", ])
}
for (data in c("bcg", "hackshaw1998", "normand1999")) {
  d <- switch(data, bcg = bcg, hackshaw1998 = hack, normand1999 = dat)
  fit <- rma(as.numeric(d$yi), as.numeric(d$vi), method = "REML", control = ctrl)
  add(sprintf("qprofile_%s", data),
      sprintf("confint(rma(yi, vi, method = \"REML\"), type = \"QP\", control = list(tol = 1e-12))$random  # dat.%s", data),
      list(yi = as.numeric(d$yi), vi = as.numeric(d$vi), method = "REML"), qp_values(fit))
}

# ---- meta-regression and subgroups with a common tau^2 -------------------------------

mr_values <- function(fit) {
  list(beta = as.numeric(fit$beta), se = fit$se, statistic = fit$zval, pval = fit$pval,
       ci_low = fit$ci.lb, ci_high = fit$ci.ub, tau2 = fit$tau2, i2 = fit$I2, h2 = fit$H2,
       r2 = if (is.null(fit$R2)) NA else fit$R2, qe = fit$QE, qe_p = fit$QEp,
       qm = fit$QM, qm_p = fit$QMp)
}
for (spec in list(c("REML", "knha"), c("REML", "z"), c("ML", "z"), c("DL", "knha"),
                  c("PM", "knha"), c("SJ", "z"), c("REML", "adhoc"), c("EB", "z"))) {
  fit <- rma(yi, vi, mods = ~ ablat + year, data = bcg, method = spec[1], test = spec[2],
             control = ctrl_root)
  add(sprintf("metareg_bcg_ablat_year_%s_%s", spec[1], spec[2]),
      sprintf("rma(yi, vi, mods = ~ ablat + year, data = dat.bcg log RR, method = \"%s\", test = \"%s\")", spec[1], spec[2]),
      list(yi = as.numeric(bcg$yi), vi = as.numeric(bcg$vi), ablat = dat.bcg$ablat,
           year = dat.bcg$year, method = spec[1], test = spec[2]),
      mr_values(fit))
}
for (test in c("knha", "z", "adhoc")) {
  cells <- rma(yi, vi, mods = ~ alloc - 1, data = bcg, method = "REML", test = test, control = ctrl)
  between <- rma(yi, vi, mods = ~ alloc, data = bcg, method = "REML", test = test, control = ctrl)
  add(sprintf("subgroup_common_tau2_bcg_alloc_%s", test),
      sprintf("rma(yi, vi, mods = ~ alloc - 1, test = \"%s\") for the estimates; QM of rma(yi, vi, mods = ~ alloc) for the difference", test),
      list(yi = as.numeric(bcg$yi), vi = as.numeric(bcg$vi), groups = as.character(dat.bcg$alloc),
           test = test),
      list(estimates = mr_values(cells), between = mr_values(between)))
}

# ---- sensitivity: leave-one-out, cumulative, influence, Baujat ------------------------

# leave1out and cumul name the statistic tval under knha and zval otherwise.
stat_of <- function(x) if (is.null(x$zval)) x$tval else x$zval
summary_values <- function(x) {
  list(estimate = x$estimate, se = x$se, statistic = stat_of(x), pval = x$pval,
       ci_low = x$ci.lb, ci_high = x$ci.ub, q = x$Q, q_p = x$Qp, tau2 = x$tau2,
       i2 = x$I2, h2 = x$H2)
}
for (test in c("knha", "adhoc")) {
  sens_fit <- rma(as.numeric(bcg$yi), as.numeric(bcg$vi), method = "REML", test = test, control = ctrl)
  add(sprintf("leave1out_bcg_REML_%s", test),
      sprintf("leave1out(rma(yi, vi, method = \"REML\", test = \"%s\"))  # dat.bcg", test),
      list(yi = as.numeric(bcg$yi), vi = as.numeric(bcg$vi), method = "REML", test = test),
      summary_values(leave1out(sens_fit)))
  add(sprintf("cumul_bcg_year_REML_%s", test),
      sprintf("cumul(rma(yi, vi, method = \"REML\", test = \"%s\"), order = year)  # dat.bcg", test),
      list(yi = as.numeric(bcg$yi), vi = as.numeric(bcg$vi), order = dat.bcg$year, method = "REML", test = test),
      summary_values(cumul(sens_fit, order = dat.bcg$year)))
}
sens_fit <- rma(as.numeric(bcg$yi), as.numeric(bcg$vi), method = "REML", test = "knha", control = ctrl)
for (test in c("knha", "z", "adhoc")) {
  inf_fit <- rma(as.numeric(bcg$yi), as.numeric(bcg$vi), method = "REML", test = test, control = ctrl)
  inf <- influence(inf_fit)
  add(sprintf("influence_bcg_REML_%s", test),
      sprintf("influence(rma(yi, vi, method = \"REML\", test = \"%s\"))  # dat.bcg", test),
      list(yi = as.numeric(bcg$yi), vi = as.numeric(bcg$vi), method = "REML", test = test),
      list(rstudent = inf$inf$rstudent, dffits = inf$inf$dffits, cook_d = inf$inf$cook.d,
           cov_r = inf$inf$cov.r, tau2_del = inf$inf$tau2.del, qe_del = inf$inf$QE.del,
           hat = inf$inf$hat, weight = inf$inf$weight, dfbetas = inf$dfbs$intrcpt,
           influential = inf$is.infl))
}
pdf(NULL)
bj <- baujat(sens_fit)
add("baujat_bcg_REML_knha", "baujat(rma(yi, vi, method = \"REML\", test = \"knha\"))  # dat.bcg; returned x and y",
    list(yi = as.numeric(bcg$yi), vi = as.numeric(bcg$vi), method = "REML", test = "knha"),
    list(heterogeneity_contribution = bj$x, influence_on_estimate = bj$y))

# ---- publication bias --------------------------------------------------------------

for (spec in list(c("bcg", "REML", "knha"), c("hackshaw1998", "REML", "z"), c("hackshaw1998", "DL", "knha"),
                  c("bcg", "REML", "adhoc"), c("hackshaw1998", "REML", "adhoc"))) {
  d <- switch(spec[1], bcg = bcg, hackshaw1998 = hack)
  fit <- rma(as.numeric(d$yi), as.numeric(d$vi), method = spec[2], test = spec[3], control = ctrl)
  eg <- regtest(fit)
  add(sprintf("regtest_%s_%s_%s", spec[1], spec[2], spec[3]),
      sprintf("regtest(rma(yi, vi, method = \"%s\", test = \"%s\"))  # dat.%s, predictor sei", spec[2], spec[3], spec[1]),
      list(yi = as.numeric(d$yi), vi = as.numeric(d$vi), method = spec[2], test = spec[3]),
      list(statistic = eg$zval, pval = eg$pval, limit_estimate = as.numeric(eg$est),
           limit_ci_low = eg$ci.lb, limit_ci_high = eg$ci.ub))
  rk <- ranktest(fit)
  add(sprintf("ranktest_%s_%s_%s", spec[1], spec[2], spec[3]),
      sprintf("ranktest(rma(yi, vi))  # dat.%s, exact Kendall p", spec[1]),
      list(yi = as.numeric(d$yi), vi = as.numeric(d$vi)),
      list(tau = as.numeric(rk$tau), pval = rk$pval))
}
tf_values <- function(tf) {
  pred <- predict(tf)
  list(k0 = tf$k0, se_k0 = tf$se.k0, side = tf$side, estimate = as.numeric(tf$beta), se = tf$se,
       ci_low = tf$ci.lb, ci_high = tf$ci.ub, tau2 = tf$tau2, k = tf$k)
}
# The knha scenarios keep their names; adhoc ones end in _adhoc (nothing is filled for dat.bcg,
# so its result is the adhoc model of the observed studies).
for (spec in list(c("hackshaw1998", "L0", "knha"), c("hackshaw1998", "R0", "knha"), c("bcg", "L0", "knha"),
                  c("normand1999", "L0", "knha"), c("hackshaw1998", "L0", "adhoc"), c("bcg", "L0", "adhoc"))) {
  d <- switch(spec[1], bcg = bcg, hackshaw1998 = hack, normand1999 = dat)
  fit <- rma(as.numeric(d$yi), as.numeric(d$vi), method = "REML", test = spec[3], control = ctrl)
  tf <- trimfill(fit, estimator = spec[2], control = ctrl)
  add(sprintf("trimfill_%s_%s%s", spec[1], spec[2], if (spec[3] == "knha") "" else paste0("_", spec[3])),
      sprintf("trimfill(rma(yi, vi, method = \"REML\", test = \"%s\"), estimator = \"%s\")  # dat.%s", spec[3], spec[2], spec[1]),
      list(yi = as.numeric(d$yi), vi = as.numeric(d$vi), method = "REML", test = spec[3], estimator = spec[2]),
      tf_values(tf))
}

# Edge cases of trimfill: the side forced (both sides of dat.hackshaw1998), the Q0 estimator,
# R0 with nothing to fill, DL and the common-effect model, tied estimates (metafor ranks ties
# "first") and three studies, two of them filled. Where metafor stops (Q0 with
# 2k^2 - 4 Sr + 1/4 < 0: "missing value where TRUE/FALSE needed") the scenario records it.
tf_ties <- data.frame(yi = c(0.10, 0.10, 0.30, 0.30, 0.50, 0.90, 1.20, 1.20),
                      vi = c(0.02, 0.03, 0.02, 0.05, 0.04, 0.06, 0.08, 0.10))
tf_three <- data.frame(yi = c(0.25, 0.2, 1.5), vi = c(0.01, 0.01, 0.3))
for (spec in list(c("hackshaw1998", "L0", "REML", "knha", "left"),
                  c("hackshaw1998", "L0", "REML", "knha", "right"),
                  c("hackshaw1998", "Q0", "REML", "knha", ""), c("normand1999", "Q0", "REML", "knha", ""),
                  c("bcg", "R0", "REML", "knha", ""), c("hackshaw1998", "L0", "DL", "knha", ""),
                  c("hackshaw1998", "R0", "EE", "z", ""), c("ties", "L0", "REML", "knha", ""),
                  c("ties", "R0", "REML", "knha", ""), c("ties", "Q0", "REML", "knha", ""),
                  c("three", "L0", "REML", "knha", ""), c("three", "R0", "REML", "knha", ""),
                  c("three", "Q0", "REML", "knha", ""))) {
  d <- switch(spec[1], bcg = bcg, hackshaw1998 = hack, normand1999 = dat, ties = tf_ties, three = tf_three)
  fit <- rma(as.numeric(d$yi), as.numeric(d$vi), method = spec[3], test = spec[4], control = ctrl)
  side <- if (spec[5] == "") "" else sprintf(", side = \"%s\"", spec[5])
  input <- list(yi = as.numeric(d$yi), vi = as.numeric(d$vi), method = spec[3], test = spec[4],
                estimator = spec[2])
  if (spec[5] != "") input$side <- spec[5]
  values <- tryCatch(
    tf_values(if (spec[5] == "") trimfill(fit, estimator = spec[2], control = ctrl)
              else trimfill(fit, side = spec[5], estimator = spec[2], control = ctrl)),
    error = function(e) list(error = conditionMessage(e)))
  add(sprintf("trimfill_edge_%s_%s_%s%s", spec[1], spec[2], spec[3], if (spec[5] == "") "" else paste0("_", spec[5])),
      sprintf("trimfill(rma(yi, vi, method = \"%s\", test = \"%s\"), estimator = \"%s\"%s)  # %s",
              spec[3], spec[4], spec[2], side, if (spec[1] %in% c("ties", "three")) paste0("tf_", spec[1]) else paste0("dat.", spec[1])),
      input, values)
}

# ---- sparse data: Mantel-Haenszel and Peto -----------------------------------------

yus <- dat.yusuf1985[dat.yusuf1985$table == "6" & complete.cases(dat.yusuf1985), ]  # rows with NA counts dropped
for (data in c("yusuf1985", "sparse")) {
  d <- switch(data, yusuf1985 = data.frame(ai = yus$ai, n1i = yus$n1i, ci = yus$ci, n2i = yus$n2i),
              sparse = sparse)
  for (measure in c("OR", "RR", "RD")) {
    mh <- rma.mh(ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = d, measure = measure)
    add(sprintf("mh_%s_%s", tolower(measure), data),
        sprintf("rma.mh(ai, n1i, ci, n2i, measure = \"%s\")  # %s", measure, data),
        list(events1 = d$ai, n1 = d$n1i, events2 = d$ci, n2 = d$n2i, measure = measure),
        list(estimate = as.numeric(mh$beta), se = mh$se, ci_low = mh$ci.lb, ci_high = mh$ci.ub,
             statistic = mh$zval, pval = mh$pval, q = mh$QE, q_p = mh$QEp, i2 = mh$I2, h2 = mh$H2))
  }
  pt <- rma.peto(ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = d)
  add(sprintf("peto_%s", data), sprintf("rma.peto(ai, n1i, ci, n2i)  # %s", data),
      list(events1 = d$ai, n1 = d$n1i, events2 = d$ci, n2 = d$n2i),
      list(estimate = as.numeric(pt$beta), se = pt$se, ci_low = pt$ci.lb, ci_high = pt$ci.ub,
           statistic = pt$zval, pval = pt$pval, q = pt$QE, q_p = pt$QEp, i2 = pt$I2, h2 = pt$H2))
}

# ---- permutation tests (exact, so deterministic) --------------------------------------

bcg8 <- bcg[1:8, ]
for (test in c("knha", "z")) {
  fit <- rma(yi, vi, data = bcg8, method = "REML", test = test, control = ctrl)
  pt <- permutest(fit, exact = TRUE)
  add(sprintf("permutest_intercept_bcg8_%s", test),
      sprintf("permutest(rma(yi, vi, data = dat.bcg[1:8, ] log RR, method = \"REML\", test = \"%s\"), exact = TRUE)  # 2^8 sign flips", test),
      list(yi = as.numeric(bcg8$yi), vi = as.numeric(bcg8$vi), method = "REML", test = test),
      list(pval = as.numeric(pt$pval), qm_pval = pt$QMp))
  fit <- rma(yi, vi, mods = ~ ablat, data = bcg8, method = "REML", test = test, control = ctrl)
  pt <- permutest(fit, exact = TRUE)
  add(sprintf("permutest_ablat_bcg8_%s", test),
      sprintf("permutest(rma(yi, vi, mods = ~ ablat, data = dat.bcg[1:8, ], method = \"REML\", test = \"%s\"), exact = TRUE)  # 8! row permutations", test),
      list(yi = as.numeric(bcg8$yi), vi = as.numeric(bcg8$vi), ablat = bcg8$ablat, method = "REML", test = test),
      list(pval = as.numeric(pt$pval), qm_pval = pt$QMp))
}

# One of the 5! orders of this moderator fits the estimates perfectly (y = 0.2 x): the
# Knapp-Hartung standard error is 0 there. metafor's z values are infinite there and counted,
# its QM is NA there and dropped (qm_na, of `permutations`). The engine gives an infinity or 0/0
# there depending on the BLAS kernel, and counts both as extreme, QM too.
perfect <- data.frame(yi = c(0.2, 0.8, 0.1, 0.6, 0.4), vi = c(0.03, 0.05, 0.02, 0.06, 0.04),
                      x = c(1.0, 3.0, 0.5, 2.0, 4.0))
fit <- rma(yi, vi, mods = ~ x, data = perfect, method = "REML", test = "knha", control = ctrl)
pt <- permutest(fit, exact = TRUE)
add("permutest_mods_perfect_fit_knha",
    "permutest(rma(yi, vi, mods = ~ x, method = \"REML\", test = \"knha\"), exact = TRUE)  # 5! row permutations, one a perfect fit",
    list(yi = perfect$yi, vi = perfect$vi, mods = perfect$x, method = "REML", test = "knha"),
    list(pval = as.numeric(pt$pval), qm_pval = pt$QMp, qm_na = sum(is.na(pt$QM.perm)),
         permutations = length(pt$QM.perm)))

# ---- the project's data through the diagnostics ------------------------------------

# Per trial (PROTOCOL.md §16): the diagnostics of the model of proj_trials.
proj_fit <- rma(yi, vi, data = proj_trials, method = "REML", test = proj_test, control = ctrl)
project_input <- list(yi = as.numeric(pe$yi), vi = as.numeric(pe$vi), cluster = proj$study_id,
                      method = "REML", test = proj_test)
add("project_leave1out_smd_24h",
    sprintf("leave1out(rma(yi, vi, data = proj_trials, method = \"REML\", test = \"%s\"))  # project SMD at 24 h, per trial", proj_test),
    project_input, summary_values(leave1out(proj_fit)))
peg <- regtest(proj_fit)
add("project_regtest_smd_24h",
    sprintf("regtest(rma(yi, vi, data = proj_trials, method = \"REML\", test = \"%s\"))  # project SMD at 24 h, per trial", proj_test),
    project_input,
    list(statistic = peg$zval, pval = peg$pval, limit_estimate = as.numeric(peg$est),
         limit_ci_low = peg$ci.lb, limit_ci_high = peg$ci.ub))
add("project_qprofile_smd_24h",
    "confint(rma(yi, vi, data = proj_trials, method = \"REML\"), type = \"QP\", control = list(tol = 1e-12))$random  # project, per trial",
    project_input[c("yi", "vi", "cluster", "method")], qp_values(proj_fit))

doc <- list(
  generated_by = "tests/reference/make_metafor_references.R",
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  scenarios = unname(scenarios)
)
writeLines(toJSON(doc, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"), out_path)
cat(sprintf("wrote %d scenarios to %s\n", length(scenarios), out_path))
