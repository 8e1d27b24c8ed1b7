"""Every file of a run directory: its name, its format, and the only code that reads or writes it.

    runs/<timestamp>-<name>/
        run.json                 {"format": 2}: written first; what tells a run from any other folder
        config.yaml  class_names.json  preprocess.json      (what evaluate/predict rebuild from)
        checkpoints/last/  checkpoints/best/                 (tf.train.Saver, see signclf.checkpoints)
        metrics.csv  summary.json  evaluation.json  confusion-<key>.csv/.png  events.out.tfevents.*
        robustness.json          accuracy on corrupted copies (evaluate --corruptions)
        report.html  report/     the run's page and its pictures (signclf report)
        .lock                    held by the one process training the run
    runs/latest -> the most recent run that saved a checkpoint

Format 1 is the same layout without run.json; readers accept it. A reader refuses a format newer
than FORMAT instead of guessing at files it does not know.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

from signclf.atomic import atomic_write_json, atomic_write_text
from signclf.config import Config, config_to_yaml, load_config
from signclf.errors import CheckpointError

FORMAT = 2
CHECKPOINT_KINDS = ("last", "best")
METRICS_FIELDS = ["epoch", "train_loss", "train_acc", "valid_loss", "valid_acc", "lr", "images_per_s", "epoch_s"]


@dataclass(frozen=True)
class RunPaths:
    """Where each file of the run at `root` lives."""

    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    @property
    def run_file(self) -> Path:
        return self.root / "run.json"

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def class_names(self) -> Path:
        return self.root / "class_names.json"

    @property
    def preprocess(self) -> Path:
        return self.root / "preprocess.json"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.csv"

    @property
    def summary(self) -> Path:
        return self.root / "summary.json"

    @property
    def trainer_files(self) -> list[Path]:
        """The files training writes (evaluate writes the others, and may be writing them now)."""
        return [self.run_file, self.config, self.class_names, self.preprocess, self.metrics, self.summary]

    @property
    def evaluation(self) -> Path:
        return self.root / "evaluation.json"

    @property
    def robustness(self) -> Path:
        """`evaluate --corruptions` results (signclf.corruptions), read by `signclf report`."""
        return self.root / "robustness.json"

    @property
    def robustness_committee(self) -> Path:
        """The same for a committee led by this run (its own robustness.json stays its own)."""
        return self.root / "robustness-committee.json"

    @property
    def report(self) -> Path:
        return self.root / "report.html"

    @property
    def report_assets(self) -> Path:
        """The report's pictures as PNG files, beside the page that embeds them."""
        return self.root / "report"

    @property
    def lock(self) -> Path:
        return self.root / ".lock"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    def checkpoint_dir(self, kind: str) -> Path:
        if kind not in CHECKPOINT_KINDS:
            raise ValueError(f"checkpoint kind must be one of {CHECKPOINT_KINDS}, not {kind!r}")
        return self.checkpoints / kind

    def checkpoint_state(self, kind: str) -> Path:
        """tf.train.Saver's state file: which checkpoint of the folder is current."""
        return self.checkpoint_dir(kind) / "checkpoint"

    def confusion_csv(self, key: str) -> Path:
        return self.root / f"confusion-{key}.csv"

    def confusion_png(self, key: str) -> Path:
        return self.root / f"confusion-{key}.png"

    def is_known(self, entry: Path) -> bool:
        """Whether `entry` (a child of root) is a file signclf writes into a run."""
        name = entry.name
        fixed = {p.name for p in (self.run_file, self.config, self.class_names, self.preprocess, self.metrics,
                                  self.summary, self.evaluation, self.lock, self.checkpoints,
                                  self.robustness, self.robustness_committee, self.report,
                                  self.report_assets)}
        return (name in fixed or name.startswith(("confusion-", "events.out.tfevents."))
                or (name.startswith(".") and name.endswith(".tmp")))

    def has_checkpoint(self) -> bool:
        """A Saver's state file exists: at least one checkpoint was completely written."""
        return any(self.checkpoint_state(kind).is_file() for kind in CHECKPOINT_KINDS)


@dataclass(frozen=True)
class RunInfo:
    """What evaluate, predict and resume rebuild a run from."""

    paths: RunPaths
    cfg: Config
    stats: dict
    class_names: list
    format: int


def read_json(path):
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing; is {path.parent} a signclf run directory?") from None
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{path}: unreadable ({e})") from None


def read_format(run_dir) -> int:
    path = RunPaths(run_dir).run_file
    if not path.exists():
        return 1
    record = read_json(path)
    fmt = record.get("format") if isinstance(record, dict) else None
    if not isinstance(fmt, int) or isinstance(fmt, bool) or fmt < 1:
        raise CheckpointError(f"{path}: no valid \"format\" number; is {path.parent} a signclf run directory?")
    if fmt > FORMAT:
        raise CheckpointError(f"{path}: run format {fmt} is newer than this signclf reads ({FORMAT}); "
                              f"update signclf (git pull, then pip install -e . in its checkout) to use this run")
    return fmt


def write_config(run_dir, cfg) -> Path:
    """config.yaml (a resume rewrites it: epochs and other keys outside the architecture may change)."""
    return atomic_write_text(RunPaths(run_dir).config, config_to_yaml(cfg))


def write_run_files(run_dir, cfg, stats: dict, class_names, train_n: int, valid_n: int) -> RunPaths:
    """run.json first (it marks the folder as a run), then what evaluate/predict rebuild from."""
    paths = RunPaths(run_dir)
    atomic_write_json(paths.run_file, {"format": FORMAT})
    write_config(paths.root, cfg)
    atomic_write_json(paths.class_names, list(class_names))
    atomic_write_json(paths.preprocess, {"color": cfg.preprocess.color, "equalize": cfg.preprocess.equalize,
                                         "extra": list(cfg.preprocess.extra),
                                         "image_size": cfg.data.image_size, "stats": stats,
                                         "computed_on": f"{train_n} training images", "valid_images": valid_n})
    return paths


def read_stats(run_dir, cfg) -> dict:
    """preprocess.json's stats, checked: they must be the ones computed for cfg's preprocessing."""
    path = RunPaths(run_dir).preprocess
    saved = read_json(path)
    if not isinstance(saved, dict):
        raise CheckpointError(f"{path}: not a preprocessing record (expected a JSON object)")
    expected = {"color": cfg.preprocess.color, "equalize": cfg.preprocess.equalize, "image_size": cfg.data.image_size,
                "extra": list(cfg.preprocess.extra)}
    for key, want in expected.items():
        if key in saved and saved[key] != want:
            raise CheckpointError(f"{path}: stats were computed with {key}={saved[key]!r} but config.yaml says "
                                  f"{want!r}; restore the run's config.yaml or train a new run")
    stats = saved.get("stats")
    channels = cfg.input_channels
    if not isinstance(stats, dict):
        raise CheckpointError(f"{path}: no \"stats\" object; the run is damaged, train a new one")
    for key in ("mean", "std"):
        values = stats.get(key)
        if not (isinstance(values, list) and len(values) == channels
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                        for v in values)):
            raise CheckpointError(f"{path}: stats.{key} must be {channels} finite number(s) for "
                                  f"color={cfg.preprocess.color!r}, found {str(values)[:80]}; "
                                  f"the run is damaged, train a new one")
    if any(v <= 0 for v in stats["std"]):
        raise CheckpointError(f"{path}: stats.std must be positive, found {stats['std']}; "
                              f"the run is damaged, train a new one")
    return {"mean": [float(v) for v in stats["mean"]], "std": [float(v) for v in stats["std"]]}


def read_class_names(run_dir) -> list[str]:
    path = RunPaths(run_dir).class_names
    names = read_json(path)
    if not (isinstance(names, list) and names and all(isinstance(n, str) for n in names)):
        raise CheckpointError(f"{path}: expected a non-empty JSON list of class names")
    return names


def read_run(run_dir) -> RunInfo:
    """The run's config, preprocessing stats and class names, each checked against the others."""
    paths = RunPaths(run_dir)
    fmt = read_format(paths.root)
    cfg = load_config(paths.config)
    return RunInfo(paths, cfg, read_stats(paths.root, cfg), read_class_names(paths.root), fmt)


def read_metrics(run_dir) -> list[dict]:
    path = RunPaths(run_dir).metrics
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
    atomic_write_text(RunPaths(run_dir).metrics, buf.getvalue())


def read_summary(run_dir) -> dict:
    """summary.json, or {} before the first epoch wrote one."""
    path = RunPaths(run_dir).summary
    summary = read_json(path) if path.exists() else {}
    return summary if isinstance(summary, dict) else {}


def write_summary(run_dir, summary: dict) -> Path:
    return atomic_write_json(RunPaths(run_dir).summary, summary)


def record_evaluation(run_dir, key: str, results: dict, confusion_csv: str) -> list[Path]:
    """Add `key`'s entry to evaluation.json (one entry per evaluated dataset) and write its confusion
    CSV. Returns [evaluation.json, the CSV, the PNG path the caller draws the matrix into]."""
    paths = RunPaths(run_dir)
    try:
        existing = read_json(paths.evaluation) if paths.evaluation.exists() else {}
    except CheckpointError:  # a damaged file only held earlier results: replace it, never fail on it
        existing = {}
    if not isinstance(existing, dict):
        existing = {}
    existing[key] = results
    atomic_write_json(paths.evaluation, existing)
    atomic_write_text(paths.confusion_csv(key), confusion_csv)
    return [paths.evaluation, paths.confusion_csv(key), paths.confusion_png(key)]
