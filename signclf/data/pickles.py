"""Udacity traffic-sign pickles: one file (train.p), or a folder holding train.p / valid.p / test.p.

    {"features": N×32×32×3 uint8 RGB, "labels": N ints, "sizes": N×2 (optional), "coords": N×4 (optional)}

A folder of split pickles is one dataset: split `valid` reads valid.p, and so on. That is what
`signclf data synth` and `signclf data download --which udacity` write, with extras beside them
(samples/, signnames.csv) that are not part of the data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from signclf.data.dataset import Dataset, class_names_or_default
from signclf.data.readers import register
from signclf.data.safe_pickle import safe_load_pickle
from signclf.errors import DataError

SUFFIXES = (".p", ".pkl", ".pickle")
SPLIT_FILES = {"train": "train.p", "valid": "valid.p", "test": "test.p"}


def is_pickle_set(path) -> bool:
    """Whether `path` is a folder holding at least one of train.p / valid.p / test.p."""
    path = Path(path)
    return path.is_dir() and any((path / name).is_file() for name in SPLIT_FILES.values())


def split_file(path, split: str) -> Path:
    """The pickle to read for `split`: `path` itself, or `path`/<split>.p for a folder of split pickles."""
    path = Path(path)
    if not path.is_dir():
        return path
    wanted = path / SPLIT_FILES.get(split, f"{split}.p")
    if not wanted.is_file():
        present = [n for n in SPLIT_FILES.values() if (path / n).is_file()]
        raise DataError(f"{path}: holds {', '.join(present) or 'no split pickles'} but no {wanted.name} for "
                        f"the {split} split; point the {split} split at another dataset")
    return wanted


def _scaled_rois(obj, n_images: int, image_size: int):
    """ROIs from `coords` (original pixels) scaled by 32/size onto the stored images."""
    coords, sizes = obj.get("coords"), obj.get("sizes")
    if coords is None or sizes is None:
        return None
    coords = np.asarray(coords, dtype=np.float32)
    sizes = np.asarray(sizes, dtype=np.float32)
    if coords.shape != (n_images, 4) or sizes.shape != (n_images, 2) or not (sizes > 0).all():
        return None
    scale = np.concatenate([image_size / sizes, image_size / sizes], axis=1)
    return coords * scale


def _uint8_pixels(features: np.ndarray, path, notes: list[str]) -> np.ndarray:
    """Features as uint8 0..255; floats in 0..1 are scaled (and a note says so); NaN/inf refused."""
    if features.dtype == np.uint8:
        return features
    if not (np.issubdtype(features.dtype, np.floating) or np.issubdtype(features.dtype, np.integer)):
        raise DataError(f"{path}: 'features' must be uint8 pixel values, got {features.dtype}")
    if features.size == 0:
        return features.astype(np.uint8)
    if np.issubdtype(features.dtype, np.floating) and not np.isfinite(features).all():
        raise DataError(f"{path}: 'features' holds NaN or infinite pixel values; refused (fix the data)")
    low, high = features.min(), features.max()
    if low < 0 or high > 255:
        raise DataError(f"{path}: 'features' must be pixel values 0..255, got {features.dtype} ranging {low}..{high}")
    if np.issubdtype(features.dtype, np.floating):
        if high <= 1.0:
            notes.append(f"{path}: float features in 0..1 read as 0..255 (multiplied by 255)")
            features = features * 255.0
        return np.rint(features).astype(np.uint8)
    return features.astype(np.uint8)


def read_pickle(path, class_names=None) -> Dataset:
    """One Udacity pickle file as a Dataset (images as stored, ROIs from `coords` when present)."""
    obj = safe_load_pickle(path)
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a dict with 'features' and 'labels', got {type(obj).__name__}")
    obj = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}
    missing = [k for k in ("features", "labels") if k not in obj]
    if missing:
        raise DataError(f"{path}: missing key(s) {missing}; a Udacity pickle has 'features' and 'labels'")
    features, labels = obj["features"], obj["labels"]
    if not isinstance(features, np.ndarray) or features.ndim != 4 or features.shape[-1] != 3 \
            or features.shape[1] != features.shape[2]:
        shape = getattr(features, "shape", type(features).__name__)
        raise DataError(f"{path}: 'features' must be N×S×S×3 RGB images, got shape {shape}")
    try:
        labels = np.asarray(labels)
    except (TypeError, ValueError) as e:
        raise DataError(f"{path}: 'labels' is not an array of integers ({e})")
    if labels.ndim != 1 or not (np.issubdtype(labels.dtype, np.integer) or labels.size == 0):
        raise DataError(f"{path}: 'labels' must be a 1-D integer array, got {labels.dtype} {labels.shape}")
    notes: list[str] = []
    features = _uint8_pixels(features, path, notes)
    sizes = obj.get("sizes")
    sizes = np.asarray(sizes) if isinstance(sizes, np.ndarray) and sizes.shape == (len(features), 2) else None
    return Dataset(features, labels.astype(np.int64), class_names_or_default(class_names),
                   track_ids=infer_track_ids(labels, sizes), rois=_scaled_rois(obj, len(features), features.shape[1]),
                   source=str(path), sizes=sizes, notes=notes)


# A new track starts where the sign is suddenly this many pixels narrower than the frame before.
_TRACK_RESET_PIXELS = 3
# GTSRB's training set keeps 30 frames of each physical sign.
GTSRB_TRACK_LENGTH = 30


def infer_track_ids(labels: np.ndarray, sizes: np.ndarray | None) -> np.ndarray | None:
    """Track ids of a pickle stored in GTSRB's order, or None when its order shows no tracks.

    The Udacity pickles keep GTSRB's order: each physical sign's 30 frames in a row, photographed
    as the car approaches, so the sign grows from frame to frame. A track starts where the class
    changes or the sign is suddenly smaller; a stretch longer than 1½ tracks without such a reset is
    cut every 30 frames (two signs of one size in a row), and pieces shorter than 80% of a track are
    joined to the next (a jolt of the camera). On GTSRB's train.p and valid.p this finds exactly
    their 1,155 and 152 tracks. A shuffled pickle, whose "tracks" would be single images, gives None.
    """
    if sizes is None or len(labels) < 2:
        return None
    width = np.asarray(sizes, np.float64)[:, 0]
    class_run = np.cumsum(np.concatenate([[1], np.diff(labels) != 0]))
    resets = np.concatenate([[True], (np.diff(labels) != 0) | (np.diff(width) < -_TRACK_RESET_PIXELS)])
    starts = np.flatnonzero(resets)
    if len(labels) / len(starts) < GTSRB_TRACK_LENGTH / 4:
        return None
    track_ids = np.empty(len(labels), np.int64)
    track, filled, run = -1, GTSRB_TRACK_LENGTH, None
    for begin, end in zip(starts, [*starts[1:], len(labels)]):
        while begin < end:
            length = end - begin
            if length > 1.5 * GTSRB_TRACK_LENGTH:
                length = GTSRB_TRACK_LENGTH
            if filled >= 0.8 * GTSRB_TRACK_LENGTH or class_run[begin] != run:
                track, filled, run = track + 1, 0, class_run[begin]
            track_ids[begin:begin + length] = track
            filled += length
            begin += length
    return track_ids


def read(path, *, split="train", image_size=32, roi_crop=False, class_names=None) -> Dataset:
    """The reader: one file or a folder's split file, cropped to ROIs or resized to `image_size`."""
    from signclf.data.images import crop_roi, resize

    ds = read_pickle(split_file(path, split), class_names)
    if roi_crop and ds.rois is not None:
        if not np.isfinite(ds.rois).all():
            raise DataError(f"{ds.source}: 'coords' holds NaN or infinite values; fix them or set "
                            "data.roi_crop=false")
        ds.images = np.stack([resize(crop_roi(im, r), image_size) for im, r in zip(ds.images, ds.rois)])
        ds.rois = None
    elif ds.images.shape[1] != image_size:
        scale = image_size / ds.images.shape[1]
        ds.images = np.stack([resize(im, image_size) for im in ds.images])
        ds.rois = None if ds.rois is None else ds.rois * scale
    return ds


register("pickle", lambda p: (p.is_file() and p.suffix in SUFFIXES) or is_pickle_set(p), read,
         "Udacity pickle (train.p, or a folder of train.p/valid.p/test.p): dict of features "
         "(N×32×32×3 uint8 RGB) and labels")
