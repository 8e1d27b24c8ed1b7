import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from conftest import TINY_CLASSES, draw_sign, tiny_overrides
from signclf.cli import main


def invoke(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def sets(data, **kw):
    out = []
    for o in tiny_overrides(data, **kw):
        out += ["--set", o]
    return out


def test_help_is_fast_and_does_not_import_tensorflow():
    code = "import sys; from signclf.cli import main\ntry: main(['--help'])\nexcept SystemExit: pass\n" \
           "assert 'tensorflow' not in sys.modules, 'signclf --help imported TensorFlow'"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "train" in out.stdout and "evaluate" in out.stdout and "predict" in out.stdout


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0 and "signclf" in result.output


def test_train_evaluate_predict_end_to_end(tmp_path, tiny_data, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("train", *sets(tiny_data, **{"train.epochs": 3}), "--no-progress")
    assert result.exit_code == 0, result.output
    assert "epoch   3/3" in result.output and "best valid accuracy" in result.output
    assert (tmp_path / "runs" / "latest").exists()

    # Bare `evaluate` and `predict` use runs/latest.
    result = invoke("evaluate", "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.output)
    assert scores["n"] == 32 and 0.9 <= scores["accuracy"] <= 1.0 and scores["top5_accuracy"] == 1.0
    run = (tmp_path / "runs" / "latest").resolve()
    assert (run / "evaluation.json").exists() and (run / "confusion-valid.png").stat().st_size > 1000
    assert (run / "confusion-valid.csv").read_text().count("\n") == 5

    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(5)
    for label in range(4):  # bigger than training size and BGR on disk: predict must resize and convert
        img = cv2.resize(draw_sign(label, rng), (96, 96), interpolation=cv2.INTER_NEAREST)
        cv2.imwrite(str(images / f"{label}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(images / "gray.jpg"), cv2.cvtColor(draw_sign(0, rng), cv2.COLOR_RGB2GRAY))
    (images / "broken.png").write_text("not an image")

    result = invoke("predict", str(images), "--json", "--top-k", "2")
    assert result.exit_code == 1  # one file failed
    preds = {p["path"].rsplit("/", 1)[-1]: p for p in json.loads(result.stdout)}
    assert set(preds) == {"0.png", "1.png", "2.png", "3.png", "gray.jpg", "broken.png"}
    assert "not a decodable image" in preds["broken.png"]["error"]
    for label in range(4):
        top = preds[f"{label}.png"]["top_k"]
        assert len(top) == 2 and top[0]["class_id"] == label and top[0]["name"] == TINY_CLASSES[label]
        assert top[0]["prob"] >= top[1]["prob"]

    result = invoke("predict", str(images / "0.png"), str(images / "1.png"))
    assert result.exit_code == 0 and "red disc" in result.output and "blue square" in result.output

    # evaluate --data: any dataset the readers load; committee of two runs.
    result = invoke("evaluate", "--run", str(run), "--run", str(run), "--data", str(tiny_data / "train.p"), "--json")
    assert result.exit_code == 0 and json.loads(result.output)["n"] == 96


def test_config_errors_are_one_line_exit_2(tmp_path, tiny_data):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  epochz: 3\n")
    result = CliRunner().invoke(main, ["train", "--config", str(bad)])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "did you mean 'train.epochs'" in result.output
    result = CliRunner().invoke(main, ["train", "--config", str(bad), "--set", "train.batch_size=0"])
    assert result.exit_code == 2


def test_missing_run_and_missing_data_are_clear(tmp_path, tiny_data, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["evaluate"])
    assert result.exit_code != 0 and "train one first" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(main, ["train", *sets(tiny_data, **{"data.train": "nowhere/train.p"})])
    assert result.exit_code != 0 and "nowhere/train.p: no such file or directory" in result.output


def test_run_directory_is_never_overwritten_silently(tmp_path, tiny_data):
    run = tmp_path / "myrun"
    first = invoke("train", *sets(tiny_data, **{"train.epochs": 1}), "--run-dir", str(run), "--no-progress")
    assert first.exit_code == 0
    result = CliRunner().invoke(main, ["train", *sets(tiny_data), "--run-dir", str(run)])
    assert result.exit_code == 1 and "already exists" in result.output and "--force" in result.output
    assert (run / "metrics.csv").read_text().count("\n") == 2  # header + the first run's epoch, untouched
    result = invoke("train", *sets(tiny_data, **{"train.epochs": 1}), "--run-dir", str(run), "--force", "--no-progress")
    assert result.exit_code == 0


@pytest.mark.parametrize("layout", ["gtsrb", "kaggle", "folders"])
def test_every_folder_layout_trains_through_the_cli(tmp_path, layout, monkeypatch):
    from fixtures_data import write_class_folders, write_gtsrb_training, write_kaggle

    monkeypatch.chdir(tmp_path)
    if layout == "gtsrb":
        path = write_gtsrb_training(tmp_path / "GTSRB", classes=3, tracks=3, frames=4)
    elif layout == "kaggle":
        path = write_kaggle(tmp_path / "kaggle", classes=3, tracks=3, frames=4)
    else:
        path = write_class_folders(tmp_path / "byclass", {"0": 0, "1": 1, "2": 2}, per_class=8)
    result = invoke("train", "--set", f"data.train={path}", "--set", "data.valid_fraction=0.3",
                    "--set", "model.conv=[{kernel: 3, depth: 4, pool: 2}]", "--set", "model.fc=[8]",
                    "--set", "train.epochs=1", "--set", "train.batch_size=8", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "held out" in result.output and "epoch   1/1" in result.output
