"""ketamine-meta: reproducible meta-analysis of ketamine, esketamine and arketamine for depression.

Pure functions on DataFrames and arrays; the Snakemake workflow and the ``ketamine-meta``
command line do the file I/O (the library reads a package directory in package_files and
saves figures in plotting.save_figure, nothing else).
"""

from ketamine_meta.stats.effect_sizes import log_risk_ratio, sd_from_ci, sd_from_se, smd
from ketamine_meta.stats.meta_analysis import RandomEffectsResult, pool_by_subgroup, random_effects

__version__ = "0.1.0"

__all__ = [
    "RandomEffectsResult",
    "log_risk_ratio",
    "pool_by_subgroup",
    "random_effects",
    "sd_from_ci",
    "sd_from_se",
    "smd",
]
