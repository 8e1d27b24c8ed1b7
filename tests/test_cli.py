import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
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
           "heavy = [m for m in ('tensorflow', 'numpy', 'cv2', 'matplotlib', 'ray') if m in sys.modules]\n" \
           "assert not heavy, f'signclf --help imported {heavy}'"
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
    assert result.stderr == 'error: 1 of 6 input(s) could not be predicted (reasons in the "error" field of ' \
                            'each failed result)\n'
    preds = {p["path"].rsplit("/", 1)[-1]: p for p in json.loads(result.stdout)}
    assert set(preds) == {"0.png", "1.png", "2.png", "3.png", "gray.jpg", "broken.png"}
    assert "not a decodable image" in preds["broken.png"]["error"]
    for label in range(4):
        top = preds[f"{label}.png"]["top_k"]
        assert len(top) == 2 and top[0]["class_id"] == label and top[0]["name"] == TINY_CLASSES[label]
        assert top[0]["prob"] >= top[1]["prob"]

    result = invoke("predict", str(images / "0.png"), str(images / "1.png"))
    assert result.exit_code == 0 and "red disc" in result.output and "blue square" in result.output
    rows = result.output.splitlines()
    assert len(rows) == 6 and len({row.index("%") for row in rows}) == 1  # top 3 of each, one column

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


REPO = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def python(code, cwd, timeout=300):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, env=ENV,
                          timeout=timeout)


def test_train_on_a_fresh_clone_fails_before_tensorflow_and_creates_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no data/ here, as on a fresh clone
    result = CliRunner().invoke(main, ["train", "--config", str(REPO / "configs/lenet.yaml")])
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "data/traffic-signs-data/train.p: no such file or directory" in result.output
    assert "signclf data download --which udacity" in result.output
    assert list(tmp_path.iterdir()) == []
    code = ("import json, sys\nfrom click.testing import CliRunner\nfrom signclf.cli import main\n"
            f"r = CliRunner().invoke(main, ['train', '--config', {str(REPO / 'configs/lenet.yaml')!r}])\n"
            "print(json.dumps([r.exit_code, 'tensorflow' in sys.modules]))")
    out = python(code, tmp_path)
    assert json.loads(out.stdout) == [2, False], out.stderr
    assert list(tmp_path.iterdir()) == []


def test_missing_synthetic_data_points_to_data_synth(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["train", "--config", str(REPO / "configs/demo.yaml")])
    assert result.exit_code == 2 and "signclf data synth --out data/synth" in result.output


def test_train_without_any_data_says_how_to_get_some(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["train", "--set", "model.conv.0.depth=32"])  # a README example
    assert result.exit_code == 2 and "data.train is not set" in result.output
    assert "--set data.train=PATH" in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", [["evaluate", "--verbose"], ["evaluate", "--no-progress"],
                                  ["predict", "x.png", "--verbose", "--no-progress"]])
def test_flags_are_accepted_after_the_subcommand(tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and "train one first" in result.output  # parsed: failed on the missing run


def test_train_names_its_folder_with_run_and_keeps_run_dir_working(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    help_text = invoke("train", "--help").output
    assert "--run DIR" in help_text and "--resume RUN" in help_text and "--run-dir" not in help_text
    for option in ("--run", "--run-dir"):
        result = CliRunner().invoke(main, ["train", option, "somewhere", "--set", "data.train=nowhere.p"])
        assert result.exit_code == 2 and "nowhere.p: no such file" in result.output
    result = CliRunner().invoke(main, ["train", "--run", "a", "--resume", "b"])
    assert result.exit_code == 2 and "exclusive" in result.output
    assert list(tmp_path.iterdir()) == []


def test_every_batch_size_option_explains_itself():
    for command in ("evaluate", "predict"):
        help_text = " ".join(invoke(command, "--help").output.split())
        assert "--batch-size INTEGER RANGE Images per inference step" in help_text, command
        assert "--no-progress" in help_text and "--verbose" in help_text


@pytest.mark.parametrize("args", [["predict", "x.png", "--json", "--jsonl"], ["evaluate", "--data", "nowhere.p"],
                                  ["train", "--bogus"], ["predict"]])
def test_usage_errors_exit_2(tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(main, args).exit_code == 2


def fake_run(folder, **data):
    folder.mkdir()
    (folder / "config.yaml").write_text(yaml.safe_dump({"data": data}))
    return folder


def test_evaluate_hints_name_its_own_options(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = fake_run(tmp_path / "run", valid=str(tmp_path / "moved/valid.p"))
    result = CliRunner().invoke(main, ["evaluate", "--run", str(run), "--split", "test"])
    assert result.exit_code == 2 and "has no data.test; evaluate a dataset with --data PATH" in result.output
    result = CliRunner().invoke(main, ["evaluate", "--run", str(run)])
    assert result.exit_code == 2 and "moved/valid.p: no such file" in result.output
    assert "if the data moved, pass --data PATH" in result.output
    assert "--data PATH" in invoke("evaluate", "--help").output


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A 1-epoch run on tiny data, shared by the signal tests."""
    from export_fixtures import train_tiny_run, write_tiny_data

    root = tmp_path_factory.mktemp("signals")
    return train_tiny_run(write_tiny_data(root / "tiny"), root / "runs" / "tiny")


def temp_files(folder):
    return sorted(p.name for p in folder.rglob(".*.tmp"))


def catches_sigterm(pid) -> bool:
    with open(f"/proc/{pid}/status") as f:
        caught = next(int(line.split()[1], 16) for line in f if line.startswith("SigCgt:"))
    return bool(caught & (1 << (signal.SIGTERM - 1)))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to know when the handler is set")
def test_sigterm_during_evaluate_exits_143_with_one_line(trained_run):
    proc = subprocess.Popen([sys.executable, "-m", "signclf", "evaluate", "--run", str(trained_run)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.time() + 60
    while proc.poll() is None and not catches_sigterm(proc.pid) and time.time() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "evaluate ended before handling SIGTERM"
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr
    assert stderr.strip().splitlines()[-1].startswith("error: evaluate interrupted by SIGTERM")
    assert "Traceback" not in stderr and temp_files(trained_run) == []


def test_sigterm_while_evaluate_writes_its_files_leaves_no_temp_file(trained_run):
    code = ("import os, signal\n"
            "real_fsync = os.fsync\n"
            "def fsync(fd):  # the signal arrives while a file is half-written\n"
            "    os.kill(os.getpid(), signal.SIGTERM)\n"
            "    real_fsync(fd)\n"
            "os.fsync = fsync\n"
            "from signclf.cli import main\n"
            f"main(['evaluate', '--run', {str(trained_run)!r}], prog_name='signclf')\n")
    out = python(code, trained_run.parent)
    assert out.returncode == 143, out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("error: evaluate interrupted by SIGTERM")
    assert temp_files(trained_run) == []


def test_ctrl_c_during_predict_exits_130_with_one_line(trained_run, tmp_path):
    rng = np.random.default_rng(0)
    for label in range(3):
        cv2.imwrite(str(tmp_path / f"{label}.png"), draw_sign(label, rng))
    code = ("import os, signal\n"
            "import signclf.predict as predict\n"
            "real = predict.predict_files\n"
            "def predict_files(*args, **kwargs):  # Ctrl-C after the first result is printed\n"
            "    for pred in real(*args, **kwargs):\n"
            "        yield pred\n"
            "        os.kill(os.getpid(), signal.SIGINT)\n"
            "predict.predict_files = predict_files\n"
            "from signclf.cli import main\n"
            f"main(['predict', {str(tmp_path)!r}, '--run', {str(trained_run)!r}], prog_name='signclf')\n")
    out = python(code, tmp_path)
    assert out.returncode == 130, out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("error: predict interrupted by Ctrl-C")
    assert "Aborted" not in out.stderr and "Traceback" not in out.stderr
    assert out.stdout.count("%") == 3  # the first image's rows (top 3) were printed whole
