"""`signclf runs`' table, from run folders written by hand (no TensorFlow, no training)."""

import csv
import io
import json

import pytest

from signclf import runs_table
from signclf.config import load_config
from signclf.errors import ConfigError, SignclfError
from signclf.rundir import RunLock, RunPaths, write_config, write_summary


def fake_run(folder, overrides=(), **summary):
    folder.mkdir(parents=True)
    RunPaths(folder).run_file.write_text('{"format": 2}')
    write_config(folder, load_config(None, list(overrides)))
    if summary:
        facts = {"status": "completed", "best_epoch": 3, "best_valid_acc": 0.9, "epochs_completed": 4,
                 "wall_time_s": 75.0, "train_images_per_s": 1500.0, "parameters": 64511}
        write_summary(folder, {**facts, **summary})
    return folder


@pytest.fixture
def runs(tmp_path):
    root = tmp_path / "runs"
    fake_run(root / "lenet", ["train.epochs=4", "name=lenet"], best_valid_acc=0.95)
    fake_run(root / "fast", ["train.epochs=4", "train.learning_rate=0.003"], best_valid_acc=0.97)
    fake_run(root / "cv-x" / "fold-0", ["train.epochs=4", "data.folds=2"], status="interrupted by SIGINT")
    fake_run(root / "cv-x" / "fold-1", ["train.epochs=4", "data.folds=2", "data.fold=1"])  # no summary yet
    (root / "latest").symlink_to("lenet")  # the link to the newest run is not a second row
    (root / "notes").mkdir()  # a folder that holds no run
    return root


def test_runs_are_found_one_and_two_levels_down_and_named_relative_to_the_folder(runs):
    names = [str(p.relative_to(runs)) for p in runs_table.find_runs(runs)]
    assert names == ["cv-x/fold-0", "cv-x/fold-1", "fast", "lenet"]
    assert runs_table.find_runs(runs / "lenet") == [runs / "lenet"]  # a run given directly is its own row


def test_status_comes_from_the_summary_and_the_lock(runs, tmp_path):
    assert runs_table.run_status(runs / "lenet") == ("completed", "completed")
    assert runs_table.run_status(fake_run(tmp_path / "es", status="early stopping: no better"))[0] == "completed"
    status, detail = runs_table.run_status(runs / "cv-x" / "fold-0")
    assert status == "interrupted" and f"signclf train --resume {runs / 'cv-x' / 'fold-0'}" in detail
    status, detail = runs_table.run_status(runs / "cv-x" / "fold-1")
    assert status == "stopped" and "before its first epoch" in detail
    crashed = fake_run(tmp_path / "crashed", status="running", epochs_completed=2)
    assert runs_table.run_status(crashed) == ("stopped", f"stopped after epoch 2 without recording why (killed or "
                                                         f"crashed); signclf train --resume {crashed} continues it")
    failed = fake_run(tmp_path / "failed", status="failed: diverged: loss is nan", epochs_completed=3)
    assert runs_table.run_status(failed) == ("failed", f"after epoch 3: diverged: loss is nan; "
                                                       f"signclf train --resume {failed} continues it")
    hinted = fake_run(tmp_path / "hinted", status=f"failed: diverged; resume: signclf train --resume {failed}")
    assert runs_table.run_status(hinted)[1].count("--resume") == 1
    with RunLock(crashed):  # a live trainer holds the lock
        status, detail = runs_table.run_status(crashed)
    assert status == "running" and "being trained by process" in detail


def test_flatten_gives_dotted_keys_down_into_lists():
    flat = runs_table.flatten({"model": {"conv": [{"depth": 6}, {"depth": 16}], "fc": [], "l2": 0.0}, "name": "x"})
    assert flat == {"model.conv.0.depth": 6, "model.conv.1.depth": 16, "model.fc": [], "model.l2": 0.0, "name": "x"}


def test_rows_and_the_config_keys_that_differ(runs):
    rows, keys = runs_table.collect(runs)
    assert keys == ["data.fold", "data.folds", "train.learning_rate"]
    fast = next(r for r in rows if r["name"] == "fast")
    assert fast["best_valid_acc"] == 0.97 and fast["epochs"] == 4 and fast["config"]["train.learning_rate"] == 0.003
    unfinished = next(r for r in rows if r["name"] == "cv-x/fold-1")
    assert unfinished["best_valid_acc"] is None and unfinished["status"] == "stopped"


def test_a_key_only_some_runs_have_differs(tmp_path):
    fake_run(tmp_path / "a", ["model.conv=[{depth: 6}]"], best_valid_acc=0.9)
    fake_run(tmp_path / "b", ["model.conv=[{depth: 6}, {depth: 16}]"], best_valid_acc=0.9)
    rows, keys = runs_table.collect(tmp_path)
    assert "model.conv.1.depth" in keys and "model.conv.0.depth" not in keys
    assert "-" in runs_table.format_table(rows, keys).splitlines()[1].split()  # a is missing the second stage


def test_sorting_by_a_column_or_a_config_key(runs):
    by_acc = [r["name"] for r in runs_table.collect(runs, "acc")[0]]
    assert by_acc[:3] == ["fast", "lenet", "cv-x/fold-0"] and by_acc[-1] == "cv-x/fold-1"  # no accuracy: last
    by_lr = [r["name"] for r in runs_table.collect(runs, "train.learning_rate")[0]]
    assert by_lr[-1] == "fast"
    with pytest.raises(ConfigError, match="--sort nope: not a column"):
        runs_table.collect(runs, "nope")


def test_json_and_csv_are_valid_and_carry_the_differing_keys(runs):
    rows, keys = runs_table.collect(runs)
    data = json.loads(runs_table.to_json(rows, keys, runs))
    assert data["differing_keys"] == keys and len(data["runs"]) == 4
    assert set(data["runs"][0]) == set(runs_table.FIELDS) | {"config"}
    assert set(data["runs"][0]["config"]) == set(keys)
    table = list(csv.DictReader(io.StringIO(runs_table.to_csv(rows, keys))))
    assert list(table[0]) == runs_table.FIELDS + keys and len(table) == 4
    fast = next(r for r in table if r["name"] == "fast")
    assert fast["train.learning_rate"] == "0.003" and fast["wall_time_s"] == "75.0"


def test_terminal_table_columns(runs):
    rows, keys = runs_table.collect(runs)
    lines = runs_table.format_table(rows, keys).splitlines()
    assert all(line == line.rstrip() for line in lines)
    assert lines[0].split() == ["run", "status", "valid", "acc", "best", "epochs", "time", "img/s", "params"] + keys
    fast = next(line for line in lines if line.startswith("fast"))
    assert fast.split()[:8] == ["fast", "completed", "0.9700", "3", "4/4", "1m15s", "1,500", "64,511"]


def test_a_damaged_config_or_summary_still_gives_a_row(tmp_path):
    run = fake_run(tmp_path / "x", best_valid_acc=0.5)
    RunPaths(run).config.write_text("model: [unclosed")
    RunPaths(run).summary.write_text("{not json")
    rows, _ = runs_table.collect(tmp_path)
    assert rows[0]["status"] == "failed" and "summary.json: unreadable" in rows[0]["detail"]
    assert "config.yaml unusable" in rows[0]["detail"] and rows[0]["config"] == {}


def test_no_runs_is_one_line_naming_signclf_train(tmp_path):
    with pytest.raises(SignclfError, match=r"no signclf runs in it .*signclf train --run"):
        runs_table.collect(tmp_path)
    with pytest.raises(SignclfError, match=r"no such folder; train a run into it \(signclf train"):
        runs_table.collect(tmp_path / "missing")
