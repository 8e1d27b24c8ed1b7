"""The decode cache: a second load reads one .npz; any change to the files misses it."""

import logging
import os

import numpy as np
import pytest

from fixtures_data import (  # noqa: F401
    CLASS_COLOURS,
    ROI,
    SIZE,
    isolated_cache,
    sign_image,
    write_class_folders,
    write_gtsrb_training,
    write_image,
)
from signclf.data import cache
from signclf.data.readers import load_dataset


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
