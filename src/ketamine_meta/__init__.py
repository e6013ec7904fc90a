"""ketamine-meta: reproducible meta-analysis of ketamine, esketamine and arketamine for depression.

Pure functions on DataFrames and arrays; the Snakemake workflow and the ``ketamine-meta``
command line do the file I/O (the library reads a package directory in package_files and
saves figures in plotting.save_figure, nothing else).
"""

from __future__ import annotations

import importlib

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

#: Where each name of ``__all__`` lives; imported on first use (PEP 562), so that importing a
#: light module (the workflow's logging set-up) does not load scipy and the statistics engine.
_EXPORTS = {
    "RandomEffectsResult": "ketamine_meta.stats.meta_analysis",
    "pool_by_subgroup": "ketamine_meta.stats.meta_analysis",
    "random_effects": "ketamine_meta.stats.meta_analysis",
    "log_risk_ratio": "ketamine_meta.stats.effect_sizes",
    "sd_from_ci": "ketamine_meta.stats.effect_sizes",
    "sd_from_se": "ketamine_meta.stats.effect_sizes",
    "smd": "ketamine_meta.stats.effect_sizes",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
