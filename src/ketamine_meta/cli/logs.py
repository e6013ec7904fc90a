"""Logging set-up shared by the workflow's entry scripts."""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path


def configure(log_file: str | Path | None) -> logging.Logger:
    """Log INFO and above to ``log_file`` (Snakemake's ``log:``) and warnings to stderr.

    An exception that escapes the script is reported as one line on stderr (its type and
    message, and where the details are); the full traceback goes to ``log_file`` only, so a
    failing stage never prints a traceback on the console.
    """
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
    sys.excepthook = _one_line_errors(logger, log_file)
    return logger


def _one_line_errors(logger: logging.Logger, log_file: str | Path | None):
    def report(kind, error, tb) -> None:
        details = "".join(traceback.format_exception(kind, error, tb))
        for handler in logger.handlers:
            if isinstance(handler, logging.FileHandler):
                handler.stream.write(details)
                handler.flush()
        where = f" (details in {log_file})" if log_file else ""
        print(f"ERROR {kind.__name__}: {error}{where}", file=sys.stderr)

    return report
