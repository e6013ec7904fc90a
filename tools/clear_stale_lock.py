"""Remove Snakemake's lock when no Snakemake is running in this directory (before `make`).

A run killed hard (kill -9, a closed terminal) leaves `.snakemake/locks/`, and the next run
stops with "Directory cannot be locked". If no live process runs Snakemake with this
directory as its working directory, the lock is stale: unlock and say so. Otherwise leave it,
and print the command to use once that run has ended.

Usage: python tools/clear_stale_lock.py SNAKEMAKE_EXECUTABLE (``make`` calls it through
tools/run_pipeline.py)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def snakemake_running_here(here: Path) -> bool:
    """Whether a live process other than this one runs Snakemake with ``here`` as its cwd."""
    for proc in Path("/proc").glob("[0-9]*"):
        if int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
            cwd = (proc / "cwd").resolve()
        except OSError:
            continue
        if b"snakemake" in cmdline and b"clear_stale_lock" not in cmdline and cwd == here:
            return True
    return False


def clear_stale_lock(snakemake: list[str]) -> int:
    """Unlock a stale lock with the ``snakemake`` command given; 1 if a live run holds it."""
    here = Path.cwd().resolve()
    locks = here / ".snakemake" / "locks"
    if not locks.is_dir() or not any(locks.iterdir()):
        return 0
    if snakemake_running_here(here):
        print(
            "ketamine-meta: another Snakemake run holds this directory's lock; wait for it to "
            f"end (or, if it is gone, run: {' '.join(snakemake)} --unlock)",
            file=sys.stderr,
        )
        return 1
    subprocess.run([*snakemake, "--unlock", "--quiet"], check=True, capture_output=True)
    print("ketamine-meta: removed a stale Snakemake lock left by an interrupted run")
    return 0


if __name__ == "__main__":
    sys.exit(clear_stale_lock([sys.argv[1]]))
