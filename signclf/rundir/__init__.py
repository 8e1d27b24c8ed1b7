"""The run directory: `layout` owns its file names and formats, `lifecycle` creates, locks and
points at runs. Import from here."""

from signclf.rundir.layout import (
    CHECKPOINT_KINDS,
    FORMAT,
    METRICS_FIELDS,
    RunInfo,
    RunPaths,
    read_class_names,
    read_format,
    read_json,
    read_metrics,
    read_run,
    read_stats,
    read_summary,
    record_evaluation,
    write_config,
    write_metrics,
    write_run_files,
    write_summary,
)
from signclf.rundir.lifecycle import (
    DEFAULT_RUNS,
    LATEST,
    RunBusy,
    RunLock,
    is_run,
    mark_latest,
    new_run,
    resolve_run,
    resumed_run,
    training_pid,
)

__all__ = [
    "CHECKPOINT_KINDS", "DEFAULT_RUNS", "FORMAT", "LATEST", "METRICS_FIELDS",
    "RunBusy", "RunInfo", "RunLock", "RunPaths",
    "is_run", "mark_latest", "new_run", "read_class_names", "read_format", "read_json",
    "read_metrics", "read_run", "read_stats", "read_summary", "record_evaluation", "resolve_run", "resumed_run",
    "training_pid", "write_config", "write_metrics", "write_run_files", "write_summary",
]
