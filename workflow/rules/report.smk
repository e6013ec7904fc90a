# `snakemake --report results/report.html` (run by `make`) collects every output marked
# with report() together with its caption from workflow/report/.

report: "../report/workflow.rst"
