"""The report's pages: tables rendered to HTML, and the landing page's headline results."""

from __future__ import annotations

import base64
import math
import re

import pandas as pd
import pytest

from conftest import REPO
from ketamine_meta.figures.report_pages import format_cell, headline_rst, table_page_html

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
    landing = (REPO / "results" / "report" / "landing.rst").read_text(encoding="utf-8")
    description = (REPO / "workflow" / "report" / "workflow.rst").read_text(encoding="utf-8")
    assert landing.startswith(description.rstrip())
    assert "Headline results" in landing
