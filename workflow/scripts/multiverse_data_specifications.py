"""Snakemake entry: the choices of every data specification of an outcome's multiverse."""

from pathlib import Path

from ketamine_meta.analyses.multiverse import data_specifications
from ketamine_meta.cli.logs import configure
from ketamine_meta.cli.tables import to_csv_text

log = configure(snakemake.log[0])
specs = data_specifications(snakemake.params.multiverse, snakemake.params.outcome)
Path(snakemake.output.table).write_text(to_csv_text(specs))
log.info("%s: %d data specifications", snakemake.params.outcome["name"], len(specs))
