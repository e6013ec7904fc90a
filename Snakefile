# ketamine-meta: meta-analysis of ketamine, esketamine and arketamine for depression.
# Run with `make` (see README.md); every stage lives in workflow/rules/.

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

from ketamine_meta.evidence.configuration import ConfigError, check_config, check_yaml_file

min_version("9.0")

# Bound the file before Snakemake parses it: a YAML alias bomb would otherwise hang here.
try:
    check_yaml_file("config/config.yaml")
except ConfigError as exc:
    raise WorkflowError(str(exc)) from None


configfile: "config/config.yaml"


validate(config, "config/config.schema.yaml")
try:
    check_config(config)
except ConfigError as exc:
    raise WorkflowError(str(exc)) from None


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


onstart:
    snapshot_results()


onerror:
    restore_results()


onsuccess:
    shutil.rmtree(RESULTS_SNAPSHOT, ignore_errors=True)
