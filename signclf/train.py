"""The training loop: data → graph → Session, an epoch at a time, with last/best checkpoints.

Reproducibility is designed in: the epoch's shuffle is a function of (seed, epoch), augmentation
and dropout are stateless functions of (seed, global step), and every counter lives in the
checkpoint. So `--resume` after an interruption continues with exactly the batches, transforms and
learning rate the uninterrupted run would have used.
"""

from __future__ import annotations

import dataclasses
import math
import platform
import random
import signal
import sys
import time
from pathlib import Path

import numpy as np

from signclf import rundir
from signclf.atomic import atomic_write_json, atomic_write_text, remove_stale_temps
from signclf.config import Config, architecture_diff, config_to_yaml, load_config
from signclf.errors import ConfigError, SignclfError


class TrainingStopped(SignclfError):
    """Interrupted (130/143) or diverged (1): the run directory is consistent and resumable."""


def learning_rate(tc, epoch_progress: float, lr_scale: float) -> float:
    """The schedule as a pure function of (fractional) epoch; plateau decay enters via lr_scale."""
    base, e = tc.learning_rate, epoch_progress
    if tc.lr_schedule == "exponential":
        lr = base * tc.lr_decay ** e
    elif tc.lr_schedule == "step":
        lr = base * tc.lr_decay ** (int(e) // tc.lr_step_epochs)
    elif tc.lr_schedule == "cosine":
        lr = tc.lr_min + (base - tc.lr_min) * 0.5 * (1 + math.cos(math.pi * min(e / tc.epochs, 1.0)))
    elif tc.lr_schedule == "plateau":
        lr = max(base * lr_scale, tc.lr_min)
    else:
        lr = base
    if tc.warmup_epochs > 0 and e < tc.warmup_epochs:
        lr *= max(e / tc.warmup_epochs, 1e-3)
    return lr


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """Shuffle by index permutation, a function of (seed, epoch) only."""
    return np.random.default_rng([seed, epoch]).permutation(n).astype(np.int32)


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


def _seed_everything(seed: int) -> None:
    import tensorflow.compat.v1 as tf

    random.seed(seed)
    np.random.seed(seed % 2**32)
    tf.set_random_seed(seed)


def _versions() -> dict:
    import tensorflow as tf2

    return {"python": platform.python_version(), "tensorflow": tf2.__version__, "numpy": np.__version__}


def _prepare_run(cfg: Config, run_dir, resume, force, log):
    """Resolve the config and run directory for a new or resumed run."""
    if resume is None:
        return cfg, rundir.new_run_dir(cfg.name, run_dir, force)
    run = Path(resume)
    if not (run / "config.yaml").is_file():
        raise SignclfError(f"{run}: not a signclf run directory (no config.yaml); nothing to resume")
    saved = load_config(run / "config.yaml")
    differ = architecture_diff(saved, cfg)
    if differ:
        raise ConfigError(f"--resume {run}: the config differs from the run's in the architecture "
                          f"({', '.join(differ)}); start a new run or use train.finetune_from")
    log(f"resuming {run}")
    remove_stale_temps(run)  # a kill -9 during a save leaves one; the file it was replacing is intact
    return cfg, run


def _write_run_files(run: Path, cfg: Config, stats: dict, class_names, train_n: int, valid_n: int) -> None:
    atomic_write_text(run / "config.yaml", config_to_yaml(cfg))
    atomic_write_json(run / "class_names.json", list(class_names))
    atomic_write_json(run / "preprocess.json", {"color": cfg.preprocess.color,
                                                       "equalize": cfg.preprocess.equalize,
                                                       "image_size": cfg.data.image_size, "stats": stats,
                                                       "computed_on": f"{train_n} training images",
                                                       "valid_images": valid_n})


def _evaluate(sess, g, images, labels, batch_size):
    loss_sum, correct = 0.0, 0
    for start in range(0, len(images), batch_size):
        batch_loss, batch_correct = sess.run([g.eval_loss_sum, g.eval_correct],
                                             {g.eval_images: images[start:start + batch_size],
                                              g.eval_labels: labels[start:start + batch_size]})
        loss_sum, correct = loss_sum + batch_loss, correct + batch_correct
    return loss_sum / len(images), correct / len(images)


def train(cfg: Config, run_dir=None, resume=None, force: bool = False, log=print, progress: bool = True) -> Path:
    """Train per `cfg`; returns the run directory. Raises SignclfError on user-facing problems."""
    import tensorflow.compat.v1 as tf
    from tqdm import tqdm

    from signclf.augment import gtsrb_mirror_table
    from signclf.checkpoints import CheckpointSaver, find_checkpoint, restore
    from signclf.data.loading import load_train_valid
    from signclf.graph import build_train_graph, describe_device, model_variables, session_config, tower_count
    from signclf.model import count_parameters
    from signclf.preprocess import compute_stats, prepare_images

    tf.disable_eager_execution()
    cfg, run = _prepare_run(cfg, run_dir, resume, force, log)
    # Save the tower count actually used (auto depends on the machine): it decides which
    # augmentation and dropout draws each image gets, so a resume elsewhere must use the same.
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, towers=tower_count(cfg)))
    tc = cfg.train
    _seed_everything(tc.seed)

    t_load = time.time()
    train_ds, valid_ds = load_train_valid(cfg, log)
    size = cfg.data.image_size
    train_x = prepare_images(train_ds.images, cfg.preprocess, size)
    valid_x = prepare_images(valid_ds.images, cfg.preprocess, size)
    stats = rundir.read_json(run / "preprocess.json")["stats"] if resume else compute_stats(train_x, cfg.preprocess)
    _write_run_files(run, cfg, stats, train_ds.class_names, len(train_ds), len(valid_ds))
    rundir.mark_latest(run)
    log(f"data: {len(train_ds)} train / {len(valid_ds)} valid images, {train_ds.num_classes} classes "
        f"({time.time() - t_load:.1f}s to load and preprocess)")

    mirror = gtsrb_mirror_table(train_ds.num_classes) if cfg.augment.mirror_prob > 0 else None
    g = build_train_graph(cfg, stats, train_ds.num_classes, train_x.shape, mirror)
    with g.graph.as_default():
        n_params = count_parameters()
        saver = CheckpointSaver(run, tf.global_variables())
        writer = tf.summary.FileWriter(str(run))
    towers = f" × {tc.towers} towers" if tc.towers > 1 else ""
    log(f"model: {n_params:,} parameters; device: {describe_device()}{towers}; run: {run}")

    sess = tf.Session(graph=g.graph, config=session_config(cfg))
    try:
        with g.graph.as_default():
            sess.run([tf.global_variables_initializer()])
        sess.run(g.data_init, {g.images_source: train_x, g.labels_source: train_ds.labels})
        del train_x  # the session holds its own copy
        if resume:
            restore(sess, find_checkpoint(run, "last"), g.graph.get_collection("variables"), "resume",
                    may_lack={f"train_state/{name}" for name in g.state.ADDED_LATER})
        elif tc.finetune_from:
            restore(sess, find_checkpoint(tc.finetune_from, "best"), model_variables(g.graph),
                    f"fine-tuning from {tc.finetune_from}")
            log(f"initialised weights from {tc.finetune_from}")
        return _loop(sess, g, cfg, run, saver, writer, train_ds, valid_ds, valid_x, n_params, log, progress, tqdm)
    finally:
        writer.close()
        sess.close()


def _loop(sess, g, cfg, run, saver, writer, train_ds, valid_ds, valid_x, n_params, log, progress, tqdm):
    import tensorflow.compat.v1 as tf

    tc = cfg.train
    n = len(train_ds)
    steps_per_epoch = math.ceil(n / tc.batch_size)
    state = g.state.read(sess)
    metrics = [r for r in rundir.read_metrics(run) if int(r["epoch"]) <= state["epoch"]]
    # A resumed run's wall time includes what the earlier sessions spent.
    summary_path = run / "summary.json"
    prior_wall = rundir.read_json(summary_path).get("wall_time_s", 0.0) if summary_path.exists() else 0.0
    started, train_time, train_images = time.time() - prior_wall, 0.0, 0
    stopped = "completed"
    with _StopSignals() as signals:
        for epoch in range(state["epoch"], tc.epochs):
            order = epoch_order(tc.seed, epoch, n)
            first_step = state["step_in_epoch"] if epoch == state["epoch"] else 0
            loss_sum, correct, seen, lr = 0.0, 0, 0, tc.learning_rate
            if first_step:  # resuming mid-epoch: carry on the interrupted epoch's running sums
                loss_sum, correct, seen = state["epoch_loss_sum"], state["epoch_correct"], state["epoch_seen"]
            seen_before = seen  # images/s counts this session's steps only
            t0 = time.time()
            bar = tqdm(range(first_step, steps_per_epoch), desc=f"epoch {epoch + 1}/{tc.epochs}", leave=False,
                       disable=not progress, unit="batch", dynamic_ncols=True)
            for step in bar:
                idx = order[step * tc.batch_size:(step + 1) * tc.batch_size]
                lr = learning_rate(tc, epoch + step / steps_per_epoch, state["lr_scale"])
                _, loss, batch_correct = sess.run([g.train_op, g.loss, g.correct],
                                                  {g.batch_index: idx, g.learning_rate: lr})
                if not np.isfinite(loss):
                    bar.close()
                    raise TrainingStopped(
                        f"training diverged: loss is {loss} at epoch {epoch + 1}, step {step + 1}; the last good "
                        f"checkpoint is kept in {saver.last_dir}. Lower train.learning_rate and resume: "
                        f"signclf train --resume {run} --set train.learning_rate={tc.learning_rate / 10:g}")
                loss_sum, correct, seen = loss_sum + loss * len(idx), correct + batch_correct, seen + len(idx)
                if progress and step % 20 == 0:
                    bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}", refresh=False)
                if signals.signum is not None:
                    bar.close()
                    g.state.write(sess, epoch=epoch, step_in_epoch=step + 1, epoch_loss_sum=loss_sum,
                                  epoch_correct=correct, epoch_seen=seen)
                    saver.save_last(sess, int(sess.run(g.state.global_step)))
                    code = 130 if signals.signum == signal.SIGINT else 143
                    _write_summary(run, cfg, metrics, state, time.time() - started, train_images, train_time,
                                   n_params, f"interrupted by {signal.Signals(signals.signum).name}")
                    raise TrainingStopped(f"interrupted at epoch {epoch + 1}, step {step + 1}: checkpoint saved in "
                                          f"{saver.last_dir}. Resume with: signclf train --resume {run}", code)
            bar.close()
            epoch_train_time = time.time() - t0
            train_time, train_images = train_time + epoch_train_time, train_images + seen - seen_before

            valid_loss, valid_acc = _evaluate(sess, g, valid_x, valid_ds.labels, tc.eval_batch_size)
            state = _end_of_epoch_state(state, tc, epoch, valid_acc)
            g.state.write(sess, **{k: state[k] for k in state if k != "global_step"})
            step_no = int(sess.run(g.state.global_step))
            if state["best_epoch"] == epoch + 1:
                saver.save_best(sess, step_no)
            saver.save_last(sess, step_no)

            row = {"epoch": epoch + 1, "train_loss": f"{loss_sum / max(seen, 1):.5f}",
                   "train_acc": f"{correct / max(seen, 1):.5f}", "valid_loss": f"{valid_loss:.5f}",
                   "valid_acc": f"{valid_acc:.5f}", "lr": f"{lr:.6g}",
                   "images_per_s": f"{(seen - seen_before) / max(epoch_train_time, 1e-9):.0f}",
                   "epoch_s": f"{time.time() - t0:.2f}"}
            metrics.append(row)
            rundir.write_metrics(run, metrics)
            writer.add_summary(tf.Summary(value=[tf.Summary.Value(tag=k, simple_value=float(v))
                                                 for k, v in row.items() if k != "epoch"]), epoch + 1)
            writer.flush()
            best_mark = " *" if state["best_epoch"] == epoch + 1 else ""
            log(f"epoch {epoch + 1:3d}/{tc.epochs}  train loss {row['train_loss'][:6]} acc {correct / max(seen, 1):.4f}"
                f"  valid loss {valid_loss:.4f} acc {valid_acc:.4f}{best_mark}  lr {lr:.2e}"
                f"  {row['images_per_s']} img/s  {time.time() - t0:.1f}s")
            _write_summary(run, cfg, metrics, state, time.time() - started, train_images, train_time, n_params,
                           "running")
            if tc.early_stopping and state["bad_epochs"] >= tc.early_stopping:
                stopped = f"early stopping: no better valid accuracy for {tc.early_stopping} epochs"
                log(stopped)
                break
    summary = _write_summary(run, cfg, metrics, state, time.time() - started, train_images, train_time, n_params,
                             stopped)
    log(f"best valid accuracy {summary['best_valid_acc']:.4f} at epoch {summary['best_epoch']}; "
        f"{summary['wall_time_s']:.0f}s; run saved in {run}")
    return run


def _end_of_epoch_state(state: dict, tc, epoch: int, valid_acc: float) -> dict:
    state = dict(state, epoch=epoch + 1, step_in_epoch=0, epoch_loss_sum=0.0, epoch_correct=0, epoch_seen=0)
    if valid_acc > state["best_valid_acc"]:
        state.update(best_valid_acc=valid_acc, best_epoch=epoch + 1, bad_epochs=0, plateau_bad_epochs=0)
    else:
        state.update(bad_epochs=state["bad_epochs"] + 1, plateau_bad_epochs=state["plateau_bad_epochs"] + 1)
        if tc.lr_schedule == "plateau" and state["plateau_bad_epochs"] >= tc.lr_plateau_patience:
            state.update(lr_scale=state["lr_scale"] * tc.lr_decay, plateau_bad_epochs=0)
    return state


def _write_summary(run, cfg, metrics, state, wall, train_images, train_time, n_params, status) -> dict:
    """summary.json: rewritten (atomically) every epoch, so it is current even after a crash."""
    from signclf.graph import describe_device

    summary = {
        "status": status,
        "best_epoch": state["best_epoch"],
        "best_valid_acc": round(state["best_valid_acc"], 6),
        "epochs_completed": len(metrics),
        "wall_time_s": round(wall, 2),
        "train_images_per_s": round(train_images / train_time, 1) if train_time > 0 else None,
        "parameters": n_params,
        "device": describe_device(),
        "config": cfg.name,
        "versions": _versions(),
    }
    atomic_write_json(Path(run) / "summary.json", summary)
    return summary
