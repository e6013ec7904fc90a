"""Logging set-up shared by the workflow's entry scripts."""

from __future__ import annotations

import atexit
import logging
import os
import resource
import sys
import time
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
    _log_process_time(logger)
    return logger


def seconds_since_process_start() -> float | None:
    """Wall seconds since this process started, from the kernel's record (Linux), else None.

    Field 22 of ``/proc/self/stat`` is the start time in clock ticks after boot, the clock
    that ``CLOCK_BOOTTIME`` reads, so the difference includes the interpreter's start-up and
    every import before the call, which no timer inside the process can see.
    """
    try:
        stat = Path("/proc/self/stat").read_text(encoding="ascii")
    except OSError:
        return None
    # The command name (field 2) may hold spaces; the fields after its ")" are fixed.
    started_ticks = int(stat.rpartition(")")[2].split()[19])
    return time.clock_gettime(time.CLOCK_BOOTTIME) - started_ticks / os.sysconf("SC_CLK_TCK")


def _log_process_time(logger: logging.Logger) -> None:
    """Log the start-up (interpreter, Snakemake's preamble, imports) now; at exit, the total.

    With the peak memory: benchmarks/pipeline.py reads them to split each job into start-up
    and work.
    """
    start_up = seconds_since_process_start()
    if start_up is None:
        return
    logger.info("start-up %.3f s", start_up)
    atexit.register(
        lambda: logger.info(
            "process %.3f s, peak %.0f MB", seconds_since_process_start(), peak_rss_mb()
        )
    )


def peak_rss_mb() -> float:
    """The process's peak resident memory so far, in MB (``ru_maxrss``: KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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
