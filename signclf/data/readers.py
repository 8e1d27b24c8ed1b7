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


# Layouts that come with signclf and the module that registers each, in the order `auto` tries them:
# a folder of split pickles also holds samples/, which the folder-per-class layout would take for a class.
BUILTIN_READERS = {"pickle": "signclf.data.pickles", "gtsrb": "signclf.data.gtsrb",
                   "kaggle": "signclf.data.kaggle", "folders": "signclf.data.folders"}


def _ensure_builtin_readers() -> None:
    import importlib

    for mod in BUILTIN_READERS.values():
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name != mod:
                raise


def _in_order() -> list[Reader]:
    """Every registered reader, built-in ones first in BUILTIN_READERS order, whatever the import order."""
    _ensure_builtin_readers()
    builtin_first = [*BUILTIN_READERS, *READERS]
    return sorted(READERS.values(), key=lambda r: builtin_first.index(r.name))


def load_dataset(path, *, fmt: str = "auto", split: str = "train", image_size: int = 32,
                 roi_crop: bool = False, class_names=None) -> Dataset:
    """Load `path` with the named reader, or the first whose `detect` accepts it."""
    readers = _in_order()
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"{path}: no such file or directory")
    if fmt != "auto":
        if fmt not in READERS:
            raise DataError(f"unknown data format '{fmt}'; choose one of: auto, {', '.join(r.name for r in readers)}")
        reader = READERS[fmt]
    else:
        reader = next((r for r in readers if r.detect(path)), None)
        if reader is None:
            known = "; ".join(f"{r.name}: {r.describe}" for r in readers)
            raise DataError(f"{path}: cannot tell the dataset layout. Known layouts: {known}")
    return reader.read(path, split=split, image_size=image_size, roi_crop=roi_crop, class_names=class_names)
