"""SPACE.yaml for `signclf sweep`: config keys → search domains, checked before Ray starts.

    train.learning_rate: {loguniform: [0.0003, 0.003]}
    model.conv.0.depth: {choice: [6, 12, 24]}
    model.keep_prob: {uniform: [0.5, 1.0]}
    train.seed: {grid: [0, 1]}

Keys are the dotted keys of `--set` (list items by index). Every value a domain can produce
(each choice and grid value, both ends of a range) is applied to the base config with the same
machinery as `--set` and the result validated as a config, so an unknown key gets the same
did-you-mean, and a value of the wrong type or out of range the same message, as `signclf train`
would give. No Ray here: a bad space costs no Ray start-up.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path

from signclf.config import Config, config_from_dict, config_to_dict
from signclf.config_yaml import apply_override, read_yaml, shown, shown_key
from signclf.errors import ConfigError
from signclf.text import printable

KINDS = ("choice", "grid", "uniform", "loguniform", "randint")
_LISTS = ("choice", "grid")  # a list of values; the others take [low, high]


@dataclass(frozen=True)
class Domain:
    kind: str  # one of KINDS
    values: tuple  # choice/grid: the values; uniform/loguniform/randint: (low, high), both included

    @property
    def extremes(self) -> tuple:
        """Every value a trial can get, or the two ends of its range: what validation tries.
        uniform and loguniform draw floats, so their ends are tried as floats: an int-only key
        (a conv depth) is refused up front rather than in every trial."""
        if self.kind in ("uniform", "loguniform"):
            return tuple(float(v) for v in self.values)
        return self.values

    def describe(self) -> str:
        if self.kind in _LISTS:
            return f"{self.kind} of {len(self.values)}"
        return f"{self.kind} {self.values[0]:g}..{self.values[1]:g}"


def apply_overrides(base: dict, overrides: dict) -> dict:
    """A copy of the config dict `base` with each dotted key in `overrides` set, as `--set` does."""
    raw, defaults = copy.deepcopy(base), config_to_dict(Config())
    for key, value in overrides.items():
        apply_override(raw, key.split("."), value, defaults=defaults)
    return raw


def trial_config(base: dict, overrides: dict, where: str = "<sweep trial>") -> Config:
    return config_from_dict(apply_overrides(base, overrides), where)


def _domain(key: str, spec, where: str) -> Domain:
    if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in KINDS:
        raise ConfigError(f"{where}: {key} must map to one domain, e.g. {{choice: [a, b]}}; "
                          f"domains: {', '.join(KINDS)}; got {shown(spec)}")
    kind, args = next(iter(spec.items()))
    if not isinstance(args, list) or not args:
        raise ConfigError(f"{where}: {key}: {kind} needs a non-empty list, got {shown(args)}")
    if kind in _LISTS:
        return Domain(kind, tuple(args))
    if len(args) != 2:
        raise ConfigError(f"{where}: {key}: {kind} takes [low, high], got {shown(args)}")
    number = int if kind == "randint" else (int, float)
    low, high = args
    for end in args:
        if not isinstance(end, number) or isinstance(end, bool) or not math.isfinite(end):
            what = "whole numbers" if kind == "randint" else "numbers"
            raise ConfigError(f"{where}: {key}: {kind} bounds must be {what}, got {shown(args)}")
    if low > high:
        raise ConfigError(f"{where}: {key}: {kind} low {low:g} > high {high:g}; write [low, high]")
    if kind == "loguniform" and low <= 0:
        raise ConfigError(f"{where}: {key}: loguniform needs low > 0, got {low:g}; use uniform to include 0")
    return Domain(kind, (low, high))


def _check_values(base: dict, key: str, domain: Domain, where: str) -> None:
    """Each value the key can take yields a valid config: the --set machinery's errors, said for the space."""
    for value in domain.extremes:
        try:
            trial_config(base, {key: value}, f"{where} ({key}={shown(value)})")
        except ConfigError as e:
            message = str(e)
            if message.startswith("--set "):  # apply_override speaks for --set; here it is the space file
                message = f"{where}: {message[len('--set '):]}"
            raise ConfigError(message) from None


def parse_space(raw, base: dict, where: str) -> dict[str, Domain]:
    """{dotted key: Domain} from a SPACE mapping, every key and value checked against `base`."""
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{where}: a search space maps config keys to domains, e.g. "
                          f"train.learning_rate: {{loguniform: [0.0003, 0.003]}}")
    space = {}
    for key, spec in raw.items():
        if not isinstance(key, str) or not key:
            raise ConfigError(f"{where}: keys are dotted config keys such as train.learning_rate, "
                              f"got {shown(key)}")
        key = key.strip()
        if key in space:
            raise ConfigError(f"{where}: {shown_key(key)} appears twice")
        domain = _domain(shown_key(key), spec, where)
        _check_values(base, key, domain, where)
        space[key] = domain
    return space


def load_space(path, base: dict) -> dict[str, Domain]:
    return parse_space(read_yaml(path), base, printable(str(Path(path))))


def space_to_yaml_dict(space: dict[str, Domain]) -> dict:
    """The inverse of parse_space, to store a sweep's space next to its trials."""
    return {key: {d.kind: list(d.values)} for key, d in space.items()}


def grid_size(space: dict[str, Domain]) -> int:
    return math.prod(len(d.values) for d in space.values() if d.kind == "grid")


def to_tune(space: dict[str, Domain]) -> dict:
    """Ray Tune's param_space: the same keys, each with its Ray Tune domain."""
    from ray import tune

    def one(d: Domain):
        if d.kind == "choice":
            return tune.choice(list(d.values))
        if d.kind == "grid":
            return tune.grid_search(list(d.values))
        if d.kind == "uniform":
            return tune.uniform(*d.values)
        if d.kind == "loguniform":
            return tune.loguniform(*d.values)
        return tune.randint(d.values[0], d.values[1] + 1)  # Ray's upper bound is exclusive

    return {key: one(d) for key, d in space.items()}
