"""Every output of the workflow, registered once by the question (slice) that makes it.

Each rule file of ``workflow/rules`` registers its slice's outputs with
:meth:`OutputRegistry.register`: its tables (file stem, report caption, category, one line on
what the table holds), its figures and any other file, and which tables ``ketamine-meta explain``
can trace. Everything else is derived from that registration and nothing lists a path twice:

- the rule's ``output:`` (:meth:`SliceOutputs.table_paths`, :meth:`SliceOutputs.figure_paths`);
- the workflow's final targets (:meth:`OutputRegistry.paths`);
- the report's table pages and categories (:meth:`OutputRegistry.tables`);
- ``results/outputs.json`` (:meth:`OutputRegistry.to_json`), which ``ketamine-meta explain``
  and the README's table of outputs (``tools/update_readme.py``) read.

Paths are relative to the working directory of the run (the repository, or ``.test``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

TABLE_DIR = "results/tables"
FIGURE_DIR = "results/figures"
PAGE_DIR = "results/report/tables"
#: Where the workflow writes the registry, for readers outside Snakemake.
REGISTRY_FILE = "results/outputs.json"


@dataclass(frozen=True)
class Table:
    """A result table: ``results/tables/{stem}.csv`` and its report page.

    ``caption`` names ``workflow/report/{caption}.rst``, a template shared by several tables
    where ``wildcards`` (``(name, value)`` pairs) say which one it is rendered for, as a rule's
    wildcards would; ``category`` is the report's section (the slice's own unless given);
    ``about`` says in one line what the table holds.
    """

    stem: str
    caption: str
    about: str
    category: str = ""
    wildcards: tuple[tuple[str, str], ...] = ()

    def expand(self, **wildcards: str) -> Table:
        """The table with the ``{name}`` placeholders of its stem, caption and about filled.

        The values are kept for its caption. A rule's output (placeholders left as wildcards)
        and the registered tables (one per value) are so built from one template.
        """
        return replace(
            self,
            stem=self.stem.format(**wildcards),
            caption=self.caption.format(**wildcards),
            about=self.about.format(**wildcards),
            wildcards=(*self.wildcards, *wildcards.items()),
        )

    @property
    def path(self) -> str:
        """The CSV under ``results/tables``."""
        return f"{TABLE_DIR}/{self.stem}.csv"

    @property
    def page(self) -> str:
        """Its HTML page of the report."""
        return f"{PAGE_DIR}/{self.stem}.html"


@dataclass(frozen=True)
class Figure:
    """A figure, ``results/figures/{stem}.{format}`` in every configured format."""

    stem: str
    caption: str
    about: str
    category: str = ""

    def path(self, fmt: str) -> str:
        """The file of the figure in format ``fmt`` under ``results/figures``."""
        return f"{FIGURE_DIR}/{self.stem}.{fmt}"

    def expand(self, **wildcards: str) -> Figure:
        """The figure with its placeholders filled (see :meth:`Table.expand`)."""
        return replace(
            self, stem=self.stem.format(**wildcards), about=self.about.format(**wildcards)
        )


@dataclass(frozen=True)
class File:
    """Any other file a slice writes (a report page, an archive, an executed notebook)."""

    path: str
    about: str

    def expand(self, **wildcards: str) -> File:
        """The file with its placeholders filled (see :meth:`Table.expand`)."""
        return replace(
            self, path=self.path.format(**wildcards), about=self.about.format(**wildcards)
        )


@dataclass(frozen=True)
class Traced:
    """A table ``ketamine-meta explain`` can trace to its data rows and sources.

    ``rows`` and ``pooled`` are keys of the slice's tables: ``pooled`` the tables a subgroup's
    pooled estimate is looked up in, in order (one key, or none where the rows are not pooled
    by a model); ``subgroup_columns`` are the columns a subgroup argument may match;
    ``scale`` is ``ratio`` where the pooled tables hold logs.
    """

    rows: str
    pooled: tuple[str, ...] = ()
    subgroup_columns: tuple[str, ...] = ("route", "enantiomer", "study_id")
    scale: str = "identity"


@dataclass(frozen=True)
class SliceOutputs:
    """One question's outputs, keyed by the names its rules and scripts use."""

    name: str
    category: str
    tables: Mapping[str, Table] = field(default_factory=dict)
    figures: Mapping[str, Figure] = field(default_factory=dict)
    files: Mapping[str, File] = field(default_factory=dict)
    traced: Mapping[str, Traced] = field(default_factory=dict)
    formats: tuple[str, ...] = ("svg", "png")

    def table(self, key: str) -> Table:
        """The registered table ``key``, its category filled in."""
        table = self.tables[key]
        return table if table.category else replace(table, category=self.category)

    def figure(self, key: str) -> Figure:
        """The registered figure ``key``, its category filled in."""
        figure = self.figures[key]
        return figure if figure.category else replace(figure, category=self.category)

    def table_paths(self, keys: Iterable[str] | None = None) -> dict[str, str]:
        """``{key: path}`` of the tables (all, or ``keys``): a rule's ``output:``."""
        return {key: self.tables[key].path for key in (self.tables if keys is None else keys)}

    def figure_paths(self, keys: Iterable[str] | None = None) -> dict[str, str]:
        """``{KEY_FORMAT: path}`` of the figures in every format (what save_figures reads)."""
        return {
            f"{key}_{fmt}": self.figures[key].path(fmt)
            for key in (self.figures if keys is None else keys)
            for fmt in self.formats
        }

    def paths(self) -> list[str]:
        """Every file of the slice: tables, each table's report page, figures, other files."""
        tables = [table.path for table in self.tables.values()]
        pages = [table.page for table in self.tables.values()]
        files = [file.path for file in self.files.values()]
        return [*tables, *pages, *self.figure_paths().values(), *files]


class OutputRegistry:
    """The slices' registrations, in the order the rule files are included."""

    def __init__(self, formats: Sequence[str]) -> None:
        self.formats = tuple(formats)
        self.slices: dict[str, SliceOutputs] = {}

    def register(
        self,
        name: str,
        category: str,
        tables: Mapping[str, Table] | None = None,
        figures: Mapping[str, Figure] | None = None,
        files: Mapping[str, File] | None = None,
        traced: Mapping[str, Traced] | None = None,
    ) -> SliceOutputs:
        """Register a slice's outputs; a second registration of a name or a path is refused."""
        outputs = SliceOutputs(
            name, category, dict(tables or {}), dict(figures or {}), dict(files or {}),
            dict(traced or {}), self.formats,
        )  # fmt: skip
        if name in self.slices:
            raise ValueError(f"slice {name!r} is registered twice")
        for key, trace in outputs.traced.items():
            for table in (trace.rows, *trace.pooled):
                if table not in outputs.tables:
                    raise ValueError(f"{name}: traced {key!r} names no table {table!r}")
        taken = set(self.paths())
        twice = sorted(taken.intersection(outputs.paths()))
        if twice:
            raise ValueError(f"{name}: already registered by another slice: {', '.join(twice)}")
        self.slices[name] = outputs
        return outputs

    def tables(self) -> dict[str, Table]:
        """Every table by stem, with its category."""
        return {
            piece.table(key).stem: piece.table(key)
            for piece in self.slices.values()
            for key in piece.tables
        }

    def figures(self) -> dict[str, Figure]:
        """Every figure by stem, with its category."""
        return {
            piece.figure(key).stem: piece.figure(key)
            for piece in self.slices.values()
            for key in piece.figures
        }

    def paths(self) -> list[str]:
        """Every registered file: the workflow's final targets."""
        return [path for piece in self.slices.values() for path in piece.paths()]

    def traced(self) -> dict[str, dict]:
        """What ``explain`` can trace, by name: the rows' and pooled tables' paths and how."""
        return {
            name: {
                "rows": piece.tables[trace.rows].path,
                "pooled": [piece.tables[key].path for key in trace.pooled],
                "subgroup_columns": list(trace.subgroup_columns),
                "scale": trace.scale,
            }
            for piece in self.slices.values()
            for name, trace in piece.traced.items()
        }

    def document(self) -> dict:
        """The registry as ``results/outputs.json`` holds it (slices, outputs, traced)."""
        return {
            "formats": list(self.formats),
            "slices": {
                name: {
                    "category": piece.category,
                    "tables": {key: asdict(piece.table(key)) for key in piece.tables},
                    "figures": {key: asdict(piece.figure(key)) for key in piece.figures},
                    "files": {key: asdict(file) for key, file in piece.files.items()},
                }
                for name, piece in self.slices.items()
            },
            "traced": self.traced(),
        }

    def to_json(self) -> str:
        """:meth:`document` as the text of ``results/outputs.json``."""
        return json.dumps(self.document(), indent=1, ensure_ascii=False) + "\n"


def read_registry(path: str | Path) -> dict:
    """``results/outputs.json`` as written by :meth:`OutputRegistry.to_json`."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
