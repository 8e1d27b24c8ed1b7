"""`signclf train`: data → Trainer → an epoch at a time, with last/best checkpoints and a run directory
that is consistent after every epoch, interruption or crash.

The step itself and the state it carries live in trainer.py; this module adds what a run needs
around them: the run directory, resume, signals, progress bars, metrics and the summary.
"""

from __future__ import annotations

import dataclasses
import platform
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from signclf import rundir
from signclf.config import Config, architecture_diff, load_config, resolve_paths
from signclf.device import Device
from signclf.errors import SIGINT_EXIT, SIGTERM_EXIT, ConfigError, SignclfError
from signclf.progress import bar as progress_bar
from signclf.trainer import Diverged, Progress, Trainer


class TrainingStopped(SignclfError):
    """Interrupted (130/143) or diverged (1): the run directory is consistent and resumable."""


class _StopSignals:
    """Ctrl-C / SIGTERM set a flag; the loop finishes its step, saves, and exits 130 / 143."""

    def __init__(self):
        self.signum = None
        self._previous = {}

    def __enter__(self):
        import threading

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.signum is not None:  # a second Ctrl-C: the user really wants out now
            raise KeyboardInterrupt
        self.signum = signum
        print(f"\n{signal.Signals(signum).name} received: finishing this step and saving a checkpoint...",
              file=sys.stderr)

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _versions() -> dict:
    import tensorflow as tf2

    return {"python": platform.python_version(), "tensorflow": tf2.__version__, "numpy": np.__version__}


def _check_resumable(run: Path, cfg: Config, log) -> None:
    differ = architecture_diff(load_config(rundir.RunPaths(run).config), cfg)
    if differ:
        raise ConfigError(f"--resume {run}: the config differs from the run's in the architecture "
                          f"({', '.join(differ)}); start a new run or use train.finetune_from")
    log(f"resuming {run}")


@dataclass
class _Data:
    """The training and validation sets, loaded and prepared (uint8, the run's colour space), and
    what a teacher makes of the training images when distilling."""

    train: object
    valid: object
    train_x: np.ndarray
    valid_x: np.ndarray
    seconds: float
    teacher: np.ndarray | None = None  # train.teacher's probabilities for each training image


def _load_data(cfg: Config, log) -> _Data:
    from signclf.data.loading import load_train_valid
    from signclf.preprocess import prepare_images

    t0 = time.time()
    train_ds, valid_ds = load_train_valid(cfg, log)
    size = cfg.data.image_size
    data = _Data(train_ds, valid_ds, prepare_images(train_ds.images, cfg.preprocess, size),
                 prepare_images(valid_ds.images, cfg.preprocess, size), time.time() - t0)
    if cfg.train.teacher:
        from signclf.distill import teacher_targets

        data.teacher = teacher_targets(cfg, train_ds.images, train_ds.labels, train_ds.class_names, log)
    return data


def train(cfg: Config, run_dir=None, resume=None, force: bool = False, log=print, progress: bool = True,
          on_epoch=None) -> Path:
    """Train per `cfg`; returns the run directory. Raises SignclfError on user-facing problems.

    `on_epoch(row)`, if given, is called with each epoch's metrics.csv row once the epoch is saved;
    a non-empty string it returns stops training there, with that string as the run's status.

    A new run's folder is created (or, with `force`, an old run replaced) only once the data has
    loaded, so bad inputs change nothing on disk; a run that fails before its first checkpoint is
    removed again. The run is locked while it trains: a second writer is refused.
    """
    device = Device.for_training(cfg.train)
    # The resolved config is what the run saves: absolute data paths, so evaluate works from any
    # folder; the tower count actually used (auto depends on the machine), because it decides which
    # augmentation and dropout draws each image gets, so a resume elsewhere draws the same.
    cfg = resolve_paths(cfg, Path.cwd())
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, towers=device.towers))
    if resume is not None:
        with rundir.resumed_run(resume) as run:
            _check_resumable(run, cfg, log)
            return _train_into(run, cfg, device, _load_data(cfg, log), True, log, progress, on_epoch)
    data = _load_data(cfg, log)
    protect = [cfg.data.train, cfg.data.valid, cfg.data.test, cfg.data.class_names, cfg.train.finetune_from]
    with rundir.new_run(cfg.name, run_dir, force, protect) as run:
        return _train_into(run, cfg, device, data, False, log, progress, on_epoch)


def _train_into(run: Path, cfg: Config, device: Device, data: _Data, resumed: bool, log, progress: bool,
                on_epoch=None) -> Path:
    import tensorflow.compat.v1 as tf

    from signclf.augment import gtsrb_mirror_table
    from signclf.checkpoints import CheckpointSaver, find_checkpoint, restore
    from signclf.graph import TrainState, weights_to_restore
    from signclf.model import count_parameters
    from signclf.preprocess import compute_stats

    train_ds, valid_ds = data.train, data.valid
    if resumed:
        stats = rundir.read_stats(run, cfg)
    else:
        stats = compute_stats(data.train_x, cfg.preprocess)
        rundir.write_run_files(run, cfg, stats, train_ds.class_names, len(train_ds), len(valid_ds))
    log(f"data: {len(train_ds):,} train / {len(valid_ds):,} valid images, {train_ds.num_classes} classes "
        f"({data.seconds:.1f}s to load and preprocess)")

    def point_latest():  # only a run with a checkpoint becomes runs/latest
        warning = rundir.mark_latest(run)
        if warning:
            log(warning)

    mirror = gtsrb_mirror_table(train_ds.num_classes) if cfg.augment.mirror_prob > 0 else None
    with Trainer.start(cfg, stats, train_ds.num_classes, data.train_x, train_ds.labels, device, mirror,
                       data.teacher) as trainer:
        data.train_x = None  # the session holds its own copy
        graph = trainer.g.graph
        with graph.as_default():
            n_params = count_parameters()
            saver = CheckpointSaver(run, tf.global_variables(), on_first_save=point_latest)
        if resumed:
            restore(trainer.sess, find_checkpoint(run, "last"), graph.get_collection("variables"), "resume",
                    may_lack={f"train_state/{name}" for name in TrainState.OPTIONAL})
            rundir.write_config(run, cfg)  # only now: a resume that fails leaves the run's config as it was
        elif cfg.train.finetune_from:
            source = find_checkpoint(cfg.train.finetune_from, "best")
            if source.note:
                log(source.note)
            source_ema = rundir.read_run(cfg.train.finetune_from).cfg.train.ema_decay > 0
            restore(trainer.sess, source, weights_to_restore(graph, source_ema),
                    f"fine-tuning from {cfg.train.finetune_from}")
            log(f"initialised weights from {cfg.train.finetune_from}")
        log(f"model: {n_params:,} parameters; device: {device.describe()}; run: {run}")
        recorder = _Recorder(run, cfg, n_params, device, valid_n=len(valid_ds))
        try:
            return _run_epochs(trainer, saver, recorder, data.valid_x, valid_ds.labels, log, progress, on_epoch)
        except Exception as e:
            if not (isinstance(e, TrainingStopped) and e.exit_code in (SIGINT_EXIT, SIGTERM_EXIT)):
                _record_failure(trainer, recorder, e)
            raise
        finally:
            recorder.close()


class _Recorder:
    """What the epochs leave in the run directory besides checkpoints: metrics.csv, summary.json,
    TensorBoard scalars. A resumed run's wall time includes what its earlier sessions spent."""

    def __init__(self, run: Path, cfg: Config, n_params: int, device: Device, valid_n: int):
        import tensorflow.compat.v1 as tf

        self.run, self.cfg, self.n_params, self.device, self.valid_n = run, cfg, n_params, device, valid_n
        self.started = time.time() - rundir.read_summary(run).get("wall_time_s", 0.0)
        self.train_time, self.train_images = 0.0, 0
        self.metrics = rundir.read_metrics(run)
        self.versions = _versions()
        self.events = tf.summary.FileWriter(str(run))

    def keep_epochs_up_to(self, epoch: int) -> None:
        """On resume: forget rows of epochs the checkpoint had not reached."""
        self.metrics = [r for r in self.metrics if int(r["epoch"]) <= epoch]

    def exact_accuracy(self, acc: float) -> float:
        """The checkpoint keeps accuracy as float32; recover the exact fraction of the validation set,
        so every line and file states the same number."""
        return round(acc * self.valid_n) / self.valid_n

    def epoch(self, row: dict) -> None:
        import tensorflow.compat.v1 as tf

        self.metrics.append(row)
        rundir.write_metrics(self.run, self.metrics)
        self.events.add_summary(tf.Summary(value=[tf.Summary.Value(tag=k, simple_value=float(v))
                                                  for k, v in row.items() if k != "epoch" and v != ""]),
                                row["epoch"])
        self.events.flush()

    def summary(self, progress: Progress, status: str) -> dict:
        """summary.json: rewritten (atomically) every epoch, so it is current even after a crash."""
        summary = {
            "status": status,
            "best_epoch": progress.best_epoch,
            "best_valid_acc": None if self.cfg.train.final else round(self.exact_accuracy(progress.best_valid_acc), 6),
            "epochs_completed": len(self.metrics),
            "wall_time_s": round(time.time() - self.started, 2),
            "train_images_per_s": round(self.train_images / self.train_time, 1) if self.train_time > 0 else None,
            "parameters": self.n_params,
            "device": self.device.name,
            "config": self.cfg.name,
            **({"validation": "none: train.final trains on every labelled image for epochs chosen by "
                              "cross-validation (signclf cv)"} if self.cfg.train.final else {}),
            "versions": self.versions,
        }
        rundir.write_summary(self.run, summary)
        return summary

    def close(self) -> None:
        self.events.close()


def _progress_bar(first_step: int, trainer: Trainer, epoch: int, show: bool):
    return progress_bar(range(first_step, trainer.steps_per_epoch), show=show, unit="batch", dynamic_ncols=True,
                        desc=f"epoch {epoch + 1}/{trainer.cfg.train.epochs}")


def _run_epochs(trainer: Trainer, saver, recorder: _Recorder, valid_x, valid_y, log, show_progress: bool,
                on_epoch=None) -> Path:
    tc, run = trainer.cfg.train, recorder.run
    progress = trainer.read_progress()
    recorder.keep_epochs_up_to(progress.epoch)
    status = "completed"
    with _StopSignals() as signals:
        for epoch in range(progress.epoch, tc.epochs):
            t0, seen_before, lr = time.time(), progress.epoch_seen, tc.learning_rate
            bar = _progress_bar(progress.step_in_epoch, trainer, epoch, show_progress)
            try:
                for step in bar:
                    try:
                        loss, correct, n, lr = trainer.step(epoch, step, progress.lr_scale)
                    except Diverged as e:
                        lower = f"--set train.learning_rate={tc.learning_rate / 10:g}"
                        if not rundir.RunPaths(run).has_checkpoint():
                            raise TrainingStopped(f"{e}, before the first checkpoint, so {run} is removed; run the "
                                                  f"same signclf train command again with {lower}") from None
                        raise TrainingStopped(f"{e}; the last good checkpoint is kept in {saver.last_dir}. Lower "
                                              f"the learning rate and resume: signclf train --resume {run} "
                                              f"{lower}") from None
                    progress.add_step(loss, correct, n)
                    if step % 20 == 0:
                        bar.set_postfix(loss=f"{progress.train_loss:.3f}", acc=f"{progress.train_acc:.3f}",
                                        refresh=False)
                    if signals.signum is not None:
                        bar.close()
                        _save_interrupted(trainer, saver, recorder, progress, signals.signum)
            finally:
                bar.close()
            train_s = time.time() - t0
            images = progress.epoch_seen - seen_before  # images/s counts this session's steps only
            recorder.train_time, recorder.train_images = recorder.train_time + train_s, recorder.train_images + images

            if tc.final:  # nothing to validate on: the last epoch is the model
                valid_loss = valid_acc = None
                validated = "no validation (train.final)"
            else:
                valid_loss, valid_acc = trainer.evaluate(valid_x, valid_y)
                validated = f"valid loss {valid_loss:.4f} acc {valid_acc:.4f}"
            row = {"epoch": epoch + 1, "train_loss": f"{progress.train_loss:.5f}",
                   "train_acc": f"{progress.train_acc:.5f}",
                   "valid_loss": "" if tc.final else f"{valid_loss:.5f}",
                   "valid_acc": "" if tc.final else f"{valid_acc:.5f}", "lr": f"{lr:.6g}",
                   "images_per_s": f"{images / max(train_s, 1e-9):.0f}", "epoch_s": f"{time.time() - t0:.2f}"}
            progress = progress.end_epoch(tc, valid_acc)
            trainer.write_progress(progress)
            if progress.best_epoch == epoch + 1:
                saver.save_best(trainer.sess, trainer.global_step)
            saver.save_last(trainer.sess, trainer.global_step)
            recorder.epoch(row)
            best_mark = " *" if progress.best_epoch == epoch + 1 and not tc.final else ""
            log(f"epoch {epoch + 1:3d}/{tc.epochs}  train loss {float(row['train_loss']):.4f} "
                f"acc {float(row['train_acc']):.4f}  {validated}{best_mark}"
                f"  lr {lr:.2e}  {int(row['images_per_s']):,} img/s  {time.time() - t0:.1f}s")
            recorder.summary(progress, "running")
            stop = on_epoch(row) if on_epoch else None
            if stop:
                status = stop
                log(status)
                break
            if tc.early_stopping and progress.bad_epochs >= tc.early_stopping:
                status = f"early stopping: no better valid accuracy for {tc.early_stopping} epochs"
                log(status)
                break
    summary = recorder.summary(progress, status)
    if tc.final:
        log(f"final model after {summary['epochs_completed']} epochs on every labelled image; "
            f"{summary['wall_time_s']:.0f}s; run saved in {run}")
    else:
        log(f"best valid accuracy {summary['best_valid_acc']:.4f} at epoch {summary['best_epoch']}; "
            f"{summary['wall_time_s']:.0f}s; run saved in {run}")
    return run


def _record_failure(trainer: Trainer, recorder: _Recorder, error: Exception) -> None:
    """summary.json says why the run stopped, so `signclf runs` tells an error from a killed process.
    Best effort: the error itself is what the user must see, not a second one raised while saying it."""
    why = str(error).splitlines()[0] if str(error) else type(error).__name__
    try:
        recorder.summary(trainer.read_progress(), f"failed: {why}")
    except Exception:
        pass


def _save_interrupted(trainer: Trainer, saver, recorder: _Recorder, progress: Progress, signum: int):
    """Checkpoint mid-epoch (the running sums included) and stop with 130 (SIGINT) or 143 (SIGTERM)."""
    trainer.write_progress(progress)
    saver.save_last(trainer.sess, trainer.global_step)
    name = signal.Signals(signum).name
    recorder.summary(progress, f"interrupted by {name}")
    raise TrainingStopped(f"interrupted at epoch {progress.epoch + 1}, step {progress.step_in_epoch}: checkpoint "
                          f"saved in {saver.last_dir}. Resume with: signclf train --resume {recorder.run}",
                          SIGINT_EXIT if signum == signal.SIGINT else SIGTERM_EXIT)
