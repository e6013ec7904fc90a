"""Snakemake entry: the registry of every output (results/outputs.json), as the rules hold it."""

from pathlib import Path

from ketamine_meta.io.logs import configure

log = configure(snakemake.log[0])
Path(snakemake.output[0]).write_text(snakemake.params.registry, encoding="utf-8")
log.info("wrote %s", snakemake.output[0])
