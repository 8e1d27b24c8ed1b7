"""Choosing a reader: explicit formats, detection order, and a folder of split pickles as one dataset."""

import numpy as np
import pytest

from conftest import make_dataset, write_pickle
from fixtures_data import sign_image, write_image
from signclf.data import readers
from signclf.data.readers import load_dataset
from signclf.errors import DataError


def write_split_pickles(folder, splits=("train", "valid", "test"), with_samples=True):
    folder.mkdir(parents=True, exist_ok=True)
    for k, split in enumerate(splits):
        images, labels = make_dataset(k + 1, seed=k)
        write_pickle(folder / f"{split}.p", images, labels)
    if with_samples:  # what `data synth` writes beside its pickles
        write_image(folder / "samples" / "00_speed_limit_20km_h.png", sign_image(0))
    return folder


@pytest.mark.parametrize("split, n", [("train", 4), ("valid", 8), ("test", 12)])
def test_a_folder_of_split_pickles_is_one_dataset(tmp_path, split, n):
    root = write_split_pickles(tmp_path / "synth")
    ds = load_dataset(root, split=split)
    assert len(ds) == n and ds.source == str(root / f"{split}.p")


def test_a_folder_of_split_pickles_missing_a_split_says_which(tmp_path):
    root = write_split_pickles(tmp_path / "synth", splits=("train", "valid"))
    with pytest.raises(DataError, match="holds train.p, valid.p but no test.p for the test split"):
        load_dataset(root, split="test")


def test_pickles_are_detected_before_folder_layouts(tmp_path):
    root = write_split_pickles(tmp_path / "synth")
    readers._ensure_builtin_readers()
    assert readers.READERS["folders"].detect(root)  # samples/ alone would pass for a class folder
    assert len(load_dataset(root, fmt="auto")) == 4 and len(load_dataset(root, fmt="pickle")) == 4


def test_unknown_format_and_undetectable_path(tmp_path):
    with pytest.raises(DataError, match="unknown data format 'nope'; choose one of: auto, pickle"):
        load_dataset(tmp_path, fmt="nope")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(DataError, match="cannot tell the dataset layout"):
        load_dataset(tmp_path / "notes.txt")
    with pytest.raises(DataError, match="no such file or directory$"):
        load_dataset(tmp_path / "missing")


def test_n_by_0_by_0_features_are_refused_in_one_line(tmp_path):
    path = write_pickle(tmp_path / "empty-images.p", np.zeros((4, 0, 0, 3), np.uint8), np.zeros(4, np.int64))
    with pytest.raises(DataError, match="images are 0×0 pixels; each needs at least one"):
        load_dataset(path, image_size=32)


def test_roi_crop_with_nan_coords_is_one_line(tmp_path):
    images, labels = make_dataset(1)
    coords = np.full((len(labels), 4), np.nan, np.float32)
    path = write_pickle(tmp_path / "nan.p", images, labels, sizes=np.full((len(labels), 2), 32), coords=coords)
    with pytest.raises(DataError, match="'coords' holds NaN or infinite values; fix them or set data.roi_crop=false"):
        load_dataset(path, roi_crop=True)
    assert len(load_dataset(path, roi_crop=False)) == 4


def test_every_configurable_format_has_a_builtin_reader():
    from signclf.config import DATA_FORMATS
    from signclf.data.readers import BUILTIN_READERS

    assert ["auto", *BUILTIN_READERS] == list(DATA_FORMATS)
