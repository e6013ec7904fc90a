"""Logging set-up shared by the workflow's entry scripts."""

from __future__ import annotations

import logging
import sys
from pathlib import Path


def configure(log_file: str | Path | None) -> logging.Logger:
    """Log INFO and above to ``log_file`` (Snakemake's ``log:``) and warnings to stderr."""
    logger = logging.getLogger("ketamine_meta")
    logger.handlers.clear()
    logger.setLevel(logging.INFO)
    fmt = logging.Formatter("%(levelname)s %(message)s")
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        to_file = logging.FileHandler(log_file, mode="w", encoding="utf-8")
        to_file.setFormatter(fmt)
        logger.addHandler(to_file)
    to_stderr = logging.StreamHandler(sys.stderr)
    to_stderr.setLevel(logging.WARNING)
    to_stderr.setFormatter(fmt)
    logger.addHandler(to_stderr)
    return logger
