"""The layout people build by hand: one subfolder per class, named by class id or sign name.

    <root>/0/*.png  <root>/00012/*.jpg  <root>/Stop/*.ppm  <root>/speed_limit_30kmh/*.bmp

Names match the class names ignoring case and punctuation (a folder cannot contain the '/' of
"80km/h"). A root may instead hold train/, valid/ and test/ folders of that shape, one per split.
These files carry no track ids and no ROIs.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from signclf.data.cache import dataset_from_files
from signclf.data.dataset import class_names_or_default
from signclf.data.images import IMAGE_SUFFIXES
from signclf.data.readers import register
from signclf.errors import DataError

log = logging.getLogger(__name__)

SPLIT_DIRS = {"train": ("train", "training"), "valid": ("valid", "val", "validation"), "test": ("test", "testing")}
ALL_SPLIT_DIRS = {name for names in SPLIT_DIRS.values() for name in names}


def _normalised(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _subfolders(path: Path) -> list[Path]:
    # Hidden folders and macOS zip debris are never classes.
    return sorted(d for d in path.iterdir() if d.is_dir() and not d.name.startswith((".", "__MACOSX")))


def _images_in(folder: Path):
    return (f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())


def _split_folders(path: Path) -> dict[str, Path]:
    return {d.name.lower(): d for d in _subfolders(path) if d.name.lower() in ALL_SPLIT_DIRS}


def _root_for_split(path: Path, split: str) -> Path:
    splits = _split_folders(path)
    if not splits:
        return path
    for name in SPLIT_DIRS[split]:
        if name in splits:
            return splits[name]
    raise DataError(f"{path}: has {'/'.join(sorted(splits))} folders but none for split '{split}' "
                    f"({'/'.join(SPLIT_DIRS[split])}); add one or point the {split} split at another dataset")


def detect(path: Path) -> bool:
    if not path.is_dir():
        return False
    try:
        splits = _split_folders(path)
        root = next(iter(splits.values())) if splits else path
        return any(next(_images_in(d), None) is not None for d in _subfolders(root))
    except OSError:
        return False


def _class_id(folder_name: str, by_name: dict[str, int]) -> int | None:
    if folder_name.isdigit():
        return int(folder_name)
    return by_name.get(_normalised(folder_name))


def read(path, *, split="train", image_size=32, roi_crop=False, class_names=None):
    names = class_names_or_default(class_names)
    root = _root_for_split(Path(path), split)
    by_name = {_normalised(n): i for i, n in enumerate(names)}
    files, labels, unknown = [], [], []
    for folder in _subfolders(root):
        class_id = _class_id(folder.name, by_name)
        if class_id is None or class_id >= len(names):
            unknown.append(folder.name)
            continue
        found = sorted(_images_in(folder))
        files += found
        labels += [class_id] * len(found)
    if unknown:  # a misspelt folder silently dropped would lose a whole class
        raise DataError(f"{root}: subfolder(s) {', '.join(repr(u) for u in unknown[:5])} are neither class ids "
                        f"0..{len(names) - 1} nor class names; rename or remove them")
    if not files:
        raise DataError(f"{root}: no images ({', '.join(IMAGE_SUFFIXES)}) in class subfolders")
    if roi_crop:
        log.warning("%s: a folder-per-class layout has no ROIs; using whole images", root)
    return dataset_from_files(files, labels, names, image_size=image_size, source=str(root))


register("folders", detect, read,
         "one subfolder per class named by class id (0, 00012) or sign name, holding PNG/JPEG/PPM/BMP images")
