"""Snakemake entry: cost per responder by access route."""

from pathlib import Path

from ketamine_meta.analyses import cost_per_responder
from ketamine_meta.logs import configure
from ketamine_meta.package_files import read_validated_table
from ketamine_meta.tables import to_csv_text

log = configure(snakemake.log[0])
table = cost_per_responder(read_validated_table(snakemake.input.rates), snakemake.params.costs)
Path(snakemake.output.table).write_text(to_csv_text(table))
log.info("%d access routes", len(table))
