"""Guards on the workflow's YAML files, applied before their content is trusted.

A YAML file can be small and still expand to an enormous document through anchors and aliases
(the "billion laughs" pattern), which would hang ``configfile:`` or schema validation for
minutes. :func:`check_yaml_file` bounds the file's size and the number and depth of nodes of
its composed document, counting every alias as the subtree it points to, without expanding it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml

from ketamine_meta.stats.meta_analysis import confidence_level

#: Bounds of a configuration file: far above what the project's own files use.
MAX_YAML_BYTES = 256 * 1024
MAX_YAML_NODES = 100_000
MAX_YAML_DEPTH = 64


class ConfigError(ValueError):
    """A configuration file or value that the workflow refuses, with the reason."""


def check_yaml_file(path: str | Path) -> None:
    """Refuse a YAML file that is too large, too deep or expands to too many nodes.

    Raises
    ------
    ConfigError
        Naming the file and the bound it exceeds, or the YAML error with its line.
    """
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_YAML_BYTES:
        raise ConfigError(f"{path}: {size} bytes, more than the {MAX_YAML_BYTES} allowed")
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    _count_nodes(root, path)


def _count_nodes(root: yaml.Node | None, path: Path) -> None:
    """Walk the composed graph, where an alias is the very node it refers to, with a budget."""
    budget = MAX_YAML_NODES
    stack = [(root, 1)] if root is not None else []
    while stack:
        node, depth = stack.pop()
        budget -= 1
        if budget < 0:
            raise ConfigError(
                f"{path}: expands to more than {MAX_YAML_NODES} nodes (nested aliases?)"
            )
        if depth > MAX_YAML_DEPTH:
            raise ConfigError(f"{path}: nested deeper than {MAX_YAML_DEPTH} levels")
        if isinstance(node, yaml.MappingNode):
            stack += [(child, depth + 1) for pair in node.value for child in pair]
        elif isinstance(node, yaml.SequenceNode):
            stack += [(child, depth + 1) for child in node.value]


def load_yaml_file(path: str | Path) -> object:
    """:func:`check_yaml_file`, then the file's content (safe loader)."""
    check_yaml_file(path)
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def check_config(config: Mapping) -> None:
    """Values the schema cannot refuse: a confidence level must be a real level.

    JSON Schema's bounds let NaN through (every comparison with NaN is false), so the level
    is checked here and normalized as metafor does (95 means 0.95).

    Raises
    ------
    ConfigError
        Naming the key and the value.
    """
    try:
        config["pooling"]["level"] = confidence_level(config["pooling"]["level"])
    except ValueError as exc:
        raise ConfigError(f"config pooling.level: {exc}") from exc
