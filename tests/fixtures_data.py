"""Tiny datasets written in the real on-disk layouts, for the data tests.

Every image is grey with a block of its class's colour inside its ROI, so a test can tell from
the pixels alone which class an image is and whether it was cropped to its ROI.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

GREY = (128, 128, 128)
CLASS_COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (255, 0, 255)]
SIZE = (40, 36)  # width, height: not square, not the load size
ROI = (8, 6, 31, 29)  # x1, y1, x2, y2 inclusive: covers the centre, misses the corners
GT_HEADER = "Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId"
KAGGLE_HEADER = "Width,Height,Roi.X1,Roi.Y1,Roi.X2,Roi.Y2,ClassId,Path"


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Never touch ~/.cache: each test decodes into its own cache folder."""
    monkeypatch.setenv("SIGNCLF_CACHE_DIR", str(tmp_path / "decode-cache"))
    return tmp_path / "decode-cache"


def sign_image(class_id: int, size=SIZE, roi=ROI) -> np.ndarray:
    """RGB grey image with the class colour filling `roi`."""
    w, h = size
    img = np.full((h, w, 3), GREY, np.uint8)
    x1, y1, x2, y2 = roi
    img[y1:y2 + 1, x1:x2 + 1] = CLASS_COLOURS[class_id]
    return img


def write_image(path: Path, rgb: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def _gt_row(name, class_id, size=SIZE, roi=ROI, sep=";"):
    return sep.join(map(str, (name, *size, *roi, class_id)))


def write_gtsrb_training(folder: Path, classes=3, tracks=2, frames=3) -> Path:
    """`folder`/000NN/TTTTT_FFFFF.ppm + GT-000NN.csv, as in Final_Training/Images or Training."""
    for c in range(classes):
        class_dir = folder / f"{c:05d}"
        rows = [GT_HEADER]
        for t in range(tracks):
            for f in range(frames):
                name = f"{t:05d}_{f:05d}.ppm"
                write_image(class_dir / name, sign_image(c))
                rows.append(_gt_row(name, c))
        (class_dir / f"GT-{c:05d}.csv").write_text("\n".join(rows) + "\n")
    return folder


def gtsrb_test_labels(count=5, classes=3) -> str:
    """GT-final_test.csv for `count` test images cycling through `classes`."""
    return "\n".join([GT_HEADER] + [_gt_row(f"{i:05d}.ppm", i % classes) for i in range(count)]) + "\n"


def write_gtsrb_test(folder: Path, count=5, classes=3, labelled=True) -> Path:
    """`folder`/NNNNN.ppm with GT-final_test.test.csv (no ClassId), plus GT-final_test.csv if labelled."""
    rows = [GT_HEADER.rsplit(";", 1)[0]]
    for i in range(count):
        name = f"{i:05d}.ppm"
        write_image(folder / name, sign_image(i % classes))
        rows.append(_gt_row(name, i % classes).rsplit(";", 1)[0])
    (folder / "GT-final_test.test.csv").write_text("\n".join(rows) + "\n")
    if labelled:
        (folder / "GT-final_test.csv").write_text(gtsrb_test_labels(count, classes))
    return folder


def write_kaggle(root: Path, classes=3, tracks=2, frames=2, test_count=4) -> Path:
    """Kaggle's layout: Train.csv, Test.csv, Meta.csv, Train/<c>/CCCCC_TTTTT_FFFFF.png, Test/NNNNN.png."""
    train = [KAGGLE_HEADER]
    for c in range(classes):
        for t in range(tracks):
            for f in range(frames):
                rel = f"Train/{c}/{c:05d}_{t:05d}_{f:05d}.png"
                write_image(root / rel, sign_image(c))
                train.append(",".join(map(str, (*SIZE, *ROI, c, rel))))
    test = [KAGGLE_HEADER]
    for i in range(test_count):
        rel = f"Test/{i:05d}.png"
        write_image(root / rel, sign_image(i % classes))
        test.append(",".join(map(str, (*SIZE, *ROI, i % classes, rel))))
    (root / "Train.csv").write_text("\n".join(train) + "\n")
    (root / "Test.csv").write_text("\n".join(test) + "\n")
    (root / "Meta.csv").write_text("Path,ClassId,ShapeId,ColorId,SignId\n" +
                                   "".join(f"Meta/{c}.png,{c},0,0,0\n" for c in range(classes)))
    return root


def write_class_folders(root: Path, folder_names: dict[str, int], per_class=3, suffix=".png") -> Path:
    """root/<folder name>/<i>.<suffix>, each folder holding images of the given class."""
    for name, class_id in folder_names.items():
        for i in range(per_class):
            write_image(root / name / f"{i}{suffix}", sign_image(class_id))
    return root


def zip_folder(folder: Path, base: Path) -> bytes:
    """A zip of every file under `folder`, named relative to `base`."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                z.write(path, path.relative_to(base).as_posix())
    return buf.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def official_gtsrb_archives(scratch: Path) -> dict[str, bytes]:
    """Tiny stand-ins for the three official GTSRB zips, with their real internal layout."""
    write_gtsrb_training(scratch / "GTSRB" / "Training", classes=2, tracks=2, frames=2)
    test_folder = write_gtsrb_test(scratch / "GTSRB" / "Final_Test" / "Images", count=4, classes=2, labelled=False)
    return {
        "GTSRB-Training_fixed.zip": zip_folder(scratch / "GTSRB" / "Training", scratch),
        "GTSRB_Final_Test_Images.zip": zip_folder(test_folder, scratch),
        "GTSRB_Final_Test_GT.zip": zip_bytes({"GT-final_test.csv": gtsrb_test_labels(4, 2).encode()}),
    }
