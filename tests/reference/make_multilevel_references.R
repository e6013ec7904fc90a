# Reference values from R's metafor for the time-course (multivariate) model tests
# (tests/test_multilevel_parity.py).
#
# Usage (from the repository root):
#   Rscript tests/reference/make_multilevel_references.R [OUTPUT.json]
# Default output: tests/reference/multilevel_reference.json; `.ci/run` regenerates it and
# fails if it differs from the committed file.
#
# dat.ishak2007 (deep-brain stimulation, UPDRS change at up to four follow-ups) in long
# format, the sampling covariance from vcalc(phi = 0.97) as in metafor's documentation, and
#   rma.mv(yi, V, mods = ~ factor(time) - 1, random = ~ time | study, struct = "AR" / "HAR")
# by REML and ML. BFGS at reltol 1e-15: nlminb's default stops with tau^2 off in the 6th
# digit and fails to converge when its tolerance is tightened.

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
out_path <- if (length(args) >= 1) args[[1]] else "tests/reference/multilevel_reference.json"
ctrl <- list(optimizer = "BFGS", reltol = 1e-15)

dat <- reshape(dat.ishak2007, direction = "long", idvar = "study", v.names = c("yi", "vi"),
               varying = list(c(2, 4, 6, 8), c(3, 5, 7, 9)))
dat <- dat[order(dat$study, dat$time), ]
dat <- dat[!is.na(dat$yi), ]
phi <- 0.97
V <- vcalc(vi, cluster = study, time1 = time, phi = phi, data = dat)

scenarios <- list()
for (struct in c("AR", "HAR")) for (method in c("REML", "ML")) {
  fit <- rma.mv(yi, V, mods = ~ factor(time) - 1, random = ~ time | study, struct = struct,
                data = dat, method = method, control = ctrl)
  id <- paste("ishak2007", tolower(struct), tolower(method), sep = "_")
  scenarios[[id]] <- list(
    id = id,
    r_call = sprintf(paste("rma.mv(yi, vcalc(vi, cluster = study, time1 = time, phi = 0.97),",
                           "mods = ~ factor(time) - 1, random = ~ time | study,",
                           "struct = \"%s\", method = \"%s\", data = dat.ishak2007 long)"),
                     struct, method),
    input = list(study = as.character(dat$study), time = dat$time, yi = dat$yi, vi = dat$vi,
                 phi = phi, structure = struct, method = method),
    values = list(estimate = as.numeric(coef(fit)), se = fit$se, ci_low = fit$ci.lb,
                  ci_high = fit$ci.ub, zval = fit$zval, pval = fit$pval, tau2 = fit$tau2, rho = fit$rho,
                  logLik = as.numeric(logLik(fit)), q = fit$QE, q_df = fit$k - fit$p,
                  q_p = fit$QEp))
}

# The autocorrelation fixed (metafor's rho = value), as the time-course model's primary and
# sensitivity fits fix it (PROTOCOL.md §19): only tau^2 is estimated.
for (rho in c(1, 0.5, 0)) for (method in c("REML", "ML")) {
  fit <- rma.mv(yi, V, mods = ~ factor(time) - 1, random = ~ time | study, struct = "AR",
                rho = rho, data = dat, method = method, control = ctrl)
  id <- sprintf("ishak2007_ar_rho%g_%s", rho, tolower(method))
  scenarios[[id]] <- list(
    id = id,
    r_call = sprintf(paste("rma.mv(yi, vcalc(vi, cluster = study, time1 = time, phi = 0.97),",
                           "mods = ~ factor(time) - 1, random = ~ time | study,",
                           "struct = \"AR\", rho = %g, method = \"%s\", data = dat.ishak2007 long)"),
                     rho, method),
    input = list(study = as.character(dat$study), time = dat$time, yi = dat$yi, vi = dat$vi,
                 phi = phi, structure = "AR", method = method, rho = rho),
    values = list(estimate = as.numeric(coef(fit)), se = fit$se, ci_low = fit$ci.lb,
                  ci_high = fit$ci.ub, zval = fit$zval, pval = fit$pval, tau2 = fit$tau2, rho = fit$rho,
                  logLik = as.numeric(logLik(fit)), q = fit$QE, q_df = fit$k - fit$p,
                  q_p = fit$QEp))
}

doc <- list(
  generated_by = "tests/reference/make_multilevel_references.R",
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  scenarios = unname(scenarios)
)
writeLines(toJSON(doc, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"), out_path)
cat(sprintf("wrote %d scenarios to %s\n", length(scenarios), out_path))
