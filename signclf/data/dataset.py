"""The one in-memory form every reader returns, whatever the layout on disk."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import numpy as np

from signclf.errors import DataError


@lru_cache(maxsize=1)
def gtsrb_class_names() -> tuple[str, ...]:
    """The 43 GTSRB sign names, shipped with the package (signnames.csv: ClassId,SignName)."""
    text = resources.files("signclf.data").joinpath("signnames.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    return tuple(row["SignName"] for row in sorted(rows, key=lambda r: int(r["ClassId"])))


def class_names_or_default(class_names=None) -> list[str]:
    """The caller's class names, or GTSRB's 43 when it gave none: every reader's default."""
    return list(class_names) if class_names else list(gtsrb_class_names())


def read_class_names(path) -> list[str]:
    """Class names from a user's `ClassId,SignName` CSV (ids must be 0..K-1)."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        ids = [int(r["ClassId"]) for r in rows]
        names = [r["SignName"] for r in rows]
    except (OSError, KeyError, ValueError, TypeError) as e:
        raise DataError(f"{path}: cannot read class names ({e}); expected a CSV with columns ClassId,SignName")
    if sorted(ids) != list(range(len(ids))):
        raise DataError(f"{path}: ClassId must run 0..{len(ids) - 1} without gaps")
    return [n for _, n in sorted(zip(ids, names))]


@dataclass
class Dataset:
    """Images (uint8 N×H×W×3 RGB), integer labels, class names; track ids and ROIs when known.

    `rois` are (x1, y1, x2, y2) in the pixel coordinates of `images` (already scaled).
    `track_ids` group the ~30 photos of one physical sign so splits never separate them.
    `sizes` are each image's (width, height) as stored on disk, before resizing, when known.
    `notes` are one-line remarks the reader made about what it changed (e.g. rescaled 0..1 floats),
    for the caller to show the user.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    track_ids: np.ndarray | None = None
    rois: np.ndarray | None = None
    source: str = ""
    sizes: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)

    def __post_init__(self):
        where = self.source or "dataset"
        imgs, labels = self.images, self.labels
        if not isinstance(imgs, np.ndarray) or imgs.dtype != np.uint8 or imgs.ndim != 4 or imgs.shape[-1] != 3:
            desc = f"{imgs.dtype} {imgs.shape}" if isinstance(imgs, np.ndarray) else type(imgs).__name__
            raise DataError(f"{where}: features must be uint8 N×H×W×3 RGB, got {desc}")
        if imgs.shape[1] == 0 or imgs.shape[2] == 0:
            raise DataError(f"{where}: images are {imgs.shape[2]}×{imgs.shape[1]} pixels; each needs at least one")
        labels = np.asarray(labels)
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise DataError(f"{where}: labels must be a 1-D integer array, got {labels.dtype} {labels.shape}")
        if len(labels) != len(imgs):
            raise DataError(f"{where}: {len(imgs)} images but {len(labels)} labels")
        if len(labels) == 0:
            raise DataError(f"{where}: the dataset is empty")
        k = len(self.class_names)
        if labels.min() < 0 or labels.max() >= k:
            raise DataError(f"{where}: labels must lie in 0..{k - 1} ({k} classes), "
                            f"found {labels.min()}..{labels.max()}")
        self.labels = labels.astype(np.int64)
        for name in ("track_ids", "rois", "sizes"):
            arr = getattr(self, name)
            if arr is not None and len(arr) != len(imgs):
                raise DataError(f"{where}: {len(imgs)} images but {len(arr)} {name}")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def emptied(self) -> "Dataset":
        """No images, the same classes: the validation set of a final model. Readers refuse an empty
        dataset (an empty file is a mistake); this one is empty by design, so it skips that check."""
        import copy

        empty = copy.copy(self)
        pick = lambda a: None if a is None else a[:0]  # noqa: E731
        empty.images, empty.labels = self.images[:0], self.labels[:0]
        empty.track_ids, empty.rois, empty.sizes = pick(self.track_ids), pick(self.rois), pick(self.sizes)
        return empty

    def concat(self, other: "Dataset") -> "Dataset":
        """This dataset followed by `other` (same classes); their track ids stay apart."""
        if other.class_names != self.class_names:
            raise DataError(f"{other.source}: its class names differ from those of {self.source}")

        def both(a, b, offset=None):
            if a is None or b is None:
                return None
            return np.concatenate([a, b + offset if offset is not None else b])

        offset = None if self.track_ids is None else int(self.track_ids.max()) + 1
        return Dataset(np.concatenate([self.images, other.images]), np.concatenate([self.labels, other.labels]),
                       self.class_names, both(self.track_ids, other.track_ids, offset), both(self.rois, other.rois),
                       f"{self.source} + {other.source}", both(self.sizes, other.sizes), self.notes + other.notes)

    def subset(self, index) -> "Dataset":
        pick = lambda a: None if a is None else a[index]  # noqa: E731
        return Dataset(self.images[index], self.labels[index], self.class_names,
                       pick(self.track_ids), pick(self.rois), self.source, pick(self.sizes), list(self.notes))
