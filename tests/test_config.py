import dataclasses
import time

import pytest

from signclf.config import (
    INFERENCE_BATCH_SIZE,
    Config,
    architecture_diff,
    config_to_yaml,
    documented_keys,
    load_config,
    resolve_paths,
)
from signclf.errors import ConfigError


def write(tmp_path, text, name="c.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_defaults_are_classic_lenet_and_valid():
    cfg = load_config(None)
    assert [s.depth for s in cfg.model.conv] == [6, 16]
    assert cfg.model.fc == [120, 84]
    assert (cfg.train.epochs, cfg.train.batch_size, cfg.train.seed) == (10, 128, 0)
    assert cfg.input_channels == 3


def test_shipped_configs_load(tmp_path):
    import glob

    # sweep-*.yaml are search spaces for `signclf sweep` (tests/test_sweep_space.py loads them)
    files = sorted(f for f in glob.glob("configs/*.yaml") if not f.startswith("configs/sweep-"))
    assert files, "configs/ must ship example configs"
    for f in files:
        cfg = load_config(f)
        assert cfg.name


def test_a_derived_config_is_its_base_plus_its_own_keys_and_saves_flat(tmp_path):
    best, gray = load_config("configs/best.yaml"), load_config("configs/best-gray.yaml")
    assert gray.name == "best-gray" and gray.preprocess.color == "gray" and gray.preprocess.extra == []
    assert gray.model == best.model and gray.train == best.train
    assert gray.augment.stroke == 0 < best.augment.stroke  # it did not help the gray model
    assert dataclasses.replace(gray.augment, stroke=best.augment.stroke) == best.augment
    (tmp_path / "sub").mkdir()
    child = write(tmp_path, "base: ../child-base.yaml\ntrain: {epochs: 3}\n", "sub/child.yaml")
    write(tmp_path, "model: {conv: [{depth: 8}]}\ntrain: {epochs: 9, seed: 4}\n", "child-base.yaml")
    cfg = load_config(child, ["train.seed=5"])
    assert cfg.name == "child" and [s.depth for s in cfg.model.conv] == [8]
    assert (cfg.train.epochs, cfg.train.seed) == (3, 5)  # the file over its base, --set over both
    assert "base" not in config_to_yaml(cfg)
    with pytest.raises(ConfigError, match=r"child.yaml \(with --set\): unknown key"):
        load_config(child, ["train.epochz=5"])


def test_overrides_with_types_and_list_index(tmp_path):
    p = write(tmp_path, "model:\n  conv:\n    - {kernel: 5, depth: 6}\n")
    cfg = load_config(p, ["train.epochs=3", "data.train=x/train.p", "model.conv.0.depth=32",
                          "train.learning_rate=1e-4"])
    assert cfg.train.epochs == 3 and cfg.data.train == "x/train.p"
    assert cfg.model.conv[0].depth == 32 and cfg.train.learning_rate == pytest.approx(1e-4)
    assert cfg.name == "c"


@pytest.mark.parametrize("text, key, words", [
    ("train:\n  epoch: 3\n", "train.epoch", "did you mean 'train.epochs'"),
    ("trian:\n  epochs: 3\n", "trian", "did you mean 'train'"),
    ("train:\n  epochs: three\n", "train.epochs", "must be int"),
    ("train:\n  batch_size: 0\n", "train.batch_size", ">= 1"),
    ("train:\n  learning_rate: -0.1\n", "train.learning_rate", "> 0"),
    ("model:\n  keep_prob: 0\n", "model.keep_prob", "(0, 1]"),
    ("model:\n  keep_prob: 1.5\n", "model.keep_prob", "(0, 1]"),
    ("preprocess:\n  color: purple\n", "preprocess.color", "one of"),
    ("preprocess:\n  extra: [hist, sharpen]\n", "preprocess.extra.1", "one of hist, clahe, stretch, lcn"),
    ("preprocess:\n  extra: lcn\n", "preprocess.extra", "must be a list"),
    ("model:\n  conv: [{kernel: 5, depth: 6, pool: 8}, {kernel: 5, depth: 16, pool: 8}]\n", "model.conv", "nothing"),
    ("model:\n  conv: [{kernel: 5, depht: 6}]\n", "model.conv.0.depht", "did you mean"),
    ("augment:\n  enabled: yes please\n", "augment.enabled", "must be bool"),
    ("augment:\n  haze: 1.0\n", "augment.haze", "must be < 1"),
    ("augment:\n  haze: -0.1\n", "augment.haze", ">= 0"),
    ("augment:\n  stroke: 1.5\n", "augment.stroke", "must be <= 1"),
])
def test_bad_values_name_file_and_key(tmp_path, text, key, words):
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_config(p)
    msg = str(e.value)
    assert str(p) in msg and key in msg and words in msg
    assert "\n" not in msg and e.value.exit_code == 2


def test_yaml_syntax_error_names_line(tmp_path):
    p = write(tmp_path, "train:\n  epochs: [3\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: YAML syntax error at line \d+"):
        load_config(p)


def test_missing_file_and_bad_override(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="key=value"):
        load_config(None, ["train.epochs"])
    with pytest.raises(ConfigError, match="unknown key 'train.epoch'"):
        load_config(None, ["train.epoch=3"])


def test_resolved_config_round_trips(tmp_path):
    cfg = load_config(None, ["model.multiscale=true", "train.epochs=7"])
    p = write(tmp_path, config_to_yaml(cfg), "resolved.yaml")
    again = load_config(p)
    assert again.model == cfg.model and again.train.epochs == 7


def test_architecture_diff_ignores_training_knobs():
    a = Config()
    b = load_config(None, ["train.epochs=99", "model.keep_prob=0.5", "train.learning_rate=0.1"])
    assert architecture_diff(a, b) == []
    c = load_config(None, ["model.fc=[64]", "preprocess.color=gray"])
    assert architecture_diff(a, c) == ["model.fc", "preprocess.color"]


def test_every_key_is_documented():
    rows = documented_keys()
    assert len(rows) > 40
    undocumented = [key for key, _, comment in rows if not comment and not key.endswith((".enabled",))]
    assert len(undocumented) < 10, undocumented


def test_retired_keys_in_old_run_configs_still_load(tmp_path):
    p = write(tmp_path, "train:\n  deterministic: true\n  epochs: 4\n")
    assert load_config(p).train.epochs == 4


def test_yaml_aliases_in_a_config_file_are_refused(tmp_path):
    p = write(tmp_path, "train: &t\n  epochs: 3\nother: *t\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: YAML aliases are not allowed") as e:
        load_config(p)
    assert e.value.exit_code == 2


def test_alias_bomb_in_set_finishes_fast_with_a_short_message():
    levels = ["&a [x, x, x, x, x, x, x, x, x]"] + [f"&{c} [{', '.join([f'*{p}'] * 9)}]"
                                                   for p, c in zip("abcde", "bcdef")]
    override = f"name=[{', '.join(levels)}]"
    assert 200 < len(override) < 300  # 9**6 leaves once expanded
    start = time.perf_counter()
    with pytest.raises(ConfigError, match="YAML aliases are not allowed") as e:
        load_config(None, [override])
    assert time.perf_counter() - start < 1 and len(str(e.value)) < 200


def test_values_quoted_in_errors_are_cut_short():
    with pytest.raises(ConfigError, match="train.epochs must be int") as e:
        load_config(None, ["train.epochs=[" + ", ".join(["long-string-" * 20] * 200) + "]"])
    assert len(str(e.value)) < 200 and "…" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="unknown key") as e:
        load_config(None, ["train." + "k" * 5000 + "=1"])
    assert "k" * 200 not in str(e.value) and "…" in str(e.value)  # the key is cut; the known keys follow in full


@pytest.mark.parametrize("seed", ["-1", str(10**23)])
def test_seed_must_fit_tensorflow(seed):
    with pytest.raises(ConfigError, match=r"train\.seed must be between 0 and 2147483647") as e:
        load_config(None, [f"train.seed={seed}"])
    assert e.value.exit_code == 2
    assert load_config(None, ["train.seed=2147483647"]).train.seed == 2**31 - 1


@pytest.mark.parametrize("overrides, layer", [
    (["model.fc=[65536, 65536]"], "model.fc.1"),
    (["data.image_size=512", "model.conv=[{kernel: 3, depth: 4096, padding: SAME, pool: 1}]", "model.fc=[2]"],
     "model.fc.0"),
    (["data.image_size=256", "model.multiscale=true", "model.fc=[4096]",
      "model.conv=[{kernel: 3, depth: 512, padding: SAME, pool: 1}, {kernel: 3, depth: 8, padding: SAME, pool: 1}]"],
     "model.fc.0"),  # the last stage alone is small: multiscale's first stage makes it too large
])
def test_a_layer_over_tensorflows_2gb_limit_is_refused_before_training(overrides, layer):
    with pytest.raises(ConfigError, match=rf"the {layer} weights would be [\d,]+ floats .*TensorFlow's 2 GB limit"):
        load_config(None, overrides)


def test_largest_layers_under_the_limit_load():
    assert load_config(None, ["model.fc=[65536, 8000]"]).model.fc == [65536, 8000]  # 1.95 GiB: just under


def test_set_reaches_into_default_lists_without_a_config():
    cfg = load_config(None, ["model.conv.0.depth=32"])
    assert [s.depth for s in cfg.model.conv] == [32, 16] and cfg.model.conv[0].kernel == 5
    with pytest.raises(ConfigError, match="no list item '2'"):
        load_config(None, ["model.conv.2.depth=32"])


def test_set_reaches_into_default_lists_under_a_config_without_them(tmp_path):
    p = write(tmp_path, "train:\n  epochs: 2\n")
    cfg = load_config(p, ["model.conv.1.kernel=3", "model.fc.0=64"])
    assert [s.kernel for s in cfg.model.conv] == [5, 3] and cfg.model.fc == [64, 84] and cfg.train.epochs == 2


def test_resolve_paths_makes_data_paths_absolute_without_mutating(tmp_path):
    cfg = load_config(None, ["data.train=data/train.p", "data.valid=/elsewhere/valid.p",
                             "data.class_names=names.csv", "train.finetune_from=runs/base"])
    resolved = resolve_paths(cfg, tmp_path)
    assert resolved.data.train == str(tmp_path / "data/train.p")
    assert resolved.data.valid == "/elsewhere/valid.p" and resolved.data.test == ""
    assert resolved.data.class_names == str(tmp_path / "names.csv")
    assert resolved.train.finetune_from == str(tmp_path / "runs/base")
    assert cfg.data.train == "data/train.p" and cfg.train.finetune_from == "runs/base"  # the input is unchanged
    assert resolved.model == cfg.model and resolved.data.image_size == cfg.data.image_size
    again = load_config(write(tmp_path, config_to_yaml(resolved), "saved.yaml"))
    assert again.data == resolved.data and resolve_paths(again, "/other") == again


def test_load_config_padding_is_normalised_on_a_copy():
    cfg = load_config(None, ["model.conv=[{kernel: 3, depth: 4, padding: same}]"])
    assert cfg.model.conv[0].padding == "SAME"


def test_the_inference_batch_size_has_one_name():
    assert Config().train.eval_batch_size == INFERENCE_BATCH_SIZE == 1024
    assert ("train.eval_batch_size", "1024", "images per step when validating") in documented_keys()
