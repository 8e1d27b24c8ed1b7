"""From a config's `data` section to datasets: the only place training code touches readers."""

from __future__ import annotations

from pathlib import Path

from signclf.config import Config
from signclf.data.dataset import Dataset, read_class_names
from signclf.data.readers import load_dataset
from signclf.errors import ConfigError, DataError

LAYOUTS = "a pickle, a folder of train.p/valid.p/test.p, a GTSRB tree, a Kaggle folder or a folder per class"
SPLIT_HINT = ("set data.{split} in the config (signclf train --set data.{split}=PATH) or pass --data PATH to "
              "signclf evaluate")


def _class_names(cfg: Config):
    return read_class_names(cfg.data.class_names) if cfg.data.class_names else None


def _how_to_get(path: str) -> str:
    """The command that makes a dataset where `path` expects one."""
    if Path(path).suffix in (".p", ".pkl", ".pickle"):
        return (f"`signclf data download --which udacity` fetches the Udacity pickles, or `signclf data synth "
                f"--out {Path(path).parent}` renders a synthetic set")
    return f"`signclf data download` fetches GTSRB, or `signclf data synth --out {path}` renders a synthetic set"


def check_data_paths(cfg: Config, splits=("train", "valid")) -> None:
    """Fail fast, before TensorFlow or a run folder exists: the data `splits` of the config exist.

    Training reads train and valid; data.test is only read by `signclf evaluate --split test`,
    which checks it then, so a config may name a test set that is not downloaded yet."""
    if not cfg.data.train:
        raise ConfigError(f"data.train is not set; pass --set data.train=PATH ({LAYOUTS})")
    for split in splits:
        path = getattr(cfg.data, split)
        if path and not Path(path).expanduser().exists():
            raise ConfigError(f"data.{split}: {path}: no such file or directory; {_how_to_get(path)}, "
                              f"or set data.{split} to where your data is")


def split_source(cfg: Config, split: str) -> str:
    """The path data.<split> is read from. With data.valid unset, or in a cross-validation fold,
    validation comes from the training data, as training took it: its valid.p beside it, whole
    tracks held out of it, or the fold."""
    path = getattr(cfg.data, split)
    return cfg.data.train if split == "valid" and (cfg.data.folds or not path) else path


def load_split(cfg: Config, split: str, path: str | None = None, log=print) -> Dataset:
    """Load data.<split> (or an explicit path) with the configured format, size and ROI crop.

    Whatever the reader noted while loading (e.g. rescaled pixel values) goes to `log`, one line each.
    """
    if not path and split == "valid" and cfg.train.final:
        raise ConfigError("this is a final model (train.final): the validation images were part of its training; "
                          "evaluate it on unseen data with --split test or --data PATH")
    if not path and split == "valid" and (cfg.data.folds or not cfg.data.valid) and cfg.data.train:
        return _train_and_valid(cfg, log)[1]  # the validation set training used (a fold's, when folds are set)
    if not path:
        path = getattr(cfg.data, split)
        if not path:
            raise ConfigError(f"data.{split} is not set; {SPLIT_HINT.format(split=split)} ({LAYOUTS})")
        if not Path(path).expanduser().exists():
            raise DataError(f"data.{split}: {path}: no such file or directory (the data moved or was deleted?); "
                            + SPLIT_HINT.format(split=split))
    dataset = load_dataset(path, fmt=cfg.data.format, split=split, image_size=cfg.data.image_size,
                           roi_crop=cfg.data.roi_crop, class_names=_class_names(cfg))
    for note in dataset.notes:
        log(note)
    return dataset


def _valid_beside_train(cfg: Config) -> str | None:
    """data.train when it is a folder of split pickles holding valid.p: its own validation split."""
    from signclf.data.pickles import SPLIT_FILES, is_pickle_set

    train = Path(cfg.data.train).expanduser()
    return cfg.data.train if is_pickle_set(train) and (train / SPLIT_FILES["valid"]).is_file() else None


def load_train_valid(cfg: Config, log=print) -> tuple[Dataset, Dataset]:
    """Training and validation sets; validation held out of train (whole tracks) when not given."""
    from signclf.data.splits import oversample

    train, valid = _train_and_valid(cfg, log)
    _check_classes(train, valid, log)
    if cfg.data.oversample:
        before = len(train)
        train = oversample(train, cfg.data.oversample, cfg.train.seed)
        log(f"oversampled rare classes to {cfg.data.oversample} images each: {before} → {len(train)} training images")
    return train, valid


def _train_and_valid(cfg: Config, log) -> tuple[Dataset, Dataset]:
    """The split itself: a fold, data.valid, the valid.p beside data.train, or tracks held out of it."""
    from signclf.data.splits import split_train_valid

    train = load_split(cfg, "train", log=log)
    valid_path = cfg.data.valid or _valid_beside_train(cfg)
    if cfg.data.folds:
        return _fold_split(cfg, train, valid_path, log)
    if cfg.train.final:
        return _everything(cfg, train, valid_path, log)
    if valid_path:
        valid = load_split(cfg, "valid", valid_path, log=log)
        if valid.class_names != train.class_names:
            raise ConfigError(f"{valid_path}: its class names differ from those of {cfg.data.train}")
        if not cfg.data.valid:
            log(f"data.valid not set: validating on {valid.source}, the valid split beside the training data")
        return train, valid
    train, valid = split_train_valid(train, cfg.data.valid_fraction, cfg.train.seed)
    log(f"data.valid not set: held out {len(valid)} of {len(train) + len(valid)} training images "
        f"({'whole tracks' if train.track_ids is not None else 'random, no track ids'}) for validation")
    return train, valid


def _fold_split(cfg: Config, train: Dataset, valid_path: str | None, log) -> tuple[Dataset, Dataset]:
    """Cross-validation: every labelled image (train and valid pooled) in data.folds track-disjoint
    folds; fold data.fold validates, the others train."""
    from signclf.data.splits import track_folds

    pooled = train.concat(load_split(cfg, "valid", valid_path, log=log)) if valid_path else train
    fold_of = track_folds(pooled, cfg.data.folds)
    train, valid = pooled.subset(fold_of != cfg.data.fold), pooled.subset(fold_of == cfg.data.fold)
    train.source, valid.source = (f"{pooled.source} (folds other than {cfg.data.fold} of {cfg.data.folds})",
                                  f"{pooled.source} (fold {cfg.data.fold} of {cfg.data.folds})")
    log(f"cross-validation fold {cfg.data.fold} of {cfg.data.folds}: {len(train):,} training and {len(valid):,} "
        f"validation images of {len(pooled):,}, whole tracks per fold")
    return train, valid


def _everything(cfg: Config, train: Dataset, valid_path: str | None, log) -> tuple[Dataset, Dataset]:
    """A final model: every labelled image trains; the validation set is empty. Choosing epochs or
    checkpoints on a small set rewards luck on its few tracks; cross-validation chose them instead."""
    pooled = train.concat(load_split(cfg, "valid", valid_path, log=log)) if valid_path else train
    log(f"final model (train.final): training on all {len(pooled):,} labelled images, no validation set; "
        f"its {cfg.train.epochs} epochs should be the ones `signclf cv` chose")
    return pooled, pooled.emptied()


def _check_classes(train: Dataset, valid: Dataset, log) -> None:
    """A classifier needs two classes to tell apart; validation images of classes training never
    sees are mistakes waiting to happen, worth a line before an hour of training."""
    import numpy as np

    seen = np.unique(train.labels)
    if len(seen) < 2:
        name = train.class_names[int(seen[0])]
        raise DataError(f"{train.source}: every training image is class {int(seen[0])} ({name}); a classifier "
                        f"needs at least two classes: check data.train")
    unseen = np.setdiff1d(np.unique(valid.labels), seen)
    if len(unseen):
        count = int(np.isin(valid.labels, unseen).sum())
        ids = ", ".join(str(int(c)) for c in unseen[:8]) + (", ..." if len(unseen) > 8 else "")
        log(f"warning: {count:,} validation image(s) are of {len(unseen)} class(es) the training set lacks "
            f"(ids {ids}); the model cannot learn them")
