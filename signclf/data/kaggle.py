"""Kaggle's repack of GTSRB: Train.csv / Test.csv at the root, image paths relative to it.

    Train.csv, Test.csv, Meta.csv       Width,Height,Roi.X1,Roi.Y1,Roi.X2,Roi.Y2,ClassId,Path
    Train/<class>/CCCCC_TTTTT_FFFFF.png  (class, track, frame)
    Test/NNNNN.png

The path may be the root (splits train and valid read Train.csv, split test reads Test.csv),
one of the CSVs, or the Train/ or Test/ image folder next to its CSV.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from signclf.data.cache import dataset_from_files
from signclf.data.dataset import class_names_or_default
from signclf.data.gtsrb import read_annotations, track_ids_from_names
from signclf.data.readers import register
from signclf.errors import DataError

SPLIT_CSV = {"train": "Train.csv", "valid": "Train.csv", "test": "Test.csv"}
TRAIN_FILE = re.compile(r"^\d{5}_(\d{5})_\d{5}\.\w+$")  # class_track_frame.png


def _looks_like_annotations(csv_path: Path) -> bool:
    try:
        with open(csv_path, encoding="utf-8-sig") as f:
            header = f.readline().strip().split(",")
    except (OSError, UnicodeDecodeError):
        return False
    return "Path" in header and "ClassId" in header


def _csv_for(path: Path, split: str) -> Path | None:
    """The annotation CSV to read, or None when `path` is not a Kaggle layout."""
    if path.is_file():
        return path if path.suffix.lower() == ".csv" and _looks_like_annotations(path) else None
    if not path.is_dir():
        return None
    if path.name in ("Train", "Test") and (path.parent / f"{path.name}.csv").is_file():
        return path.parent / f"{path.name}.csv"  # the image folder: its own CSV, whatever the split
    if any((path / name).is_file() for name in set(SPLIT_CSV.values())):
        return path / SPLIT_CSV.get(split, "Train.csv")
    return None


def detect(path: Path) -> bool:
    return _csv_for(path, "train") is not None


def read(path, *, split="train", image_size=32, roi_crop=False, class_names=None):
    names = class_names_or_default(class_names)
    path = Path(path)
    csv_path = _csv_for(path, split)
    if csv_path is None:
        raise DataError(f"{path}: not a Kaggle GTSRB layout (a folder with Train.csv/Test.csv, or one of them)")
    if not csv_path.is_file():
        raise DataError(f"{path}: no {csv_path.name} for split '{split}'; add it or point the {split} split "
                        "at another dataset")
    ann = read_annotations(csv_path, file_column="Path", delimiter=",", num_classes=len(names))
    if not ann.files:
        raise DataError(f"{csv_path}: lists no images")
    files = [os.path.join(csv_path.parent, f) for f in ann.files]  # relative to the CSV's folder, the root
    return dataset_from_files(files, ann.labels, names, image_size=image_size, source=str(csv_path),
                              roi_crop=roi_crop, rois=ann.rois, roi_frames=ann.frames,
                              track_ids=track_ids_from_names(ann.files, ann.labels, TRAIN_FILE))


register("kaggle", detect, read,
         "Kaggle GTSRB: Train.csv/Test.csv (Width,Height,Roi.*,ClassId,Path) with Train/ and Test/ images")
