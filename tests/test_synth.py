"""The synthetic GTSRB: deterministic, complete, and readable by the project's own loaders."""

from __future__ import annotations

import csv
import pickle

import numpy as np
import pytest

from signclf.data.dataset import gtsrb_class_names
from signclf.data.images import read_image
from signclf.data.pickles import read_pickle
from signclf.data.synth import render_class, render_example, slug, write_synthetic_dataset
from signclf.data.synth_signs import PAINTERS, render_sign


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    calls = []
    info = write_synthetic_dataset(out, per_class=5, seed=3, valid_fraction=0.2,
                                   progress=lambda done, total: calls.append((done, total)))
    return out, info, calls


def test_every_class_has_a_painter_that_draws_something():
    assert sorted(PAINTERS) == list(range(43))
    for class_id in range(43):
        rgb, alpha = render_sign(class_id, np.random.default_rng(class_id), 64)
        assert rgb.shape == (64, 64, 3) and alpha.shape == (64, 64)
        assert alpha.mean() > 255 * 0.3, f"class {class_id}: silhouette too small"
        assert rgb[alpha > 128].std() > 10, f"class {class_id}: face is a flat colour"


def test_same_seed_same_bytes_different_seed_differs():
    a = render_class(14, 4, seed=7)
    b = render_class(14, 4, seed=7)
    c = render_class(14, 4, seed=8)
    for x, y in zip(a, b):
        assert np.array_equal(x, y)
    assert not np.array_equal(a[0], c[0])


def test_an_image_does_not_depend_on_how_many_were_drawn_before_it():
    batch = render_class(3, 6, seed=1)[0]
    alone = render_example(3, seed=1, index=5)[0]
    assert np.array_equal(batch[5], alone)


def test_shapes_dtypes_and_rois(written):
    out, info, _ = written
    for split, n in (("train", 43 * 4), ("valid", 43 * 1)):
        with open(out / f"{split}.p", "rb") as f:
            obj = pickle.load(f)
        assert set(obj) == {"features", "labels", "sizes", "coords"}
        assert obj["features"].dtype == np.uint8 and obj["features"].shape == (n, 32, 32, 3)
        assert obj["sizes"].dtype == np.int32 and obj["sizes"].shape == (n, 2)
        assert obj["coords"].dtype == np.int32 and obj["coords"].shape == (n, 4)
        assert sorted(set(obj["labels"].tolist())) == list(range(43))
        x1, y1, x2, y2 = obj["coords"].T
        w, h = obj["sizes"].T
        assert (x1 >= 0).all() and (y1 >= 0).all() and (x2 < w).all() and (y2 < h).all()
        assert (x2 - x1 > w * 0.4).all() and (y2 - y1 > h * 0.3).all()  # the sign fills most of the crop
        assert info[split] == n


def test_pickles_load_through_the_project_reader(written):
    out, _, _ = written
    train, valid = read_pickle(out / "train.p"), read_pickle(out / "valid.p")
    assert len(train) == 43 * 4 and len(valid) == 43
    assert train.rois is not None and train.class_names == list(gtsrb_class_names())


def test_samples_and_signnames(written):
    out, info, calls = written
    names = gtsrb_class_names()
    assert len(info["samples"]) == 43
    for class_id, path in enumerate(info["samples"]):
        assert path.endswith(f"{class_id:02d}_{slug(names[class_id])}.png")
        img = read_image(path)
        assert img.shape[2] == 3 and 64 <= img.shape[0] <= 128
    with open(out / "signnames.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["SignName"] for r in rows] == list(names)
    assert calls[-1] == (43, 43) and len(calls) == 43
    assert not list(out.glob(".*.tmp"))  # no temp files left behind


def test_split_sizes_and_bad_arguments(tmp_path):
    info = write_synthetic_dataset(tmp_path, per_class=2, valid_fraction=0.01)
    assert (info["train"], info["valid"]) == (43, 43)  # at least one of each per class
    with pytest.raises(ValueError):
        write_synthetic_dataset(tmp_path, per_class=1, valid_fraction=0.1)
    with pytest.raises(ValueError):
        write_synthetic_dataset(tmp_path, per_class=10, valid_fraction=1.0)


def test_slug():
    assert slug("Speed limit (20km/h)") == "speed_limit_20km_h"
    assert slug("Beware of ice/snow") == "beware_of_ice_snow"
