"""Citations of the data package's sources (:mod:`ketamine_meta.evidence.citations`): BibTeX
entries and the kind of each source document."""

from __future__ import annotations

import pandas as pd
import pytest
from pybtex.database import parse_string

from conftest import REPO
from ketamine_meta.evidence.citations import (
    SOURCE_KINDS,
    bibtex,
    citation_fields,
    source_kind,
    works,
)

SOURCES = pd.DataFrame(
    {
        "source_id": ["smith2027_pmc", "smith2027_journal", "jones2026_reg", "lee2025_copy"],
        "citation": [
            "Smith AB, Lee C et al. Ketamine in TRD: a 50% faster trial. Mol Psychiatry "
            "2027;25(7):1592-1603; PMC123",
            "Smith AB et al. 2027 Mol Psychiatry, publisher full text",
            "ClinicalTrials.gov NCT01234567 results page",
            "Lee D. A trial & its_copy. BMJ 2025;376:e067194 (copy)",
        ],
        "url": [
            "https://pmc.ncbi.nlm.nih.gov/articles/PMC123",
            "https://www.nature.com/articles/x",
            "https://clinicaltrials.gov/study/NCT01234567",
            "https://github.com/a/b/blob/main/copy.pdf?x=%22y%22",
        ],
        "doi": ["10.1000/x_y", "10.1000/X_Y", None, None],
        "source_kind": ["PMC", "journal", "registry", "repository_copy"],
    }
)


def test_a_journal_citation_gives_authors_title_journal_and_numbers():
    authors, fields = citation_fields(SOURCES["citation"][0])
    assert authors == ["Smith, A. B.", "Lee, C.", "others"]
    assert fields == {
        "title": "Ketamine in TRD: a 50% faster trial",
        "journal": "Mol Psychiatry",
        "year": "2027",
        "volume": "25",
        "number": "7",
        "pages": "1592--1603",
    }
    assert citation_fields(SOURCES["citation"][3]) == (
        ["Lee, D."],
        {
            "title": "A trial & its_copy",
            "journal": "BMJ",
            "year": "2025",
            "volume": "376",
            "pages": "e067194",
        },
    )
    # Anything else is its own title, with the year it names.
    assert citation_fields("Summary page of Murrough 2013") == (
        [],
        {"title": "Summary page of Murrough 2013", "year": "2013"},
    )


def test_sources_of_one_doi_are_one_work_written_by_pybtex_and_read_back_whole():
    text = bibtex(works(SOURCES))
    entries = parse_string(text, "bibtex").entries
    assert list(entries) == ["smith2027ketamine", "jones2026_reg", "lee2025trial"]
    smith = entries["smith2027ketamine"]
    assert smith.type == "article"
    assert [str(p) for p in smith.persons["author"]] == ["Smith, A. B.", "Lee, C.", "others"]
    assert dict(smith.fields) == {
        "title": "Ketamine in {TRD:} a 50\\% faster trial",
        "journal": "Mol Psychiatry",
        "year": "2027",
        "volume": "25",
        "number": "7",
        "pages": "1592--1603",
        "doi": "10.1000/x_y",
        # The strongest kind of source gives the URL: the publisher's, not the PMC copy.
        "url": "https://www.nature.com/articles/x",
        "sources": "smith2027\\_pmc, smith2027\\_journal",
    }
    # URLs and DOIs verbatim; a registry page is a misc entry under its own id.
    assert (
        entries["lee2025trial"].fields["url"]
        == "https://github.com/a/b/blob/main/copy.pdf?x=%22y%22"
    )
    assert entries["jones2026_reg"].type == "misc"
    assert entries["jones2026_reg"].fields["title"] == "ClinicalTrials.gov NCT01234567 results page"


def test_the_package_sources_give_each_source_to_one_work():
    sources = pd.read_csv(REPO / "data" / "raw" / "sources.csv", dtype=str)
    cited = works(sources)
    ids = [i for work in cited for i in work.source_ids]
    assert sorted(ids) == sorted(sources["source_id"])
    keys = [work.key for work in cited]
    assert len(set(keys)) == len(keys)
    # The Cochrane review's tables, read as 39 sources, are one work.
    cochrane = sources["doi"].eq("10.1002/14651858.CD011612.pub3").sum()
    assert cochrane == 39
    assert [
        len(w.source_ids) for w in cited if w.fields.get("doi") == "10.1002/14651858.CD011612.pub3"
    ] == [39]
    entries = parse_string(bibtex(cited), "bibtex").entries
    assert len(entries) == len(cited)


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
