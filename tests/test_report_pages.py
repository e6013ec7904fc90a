"""The report's pages: tables rendered to HTML, and the landing page's headline results.

The landing page is rendered by Snakemake as a Jinja template and then as reStructuredText;
labels from the data in it must come out literally (a "{{ ... }}" label used to be evaluated).
"""

from __future__ import annotations

import base64
import math
import re
from types import SimpleNamespace

import jinja2
import pandas as pd
import pytest
import yaml
from docutils import nodes
from docutils.core import publish_doctree

from conftest import REPO
from ketamine_meta.analyses.changes import RELEASE_DIR, newest_release, parse_record, text_table
from ketamine_meta.analyses.protocol import Pooling
from ketamine_meta.evidence.package_files import read_validated_table
from ketamine_meta.figures.headline import headline, headline_tables
from ketamine_meta.figures.report_pages import (
    format_cell,
    headline_rst,
    literal_rst,
    summary_of_findings_html,
    table_page_html,
    what_changed_rst,
)
from ketamine_meta.io.outputs import REGISTRY_FILE, read_registry

TABLES = REPO / "results" / "tables"
#: The workflow's registry of outputs, which names the tables the headline reads.
REGISTRY = read_registry(REPO / REGISTRY_FILE)
PAGES = REPO / "results" / "report" / "tables"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (7, "7"),
        (607.0, "607"),
        (0.585303534364, "0.585"),
        (-1.5925729173, "-1.593"),
        (4.1154152624e-05, "4.12e-05"),
        (0.0, "0"),
        (float("nan"), ""),
        ("inert_placebo", "inert_placebo"),
    ],
)
def test_format_cell(value, shown):
    assert format_cell(value) == shown


def test_table_page_embeds_the_csv_unchanged_and_escapes_cells():
    csv_text = 'study,note,g\nA2020,"<script>alert(1)</script>",0.5\n'
    page = table_page_html(csv_text, title="t", file_name="x.csv")
    payload = re.search(r'href="data:text/csv;base64,([^"]+)"', page).group(1)
    assert base64.b64decode(payload).decode() == csv_text
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '<td class="number">0.500</td>' in page


def test_every_results_table_has_its_committed_page():
    tables = {p.stem for p in TABLES.glob("*.csv")}
    pages = {p.stem for p in PAGES.glob("*.html")}
    assert tables == pages


@pytest.mark.parametrize("stem", sorted(p.stem for p in TABLES.glob("*.csv")))
def test_committed_page_shows_every_row_of_its_table(stem):
    table = pd.read_csv(TABLES / f"{stem}.csv", keep_default_na=False, na_values=[""])
    page = (PAGES / f"{stem}.html").read_text(encoding="utf-8")
    assert page.count("<tr>") == len(table) + 1  # the header row and one per table row
    assert f"{len(table)} rows &times; {len(table.columns)} columns" in page


def _pooled(name: str) -> pd.DataFrame:
    return pd.read_csv(TABLES / name, keep_default_na=False, na_values=[""])


def _headline_tables() -> dict[str, pd.DataFrame]:
    return {name: _pooled(f"{stem}.csv") for name, stem in headline_tables(REGISTRY).items()}


def _landing(tables: dict[str, pd.DataFrame], claims: pd.DataFrame, level: object = 0.95) -> str:
    pooling = Pooling.from_config({"timepoint_h": 24, "level": level})
    return headline_rst("Title\n=====\n", headline(tables, pooling), claims)


def test_headline_numbers_are_the_pooled_tables():
    tables = _headline_tables()
    claims = _pooled("claims_audit.csv")
    text = _landing(tables, claims, level=95)

    overall = tables["pooled_by_route"].set_index("subgroup").loc["overall"]
    expected = f"{overall['estimate']:.2f} [{overall['ci_low']:.2f}, {overall['ci_high']:.2f}]"
    counts = f"{int(overall['k'])} ({int(overall['trials'])})"
    assert (
        f"   * - all trials\n     - {counts}\n     - {int(overall['n'])}\n     - {expected}" in text
    )
    rr_overall = tables["rr_by_enantiomer"].set_index("subgroup").loc["overall"]
    assert f"{math.exp(rr_overall['estimate']):.2f} [" in text
    assert "Hedges' g [95% CI]" in text  # level 95 read as metafor reads it
    assert "τ² by REML, ad hoc Hartung-Knapp confidence intervals" in text
    for verdict, count in claims["verdict"].value_counts().items():
        assert f"   * - {verdict}\n     - {count}\n" in text
    assert f"Verdicts on the {len(claims)} quantitative claims" in text
    assert "What changes the reading" in text and "confounded" in text


def test_committed_landing_page_is_the_headline_of_the_committed_tables():
    """What workflow/scripts/report_landing.py writes from the committed tables, byte for byte."""
    landing = (REPO / "results" / "report" / "landing.rst").read_text(encoding="utf-8")
    description = (REPO / "workflow" / "report" / "workflow.rst").read_text(encoding="utf-8")
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text(encoding="utf-8"))
    pooling = Pooling.from_config(config["pooling"])
    tables = {
        name: read_validated_table(TABLES / f"{stem}.csv")
        for name, stem in headline_tables(REGISTRY).items()
    }
    text = headline_rst(
        description,
        headline(tables, pooling),
        read_validated_table(TABLES / "claims_audit.csv"),
    )
    release = newest_release((REPO / RELEASE_DIR).glob("*.json"))
    record = parse_record(release.read_text(encoding="utf-8"), str(release)) if release else None
    changes = text_table((TABLES / "what_changed.csv").read_text(encoding="utf-8"))
    assert text + what_changed_rst(record, changes) == landing


@pytest.mark.parametrize(
    "text",
    ["IN", "esketamine", "not testable with these data", "τ² by REML, Hartung-Knapp intervals"],
)
def test_plain_labels_are_left_as_they_are(text):
    assert literal_rst(text) == text


#: Labels that Jinja would evaluate or docutils would read as markup if written as they are.
HOSTILE_LABELS = [
    "{{ 7 * 7 }}",
    "{{ snakemake.config }}",
    "{% for i in range(3) %}x{% endfor %}",
    "{# hidden #}",
    "a {{ b }} c {",
    "%} }}",
    ".. raw:: html",
    ".. |x| image:: y.png",
    "|sub|",
    "`code`",
    ":math:`x`",
    "*em* and **strong**",
    "_`target`",
    "ref_",
    "[1]_",
    "- item",
    "+ item",
    "1. item",
    "A. Smith",
    "#. x",
    "(a) x",
    "iv) x",
    "----",
    "=====",
    ">>> 1",
    "foo::",
    ":field: v",
    "a\\b",
    "x\\",
    "<b>html</b>",
]


def _rendered(text: str) -> nodes.document:
    """Render the page as Snakemake's report does: Jinja (its environment's settings), then
    docutils, which may report no problem (halt_level 1: even an INFO message stops it)."""
    environment = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    snakemake = SimpleNamespace(config={"pooling": {"timepoint_h": 24}})
    rendered = environment.from_string(text).render(snakemake=snakemake, categories={}, files=[])
    tree = publish_doctree(rendered, settings_overrides={"halt_level": 1, "report_level": 5})
    assert not list(tree.findall(nodes.system_message))
    return tree


def _cells(tree: nodes.document) -> list[str]:
    return [entry.astext() for entry in tree.findall(nodes.entry)]


@pytest.mark.parametrize("label", HOSTILE_LABELS)
def test_a_hostile_label_is_shown_literally_in_the_landing_page(label):
    tables = _headline_tables()
    by_route = tables["pooled_by_route"]
    by_route.loc[by_route["subgroup"] == "IN", "subgroup"] = label
    by_route["method"] = label
    rr = tables["rr_by_enantiomer"]
    rr.loc[rr["subgroup"] == "racemic", "subgroup"] = label
    claims = _pooled("claims_audit.csv")
    claims.loc[claims["verdict"] == "not testable with these data", "verdict"] = label
    text = _landing(tables, claims)

    tree = _rendered(text)
    cells = _cells(tree)
    assert f"route: {label}" in cells  # a subgroup of the SMD table
    assert f"enantiomer: {label}" in cells  # a row of the risk-ratio table
    assert cells.count(label) == 1  # a verdict
    assert "route: 49" not in cells and "route: xxx" not in cells
    assert "route: intravenous" in cells and "enantiomer: esketamine" in cells  # the rest intact
    model = f"Random-effects models (τ² by {label}, ad hoc Hartung-Knapp confidence intervals"
    assert any(p.astext().startswith(model) for p in tree.findall(nodes.paragraph))


def test_line_breaks_in_a_label_become_spaces():
    tables = _headline_tables()
    by_route = tables["pooled_by_route"]
    by_route.loc[by_route["subgroup"] == "IN", "subgroup"] = "IN\n.. raw:: html\r\n\tx"
    text = _landing(tables, _pooled("claims_audit.csv"))
    assert "route: IN .. raw:: html  x" in _cells(_rendered(text))


def test_the_summary_of_findings_shows_no_pool_of_too_few_trials():
    """Esketamine IN response at 24 h pools 2 trials: RR 3.63 [0.00005, 258141] is no answer
    (PROTOCOL.md §11); the page says so instead of printing it."""
    sof = _pooled("summary_of_findings.csv")
    page = summary_of_findings_html(sof, "question", min_trials=3)
    two = sof[(sof["trials"] == 2)].iloc[0]
    assert "too few trials (2 of 3) to pool" in page
    assert f"{two['ci_high']:.2f}" not in page
    headline = sof.iloc[0]
    assert headline["trials"] >= 3
    shown = f"SMD {headline['estimate']:.2f} higher ({headline['ci_low']:.2f} to "
    assert shown in page
