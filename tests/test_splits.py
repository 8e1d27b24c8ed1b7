"""Track-aware validation splits and oversampling."""

import logging

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signclf.data.dataset import Dataset
from signclf.data.splits import oversample, split_train_valid
from signclf.errors import ConfigError, DataError

NAMES = [f"class {i}" for i in range(5)]


def make_dataset(tracks_per_class, frames=3, with_tracks=True) -> Dataset:
    """Class c has tracks_per_class[c] tracks of `frames` images; pixel 0 holds the image's index."""
    labels, tracks = [], []
    for c, n_tracks in enumerate(tracks_per_class):
        for t in range(n_tracks):
            labels += [c] * frames
            tracks += [c * 10_000 + t] * frames
    n = len(labels)
    images = np.zeros((n, 4, 4, 3), np.uint8)
    images[:, 0, 0, 0] = np.arange(n) % 256
    return Dataset(images, np.array(labels), NAMES[: len(tracks_per_class)],
                   track_ids=np.array(tracks) if with_tracks else None, source="toy")


def test_whole_tracks_held_out_and_every_class_on_both_sides():
    ds = make_dataset([2, 3, 10, 30, 4], frames=5)
    train, valid = split_train_valid(ds, 0.2, seed=1)
    assert not set(train.track_ids) & set(valid.track_ids)
    assert len(train) + len(valid) == len(ds)
    assert set(train.labels) == set(valid.labels) == set(range(5))
    # 20% of tracks per class, at least one: 1, 1, 2, 6, 1 tracks of 5 frames.
    assert np.bincount(valid.labels).tolist() == [5, 5, 10, 30, 5]
    assert "held-out validation" in valid.source


def test_split_is_seeded():
    ds = make_dataset([6, 6, 6])
    first = split_train_valid(ds, 0.3, seed=7)[1].track_ids
    assert np.array_equal(first, split_train_valid(ds, 0.3, seed=7)[1].track_ids)
    assert any(not np.array_equal(first, split_train_valid(ds, 0.3, seed=s)[1].track_ids) for s in range(5))


def test_single_track_class_stays_in_training_with_a_warning(caplog):
    ds = make_dataset([1, 4])
    with caplog.at_level(logging.WARNING):
        train, valid = split_train_valid(ds, 0.25, seed=0)
    assert set(valid.labels) == {1} and 0 in train.labels
    assert "class(es) 0 have a single track" in caplog.text


def test_without_tracks_split_is_stratified_and_warns_it_is_optimistic(caplog):
    ds = make_dataset([4, 10, 20], frames=1, with_tracks=False)
    with caplog.at_level(logging.WARNING):
        train, valid = split_train_valid(ds, 0.25, seed=0)
    assert "validation accuracy will be optimistic" in caplog.text
    assert np.bincount(valid.labels).tolist() == [1, 2, 5]  # round(25%), at least 1
    train_ids, valid_ids = (set(d.images[:, 0, 0, 0].tolist()) for d in (train, valid))
    assert not train_ids & valid_ids


def test_nothing_to_hold_out_is_an_error():
    with pytest.raises(DataError, match="fewer than 2 tracks"):
        split_train_valid(make_dataset([1, 1]), 0.2, seed=0)


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5])
def test_fraction_must_be_strictly_between_0_and_1(fraction):
    with pytest.raises(ConfigError, match="valid_fraction"):
        split_train_valid(make_dataset([3, 3]), fraction, seed=0)


@settings(max_examples=60, deadline=None)
@given(tracks=st.lists(st.integers(1, 12), min_size=1, max_size=5), fraction=st.floats(0.05, 0.95),
       seed=st.integers(0, 2**31))
def test_split_invariants(tracks, fraction, seed):
    ds = make_dataset(tracks, frames=2)
    if max(tracks) < 2:
        return  # nothing can be held out; covered above
    train, valid = split_train_valid(ds, fraction, seed)
    assert not set(train.track_ids) & set(valid.track_ids)
    assert sorted(np.concatenate([train.track_ids, valid.track_ids])) == sorted(ds.track_ids)
    for c, n in enumerate(tracks):
        if n >= 2:
            assert c in train.labels and c in valid.labels


def test_oversample_tops_up_rare_classes_evenly_and_keeps_everything():
    ds = make_dataset([1, 2, 5], frames=2)  # 2, 4, 10 images
    out = oversample(ds, 9, seed=0)
    assert np.bincount(out.labels).tolist() == [9, 9, 10]
    assert np.array_equal(out.images[: len(ds)], ds.images)  # originals first, none dropped
    # Class 1's 4 images repeated to 9: each appears 2 or 3 times.
    counts = np.unique(out.images[out.labels == 1][:, 0, 0, 0], return_counts=True)[1]
    assert sorted(counts) == [2, 2, 2, 3]
    assert len(out.track_ids) == len(out)


def test_oversample_is_seeded_and_never_drops():
    ds = make_dataset([3, 1], frames=1)
    assert np.array_equal(oversample(ds, 2, seed=3).images, oversample(ds, 2, seed=3).images)
    assert len(oversample(ds, 1, seed=0)) == len(ds)
    with pytest.raises(ConfigError):
        oversample(ds, 0, seed=0)
