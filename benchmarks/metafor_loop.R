# The metafor side of benchmarks/batch_vs_metafor.py: fit every row of a CSV of meta-analyses
# (columns dataset, yi, vi) with rma(method = "REML", test = "knha") in a loop.
#
# Usage: Rscript benchmarks/metafor_loop.R INPUT.csv OUTPUT.csv TIMING.json
# Only the loop is timed; reading and writing are not.

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})
args <- commandArgs(trailingOnly = TRUE)
data <- read.csv(args[[1]])
groups <- split(data, data$dataset)
# The references of the parity suite use the same convergence threshold.
ctrl <- list(threshold = 1e-10, maxiter = 10000)
fallbacks <- 0
invisible(gc(reset = TRUE))
elapsed <- system.time({
  fits <- lapply(groups, function(d) {
    # Plain Fisher scoring can cycle without converging; metafor's documented remedy is a
    # smaller step, which a careful loop over many datasets has to apply.
    fit <- tryCatch(rma(d$yi, d$vi, method = "REML", test = "knha", control = ctrl),
                    error = function(e) {
                      fallbacks <<- fallbacks + 1
                      rma(d$yi, d$vi, method = "REML", test = "knha",
                          control = c(ctrl, list(stepadj = 0.5)))
                    })
    c(as.numeric(fit$beta), fit$se, fit$ci.lb, fit$ci.ub, fit$pval, fit$tau2)
  })
})[["elapsed"]]
memory <- gc()
out <- as.data.frame(do.call(rbind, fits))
names(out) <- c("estimate", "se", "ci_low", "ci_high", "pval", "tau2")
out$dataset <- as.integer(names(groups))
write.csv(out[order(out$dataset), ], args[[2]], row.names = FALSE)
writeLines(toJSON(list(seconds = elapsed, max_used_mb = sum(memory[, ncol(memory)]),
                       step_halving_refits = fallbacks,
                       r_version = R.version.string,
                       metafor_version = as.character(packageVersion("metafor"))),
                  auto_unbox = TRUE, digits = NA), args[[3]])
