"""Pick the reader for a dataset path, so training code never knows which layout it came from.

Every reader is `read(path, *, split, image_size, roi_crop, class_names) -> Dataset`. A new layout
is one function plus one `register` call; `detect` decides from the path when `format: auto`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from signclf.data.dataset import Dataset
from signclf.errors import DataError


@dataclass(frozen=True)
class Reader:
    name: str
    detect: Callable[[Path], bool]
    read: Callable[..., Dataset]
    describe: str


READERS: dict[str, Reader] = {}


def register(name: str, detect, read, describe: str) -> None:
    READERS[name] = Reader(name, detect, read, describe)


def _pickle_read(path, *, split, image_size, roi_crop, class_names):
    from signclf.data.images import crop_roi, resize
    from signclf.data.pickles import read_pickle

    ds = read_pickle(path, class_names)
    if roi_crop and ds.rois is not None:
        import numpy as np

        ds.images = np.stack([resize(crop_roi(im, r), image_size) for im, r in zip(ds.images, ds.rois)])
        ds.rois = None
    elif ds.images.shape[1] != image_size:
        import numpy as np

        scale = image_size / ds.images.shape[1]
        ds.images = np.stack([resize(im, image_size) for im in ds.images])
        ds.rois = None if ds.rois is None else ds.rois * scale
    return ds


register("pickle", lambda p: p.is_file() and p.suffix in (".p", ".pkl", ".pickle"), _pickle_read,
         "Udacity pickle: dict of features (N×32×32×3 uint8 RGB) and labels")


def _ensure_builtin_readers() -> None:
    # Folder layouts live in their own modules; importing them registers them.
    import importlib

    for mod in ("signclf.data.gtsrb", "signclf.data.kaggle", "signclf.data.folders"):
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name != mod:
                raise


def load_dataset(path, *, fmt: str = "auto", split: str = "train", image_size: int = 32,
                 roi_crop: bool = False, class_names=None) -> Dataset:
    """Load `path` with the named reader, or the first whose `detect` accepts it."""
    _ensure_builtin_readers()
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"{path}: no such file or directory (set data.{split} to an existing dataset)")
    if fmt != "auto":
        if fmt not in READERS:
            raise DataError(f"unknown data format '{fmt}'; choose one of: auto, {', '.join(READERS)}")
        reader = READERS[fmt]
    else:
        reader = next((r for r in READERS.values() if r.detect(path)), None)
        if reader is None:
            known = "; ".join(f"{r.name}: {r.describe}" for r in READERS.values())
            raise DataError(f"{path}: cannot tell the dataset layout. Known layouts: {known}")
    return reader.read(path, split=split, image_size=image_size, roi_crop=roi_crop, class_names=class_names)
