"""The PRISMA 2020 flow diagram."""

from __future__ import annotations

from collections.abc import Mapping

from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from ketamine_meta.figures.labels import hours_text


def prisma_flow(
    counts: Mapping[str, int], exclusion_reasons: Mapping[str, int], timepoint_h: float = 24
) -> Figure:
    """PRISMA-style flow of candidate trials from the screening log to the analyses."""
    fig = Figure(figsize=(7.0, 6.2))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 10)
    ax.axis("off")

    def box(x, y, w, h, text, bold=False):
        ax.add_patch(
            FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.05", fc="white", ec="black", lw=0.8)
        )
        ax.text(
            x + w / 2,
            y + h / 2,
            text,
            ha="center",
            va="center",
            fontsize=7.8,
            fontweight="bold" if bold else "normal",
            wrap=True,
        )

    def arrow(x0, y0, x1, y1):
        ax.annotate("", (x1, y1), (x0, y0), arrowprops={"arrowstyle": "->", "lw": 0.8})

    box(
        0.6,
        8.6,
        5.0,
        1.0,
        f"Candidate trials identified\n(review tables and searches): "
        f"{counts['records']} records, {counts['candidates']} distinct trials",
    )
    box(0.6, 6.6, 5.0, 1.0, f"Trials screened: {counts['candidates']}")
    reasons = "\n".join(f"{reason}: {n}" for reason, n in exclusion_reasons.items())
    box(6.3, 6.1, 3.4, 2.0, f"Excluded: {counts['excluded']}\n{reasons}")
    box(6.3, 4.6, 3.4, 0.9, f"Unclear (not yet decided): {counts['unclear']}")
    box(0.6, 4.6, 5.0, 1.0, f"Included: {counts['included']}")
    box(6.3, 3.1, 3.4, 0.9, f"Still to extract: {counts['to_extract']}")
    box(0.6, 2.6, 5.0, 1.0, f"Extracted into the data package: {counts['extracted']}", bold=True)
    box(
        0.6,
        0.6,
        5.0,
        1.0,
        f"In the pooled SMD at {hours_text(timepoint_h)}: {counts['in_primary']} trials\n"
        f"(relapse data: {counts['with_relapse']} trials)",
    )
    for y0, y1 in ((8.6, 7.6), (6.6, 5.6), (4.6, 3.6), (2.6, 1.6)):
        arrow(3.1, y0, 3.1, y1)
    arrow(5.6, 7.1, 6.3, 7.1)
    arrow(5.6, 6.8, 6.3, 5.3)
    arrow(5.6, 3.4, 6.3, 3.5)
    return fig
