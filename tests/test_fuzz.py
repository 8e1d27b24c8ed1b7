"""Property-based: whatever bytes or values arrive, only signclf's own clear errors come out."""

import string

import numpy as np
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signclf.config import config_from_dict, load_config
from signclf.data.images import read_image
from signclf.errors import SignclfError

SECTIONS = ["data", "preprocess", "augment", "model", "train", "name", "trian", "epochs"]
KEYS = ["train", "valid", "epochs", "batch_size", "learning_rate", "keep_prob", "conv", "fc", "color", "enabled",
        "kernel", "depth", "l2", "seed", "lr_schedule", "rotation", "image_size", "padding", "pool", "x"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(string.printable, max_size=12))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)),
                      max_leaves=12)
configs = st.dictionaries(st.sampled_from(SECTIONS),
                          st.one_of(values, st.dictionaries(st.sampled_from(KEYS), values, max_size=5)), max_size=5)


@settings(max_examples=300, deadline=None)
@given(configs)
def test_config_loader_only_raises_its_own_errors(raw):
    try:
        cfg = config_from_dict(raw, "fuzz.yaml")
    except SignclfError as e:
        assert str(e).startswith("fuzz.yaml") and "\n" not in str(e)
    else:
        assert cfg.train.batch_size >= 1 and 0 < cfg.model.keep_prob <= 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=200))
def test_config_files_of_arbitrary_text(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    try:
        load_config(path)
    except SignclfError as e:
        assert str(path) in str(e)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["train.epochs", "model.conv.0.depth", "model.fc", "data.train", "x.y", "train",
                                 "model.conv.9.kernel"]), max_size=3),
       st.lists(st.sampled_from(["3", "-1", "[1, 2]", "{a: 1}", "", "abc", "1e-3", "[", "true"]), max_size=3))
def test_overrides_only_raise_their_own_errors(keys, vals):
    overrides = [f"{k}={v}" for k, v in zip(keys, vals)]
    try:
        cfg = load_config(None, overrides)
    except SignclfError as e:
        msg = str(e)
        assert "\n" not in msg and e.exit_code == 2
        # The message names the key at fault: the --set that failed, or the checked key it broke.
        assert msg.startswith("--set ") or msg.startswith("<defaults> (with --set): ")
        assert any(k in msg or f"unknown key '{k.split('.')[0]}'" in msg for k in keys), msg
    else:
        last = dict(zip(keys, vals))  # a later --set of the same key wins
        if last.get("train.epochs") == "3" and "train" not in last:
            assert cfg.train.epochs == 3
        if last.get("model.conv.0.depth") == "3":
            assert cfg.model.conv[0].depth == 3 and [s.depth for s in cfg.model.conv[1:]] == [16]


PNG = b"\x89PNG\r\n\x1a\n"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.binary(max_size=2000), st.binary(max_size=500).map(lambda b: PNG + b),
                 st.binary(max_size=500).map(lambda b: b"\xff\xd8\xff\xe0" + b),
                 st.binary(max_size=500).map(lambda b: b"GIF89a" + b),
                 st.binary(max_size=300).map(lambda b: b"BM" + b)))
def test_image_loader_over_arbitrary_bytes(tmp_path, data):
    path = tmp_path / "img.png"
    path.write_bytes(data)
    try:
        img = read_image(path)
    except SignclfError as e:
        assert str(path) in str(e)
    else:
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3


def test_yaml_dump_of_defaults_round_trips_to_an_equal_config():
    from signclf.config import config_to_dict, config_to_yaml

    defaults = load_config(None)
    assert config_from_dict(yaml.safe_load(yaml.safe_dump(config_to_dict(defaults)))) == defaults
    assert config_from_dict(yaml.safe_load(config_to_yaml(defaults))) == defaults
