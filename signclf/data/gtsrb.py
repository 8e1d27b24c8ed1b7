"""The official GTSRB archives as they unzip: per-class folders with a GT CSV each, and a test folder.

    Final_Training/Images/000NN/TTTTT_FFFFF.ppm + GT-000NN.csv   (GTSRB_Final_Training_Images.zip)
    Training/000NN/TTTTT_FFFFF.ppm + GT-000NN.csv                (GTSRB-Training_fixed.zip)
    Final_Test/Images/NNNNN.ppm + GT-final_test.csv               (test images + GTSRB_Final_Test_GT.zip)

The path may be any of those folders, their `Images` folder, or the root above them; from a root,
splits train and valid read the training part and split test the test part. File names carry the
track (TTTTT): the ~30 frames of one physical sign, which splits must keep together.
"""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np

from signclf.data.cache import dataset_from_files
from signclf.data.dataset import class_names_or_default
from signclf.data.readers import register
from signclf.errors import DataError

CLASS_DIR = re.compile(r"^\d{5}$")
TRAIN_FILE = re.compile(r"^(\d{5})_\d{5}\.\w+$")  # track_frame.ppm
TEST_CSV = "GT-final_test.csv"
TEST_CSV_UNLABELLED = "GT-final_test.test.csv"  # ships with the test images, without ClassId
# Where each part may sit below a root folder, nearest first.
TRAIN_PLACES = ("Final_Training/Images", "Training", "GTSRB/Final_Training/Images", "GTSRB/Training")
TEST_PLACES = ("Final_Test/Images", "GTSRB/Final_Test/Images")
BOX_COLUMNS = ("Width", "Height", "Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2", "ClassId")
TRACKS_PER_CLASS = 10_000  # track ids are class * this + track, so they are unique across classes


class Annotations(NamedTuple):
    files: list[str]  # as written in the CSV, until the reader joins them onto their folder
    labels: np.ndarray  # N int
    rois: np.ndarray  # N×4 x1 y1 x2 y2, inclusive, in the frame below
    frames: np.ndarray  # N×2 width, height the ROI was measured on


def _whole_number(csv_path, line, column, value) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise DataError(f"{csv_path}, row {line}: {column} is {value!r}, not a whole number; fix or delete that row")
    if number < 0:
        raise DataError(f"{csv_path}, row {line}: {column} is negative ({number}); fix or delete that row")
    return number


def read_annotations(csv_path, *, file_column: str, delimiter: str, num_classes: int) -> Annotations:
    """Rows of a GTSRB-style annotation CSV, checked; DataError names the file and row of a bad one.

    Shared with the Kaggle layout, which repacks the same columns with commas and a `Path` column.
    Row numbers count lines in the file, header included, as an editor shows them.
    """
    columns = (file_column, *BOX_COLUMNS)
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, delimiter=delimiter)
            header = next(reader, None)
            if header is None or any(c not in header for c in columns):
                raise DataError(f"{csv_path}: missing column(s) {[c for c in columns if c not in (header or [])]}; "
                                f"expected a header {delimiter.join(columns)}")
            where = [header.index(c) for c in columns]
            files, numbers = [], []
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue  # blank lines, typically at the end
                line = reader.line_num
                if len(row) < len(header):
                    raise DataError(f"{csv_path}, row {line}: {len(row)} fields, expected {len(header)} "
                                    f"({delimiter.join(header)}); fix or delete that row")
                name = row[where[0]].strip()
                if not name:
                    raise DataError(f"{csv_path}, row {line}: empty {file_column}; fix or delete that row")
                values = [_whole_number(csv_path, line, c, row[i]) for c, i in zip(BOX_COLUMNS, where[1:])]
                w, h, x1, y1, x2, y2, class_id = values
                if w == 0 or h == 0 or x2 < x1 or y2 < y1:
                    raise DataError(f"{csv_path}, row {line}: impossible size {w}×{h} or ROI ({x1},{y1})-({x2},{y2});"
                                    " fix or delete that row")
                if class_id >= num_classes:
                    raise DataError(f"{csv_path}, row {line}: ClassId {class_id} is not one of the {num_classes} "
                                    f"classes 0..{num_classes - 1}; fix the row or pass the matching class names")
                files.append(name)
                numbers.append(values)
    except OSError as e:
        raise DataError(f"{csv_path}: cannot read ({e.strerror or e})")
    except (UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{csv_path}: not a readable CSV ({e})")
    table = np.array(numbers, np.int64).reshape(-1, len(BOX_COLUMNS))  # columns in BOX_COLUMNS order
    frames, rois, labels = table[:, 0:2], table[:, 2:6], table[:, 6]
    return Annotations(files, labels, rois, frames)


def track_ids_from_names(files, labels, pattern: re.Pattern) -> np.ndarray | None:
    """Track ids (class * 10000 + track) when every file name carries one (`pattern` group 1), else None."""
    tracks = []
    for name in files:
        m = pattern.match(os.path.basename(name))
        if m is None:
            return None  # a partial grouping would let unmarked frames leak across a split
        tracks.append(int(m.group(1)))
    return np.asarray(labels, np.int64) * TRACKS_PER_CLASS + np.asarray(tracks, np.int64)


def _is_training_part(folder: Path) -> bool:
    try:
        return any(CLASS_DIR.match(d.name) and (d / f"GT-{d.name}.csv").is_file() for d in folder.iterdir())
    except OSError:
        return False


def _is_test_part(folder: Path) -> bool:
    return (folder / TEST_CSV).is_file() or (folder / TEST_CSV_UNLABELLED).is_file()


def _locate(path: Path) -> tuple[Path | None, Path | None, bool]:
    """(training part, test part, whether `path` names one part) for any accepted starting folder."""
    for folder in (path, path / "Images"):  # a part, or Final_Training / Final_Test above its Images
        if _is_training_part(folder):
            return folder, None, True
        if _is_test_part(folder):
            return None, folder, True
    train = next((path / p for p in TRAIN_PLACES if _is_training_part(path / p)), None)
    test = next((path / p for p in TEST_PLACES if _is_test_part(path / p)), None)
    return train, test, False


def detect(path: Path) -> bool:
    if not path.is_dir():
        return False
    train, test, _ = _locate(path)
    return train is not None or test is not None


def _pick_part(path: Path, split: str) -> tuple[Path, bool]:
    """The folder to read for `split` and whether it is the training part."""
    train, test, direct = _locate(path)
    if direct:  # the user named one part: read it, whatever the split is called
        return (train, True) if train is not None else (test, False)
    if split == "test":
        if test is None:
            raise DataError(f"{path}: no GTSRB test part ({' or '.join(TEST_PLACES)} with {TEST_CSV}) here; "
                            "run `signclf data download` or point the test split at it")
        return test, False
    if train is None:
        raise DataError(f"{path}: no GTSRB training part ({' or '.join(TRAIN_PLACES)} with 000NN/GT-000NN.csv) "
                        "here; run `signclf data download` or point the training split at it")
    return train, True


def _training_annotations(part: Path, num_classes: int) -> Annotations:
    files, parts = [], []
    for class_dir in sorted(d for d in part.iterdir() if d.is_dir() and CLASS_DIR.match(d.name)):
        csv_path = class_dir / f"GT-{class_dir.name}.csv"
        if not csv_path.is_file():
            raise DataError(f"{class_dir}: missing {csv_path.name}; re-extract the GTSRB archive")
        ann = read_annotations(csv_path, file_column="Filename", delimiter=";", num_classes=num_classes)
        files += [os.path.join(class_dir, f) for f in ann.files]  # str: pathlib costs ~1 s per 40k
        parts.append(ann)
    if not parts:
        raise DataError(f"{part}: no 000NN class folders with GT-000NN.csv; re-extract the GTSRB archive")
    return Annotations(files, np.concatenate([a.labels for a in parts]),
                       np.concatenate([a.rois for a in parts]), np.concatenate([a.frames for a in parts]))


def _test_annotations(part: Path, num_classes: int) -> Annotations:
    csv_path = part / TEST_CSV
    if not csv_path.is_file():
        raise DataError(f"{part}: has {TEST_CSV_UNLABELLED} (no labels) but not {TEST_CSV}; get it from "
                        "GTSRB_Final_Test_GT.zip into this folder (`signclf data download` does this)")
    ann = read_annotations(csv_path, file_column="Filename", delimiter=";", num_classes=num_classes)
    return ann._replace(files=[os.path.join(part, f) for f in ann.files])


def read(path, *, split="train", image_size=32, roi_crop=False, class_names=None):
    names = class_names_or_default(class_names)
    part, is_training = _pick_part(Path(path), split)
    ann = _training_annotations(part, len(names)) if is_training else _test_annotations(part, len(names))
    if not ann.files:
        raise DataError(f"{part}: the GT CSVs list no images; re-extract the GTSRB archive")
    tracks = track_ids_from_names(ann.files, ann.labels, TRAIN_FILE)  # None for the test part's NNNNN.ppm
    return dataset_from_files(ann.files, ann.labels, names, image_size=image_size, source=str(part),
                              roi_crop=roi_crop, rois=ann.rois, roi_frames=ann.frames, track_ids=tracks)


register("gtsrb", detect, read,
         "official GTSRB tree: Final_Training/Images/000NN or Training/000NN with GT-000NN.csv, "
         "Final_Test/Images with GT-final_test.csv")
