"""The ``ketamine-meta`` command line: the library's statistics on anyone's CSV files.

Subcommands
-----------
validate DIR
    Check a data package directory (``datapackage.json`` plus tables).
escalc
    Add ``yi`` and ``vi`` columns computed from raw per-arm columns.
pool
    Random-effects meta-analysis of ``yi``/``vi`` columns, optionally by subgroup.
explain ANALYSIS [SUBGROUP]
    Every comparison, data row and source (URL and locator) behind a pooled number.
reconstruct-km
    Individual patient data rebuilt from a digitized Kaplan-Meier curve and its at-risk table.
cite
    BibTeX of every source of the data package.
new-trial STUDY_ID --package DIR --arm ... --source-id ...
    The skeleton rows a new trial needs in every table of the package (CONTRIBUTING.md).
import-registry FILE.json --map MAPPING.yaml --out DIR
    A trial's results posted on ClinicalTrials.gov (API v2 JSON) as data package rows, by a
    reviewed mapping; everything unmapped is listed.
"""
