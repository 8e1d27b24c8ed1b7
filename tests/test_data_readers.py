"""The GTSRB, Kaggle and folder-per-class readers, and the decode cache they share."""

import logging
import os

import numpy as np
import pytest

from fixtures_data import (  # noqa: F401
    CLASS_COLOURS,
    GREY,
    ROI,
    SIZE,
    isolated_cache,
    sign_image,
    write_class_folders,
    write_gtsrb_test,
    write_gtsrb_training,
    write_image,
    write_kaggle,
)
from signclf.data import cache
from signclf.data.dataset import gtsrb_class_names
from signclf.data.readers import load_dataset
from signclf.errors import DataError


def assert_class_colours(ds, cropped=False):
    """Each image's centre has its label's colour; uncropped corners stay grey."""
    centre = ds.images[:, ds.images.shape[1] // 2, ds.images.shape[2] // 2]
    np.testing.assert_array_equal(centre, np.array(CLASS_COLOURS)[ds.labels])
    corner = ds.images[:, 0, 0]
    expected = np.array(CLASS_COLOURS)[ds.labels] if cropped else np.tile(GREY, (len(ds), 1))
    np.testing.assert_array_equal(corner, expected)


# ---- official GTSRB tree ------------------------------------------------------------------------

@pytest.mark.parametrize("training_part", ["Final_Training/Images", "Training"])
def test_gtsrb_training_tree_labels_tracks_and_rois(tmp_path, training_part):
    write_gtsrb_training(tmp_path / "GTSRB" / training_part, classes=3, tracks=2, frames=3)
    ds = load_dataset(tmp_path / "GTSRB", split="train", image_size=24)
    assert ds.images.shape == (18, 24, 24, 3)
    assert np.bincount(ds.labels).tolist() == [6, 6, 6]
    assert_class_colours(ds)
    # Tracks from the file names, unique across classes: 3 classes × 2 tracks.
    assert len(np.unique(ds.track_ids)) == 6
    assert set(ds.track_ids[ds.labels == 2]) == {20000, 20001}
    # ROIs move with the resize: x by 24/40, y by 24/36.
    np.testing.assert_allclose(ds.rois[0], [8 * 0.6, 6 * 24 / 36, 31 * 0.6, 29 * 24 / 36], rtol=1e-5)
    assert ds.sizes.tolist()[0] == list(SIZE)
    assert ds.class_names == list(gtsrb_class_names())


@pytest.mark.parametrize("start", ["GTSRB", "GTSRB/Final_Training", "GTSRB/Final_Training/Images"])
def test_gtsrb_accepts_root_part_or_images_folder(tmp_path, start):
    write_gtsrb_training(tmp_path / "GTSRB" / "Final_Training" / "Images", classes=2, tracks=1, frames=2)
    assert len(load_dataset(tmp_path / start, fmt="auto", split="valid")) == 4


def test_gtsrb_root_picks_the_test_part_for_split_test(tmp_path):
    write_gtsrb_training(tmp_path / "GTSRB" / "Final_Training" / "Images", classes=3, tracks=1, frames=1)
    write_gtsrb_test(tmp_path / "GTSRB" / "Final_Test" / "Images", count=5, classes=3)
    test = load_dataset(tmp_path / "GTSRB", split="test")
    assert test.labels.tolist() == [0, 1, 2, 0, 1]
    assert test.track_ids is None  # test files are NNNNN.ppm: no tracks
    assert_class_colours(test)
    assert len(load_dataset(tmp_path / "GTSRB", split="train")) == 3
    # A test folder named directly is read whatever the split is called.
    assert len(load_dataset(tmp_path / "GTSRB" / "Final_Test", split="train")) == 5


def test_gtsrb_root_without_test_part_says_how_to_get_it(tmp_path):
    write_gtsrb_training(tmp_path / "Training", classes=1, tracks=1, frames=1)
    with pytest.raises(DataError, match="no GTSRB test part.*signclf data download"):
        load_dataset(tmp_path, split="test")


def test_gtsrb_test_without_labels_points_at_the_gt_zip(tmp_path):
    write_gtsrb_test(tmp_path / "Final_Test" / "Images", labelled=False)
    with pytest.raises(DataError, match="GT-final_test.test.csv.*GTSRB_Final_Test_GT.zip"):
        load_dataset(tmp_path, split="test")


def test_gtsrb_roi_crop_scales_roi_when_image_size_differs_from_csv(tmp_path):
    folder = write_gtsrb_training(tmp_path / "Training", classes=2, tracks=1, frames=2)
    # Shrink one stored image to half size: its CSV row still gives the full-size ROI.
    half = sign_image(1, size=(20, 18), roi=(4, 3, 15, 14))
    write_image(folder / "00001" / "00000_00000.ppm", half)
    ds = load_dataset(folder, image_size=16, roi_crop=True)
    assert ds.rois is None
    assert_class_colours(ds, cropped=True)
    assert ds.sizes.tolist()[2] == [20, 18]


@pytest.mark.parametrize("row, problem", [
    ("00000_00001.ppm;40;36;8;6;31", "6 fields, expected 8"),
    ("00000_00001.ppm;40;36;8;six;31;29;0", "Roi.Y1 is 'six', not a whole number"),
    ("00000_00001.ppm;40;36;8;6;31;29;99", "ClassId 99 is not one of the 43 classes"),
    ("00000_00001.ppm;40;36;31;6;8;29;0", "impossible size 40×36 or ROI"),
    (";40;36;8;6;31;29;0", "empty Filename"),
])
def test_gtsrb_malformed_row_names_file_and_row(tmp_path, row, problem):
    folder = write_gtsrb_training(tmp_path / "Training", classes=1, tracks=1, frames=1)
    csv_path = folder / "00000" / "GT-00000.csv"
    csv_path.write_text(csv_path.read_text() + row + "\n")
    with pytest.raises(DataError) as e:
        load_dataset(folder)
    message = str(e.value)
    assert f"{csv_path}, row 3: {problem}" in message and "\n" not in message


def test_gtsrb_csv_with_wrong_header(tmp_path):
    folder = write_gtsrb_training(tmp_path / "Training", classes=1, tracks=1, frames=1)
    csv_path = folder / "00000" / "GT-00000.csv"
    csv_path.write_text(csv_path.read_text().replace(";", ","))
    with pytest.raises(DataError, match=r"missing column.*expected a header Filename;Width"):
        load_dataset(folder)


def test_gtsrb_missing_image_is_skipped_with_a_warning(tmp_path, caplog):
    folder = write_gtsrb_training(tmp_path / "Training", classes=2, tracks=1, frames=2)
    os.remove(folder / "00001" / "00000_00001.ppm")
    with caplog.at_level(logging.WARNING):
        ds = load_dataset(folder)
    assert len(ds) == 3 and len(ds.track_ids) == 3
    assert "skipped 1 of 4 images" in caplog.text and "00000_00001.ppm" in caplog.text


# ---- Kaggle -------------------------------------------------------------------------------------

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


# ---- folder per class ---------------------------------------------------------------------------

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


# ---- decode cache -------------------------------------------------------------------------------

def test_second_load_comes_from_the_cache(tmp_path, monkeypatch, isolated_cache):  # noqa: F811
    folder = write_gtsrb_training(tmp_path / "Training", classes=2, tracks=2, frames=2)
    first = load_dataset(folder, image_size=20)
    assert len(list(isolated_cache.glob("decoded-*.npz"))) == 1

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again despite an unchanged tree")

    monkeypatch.setattr(cache, "decode_files", no_decoding)
    second = load_dataset(folder, image_size=20)
    np.testing.assert_array_equal(first.images, second.images)
    np.testing.assert_array_equal(first.track_ids, second.track_ids)
    np.testing.assert_array_equal(first.sizes, second.sizes)
    # A different size, a crop, or a touched file is a different entry: those decode.
    for change in ({"image_size": 24}, {"image_size": 20, "roi_crop": True}):
        with pytest.raises(AssertionError, match="decoded again"):
            load_dataset(folder, **change)
    os.utime(folder / "00000" / "00000_00000.ppm", ns=(1, 1))
    with pytest.raises(AssertionError, match="decoded again"):
        load_dataset(folder, image_size=20)


def test_corrupt_cache_entry_is_ignored(tmp_path, isolated_cache, caplog):  # noqa: F811
    folder = write_class_folders(tmp_path / "signs", {"0": 0}, per_class=2)
    load_dataset(folder)
    (entry,) = isolated_cache.glob("decoded-*.npz")
    entry.write_bytes(b"not a zip")
    with caplog.at_level(logging.WARNING):
        assert len(load_dataset(folder)) == 2
    assert "ignoring unreadable cache entry" in caplog.text


def test_decode_files_reports_problems_without_stopping(tmp_path):
    good = write_image(tmp_path / "good.png", sign_image(0))
    decoded = cache.decode_files([good, tmp_path / "missing.png", good], 8, workers=2)
    assert decoded.ok.tolist() == [True, False, True]
    assert len(decoded.problems) == 1 and "missing.png" in decoded.problems[0]
    assert decoded.sizes.tolist() == [list(SIZE), [0, 0], list(SIZE)]


def test_decode_files_crops_before_resizing(tmp_path):
    path = write_image(tmp_path / "a.ppm", sign_image(2))
    decoded = cache.decode_files([path], 8, rois=np.array([ROI]), roi_frames=np.array([SIZE]))
    assert (decoded.images[0] == CLASS_COLOURS[2]).all()

