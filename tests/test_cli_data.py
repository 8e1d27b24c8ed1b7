"""`signclf data …` commands: usage errors exit 2, pictures land beside the data, disk full is one line."""

import errno

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import make_dataset, write_pickle
from signclf import atomic
from signclf.cli_data import FORMATS, data_group


@pytest.fixture
def synth_like(tmp_path):
    """What `data synth` leaves: split pickles, signnames.csv and a samples/ folder of PNGs."""
    folder = tmp_path / "synth"
    (folder / "samples").mkdir(parents=True)
    write_pickle(folder / "train.p", *make_dataset(2, seed=1))
    write_pickle(folder / "valid.p", *make_dataset(1, seed=2))
    (folder / "samples" / "00_speed_limit_20km_h.png").write_bytes(b"\x89PNG")
    return folder


def test_summary_of_a_synth_folder_shows_each_split_and_writes_beside_it(synth_like, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(data_group, ["summary", str(synth_like)])
    assert result.exit_code == 0, result.output
    assert "train: 8 images, 4 of 43 classes" in result.output and "valid: 4 images" in result.output
    assert f"wrote {synth_like / 'class_histogram.png'}" in result.output
    assert f"wrote {synth_like / 'sample_grid.png'}" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["synth"]  # nothing in the current directory


def test_summary_format_is_a_choice_with_exit_2(synth_like):
    assert FORMATS == ["auto", "pickle", "gtsrb", "kaggle", "folders"]
    result = CliRunner().invoke(data_group, ["summary", str(synth_like), "--format", "bogus"])
    assert result.exit_code == 2 and "'bogus' is not one of" in result.output


def test_summary_on_a_full_disk_is_one_line_naming_the_file(synth_like, tmp_path, monkeypatch):
    def disk_full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", disk_full)
    result = CliRunner().invoke(data_group, ["summary", str(synth_like), "--out", str(tmp_path / "pics")])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[-1] == (f"error: {tmp_path / 'pics' / 'class_histogram.png'}: cannot write (No space left on "
                         "device); free some space and run the command again")
    assert "Traceback" not in result.output


def test_synth_help_states_the_real_validation_share():
    result = CliRunner().invoke(data_group, ["synth", "--help"])
    text = " ".join(result.output.split())
    assert "10% of them, rounded, and at least one go to valid.p (1 of 5 at" in text and "10 of 100" in text


def test_synth_shows_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path, monkeypatch):
    from signclf.data import synth

    def quick(out_dir, per_class, seed, valid_fraction, progress):
        for done in range(1, synth.NUM_CLASSES + 1):
            progress(done, synth.NUM_CLASSES)
        return {"train": 43, "valid": 43}

    monkeypatch.setattr(synth, "write_synthetic_dataset", quick)
    result = CliRunner().invoke(data_group, ["synth", "--out", str(tmp_path / "s")])
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout.splitlines()[-1] == f"use it with --set data.train={tmp_path / 's'}"


def test_synth_into_a_folder_of_other_files_is_one_line(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    result = CliRunner().invoke(data_group, ["synth", "--out", str(tmp_path), "--per-class", "2"])
    assert result.exit_code == 1 and "did not write (notes.txt)" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_download_udacity_hint_names_the_folder(tmp_path, monkeypatch):
    from signclf.data import download

    monkeypatch.setattr(download, "download_dataset", lambda which, dest, base_url: tmp_path / "traffic-signs-data")
    result = CliRunner().invoke(data_group, ["download", "--which", "udacity", "--dest", str(tmp_path)])
    assert result.exit_code == 0
    folder = tmp_path / "traffic-signs-data"
    assert f"use it with --set data.train={folder} --set data.test={folder}" in result.output


def test_summary_reads_n_by_0_by_0_features_as_one_line(tmp_path):
    path = write_pickle(tmp_path / "train.p", np.zeros((3, 0, 0, 3), np.uint8), np.zeros(3, np.int64))
    result = CliRunner().invoke(data_group, ["summary", path])
    assert result.exit_code == 1 and "0×0 pixels" in result.output and "Traceback" not in result.output
