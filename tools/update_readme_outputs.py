"""Write README.md's table of outputs from the workflow's registry (results/outputs.json).

The block between ``<!-- outputs:start -->`` and ``<!-- outputs:end -->`` lists every table,
figure and file the workflow writes, per question, with the one line its slice registered
(``ketamine_meta.io.outputs``): the README never lists an output by hand.
``tests/test_outputs.py`` fails when the README and the registry disagree; this script (run by
`make` after the pipeline) brings the README up to date.

Usage: python tools/update_readme_outputs.py [--check]
"""

from __future__ import annotations

import sys
from pathlib import Path

from update_readme_headline import readme_with_block

from ketamine_meta.io.outputs import FIGURE_DIR, REGISTRY_FILE, read_registry

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- outputs:start -->", "<!-- outputs:end -->"


def rendered_block(registry: dict) -> str:
    """The Markdown table of every registered output, markers included."""
    formats = "/".join(registry["formats"])
    lines = [START, "| Question | Output | What it holds |", "|---|---|---|"]
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
    lines.append(END)
    return "\n".join(lines)


def main(check: bool) -> int:
    """Rewrite the block (or, with ``check``, exit 1 if it is out of date)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = rendered_block(read_registry(ROOT / REGISTRY_FILE))
    updated = readme_with_block(readme, block, START, END)
    if check:
        return 0 if updated == readme else 1
    (ROOT / "README.md").write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main("--check" in sys.argv[1:]))
