"""Distillation (Hinton et al. 2015): a trained teacher's softmax on the training images becomes part
of the student's targets, so one model learns what a committee (or an earlier model) knows about
which classes look alike.

The teacher scores each training image once, as it is, before training starts; every augmented view
of that image then aims at the same mix of its label and the teacher's belief. A cross-validation
folder as teacher stands for its run of the student's fold, so `signclf cv --set train.teacher=[CV]`
distills fold by fold and never lets a teacher see the fold it is scored on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from signclf import rundir
from signclf.config import Config
from signclf.errors import ConfigError

# The teacher's last-epoch weights: cross-validation and final models score the last epoch, and a
# best epoch would have been chosen on validation images.
TEACHER_CHECKPOINT = "last"


def teacher_runs(cfg: Config) -> list[Path]:
    """The run directories train.teacher names, a cross-validation folder replaced by its run of this fold.

    A teacher must not have trained on the images this run validates on: with data.folds set, each
    teacher must be a run of the same fold of the same number of folds."""
    from signclf.crossval import CV_FILE, fold_dir

    runs = []
    for path in map(Path, cfg.train.teacher):
        if (path / CV_FILE).is_file():
            if not cfg.data.folds:
                raise ConfigError(f"train.teacher: {path} is a cross-validation folder; a run without data.folds "
                                  f"needs a run directory (a final model: signclf train --set train.final=true)")
            path = fold_dir(path, cfg.data.fold)
        if not rundir.is_run(path):
            raise ConfigError(f"train.teacher: {path}: not a run directory or cross-validation folder; "
                              f"list runs with: signclf runs")
        taught = rundir.read_run(path).cfg  # what the teacher itself trained on
        if taught.train.final and not cfg.train.final:
            raise ConfigError(f"train.teacher: {path} is a final model, trained on every labelled image, including "
                              f"the ones this run validates on; use a run trained without them")
        if _fold_of(taught.data) != _fold_of(cfg.data):
            raise ConfigError(f"train.teacher: {path} trained on fold {taught.data.fold} of {taught.data.folds} folds, "
                              f"this run on fold {cfg.data.fold} of {cfg.data.folds}; the teacher would have seen "
                              f"the images this run validates on")
        runs.append(path)
    return runs


def _fold_of(data) -> tuple[int, int]:
    return (data.folds, data.fold) if data.folds else (0, 0)


def soften(probs: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(logits / T) from softmax(logits): p^(1/T) renormalised (for a committee, the
    geometric mean's softening). T > 1 spreads the belief over the classes the teacher confuses."""
    logp = np.log(np.clip(probs.astype(np.float64), 1e-30, 1.0)) / temperature
    logp -= logp.max(axis=1, keepdims=True)
    p = np.exp(logp)
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


def teacher_targets(cfg: Config, images_rgb: np.ndarray, labels: np.ndarray, class_names, log=print) -> np.ndarray:
    """N×K softened committee softmax of train.teacher's runs on the (raw RGB) training images."""
    from signclf.inference import Committee

    runs = teacher_runs(cfg)
    with Committee(runs, TEACHER_CHECKPOINT) as teacher:
        if list(teacher.class_names) != list(class_names):
            raise ConfigError(f"train.teacher: {runs[0]} was trained on other classes than this run's data")
        probs = teacher.probabilities(images_rgb, cfg.train.eval_batch_size)
    agree = float(np.mean(probs.argmax(axis=1) == labels))
    log(f"teacher: {', '.join(map(str, runs))}: {agree:.2%} of {len(probs):,} training images right "
        f"(weight {cfg.train.teacher_weight}, temperature {cfg.train.teacher_temperature})")
    return soften(probs, cfg.train.teacher_temperature)
