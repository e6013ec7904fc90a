# ketamine-meta: the workflow is workflow/Snakefile (the Snakemake workflow catalog's layout).
# This file lets `snakemake` run it from the repository root; an included file's
# default_target is not seen from here, so the default target is named again.


include: "workflow/Snakefile"


rule default:
    default_target: True
    input:
        rules.all.input,
