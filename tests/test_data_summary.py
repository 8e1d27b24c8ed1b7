"""`signclf data summary` and `synth`, and the data commands' start-up cost."""

import pickle
import subprocess
import sys
import types

import numpy as np
import pytest
from click.testing import CliRunner

from fixtures_data import isolated_cache, write_class_folders, write_gtsrb_test, write_gtsrb_training  # noqa: F401
from signclf.cli_data import data_group
from signclf.data.dataset import Dataset
from signclf.data.summary import sample_mosaic, split_from_name, summarize


def write_pickle(path, n=12, classes=3, with_sizes=True):
    rng = np.random.default_rng(0)
    obj = {"features": rng.integers(0, 255, (n, 32, 32, 3), dtype=np.uint8), "labels": np.arange(n) % classes}
    if with_sizes:
        obj["sizes"] = np.tile([[30, 31], [50, 40]], (n // 2, 1))
    path.write_bytes(pickle.dumps(obj))
    return path


def test_summary_of_a_gtsrb_root_and_a_pickle_writes_both_pngs(tmp_path):
    root = tmp_path / "GTSRB"
    write_gtsrb_training(root / "Final_Training" / "Images", classes=3, tracks=2, frames=2)
    write_gtsrb_test(root / "Final_Test" / "Images", count=5, classes=3)
    valid = write_pickle(tmp_path / "valid.p", n=6)
    report = summarize([("train", root), ("valid", valid), ("test", root)], tmp_path / "out")
    assert [p.name for p in report.files] == ["class_histogram.png", "sample_grid.png"]
    for path in report.files:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list((tmp_path / "out").glob(".tmp-*"))
    text = report.text
    assert "train: 12 images, 3 of 43 classes, 6 tracks" in text
    assert "test: 5 images" in text and "valid: 6 images" in text
    assert "original width 40–40 (median 40), height 36–36" in text  # the PPMs' own size
    assert "original width 30–50" in text  # the pickle's `sizes`
    row = next(line for line in text.splitlines() if line.startswith("  1  Speed limit (30km/h)"))
    assert row.split()[-3:] == ["4", "2", "2"]  # train, valid, test counts for class 1
    assert text.splitlines()[-1].split()[-3:] == ["12", "6", "5"]


def test_summary_without_recorded_sizes_says_so(tmp_path):
    report = summarize([("train", write_pickle(tmp_path / "x.p", with_sizes=False))], tmp_path)
    assert "original sizes not recorded (stored at 32×32)" in report.text


def test_sample_mosaic_has_a_row_per_class_and_blank_cells_for_missing_images():
    images = np.zeros((3, 4, 4, 3), np.uint8)
    ds = Dataset(images, np.array([0, 0, 2]), ["a", "b", "c"])
    mosaic = sample_mosaic(ds, per_class=2, pad=1)
    assert mosaic.shape == (3 * 5 + 1, 2 * 5 + 1, 3)
    assert (mosaic[1:5, 1:5] == 0).all() and (mosaic[1:5, 6:10] == 0).all()  # class 0: two images
    assert (mosaic[6:10, 1:10] == 255).all()  # class 1: none
    assert (mosaic[11:15, 6:10] == 255).all()  # class 2: one image, one blank


@pytest.mark.parametrize("name, split", [("test.p", "test"), ("valid.p", "valid"), ("GTSRB", "train"),
                                         ("Final_Test", "test"), ("val", "valid")])
def test_split_from_name(name, split):
    assert split_from_name(f"/data/{name}") == split


def test_cli_summary_prints_table_and_file_names(tmp_path):
    root = write_class_folders(tmp_path / "signs", {"0": 0, "2": 2}, per_class=2)
    result = CliRunner().invoke(data_group, ["summary", str(root), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "train: 4 images, 2 of 43 classes" in result.output
    assert f"wrote {tmp_path / 'out' / 'class_histogram.png'}" in result.output
    assert (tmp_path / "out" / "sample_grid.png").is_file()


def test_cli_summary_needs_a_path():
    result = CliRunner().invoke(data_group, ["summary"])
    assert result.exit_code == 2 and "give at least one dataset path" in result.output


def test_cli_summary_bad_path_is_one_line(tmp_path):
    result = CliRunner().invoke(data_group, ["summary", "--test", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert result.output.strip().startswith("error: ") and len(result.output.strip().splitlines()) == 1


def test_cli_synth_passes_its_options(tmp_path, monkeypatch):
    calls = []

    def write_synthetic_dataset(out_dir, per_class, seed, valid_fraction, progress):
        calls.append((out_dir, per_class, seed, valid_fraction))
        for done in range(1, 44):
            progress(done, 43)
        return {"train": 2 * 43, "valid": 43}

    fake = types.ModuleType("signclf.data.synth")
    fake.write_synthetic_dataset = write_synthetic_dataset
    fake.NUM_CLASSES = 43
    monkeypatch.setitem(sys.modules, "signclf.data.synth", fake)
    result = CliRunner().invoke(data_group, ["synth", "--out", str(tmp_path), "--per-class", "3", "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert calls == [(tmp_path, 3, 5, 0.1)]
    assert "wrote 86 training and 43 validation images" in result.output


def test_data_modules_do_not_import_tensorflow_or_matplotlib():
    code = ("import sys, signclf.cli_data, signclf.data.readers as r, signclf.data.splits, signclf.data.download, "
            "signclf.data.summary; r._ensure_builtin_readers(); "
            "print(sorted(m for m in ('tensorflow', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_what_the_reader_changed_is_in_the_summary(tmp_path):
    from conftest import make_dataset, write_pickle
    from signclf.data.summary import describe, load_specs

    images, labels = make_dataset(2)
    path = write_pickle(tmp_path / "floats.p", images.astype(np.float32) / 255, labels)
    text = describe(load_specs([("train", path)]))
    assert "  note: " in text and "0..1" in text
