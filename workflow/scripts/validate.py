"""Snakemake entry: validate the pulled package and write its typed tables."""

import json
import sys
from pathlib import Path

from ketamine_meta.datapackage import DataPackageError, validate_package
from ketamine_meta.logs import configure
from ketamine_meta.tables import to_csv_text

log = configure(snakemake.log[0])
package = Path(snakemake.input[0])
descriptor = json.loads((package / "datapackage.json").read_text(encoding="utf-8"))
texts = {
    r["path"]: (package / r["path"]).read_text(encoding="utf-8-sig")
    for r in descriptor["resources"]
    if (package / r["path"]).exists()
}
try:
    tables = validate_package(descriptor, texts)
except DataPackageError as exc:
    # Name the repository's copy, which is the file the user edits.
    log.error("%s", exc)
    sys.exit(1)

for name, frame in tables.items():
    Path(snakemake.output[name]).write_text(to_csv_text(frame))
    log.info("%s: %d rows valid", name, len(frame))
