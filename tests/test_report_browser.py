"""The report as a reader sees it: headless Chromium (Debian's ``chromium`` and
``chromium-driver``, installed by .ci/run) clicks through the report of the shared pipeline
run and reads what the page shows.

Without Chromium these tests are skipped on a workstation; .ci/run sets
KETAMINE_META_REQUIRE_BROWSER=1, under which a missing browser fails them instead.
"""

from __future__ import annotations

import os
import sys

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from conftest import REPO
from ketamine_meta.figures.labels import model_text

sys.path.insert(0, str(REPO / "tools"))
from browser import BrowserMissingError, WebDriver, chromium_path
from screenshot_report import SCREEN, VIEWS, open_item, take_screenshots

pytestmark = pytest.mark.pipeline


@pytest.fixture(scope="module")
def browser_ready():
    try:
        chromium_path()
    except BrowserMissingError as exc:
        if os.environ.get("KETAMINE_META_REQUIRE_BROWSER") == "1":
            pytest.fail(str(exc))
        pytest.skip(str(exc))


def _overall(pipeline_run, name: str) -> pd.Series:
    table = pd.read_csv(pipeline_run / "results/tables" / name)
    return table.set_index("subgroup").loc["overall"]


def test_landing_page_shows_the_headline_estimate(browser_ready, report_html, pipeline_run):
    overall = _overall(pipeline_run, "pooled_smd_24h_by_route.csv")
    expected = f"{overall['estimate']:.2f} [{overall['ci_low']:.2f}, {overall['ci_high']:.2f}]"
    with WebDriver(scratch=report_html.parent) as browser:
        browser.open(report_html)
        shown = browser.wait_for_text("Headline results")
    assert expected in shown
    assert model_text(overall["method"], overall["test"]) in shown


def test_a_table_reads_inline_in_the_report(browser_ready, report_html, pipeline_run):
    """Efficacy > Tables > pooled_smd_24h_by_route shows the table itself, not a download."""
    overall = _overall(pipeline_run, "pooled_smd_24h_by_route.csv")
    with WebDriver(scratch=report_html.parent) as browser:
        browser.open(report_html)
        open_item(browser, "Efficacy", "Tables", "pooled_smd_24h_by_route")
        shown = browser.wait_for_text("ci_low")
    counts = f"{int(overall['k'])}\t{int(overall['trials'])}\t{int(overall['n'])}"
    assert f"overall\t{counts}\t{overall['estimate']:.3f}\t{overall['se']:.3f}" in shown


def test_the_audit_notebook_opens_with_its_figures(browser_ready, report_html):
    with WebDriver(scratch=report_html.parent) as browser:
        browser.open(report_html)
        open_item(browser, "Data and audit", "Audit notebook", "audit")
        shown = browser.wait_for_text("The primary analysis")
    assert "data package version" in shown


def test_screenshots_show_a_drawn_page(browser_ready, report_html, tmp_path):
    """Every documented view is reachable, and its screenshot is a drawn page, not blank."""
    written = take_screenshots(report_html, tmp_path)
    assert [p.name for p in written] == [view[0] for view in VIEWS]
    for png in written:
        pixels = matplotlib.image.imread(png)
        assert pixels.shape[1] == SCREEN[0], png.name
        # A blank or single-colour page has no spread of grey levels.
        assert np.std(pixels[..., :3]) > 0.05, png.name
