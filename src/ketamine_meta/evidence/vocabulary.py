"""Display names of the data package's codes, shared by the figures and ``explain``.

The tables hold the package's codes (``IV``, ``racemic``); figures print these names, and
``ketamine-meta explain`` accepts either, in any case.
"""

from __future__ import annotations

#: Routes of administration as figures print them.
ROUTE_NAMES = {
    "IV": "Intravenous",
    "IN": "Intranasal",
    "PO": "Oral",
    "SL": "Sublingual",
    "IM": "Intramuscular",
    "SC": "Subcutaneous",
}
#: Enantiomers as figures print them.
ENANTIOMER_NAMES = {
    "racemic": "Racemic ketamine",
    "esketamine": "Esketamine",
    "arketamine": "Arketamine",
}


def code_of(name: str) -> str:
    """The package's code for a display name (any case); any other text unchanged."""
    names = {**ROUTE_NAMES, **ENANTIOMER_NAMES}
    return next(
        (code for code, shown in names.items() if shown.casefold() == name.casefold()), name
    )
