"""BibTeX of the works behind the data package's sources (``ketamine-meta cite``).

Every document a number was read from can then be cited: one entry per distinct work, its
fields read from the citation recorded when the source was opened, written by pybtex.
"""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import urlparse

import pandas as pd

#: A surname and its initials, as the citations write authors: "Fava M", "Su TP",
#: "McCullumsmith CB", "van den Berg JF".
_AUTHOR = r"[A-Za-z][\w'\u2019-]*(?: [\w'\u2019-]+)*? [A-Z]{1,4}"
_AUTHORS = re.compile(rf"^(?P<authors>{_AUTHOR}(?:, {_AUTHOR})*(?:,? et al)?)\.\s+(?P<rest>.+)$")
#: ". Journal Abbrev 2020" closing a title: the journal's words, then the year.
_JOURNAL_YEAR = re.compile(
    r"[.?!]\s+(?P<journal>[A-Z][A-Za-z&'\- ]*?[A-Za-z])\.? (?P<year>(?:19|20)\d\d)\b(?P<tail>.*)$"
)
#: ";25(7):1592-1603" after the year: volume, issue and pages (or an article number).
_VOLUME = re.compile(
    r"^;(?P<volume>\d+)(?:\((?P<number>[^)]+)\))?(?::(?P<pages>[A-Za-z]?\d+(?:-[A-Za-z]?\d+)?)\b)?"
)
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
#: Fields of an entry in the order BibTeX styles list them; ``sources`` names the rows of
#: sources.csv the work stands for.
FIELD_ORDER = ("title", "journal", "year", "volume", "number", "pages", "doi", "url", "sources")


def citation_fields(citation: str) -> tuple[list[str], dict[str, str]]:
    """Authors and bibliographic fields read from a source's citation as it was recorded.

    A citation written as "Authors. Title. Journal Year;Volume(Issue):Pages ..." gives
    authors ("Surname, I." and "others" for "et al"), ``title``, ``journal``, ``year``,
    ``volume``, ``number`` and ``pages``; any other gives no authors and only its year, the
    whole citation being its title. Nothing is looked up: a field the citation does not
    write is left out.
    """
    found = _AUTHORS.match(citation)
    journal = _JOURNAL_YEAR.search(found["rest"]) if found else None
    if not (found and journal):
        year = _YEAR.search(citation)
        return [], {"title": citation, **({"year": year.group()} if year else {})}
    fields = {
        "title": found["rest"][: journal.start()].strip(),
        "journal": journal["journal"],
        "year": journal["year"],
    }
    volume = _VOLUME.match(journal["tail"])
    if volume:
        fields |= {k: v for k, v in volume.groupdict().items() if v}
        if "pages" in fields:
            fields["pages"] = fields["pages"].replace("-", "--")
    names = found["authors"].removesuffix(" et al").removesuffix(",").split(", ")
    authors = [_bibtex_name(name) for name in names]
    if found["authors"].endswith("et al"):
        authors.append("others")
    return authors, fields


def _bibtex_name(name: str) -> str:
    """BibTeX's "Su, T. P." for the citations' "Su TP"."""
    surname, initials = name.rsplit(" ", 1)
    return f"{surname}, {' '.join(f'{letter}.' for letter in initials)}"


@dataclass
class Work:
    """One cited work: the sources (rows of sources.csv) that are copies or parts of it."""

    key: str
    entry_type: str
    authors: list[str]
    fields: dict[str, str]
    source_ids: list[str] = field(default_factory=list)


def works(sources: pd.DataFrame) -> list[Work]:
    """The distinct works of ``sources``, in the order of their first source.

    Sources with one DOI are one work (the rows read from the Cochrane review's tables are
    one review); without a DOI, sources whose citations give the same first author, year and
    title are one. A work's fields are those of its most completely written citation, its
    URL that of its first source.
    """
    grouped: dict[tuple, list] = {}
    for row in sources.itertuples(index=False):
        authors, fields = citation_fields(str(row.citation))
        doi = row.doi if isinstance(row.doi, str) and row.doi else None
        if doi:
            group: tuple = ("doi", doi.lower())
        elif authors:
            group = ("citation", authors[0], fields["year"], fields["title"].lower())
        else:
            group = ("source", row.source_id)
        grouped.setdefault(group, []).append((row, authors, fields, doi))
    out, keys = [], set()
    for members in grouped.values():
        first = members[0][0]
        _, authors, fields, doi = max(members, key=lambda m: (bool(m[1]), len(m[2])))
        url = min(members, key=lambda m: _kind_rank(getattr(m[0], "source_kind", None)))[0].url
        fields = {**fields, "url": url, **({"doi": doi} if doi else {})}
        key = _key(authors, fields) if authors else str(first.source_id)
        while key in keys:
            key = _next_key(key)
        keys.add(key)
        entry_type = "article" if "journal" in fields else "misc"
        out.append(Work(key, entry_type, authors, fields, [str(m[0].source_id) for m in members]))
    return out


def _kind_rank(kind: object) -> int:
    return SOURCE_KINDS.index(kind) if kind in SOURCE_KINDS else len(SOURCE_KINDS)


def _protected(title: str) -> str:
    """The title with each word that has a capital after its first letter braced.

    "{(TRD)}", "{N-methyl-D-aspartate}": a style that lower-cases titles keeps them.
    """
    return re.sub(r"\S*[A-Za-z0-9]\S*?[A-Z]\S*", lambda m: "{" + m.group() + "}", title)


def _key(authors: list[str], fields: dict[str, str]) -> str:
    """``fava2020double``: first author's surname, year, first long word of the title."""
    surname = authors[0].split(",")[0]
    words = [w for w in re.findall(r"[A-Za-z]+", fields.get("title", "")) if len(w) > 3]
    text = f"{surname}{fields.get('year', '')}{words[0] if words else ''}"
    return re.sub(r"[^a-z0-9]", "", unicodedata.normalize("NFKD", text).lower())


def _next_key(key: str) -> str:
    """A second work with the same key gets ``a``, a third ``b``, and so on."""
    if len(key) > 1 and key[-1].isalpha() and key[-2].isdigit():
        return key[:-1] + chr(ord(key[-1]) + 1)
    return key + "a"


def _verbatim_writer():
    """A BibTeX writer (pybtex's), with URLs and DOIs verbatim (the url package reads them raw).

    pybtex is imported here, by ``cite`` alone: not by every command and preloaded script.
    """
    from pybtex.database.output.bibtex import Writer

    class VerbatimWriter(Writer):
        def _write_field(self, stream, type, value):
            if type in ("url", "doi"):
                stream.write(f",\n    {type} = {self.quote(value)}")
            else:
                super()._write_field(stream, type, value)

    return VerbatimWriter(encoding="UTF-8")


def bibtex(works_: list[Work]) -> str:
    """BibTeX of ``works_``, written by pybtex, each entry naming the sources it stands for."""
    from pybtex.database import BibliographyData, Entry, Person

    data = BibliographyData()
    for work in works_:
        fields = {**work.fields, "sources": ", ".join(work.source_ids)}
        if work.entry_type == "article":
            fields["title"] = _protected(fields["title"])
        ordered = [(name, fields[name]) for name in FIELD_ORDER if name in fields]
        persons = {"author": [Person(a) for a in work.authors]} if work.authors else {}
        data.add_entry(work.key, Entry(work.entry_type, fields=ordered, persons=persons))
    stream = io.StringIO()
    _verbatim_writer().write_stream(data, stream)
    return stream.getvalue().lstrip("\n")


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
