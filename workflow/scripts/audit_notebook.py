"""Snakemake entry: execute the audit notebook and write it as HTML."""

from pathlib import Path

import jupytext
from nbclient import NotebookClient
from nbconvert import HTMLExporter

from ketamine_meta.io.logs import configure

log = configure(snakemake.log[0])
notebook = jupytext.read(snakemake.input.notebook)
# The notebook reads results/ and data/raw of the run's working directory.
root = str(Path.cwd())
NotebookClient(
    notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": root}}
).execute()
html, _ = HTMLExporter().from_notebook_node(notebook)
Path(snakemake.output.html).write_text(html)
log.info("executed %d cells", len(notebook.cells))
