"""From a config's `data` section to datasets: the only place training code touches readers."""

from __future__ import annotations

from signclf.config import Config
from signclf.data.dataset import Dataset, read_class_names
from signclf.data.readers import load_dataset
from signclf.errors import ConfigError


def _class_names(cfg: Config):
    return read_class_names(cfg.data.class_names) if cfg.data.class_names else None


def load_split(cfg: Config, split: str, path: str | None = None) -> Dataset:
    """Load data.<split> (or an explicit path) with the configured format, size and ROI crop."""
    path = path or getattr(cfg.data, split)
    if not path:
        raise ConfigError(f"data.{split} is not set; pass --set data.{split}=PATH (a pickle, GTSRB tree, "
                          f"Kaggle folder or folder per class)")
    return load_dataset(path, fmt=cfg.data.format, split=split, image_size=cfg.data.image_size,
                        roi_crop=cfg.data.roi_crop, class_names=_class_names(cfg))


def load_train_valid(cfg: Config, log=print) -> tuple[Dataset, Dataset]:
    """Training and validation sets; validation held out of train (whole tracks) when not given."""
    from signclf.data.splits import oversample, split_train_valid

    train = load_split(cfg, "train")
    if cfg.data.valid:
        valid = load_split(cfg, "valid")
        if valid.class_names != train.class_names:
            raise ConfigError(f"{cfg.data.valid}: its class names differ from those of {cfg.data.train}")
    else:
        train, valid = split_train_valid(train, cfg.data.valid_fraction, cfg.train.seed)
        log(f"data.valid not set: held out {len(valid)} of {len(train) + len(valid)} training images "
            f"({'whole tracks' if train.track_ids is not None else 'random, no track ids'}) for validation")
    if cfg.data.oversample:
        before = len(train)
        train = oversample(train, cfg.data.oversample, cfg.train.seed)
        log(f"oversampled rare classes to {cfg.data.oversample} images each: {before} → {len(train)} training images")
    return train, valid
