"""BibTeX of the data package's sources (``ketamine-meta cite``).

Every document a number was read from can then be cited.
"""

from __future__ import annotations

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
