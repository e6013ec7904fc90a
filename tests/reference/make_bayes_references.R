# Reference values for the Bayesian random-effects engine (tests/test_bayes_parity.py),
# computed by R's own adaptive quadrature (stats::integrate, QUADPACK) and root finding
# (stats::uniroot), from the model's definition. Nothing is shared with the Python engine: that
# engine integrates on a fixed Gauss-Legendre grid over a transformed tau and writes the
# likelihood of tau in its conditional form; this script integrates over tau in [0, Inf) as it
# stands (over log tau), and writes the likelihood as the multivariate normal density of y
# (y ~ N(X b, diag(v + tau^2) + X S X'), S the prior covariance of proper coefficients),
# integrating the uniform-prior coefficients out by their closed form.
#
# Usage (from the repository root):
#   Rscript tests/reference/make_bayes_references.R [OUTPUT.json]
# Default output: tests/reference/bayes_reference.json; `.ci/run` regenerates it and fails if
# it differs from the committed file.
#
# Data: metafor's dat.bcg (log risk ratios, escalc measure "RR"), dat.normand1999 (mean
# differences, measure "MD"), and two- and three-trial and one-trial subsets of dat.bcg. The
# prior parameters are test values chosen to cover each family and each limit, not the
# protocol's priors.

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
out_path <- if (length(args) >= 1) args[[1]] else "tests/reference/bayes_reference.json"
TOL <- 1e-11

# --- priors on tau (densities on tau > 0) ---------------------------------------------------
tau_prior <- function(spec) {
  switch(spec$family,
    halfnormal = function(t) 2 * dnorm(t, 0, spec$scale),
    halfcauchy = function(t) 2 * dcauchy(t, 0, spec$scale),
    lognormal = function(t) dnorm(log(t^2), spec$mean, spec$sd) * 2 / t,
    logt = function(t) dt((log(t^2) - spec$location) / spec$scale, spec$df) / spec$scale * 2 / t,
    uniform = function(t) rep(1, length(t))
  )
}

# --- the model given tau ----------------------------------------------------------------------
# X: model matrix; b0, s0: prior means and SDs of the coefficients (s0 = Inf: uniform prior).
given_tau <- function(t, y, v, X, b0, s0) {
  proper <- is.finite(s0)
  d <- v + t^2
  # Proper coefficients enter the covariance of y; uniform ones are integrated out below.
  Sigma <- diag(d, length(y)) + X[, proper, drop = FALSE] %*%
    diag(s0[proper]^2, sum(proper)) %*% t(X[, proper, drop = FALSE])
  Si <- solve(Sigma)
  r <- y - X[, proper, drop = FALSE] %*% b0[proper]
  Xf <- X[, !proper, drop = FALSE]
  loglik <- -0.5 * as.numeric(determinant(Sigma)$modulus) - 0.5 * length(y) * log(2 * pi)
  if (ncol(Xf) > 0) {
    A <- t(Xf) %*% Si %*% Xf
    bf <- solve(A, t(Xf) %*% Si %*% r)
    e <- r - Xf %*% bf
    loglik <- loglik - 0.5 * as.numeric(determinant(A)$modulus) + 0.5 * ncol(Xf) * log(2 * pi) -
      0.5 * as.numeric(t(e) %*% Si %*% e)
  } else {
    loglik <- loglik - 0.5 * as.numeric(t(r) %*% Si %*% r)
  }
  # Posterior of all coefficients given tau: precision X'WX + prior precision.
  W <- diag(1 / d, length(y))
  P <- t(X) %*% W %*% X + diag(ifelse(proper, 1 / s0^2, 0), ncol(X))
  C <- solve(P)
  m <- C %*% (t(X) %*% W %*% y + ifelse(proper, b0 / s0^2, 0))
  list(loglik = loglik, mean = as.numeric(m), cov = C)
}

# given_tau is memoised by the bits of tau: every integral over tau below (hundreds of them, one
# per evaluation of a distribution function inside a root search) revisits QUADPACK's nodes.
memoised <- function(y, v, X, b0, s0) {
  cache <- new.env(hash = TRUE)
  function(t) {
    key <- sprintf("%a", t)
    hit <- cache[[key]]
    if (is.null(hit)) {
      hit <- given_tau(t, y, v, X, b0, s0)
      assign(key, hit, envir = cache)
    }
    hit
  }
}

make_model <- function(y, v, X, b0, s0, prior_spec) {
  prior <- tau_prior(prior_spec)
  at <- memoised(y, v, X, b0, s0)
  logpost <- function(t) log(prior(t)) + at(t)$loglik
  grid <- c(1e-4, 1e-3, 0.01, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50) * sqrt(median(v))
  offset <- max(sapply(grid, logpost))
  unnorm <- function(t) sapply(t, function(s) if (s == 0) 0 else exp(logpost(s) - offset))
  # Integrals over tau in (0, upper) are taken over s = log(tau), where every prior's tail
  # decays exponentially (QUADPACK flags slowly decaying power tails on the half-line as
  # divergent), split at the data's scale so that integrate sees the peak in both parts. The
  # range is cut at e^-35 and e^35 times that scale, where the slowest tail offered (the
  # uniform prior's with three trials, tau^-2) leaves under 1e-15 of the mass.
  split <- log(sqrt(median(v)))
  integral <- function(f, upper = Inf) {
    g <- function(s) f(exp(s)) * exp(s)
    top <- min(log(upper), split + 35)
    if (top <= split) return(integrate(g, split - 35, top, rel.tol = TOL, subdivisions = 2000L)$value)
    integrate(g, split - 35, split, rel.tol = TOL, subdivisions = 2000L)$value +
      integrate(g, split, top, rel.tol = TOL, subdivisions = 2000L)$value
  }
  z <- integral(unnorm)
  expect <- function(g) integral(function(t) sapply(t, function(s) if (s == 0) 0 else g(s) * exp(logpost(s) - offset))) / z
  list(y = y, v = v, X = X, b0 = b0, s0 = s0, at = at, logpost = logpost, offset = offset, z = z,
       integral = integral, expect = expect, unnorm = unnorm, log_evidence = log(z) + offset)
}

# A mixture over tau of normals N(mean(tau), sd(tau)^2): cdf, density, quantile.
mixture <- function(model, mean_fn, sd_fn) {
  cdf <- function(x) model$expect(function(t) pnorm(x, mean_fn(t), sd_fn(t)))
  sf <- function(x) model$expect(function(t) pnorm(x, mean_fn(t), sd_fn(t), lower.tail = FALSE))
  pdf <- function(x) model$expect(function(t) dnorm(x, mean_fn(t), sd_fn(t)))
  centre <- mean_fn(sqrt(median(model$v)))
  quantile <- function(p) {
    f <- if (p <= 0.5) function(x) cdf(x) - p else function(x) (1 - p) - sf(x)
    uniroot(f, c(centre - 1, centre + 1), extendInt = "upX", tol = 1e-12)$root
  }
  list(cdf = cdf, sf = sf, pdf = pdf, quantile = quantile)
}

coef_mixture <- function(model, j) {
  g <- model$at
  mixture(model, function(t) g(t)$mean[j], function(t) sqrt(g(t)$cov[j, j]))
}

shortest <- function(mix, level) {
  alpha <- 1 - level
  gap <- function(p) mix$pdf(mix$quantile(p)) - mix$pdf(mix$quantile(p + level))
  p <- uniroot(gap, c(alpha * 1e-6, alpha * (1 - 1e-6)), tol = 1e-12)$root
  c(mix$quantile(p), mix$quantile(p + level))
}

tau_quantile <- function(model, p) {
  cdf <- function(t) model$integral(model$unnorm, t) / model$z
  uniroot(function(t) cdf(t) - p, c(1e-8, 1), extendInt = "upX", tol = 1e-13)$root
}

summarise <- function(model, level = 0.95, thresholds = c(), shrink = FALSE, sd_finite = TRUE) {
  alpha <- 1 - level
  g <- model$at
  mu <- coef_mixture(model, 1)
  mu_mean <- model$expect(function(t) g(t)$mean[1])
  # Where E[tau^2 | y] is infinite so is mu's variance: it is not integrated (the engine says Inf).
  mu_var <- if (sd_finite) model$expect(function(t) g(t)$cov[1, 1] + (g(t)$mean[1] - mu_mean)^2) else NA
  predictive <- mixture(model, function(t) g(t)$mean[1], function(t) sqrt(g(t)$cov[1, 1] + t^2))
  hpd <- shortest(mu, level)
  out <- list(
    k = length(model$y),
    mu_mean = mu_mean,
    mu_sd = if (sd_finite) sqrt(mu_var) else NULL,
    mu_median = mu$quantile(0.5),
    ci_low = mu$quantile(alpha / 2),
    ci_high = mu$quantile(1 - alpha / 2),
    hpd_low = hpd[1],
    hpd_high = hpd[2],
    tau_median = tau_quantile(model, 0.5),
    tau_low = tau_quantile(model, alpha / 2),
    tau_high = tau_quantile(model, 1 - alpha / 2),
    pi_low = predictive$quantile(alpha / 2),
    pi_high = predictive$quantile(1 - alpha / 2)
  )
  if (all(is.finite(model$s0)) && !is.null(model$proper_tau) && model$proper_tau) {
    out$log_marginal_likelihood <- model$log_evidence
  }
  for (thr in thresholds) out[[sprintf("prob_above_%g", thr)]] <- mu$sf(thr)
  if (ncol(model$X) > 1) {
    for (j in 2:ncol(model$X)) {
      slope <- coef_mixture(model, j)
      out[[sprintf("coef%d_mean", j)]] <- model$expect(function(t) g(t)$mean[j])
      out[[sprintf("coef%d_median", j)]] <- slope$quantile(0.5)
      out[[sprintf("coef%d_low", j)]] <- slope$quantile(alpha / 2)
      out[[sprintf("coef%d_high", j)]] <- slope$quantile(1 - alpha / 2)
    }
  }
  if (shrink) {
    theta_mean <- theta_median <- numeric(length(model$y))
    for (i in seq_along(model$y)) {
      b <- function(t) model$v[i] / (model$v[i] + t^2)
      m_i <- function(t) model$y[i] - b(t) * (model$y[i] - sum(model$X[i, ] * g(t)$mean))
      s_i <- function(t) sqrt(model$v[i] * (1 - b(t)) + b(t)^2 * as.numeric(t(model$X[i, ]) %*% g(t)$cov %*% model$X[i, ]))
      theta_mean[i] <- model$expect(m_i)
      theta_median[i] <- mixture(model, m_i, s_i)$quantile(0.5)
    }
    out$theta_mean <- theta_mean
    out$theta_median <- theta_median
  }
  Filter(Negate(is.null), out)
}

bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
normand <- escalc(measure = "MD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i,
                  n2i = n2i, data = dat.normand1999)

cases <- list(
  list(id = "bcg_halfnormal_0.5", data = bcg, tau = list(family = "halfnormal", scale = 0.5),
       thresholds = c(0, -0.5), shrink = TRUE),
  list(id = "bcg_halfcauchy_1", data = bcg, tau = list(family = "halfcauchy", scale = 1),
       thresholds = c(0)),
  list(id = "bcg_lognormal", data = bcg, tau = list(family = "lognormal", mean = -2.56, sd = 1.74),
       thresholds = c(-0.5)),
  list(id = "bcg_logt", data = bcg, tau = list(family = "logt", location = -3.44, scale = 2.59, df = 5)),
  list(id = "bcg_uniform", data = bcg, tau = list(family = "uniform")),
  list(id = "bcg_halfnormal_0.5_mu_normal_0_2", data = bcg, tau = list(family = "halfnormal", scale = 0.5),
       mu = c(0, 2), thresholds = c(0)),
  list(id = "bcg_ablat_halfnormal_0.5", data = bcg, tau = list(family = "halfnormal", scale = 0.5),
       mods = "ablat"),
  list(id = "bcg_ablat_year_halfcauchy_0.5", data = bcg, tau = list(family = "halfcauchy", scale = 0.5),
       mods = c("ablat", "year")),
  list(id = "normand_halfnormal_10", data = normand, tau = list(family = "halfnormal", scale = 10),
       thresholds = c(0, -5), shrink = TRUE),
  list(id = "normand_halfcauchy_5_mu_normal_0_20", data = normand, tau = list(family = "halfcauchy", scale = 5),
       mu = c(0, 20)),
  list(id = "bcg2_halfnormal_0.5", data = bcg[1:2, ], tau = list(family = "halfnormal", scale = 0.5),
       thresholds = c(0), shrink = TRUE),
  list(id = "bcg2_halfcauchy_0.5", data = bcg[1:2, ], tau = list(family = "halfcauchy", scale = 0.5),
       sd_finite = FALSE),
  list(id = "bcg3_uniform", data = bcg[1:3, ], tau = list(family = "uniform"), sd_finite = FALSE),
  list(id = "bcg3_lognormal", data = bcg[1:3, ], tau = list(family = "lognormal", mean = -2.56, sd = 1.74),
       thresholds = c(0)),
  list(id = "bcg1_halfnormal_0.5", data = bcg[1, ], tau = list(family = "halfnormal", scale = 0.5)),
  list(id = "equal_vi_halfnormal_0.5", data = data.frame(yi = c(-0.4, -0.1, -0.7, 0.2), vi = rep(0.05, 4)),
       tau = list(family = "halfnormal", scale = 0.5))
)

scenarios <- list()
for (case in cases) {
  message(case$id)
  y <- as.numeric(case$data$yi)
  v <- as.numeric(case$data$vi)
  X <- matrix(1, length(y), 1)
  for (m in case$mods) X <- cbind(X, as.numeric(case$data[[m]]))
  b0 <- rep(0, ncol(X))
  s0 <- rep(Inf, ncol(X))
  if (!is.null(case$mu)) {
    b0[1] <- case$mu[1]
    s0[1] <- case$mu[2]
  }
  model <- make_model(y, v, X, b0, s0, case$tau)
  model$proper_tau <- case$tau$family != "uniform"
  sd_finite <- if (is.null(case$sd_finite)) TRUE else case$sd_finite
  scenarios[[case$id]] <- Filter(Negate(is.null), list(
    id = case$id,
    yi = y,
    vi = v,
    mods = if (ncol(X) > 1) unname(X[, -1, drop = FALSE]) else NULL,
    tau_prior = case$tau,
    mu_prior = if (is.null(case$mu)) list(family = "uniform") else list(family = "normal", mean = case$mu[1], sd = case$mu[2]),
    thresholds = I(if (is.null(case$thresholds)) numeric(0) else case$thresholds),
    values = summarise(model, thresholds = case$thresholds, shrink = isTRUE(case$shrink), sd_finite = sd_finite)
  ))
}

doc <- list(
  generated_by = "tests/reference/make_bayes_references.R",
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  integrate_rel_tol = TOL,
  scenarios = unname(scenarios)
)
writeLines(toJSON(doc, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"), out_path)
