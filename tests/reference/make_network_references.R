# Reference values from R's metafor for the network meta-analysis tests
# (tests/test_network_parity.py).
#
# Usage (from the repository root):
#   Rscript tests/reference/make_network_references.R [OUTPUT.json]
# Default output: tests/reference/network_reference.json. `.ci/run` regenerates it into a
# temporary path and fails if it differs from the committed file.
#
# The model is metafor's contrast-based network meta-analysis (the metafor website's
# analyses of Senn 2013 and Hasselblad 1998):
#   rma.mv(yi, V, mods = ~ <treatment columns> - 1, random = ~ comp | study, rho = 1/2)
# one common tau^2, random effects of two contrasts of one trial correlated 1/2, V the
# sampling covariance of each trial's contrasts against its baseline arm (the baseline arm's
# variance off the diagonal). The Python side receives every pairwise contrast (yi, vi) of
# each trial and back-calculates the arm variances; here the arm variances are used
# directly, so the two sides meet only in the fitted numbers.
#
# nlminb is run to rel.tol = 1e-14 (its default 1e-10 on the objective leaves tau^2 off in
# the 7th digit), so that the reference converges far below the tests' tolerance of 1e-6.

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

# Treatments sorted by code point, as Python sorts them (a locale would put "rMAO-A" among
# the R's).
invisible(Sys.setlocale("LC_COLLATE", "C"))

args <- commandArgs(trailingOnly = TRUE)
out_path <- if (length(args) >= 1) args[[1]] else "tests/reference/network_reference.json"
ctrl <- list(optimizer = "BFGS", reltol = 1e-15)

# Arm-level data -> every pairwise contrast of each trial (treat1 minus treat2), as the
# Python engine and the `ketamine-meta nma` CLI take them.
pairwise_contrasts <- function(arms) {
  out <- list()
  for (s in unique(arms$study)) {
    a <- arms[arms$study == s, ]
    for (i in seq_len(nrow(a) - 1)) for (j in (i + 1):nrow(a)) {
      out[[length(out) + 1]] <- data.frame(
        study = s, treat1 = a$trt[j], treat2 = a$trt[i],
        yi = a$y[j] - a$y[i], vi = a$v[j] + a$v[i])
    }
  }
  do.call(rbind, out)
}

# Basic contrasts of each trial against its baseline arm (the reference if the trial has it,
# else its first arm), with the block-diagonal sampling covariance V.
basic_contrasts <- function(arms, reference) {
  rows <- list(); blocks <- list()
  for (s in unique(arms$study)) {
    a <- arms[arms$study == s, ]
    base <- if (reference %in% a$trt) which(a$trt == reference) else 1
    others <- setdiff(seq_len(nrow(a)), base)
    rows[[length(rows) + 1]] <- data.frame(
      study = s, treat1 = a$trt[others], treat2 = a$trt[base],
      yi = a$y[others] - a$y[base], vi = a$v[others] + a$v[base])
    v <- matrix(a$v[base], length(others), length(others))
    diag(v) <- a$v[others] + a$v[base]
    blocks[[length(blocks) + 1]] <- v
  }
  dat <- do.call(rbind, rows)
  dat$comp <- paste(dat$treat1, dat$treat2, sep = "-")
  list(dat = dat, V = bldiag(blocks))
}

design_matrix <- function(dat, treatments) {
  X <- sapply(treatments, function(t) (dat$treat1 == t) - (dat$treat2 == t))
  matrix(X, nrow = nrow(dat), dimnames = list(NULL, treatments))
}

fit_network <- function(dat, V, X, method) {
  rma.mv(dat$yi, V, mods = X, intercept = FALSE, random = ~ comp | study, rho = 1 / 2,
         data = dat, method = method, control = ctrl)
}

# Fixed-effect Q of each design (the set of treatments a trial compares), summed: the
# within-design part of Q; the rest of the consistency model's Q is between designs.
within_design_q <- function(dat, V, arms) {
  design <- tapply(arms$trt, arms$study, function(t) paste(sort(t), collapse = ":"))
  dat$design <- design[as.character(dat$study)]
  q <- 0; df <- 0
  for (d in unique(dat$design)) {
    idx <- which(dat$design == d)
    if (length(unique(dat$study[idx])) < 2) next
    sub <- dat[idx, ]
    Xd <- sapply(unique(sub$comp), function(cmp) as.numeric(sub$comp == cmp))
    Xd <- matrix(Xd, nrow = nrow(sub))
    fit <- rma.mv(sub$yi, V[idx, idx], mods = Xd, intercept = FALSE, method = "FE")
    q <- q + fit$QE; df <- df + fit$k - fit$p
  }
  list(q = q, df = df)
}

# Node-splitting: the comparison's own rows in the trials that make it (each trial
# re-based on `first`) get a parameter of their own; it is the direct minus the indirect
# estimate of second minus first.
node_split <- function(arms, treatments, reference, first, second, method) {
  direct_studies <- unique(arms$study[arms$trt == first])
  direct_studies <- intersect(direct_studies, arms$study[arms$trt == second])
  rows <- list(); blocks <- list()
  for (s in unique(arms$study)) {
    a <- arms[arms$study == s, ]
    base_trt <- if (s %in% direct_studies) first else if (reference %in% a$trt) reference else a$trt[1]
    base <- which(a$trt == base_trt)
    others <- setdiff(seq_len(nrow(a)), base)
    rows[[length(rows) + 1]] <- data.frame(
      study = s, treat1 = a$trt[others], treat2 = a$trt[base],
      yi = a$y[others] - a$y[base])
    v <- matrix(a$v[base], length(others), length(others))
    diag(v) <- a$v[others] + a$v[base]
    blocks[[length(blocks) + 1]] <- v
  }
  dat <- do.call(rbind, rows)
  dat$comp <- paste(dat$treat1, dat$treat2, sep = "-")
  X <- design_matrix(dat, treatments)
  split <- as.numeric(dat$study %in% direct_studies & dat$treat1 == second & dat$treat2 == first)
  fit <- rma.mv(dat$yi, bldiag(blocks), mods = cbind(X, split = split), intercept = FALSE,
                random = ~ comp | study, rho = 1 / 2, data = dat, method = method,
                control = ctrl)
  contrast <- (treatments == second) - (treatments == first)
  L_ind <- c(contrast, 0); L_dir <- c(contrast, 1)
  b <- as.numeric(fit$beta); vb <- fit$vb
  list(first = first, second = second, k_direct = length(direct_studies),
       direct = sum(L_dir * b), direct_se = sqrt(as.numeric(t(L_dir) %*% vb %*% L_dir)),
       indirect = sum(L_ind * b), indirect_se = sqrt(as.numeric(t(L_ind) %*% vb %*% L_ind)),
       difference = b[length(b)], difference_se = sqrt(vb[length(b), length(b)]),
       pval = fit$pval[length(b)], tau2 = fit$tau2)
}

network_values <- function(arms, reference, method, splits) {
  treatments <- setdiff(sort(unique(arms$trt)), reference)
  bc <- basic_contrasts(arms, reference)
  X <- design_matrix(bc$dat, treatments)
  fit <- fit_network(bc$dat, bc$V, X, method)
  pred <- predict(fit, newmods = diag(length(treatments)))
  all_trt <- c(reference, treatments)
  b <- c(0, as.numeric(fit$beta)); vb <- rbind(0, cbind(0, fit$vb))
  league_est <- outer(b, b, "-")
  league_se <- sqrt(outer(diag(vb), diag(vb), "+") - 2 * vb)
  # P-scores (Rucker and Schwarzer 2015), larger effects better.
  p <- pnorm(league_est / ifelse(league_se > 0, league_se, Inf))
  diag(p) <- NA
  pscore <- rowMeans(p, na.rm = TRUE)
  within <- within_design_q(bc$dat, bc$V, arms)
  list(
    treatments = treatments, estimate = as.numeric(fit$beta), se = fit$se,
    ci_low = fit$ci.lb, ci_high = fit$ci.ub, pi_low = pred$pi.lb, pi_high = pred$pi.ub,
    tau2 = fit$tau2, q = fit$QE, q_df = fit$k - fit$p, q_p = fit$QEp,
    q_within = within$q, q_within_df = within$df,
    q_between = fit$QE - within$q, q_between_df = (fit$k - fit$p) - within$df,
    logLik = as.numeric(logLik(fit)),
    league_treatments = all_trt, league_estimate = league_est, league_se = league_se,
    pscore = as.numeric(pscore),
    splits = lapply(splits, function(s) node_split(arms, treatments, reference, s[1], s[2], method))
  )
}

scenarios <- list()
add <- function(id, r_call, arms, reference, method, splits) {
  contrasts <- pairwise_contrasts(arms)
  scenarios[[id]] <<- list(
    id = id, r_call = r_call,
    input = list(study = contrasts$study, treat1 = contrasts$treat1, treat2 = contrasts$treat2,
                 yi = contrasts$yi, vi = contrasts$vi, reference = reference, method = method),
    values = network_values(arms, reference, method, splits))
}

# dat.senn2013: 26 trials of glucose-lowering drugs, mean change in HbA1c (one three-arm trial).
senn <- dat.senn2013
senn_arms <- data.frame(study = as.character(senn$study), trt = as.character(senn$treatment),
                        y = senn$mi, v = senn$sdi^2 / senn$ni)
senn_call <- paste("rma.mv(yi, V, mods = ~ acar + benf + ... - 1, random = ~ comp | study,",
                   "rho = 1/2, method = \"%s\", data = contrasts of dat.senn2013)")
senn_splits <- list(c("placebo", "metformin"), c("placebo", "rosiglitazone"),
                    c("metformin", "sulfonylurea"))
for (m in c("REML", "ML")) {
  add(paste0("senn2013_", tolower(m)), sprintf(senn_call, m), senn_arms, "placebo", m, senn_splits)
}

# dat.hasselblad1998: 24 trials of smoking-cessation counselling, log odds of abstinence per
# arm (1/2 added to every cell of a trial with a zero count), two three-arm trials.
hb <- dat.hasselblad1998
zero <- tapply(hb$xi == 0 | hb$xi == hb$ni, hb$study, any)
cc <- ifelse(zero[as.character(hb$study)], 0.5, 0)
hb_arms <- data.frame(study = as.character(hb$study), trt = as.character(hb$trt),
                      y = log((hb$xi + cc) / (hb$ni - hb$xi + cc)),
                      v = 1 / (hb$xi + cc) + 1 / (hb$ni - hb$xi + cc))
hb_call <- paste("rma.mv(yi, V, mods = ~ grp_counseling + ind_counseling + self_help - 1,",
                 "random = ~ comp | study, rho = 1/2, method = \"%s\",",
                 "data = log-odds-ratio contrasts of dat.hasselblad1998)")
hb_splits <- list(c("no_contact", "ind_counseling"), c("no_contact", "self_help"),
                  c("no_contact", "grp_counseling"), c("ind_counseling", "grp_counseling"))
for (m in c("REML", "ML")) {
  add(paste0("hasselblad1998_", tolower(m)), sprintf(hb_call, m), hb_arms, "no_contact", m,
      hb_splits)
}

# --- The command line (`ketamine-meta nma`, tests/test_cli_network.py) ----------------------
# Two data sets no other test uses, in the two forms users bring: arm-level rows (as
# netmeta's pairwise() takes them) and each trial's m - 1 contrasts against its baseline arm
# with their covariance (metafor's V). Every comparison with direct and indirect evidence
# is node-split: those whose split design [X, split] has full column rank.

splittable <- function(arms, treatments, reference) {
  pairs <- list()
  all_trt <- c(reference, treatments)
  for (i in seq_along(all_trt)) for (j in seq_along(all_trt)) {
    if (j <= i) next
    first <- all_trt[min(i, j)]; second <- all_trt[max(i, j)]
    direct <- intersect(arms$study[arms$trt == first], arms$study[arms$trt == second])
    if (length(direct) == 0) next
    rows <- list()
    for (s in unique(arms$study)) {
      a <- arms[arms$study == s, ]
      base_trt <- if (s %in% direct) first else if (reference %in% a$trt) reference else a$trt[1]
      others <- a$trt[a$trt != base_trt]
      rows[[length(rows) + 1]] <- data.frame(study = s, treat1 = others, treat2 = base_trt)
    }
    dat <- do.call(rbind, rows)
    X <- design_matrix(dat, treatments)
    split <- as.numeric(dat$study %in% direct & dat$treat1 == second & dat$treat2 == first)
    if (qr(cbind(X, split))$rank == ncol(X) + 1) pairs[[length(pairs) + 1]] <- c(first, second)
  }
  pairs
}

# BFGS at reltol 1e-15 stops where the restricted likelihood is flat to its own precision:
# on dat.dogliotti2014 tau^2 = 0.02259416073 against the 0.02259416646 the Python side finds
# as the root of the score, whose log-likelihood is the higher (by 1e-14). The effects then
# differ by up to 5e-8, within the tests' 1e-6.

cli_scenarios <- list()
add_cli <- function(id, r_call, cli_args, input, arms, reference, method) {
  treatments <- setdiff(sort(unique(arms$trt)), reference)
  splits <- splittable(arms, treatments, reference)
  cli_scenarios[[id]] <<- list(id = id, r_call = r_call, cli_args = cli_args, input = input,
                               values = network_values(arms, reference, method, splits))
}

# Arm effects on the log odds scale, 1/2 added to every arm of a trial with an arm of no
# events or only events (netmeta's pairwise(incr = 0.5)).
log_odds_arms <- function(study, trt, events, n) {
  extreme <- tapply(events == 0 | events == n, study, any)
  cc <- ifelse(extreme[as.character(study)], 0.5, 0)
  data.frame(study = as.character(study), trt = as.character(trt),
             y = log((events + cc) / (n - events + cc)), v = 1 / (events + cc) + 1 / (n - events + cc))
}

# dat.dogliotti2014: 20 trials of antithrombotics in atrial fibrillation, strokes per arm.
dog <- dat.dogliotti2014
dog_arms <- log_odds_arms(dog$study, dog$treatment, dog$stroke, dog$total)
for (m in c("REML", "ML")) {
  add_cli(paste0("cli_dogliotti2014_arms_", tolower(m)),
          sprintf(paste("rma.mv(yi, V, mods = ~ <treatments> - 1, random = ~ comp | study,",
                        "rho = 1/2, method = \"%s\") on the log odds ratios of dat.dogliotti2014"), m),
          c("--arms", "--measure", "OR", "--columns", "event=stroke,n=total",
            "--reference", "Placebo/Control", "--method", m),
          list(study = dog$study, treatment = dog$treatment, stroke = dog$stroke,
               total = dog$total),
          dog_arms, "Placebo/Control", m)
}

# dat.linde2015: 66 trials of antidepressants, responders per arm (wide: up to three arms);
# arms without a response count are left out, and trials left with one arm.
lin <- dat.linde2015
long <- do.call(rbind, lapply(1:3, function(j) data.frame(
  study = paste(lin$author, lin$year, lin$id), arm = j, trt = lin[[paste0("treatment", j)]],
  resp = lin[[paste0("resp", j)]], n = lin[[paste0("n", j)]])))
long <- long[long$trt != "" & !is.na(long$resp) & !is.na(long$n), ]
long <- long[order(match(long$study, unique(paste(lin$author, lin$year, lin$id))), long$arm), ]
long <- long[long$study %in% names(which(table(long$study) >= 2)), ]
lin_arms <- log_odds_arms(long$study, long$trt, long$resp, long$n)
add_cli("cli_linde2015_arms_reml",
        paste("rma.mv(yi, V, mods = ~ <treatments> - 1, random = ~ comp | study, rho = 1/2,",
              "method = \"REML\") on the log odds ratios of response of dat.linde2015"),
        c("--arms", "--measure", "OR", "--columns", "event=resp", "--reference", "Placebo"),
        list(study = long$study, treatment = long$trt, resp = long$resp, n = long$n),
        lin_arms, "Placebo", "REML")
# The same trials as each trial's contrasts against its first arm, with covi, the first
# arm's variance: the covariance of two contrasts of a three-arm trial.
basic <- do.call(rbind, lapply(unique(lin_arms$study), function(s) {
  a <- lin_arms[lin_arms$study == s, ]
  data.frame(study = s, treat1 = a$trt[-1], treat2 = a$trt[1], yi = a$y[-1] - a$y[1],
             vi = a$v[-1] + a$v[1], covi = if (nrow(a) > 2) a$v[1] else NA)
}))
add_cli("cli_linde2015_contrasts_reml",
        paste("the same model on dat.linde2015 given as m - 1 log odds ratios per trial against",
              "its first arm, V with covi off the diagonal"),
        c("--reference", "Placebo"), as.list(basic), lin_arms, "Placebo", "REML")

doc <- list(
  generated_by = "tests/reference/make_network_references.R",
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  scenarios = unname(scenarios),
  cli_scenarios = unname(cli_scenarios)
)
writeLines(toJSON(doc, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"), out_path)
cat(sprintf("wrote %d scenarios to %s\n", length(scenarios), out_path))
