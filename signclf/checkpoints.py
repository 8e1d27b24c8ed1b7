"""Last and best checkpoints with tf.train.Saver, and restores that explain what went wrong.

Why a step number in every checkpoint's file name: a Saver writes the new files first and only
then (atomically) rewrites its `checkpoint` state file, then deletes the oldest. With distinct
names a crash or a full disk mid-save leaves the previous checkpoint, and the state file that
points to it, untouched.

A restore only ever reads files inside the run's own checkpoints/<kind> folder: the state file is
plain text anyone can edit, and a checkpoint is loaded into a process with the user's rights.
"""

from __future__ import annotations

import errno
import re
from pathlib import Path
from typing import Callable

import tensorflow.compat.v1 as tf

from signclf.errors import CheckpointError
from signclf.rundir import RunPaths

# Lines of a TensorFlow error that only say where it happened (the first is often just
# "Graph execution error:"); what is wrong with the file is on another line.
_WHERE_LINES = ("Graph execution error", "Detected at node", "Node:", "File ", "[[")


def _save_error(kind: str, directory: Path, err: Exception) -> CheckpointError:
    text = str(getattr(err, "message", None) or err)
    if isinstance(err, OSError) and err.errno == errno.ENOSPC or "No space left" in text:
        reason = "no space left on device"
    else:
        reason = text.splitlines()[0] if text else type(err).__name__
    return CheckpointError(f"could not save the {kind} checkpoint in {directory}: {reason}; "
                           f"the previous checkpoint there is intact. Free space and resume the run.")


class CheckpointSaver:
    """`checkpoints/last` every epoch (and on interruption), `checkpoints/best` on a new best."""

    def __init__(self, run_dir, var_list, on_first_save: Callable[[], None] | None = None):
        """`on_first_save` runs once, after the first checkpoint this saver completes (where
        train points runs/latest: a run that never saved one is not worth pointing at)."""
        paths = RunPaths(run_dir)
        self.last_dir = paths.checkpoint_dir("last")
        self.best_dir = paths.checkpoint_dir("best")
        self._on_first_save = on_first_save
        # max_to_keep=2 for last: the previous one stays until the new one is complete.
        self.last = tf.train.Saver(var_list, max_to_keep=2, save_relative_paths=True, name="last_saver")
        self.best = tf.train.Saver(var_list, max_to_keep=1, save_relative_paths=True, name="best_saver")

    def _save(self, saver, directory: Path, kind: str, sess, step: int) -> str:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            prefix = saver.save(sess, str(directory / "model"), global_step=step, write_meta_graph=False)
        except (OSError, tf.errors.OpError) as e:
            raise _save_error(kind, directory, e) from None
        if self._on_first_save is not None:
            first, self._on_first_save = self._on_first_save, None
            first()
        return prefix

    def save_last(self, sess, step: int) -> str:
        return self._save(self.last, self.last_dir, "last", sess, step)

    def save_best(self, sess, step: int) -> str:
        return self._save(self.best, self.best_dir, "best", sess, step)


class CheckpointPath(str):
    """A checkpoint's path prefix (usable wherever a str is), with the kind found (`last`/`best`)
    and, when it is not the kind asked for, a one-line `note` saying so for the caller to show."""

    kind: str
    note: str | None

    def __new__(cls, prefix: str, kind: str, note: str | None = None):
        path = super().__new__(cls, prefix)
        path.kind, path.note = kind, note
        return path


def _usable_prefix(paths: RunPaths, kind: str) -> tuple[str | None, str]:
    """(prefix, "") of the checkpoint the folder's state file names, or (None, why there is none).
    Raises CheckpointError when the state file names a file outside the folder."""
    directory, state_file = paths.checkpoint_dir(kind), paths.checkpoint_state(kind)
    if not directory.is_dir():
        return None, f"{directory} does not exist"
    if not state_file.is_file():
        return None, f"{directory} holds no complete checkpoint (no state file)"
    # TensorFlow joins a relative name in the state file to the folder it is given: give it an absolute one.
    state = tf.train.get_checkpoint_state(str(directory.resolve()), latest_filename=state_file.name)
    if state is None or not state.model_checkpoint_path:
        return None, f"{state_file} is unreadable"
    named = Path(state.model_checkpoint_path)
    if named.resolve().parent != directory.resolve():
        raise CheckpointError(f"{state_file}: names {state.model_checkpoint_path}, outside {directory}; a run "
                              f"restores only its own checkpoints. Train a new run (signclf train)")
    prefix = directory / named.name
    if not Path(f"{prefix}.index").is_file():
        return None, f"{prefix.name}.index is missing from {directory}"
    return str(prefix), ""


def find_checkpoint(run_dir, which: str = "best") -> CheckpointPath:
    """The run's `best` checkpoint (falling back to `last`, with a note saying why) or its `last`."""
    paths = RunPaths(run_dir)
    order = ["best", "last"] if which == "best" else [which]
    reasons = []
    for kind in order:
        prefix, why = _usable_prefix(paths, kind)
        if prefix:
            note = None
            if kind != which:
                note = f"no usable {which} checkpoint ({reasons[0]}); used the {kind} one, {prefix}"
            return CheckpointPath(prefix, kind, note)
        reasons.append(why)
    raise CheckpointError(f"{run_dir}: no {' or '.join(order)} checkpoint in {paths.checkpoints} "
                          f"({reasons[0]}); was the run trained for at least one epoch?")


def _tf_reason(err: Exception) -> str:
    """The line of a TensorFlow error that says what is wrong (not where, nor the stack trace)."""
    text = str(getattr(err, "message", None) or err).split("Original stack trace")[0]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    said = [line for line in lines if not line.startswith(_WHERE_LINES)] or lines
    return (said[0] if said else type(err).__name__)[:200]


def _data_file(prefix: str, reason: str) -> str:
    """The data file a TensorFlow error is about (its shard number is in the message)."""
    shard = re.search(r"shard (\d+)", reason)
    pattern = f"{Path(prefix).name}.data-{int(shard.group(1)):05d}-of-*" if shard else f"{Path(prefix).name}.data-*"
    found = sorted(Path(prefix).parent.glob(pattern))
    return str(found[0]) if found else f"{prefix}.data-*"


def restore(sess, prefix: str, var_list, what: str = "", may_lack=()) -> None:
    """Restore var_list from prefix, first checking names and shapes so a mismatch is named.

    `var_list` is a list of variables stored under their own names, or a dict stored name → variable.
    Variables named in `may_lack` keep their initial values when the checkpoint predates them."""
    try:
        stored = dict(tf.train.list_variables(prefix))
    except (tf.errors.OpError, ValueError) as e:
        raise CheckpointError(f"{prefix}: checkpoint is unreadable, truncated or corrupt ({_tf_reason(e)})") from None
    named = var_list if isinstance(var_list, dict) else {v.op.name: v for v in var_list}
    var_list = {name: v for name, v in named.items() if name in stored or name not in may_lack}
    missing, mismatched = [], []
    for name, var in var_list.items():
        if name not in stored:
            missing.append(name)
        elif list(stored[name]) != var.shape.as_list():
            mismatched.append(f"{name} {list(stored[name])} in checkpoint vs {var.shape.as_list()} in this model")
    about = f" for {what}" if what else ""
    if mismatched:
        raise CheckpointError(f"{prefix}: checkpoint is from another architecture{about}: "
                              f"{'; '.join(mismatched[:3])}{' ...' if len(mismatched) > 3 else ''}")
    if missing:
        raise CheckpointError(f"{prefix}: checkpoint lacks {len(missing)} variable(s){about} "
                              f"(e.g. {', '.join(missing[:3])}); it is from another architecture")
    try:
        tf.train.Saver(var_list).restore(sess, prefix)
    except (tf.errors.DataLossError, tf.errors.OutOfRangeError) as e:
        reason = _tf_reason(e)
        raise CheckpointError(f"{_data_file(prefix, reason)}: checkpoint data is truncated or corrupt ({reason}); "
                              f"train a new run (signclf train)") from None
    except (tf.errors.OpError, ValueError) as e:
        raise CheckpointError(f"{prefix}: cannot restore checkpoint, it is truncated or corrupt "
                              f"({_tf_reason(e)})") from None
