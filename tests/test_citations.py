"""Citations of the data package's sources (:mod:`ketamine_meta.evidence.citations`): BibTeX
entries and the kind of each source document."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import REPO
from ketamine_meta.evidence.citations import SOURCE_KINDS, bibtex, source_kind

SOURCES = pd.DataFrame(
    {
        "source_id": ["smith2027_pmc", "jones2026_reg"],
        "citation": [
            "Smith A & Lee B. 50% {faster} #1: ketamine_trial",
            "Jones C. Registry record",
        ],
        "url": ["https://example.org/a_b%20c", "https://clinicaltrials.gov/study/NCT01234567"],
        "doi": ["10.1000/x_y", None],
    }
)


def test_one_misc_entry_per_source_in_table_order():
    assert bibtex(SOURCES) == (
        "@misc{smith2027_pmc,\n"
        "  title = {Smith A \\& Lee B. 50\\% \\{faster\\} \\#1: ketamine\\_trial},\n"
        "  url = {https://example.org/a_b%20c},\n"
        "  doi = {10.1000/x_y}\n"
        "}\n"
        "\n"
        "@misc{jones2026_reg,\n"
        "  title = {Jones C. Registry record},\n"
        "  url = {https://clinicaltrials.gov/study/NCT01234567}\n"
        "}\n"
    )


def test_the_package_sources_give_one_entry_each():
    sources = pd.read_csv(REPO / "data" / "raw" / "sources.csv", dtype=str)
    text = bibtex(sources)
    assert text.count("@misc{") == len(sources)
    assert text.startswith(f"@misc{{{sources['source_id'].iloc[0]},\n")


@pytest.mark.parametrize(
    ("url", "citation", "kind"),
    [
        # A stored copy is a copy whatever it copies, even of a review.
        ("https://github.com/x/y/blob/main/review.pdf", "Cochrane review", "repository_copy"),
        # A review is a review wherever it is hosted.
        ("https://pmc.ncbi.nlm.nih.gov/articles/PMC1", "A systematic review of ketamine", "review"),
        ("https://www.clinicaltrials.gov/study/NCT1", "Results", "registry"),
        ("https://pmc.ncbi.nlm.nih.gov/articles/PMC1", "Smith 2020", "PMC"),
        ("https://www.nature.com/articles/x", "Smith 2020", "journal"),
        ("https://eposter.example.org/123", "Smith 2020", "conference"),
        ("https://example.org/x", "Poster at the annual meeting", "conference"),
        ("http://10.0.0.1/copy.pdf", "Smith 2020", "aggregator"),
    ],
)
def test_source_kind_precedence(url, citation, kind):
    assert source_kind(url, citation) == kind
    assert kind in SOURCE_KINDS
