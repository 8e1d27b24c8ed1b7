"""evaluate.py's metrics, report and pictures, on made-up probabilities (no TensorFlow, no training)."""

import inspect
import json
import subprocess
import sys

import numpy as np
import pytest

from signclf import evaluate
from signclf.config import INFERENCE_BATCH_SIZE
from signclf.evaluate import _confusion_csv, format_report, metrics_from_probabilities, plot_confusion

NAMES = ["red disc", "blue square", "green triangle"]


def one_hot(labels, k=3, p=0.9):
    probs = np.full((len(labels), k), (1 - p) / (k - 1))
    probs[np.arange(len(labels)), labels] = p
    return probs


def test_metrics_from_probabilities():
    labels = np.array([0, 0, 1, 1, 2, 2])
    predicted = np.array([0, 0, 1, 2, 2, 2])
    results = metrics_from_probabilities(one_hot(predicted), labels, NAMES)
    assert results["accuracy"] == pytest.approx(5 / 6) and results["top5_accuracy"] == 1.0 and results["n"] == 6
    assert results["confusion_matrix"] == [[2, 0, 0], [0, 1, 1], [0, 0, 2]]
    blue = results["per_class"][1]
    assert blue == {"class_id": 1, "name": "blue square", "precision": 1.0, "recall": 0.5,
                    "f1": pytest.approx(2 / 3, abs=1e-5), "support": 2}
    assert results["macro_f1"] == pytest.approx((1 + 2 / 3 + 0.8) / 3, abs=1e-5)


def test_macro_f1_ignores_classes_absent_from_the_data():
    results = metrics_from_probabilities(one_hot([0, 1]), np.array([0, 1]), NAMES)
    assert results["macro_f1"] == 1.0 and results["per_class"][2]["support"] == 0


def test_confusion_csv_has_a_row_per_true_class():
    assert _confusion_csv([[2, 0], [1, 3]], ["a", "b"]).splitlines() == ["true \\ predicted,0,1", "0,2,0", "1,1,3"]


def results_for(names, n=11610):
    per_class = [{"class_id": c, "name": name, "precision": 0.9, "recall": 0.8, "f1": 0.85 - c / 100,
                  "support": 1234} for c, name in enumerate(names)]
    return {"runs": ["runs/a"], "dataset": "data/valid.p", "n": n, "accuracy": 0.98765, "top5_accuracy": 1.0,
            "macro_f1": 0.9, "per_class": per_class, "files": ["runs/a/evaluation.json"]}


def test_report_uses_thousands_separators_and_cuts_long_names():
    names = ["Right-of-way at the next intersection, a name much longer than the column", "Yield"]
    report = format_report(results_for(names))
    assert "(11,610 images)" in report and "n=1,234" in report and "accuracy       0.9877" in report
    assert "Right-of-way at the next intersection,…" in report
    rows = [line for line in report.splitlines() if " n=" in line]
    assert len(rows) == 2 and len({row.index(" F1 ") for row in rows}) == 1


def test_report_escapes_control_characters():
    results = results_for(["\x1b[2Jclear", "new\nline"])
    results["dataset"] = "data/\x1b]0;title\x07.p"
    report = format_report(results)
    assert "\x1b" not in report and "\x07" not in report and report.count("\n") == 7
    assert "\\x1b[2Jclear" in report and "new\\nline" in report and "\\x1b]0;title\\x07" in report


@pytest.mark.parametrize("k", [4, 43])
def test_confusion_png_is_big_enough_to_read_its_labels(tmp_path, k):
    from PIL import Image

    matrix = (np.eye(k, dtype=int) * 20 + (np.arange(k * k).reshape(k, k) % 7 == 0)).tolist()
    path = tmp_path / "confusion.png"
    plot_confusion(matrix, [f"class number {c}" for c in range(k)], path, "valid: accuracy 0.9 on 1,000 images")
    width, height = Image.open(path).size
    assert min(width, height) >= 500
    assert height / k >= 20 or k < 10  # ≥ 20 px per class row at the saved size: room for an 8 pt label
    assert not list(tmp_path.glob(".*.tmp"))


def test_tick_labels_name_the_classes():
    assert evaluate._tick_labels(["Yield", "Right-of-way at the next intersection"]) == \
        ["0 Yield", "1 Right-of-way at the nex…"]
    assert evaluate._tick_labels(["bad\x1bname"]) == ["0 bad\\x1bname"]


def test_plotting_does_not_use_pyplot(tmp_path):
    code = ("import sys; from signclf.evaluate import plot_confusion\n"
            f"plot_confusion([[1, 0], [0, 1]], ['a', 'b'], {str(tmp_path / 'c.png')!r}, 't')\n"
            "assert 'matplotlib.pyplot' not in sys.modules")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "c.png").stat().st_size > 1000


def test_evaluate_uses_the_shared_batch_size():
    assert inspect.signature(evaluate.evaluate).parameters["batch_size"].default == INFERENCE_BATCH_SIZE


def test_json_on_stdout_stays_json_when_the_readers_have_something_to_say(tiny_data, tmp_path):
    from click.testing import CliRunner

    from conftest import tiny_overrides
    from signclf.cli import main

    sets = [a for o in tiny_overrides(tiny_data, **{"data.train": tiny_data, "data.valid": "", "train.epochs": 1})
            for a in ("--set", o)]
    run = tmp_path / "run"
    assert CliRunner().invoke(main, ["train", *sets, "--run", str(run)]).exit_code == 0
    result = CliRunner().invoke(main, ["evaluate", "--run", str(run), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n"] == 32  # the valid.p beside train.p
    assert "data.valid not set: validating on" in result.stderr


def test_results_are_saved_through_the_run_directory_and_a_full_disk_costs_the_record_not_the_scores(
        tmp_path, monkeypatch):
    import errno

    from signclf import atomic

    labels = np.array([0, 1, 2, 2])
    results = metrics_from_probabilities(one_hot(labels), labels, NAMES)
    results.update(checkpoint_notes=["no usable best checkpoint (...); used the last one"])
    evaluate._save(tmp_path, "valid", results, NAMES, log=print)
    assert [p.rsplit("/", 1)[-1] for p in results["files"]] == ["evaluation.json", "confusion-valid.csv",
                                                                "confusion-valid.png"]
    saved = json.loads((tmp_path / "evaluation.json").read_text())["valid"]
    assert saved["checkpoint_notes"] == results["checkpoint_notes"] and "confusion_matrix" not in saved
    assert format_report(dict(results_for(NAMES), checkpoint_notes=results["checkpoint_notes"])).startswith(
        "note: no usable best checkpoint")

    def disk_full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", disk_full)
    lines = []
    evaluate._save(tmp_path, "test", results, NAMES, log=lines.append)
    assert lines == [f"note: the results are printed but not saved: {tmp_path / 'evaluation.json'}: cannot write "
                     "(No space left on device); free some space and run the command again"]
    assert results["files"] == [] and "wrote" not in format_report(dict(results_for(NAMES), files=[]))
    assert "test" not in json.loads((tmp_path / "evaluation.json").read_text())  # the old file is intact


def test_a_picture_that_cannot_be_written_still_reports_the_files_that_were(tmp_path, monkeypatch):
    from signclf.atomic import FileWriteError

    labels = np.array([0, 1, 2, 2])
    results = metrics_from_probabilities(one_hot(labels), labels, NAMES)

    def no_picture(*args):
        raise FileWriteError(tmp_path / "confusion-valid.png", OSError(28, "No space left on device"))

    monkeypatch.setattr(evaluate, "plot_confusion", no_picture)
    lines = []
    evaluate._save(tmp_path, "valid", results, NAMES, log=lines.append)
    assert [p.rsplit("/", 1)[-1] for p in results["files"]] == ["evaluation.json", "confusion-valid.csv"]
    assert lines[0].startswith("note: the results are printed but not all saved "
                               "(saved: evaluation.json, confusion-valid.csv): ")
    assert "valid" in json.loads((tmp_path / "evaluation.json").read_text())


class FakeMember:
    """A model trained at `size` pixels: its 'probabilities' say which images it was shown."""

    def __init__(self, cfg, seen, k):
        self.cfg, self.seen, self.class_names = cfg, seen, [str(i) for i in range(k)]

    def probabilities(self, images, batch_size):
        self.seen.append(images.copy())
        probs = np.zeros((len(images), len(self.class_names)))
        probs[:, {24: 0, 16: 3}[self.cfg.data.image_size]] = 1.0
        return probs


class FakeCommittee:
    def __init__(self, members):
        self.members, self.cfg, self.class_names = members, members[0].cfg, members[0].class_names

    def probabilities(self, images, batch_size):
        return np.mean([member.probabilities(images, batch_size) for member in self.members], axis=0)


def config_at(tiny_data, size):
    """The tiny data's validation set for a model trained at size×size."""
    from signclf.config import load_config

    return load_config(None, [f"data.valid={tiny_data}/valid.p", f"data.class_names={tiny_data}/signnames.csv",
                              f"data.image_size={size}"])


def test_committee_members_of_different_input_sizes_each_see_the_set_at_their_own_size(tiny_data):
    from signclf.data.loading import load_split

    def cfg(size):
        return config_at(tiny_data, size)

    seen = {16: [], 24: []}
    members = [FakeMember(cfg(24), seen[24], 4), FakeMember(cfg(16), seen[16], 4), FakeMember(cfg(24), seen[24], 4)]
    lines = []
    probs, dataset = evaluate.score_split(FakeCommittee(members), log=lines.append)
    for size in (16, 24):
        alone = load_split(cfg(size), "valid").images
        assert all(np.array_equal(images, alone) for images in seen[size])  # loaded at its size, never resampled
    assert len(seen[24]) == 2 and len(seen[16]) == 1
    assert np.allclose(probs[:, 0], 2 / 3) and np.allclose(probs[:, 3], 1 / 3)  # the mean over all three members
    assert dataset.images.shape[1] == 24 and len(probs) == len(dataset.labels) == 32

    seen = {16: [], 24: []}
    same = [FakeMember(cfg(16), seen[16], 4), FakeMember(cfg(16), seen[16], 4)]
    probs, _ = evaluate.score_split(FakeCommittee(same))
    assert len(seen[16]) == 2 and np.allclose(probs[:, 3], 1.0)  # one size: one load for both
