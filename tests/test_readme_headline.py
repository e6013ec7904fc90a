"""The README's headline is the results' headline: generated, never typed (issue 19 §7, 21)."""

from __future__ import annotations

import sys

from conftest import REPO

sys.path.insert(0, str(REPO / "tools"))
from update_readme_headline import END, START, rendered_block


def test_the_readme_headline_is_what_the_committed_results_give():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = START + readme.split(START, 1)[1].split(END, 1)[0] + END
    assert block == rendered_block(REPO), "run: python tools/update_readme_headline.py"


def test_the_headline_names_its_caveats_in_words():
    block = rendered_block(REPO)
    for words in ("confounded", "directly", "Small-study effects", "GRADE"):
        assert words in block, words
