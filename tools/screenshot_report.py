"""Screenshots of the Snakemake report in headless Chromium, for docs/screenshots.

Usage: python tools/screenshot_report.py [REPORT_HTML] [OUTPUT_DIR]
(``make screenshots``; defaults results/report.html and docs/screenshots). Each view is
reached as a reader reaches it, by clicking through the report's menus.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser import WebDriver

#: A laptop's screen, width and height: the width the report is laid out for
#: (workflow/report/report.css).
SCREEN = (1366, 900)
#: (file name, category, subcategory, item, text the view must show before it is taken)
VIEWS = (
    ("report_landing.png", None, None, None, "Headline results"),
    ("report_table_pooled_smd.png", "Efficacy", "Tables", "pooled_smd_24h_by_route", "ci_low"),
    ("report_figure_forest.png", "Efficacy", "Figures", "forest_smd_24h_by_route", ""),
    ("report_claims_audit.png", "Claims", "Tables", "claims_audit", "verdict"),
    ("report_audit_notebook.png", "Data and audit", "Audit notebook", "audit", "Audit"),
    (
        "report_summary_of_findings.png",
        "Certainty",
        "Summary of findings",
        "summary of findings (Cochrane layout)",
        "Certainty of the evidence",
    ),
    ("report_network_forest.png", "Network", "Figures", "nma_forest_smd_24h", ""),
    ("report_network_graph.png", "Network", "Figures", "network_graph_smd_24h", ""),
    (
        "report_figure_response_forest.png",
        "Response",
        "Figures",
        "forest_rr_response_24h_by_enantiomer",
        "",
    ),
    ("report_figure_benchmark.png", "Efficacy", "Figures", "effect_size_benchmark", ""),
)


def open_item(browser: WebDriver, category: str, subcategory: str, item: str) -> None:
    """Click from the landing page to one result of the report."""
    link = "//*[self::a or self::button][normalize-space(.)={}]"
    row = f'//tr[td[normalize-space(.)="{item}"]]//a'
    browser.click_until(link.format(json.dumps(category)), link.format(json.dumps(subcategory)))
    browser.click_until(link.format(json.dumps(subcategory)), row)
    browser.click(row)


def take_screenshots(report: Path, out_dir: Path) -> list[Path]:
    """Write every view of :data:`VIEWS` to ``out_dir`` and return the files."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, category, subcategory, item, expected in VIEWS:
        with WebDriver(scratch=out_dir, width=SCREEN[0], height=SCREEN[1]) as browser:
            browser.open(report)
            if item is not None:
                open_item(browser, category, subcategory, item)
            browser.wait_for_text(expected)
            browser.screenshot(out_dir / name)
        written.append(out_dir / name)
    return written


def main(argv: list[str]) -> int:
    """Entry point: print each screenshot written."""
    report = Path(argv[1]) if len(argv) > 1 else Path("results/report.html")
    out_dir = Path(argv[2]) if len(argv) > 2 else Path("docs/screenshots")
    for path in take_screenshots(report, out_dir):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
