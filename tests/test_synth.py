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


def _fingerprint(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_rerun_killed_between_files_leaves_the_old_set_whole(tmp_path, monkeypatch):
    from signclf.data import synth

    out = tmp_path / "synth"
    write_synthetic_dataset(out, per_class=2, seed=1)
    before = _fingerprint(out)
    written = []

    def dies_on_the_second_pickle(path, arrays):
        written.append(path.name)
        if len(written) == 2:
            raise KeyboardInterrupt  # as a kill between train.p and valid.p
        pickle_path_writer(path, arrays)

    pickle_path_writer = synth._write_pickle
    monkeypatch.setattr(synth, "_write_pickle", dies_on_the_second_pickle)
    with pytest.raises(KeyboardInterrupt):
        write_synthetic_dataset(out, per_class=3, seed=2)
    assert written == ["train.p", "valid.p"]
    assert _fingerprint(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["synth"]  # no staging folder left behind


def test_a_rerun_replaces_the_whole_set_and_its_pictures(tmp_path):
    out = tmp_path / "synth"
    write_synthetic_dataset(out, per_class=2, seed=1)
    (out / "class_histogram.png").write_bytes(b"old picture")
    info = write_synthetic_dataset(out, per_class=3, seed=2)
    assert info["train"] == 43 * 2 and read_pickle(out / "train.p").labels.size == 43 * 2
    assert not (out / "class_histogram.png").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["synth"]


def test_an_out_folder_with_other_files_is_refused_untouched(tmp_path):
    from signclf.errors import DataError

    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    with pytest.raises(DataError, match="did not write \\(thesis.tex\\); choose a new or empty --out"):
        write_synthetic_dataset(out, per_class=2)
    assert [p.name for p in out.iterdir()] == ["thesis.tex"]


def test_the_written_folder_honours_the_umask(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        write_synthetic_dataset(tmp_path / "synth", per_class=2)
    finally:
        os.umask(old)
    assert (tmp_path / "synth").stat().st_mode & 0o777 == 0o755


def test_exchange_swaps_two_folders_or_says_it_cannot(tmp_path):
    from signclf.data.synth import _exchange

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "from_a").write_text("a")
    swapped = _exchange(tmp_path / "a", tmp_path / "b")
    assert (tmp_path / ("b" if swapped else "a") / "from_a").is_file()


def test_a_rerun_never_deletes_hidden_files_it_did_not_write(tmp_path):
    from signclf.data.synth import write_synthetic_dataset
    from signclf.errors import DataError

    out = tmp_path / "synth"
    write_synthetic_dataset(out, per_class=2, seed=0)
    (out / ".git").mkdir()
    (out / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    with pytest.raises(DataError, match=r"holds files `signclf data synth` did not write \(\.git\)"):
        write_synthetic_dataset(out, per_class=2, seed=1)
    assert (out / ".git" / "HEAD").read_text() == "ref: refs/heads/main\n"
    (out / ".git" / "HEAD").unlink()
    (out / ".git").rmdir()
    (out / ".train.p.abc123.tmp").write_bytes(b"left by a kill")  # signclf's own leftovers are replaced
    write_synthetic_dataset(out, per_class=2, seed=1)
    assert not (out / ".train.p.abc123.tmp").exists()
