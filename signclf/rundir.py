"""The run directory: everything a run leaves behind, written so that a crash never half-writes it.

    runs/<timestamp>-<name>/
        config.yaml  class_names.json  preprocess.json      (what evaluate/predict rebuild from)
        checkpoints/last/  checkpoints/best/                 (tf.train.Saver)
        metrics.csv  summary.json  evaluation.json  events.out.tfevents.*
    runs/latest -> the most recent run
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from pathlib import Path

from signclf.atomic import atomic_write_text
from signclf.errors import CheckpointError, SignclfError

DEFAULT_RUNS = Path("runs")


def read_json(path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing; is {Path(path).parent} a signclf run directory?")
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{path}: unreadable ({e})")


METRICS_FIELDS = ["epoch", "train_loss", "train_acc", "valid_loss", "valid_acc", "lr", "images_per_s", "epoch_s"]


def read_metrics(run_dir) -> list[dict]:
    path = Path(run_dir) / "metrics.csv"
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_metrics(run_dir, rows: list[dict]) -> None:
    """The whole table each epoch (a few KB): atomic, so an interrupted run never leaves half a row."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, METRICS_FIELDS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(Path(run_dir) / "metrics.csv", buf.getvalue())


def new_run_dir(name: str, run_dir=None, force: bool = False) -> Path:
    """Create the run directory: `runs/<timestamp>-<name>` unless given; never reuse one silently."""
    if run_dir is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run_dir = DEFAULT_RUNS / f"{stamp}-{name or 'run'}"
        suffix = 1
        while run_dir.exists():  # two runs started in the same second
            suffix += 1
            run_dir = DEFAULT_RUNS / f"{stamp}-{name or 'run'}-{suffix}"
    run_dir = Path(run_dir)
    if run_dir.exists() and any(run_dir.iterdir()):
        if not force:
            raise SignclfError(f"{run_dir}: run directory already exists and is not empty; "
                               f"use --resume {run_dir} to continue it, --force to overwrite, or another --run-dir")
        import shutil

        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def mark_latest(run_dir) -> None:
    """Point `<runs>/latest` at this run (a relative symlink, swapped atomically)."""
    run_dir = Path(run_dir).resolve()
    link = run_dir.parent / "latest"
    tmp = run_dir.parent / f".latest.{os.getpid()}"
    try:
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        tmp.symlink_to(run_dir.name)
        os.replace(tmp, link)
    except OSError:  # filesystems without symlinks: a text file naming the run
        atomic_write_text(link, str(run_dir) + "\n")


def resolve_run(run=None) -> Path:
    """The run to evaluate/predict with: the one given, else `runs/latest`."""
    if run is None:
        latest = DEFAULT_RUNS / "latest"
        if latest.is_symlink() or latest.is_dir():
            run = latest.resolve()
        elif latest.is_file():
            run = Path(latest.read_text().strip())
        else:
            raise CheckpointError(f"no run given and no {latest}; train one first (signclf train) or pass --run DIR")
    run = Path(run)
    if not run.is_dir():
        raise CheckpointError(f"{run}: no such run directory")
    if not (run / "config.yaml").is_file():
        raise CheckpointError(f"{run}: not a signclf run directory (no config.yaml)")
    return run


def load_run(run_dir):
    """(config, preprocessing stats, class names) of a finished or interrupted run."""
    from signclf.config import load_config

    run_dir = Path(run_dir)
    cfg = load_config(run_dir / "config.yaml")
    stats = read_json(run_dir / "preprocess.json")["stats"]
    class_names = read_json(run_dir / "class_names.json")
    return cfg, stats, class_names
