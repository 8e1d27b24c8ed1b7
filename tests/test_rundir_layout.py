"""The run directory's files: names, formats, and runs written by the previous layout."""

import json

import pytest

from conftest import TINY_CLASSES
from signclf.config import config_to_yaml, load_config
from signclf.errors import CheckpointError
from signclf.rundir.layout import (
    FORMAT,
    RunPaths,
    read_format,
    read_metrics,
    read_run,
    read_summary,
    record_evaluation,
    write_metrics,
    write_run_files,
    write_summary,
)
from signclf.rundir.lifecycle import resolve_run

STATS = {"mean": [120.5, 110.25, 100.0], "std": [60.0, 55.5, 50.0]}


def previous_layout_run(folder, cfg=None, preprocess=None):
    """A run exactly as signclf wrote it before run.json existed (format 1), without checkpoints."""
    cfg = cfg or load_config(None)
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(config_to_yaml(cfg))
    (folder / "class_names.json").write_text(json.dumps(TINY_CLASSES, indent=2) + "\n")
    record = {"color": cfg.preprocess.color, "equalize": cfg.preprocess.equalize,
              "image_size": cfg.data.image_size, "stats": STATS, "computed_on": "96 training images",
              "valid_images": 32}
    record.update(preprocess or {})
    (folder / "preprocess.json").write_text(json.dumps(record, indent=2) + "\n")
    (folder / "metrics.csv").write_text("epoch,train_loss,train_acc,valid_loss,valid_acc,lr,images_per_s,epoch_s\n"
                                        "1,1.2,0.5,1.1,0.6,0.01,900,0.5\n")
    (folder / "summary.json").write_text(json.dumps({"status": "completed", "best_epoch": 1}))
    return folder


def test_a_run_of_the_previous_layout_loads_as_format_1(tmp_path):
    run = previous_layout_run(tmp_path / "old")
    info = read_run(run)
    assert info.format == 1
    assert info.stats == STATS
    assert info.class_names == TINY_CLASSES
    assert info.cfg.preprocess.color == "rgb"
    assert info.paths.root == run
    assert resolve_run(run) == run
    assert read_metrics(run)[0]["valid_acc"] == "0.6"
    assert read_summary(run) == {"status": "completed", "best_epoch": 1}


def test_a_new_run_records_its_format_first_and_reads_back(tmp_path):
    cfg = load_config(None)
    paths = write_run_files(tmp_path, cfg, STATS, TINY_CLASSES, 96, 32)
    assert json.loads(paths.run_file.read_text()) == {"format": FORMAT}
    saved = json.loads(paths.preprocess.read_text())
    assert (saved["color"], saved["equalize"], saved["image_size"], saved["stats"]) == ("rgb", "none", 32, STATS)
    info = read_run(tmp_path)
    assert (info.format, info.stats, info.class_names) == (FORMAT, STATS, TINY_CLASSES)


def test_a_run_from_a_newer_signclf_is_refused_in_one_line(tmp_path):
    run = previous_layout_run(tmp_path / "new")
    (run / "run.json").write_text(json.dumps({"format": FORMAT + 1}))
    newer = rf"run\.json: run format {FORMAT + 1} is newer.*update signclf \(git pull"
    with pytest.raises(CheckpointError, match=newer) as e:
        read_run(run)
    assert "\n" not in str(e.value)
    (run / "run.json").write_text("[]")
    with pytest.raises(CheckpointError, match="no valid \"format\" number"):
        read_format(run)


@pytest.mark.parametrize("stats, problem", [
    ({"mean": [0, 0, 0], "std": [1, 0, 1]}, "stats.std must be positive"),
    ({"mean": [0, 0, 0], "std": [1, -2, 1]}, "stats.std must be positive"),
    ({"mean": [0, "a", 0], "std": [1, 1, 1]}, "stats.mean must be 3 finite number"),
    ({"mean": [0, 0, 0], "std": [1, None, 1]}, "stats.std must be 3 finite number"),
    ({"mean": [0, 0, 0], "std": [1, float("nan"), 1]}, "stats.std must be 3 finite number"),
    ({"mean": [0, float("inf"), 0], "std": [1, 1, 1]}, "stats.mean must be 3 finite number"),
    ({"mean": [0], "std": [1]}, "stats.mean must be 3 finite number"),
    ({"mean": [True, 0, 0], "std": [1, 1, 1]}, "stats.mean must be 3 finite number"),
    ("not stats", "no \"stats\" object"),
])
def test_damaged_preprocessing_stats_are_refused_naming_the_file(tmp_path, stats, problem):
    run = previous_layout_run(tmp_path / "run", preprocess={"stats": stats})
    with pytest.raises(CheckpointError, match="preprocess.json: " + problem.replace("(", r"\(")) as e:
        read_run(run)
    assert "\n" not in str(e.value)


def test_stats_computed_for_other_preprocessing_than_config_yaml_are_refused(tmp_path):
    run = previous_layout_run(tmp_path / "run", preprocess={"equalize": "clahe"})
    with pytest.raises(CheckpointError, match="computed with equalize='clahe' but config.yaml says 'none'"):
        read_run(run)


def test_gray_runs_carry_one_channel_of_stats(tmp_path):
    cfg = load_config(None, ["preprocess.color=gray"])
    run = previous_layout_run(tmp_path / "gray", cfg, {"stats": {"mean": [100], "std": [50]}})
    assert read_run(run).stats == {"mean": [100.0], "std": [50.0]}


def test_unreadable_class_names_are_one_line(tmp_path):
    run = previous_layout_run(tmp_path / "run")
    (run / "class_names.json").write_text('{"0": "stop"}')
    with pytest.raises(CheckpointError, match="class_names.json: expected a non-empty JSON list"):
        read_run(run)
    (run / "class_names.json").unlink()
    with pytest.raises(CheckpointError, match="class_names.json: missing; is .* a signclf run directory"):
        read_run(run)


def test_record_evaluation_keeps_earlier_entries_and_names_the_png(tmp_path):
    first = record_evaluation(tmp_path, "valid", {"accuracy": 0.5}, "true \\ predicted,0\n0,3\n")
    record_evaluation(tmp_path, "test", {"accuracy": 0.75, "checkpoint_note": "used last"}, "x\n")
    paths = RunPaths(tmp_path)
    assert first == [paths.evaluation, tmp_path / "confusion-valid.csv", tmp_path / "confusion-valid.png"]
    assert json.loads(paths.evaluation.read_text()) == {"valid": {"accuracy": 0.5},
                                                         "test": {"accuracy": 0.75, "checkpoint_note": "used last"}}
    assert (tmp_path / "confusion-valid.csv").read_text() == "true \\ predicted,0\n0,3\n"
    assert not (tmp_path / "confusion-valid.png").exists()  # the caller draws it


def test_a_damaged_evaluation_json_is_replaced(tmp_path):
    RunPaths(tmp_path).evaluation.write_bytes(b"\xff{not json")
    record_evaluation(tmp_path, "valid", {"accuracy": 1.0}, "")
    assert json.loads(RunPaths(tmp_path).evaluation.read_text()) == {"valid": {"accuracy": 1.0}}


def test_metrics_and_summary_round_trip(tmp_path):
    assert read_metrics(tmp_path) == [] and read_summary(tmp_path) == {}
    write_metrics(tmp_path, [{"epoch": 1, "valid_acc": "0.9", "not_a_column": 3}])
    assert read_metrics(tmp_path) == [{"epoch": "1", "train_loss": "", "train_acc": "", "valid_loss": "",
                                       "valid_acc": "0.9", "lr": "", "images_per_s": "", "epoch_s": ""}]
    write_summary(tmp_path, {"status": "running"})
    assert read_summary(tmp_path) == {"status": "running"}


def test_paths_name_every_file_and_only_known_checkpoint_kinds(tmp_path):
    paths = RunPaths(tmp_path)
    assert paths.checkpoint_dir("best") == tmp_path / "checkpoints" / "best"
    with pytest.raises(ValueError, match="checkpoint kind"):
        paths.checkpoint_dir("../elsewhere")
    known = ["run.json", "config.yaml", "metrics.csv", "confusion-test.png", "events.out.tfevents.1.host",
             ".metrics.csv.x1.tmp", ".lock", "checkpoints"]
    assert all(paths.is_known(tmp_path / name) for name in known)
    assert not any(paths.is_known(tmp_path / name) for name in ["thesis.pdf", "data.csv", "notes"])
