import time

import pytest
import yaml

from signclf.config_yaml import (
    MAX_SHOWN,
    apply_override,
    load_yaml,
    parse_override,
    read_config_yaml,
    read_yaml,
    shown,
    shown_key,
)
from signclf.errors import ConfigError


def test_plain_yaml_loads_as_safe_load_does():
    text = "train:\n  epochs: 3\n  learning_rate: 1.0e-3\nmodel:\n  fc: [64, 32]\n"
    assert load_yaml(text, "c.yaml") == yaml.safe_load(text)


@pytest.mark.parametrize("text", ["a: &x 1\nb: *x\n", "a: &x [1, 2]\n", "base: &b {x: 1}\nother:\n  <<: *b\n"])
def test_anchors_and_aliases_are_refused_with_where(text):
    with pytest.raises(ConfigError, match=r"^c\.yaml: YAML aliases are not allowed \(line \d+, column \d+\)"):
        load_yaml(text, "c.yaml")


def test_alias_bomb_stops_at_the_first_anchor(tmp_path):
    levels = ["&a [x, x, x, x, x, x, x, x, x]"] + [f"&{c} [{', '.join([f'*{p}'] * 9)}]"
                                                   for p, c in zip("abcdefgh", "bcdefghi")]
    path = tmp_path / "bomb.yaml"
    path.write_text(f"name: [{', '.join(levels)}]\n")  # 9**9 leaves if expanded
    start = time.perf_counter()
    with pytest.raises(ConfigError, match="YAML aliases are not allowed") as e:
        read_yaml(path)
    assert time.perf_counter() - start < 1 and len(str(e.value)) < 200 and str(path) in str(e.value)


def test_shown_is_short_and_escaped():
    assert shown(3) == "3" and shown("abc") == "'abc'"
    big = [[list(range(1000))] * 1000] * 1000
    assert len(shown(big)) <= MAX_SHOWN and shown(big).endswith("…")
    assert len(shown("x" * 500)) <= MAX_SHOWN
    assert "\x1b" not in shown("\x1b[2J") and "\\x1b" in shown("\x1b[2J")
    assert shown_key("k" * 200) == "k" * (MAX_SHOWN - 1) + "…" and shown_key("a\nb") == "a\\nb"


def test_parse_override_values_are_yaml_and_refuse_aliases():
    assert parse_override("train.epochs=3") == (["train", "epochs"], 3)
    assert parse_override("model.fc=[64, 32]") == (["model", "fc"], [64, 32])
    assert parse_override("data.train=[unclosed") == (["data", "train"], "[unclosed")  # not YAML: a string
    with pytest.raises(ConfigError, match=r"^--set name: YAML aliases are not allowed"):
        parse_override("name=[&a [1], *a]")
    with pytest.raises(ConfigError, match="expected key=value") as e:
        parse_override("x" * 1000)
    assert len(str(e.value)) < 160


def test_apply_override_copies_missing_sections_from_the_defaults():
    defaults = {"model": {"conv": [{"kernel": 5, "depth": 6}, {"kernel": 5, "depth": 16}], "fc": [120]}}
    raw = {}
    apply_override(raw, ["model", "conv", "1", "depth"], 32, defaults)
    assert raw == {"model": {"conv": [{"kernel": 5, "depth": 6}, {"kernel": 5, "depth": 32}], "fc": [120]}}
    assert defaults["model"]["conv"][1]["depth"] == 16  # the defaults are copied, never changed
    with pytest.raises(ConfigError, match=r"--set model\.conv\.7\.depth: no list item '7' in model\.conv"):
        apply_override(raw, ["model", "conv", "7", "depth"], 1, defaults)
    raw = {"model": {"conv": [{"kernel": 3}]}}  # the file's own list wins over the default one
    apply_override(raw, ["model", "conv", "0", "depth"], 8, defaults)
    assert raw["model"]["conv"] == [{"kernel": 3, "depth": 8}]
    with pytest.raises(ConfigError, match="model.fc is not a section"):
        apply_override({"model": {"fc": 3}}, ["model", "fc", "x"], 1, defaults)


def test_a_base_config_is_merged_under_the_derived_one(tmp_path):
    (tmp_path / "parent.yaml").write_text("name: parent\ndata: {train: a.p, valid: b.p}\n"
                                          "model: {conv: [{depth: 8}, {depth: 16}], fc: [64]}\ntrain: {epochs: 9}\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "child.yaml").write_text("base: ../parent.yaml\ndata: {valid: c.p}\n"
                                                 "model: {conv: [{depth: 4}]}\n")
    (tmp_path / "grandchild.yaml").write_text("base: sub/child.yaml\ntrain: {epochs: 2}\n")
    merged = read_config_yaml(tmp_path / "grandchild.yaml")
    assert merged == {"data": {"train": "a.p", "valid": "c.p"},  # mappings merge key by key
                      "model": {"conv": [{"depth": 4}], "fc": [64]},  # lists are replaced whole
                      "train": {"epochs": 2}}  # no base key left, and the name is not inherited


@pytest.mark.parametrize("base,message", [
    ("missing.yaml", "base config .*missing.yaml not found"),
    ("3", "base must name another config file"),
    ("self.yaml", "leads back to"),
    ("loop.yaml", "leads back to"),
])
def test_a_bad_base_is_one_clear_line(tmp_path, base, message):
    (tmp_path / "loop.yaml").write_text("base: self.yaml\n")
    (tmp_path / "self.yaml").write_text(f"base: {base}\ntrain: {{epochs: 2}}\n")
    with pytest.raises(ConfigError, match=message):
        read_config_yaml(tmp_path / "self.yaml")
