"""Write README.md's headline block from the committed results tables.

The block between the markers ``<!-- headline:start -->`` and ``<!-- headline:end -->`` is
rendered by :func:`ketamine_meta.figures.headline.headline_markdown` from the same tables and
function as the report's landing page, so the README's numbers are never typed by hand.
``tests/test_readme_headline.py`` fails when the README and the results disagree; this script
(run after `make`) brings the README up to date.

Usage: python tools/update_readme_headline.py [--check]
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from ketamine_meta.analyses.protocol import Pooling
from ketamine_meta.evidence.package_files import read_validated_table
from ketamine_meta.figures.headline import headline, headline_markdown, headline_tables
from ketamine_meta.io.outputs import REGISTRY_FILE, read_registry

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- headline:start -->", "<!-- headline:end -->"


def rendered_block(root: Path = ROOT) -> str:
    """The headline block as the results under ``root`` give it, markers included."""
    config = yaml.safe_load((root / "config" / "config.yaml").read_text(encoding="utf-8"))
    pooling = Pooling.from_config(config["pooling"])
    tables = {
        name: read_validated_table(root / "results" / "tables" / f"{stem}.csv")
        for name, stem in headline_tables(read_registry(root / REGISTRY_FILE)).items()
    }
    return f"{START}\n{headline_markdown(headline(tables, pooling))}\n{END}"


def readme_with_block(readme: str, block: str, start: str = START, end: str = END) -> str:
    """``readme`` with its block between ``start`` and ``end`` (the headline's) replaced."""
    before, rest = readme.split(start, 1)
    _, after = rest.split(end, 1)
    return before + block + after


def main(check: bool) -> int:
    """Rewrite the block (or, with ``check``, exit 1 if it is out of date)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    updated = readme_with_block(readme, rendered_block())
    if check:
        return 0 if updated == readme else 1
    (ROOT / "README.md").write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main("--check" in sys.argv[1:]))
