# What changed since the last data release (`make release` records each release in
# data/releases/, ketamine_meta.analyses.changes): the pooled estimates before and after, the
# trials added or changed, the verdicts that moved. Before any release is recorded (as in the
# small workflow of .test/) the page says so.

from ketamine_meta.analyses.changes import (
    PACKAGE_SUMMARY_TABLE,
    RELEASE_DIR,
    SnapshotTables,
    newest_release,
)

CHANGES = OUTPUTS.register(
    "changes",
    "Data and audit",
    tables={
        "table": Table(
            "what_changed",
            "what_changed",
            "the headline results against the newest data release recorded in data/releases/: "
            "trials added or edited, analyses pooling other trials, estimates and verdicts that "
            "moved",
        ),
    },
    files={
        "text": File(
            "results/what_changed.md",
            "the same in words, also on the report's landing page",
        )
    },
)

# The newest record by data version, as an input list (empty before the first release): a
# new record (`make release`) reruns the rules that read it.
RELEASE_RECORD = newest_release(RELEASE_DIR.glob("*.json"))
NEWEST_RELEASE = [str(RELEASE_RECORD)] if RELEASE_RECORD else []
# The tables a snapshot reads, as the slices included above registered them.
SNAPSHOT_TABLES = SnapshotTables.from_registry(OUTPUTS.document())
PACKAGE_SUMMARY = OUTPUTS.slices[PACKAGE_SUMMARY_TABLE[0]].table(
    PACKAGE_SUMMARY_TABLE[1]
)


rule what_changed:
    """The headline results against those of the newest data release: a table of every
    change and a page that reads it."""
    input:
        **{stem: OUTPUTS.tables()[stem].path for stem in SNAPSHOT_TABLES.stems},
        summary=PACKAGE_SUMMARY.path,
        release=NEWEST_RELEASE,
        validated=validated_tables(),
    output:
        table=CHANGES.table("table").path,
        text=CHANGES.files["text"].path,
    log:
        "logs/what_changed.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        snapshot_tables=SNAPSHOT_TABLES,
    script:
        "../scripts/what_changed.py"
