"""Snakemake entry: the results against the newest data release (what_changed.csv and .md)."""

import sys
from pathlib import Path

from ketamine_meta.analyses.changes import (
    changes_table,
    compare,
    data_version,
    parse_record,
    release_record_name,
    snapshot,
    text_table,
    what_changed_markdown,
)
from ketamine_meta.io.logs import configure
from ketamine_meta.io.tables import to_csv_text

log = configure(snakemake.log[0])
tables = {
    name: text_table(Path(path).read_text(encoding="utf-8"))
    for name, path in snakemake.input.items()
    if name not in ("summary", "release", "validated")
}
package = {
    path.stem: text_table(path.read_text(encoding="utf-8"))
    for path in sorted(map(Path, snakemake.input.validated))
}
current = snapshot(tables, package, snakemake.params.snapshot_tables)
record = None
if snakemake.input.release:
    path = snakemake.input.release[0]
    try:
        record = parse_record(Path(path).read_text(encoding="utf-8"), path)
    except ValueError as exc:
        log.error("%s", exc)
        sys.exit(1)
    # The newest record is chosen by its name: a name that is not its version would mislead.
    if Path(path).name != release_record_name(record["data_version"]):
        log.error(
            "%s: records data version %s, so its name must be %s",
            path,
            record["data_version"],
            release_record_name(record["data_version"]),
        )
        sys.exit(1)
changes = compare(record["snapshot"], current) if record else []
version = data_version(text_table(Path(snakemake.input.summary).read_text(encoding="utf-8")))
Path(snakemake.output.table).write_text(to_csv_text(changes_table(changes)), encoding="utf-8")
Path(snakemake.output.text).write_text(
    what_changed_markdown(changes, record, version), encoding="utf-8"
)
log.info(
    "%d changes since data release %s", len(changes), record["data_version"] if record else "(none)"
)
