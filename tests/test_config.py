import pytest

from signclf.config import Config, architecture_diff, config_to_yaml, documented_keys, load_config
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

    files = sorted(glob.glob("configs/*.yaml"))
    assert files, "configs/ must ship example configs"
    for f in files:
        cfg = load_config(f)
        assert cfg.name


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
    ("model:\n  conv: [{kernel: 5, depth: 6, pool: 8}, {kernel: 5, depth: 16, pool: 8}]\n", "model.conv", "nothing"),
    ("model:\n  conv: [{kernel: 5, depht: 6}]\n", "model.conv.0.depht", "did you mean"),
    ("augment:\n  enabled: yes please\n", "augment.enabled", "must be bool"),
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
