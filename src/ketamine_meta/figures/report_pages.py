"""Pages of the Snakemake report: results tables as HTML, and the landing page's headline.

Snakemake's report shows images, HTML and PDF in the page but offers a CSV only as a
download, so every table is rendered here to a standalone HTML page (its CSV embedded as a
download link), and the headline estimates are written into the reStructuredText that the
report shows first.

That reStructuredText is a Jinja template to Snakemake (its description part uses
``{{ snakemake.config[...] }}``), so every piece of text that comes from the data (subgroup
labels, verdicts) goes through :func:`literal_rst` first: shown as written, never evaluated as
Jinja nor read as reStructuredText markup.
"""

from __future__ import annotations

import base64
import html
import io
import math
import re
import string
import unicodedata
from collections.abc import Mapping

import pandas as pd

from ketamine_meta.analyses.changes import change_summary, release_label
from ketamine_meta.figures.headline import Headline, HeadlineRow

#: Inline style, so that the page needs nothing beyond itself inside the report's frame.
TABLE_PAGE_STYLE = """
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 13px; margin: 12px; }
h1 { font-size: 16px; margin: 0 0 4px 0; }
p.meta { color: #555; margin: 0 0 10px 0; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 3px 6px; vertical-align: top; }
th { background: #eef2f7; position: sticky; top: 0; text-align: left; }
td.number { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.text { max-width: 42em; }
td.long { min-width: 22em; max-width: 42em; }
tr:nth-child(even) td { background: #fafafa; }
""".strip()


def format_cell(value: object) -> str:
    """A cell as a reviewer reads it: integers whole, other numbers to three decimals.

    Numbers below 0.001 in magnitude (p-values, tiny tau²) keep three significant digits in
    scientific notation rather than printing as 0.000. The CSV behind the page keeps every
    digit.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    if value != 0 and abs(value) < 1e-3:
        return f"{value:.2e}"
    return f"{value:.3f}"


def table_page_html(csv_text: str, title: str, file_name: str) -> str:
    """Render a results table (its CSV text) as a standalone HTML page.

    Parameters
    ----------
    csv_text
        The table exactly as written to ``results/tables``; embedded unchanged as a
        ``data:`` download link, so the page and the file cannot disagree.
    title
        Heading of the page.
    file_name
        Name the download is saved under (the CSV's file name).
    """
    frame = pd.read_csv(io.StringIO(csv_text), keep_default_na=False, na_values=[""])
    numeric = {c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])}
    # Sentences (claims, reasons) get a readable width instead of a one-word column.
    long_text = {
        c for c in frame.columns if c not in numeric and frame[c].astype(str).str.len().max() > 60
    }
    header = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for record in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, record, strict=True):
            kind = "number" if column in numeric else "long" if column in long_text else "text"
            cells.append(f'<td class="{kind}">{html.escape(format_cell(value))}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    payload = base64.b64encode(csv_text.encode("utf-8")).decode("ascii")
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{html.escape(title)}</title>",
            f"<style>\n{TABLE_PAGE_STYLE}\n</style></head><body>",
            f"<h1>{html.escape(title)}</h1>",
            f'<p class="meta">{len(frame)} rows &times; {len(frame.columns)} columns. '
            "Numbers are rounded for reading; the "
            f'<a download="{html.escape(file_name)}" href="data:text/csv;base64,{payload}">'
            f"CSV ({html.escape(file_name)})</a> has every digit.</p>",
            f"<table><thead><tr>{header}</tr></thead><tbody>",
            *rows,
            "</tbody></table></body></html>",
            "",
        ]
    )


#: Characters that open or close reStructuredText inline markup anywhere in a line (emphasis,
#: literals, roles, substitutions, references, targets, a closing ``::``) or escape it.
RST_INLINE_MARKUP = frozenset("\\`*_|:")
#: A first word that reads as a list's enumerator ("1.", "a)", "iv.", "A. Smith").
RST_ENUMERATOR = re.compile(r"^(\w+)([.)])(?=\s|$)")


def literal_rst(value: object) -> str:
    """Text from the data as it must appear in the landing page: literally.

    Snakemake renders the page with Jinja and then docutils, so

    - every ``{`` becomes the Jinja expression ``{{ '{' }}`` (which renders as ``{``): no
      ``{{ ... }}``, ``{% ... %}`` or ``{# ... #}`` in a label is evaluated;
    - characters of inline markup are backslash-escaped, as is a first character that could
      open a block (``..`` a directive or comment, ``-`` a list, ``|`` a line block, ...) and
      the punctuation of an enumerator (``1.``), so docutils shows them as text;
    - line breaks and other control characters become spaces: the text is one line of the
      page, a cell of a list-table or part of a sentence.

    Text without any of these (the project's labels) is returned unchanged.
    """
    text = " ".join(str(value).splitlines())
    text = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)
    text = "".join(
        f"\\{c}" if c in RST_INLINE_MARKUP or (i == 0 and c in string.punctuation) else c
        for i, c in enumerate(text)
    )
    text = RST_ENUMERATOR.sub(r"\1\\\2", text)
    return text.replace("{", "{{ '{' }}")


def _list_table(title: str, header: list[str], rows: list[list[str]]) -> list[str]:
    lines = [f".. list-table:: {title}", "   :header-rows: 1", ""]
    for row in [header, *rows]:
        lines.append(f"   * - {row[0]}")
        lines += [f"     - {cell}" for cell in row[1:]]
    return [*lines, ""]


def _headline_cells(row: HeadlineRow, prediction: bool) -> list[str]:
    cells = [row.label, f"{row.k} ({row.trials})", str(row.n), row.estimate]
    return [literal_rst(c) for c in cells + ([row.prediction] if prediction else [])]


def headline_rst(description: str, result: Headline, claims: pd.DataFrame) -> str:
    """The report's landing page: the workflow's description, then the headline results.

    Parameters
    ----------
    description
        reStructuredText of the workflow (title and what the report holds).
    result
        The headline (:func:`ketamine_meta.figures.headline.headline`), shared with the
        README so that the two say the same.
    claims
        The claims audit (``claims_audit.csv``).
    """
    ci = f"{result.level:.0%} CI"
    verdicts = claims["verdict"].value_counts()
    verdict_rows = [[literal_rst(verdict), str(int(count))] for verdict, count in verdicts.items()]
    lines = [
        description.rstrip(),
        "",
        "Headline results",
        "----------------",
        "",
        f"Random-effects models ({literal_rst(result.model)}); Hedges' g > 0 and a risk ratio > 1 "
        "favour the drug. Every number below is in a table of this report (categories "
        "Efficacy, Response, Sensitivity, Certainty and Claims) and traces to its trial rows "
        "and sources with ``ketamine-meta explain``; the executed audit notebook is under Data "
        "and audit.",
        "",
        *_list_table(
            f"Depression score at {result.timepoint}, drug against control",
            ["Subgroup", "k (trials)", "n", f"Hedges' g [{ci}]", "Prediction interval"],
            [_headline_cells(row, True) for row in result.smd_rows],
        ),
        *_list_table(
            f"Risk ratio of response at {result.timepoint}",
            ["Enantiomer", "k (trials)", "n", f"Risk ratio [{ci}]"],
            [_headline_cells(row, False) for row in result.rr_rows],
        ),
        "What changes the reading",
        "~~~~~~~~~~~~~~~~~~~~~~~~",
        "",
        *(f"- {literal_rst(statement)}" for statement in result.statements),
        "",
        *_list_table(
            f"Verdicts on the {len(claims)} quantitative claims of the three texts "
            "(category Claims)",
            ["Verdict", "Claims"],
            verdict_rows,
        ),
    ]
    return "\n".join(lines) + "\n"


def what_changed_rst(record: Mapping | None, changes: pd.DataFrame) -> str:
    """The landing page's section on what changed since the newest data release.

    Parameters
    ----------
    record
        The release record compared with (``data/releases``), ``None`` before any release.
    changes
        ``what_changed.csv`` read as text (:func:`ketamine_meta.analyses.changes.text_table`);
        its page in the report (``what_changed.html``, category Data and audit) is linked.
    """
    if record is None:
        heading = "What changed since the last data release"
        body = (
            "No data release has been recorded yet: ``make release`` records one in "
            "``data/releases``, and this section then compares the results with it."
        )
    else:
        heading = f"What changed since data release {literal_rst(record['data_version'])}"
        where = "Every change, before and after, is in" if len(changes) else "The comparison:"
        body = (
            f"Compared with data release {literal_rst(release_label(record))}: "
            f"{literal_rst(change_summary(changes))}. {where} `what_changed.html`_ (category "
            "Data and audit)."
        )
    return "\n".join([heading, "~" * len(heading), "", body]) + "\n"


#: GRADE certainty as Cochrane's summary-of-findings tables print it.
CERTAINTY_SYMBOLS = {
    "high": "⊕⊕⊕⊕ High",
    "moderate": "⊕⊕⊕◯ Moderate",
    "low": "⊕⊕◯◯ Low",
    "very low": "⊕◯◯◯ Very low",
}
DOWNGRADES = ("risk_of_bias", "inconsistency", "indirectness", "imprecision", "publication_bias")


def _per_thousand(risk: float) -> str:
    return f"{1000 * risk:.0f} per 1,000"


def _sof_cells(row: Mapping, min_trials: int) -> list[str]:
    ratio = row["measure"] == "risk ratio"
    if 1 < row["trials"] < min_trials:
        # A pool of too few trials is no answer (PROTOCOL.md §11): its interval is not shown.
        control = _per_thousand(row["control_risk"]) if ratio else "-"
        treated = f"too few trials ({int(row['trials'])} of {min_trials}) to pool"
        relative = "see the trial-level results" if ratio else "-"
    elif ratio:
        control = _per_thousand(row["control_risk"])
        treated = (
            f"{_per_thousand(row['corresponding_risk'])} "
            f"({1000 * row['corresponding_low']:.0f} to {1000 * row['corresponding_high']:.0f})"
        )
        relative = f"RR {row['estimate']:.2f} ({row['ci_low']:.2f} to {row['ci_high']:.2f})"
    else:
        control = "-"
        treated = f"SMD {row['estimate']:.2f} higher ({row['ci_low']:.2f} to {row['ci_high']:.2f})"
        relative = "-"
    reasons = [
        "&minus;" * int(row[f"downgrade_{d}"])
        + " "
        + html.escape(f"{d.replace('_', ' ')}: {row[d]}")
        for d in DOWNGRADES
        if int(row[f"downgrade_{d}"]) > 0
    ]
    return [
        f"<b>{html.escape(row['outcome'])}</b><br>"
        f"{html.escape(row['formulation'])} vs {html.escape(row['comparator'])}",
        control,
        treated,
        relative,
        f"{row['n']:.0f} ({int(row['trials'])} RCT{'s' if row['trials'] != 1 else ''})",
        CERTAINTY_SYMBOLS[row["certainty"]],
        "<br>".join(reasons) or "no downgrade",
    ]


def summary_of_findings_html(sof: pd.DataFrame, question: str, min_trials: int) -> str:
    """The summary of findings in the Cochrane layout, one row per outcome and formulation.

    A row pooling fewer than ``min_trials`` trials (``pooling.min_trials``) says so in place
    of its estimate. Columns: outcome; anticipated absolute effects (risk with control, risk
    with ketamine);
    relative effect; participants (studies); certainty (GRADE); the downgrades and why.
    """
    header = (
        "<tr><th rowspan=2>Outcome<br>formulation vs control</th><th colspan=2>Anticipated "
        "absolute effects (95% CI)</th><th rowspan=2>Relative effect<br>(95% CI)</th><th rowspan=2>"
        "№ of participants<br>(studies)</th><th rowspan=2>Certainty of the evidence<br>"
        "(GRADE)</th><th rowspan=2>Downgrades</th></tr><tr><th>Risk with control</th>"
        "<th>Risk with ketamine</th></tr>"
    )
    rows = [
        "<tr>" + "".join(f"<td>{cell}</td>" for cell in _sof_cells(row, min_trials)) + "</tr>"
        for row in sof.to_dict("records")
    ]
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8"><title>Summary of findings</title>',
            f"<style>\n{TABLE_PAGE_STYLE}\n</style></head><body>",
            f"<h1>Summary of findings: {html.escape(question)}</h1>",
            '<p class="meta">Certainty starts high (randomized trials) and is downgraded one '
            "level (&minus;) or two (&minus;&minus;) per domain by the rules of PROTOCOL.md "
            "§20, each computed from the data, over trials (one comparison per trial). Risk "
            "with control: the pooled share of events in the trials' control arms, each "
            "trial's whole control arm counted once; risk with ketamine: that times the risk "
            "ratio.</p>",
            f"<table><thead>{header}</thead><tbody>",
            *rows,
            "</tbody></table></body></html>",
            "",
        ]
    )
