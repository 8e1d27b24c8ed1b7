"""Kaggle's GTSRB repack: Train.csv/Test.csv at the root, image paths relative to it."""

import numpy as np
import pytest
from data_asserts import assert_class_colours

from fixtures_data import write_kaggle
from signclf.data import kaggle
from signclf.data.readers import load_dataset
from signclf.errors import DataError


def test_kaggle_root_train_and_test(tmp_path):
    root = write_kaggle(tmp_path / "kaggle", classes=3, tracks=2, frames=2, test_count=4)
    train = load_dataset(root, split="train", image_size=20)
    assert len(train) == 12 and train.images.shape[1:] == (20, 20, 3)
    assert_class_colours(train)
    assert len(np.unique(train.track_ids)) == 6 and set(train.track_ids[train.labels == 1]) == {10000, 10001}
    assert len(load_dataset(root, split="valid")) == 12  # valid is held out of Train.csv later
    test = load_dataset(root, split="test")
    assert test.labels.tolist() == [0, 1, 2, 0] and test.track_ids is None


@pytest.mark.parametrize("start, expected", [("Test.csv", 4), ("Train.csv", 12), ("Test", 4), ("Train", 12)])
def test_kaggle_accepts_a_csv_or_an_image_folder(tmp_path, start, expected):
    root = write_kaggle(tmp_path, classes=3, tracks=2, frames=2, test_count=4)
    assert len(load_dataset(root / start, split="train")) == expected


def test_kaggle_roi_crop(tmp_path):
    root = write_kaggle(tmp_path, classes=2, tracks=1, frames=2)
    assert_class_colours(load_dataset(root, roi_crop=True, image_size=12), cropped=True)


def test_kaggle_malformed_row(tmp_path):
    root = write_kaggle(tmp_path, classes=1, tracks=1, frames=1)
    with open(root / "Train.csv", "a") as f:
        f.write("40,36,8,6,31,29,0\n")
    with pytest.raises(DataError, match=r"Train.csv, row 3: 7 fields, expected 8"):
        load_dataset(root)


def test_detect_and_read_directly(tmp_path):
    root = write_kaggle(tmp_path / "kaggle", classes=2, tracks=1, frames=2, test_count=2)
    assert kaggle.detect(root) and kaggle.detect(root / "Train.csv") and not kaggle.detect(tmp_path)
    test = kaggle.read(root, split="test", image_size=8)
    assert len(test) == 2 and test.source.endswith("Test.csv") and test.num_classes == 43


def test_a_csv_without_path_and_classid_columns_is_not_kaggle(tmp_path):
    other = tmp_path / "Train.csv"
    other.write_text("a,b\n1,2\n")
    assert not kaggle.detect(other)
