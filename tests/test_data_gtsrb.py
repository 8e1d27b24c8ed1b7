"""The official GTSRB tree reader: parts, tracks, ROIs and malformed annotation rows."""

import logging
import os

import numpy as np
import pytest
from data_asserts import assert_class_colours

from fixtures_data import SIZE, sign_image, write_gtsrb_test, write_gtsrb_training, write_image
from signclf.data import gtsrb
from signclf.data.dataset import gtsrb_class_names
from signclf.data.readers import load_dataset
from signclf.errors import DataError


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


def test_track_ids_need_every_name_to_carry_a_track():
    labels = [1, 1, 2]
    ids = gtsrb.track_ids_from_names(["00003_00000.ppm", "00003_00001.ppm", "00007_00000.ppm"], labels,
                                     gtsrb.TRAIN_FILE)
    assert ids.tolist() == [1 * gtsrb.TRACKS_PER_CLASS + 3, 1 * gtsrb.TRACKS_PER_CLASS + 3,
                            2 * gtsrb.TRACKS_PER_CLASS + 7]
    assert gtsrb.track_ids_from_names(["00003_00000.ppm", "photo.ppm"], [1, 1], gtsrb.TRAIN_FILE) is None


def test_read_annotations_returns_columns_in_order(tmp_path):
    csv_path = tmp_path / "GT-00002.csv"
    csv_path.write_text("Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId\n"
                        "00000_00000.ppm;40;36;8;6;31;29;2\n\n")
    ann = gtsrb.read_annotations(csv_path, file_column="Filename", delimiter=";", num_classes=43)
    assert ann.files == ["00000_00000.ppm"] and ann.labels.tolist() == [2]
    assert ann.rois.tolist() == [[8, 6, 31, 29]] and ann.frames.tolist() == [[40, 36]]


def test_detect_accepts_a_tree_and_rejects_a_plain_folder(tmp_path):
    assert not gtsrb.detect(tmp_path)
    write_gtsrb_training(tmp_path / "GTSRB" / "Training", classes=1, tracks=1, frames=1)
    assert gtsrb.detect(tmp_path) and gtsrb.detect(tmp_path / "GTSRB")
