"""Snakemake entry: gather an outcome's multiverse chunks into one table and its summary.

Also the choices of the outcome's data specifications, once each.
"""

import gzip
from pathlib import Path

import pandas as pd

from ketamine_meta.analyses.multiverse import (
    DATA_CHOICES,
    data_specifications,
    multiverse_summary,
)
from ketamine_meta.analyses.protocol import Pooling
from ketamine_meta.evidence.package_files import read_validated_table
from ketamine_meta.io.logs import configure
from ketamine_meta.io.tables import to_csv_text

log = configure(snakemake.log[0])
pooling = Pooling.from_config(snakemake.params.pooling)
chunks = [read_validated_table(p) for p in snakemake.input.chunks]
# A chunk without a rule set of its own is empty (fewer rule sets than chunks).
table = pd.concat([c for c in chunks if len(c)] or chunks[:1], ignore_index=True)
table = table.sort_values(["data_spec", "estimator", "test", "subgroup"], kind="stable")
# The choices live once per data specification, in their own table.
compact = table.drop(columns=list(DATA_CHOICES))
with open(snakemake.output.specifications, "wb") as raw:
    # mtime 0 and no file name in the header: the same table gives the same bytes.
    with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as handle:
        handle.write(to_csv_text(compact).encode("utf-8"))
choices = data_specifications(snakemake.params.multiverse, snakemake.params.outcome)
Path(snakemake.output.data_specifications).write_text(to_csv_text(choices))
summary = multiverse_summary(table, snakemake.params.multiverse["estimand_choices"], pooling.model)
Path(snakemake.output.summary).write_text(to_csv_text(summary))
log.info("%d specification rows", len(table))
