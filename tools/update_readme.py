"""Write README.md's two generated blocks from what the pipeline wrote; never by hand.

- The headline, between ``<!-- headline:start -->`` and ``<!-- headline:end -->``: the audit
  slice's ``headline`` file (``results/report/headline.md``), which the job of the report's
  landing page writes beside it from the same tables and function
  (:func:`ketamine_meta.figures.headline.headline`), so that the README's numbers and the
  report's cannot disagree.
- The table of outputs, between ``<!-- outputs:start -->`` and ``<!-- outputs:end -->``: every
  table, figure and file the workflow writes, per question, with the one line its slice
  registered (``results/outputs.json``, :mod:`ketamine_meta.io.outputs`).

It only reads and splices text (no pandas), so `make` runs it after the pipeline in a fraction
of a second. ``tests/test_readme_headline.py`` and ``tests/test_outputs.py`` fail when the
README and the results disagree.

Usage: python tools/update_readme.py [--check]
"""

from __future__ import annotations

import sys
from pathlib import Path

from ketamine_meta.io.outputs import FIGURE_DIR, REGISTRY_FILE, read_registry

ROOT = Path(__file__).resolve().parents[1]
HEADLINE = ("<!-- headline:start -->", "<!-- headline:end -->")
OUTPUTS = ("<!-- outputs:start -->", "<!-- outputs:end -->")


def headline_file(registry: dict) -> str:
    """Where the pipeline writes the README's headline (the audit slice registers it)."""
    return registry["slices"]["audit"]["files"]["headline"]["path"]


def headline_block(root: Path = ROOT) -> str:
    """The headline block as the pipeline wrote it under ``root``, markers included."""
    path = root / headline_file(read_registry(root / REGISTRY_FILE))
    text = path.read_text(encoding="utf-8").removesuffix("\n")
    return f"{HEADLINE[0]}\n{text}\n{HEADLINE[1]}"


def outputs_block(registry: dict) -> str:
    """The Markdown table of every registered output, markers included."""
    formats = "/".join(registry["formats"])
    lines = [OUTPUTS[0], "| Question | Output | What it holds |", "|---|---|---|"]
    for name, piece in registry["slices"].items():
        question = name.replace("_", " ")
        for table in piece["tables"].values():
            lines.append(
                f"| {question} | `results/tables/{table['stem']}.csv` | {table['about']} |"
            )
        for figure in piece["figures"].values():
            path = f"{FIGURE_DIR}/{figure['stem']}.{{{formats}}}"
            lines.append(f"| {question} | `{path}` | {figure['about']} |")
        for file in piece["files"].values():
            lines.append(f"| {question} | `{file['path']}` | {file['about']} |")
    lines.append(OUTPUTS[1])
    return "\n".join(lines)


def readme_with_block(readme: str, block: str, markers: tuple[str, str]) -> str:
    """``readme`` with its block between ``markers`` replaced by ``block``."""
    before, rest = readme.split(markers[0], 1)
    _, after = rest.split(markers[1], 1)
    return before + block + after


def updated_readme(root: Path = ROOT) -> str:
    """README.md under ``root`` with both blocks as the results under ``root`` give them."""
    readme = (root / "README.md").read_text(encoding="utf-8")
    readme = readme_with_block(readme, headline_block(root), HEADLINE)
    return readme_with_block(readme, outputs_block(read_registry(root / REGISTRY_FILE)), OUTPUTS)


def main(check: bool) -> int:
    """Rewrite both blocks (or, with ``check``, exit 1 if either is out of date)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    updated = updated_readme()
    if check:
        return 0 if updated == readme else 1
    if updated != readme:
        (ROOT / "README.md").write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main("--check" in sys.argv[1:]))
