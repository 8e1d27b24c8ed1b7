"""`signclf data preview`: a titled grid with column headers, written beside the training data by default."""

import errno

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from conftest import tiny_overrides
from signclf import atomic
from signclf.config import load_config
from signclf.errors import SignclfError
from signclf.preview import PREVIEW_FILE, default_preview_path, draw_preview


def _grid(rows=2, columns=3, tile=34):
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (rows * tile, columns * tile, 3), dtype=np.uint8)


def test_draw_preview_writes_a_png_with_room_for_headers_and_labels(tmp_path):
    path = draw_preview(_grid(), ["14 Stop", "1 Speed limit (30km/h)"], tmp_path / "p.png", "A title")
    img = cv2.imread(str(path))
    assert img is not None and img.shape[0] > 2 * 34 and img.shape[1] > 3 * 34
    assert img[:10].std() < img.std()  # a white margin above the grid holds the title and headers


def test_default_path_is_beside_the_training_data(tmp_path):
    (tmp_path / "synth").mkdir()
    for train, folder in ((tmp_path / "train.p", tmp_path), (tmp_path / "synth", tmp_path / "synth")):
        cfg = load_config(None, [f"data.train={train}"])
        assert default_preview_path(cfg) == folder / PREVIEW_FILE


def test_a_full_disk_is_one_line_naming_the_file(tmp_path, monkeypatch):
    def disk_full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", disk_full)
    with pytest.raises(SignclfError) as e:
        draw_preview(_grid(), ["a", "b"], tmp_path / "p.png", "t")
    assert str(e.value) == f"{tmp_path / 'p.png'}: cannot write (No space left on device); free some space and " \
                           "run the command again"
    assert not list(tmp_path.iterdir())  # the temp file is gone too


def test_the_command_writes_beside_the_data_and_says_where(tiny_data):
    from signclf.cli import main

    args = ["data", "preview", "--rows", "2", "--variants", "2"]
    for o in tiny_overrides(tiny_data):
        args += ["--set", o]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert f"wrote {tiny_data / PREVIEW_FILE}" in result.output and (tiny_data / PREVIEW_FILE).is_file()


def test_a_missing_training_set_is_said_before_tensorflow_loads(tmp_path):
    import subprocess
    import sys

    code = ("import sys\nfrom signclf.cli import main\n"
            "try: main(['data', 'preview', '--set', 'data.train=nowhere/train.p'])\n"
            "except SystemExit as e: code = e.code\n"
            "print(code, 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.stdout.split() == ["2", "False"], out.stderr
    assert "data.train: nowhere/train.p: no such file or directory" in out.stderr
