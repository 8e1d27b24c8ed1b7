"""Hold out a validation set that measures generalisation, and balance classes for training.

GTSRB photographs each physical sign ~30 times as the car approaches ("a track"). Frames of one
track are near-duplicates, so a random image split puts the same sign in both sets and validation
accuracy says more about memory than about new signs. With track ids we hold out whole tracks.
"""

from __future__ import annotations

import logging

import numpy as np

from signclf.data.dataset import Dataset
from signclf.errors import ConfigError, DataError

log = logging.getLogger(__name__)


def _held_out(labels: np.ndarray, groups: np.ndarray, fraction: float, rng) -> tuple[np.ndarray, list[int]]:
    """Mask of images whose group goes to validation, per class; and classes too small to split.

    Each class with ≥2 groups sends round(fraction × groups), at least 1 and at most all but 1, to
    validation. A group belongs to the class of its first image (GTSRB tracks never mix classes).
    """
    group_ids, first = np.unique(groups, return_index=True)
    group_class = labels[first]
    in_valid = np.zeros(len(labels), bool)
    too_small = []
    for c in np.unique(group_class):
        members = group_ids[group_class == c]
        if len(members) < 2:
            too_small.append(int(c))
            continue
        n_valid = min(max(1, round(len(members) * fraction)), len(members) - 1)
        in_valid |= np.isin(groups, rng.choice(members, n_valid, replace=False))
    return in_valid, too_small


def split_train_valid(ds: Dataset, valid_fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """(train, valid): whole tracks held out per class when track ids exist, else random images per class."""
    if not 0 < valid_fraction < 1:
        raise ConfigError(f"valid_fraction must be between 0 and 1 (exclusive), got {valid_fraction}")
    rng = np.random.default_rng(seed)
    if ds.track_ids is not None:
        groups, unit = ds.track_ids, "track"
    else:
        log.warning("%s: no track ids, so validation holds out random images; near-duplicate frames of one sign "
                    "will sit on both sides and validation accuracy will be optimistic (use a layout with tracks "
                    "or a separate validation set)", ds.source or "dataset")
        groups, unit = np.arange(len(ds)), "image"
    in_valid, too_small = _held_out(ds.labels, groups, valid_fraction, rng)
    if not in_valid.any():
        raise DataError(f"{ds.source or 'dataset'}: cannot hold out a validation set, every class has fewer than "
                        f"2 {unit}s; provide a separate validation set")
    if too_small:
        log.warning("%s: class(es) %s have a single %s, kept for training, so validation has none of them",
                    ds.source or "dataset", ", ".join(map(str, too_small)), unit)
    train, valid = ds.subset(~in_valid), ds.subset(in_valid)
    train.source, valid.source = f"{ds.source} (training part)", f"{ds.source} (held-out validation)"
    return train, valid


# Folds are the same for every config and seed, so cross-validation results are paired across configs.
FOLD_SEED = 0


def track_folds(ds: Dataset, folds: int) -> np.ndarray:
    """Fold index (0..folds-1) of every image: whole tracks per fold, each class spread evenly.

    Without track ids whole images are the unit, and near-duplicate frames of one sign land in
    different folds: the estimate is then optimistic, and a warning says so.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    groups = ds.track_ids
    if groups is None:
        log.warning("%s: no track ids, so folds hold random images; frames of one sign will be in several folds "
                    "and cross-validation accuracy will be optimistic", ds.source or "dataset")
        groups = np.arange(len(ds))
    if len(np.unique(groups)) < folds:
        raise DataError(f"{ds.source or 'dataset'}: {len(np.unique(groups))} tracks cannot make {folds} folds; "
                        f"lower data.folds")
    fold_of = np.empty(len(ds), np.int64)
    splitter = StratifiedGroupKFold(folds, shuffle=True, random_state=FOLD_SEED)
    for k, (_, members) in enumerate(splitter.split(np.zeros(len(ds)), ds.labels, groups)):
        fold_of[members] = k
    return fold_of


def oversample(ds: Dataset, target_per_class: int, seed: int) -> Dataset:
    """Repeat each rarer class's images until it has `target_per_class`; never drops an image.

    For training sets only: a duplicated validation image would just be counted twice. Every image
    of a class is repeated the same number of times, ±1, so no single photo dominates.
    """
    if target_per_class < 1:
        raise ConfigError(f"oversample target per class must be at least 1, got {target_per_class}")
    rng = np.random.default_rng(seed)
    extra = []
    for c in range(ds.num_classes):
        members = np.flatnonzero(ds.labels == c)
        missing = target_per_class - len(members)
        if len(members) == 0 or missing <= 0:
            continue  # nothing to repeat, or already enough
        whole_copies, remainder = divmod(missing, len(members))
        extra += [np.tile(members, whole_copies), rng.choice(members, remainder, replace=False)]
    index = np.concatenate([np.arange(len(ds)), *extra]).astype(np.int64)
    return ds.subset(index)
