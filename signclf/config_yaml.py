"""YAML in, for configs and `--set` values: safe, alias-free, and short when quoted in an error.

Anchors and aliases are refused: an alias shares one node, so a few hundred bytes of nested aliases
describe gigabytes once anything walks or prints the value, and no config needs them.
"""

from __future__ import annotations

import copy
import reprlib
from pathlib import Path

import yaml

from signclf.errors import ConfigError
from signclf.text import cut_end, printable

# reprlib stops walking a value after a few levels and items, so quoting a huge one stays cheap.
_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict, _SHORT.maxstring, _SHORT.maxother = 3, 6, 6, 60, 60
MAX_SHOWN = 80  # characters of a value or key quoted in an error message


def shown(value) -> str:
    """repr(value) for an error message: at most MAX_SHOWN characters, control characters escaped."""
    return cut_end(printable(_SHORT.repr(value)), MAX_SHOWN)


def shown_key(text: str) -> str:
    """A (dotted) key from the user's YAML for an error message: at most MAX_SHOWN characters."""
    return cut_end(printable(str(text)), MAX_SHOWN)


class _AliasFound(Exception):
    def __init__(self, mark):
        super().__init__()
        self.mark = mark


class _NoAliasLoader(yaml.SafeLoader):
    """yaml.SafeLoader that stops at the first anchor (&name) or alias (*name)."""

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _AliasFound(event.start_mark)
        return super().compose_node(parent, index)


def _aliases_refused(where: str, mark) -> ConfigError:
    at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
    return ConfigError(f"{where}: YAML aliases are not allowed{at}; write each value out in full")


def load_yaml(text: str, where: str):
    """Parse YAML text; syntax errors propagate as yaml.YAMLError, anchors/aliases are a ConfigError."""
    try:
        return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 (a SafeLoader subclass)
    except _AliasFound as e:
        raise _aliases_refused(where, e.mark) from None


def read_yaml(path) -> dict:
    """A config file's top-level value ({} for an empty file); every problem is one ConfigError line."""
    path = Path(path)
    where = printable(str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{where}: config file not found (see configs/ for examples)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{where}: cannot read config ({printable(str(e))})") from None
    try:
        raw = load_yaml(text, where)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or "invalid YAML"
        raise ConfigError(f"{where}: YAML syntax error{at}: {printable(problem)}") from None
    return raw if raw is not None else {}


def read_config_yaml(path, _chain: tuple = ()) -> dict:
    """A config file's top-level value with its `base:` chain merged in.

    `base: other.yaml` (relative to this file) names a config whose values this one overrides
    mapping by mapping; a list, like model.conv, is replaced whole. `name` is not inherited: a
    derived config is its own run name. The result has no `base` key, so the config a run saves
    is the flat, resolved one.
    """
    path = Path(path)
    raw = read_yaml(path)
    if not isinstance(raw, dict) or "base" not in raw:
        return raw
    where = printable(str(path))
    base = raw.pop("base")
    if not isinstance(base, str) or not base.strip():
        raise ConfigError(f"{where}: base must name another config file, e.g. base: best.yaml, got {shown(base)}")
    base_path = path.parent / base
    chain = _chain + (path.resolve(),)
    if base_path.resolve() in chain:
        raise ConfigError(f"{where}: base {shown(base)} leads back to {printable(str(base_path))}; "
                          f"a chain of bases must end in a config without one")
    if not base_path.is_file():
        raise ConfigError(f"{where}: base config {printable(str(base_path))} not found "
                          f"(base is relative to this file's folder)")
    parent = read_config_yaml(base_path, chain)
    if not isinstance(parent, dict):
        raise ConfigError(f"{printable(str(base_path))}: the top level must be a mapping of sections")
    parent.pop("name", None)
    return _merged(parent, raw)


def _merged(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = _merged(out[key], value) if both else value
    return out


def parse_override(text: str) -> tuple[list[str], object]:
    """`train.epochs=3` → (['train', 'epochs'], 3); the value is parsed as YAML (numbers, lists, bools)."""
    if "=" not in text:
        raise ConfigError(f"--set {shown_key(text)}: expected key=value, e.g. --set train.epochs=3")
    key, raw = text.split("=", 1)
    try:
        value = load_yaml(raw, f"--set {shown_key(key.strip())}") if raw.strip() else ""
    except yaml.YAMLError:
        value = raw  # not YAML: taken as the string it is
    return key.strip().split("."), value


def apply_override(raw: dict, path: list[str], value, defaults: dict | None = None) -> None:
    """Set raw[a][b][...] = value, descending into lists by index (model.conv.0.depth=32).

    Sections, keys and lists that `raw` lacks are first copied from `defaults` (the default
    config as a dict), so an override can reach into a default list without a config file.
    """
    dotted = shown_key(".".join(path))
    node, default = raw, defaults
    for i, part in enumerate(path[:-1]):
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f"--set {dotted}: no list item {shown(part)} in {shown_key('.'.join(path[:i]))}")
            node, default = node[int(part)], None
            continue
        if part not in node and isinstance(default, dict) and isinstance(default.get(part), (dict, list)):
            node[part] = copy.deepcopy(default[part])
        if not isinstance(node.get(part, {}), (dict, list)):
            raise ConfigError(f"--set {dotted}: {shown_key('.'.join(path[:i + 1]))} is not a section")
        node = node.setdefault(part, {})
        default = default.get(part) if isinstance(default, dict) else None
    last = path[-1]
    if isinstance(node, list):
        if not last.isdigit() or int(last) >= len(node):
            raise ConfigError(f"--set {dotted}: no list item {shown(last)}")
        node[int(last)] = value
    else:
        node[last] = value
