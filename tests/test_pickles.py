import os
import pickle

import numpy as np
import pytest

from conftest import make_dataset, write_pickle
from signclf.data.pickles import read_pickle
from signclf.data.readers import load_dataset
from signclf.errors import DataError


class Exploit:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_that_would_run_code_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    Exploit.marker = marker
    path = tmp_path / "train.p"
    path.write_bytes(pickle.dumps({"features": Exploit(), "labels": [0]}))
    with pytest.raises(DataError, match="refused.*(posix|os).system"):
        read_pickle(path)
    assert not marker.exists()


def test_udacity_pickle_with_sizes_and_coords(tmp_path):
    images, labels = make_dataset(3)
    sizes = np.full((len(labels), 2), 64, np.int32)
    coords = np.tile(np.array([[8, 8, 56, 56]], np.int32), (len(labels), 1))
    ds = read_pickle(write_pickle(tmp_path / "t.p", images, labels, sizes=sizes, coords=coords))
    assert len(ds) == 12 and ds.num_classes == 43
    np.testing.assert_allclose(ds.rois[0], [4, 4, 28, 28])  # scaled by 32/64 onto the stored image
    cropped = load_dataset(tmp_path / "t.p", roi_crop=True)
    assert cropped.images.shape == (12, 32, 32, 3) and not np.array_equal(cropped.images, images)


def test_python2_latin1_pickle_loads(tmp_path):
    images, labels = make_dataset(2)
    path = tmp_path / "py2.p"
    path.write_bytes(pickle.dumps({b"features": images, b"labels": labels}, protocol=2))
    assert len(read_pickle(path)) == 8


@pytest.mark.parametrize("payload, words", [
    ({"features": np.zeros((4, 32, 32, 3), np.float32) + 300, "labels": np.zeros(4, int)}, "pixel values 0..255"),
    ({"features": np.zeros((4, 32, 32), np.uint8), "labels": np.zeros(4, int)}, "N×S×S×3"),
    ({"features": np.zeros((4, 32, 32, 3), np.uint8), "labels": np.full(4, 43)}, "labels must lie in 0..42"),
    ({"features": np.zeros((4, 32, 32, 3), np.uint8), "labels": np.zeros(3, int)}, "4 images but 3 labels"),
    ({"features": np.zeros((0, 32, 32, 3), np.uint8), "labels": np.zeros(0, int)}, "empty"),
    ({"labels": np.zeros(4, int)}, "missing key(s) ['features']"),
    ([1, 2, 3], "expected a dict"),
])
def test_bad_pickles_are_refused_naming_file_and_problem(tmp_path, payload, words):
    path = tmp_path / "bad.p"
    path.write_bytes(pickle.dumps(payload))
    with pytest.raises(DataError) as e:
        read_pickle(path)
    assert str(path) in str(e.value) and words in str(e.value)


def test_truncated_and_garbage_pickles(tmp_path):
    images, labels = make_dataset(2)
    data = pickle.dumps({"features": images, "labels": labels})
    (tmp_path / "cut.p").write_bytes(data[: len(data) // 2])
    (tmp_path / "junk.p").write_bytes(b"\x00garbage" * 10)
    for name in ("cut.p", "junk.p"):
        with pytest.raises(DataError, match=name):
            read_pickle(tmp_path / name)


def _approaching_sign_sizes(lengths, rng):
    """Widths of consecutive tracks: each sign grows from ~30 px as the car approaches."""
    return np.concatenate([np.sort(rng.integers(25, 35, 1)[0] + rng.integers(0, 60, n)) for n in lengths])


def test_tracks_are_recovered_from_gtsrb_order():
    from signclf.data.pickles import infer_track_ids

    rng = np.random.default_rng(0)
    lengths = [30, 30, 29, 30, 30]
    labels = np.repeat([0, 0, 0, 1, 1], lengths)
    widths = _approaching_sign_sizes(lengths, rng)
    widths[60:89] += widths[59]  # the third sign starts no smaller than the second ended: cut after 30 frames
    sizes = np.stack([widths, widths], axis=1)
    ids = infer_track_ids(labels, sizes)
    assert np.bincount(ids).tolist() == lengths
    assert all(len(np.unique(labels[ids == t])) == 1 for t in np.unique(ids))  # a track never mixes classes


def test_a_shuffled_pickle_or_one_without_sizes_has_no_tracks():
    from signclf.data.pickles import infer_track_ids

    rng = np.random.default_rng(1)
    lengths = [30] * 6
    labels = np.repeat(np.arange(6) % 3, lengths)
    widths = _approaching_sign_sizes(lengths, rng)
    order = rng.permutation(len(labels))
    assert infer_track_ids(labels[order], np.stack([widths, widths], 1)[order]) is None
    assert infer_track_ids(labels, None) is None
