# Reference values from R's metafor for tests/test_cli_metafor.py: the command line
# (`ketamine-meta pool`, `escalc`) run as a metafor user runs rma() and escalc(), on data sets
# of metafor's that no other test uses (dat.raudenbush1985, dat.bangertdrowns2004,
# dat.molloy2014, dat.debruin2009, dat.li2007, dat.curtis1998, dat.hart1999,
# dat.collins1985b), and a synthetic pre-post data set for the standardized mean changes.
#
# Usage (from the repository root):
#   Rscript tests/reference/make_cli_references.R [OUTPUT.json]
# Default output: tests/reference/cli_reference.json. `.ci/run` regenerates the file into a
# temporary path and fails if it differs from the committed one.
#
# Every scenario holds the input rows as the CLI reads them, the command-line arguments and
# the R call beside the values. Iterative fits use control = list(threshold = 1e-10), and the
# root-finding PM uses tol = 1e-12 (uniroot's default is .Machine$double.eps^0.25 ~ 1e-4), so
# that the reference is converged far below the 1e-6 tolerance of the tests.

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
out_path <- if (length(args) >= 1) args[[1]] else "tests/reference/cli_reference.json"
ctrl <- list(threshold = 1e-10, maxiter = 10000, tol = 1e-12)

scenarios <- list()
add <- function(id, r_call, cli_args, input, values) {
  scenarios[[id]] <<- list(id = id, r_call = r_call, cli_args = cli_args, input = input,
                           values = values)
}

pooled_values <- function(fit, transf = NULL, ...) {
  pred <- if (is.null(transf)) predict(fit) else predict(fit, transf = transf, ...)
  values <- list(
    k = fit$k, estimate = as.numeric(pred$pred),
    ci_low = as.numeric(pred$ci.lb), ci_high = as.numeric(pred$ci.ub),
    pi_low = as.numeric(if (is.null(pred$pi.lb)) pred$ci.lb else pred$pi.lb),
    pi_high = as.numeric(if (is.null(pred$pi.ub)) pred$ci.ub else pred$pi.ub),
    pval = fit$pval, tau2 = fit$tau2, i2 = fit$I2, q = fit$QE, q_p = fit$QEp,
    weights = as.numeric(weights(fit))
  )
  if (is.null(transf)) values$se <- fit$se
  values
}

regression_values <- function(fit) {
  list(
    term = rownames(fit$beta), estimate = as.numeric(fit$beta), se = fit$se,
    statistic = fit$zval, pval = fit$pval, ci_low = fit$ci.lb, ci_high = fit$ci.ub,
    k = fit$k, p = fit$p, tau2 = fit$tau2, i2 = fit$I2, h2 = fit$H2,
    r2 = if (is.null(fit$R2)) NA else fit$R2,
    qe = fit$QE, qe_p = fit$QEp, qm = fit$QM, qm_p = fit$QMp,
    weights = as.numeric(weights(fit))
  )
}

methods <- c("REML", "ML", "DL", "PM", "SJ", "EB", "HE", "HS", "HSk", "EE", "FE")

# 1. Every estimator, with metafor's default test (z) and with Knapp-Hartung.
raud <- dat.raudenbush1985
raud_input <- list(yi = raud$yi, vi = raud$vi, weeks = raud$weeks, setting = raud$setting)
for (method in methods) {
  for (test in c("z", "knha")) {
    fit <- suppressWarnings(rma(yi, vi, data = raud, method = method, test = test,
                                control = ctrl))
    add(sprintf("pool_raudenbush1985_%s_%s", method, test),
        sprintf("rma(yi, vi, data = dat.raudenbush1985, method = \"%s\", test = \"%s\")",
                method, test),
        c("--method", method, "--test", test), raud_input, pooled_values(fit))
  }
}

# 2. rma()'s defaults (REML, z) from the command line's defaults.
fit <- rma(yi, vi, data = dat.bangertdrowns2004, control = ctrl)
bangert_input <- list(yi = dat.bangertdrowns2004$yi, vi = dat.bangertdrowns2004$vi,
                      length = dat.bangertdrowns2004$length,
                      grade = dat.bangertdrowns2004$grade)
add("pool_bangertdrowns2004_defaults", "rma(yi, vi, data = dat.bangertdrowns2004)",
    character(0), bangert_input, pooled_values(fit))

# 3. Meta-regression: a numeric moderator with two missing values (na.omit), a factor.
for (method in c("REML", "DL", "HE", "HS", "HSk", "EE")) {
  for (test in c("z", "knha")) {
    fit <- suppressWarnings(rma(yi, vi, mods = ~ length, data = dat.bangertdrowns2004,
                                method = method, test = test, control = ctrl))
    add(sprintf("mods_bangertdrowns2004_length_%s_%s", method, test),
        sprintf("rma(yi, vi, mods = ~ length, data = dat.bangertdrowns2004, method = \"%s\", test = \"%s\")  # 2 rows omitted (NA)",
                method, test),
        c("--mods", "length", "--method", method, "--test", test), bangert_input,
        regression_values(fit))
  }
}
fit <- rma(yi, vi, mods = ~ weeks + setting, data = raud, control = ctrl)
add("mods_raudenbush1985_weeks_setting_REML_z",
    "rma(yi, vi, mods = ~ weeks + setting, data = dat.raudenbush1985)",
    c("--mods", "weeks", "setting"), raud_input, regression_values(fit))

# 4. Back-transformation: Fisher's z to r, logit and Freeman-Tukey to proportions, log OR.
molloy <- escalc(measure = "ZCOR", ri = ri, ni = ni, data = dat.molloy2014)
fit <- rma(yi, vi, data = molloy, control = ctrl)
add("transf_molloy2014_ztor",
    "predict(rma(yi, vi, data = escalc(\"ZCOR\", ri = ri, ni = ni, data = dat.molloy2014)), transf = transf.ztor)",
    c("--transf", "ztor"), list(yi = molloy$yi, vi = molloy$vi),
    pooled_values(fit, transf = transf.ztor))

debruin_plo <- escalc(measure = "PLO", xi = xi, ni = ni, data = dat.debruin2009)
fit <- rma(yi, vi, data = debruin_plo, control = ctrl)
add("transf_debruin2009_ilogit",
    "predict(rma(yi, vi, data = escalc(\"PLO\", xi = xi, ni = ni, data = dat.debruin2009)), transf = transf.ilogit)",
    c("--transf", "ilogit"), list(yi = debruin_plo$yi, vi = debruin_plo$vi),
    pooled_values(fit, transf = transf.ilogit))

debruin_pft <- escalc(measure = "PFT", xi = xi, ni = ni, data = dat.debruin2009)
fit <- rma(yi, vi, data = debruin_pft, control = ctrl)
add("transf_debruin2009_ipft_hm",
    "predict(rma(yi, vi, data = escalc(\"PFT\", xi = xi, ni = ni, data = dat.debruin2009)), transf = transf.ipft.hm, targs = list(ni = dat.debruin2009$ni))",
    c("--transf", "ipft.hm", "--ni", "ni"),
    list(yi = debruin_pft$yi, vi = debruin_pft$vi, ni = dat.debruin2009$ni),
    pooled_values(fit, transf = transf.ipft.hm, targs = list(ni = dat.debruin2009$ni)))

li <- escalc(measure = "OR", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = dat.li2007)
fit <- rma(yi, vi, data = li, method = "EE")
add("transf_li2007_exp_EE",
    "predict(rma(yi, vi, data = escalc(\"OR\", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = dat.li2007), method = \"EE\"), transf = exp)",
    c("--method", "EE", "--transf", "exp"), list(yi = li$yi, vi = li$vi),
    pooled_values(fit, transf = exp))

# 5. escalc, each measure added for the command line, on a data set of its kind; the CLI's
# input keeps the data set's own columns (mapped onto metafor's names where they differ).
escalc_values <- function(es) list(yi = as.numeric(es$yi), vi = as.numeric(es$vi))
curtis <- dat.curtis1998[, c("paper", "m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")]
for (measure in c("MD", "ROM")) {
  add(sprintf("escalc_curtis1998_%s", measure),
      sprintf("escalc(measure = \"%s\", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i, data = dat.curtis1998)", measure),
      c("--measure", measure), as.list(curtis),
      escalc_values(escalc(measure = measure, m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i,
                           sd2i = sd2i, n2i = n2i, data = curtis)))
}
# metafor's vtype options of the measures of means: SMD (LS, LS2, UB, AV) and MD (HO).
for (vtype in c("LS", "LS2", "UB", "AV")) {
  add(sprintf("escalc_curtis1998_SMD_%s", vtype),
      sprintf("escalc(measure = \"SMD\", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i, data = dat.curtis1998, vtype = \"%s\")", vtype),
      c("--measure", "SMD", "--vtype", vtype), as.list(curtis),
      escalc_values(escalc(measure = "SMD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i,
                           sd2i = sd2i, n2i = n2i, data = curtis, vtype = vtype)))
}
add("escalc_curtis1998_MD_HO",
    "escalc(measure = \"MD\", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i, data = dat.curtis1998, vtype = \"HO\")",
    c("--measure", "MD", "--vtype", "HO"), as.list(curtis),
    escalc_values(escalc(measure = "MD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i,
                         sd2i = sd2i, n2i = n2i, data = curtis, vtype = "HO")))
for (vtype in c("HO", "AV", "AVHO")) {
  add(sprintf("escalc_curtis1998_ROM_%s", vtype),
      sprintf("escalc(measure = \"ROM\", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i, data = dat.curtis1998, vtype = \"%s\")", vtype),
      c("--measure", "ROM", "--vtype", vtype), as.list(curtis),
      escalc_values(escalc(measure = "ROM", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i,
                           sd2i = sd2i, n2i = n2i, data = curtis, vtype = vtype)))
}
li_in <- dat.li2007[, c("study", "ai", "n1i", "ci", "n2i")]
for (vtype in c("UB", "AV")) {
  add(sprintf("escalc_li2007_RD_%s", vtype),
      sprintf("escalc(measure = \"RD\", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = dat.li2007, vtype = \"%s\")", vtype),
      c("--measure", "RD", "--vtype", vtype), as.list(li_in),
      escalc_values(escalc(measure = "RD", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = li_in,
                           vtype = vtype)))
}
molloy_in <- dat.molloy2014[, c("authors", "year", "ni", "ri")]
for (measure in c("COR", "ZCOR")) {
  add(sprintf("escalc_molloy2014_%s", measure),
      sprintf("escalc(measure = \"%s\", ri = ri, ni = ni, data = dat.molloy2014)", measure),
      c("--measure", measure), as.list(molloy_in),
      escalc_values(escalc(measure = measure, ri = ri, ni = ni, data = molloy_in)))
}
# The first study's events set to 0 and the second's to all: metafor's default correction
# (add = 1/2, to = "only0") applies to PR and PLN, not to PAS.
debruin_in <- dat.debruin2009[, c("author", "year", "xi", "ni")]
debruin_in$xi[1] <- 0
debruin_in$xi[2] <- debruin_in$ni[2]
for (measure in c("PR", "PLN", "PAS")) {
  add(sprintf("escalc_debruin2009_%s", measure),
      sprintf("escalc(measure = \"%s\", xi = xi, ni = ni, data = dat.debruin2009)  # xi[1] <- 0, xi[2] <- ni[2]", measure),
      c("--measure", measure, "--xi", "events", "--ni", "total"),
      list(author = debruin_in$author, year = debruin_in$year, events = debruin_in$xi,
           total = debruin_in$ni),
      escalc_values(escalc(measure = measure, xi = xi, ni = ni, data = debruin_in)))
}
for (measure_vtype in list(c("PR", "UB"), c("PR", "AV"), c("PLN", "AV"), c("PLO", "AV"))) {
  measure <- measure_vtype[1]; vtype <- measure_vtype[2]
  add(sprintf("escalc_debruin2009_%s_%s", measure, vtype),
      sprintf("escalc(measure = \"%s\", xi = xi, ni = ni, data = dat.debruin2009, vtype = \"%s\")  # xi[1] <- 0, xi[2] <- ni[2]", measure, vtype),
      c("--measure", measure, "--xi", "events", "--ni", "total", "--vtype", vtype),
      list(author = debruin_in$author, year = debruin_in$year, events = debruin_in$xi,
           total = debruin_in$ni),
      escalc_values(escalc(measure = measure, xi = xi, ni = ni, data = debruin_in, vtype = vtype)))
}
for (vtype in c("AV")) {
  add(sprintf("escalc_molloy2014_COR_%s", vtype),
      sprintf("escalc(measure = \"COR\", ri = ri, ni = ni, data = dat.molloy2014, vtype = \"%s\")", vtype),
      c("--measure", "COR", "--vtype", vtype), as.list(molloy_in),
      escalc_values(escalc(measure = "COR", ri = ri, ni = ni, data = molloy_in, vtype = vtype)))
}
hart_in <- dat.hart1999[, c("study", "x1i", "t1i", "x2i", "t2i")]
hart_in$x1i[1] <- 0
add("escalc_hart1999_IRR",
    "escalc(measure = \"IRR\", x1i = x1i, t1i = t1i, x2i = x2i, t2i = t2i, data = dat.hart1999)  # x1i[1] <- 0",
    c("--measure", "IRR"), as.list(hart_in),
    escalc_values(escalc(measure = "IRR", x1i = x1i, t1i = t1i, x2i = x2i, t2i = t2i,
                         data = hart_in)))

# PETO on the pre-eclampsia trials of dat.collins1985b (their own column names, mapped onto
# metafor's); the last trial's control events set to 0, so that the default correction
# (add = 1/2 to every cell of a table with a zero cell) is exercised.
collins_in <- dat.collins1985b[, c("author", "year", "pre.nti", "pre.nci", "pre.xti", "pre.xci")]
names(collins_in) <- c("author", "year", "n_diuretic", "n_control", "events_diuretic",
                       "events_control")
collins_in$events_control[nrow(collins_in)] <- 0
for (to in c("only0", "none")) {
  add(sprintf("escalc_collins1985b_PETO_%s", to),
      sprintf("escalc(measure = \"PETO\", ai = pre.xti, n1i = pre.nti, ci = pre.xci, n2i = pre.nci, data = dat.collins1985b, to = \"%s\")  # last pre.xci <- 0", to),
      c("--measure", "PETO", "--ai", "events_diuretic", "--n1i", "n_diuretic",
        "--ci", "events_control", "--n2i", "n_control", "--to", to),
      as.list(collins_in),
      escalc_values(escalc(measure = "PETO", ai = events_diuretic, n1i = n_diuretic,
                           ci = events_control, n2i = n_control, data = collins_in, to = to)))
}
# SMCC and SMCR, with both vtypes. metafor's data sets of this version hold no pre-post means
# with their correlation (dat.morris2008 is not in Debian's metafor/metadat), so the input is
# synthetic, drawn here with a fixed seed: single-group studies measured twice.
set.seed(2008)
k_change <- 8
change_in <- data.frame(study = sprintf("study %d", seq_len(k_change)),
                        ni = sample(8:60, k_change),
                        m_post = round(rnorm(k_change, 24, 4), 1),
                        m_pre = round(rnorm(k_change, 30, 4), 1),
                        sd_post = round(runif(k_change, 4, 9), 2),
                        sd_pre = round(runif(k_change, 4, 9), 2),
                        r_pre_post = round(runif(k_change, 0.2, 0.9), 2))
for (measure in c("SMCC", "SMCR")) {
  for (vtype in c("LS", "LS2")) {
    es <- escalc(measure = measure, m1i = m_post, m2i = m_pre, sd1i = sd_post, sd2i = sd_pre,
                 ni = ni, ri = r_pre_post, data = change_in, vtype = vtype)
    add(sprintf("escalc_synthetic_prepost_%s_%s", measure, vtype),
        sprintf("escalc(measure = \"%s\", m1i = m_post, m2i = m_pre, sd1i = sd_post, sd2i = sd_pre, ni = ni, ri = r_pre_post, data = change_in, vtype = \"%s\")  # change_in: set.seed(2008), see above", measure, vtype),
        c("--measure", measure, "--m1i", "m_post", "--m2i", "m_pre", "--sd1i", "sd_post",
          "--sd2i", "sd_pre", "--ri", "r_pre_post", "--vtype", vtype),
        as.list(change_in), escalc_values(es))
  }
}

doc <- list(
  generated_by = "tests/reference/make_cli_references.R",
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  scenarios = unname(scenarios)
)
writeLines(toJSON(doc, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"), out_path)
cat(sprintf("wrote %d scenarios to %s\n", length(scenarios), out_path))
