"""The README's headline is the results' headline: generated, never typed (issue 19 §7, 21)."""

from __future__ import annotations

import sys

import yaml

from conftest import REPO
from ketamine_meta.analyses.protocol import Pooling
from ketamine_meta.evidence.package_files import read_validated_table
from ketamine_meta.figures.headline import headline, headline_markdown, headline_tables
from ketamine_meta.io.outputs import REGISTRY_FILE, read_registry

sys.path.insert(0, str(REPO / "tools"))
from update_readme import HEADLINE, headline_block, headline_file, updated_readme


def _headline_of_committed_tables() -> str:
    """The Markdown headline the library renders from the committed results tables."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text(encoding="utf-8"))
    tables = {
        name: read_validated_table(REPO / "results" / "tables" / f"{stem}.csv")
        for name, stem in headline_tables(read_registry(REPO / REGISTRY_FILE)).items()
    }
    return headline_markdown(headline(tables, Pooling.from_config(config["pooling"])))


def test_the_readme_headline_is_what_the_committed_results_give():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = HEADLINE[0] + readme.split(HEADLINE[0], 1)[1].split(HEADLINE[1], 1)[0] + HEADLINE[1]
    assert block == headline_block(REPO), "run: python tools/update_readme.py"
    assert readme == updated_readme(REPO), "run: python tools/update_readme.py"


def test_the_committed_headline_file_is_the_library_rendering_of_the_committed_tables():
    committed = (REPO / headline_file(read_registry(REPO / REGISTRY_FILE))).read_text("utf-8")
    assert committed == _headline_of_committed_tables() + "\n"


def test_the_headline_names_its_caveats_in_words():
    block = headline_block(REPO)
    for words in ("confounded", "directly", "Small-study effects", "GRADE"):
        assert words in block, words
