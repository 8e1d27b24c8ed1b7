"""The folder-per-class layout: class ids or names as folder names, optional split folders."""

import logging

import numpy as np
import pytest

from fixtures_data import write_class_folders
from signclf.data import folders
from signclf.data.readers import load_dataset
from signclf.errors import DataError


def test_folders_by_id_and_by_name(tmp_path):
    root = write_class_folders(tmp_path / "signs", {"0": 0, "00001": 1, "speed_limit_50kmh": 2, "STOP": 4},
                               per_class=2, suffix=".jpg")
    names = ["Speed limit (20km/h)", "Speed limit (30km/h)", "Speed limit (50km/h)", "x", "Stop"]
    ds = load_dataset(root, image_size=16, class_names=names)
    assert np.bincount(ds.labels).tolist() == [2, 2, 2, 0, 2]
    assert ds.track_ids is None and ds.rois is None
    assert ds.images.shape == (8, 16, 16, 3)


def test_folders_with_split_subfolders(tmp_path):
    write_class_folders(tmp_path / "train", {"0": 0, "1": 1}, per_class=3)
    write_class_folders(tmp_path / "val", {"0": 0, "1": 1}, per_class=1)
    assert len(load_dataset(tmp_path, split="train")) == 6
    assert len(load_dataset(tmp_path, split="valid")) == 2
    with pytest.raises(DataError, match="none for split 'test'"):
        load_dataset(tmp_path, split="test")


def test_folders_skip_unreadable_images_with_one_warning(tmp_path, caplog):
    root = write_class_folders(tmp_path, {"0": 0, "1": 1}, per_class=2)
    (root / "1" / "broken.png").write_bytes(b"\x89PNG not really")
    (root / "1" / "empty.bmp").write_bytes(b"")
    with caplog.at_level(logging.WARNING):
        ds = load_dataset(root)
    assert len(ds) == 4
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "skipped 2 of 6 images" in warnings[0] and "empty file" in warnings[0]


def test_folders_with_only_unreadable_images_is_an_error(tmp_path):
    (tmp_path / "3").mkdir()
    (tmp_path / "3" / "a.png").write_bytes(b"junk")
    with pytest.raises(DataError, match="none of the 1 images could be read"):
        load_dataset(tmp_path, fmt="folders")


def test_folders_unknown_folder_name_is_an_error(tmp_path):
    write_class_folders(tmp_path, {"0": 0, "Stopp": 0}, per_class=1)
    with pytest.raises(DataError, match="'Stopp' are neither class ids"):
        load_dataset(tmp_path)


def test_detect_needs_images_inside_class_subfolders(tmp_path):
    (tmp_path / "loose.png").write_bytes(b"")
    assert not folders.detect(tmp_path)
    write_class_folders(tmp_path / "signs", {"3": 3}, per_class=1)
    assert folders.detect(tmp_path / "signs")


def test_read_uses_the_default_class_names_and_ignores_hidden_folders(tmp_path):
    root = write_class_folders(tmp_path, {"04": 4}, per_class=2)
    (root / ".thumbnails").mkdir()
    ds = folders.read(root, image_size=12)
    assert ds.num_classes == 43 and ds.labels.tolist() == [4, 4] and ds.images.shape == (2, 12, 12, 3)
