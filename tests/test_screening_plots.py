"""The PRISMA 2020 flow diagram (:mod:`ketamine_meta.figures.screening_plots`): every count
of the flow, and each exclusion reason, is written in its box."""

from __future__ import annotations

from matplotlib.patches import FancyBboxPatch

from ketamine_meta.figures.screening_plots import prisma_flow

COUNTS = {
    "records": 31,
    "candidates": 27,
    "excluded": 9,
    "unclear": 2,
    "included": 16,
    "extracted": 14,
    "to_extract": 2,
    "in_primary": 11,
    "with_relapse": 3,
}
REASONS = {"not randomized": 5, "children or adolescents": 3, "other": 1}


def test_every_count_is_in_its_box():
    ax = prisma_flow(COUNTS, REASONS).axes[0]
    # The arrows are annotations without text.
    texts = [t.get_text() for t in ax.texts if t.get_text()]
    assert texts == [
        "Candidate trials identified\n(review tables and searches): 31 records, 27 distinct trials",
        "Trials screened: 27",
        "Excluded: 9\nnot randomized: 5\nchildren or adolescents: 3\nother: 1",
        "Unclear (not yet decided): 2",
        "Included: 16",
        "Still to extract: 2",
        "Extracted into the data package: 14",
        "In the pooled SMD at 24 h: 11 trials\n(relapse data: 3 trials)",
    ]
    # The package's own count is the one in bold.
    bold = [t.get_text() for t in ax.texts if t.get_fontweight() == "bold"]
    assert bold == ["Extracted into the data package: 14"]


def test_one_box_per_stage_and_the_arrows_between_them():
    ax = prisma_flow(COUNTS, {}).axes[0]
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    assert len(boxes) == 8
    # Four arrows down the main column and three to the side boxes, each an empty annotation.
    arrows = [t for t in ax.texts if t.get_text() == "" and t.arrow_patch is not None]
    assert len(arrows) == 7
    assert "Excluded: 9\n" in [t.get_text() for t in ax.texts]
    assert not ax.axison
