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
from ketamine_meta.evidence.package_files import read_validated_table
from ketamine_meta.figures.report_pages import (
    format_cell,
    headline_rst,
    literal_rst,
    table_page_html,
)

TABLES = REPO / "results" / "tables"
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


def test_headline_numbers_are_the_pooled_tables():
    by_route = _pooled("pooled_smd_24h_by_route.csv")
    by_enantiomer = _pooled("pooled_smd_24h_by_enantiomer.csv")
    rr = _pooled("pooled_rr_response_24h_by_enantiomer.csv")
    claims = _pooled("claims_audit.csv")
    pooling = {"timepoint_h": 24, "method": "REML", "test": "knha", "level": 95}
    text = headline_rst("Title\n=====\n", by_route, by_enantiomer, rr, claims, pooling)

    overall = by_route.set_index("subgroup").loc["overall"]
    expected = f"{overall['estimate']:.2f} [{overall['ci_low']:.2f}, {overall['ci_high']:.2f}]"
    assert f"   * - route: all trials\n     - 10\n     - 796\n     - {expected}" in text
    rr_overall = rr.set_index("subgroup").loc["overall"]
    assert f"{math.exp(rr_overall['estimate']):.2f} [" in text
    assert "Hedges' g [95% CI]" in text  # level 95 read as metafor reads it
    assert "τ² by REML, Hartung-Knapp confidence intervals" in text
    for verdict, count in claims["verdict"].value_counts().items():
        assert f"   * - {verdict}\n     - {count}\n" in text
    assert f"Verdicts on the {len(claims)} quantitative claims" in text


def test_committed_landing_page_is_the_headline_of_the_committed_tables():
    """What workflow/scripts/report_landing.py writes from the committed tables, byte for byte."""
    landing = (REPO / "results" / "report" / "landing.rst").read_text(encoding="utf-8")
    description = (REPO / "workflow" / "report" / "workflow.rst").read_text(encoding="utf-8")
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text(encoding="utf-8"))
    timepoint = f"{config['pooling']['timepoint_h']:g}h"
    text = headline_rst(
        description,
        pooled_by_route=read_validated_table(TABLES / f"pooled_smd_{timepoint}_by_route.csv"),
        pooled_by_enantiomer=read_validated_table(
            TABLES / f"pooled_smd_{timepoint}_by_enantiomer.csv"
        ),
        rr_by_enantiomer=read_validated_table(
            TABLES / f"pooled_rr_response_{timepoint}_by_enantiomer.csv"
        ),
        claims=read_validated_table(TABLES / "claims_audit.csv"),
        pooling=config["pooling"],
    )
    assert text == landing


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
    by_route = _pooled("pooled_smd_24h_by_route.csv")
    by_route.loc[by_route["subgroup"] == "IN", "subgroup"] = label
    by_route["method"] = label
    rr = _pooled("pooled_rr_response_24h_by_enantiomer.csv")
    rr.loc[rr["subgroup"] == "racemic", "subgroup"] = label
    claims = _pooled("claims_audit.csv")
    claims.loc[claims["verdict"] == "supported", "verdict"] = label
    pooling = {"timepoint_h": 24, "level": 0.95}
    text = headline_rst(
        "Title\n=====\n", by_route, _pooled("pooled_smd_24h_by_enantiomer.csv"), rr, claims, pooling
    )

    tree = _rendered(text)
    cells = _cells(tree)
    assert f"route: {label}" in cells  # a subgroup of the SMD table
    assert cells.count(label) == 2  # a row of the risk-ratio table and a verdict
    assert "route: 49" not in cells and "route: xxx" not in cells
    assert "route: IV" in cells and "esketamine" in cells  # the rest of the tables intact
    model = f"Random-effects models (τ² by {label}, Hartung-Knapp confidence intervals);"
    assert any(p.astext().startswith(model) for p in tree.findall(nodes.paragraph))


def test_line_breaks_in_a_label_become_spaces():
    by_route = _pooled("pooled_smd_24h_by_route.csv")
    by_route.loc[by_route["subgroup"] == "IN", "subgroup"] = "IN\n.. raw:: html\r\n\tx"
    pooling = {"timepoint_h": 24, "level": 0.95}
    text = headline_rst(
        "Title\n=====\n",
        by_route,
        _pooled("pooled_smd_24h_by_enantiomer.csv"),
        _pooled("pooled_rr_response_24h_by_enantiomer.csv"),
        _pooled("claims_audit.csv"),
        pooling,
    )
    assert "route: IN .. raw:: html  x" in _cells(_rendered(text))
