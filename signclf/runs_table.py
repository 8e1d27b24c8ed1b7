"""`signclf runs`: one row per run under a folder, so that twenty runs compare at a glance.

Each row says how the run ended, its best validation accuracy and what it cost, and then the
values of the config keys that differ between the listed runs (configs flattened to dotted keys,
`model.conv.0.depth`, defaults filled in): the change that helped is in the same row as the gain.
No TensorFlow: everything comes from the run's files (summary.json, config.yaml, the lock).
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from signclf.errors import CheckpointError, ConfigError, SignclfError
from signclf.rundir import LATEST, RunPaths, is_run, read_summary, training_pid
from signclf.text import cut_end, cut_path, printable

STATUSES = ("completed", "running", "interrupted", "stopped", "failed")
_FINISHED = ("completed", "early stopping")  # summary.json statuses of a run that ran to its end

# --sort KEY → (row field, largest first?); a dotted config key sorts by that key's value.
SORT_KEYS = {"name": ("name", False), "status": ("status", False), "acc": ("best_valid_acc", True),
             "epoch": ("best_epoch", False), "time": ("wall_time_s", False), "speed": ("images_per_s", True),
             "params": ("parameters", False)}
FIELDS = ["name", "path", "status", "detail", "best_valid_acc", "best_epoch", "epochs_completed", "epochs",
          "wall_time_s", "images_per_s", "parameters"]
_VALUE_WIDTH = 24  # characters of a config value in the terminal table


def run_status(run_dir) -> tuple[str, str]:
    """(one of STATUSES, a sentence saying why) from the run's lock and its summary.json."""
    pid = training_pid(run_dir)
    if pid is not None:
        return "running", f"being trained by process {pid}"
    try:
        summary = read_summary(run_dir)
    except CheckpointError as e:
        return "failed", str(e)
    status = str(summary.get("status", ""))
    if status.startswith(_FINISHED):
        return "completed", status
    if status.startswith("interrupted"):
        return "interrupted", f"{status}; continue it with signclf train --resume {run_dir}"
    if status.startswith("failed"):
        why = f"after epoch {summary.get('epochs_completed', '?')}: {status[len('failed: '):]}"
        return "failed", why if "--resume" in why else f"{why}; signclf train --resume {run_dir} continues it"
    if not summary:
        return "stopped", "no summary.json: it stopped before its first epoch ended"
    # "running" in summary.json but nobody holds the lock: the process died without a word (killed, out of memory).
    return "stopped", (f"stopped after epoch {summary.get('epochs_completed', '?')} without recording why "
                       f"(killed or crashed); signclf train --resume {run_dir} continues it")


def find_runs(folder) -> list[Path]:
    """`folder` itself if it is a run, else the runs among its sub-folders and theirs (a cv folder's
    fold-* runs), sorted by path; the `latest` link and hidden folders are skipped."""
    folder = Path(folder)
    if is_run(folder):
        return [folder]
    found, seen = [], set()

    def visit(parent: Path, depth: int) -> None:
        for child in sorted(parent.iterdir()):
            if child.name == LATEST or child.name.startswith(".") or not child.is_dir():
                continue
            if is_run(child):
                if child.resolve() not in seen:
                    seen.add(child.resolve())
                    found.append(child)
            elif depth < 2:
                visit(child, depth + 1)

    visit(folder, 1)
    return found


def flatten(value, prefix: str = "") -> dict:
    """Nested dicts and lists → {"model.conv.0.depth": 32, ...}; other values are leaves."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list) and value:
        items = ((str(i), v) for i, v in enumerate(value))
    else:
        return {prefix: value}
    out = {}
    for key, child in items:
        out.update(flatten(child, f"{prefix}.{key}" if prefix else str(key)))
    return out


def _flat_config(run: Path) -> tuple[dict, str]:
    from signclf.config import config_to_dict, load_config

    try:
        return flatten(config_to_dict(load_config(RunPaths(run).config))), ""
    except (ConfigError, CheckpointError) as e:
        return {}, f"config.yaml unusable ({e})"


def read_row(run: Path, folder: Path) -> dict:
    """One run's row: FIELDS plus "config", its flattened config."""
    status, detail = run_status(run)
    try:
        summary = read_summary(run)
    except CheckpointError:
        summary = {}
    config, problem = _flat_config(run)
    name = str(run.relative_to(folder)) if run != folder and folder in run.parents else run.name
    number = lambda key: summary.get(key) if isinstance(summary.get(key), (int, float)) else None  # noqa: E731
    return {"name": name, "path": str(run), "status": status, "detail": "; ".join(filter(None, [detail, problem])),
            "best_valid_acc": number("best_valid_acc"), "best_epoch": number("best_epoch"),
            "epochs_completed": number("epochs_completed"), "epochs": config.get("train.epochs"),
            "wall_time_s": number("wall_time_s"), "images_per_s": number("train_images_per_s"),
            "parameters": number("parameters"), "config": config}


# The config's `name` labels a run without changing it (and would clash with the run's name column).
_NOT_COMPARED = {"name"}


def differing_keys(rows: list[dict]) -> list[str]:
    """Config keys whose values are not the same in every row (a key missing from a row differs)."""
    keys = sorted({key for row in rows for key in row["config"]} - _NOT_COMPARED)
    missing = object()
    return [key for key in keys if len({json.dumps(row["config"].get(key, missing), default=str)
                                        for row in rows}) > 1]


def sort_rows(rows: list[dict], key: str) -> list[dict]:
    """Rows ordered by a SORT_KEYS name or a dotted config key; rows without a value come last."""
    field, largest_first = SORT_KEYS.get(key, (None, False))
    if field is None and not any(key in row["config"] for row in rows):
        raise ConfigError(f"--sort {key}: not a column ({', '.join(SORT_KEYS)}) nor a config key of these runs "
                          f"(e.g. train.learning_rate)")
    value = (lambda row: row[field]) if field else (lambda row: row["config"].get(key))  # noqa: E731

    def order(row):
        v = value(row)
        if v is None:
            return (1, 0, "")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return (0, -v if largest_first else v, "")
        return (0, 0, json.dumps(v, default=str))

    return sorted(rows, key=order)


def collect(folder, sort: str = "name") -> tuple[list[dict], list[str]]:
    """The rows of every run under `folder`, sorted, and the config keys that differ between them."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SignclfError(f"{folder}: no such folder; train a run into it (signclf train --run {folder}/NAME) "
                           f"or name the folder that holds your runs")
    rows = [read_row(run, folder) for run in find_runs(folder)]
    if not rows:
        raise SignclfError(f"{folder}: no signclf runs in it or its sub-folders; train one with "
                           f"signclf train --run {folder}/NAME")
    return sort_rows(rows, sort), differing_keys(rows)


def to_json(rows: list[dict], keys: list[str], folder) -> str:
    runs = [{**{f: row[f] for f in FIELDS}, "config": {k: row["config"].get(k) for k in keys}} for row in rows]
    return json.dumps({"folder": str(folder), "differing_keys": keys, "runs": runs}, indent=2, default=str)


def _cell(value) -> str:
    """A config value as a short string (JSON for lists, "-" where the run has no such key)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return f"{value:g}" if isinstance(value, float) else str(value)


def to_csv(rows: list[dict], keys: list[str]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(FIELDS + keys)
    for row in rows:
        values = ["" if row[f] is None else row[f] for f in FIELDS]
        writer.writerow(values + [_cell(row["config"].get(k)) for k in keys])
    return buf.getvalue()


def _duration(seconds) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "-"
    minutes, s = divmod(int(round(seconds)), 60)
    hours, m = divmod(minutes, 60)
    return f"{hours}h{m:02d}m" if hours else f"{m}m{s:02d}s" if m else f"{s}s"


def format_table(rows: list[dict], keys: list[str], name_width: int = 40) -> str:
    """The terminal table: fixed columns, then one column per differing config key."""
    header = ["run", "status", "valid acc", "best", "epochs", "time", "img/s", "params"] + keys
    lines = []
    for row in rows:
        epochs = f"{row['epochs_completed'] or 0}/{row['epochs'] or '?'}"
        lines.append([cut_path(printable(row["name"]), name_width), row["status"],
                      "-" if row["best_valid_acc"] is None else f"{row['best_valid_acc']:.4f}",
                      str(row["best_epoch"] or "-"), epochs, _duration(row["wall_time_s"]),
                      "-" if row["images_per_s"] is None else f"{row['images_per_s']:,.0f}",
                      "-" if row["parameters"] is None else f"{row['parameters']:,}"]
                     + [cut_end(printable(_cell(row["config"].get(k))), _VALUE_WIDTH) for k in keys])
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    numeric = {2, 3, 4, 5, 6, 7}

    def join(cells):
        return "  ".join(c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join(join(line).rstrip() for line in [header] + lines)
