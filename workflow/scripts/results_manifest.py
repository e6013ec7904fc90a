"""Snakemake entry: the SHA-256 of every output of the run (results/manifest.tsv)."""

from pathlib import Path

from ketamine_meta.io.logs import configure
from ketamine_meta.io.manifest import manifest_text

log = configure(snakemake.log[0])
Path(snakemake.output[0]).write_text(manifest_text(snakemake.input), encoding="utf-8")
log.info("manifest of %d outputs", len(snakemake.input))
