"""Ctrl-C, SIGTERM and kill -9 during training: nothing lost beyond the current epoch, exact resume."""

import csv
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from conftest import make_dataset, tiny_overrides, write_pickle
from signclf.config import load_config
from signclf.train import train

tf.disable_eager_execution()
EPOCHS = 6


@pytest.fixture
def slow_data(tmp_path, tiny_data):
    """Enough steps per epoch (50) that a signal lands mid-epoch."""
    write_pickle(tiny_data / "train.p", *make_dataset(200, seed=1))
    return tiny_data


def overrides(data):
    return tiny_overrides(data, **{"train.epochs": EPOCHS, "augment.enabled": True, "model.keep_prob": 0.8,
                                   "train.lr_schedule": "cosine", "train.learning_rate": 0.003})


def start_training(run_dir, data):
    args = [sys.executable, "-m", "signclf", "train", "--run-dir", str(run_dir), "--no-progress"]
    for o in overrides(data):
        args += ["--set", o]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_epochs(run_dir, n, proc, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        path = run_dir / "metrics.csv"
        if path.exists() and path.read_text().count("\n") > n:
            return
        if proc.poll() is not None:
            pytest.fail(f"training ended early: {proc.communicate()}")
        time.sleep(0.02)
    pytest.fail("training made no progress")


def weights(run_dir):
    prefix = tf.train.latest_checkpoint(str(run_dir / "checkpoints" / "last"))
    reader = tf.train.load_checkpoint(prefix)
    return {n: reader.get_tensor(n) for n, _ in tf.train.list_variables(prefix) if n.startswith("model/")}


def resume(run_dir):
    return subprocess.run([sys.executable, "-m", "signclf", "train", "--resume", str(run_dir), "--no-progress"],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_saves_and_resume_matches_an_uninterrupted_run(tmp_path, slow_data, sig, code):
    run = tmp_path / "interrupted"
    proc = start_training(run, slow_data)
    wait_for_epochs(run, 1, proc)
    time.sleep(0.15)  # land somewhere inside epoch 2
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert f"Resume with: signclf train --resume {run}" in err and "Traceback" not in err
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    assert len(rows) < EPOCHS
    assert "interrupted by" in (run / "summary.json").read_text()

    done = resume(run)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == list(range(1, EPOCHS + 1))

    straight = train(load_config(None, overrides(slow_data)), run_dir=tmp_path / "straight",
                     log=lambda *a: None, progress=False)
    a, b = weights(straight), weights(run)
    for name in a:
        np.testing.assert_allclose(a[name], b[name], atol=1e-5, err_msg=name)
    # The interrupted epoch's row covers all its steps, from both sessions, as the uninterrupted run's does.
    for want, got in zip(csv.DictReader(open(straight / "metrics.csv")), rows):
        for key in ("train_loss", "train_acc", "valid_acc"):
            assert float(got[key]) == pytest.approx(float(want[key]), abs=1e-4), (want["epoch"], key)


def test_kill_9_leaves_a_resumable_run(tmp_path, slow_data):
    run = tmp_path / "killed"
    proc = start_training(run, slow_data)
    wait_for_epochs(run, 2, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    for name in ("metrics.csv", "summary.json", "config.yaml"):  # complete files, never half-written
        text = (run / name).read_text()
        assert text.endswith("\n"), name
    # A kill can land mid-save and leave a temp file (never a half-written real file); resume clears them.
    (run / ".metrics.csv.stale.tmp").write_text("half")
    done = resume(run)
    assert done.returncode == 0, done.stderr
    assert not list(run.glob(".*.tmp"))
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == list(range(1, EPOCHS + 1))
