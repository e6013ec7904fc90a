"""Guards on the workflow's YAML files and configuration, applied before their content is trusted.

A YAML file can be small and still expand to an enormous document through anchors and aliases
(the "billion laughs" pattern), which would hang ``configfile:`` or schema validation for
minutes. :func:`check_yaml_file` bounds the file's size and the number and depth of nodes of
its composed document, counting every alias as the subtree it points to, without expanding it.
The same walk refuses what a reader of the file would not see as plain data: a tag outside
YAML's core schema (``!!python/object``, a date) and a key written twice in one mapping,
which every YAML loader accepts with the later value silently winning.

:func:`schema_refusal` turns the JSON schema's complaint into a one-line message naming the
file, line and key, and :func:`check_config` checks what a schema cannot express (non-finite
numbers, overlapping timepoint windows, the primary timepoint's window).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator, ValidationError
from jsonschema.exceptions import best_match

from ketamine_meta.stats.bayes_priors import PriorError, parse_mu_prior, parse_tau_prior
from ketamine_meta.stats.model import confidence_level

#: Bounds of a configuration file: far above what the project's own files use.
MAX_YAML_BYTES = 256 * 1024
MAX_YAML_NODES = 100_000
MAX_YAML_DEPTH = 64

#: The tags YAML's core schema resolves plain values to: what JSON can hold. Timestamps are
#: left out: no file the workflow reads has a date, and an unquoted one would reach the schema
#: as a datetime object that no JSON Schema type matches.
CORE_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "seq", "map")
)
PLAIN_YAML = (
    "only plain YAML is allowed (strings, numbers, booleans, null, lists and mappings; "
    "quote a value to keep it a string)"
)
#: libyaml's safe loader where PyYAML was built with it (the wheels are): the same documents,
#: nodes and marks, ten times faster than the pure-Python one on the config and its schema.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: Longest schema message shown: a wrong value can be a whole section.
MAX_MESSAGE_CHARS = 300

#: A position in a document: mapping keys and sequence indices from the root.
KeyPath = tuple[object, ...]


class ConfigError(ValueError):
    """A configuration file or value that the workflow refuses, with the reason."""


def check_yaml_file(path: str | Path) -> None:
    """Refuse a YAML file that is too large, too deep or too big when expanded, or not plain.

    Not plain: a tag outside the core schema, a duplicate or non-scalar mapping key.

    Raises
    ------
    ConfigError
        Naming the file, the line and what is wrong there, or the YAML error with its line.
    """
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_YAML_BYTES:
        raise ConfigError(f"{path}: {size} bytes, more than the {MAX_YAML_BYTES} allowed")
    root = _compose(path)
    _walk_nodes(root, path)


def _compose(path: Path) -> yaml.Node | None:
    """The file's node graph (aliases are references to their anchor's node, not copies)."""
    try:
        text = path.read_text(encoding="utf-8")
        try:
            return yaml.compose(text, Loader=SAFE_LOADER)
        except yaml.YAMLError:
            # The pure-Python loader says what is wrong in words the messages below keep
            # stable across PyYAML builds; libyaml words it differently.
            return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        located = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else path
        reason = " ".join(filter(None, (exc.context, exc.problem)))
        raise ConfigError(f"{located}: not valid YAML ({reason})") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({_one_line(str(exc))})") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from exc


def _walk_nodes(root: yaml.Node | None, path: Path) -> None:
    """Walk the composed graph, where an alias is the very node it refers to, with a budget.

    Depth first in document order, so that the first problem of the file is the one named.
    """
    budget = MAX_YAML_NODES
    stack: list[tuple[yaml.Node, int, KeyPath]] = [(root, 1, ())] if root is not None else []
    while stack:
        node, depth, where = stack.pop()
        budget -= 1
        if budget < 0:
            raise ConfigError(
                f"{path}: expands to more than {MAX_YAML_NODES} nodes (nested aliases?)"
            )
        if depth > MAX_YAML_DEPTH:
            raise ConfigError(f"{path}: nested deeper than {MAX_YAML_DEPTH} levels")
        _check_tag(node, path)
        if isinstance(node, yaml.MappingNode):
            keys = _mapping_keys(node, path, where)
            values = [value for _, value in node.value]
            children = [(value, (*where, key)) for key, value in zip(keys, values, strict=True)]
        elif isinstance(node, yaml.SequenceNode):
            children = [(child, (*where, i)) for i, child in enumerate(node.value)]
        else:
            children = []
        stack += [(child, depth + 1, at) for child, at in reversed(children)]


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _check_tag(node: yaml.Node, path: Path) -> None:
    """Refuse a node whose tag (written, or resolved from the value) is not a core one."""
    if node.tag in CORE_TAGS:
        return
    shown = node.tag.replace("tag:yaml.org,2002:", "!!", 1)
    value = f" on {node.value!r}" if isinstance(node, yaml.ScalarNode) else ""
    raise ConfigError(
        f"{path}, line {_line(node)}: the YAML tag {shown}{value} is not allowed; {PLAIN_YAML}"
    )


def _mapping_keys(node: yaml.MappingNode, path: Path, where: KeyPath) -> list[object]:
    """The mapping's keys as a loader constructs them (``1`` and ``1.0`` are one key).

    A repeated key, a list or mapping as a key, or a key with a non-core tag is refused.
    """
    constructor = yaml.SafeLoader("")
    first_line: dict[object, int] = {}
    keys = []
    for key_node, _ in node.value:
        _check_tag(key_node, path)
        if not isinstance(key_node, yaml.ScalarNode):
            raise ConfigError(
                f"{path}, line {_line(key_node)}: a mapping key {_in(where)} is a list or "
                f"mapping; {PLAIN_YAML}"
            )
        key = constructor.construct_object(key_node)
        if key in first_line:
            lines = sorted({first_line[key], _line(key_node)})
            located = " and ".join(map(str, lines))
            raise ConfigError(
                f"{path}, line{'s' if len(lines) > 1 else ''} {located}: the key {key!r} appears "
                f"twice {_in(where)} (a loader would silently keep the later value)"
            )
        first_line[key] = _line(key_node)
        keys.append(key)
    return keys


def _where_text(where: KeyPath) -> str:
    """``pooling.level``, ``windows[1].low_h``; the top level for the empty path."""
    if not where:
        return "the top level"
    text = ""
    for part in where:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.removeprefix(".")


def _in(where: KeyPath) -> str:
    return f"in {_where_text(where)}" if where else "at the top level"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def load_yaml_file(path: str | Path) -> object:
    """:func:`check_yaml_file`, then the file's content (safe loader)."""
    check_yaml_file(path)
    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=SAFE_LOADER)


def load_checked_yaml(path: str | Path, schema_path: str | Path) -> object:
    """:func:`load_yaml_file` of ``path``, refused in one line unless its schema accepts it.

    Raises
    ------
    ConfigError
        From :func:`load_yaml_file` or :func:`check_against_schema`.
    """
    document = load_yaml_file(path)
    check_against_schema(document, load_yaml_file(schema_path), path)
    return document


def check_against_schema(document: object, schema: Mapping, path: str | Path) -> None:
    """Refuse ``document`` (read from ``path``) in one line if its JSON schema rejects it.

    Raises
    ------
    ConfigError
        From :func:`schema_refusal` of the schema's most relevant complaint
        (``jsonschema.exceptions.best_match``); ``snakemake.utils.validate`` would print the
        whole schema over many lines.
    """
    error = best_match(Draft202012Validator(schema).iter_errors(document))
    if error is not None:
        raise schema_refusal(error, path)


def schema_refusal(error: ValidationError, config_path: str | Path) -> ConfigError:
    """The one-line refusal of a configuration that its JSON schema rejects.

    Parameters
    ----------
    error
        The schema's complaint: its message and the path of the offending value.
    config_path
        The file the configuration was read from; the message names the line of the
        offending key when the file has that key (a command-line override has none).

    Returns
    -------
    ConfigError
        One line: file, line, key and the schema's complaint about the value.
    """
    message = _one_line(error.message)
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[: MAX_MESSAGE_CHARS - 1] + "…"
    return _refusal(config_path, tuple(error.absolute_path), message)


def _refusal(config_path: str | Path | None, where: KeyPath, reason: str) -> ConfigError:
    """``FILE, line N: KEY: REASON``; without a file (a configuration built in code) ``config``."""
    line = _line_of(Path(config_path), where) if config_path is not None else None
    source = "config" if config_path is None else str(config_path)
    located = f"{source}, line {line}" if line else source
    return ConfigError(f"{located}: {_where_text(where)}: {reason}")


def _line_of(path: Path, where: KeyPath) -> int | None:
    """Line of the key (or list item) at ``where`` in the (already checked) file, if it has it."""
    node = _compose(path)
    line = None
    for part in where:
        if isinstance(node, yaml.MappingNode):
            pairs = [(k, v) for k, v in node.value if k.value == str(part)]
            key_node, node = pairs[0] if pairs else (None, None)
            line = _line(key_node) if key_node else None
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
            line = _line(node)
        else:
            return None
    return line


class _ValueRefusedError(Exception):
    """A value :func:`check_config` refuses: where it is, and why."""

    def __init__(self, where: KeyPath, reason: str) -> None:
        super().__init__(reason)
        self.where = where
        self.reason = reason


def check_config(config: Mapping, config_path: str | Path | None = None) -> None:
    """Values the schema cannot refuse, in a configuration that passed it.

    JSON Schema's bounds let NaN through (every comparison with NaN is false), so no number
    may be NaN or infinite; the confidence level must be a real level, normalized as metafor
    does (95 means 0.95). The timepoint windows (PROTOCOL.md §6) must each hold their nominal
    time, have distinct labels and not overlap (a visit in two windows would enter both
    analyses), and one of them must be the primary timepoint's; a multiverse window may not
    end before it starts. The schema requires every section; one absent here (a partial
    configuration in a unit test) is not checked.

    Parameters
    ----------
    config
        The configuration; ``pooling.level`` is normalized in place.
    config_path
        The file it was read from, whose line of the refused key the message names.

    Raises
    ------
    ConfigError
        One line naming the file, line and key, and the value.
    """
    try:
        _check_level(config)
        _check_finite(config, ())
        if "windows" in config:
            _check_windows(config["windows"], config["pooling"]["timepoint_h"])
        if "multiverse" in config:
            _check_multiverse_windows(config["multiverse"]["windows"])
        if "bayesian" in config:
            _check_bayesian(config["bayesian"])
    except _ValueRefusedError as problem:
        raise _refusal(config_path, problem.where, problem.reason) from None


def _check_bayesian(bayesian: Mapping) -> None:
    """PROTOCOL.md §23's priors: each spelled as the analyses parse it, names unique per measure.

    A prior the engine cannot read would otherwise stop the pipeline halfway, in a job's log.
    """
    try:
        confidence_level(bayesian["credible_level"])
    except ValueError as exc:
        raise _ValueRefusedError(("bayesian", "credible_level"), str(exc)) from None
    try:
        parse_mu_prior(bayesian["mu_prior"])
    except PriorError as exc:
        raise _ValueRefusedError(("bayesian", "mu_prior"), str(exc)) from None
    for measure, priors in bayesian["priors"].items():
        names = set()
        for i, prior in enumerate(priors):
            where = ("bayesian", "priors", measure, i)
            try:
                parse_tau_prior(prior["tau_prior"])
            except PriorError as exc:
                raise _ValueRefusedError((*where, "tau_prior"), str(exc)) from None
            if prior["name"] in names:
                raise _ValueRefusedError((*where, "name"), f"{prior['name']!r} is repeated")
            names.add(prior["name"])


def _check_level(config: Mapping) -> None:
    try:
        config["pooling"]["level"] = confidence_level(config["pooling"]["level"])
    except ValueError as exc:
        raise _ValueRefusedError(("pooling", "level"), str(exc)) from None


def _check_finite(value: object, where: KeyPath) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise _ValueRefusedError(where, f"{value} is not a finite number")
    if isinstance(value, Mapping):
        for key, child in value.items():
            _check_finite(child, (*where, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            _check_finite(child, (*where, i))


def _check_windows(windows: Sequence[Mapping], timepoint_h: float) -> None:
    """PROTOCOL.md §6's windows: each holds its nominal time, and labels are unique.

    Tables name windows by label; none may overlap (:func:`_check_no_overlap`), and one must
    have the primary timepoint as its nominal time, matched as the analyses'
    ``window_at`` matches it (to floating-point tolerance).
    """
    labels = set()
    for i, window in enumerate(windows):
        if not window["low_h"] <= window["nominal_h"] <= window["high_h"]:
            raise _ValueRefusedError(
                ("windows", i),
                f"{_bounds(window)} does not hold its nominal time {window['nominal_h']:g} h",
            )
        if window["label"] in labels:
            raise _ValueRefusedError(("windows", i), f"the label {window['label']!r} is repeated")
        labels.add(window["label"])
    _check_no_overlap(windows)
    if not any(
        math.isclose(window["nominal_h"], timepoint_h, rel_tol=1e-5, abs_tol=1e-8)
        for window in windows
    ):
        nominal = ", ".join(f"{window['nominal_h']:g}" for window in windows)
        raise _ValueRefusedError(
            ("pooling", "timepoint_h"),
            f"no window has the nominal time {timepoint_h:g} h (windows' nominal times: "
            f"{nominal} h)",
        )


def _check_no_overlap(windows: Sequence[Mapping]) -> None:
    """Refuse two windows sharing an hour: bounds are inclusive, so touching ones overlap.

    Sorted by their low bound, a window overlaps an earlier one exactly when it starts at or
    before the latest end so far; that earlier window is named with it.
    """
    reaching = None
    for i, window in sorted(enumerate(windows), key=lambda item: item[1]["low_h"]):
        if reaching is not None and window["low_h"] <= reaching["high_h"]:
            raise _ValueRefusedError(
                ("windows", i),
                f"{_bounds(reaching)} and {_bounds(window)} overlap (a visit at "
                f"{window['low_h']:g} h would be in both); windows may not overlap",
            )
        if reaching is None or window["high_h"] > reaching["high_h"]:
            reaching = window


def _bounds(window: Mapping) -> str:
    return f"{window['label']!r} [{window['low_h']:g}, {window['high_h']:g}] h"


def _check_multiverse_windows(windows: Sequence[Mapping]) -> None:
    """The multiverse's alternative 24 h windows overlap by design; none may be empty."""
    for i, window in enumerate(windows):
        if window["low_h"] > window["high_h"]:
            raise _ValueRefusedError(
                ("multiverse", "windows", i),
                f"{window['name']!r} starts at {window['low_h']:g} h, after its end at "
                f"{window['high_h']:g} h",
            )
