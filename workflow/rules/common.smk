# Shared settings and input functions of the workflow.

import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import jinja2

from ketamine_meta.analyses.protocol import Pooling
from ketamine_meta.evidence.package_files import (
    local_package_files,
    read_canonical_schema,
)
from ketamine_meta.evidence.package_source import source_kind
from ketamine_meta.io.outputs import (
    REGISTRY_FILE,
    File,
    Figure,
    OutputRegistry,
    Table,
    Traced,
)

PACKAGE_DIR = "data/processed/package"
VALIDATED_DIR = "data/processed/validated"
# The primary timepoint as tables and figures are named by it (``24h``), as the library names it.
TIMEPOINT_LABEL = Pooling.from_config(config["pooling"]).timepoint_label
# Files of the workflow itself are found from this file, so that the workflow also runs in
# another working directory (`snakemake --directory .test`, the catalog's test layout).
# Relative to the working directory, so that a checkout moved or copied elsewhere records the
# same input files (an absolute path would make Snakemake rerun every rule that lists one).
WORKFLOW_DIR = Path(os.path.relpath(Path(workflow.current_basedir).parent))
REPORT_CAPTIONS = WORKFLOW_DIR / "report"
AUDIT_NOTEBOOK = WORKFLOW_DIR.parent / "notebooks" / "audit.py"
# Every output, registered once by the rule file of the question that makes it
# (ketamine_meta.io.outputs); the final targets, the report and results/outputs.json are
# derived from the registrations.
OUTPUTS = OutputRegistry(config["figures"]["formats"])
# Moderators with a pooled-SMD table of their own besides route.
SMD_MODERATORS = ("enantiomer", "control_type", "population")
# PROTOCOL.md §18: the network's outcomes (Hedges' g, log risk ratio of response) and tables.
NMA_OUTCOMES = ("smd", "rr")
NMA_TABLES = ("effects", "league", "inconsistency", "graph")
# The longest chain of the DAG ends in the audit notebook, the slowest job, which needs the
# claims audit, which needs the tables of efficacy, response, safety, dose and relapse. On two
# cores Snakemake would otherwise start the notebook last, alone; its chain goes first instead
# (about 2 s of a one-number edit, benchmarks/pipeline.py).
CRITICAL_PATH = 10
# PROTOCOL.md §6-§10: the windows, the primary timepoint and the primary analysis set, as the
# library's Protocol.from_config reads them.
PROTOCOL = {
    "windows": config["windows"],
    "timepoint_h": config["pooling"]["timepoint_h"],
    "analysis_set": config["analysis_set"],
}


def get_source_files(wildcards):
    """Files of a local data package or archive, so that editing one reruns the pipeline.

    A URL source has no local inputs: its identity is the (url, sha256) pair in params.
    """
    source = config["data"]["source"]
    kind = source_kind(source)
    if kind == "url":
        return []
    if kind == "archive":
        return [source]
    return [str(p) for p in local_package_files(source)]


# Every table of the package (one validated CSV each), from the canonical schema.
PACKAGE_TABLES = tuple(
    resource["name"]
    for resource in read_canonical_schema(
        WORKFLOW_DIR / "schemas" / "datapackage.schema.json"
    )["resources"]
)


def validated_tables(*names):
    """The validated tables a rule reads, as an input function of the validate checkpoint.

    Once validate has run, Snakemake re-evaluates the jobs after it and compares the checksum
    of each declared table with the one recorded at the job's last run: a job reruns only if
    a table it reads changed in content (an edit elsewhere in the package, or none, reruns
    nothing of it). Scripts read only the files declared here (package_files.validated_path).
    """

    def tables(wildcards):
        folder = checkpoints.validate.get().output[0]
        return [f"{folder}/{name}.csv" for name in names or PACKAGE_TABLES]

    return tables


def after_validation(wildcards):
    """No file: a rule that reads only results lists this so that its jobs, too, are decided
    again once the validate checkpoint has run. A job whose upstream jobs turn out not to
    rerun (no table they read changed) then does not rerun either."""
    checkpoints.validate.get()
    return []


def get_reproduction_specs():
    """Every reproduction specification, so that adding one reruns the table."""
    return sorted(str(p) for p in Path("config/reproductions").glob("*.yaml"))


def get_final_outputs():
    """Every registered output (each slice's rule file registers its own), the report's
    landing page and the registry itself."""
    return [*OUTPUTS.paths(), "results/report/landing.rst", REGISTRY_FILE]


def figure_outputs(figure, category=None):
    """One figure (its stem may hold a wildcard) in every configured format, keyed by format.

    The first format (SVG: sharp at any zoom, a tenth of the PNG's bytes) is shown in the
    report, under the category of the question it answers (shared with that question's
    tables; the figure's own unless given) and labelled with its file stem, as tables are;
    the others are files beside it. One entry per figure: with both formats the report held
    each figure twice, was 16 MB instead of 11 and took 0.8 s longer to build.
    """
    shown, *others = OUTPUTS.formats
    return {
        shown: report(
            figure.path(shown),
            caption=f"../report/{figure.caption}.rst",
            category=category or figure.category,
            subcategory="Figures",
            labels={"figure": figure.stem},
        ),
        **{fmt: figure.path(fmt) for fmt in others},
    }


def figure_set_outputs(figures, category=None):
    """Several figures of one rule, ``{name: Figure}``: every format of each, keyed
    ``NAME_FORMAT`` (what plotting.save_figures reads)."""
    return {
        f"{name}_{fmt}": path
        for name, figure in figures.items()
        for fmt, path in figure_outputs(figure, category).items()
    }


def figure_outputs_of(outputs):
    """Every figure a slice registered (:func:`figure_set_outputs`), each under its category."""
    return figure_set_outputs({key: outputs.figure(key) for key in outputs.figures})


# Committed results are never left half-updated: the tables and figures are copied aside when
# a run starts, put back if it fails, and the copy dropped when it succeeds.
RESULTS_SNAPSHOT = Path(".snakemake/results-snapshot")
SNAPSHOT_DIRS = (
    "results/tables",
    "results/figures",
    "results/report",
    "results/multiverse",
)


def snapshot_results():
    shutil.rmtree(RESULTS_SNAPSHOT, ignore_errors=True)
    for folder in SNAPSHOT_DIRS:
        if Path(folder).is_dir():
            shutil.copytree(folder, RESULTS_SNAPSHOT / folder)


def restore_results():
    if not RESULTS_SNAPSHOT.is_dir():
        return
    for folder in SNAPSHOT_DIRS:
        saved = RESULTS_SNAPSHOT / folder
        shutil.rmtree(folder, ignore_errors=True)
        if saved.is_dir():
            shutil.copytree(saved, folder)
    shutil.rmtree(RESULTS_SNAPSHOT, ignore_errors=True)
    print(
        "ketamine-meta: the run failed; results/ restored to what it was before the run"
    )


# Each table's caption (under workflow/report) and report category, by table stem under
# results/tables, derived from the slices' registrations (read when the report rules are
# defined, after every rule file has registered).
def table_caption(registered):
    """The table's own caption, rendered with the config and the wildcards it was registered
    with (the moderator it is split by, the network's outcome): the text of its page in the
    report."""
    template = (REPORT_CAPTIONS / f"{registered.caption}.rst").read_text(
        encoding="utf-8"
    )
    # Snakemake renders the caption through Jinja again when it builds the report: a brace
    # in a config value is written as a Jinja literal, so that it is shown, not evaluated.
    environment = jinja2.Environment(
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=lambda value: str(value).replace("{", "{{ '{' }}"),
    )
    return environment.from_string(template).render(
        snakemake=SimpleNamespace(
            config=config, wildcards=SimpleNamespace(**dict(registered.wildcards))
        )
    )


def table_page_outputs():
    """Each table's HTML page, marked for the report under its question's category with its
    own caption (a file written by the same job: captions are read when the report is made).
    """
    return {
        stem: report(
            table.page,
            caption=os.path.abspath(f"results/report/captions/{stem}.rst"),
            category=table.category,
            subcategory="Tables",
            labels={"table": stem},
        )
        for stem, table in OUTPUTS.tables().items()
    }
