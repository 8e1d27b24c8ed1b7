"""From a config's data section to datasets: split folders, fast path checks, hints that work."""

import numpy as np
import pytest

from conftest import make_dataset, write_pickle
from signclf.config import load_config
from signclf.data.loading import check_data_paths, load_split, load_train_valid
from signclf.errors import ConfigError, DataError


def cfg_with(**data):
    return load_config(None, [f"data.{k}={v}" for k, v in data.items()])


@pytest.fixture
def split_folder(tmp_path):
    folder = tmp_path / "synth"
    folder.mkdir()
    write_pickle(folder / "train.p", *make_dataset(3, seed=1))
    write_pickle(folder / "valid.p", *make_dataset(1, seed=2))
    write_pickle(folder / "test.p", *make_dataset(2, seed=3))
    return folder


def test_data_train_as_a_folder_uses_its_train_and_valid_pickles(split_folder):
    lines = []
    train, valid = load_train_valid(cfg_with(train=split_folder), log=lines.append)
    assert len(train) == 12 and len(valid) == 4
    assert train.source == str(split_folder / "train.p") and valid.source == str(split_folder / "valid.p")
    assert lines == [f"data.valid not set: validating on {split_folder / 'valid.p'}, the valid split beside "
                     "the training data"]


def test_an_explicit_path_reads_the_requested_split(split_folder):
    cfg = cfg_with(train="/elsewhere/train.p")
    assert len(load_split(cfg, "test", str(split_folder))) == 8
    assert len(load_split(cfg, "valid", str(split_folder))) == 4


def test_unset_split_hint_names_commands_that_exist():
    with pytest.raises(ConfigError) as e:
        load_split(cfg_with(), "test")
    message = str(e.value)
    assert "signclf train --set data.test=PATH" in message and "--data PATH to signclf evaluate" in message
    assert "\n" not in message


def test_a_recorded_path_that_moved_says_so_and_how_to_point_elsewhere(tmp_path):
    with pytest.raises(DataError) as e:
        load_split(cfg_with(valid=tmp_path / "gone" / "valid.p"), "valid")
    assert f"{tmp_path / 'gone' / 'valid.p'}: no such file or directory (the data moved" in str(e.value)
    assert "--data PATH to signclf evaluate" in str(e.value)


def test_check_data_paths_passes_when_everything_exists(split_folder):
    assert check_data_paths(cfg_with(train=split_folder, test=split_folder / "test.p")) is None


@pytest.mark.parametrize("data, words", [
    ({}, "data.train is not set"),
    ({"train": "data/traffic-signs-data/train.p"}, "signclf data download --which udacity"),
    ({"train": "data/GTSRB"}, "signclf data synth --out data/GTSRB"),
])
def test_check_data_paths_refuses_with_exit_2_and_a_working_command(tmp_path, monkeypatch, data, words):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as e:
        check_data_paths(cfg_with(**data))
    assert e.value.exit_code == 2 and words in str(e.value)


def test_check_data_paths_checks_the_splits_asked_for(split_folder):
    cfg = cfg_with(train=split_folder, valid=split_folder / "valid.p", test=split_folder / "missing.p")
    assert check_data_paths(cfg) is None  # training does not read data.test
    with pytest.raises(ConfigError, match="data.test: .*missing.p: no such file"):
        check_data_paths(cfg, splits=("train", "valid", "test"))
    with pytest.raises(ConfigError, match="data.valid: .*gone.p: no such file"):
        check_data_paths(cfg_with(train=split_folder, valid=split_folder / "gone.p"))


def test_float_features_in_0_1_are_scaled_and_the_note_is_logged(tmp_path):
    images, labels = make_dataset(1)
    path = write_pickle(tmp_path / "floats.p", images.astype(np.float32) / 255, labels)
    lines = []
    ds = load_split(cfg_with(train=path), "train", log=lines.append)
    np.testing.assert_array_equal(ds.images, images)
    assert lines == [f"{path}: float features in 0..1 read as 0..255 (multiplied by 255)"]


def test_nan_pixels_are_refused_in_one_line(tmp_path):
    images, labels = make_dataset(1)
    floats = images.astype(np.float32)
    floats[0, 0, 0, 0] = np.nan
    path = write_pickle(tmp_path / "nan.p", floats, labels)
    with pytest.raises(DataError, match="NaN or infinite pixel values; refused"):
        load_split(cfg_with(train=path), "train")


def test_validation_without_data_valid_is_what_training_validated_on(split_folder, tmp_path):
    beside = cfg_with(train=split_folder)
    _, valid = load_train_valid(beside, log=lambda *a: None)
    again = load_split(beside, "valid", log=lambda *a: None)
    assert again.source == valid.source and len(again) == len(valid)
    images, labels = make_dataset(10, seed=3)
    held_out = cfg_with(train=write_pickle(tmp_path / "all.p", images, labels), valid_fraction=0.25)
    _, valid = load_train_valid(held_out, log=lambda *a: None)
    again = load_split(held_out, "valid", log=lambda *a: None)
    np.testing.assert_array_equal(again.images, valid.images)
    assert 0 < len(again) < 40


def test_single_class_training_is_refused_and_unseen_validation_classes_are_said(tmp_path):
    images, labels = make_dataset(4)
    one = write_pickle(tmp_path / "one.p", images[labels == 2], labels[labels == 2])
    with pytest.raises(DataError, match=r"every training image is class 2 .*needs at least two classes"):
        load_train_valid(cfg_with(train=one, valid=write_pickle(tmp_path / "v.p", images, labels)), log=print)
    three = write_pickle(tmp_path / "three.p", images[labels < 3], labels[labels < 3])
    lines = []
    load_train_valid(cfg_with(train=three, valid=write_pickle(tmp_path / "v.p", images, labels)), log=lines.append)
    assert "warning: 4 validation image(s) are of 1 class(es) the training set lacks (ids 3)" in lines[-1]
