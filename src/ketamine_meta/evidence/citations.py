"""BibTeX of the data package's sources (``ketamine-meta cite``).

Every document a number was read from can then be cited.
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pandas as pd

#: Characters that BibTeX treats specially, escaped in field values.
_ESCAPES = str.maketrans({"{": r"\{", "}": r"\}", "%": r"\%", "&": r"\&", "#": r"\#", "_": r"\_"})


def bibtex(sources: pd.DataFrame) -> str:
    """One ``@misc`` entry per row of ``sources.csv``, keyed by ``source_id``.

    ``title`` is the row's citation (authors, year, title, journal as extracted), ``url`` the
    address it was read at and ``doi`` its DOI where there is one; entries are in the table's
    order, so the output is byte-stable.
    """
    entries = []
    for row in sources.itertuples(index=False):
        fields = [("title", row.citation), ("url", row.url)]
        if isinstance(row.doi, str) and row.doi:
            fields.append(("doi", row.doi))
        body = ",\n".join(f"  {name} = {{{_escape(name, value)}}}" for name, value in fields)
        entries.append(f"@misc{{{row.source_id},\n{body}\n}}\n")
    return "\n".join(entries)


def _escape(name: str, value: str) -> str:
    # URLs and DOIs are verbatim in BibTeX's url/doi fields (the url package reads them raw).
    return value if name in ("url", "doi") else str(value).translate(_ESCAPES)


#: Kinds of source document, from the strongest to the weakest copy of a trial's numbers.
SOURCE_KINDS = (
    "journal",
    "PMC",
    "registry",
    "review",
    "conference",
    "aggregator",
    "repository_copy",
)
#: Hosts of public code repositories: a document found there is a copy someone stored.
_REPOSITORY_HOSTS = frozenset({"github.com", "raw.githubusercontent.com"})

_REGISTRY_HOSTS = frozenset(
    {
        "clinicaltrials.gov",
        "classic.clinicaltrials.gov",
        "clinicaltrialsregister.eu",
        "anzctr.org.au",
        "trialregister.nl",
        "isrctn.com",
        "chictr.org.cn",
        "umin.ac.jp",
    }
)
#: Publishers, PubMed, preprint servers and universities' research portals (copies of the
#: published record).
_JOURNAL_HOSTS = frozenset(
    {
        "pubmed.ncbi.nlm.nih.gov",
        "pubmed.gov",
        "psychiatryonline.org",
        "ajp.psychiatryonline.org",
        "nature.com",
        "preview-www.nature.com",
        "jamanetwork.com",
        "bmcpsychiatry.biomedcentral.com",
        "gpsych.bmj.com",
        "bmjopen.bmj.com",
        "casereports.bmj.com",
        "frontiersin.org",
        "cambridge.org",
        "core-cms.prod.aop.cambridge.org",
        "psychiatrist.com",
        "oncotarget.com",
        "mecp.springeropen.com",
        "medrxiv.org",
        "hrbopenresearch.org",
        "brieflands.com",
        "jims.mui.ac.ir",
        "advbiores.mui.ac.ir",
        "industrialpsychiatry.org",
        "journal.sop.org.tw",
        "mmj.eg.net",
        "research.rug.nl",
        "experts.umn.edu",
        "scholars.mssm.edu",
        "utsouthwestern.elsevierpure.com",
        "repository.uantwerpen.be",
        "lup.lub.lu.se",
        "tcd.ie",
        "scholar.nycu.edu.tw",
        "hub.tmu.edu.tw",
        "umcgresearch.org",
        "cris.tau.ac.il",
        "douglas.research.mcgill.ca",
        "cochranelibrary.com",
    }
)
_REVIEW_WORDS = re.compile(
    r"cochrane|systematic review|meta-analys|review article|\breview\b", re.I
)
_CONFERENCE_WORDS = re.compile(r"conference|congress|poster|meeting abstract|annual meeting", re.I)


def source_kind(url: str, citation: str) -> str:
    """The kind of a source document (one of :data:`SOURCE_KINDS`), from its URL and citation.

    A document stored in a public code repository is a repository copy, whatever it copies
    (its citation names the original). A review (Cochrane, a meta-analysis, a review article)
    is a review wherever else it is hosted; otherwise the host decides: a trial registry,
    PubMed Central, a publisher or research portal (journal), a conference's pages; anything
    else (document-sharing sites, mirrors, bare IP addresses, news and clinic pages) is an
    aggregator, the weakest kind of copy.
    """
    host = urlparse(url).netloc.lower().removeprefix("www.")
    if host in _REPOSITORY_HOSTS:
        return "repository_copy"
    if _REVIEW_WORDS.search(citation):
        return "review"
    if host in _REGISTRY_HOSTS:
        return "registry"
    if host == "pmc.ncbi.nlm.nih.gov":
        return "PMC"
    if host in _JOURNAL_HOSTS:
        return "journal"
    if host.startswith("eposter.") or _CONFERENCE_WORDS.search(citation):
        return "conference"
    return "aggregator"
