"""Small real sweeps: Ray Tune on this machine (and a two-node local cluster) training tiny runs."""

import csv
import importlib.util
import json
import os
from pathlib import Path

import pytest

from conftest import tiny_overrides
from signclf import rundir
from signclf.config import config_to_dict, load_config, resolve_paths
from signclf.sweep import (
    BEST_FILE,
    CSV_FILE,
    JSON_FILE,
    TRIALS_DIR,
    SweepSpec,
    committee,
    format_table,
    run_sweep,
)
from signclf.sweep_space import parse_space

needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                               reason="Ray Tune not installed: pip install 'signclf[sweep]'")


def _spec(data_dir, space: dict, trials=1, scheduler="asha", **sets) -> SweepSpec:
    cfg = resolve_paths(load_config(None, tiny_overrides(data_dir, **sets)), Path.cwd())
    base = config_to_dict(cfg)
    return SweepSpec(base, parse_space(space, base, "space"), trials, scheduler)


def _quiet(line):
    pass


def test_the_epoch_hook_a_trial_reports_through_can_stop_training_cleanly(tiny_data, tmp_path):
    from signclf.train import train

    seen = []

    def on_epoch(row):
        seen.append(row["epoch"])
        return "stopped by the sweep (its scheduler, or the sweep stopping)" if row["epoch"] == 2 else None

    run = train(load_config(None, tiny_overrides(tiny_data, **{"train.epochs": 4})), run_dir=tmp_path / "run",
                log=_quiet, progress=False, on_epoch=on_epoch)
    assert seen == [1, 2]
    summary = rundir.read_summary(run)
    assert (summary["status"], summary["epochs_completed"]) == ("stopped by the sweep (its scheduler, or the sweep "
                                                                "stopping)", 2)
    assert rundir.RunPaths(run).has_checkpoint()


@needs_ray
def test_a_small_asha_sweep_ranks_its_trials_marks_a_diverging_one_failed_and_writes_its_results(tiny_data,
                                                                                                      tmp_path):
    space = {"train.learning_rate": {"grid": [0.01, 0.0001, 1e30]}}  # 1e30: NaN at the second step
    out = tmp_path / "sweep"
    result = run_sweep(_spec(tiny_data, space, **{"train.epochs": 3}), out, log=_quiet)

    rows = result["trials"]
    assert [r["train.learning_rate"] for r in rows] == [0.01, 0.0001, 1e30]  # 0.0001 barely moves in 3 epochs
    assert rows[0]["best_valid_acc"] > rows[1]["best_valid_acc"] and not result["interrupted"]
    assert rows[0]["status"] == "completed" and rows[0]["epochs"] == 3
    assert rows[1]["status"] == "completed" or rows[1]["status"].startswith("stopped early at epoch")
    failed = rows[2]
    assert failed["status"].startswith("failed: training diverged: loss is nan at epoch 1")
    assert failed["run"] is None and failed["best_valid_acc"] is None  # no checkpoint: train removed its run
    assert {p.name for p in (out / TRIALS_DIR).iterdir() if not p.is_symlink()} == {r["trial"] for r in rows[:2]}
    for r in rows[:2]:  # each trial is an ordinary run directory
        assert len(rundir.read_metrics(r["run"])) == r["epochs"] >= 1 and rundir.RunPaths(r["run"]).has_checkpoint()

    with open(out / CSV_FILE) as f:
        table = list(csv.DictReader(f))
    assert [row["trial"] for row in table] == [r["trial"] for r in rows]
    assert json.loads((out / JSON_FILE).read_text())["best"]["trial"] == rows[0]["trial"]
    assert f"1  {rows[0]['trial']}" in format_table(result)

    best = load_config(out / BEST_FILE)
    assert best.train.learning_rate == 0.01 and best.model.fc == [16]
    from signclf.train import train

    run = train(best, run_dir=tmp_path / "again", log=_quiet, progress=False)
    assert rundir.read_summary(run)["status"] == "completed"

    scores = committee(result, 2, log=_quiet)
    assert scores["runs"] == [rows[0]["run"], rows[1]["run"]] and 0.5 < scores["valid_acc"] <= 1


@needs_ray
def test_a_two_node_cluster_runs_trials_on_both_nodes(tiny_data, tmp_path):
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    worker = cluster.add_node(num_cpus=1, resources={"second_node": 1})
    try:
        space = {"train.learning_rate": {"grid": [0.01, 0.02]}}
        lines = []
        result = run_sweep(_spec(tiny_data, space, scheduler="none"), tmp_path / "sweep", address=cluster.address,
                           log=lines.append)
        assert lines[0] == f"joined the Ray cluster at {cluster.address}: 2 node(s), 2 CPUs"
        nodes = {r["node"] for r in result["trials"]}
        assert nodes == {cluster.head_node.node_id, worker.node_id}
        assert [r["status"] for r in result["trials"]] == ["completed", "completed"]
    finally:
        ray.shutdown()
        cluster.shutdown()


def test_a_cluster_token_is_sent_when_there_is_one_and_the_users_auth_mode_is_kept(tmp_path, monkeypatch):
    from signclf.sweep import use_cluster_token

    for name in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    use_cluster_token()
    assert "RAY_AUTH_MODE" not in os.environ  # no token anywhere: Ray's own default
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text("0" * 64)
    use_cluster_token()
    assert os.environ["RAY_AUTH_MODE"] == "token"
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    use_cluster_token()
    assert os.environ["RAY_AUTH_MODE"] == "disabled"
