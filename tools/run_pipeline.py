"""Run the whole pipeline as `make` does: recover from an interrupted run, rebuild what was edited.

Three things stand between a checkout and a trustworthy `snakemake` run, and each is handled
here before Snakemake starts:

1. A run killed hard (kill -9, a closed terminal) leaves Snakemake's lock: if no live
   Snakemake runs in this directory, the lock is stale and is removed
   (``tools/clear_stale_lock.py``).
2. The same kill leaves incomplete-output markers, on which Snakemake stops until someone adds
   ``--rerun-incomplete``: it is always given, so the interrupted jobs are simply run again
   and a table the killed job had deleted comes back.
3. A committed result edited by hand would be taken as input by the rules downstream of it
   (its modification time is newer than theirs). The pipeline writes ``results/manifest.tsv``,
   the SHA-256 of every output it made; any listed file whose bytes differ is named and
   rebuilt (``--forcerun``), so the edit is replaced, never propagated.

A run that executes jobs (not a dry run) also tells the workflow so
(``KETAMINE_META_WARM_EARLY=1``, :mod:`ketamine_meta.io.warm_scripts`): its warm interpreter
then imports the library while Snakemake parses the workflow, not after.

Usage: python tools/run_pipeline.py [SNAKEMAKE ARGUMENTS ...]
"""

from __future__ import annotations

import os
import subprocess
import sys

from clear_stale_lock import clear_stale_lock

from ketamine_meta.io.manifest import MANIFEST, edited_files
from ketamine_meta.io.warm_scripts import EARLY_SWITCH

DRY_RUN_FLAGS = {"-n", "--dry-run", "--dryrun"}


def main(snakemake_args: list[str]) -> int:
    """Clear a stale lock, name and force-rebuild edited results, then run Snakemake."""
    snakemake = [sys.executable, "-m", "snakemake"]
    status = clear_stale_lock(snakemake)
    if status:
        return status
    edited = edited_files()
    for path in edited:
        print(
            f"ketamine-meta: {path} differs from what the pipeline wrote ({MANIFEST}): "
            "an edit by hand is not a result; rebuilding it",
            file=sys.stderr,
        )
    forced = ["--forcerun", *edited] if edited else []
    command = [*snakemake, "--rerun-incomplete", *snakemake_args, *forced]
    environment = dict(os.environ)
    if not DRY_RUN_FLAGS & set(snakemake_args):
        environment[EARLY_SWITCH] = "1"
    return subprocess.run(command, check=False, env=environment).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
