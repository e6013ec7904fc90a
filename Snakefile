# ketamine-meta: meta-analysis of ketamine, esketamine and arketamine for depression.
# Run with `make` (see README.md); every stage lives in workflow/rules/.

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "config/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/pull.smk"
include: "workflow/rules/validate.smk"
include: "workflow/rules/effect_sizes.smk"
include: "workflow/rules/pool.smk"
include: "workflow/rules/survival.smk"
include: "workflow/rules/claims.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        get_final_outputs(),
    default_target: True
