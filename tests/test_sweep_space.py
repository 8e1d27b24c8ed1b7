import pytest

from signclf.config import Config, config_to_dict, load_config
from signclf.errors import ConfigError
from signclf.sweep_space import Domain, grid_size, load_space, parse_space, space_to_yaml_dict, to_tune, trial_config

BASE = config_to_dict(Config())


def _error(raw) -> str:
    with pytest.raises(ConfigError) as e:
        parse_space(raw, BASE, "space.yaml")
    assert "\n" not in str(e.value)
    return str(e.value)


def test_every_domain_kind_parses_with_dotted_keys_and_list_items():
    space = parse_space({"train.learning_rate": {"loguniform": [1e-4, 1e-2]},
                         "model.conv.0.depth": {"choice": [6, 12]},
                         "model.keep_prob": {"uniform": [0.5, 1]},
                         "model.fc": {"grid": [[120, 84], [64]]},
                         "train.seed": {"randint": [0, 3]}}, BASE, "space.yaml")
    assert space == {"train.learning_rate": Domain("loguniform", (1e-4, 1e-2)),
                     "model.conv.0.depth": Domain("choice", (6, 12)),
                     "model.keep_prob": Domain("uniform", (0.5, 1)),
                     "model.fc": Domain("grid", ([120, 84], [64])),
                     "train.seed": Domain("randint", (0, 3))}
    assert grid_size(space) == 2
    assert parse_space(space_to_yaml_dict(space), BASE, "again") == space


def test_an_unknown_key_gets_the_same_did_you_mean_as_set():
    message = _error({"train.learning_rat": {"choice": [0.01]}})
    assert message.startswith("space.yaml (train.learning_rat=0.01): unknown key 'train.learning_rat'")
    assert message.endswith("did you mean 'train.learning_rate'?")
    with pytest.raises(ConfigError, match="did you mean 'train.learning_rate'"):
        load_config(None, ["train.learning_rat=0.01"])  # the same machinery as --set


def test_a_list_item_that_does_not_exist_is_named_for_the_space_file():
    assert _error({"model.conv.5.depth": {"choice": [8]}}) == \
        "space.yaml: model.conv.5.depth: no list item '5' in model.conv"


def test_an_empty_choice_is_refused():
    assert _error({"model.l2": {"choice": []}}) == "space.yaml: model.l2: choice needs a non-empty list, got []"


def test_low_above_high_is_refused():
    assert _error({"model.keep_prob": {"uniform": [0.9, 0.5]}}) == \
        "space.yaml: model.keep_prob: uniform low 0.9 > high 0.5; write [low, high]"


def test_values_of_the_wrong_type_for_the_key_are_refused():
    assert _error({"model.conv.0.depth": {"uniform": [4, 8]}}) == \
        "space.yaml (model.conv.0.depth=4.0): model.conv.0.depth must be int, got 4.0 (float)"
    assert "preprocess.color must be one of rgb, gray, y, got 'blue'" in \
        _error({"preprocess.color": {"choice": ["gray", "blue"]}})
    assert _error({"train.seed": {"randint": [0, 2.5]}}) == \
        "space.yaml: train.seed: randint bounds must be whole numbers, got [0, 2.5]"


def test_out_of_range_ends_are_refused_as_the_config_would():
    assert "model.keep_prob must be in (0, 1], got 0.0" in _error({"model.keep_prob": {"uniform": [0, 1]}})
    assert _error({"model.l2": {"loguniform": [0, 0.01]}}) == \
        "space.yaml: model.l2: loguniform needs low > 0, got 0; use uniform to include 0"


def test_malformed_domains_are_one_line_each():
    assert "must map to one domain, e.g. {choice: [a, b]}" in _error({"model.l2": [0, 0.1]})
    assert "domains: choice, grid, uniform, loguniform, randint" in _error({"model.l2": {"normal": [0, 1]}})
    assert _error({"model.l2": {"uniform": [0, 0.1, 0.2]}}) == \
        "space.yaml: model.l2: uniform takes [low, high], got [0, 0.1, 0.2]"
    assert "maps config keys to domains" in _error({})


def test_a_space_file_is_read_with_the_config_readers_errors(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("train.learning_rate: {loguniform: [0.0003, 0.003]}\n")
    assert load_space(path, BASE) == {"train.learning_rate": Domain("loguniform", (0.0003, 0.003))}
    with pytest.raises(ConfigError, match="config file not found"):
        load_space(tmp_path / "missing.yaml", BASE)


def test_trial_config_applies_the_trials_values_to_the_base():
    cfg = trial_config(BASE, {"model.conv.1.depth": 32, "train.learning_rate": 0.002})
    assert (cfg.model.conv[1].depth, cfg.model.conv[0].depth, cfg.train.learning_rate) == (32, 6, 0.002)
    assert BASE["model"]["conv"][1]["depth"] == 16  # the base is not changed


def test_the_shipped_example_space_fits_the_lenet_config():
    base = config_to_dict(load_config("configs/lenet.yaml"))
    space = load_space("configs/sweep-lenet.yaml", base)
    assert len(space) == 4 and "train.learning_rate" in space


def test_ray_tune_gets_the_matching_domains():
    tune = pytest.importorskip("ray.tune", reason="Ray Tune not installed (pip install 'signclf[sweep]')")
    domains = to_tune({"a": Domain("choice", (1, 2)), "b": Domain("grid", (3, 4)), "c": Domain("randint", (0, 3)),
                       "d": Domain("loguniform", (1e-3, 1e-1)), "e": Domain("uniform", (0.5, 1.0))})
    assert domains["b"] == tune.grid_search([3, 4])
    assert domains["a"].categories == [1, 2]
    assert (domains["c"].lower, domains["c"].upper) == (0, 4)  # Ray's upper end is exclusive, ours inclusive
    assert (domains["d"].lower, domains["d"].upper, domains["e"].lower) == (1e-3, 1e-1, 0.5)
