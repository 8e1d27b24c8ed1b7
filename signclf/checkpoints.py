"""Last and best checkpoints with tf.train.Saver, and restores that explain what went wrong.

Why a step number in every checkpoint's file name: a Saver writes the new files first and only
then (atomically) rewrites its `checkpoint` state file, then deletes the oldest. With distinct
names a crash or a full disk mid-save leaves the previous checkpoint, and the state file that
points to it, untouched.
"""

from __future__ import annotations

import errno
from pathlib import Path

import tensorflow.compat.v1 as tf

from signclf.errors import CheckpointError


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

    def __init__(self, run_dir, var_list):
        self.last_dir = Path(run_dir) / "checkpoints" / "last"
        self.best_dir = Path(run_dir) / "checkpoints" / "best"
        # max_to_keep=2 for last: the previous one stays until the new one is complete.
        self.last = tf.train.Saver(var_list, max_to_keep=2, save_relative_paths=True, name="last_saver")
        self.best = tf.train.Saver(var_list, max_to_keep=1, save_relative_paths=True, name="best_saver")

    def _save(self, saver, directory: Path, kind: str, sess, step: int) -> str:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            return saver.save(sess, str(directory / "model"), global_step=step, write_meta_graph=False)
        except (OSError, tf.errors.OpError) as e:
            raise _save_error(kind, directory, e) from None

    def save_last(self, sess, step: int) -> str:
        return self._save(self.last, self.last_dir, "last", sess, step)

    def save_best(self, sess, step: int) -> str:
        return self._save(self.best, self.best_dir, "best", sess, step)


def find_checkpoint(run_dir, which: str = "best") -> str:
    """Path prefix of the run's `best` (falling back to `last`) or `last` checkpoint."""
    order = ["best", "last"] if which == "best" else [which]
    for kind in order:
        directory = Path(run_dir) / "checkpoints" / kind
        prefix = tf.train.latest_checkpoint(str(directory)) if directory.is_dir() else None
        if prefix:
            return prefix
    raise CheckpointError(f"{run_dir}: no {' or '.join(order)} checkpoint in {Path(run_dir) / 'checkpoints'}; "
                          f"was the run trained for at least one epoch?")


def restore(sess, prefix: str, var_list, what: str = "", may_lack=()) -> None:
    """Restore var_list from prefix, first checking names and shapes so a mismatch is named.

    Variables named in `may_lack` keep their initial values when the checkpoint predates them."""
    try:
        stored = dict(tf.train.list_variables(prefix))
    except (tf.errors.OpError, ValueError) as e:
        raise CheckpointError(f"{prefix}: checkpoint is unreadable, truncated or corrupt "
                              f"({str(e).splitlines()[0]})") from None
    var_list = [v for v in var_list if v.op.name in stored or v.op.name not in may_lack]
    missing, mismatched = [], []
    for var in var_list:
        name = var.op.name
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
    except (tf.errors.OpError, ValueError) as e:
        raise CheckpointError(f"{prefix}: cannot restore checkpoint, it is truncated or corrupt "
                              f"({str(e).splitlines()[0][:200]})") from None
