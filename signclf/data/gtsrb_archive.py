"""Check a downloaded GTSRB zip against what the release is known to hold, before it is unpacked.

GTSRB_Final_Training_Images.zip has no published checksum, so "it is the real archive" rests on
everything else we know about it: every member passes the zip's own CRC, the counts are exact
(39,209 images in 43 class folders), each class folder has its GT-000NN.csv whose rows name exactly
the images beside it (and that class), and every image decodes. The test images and labels do have
published MD5s; checking that the labels' rows name exactly the 12,630 images catches a mismatched
pair (say, one archive from a mirror) before anything is unpacked.

Each check returns None or a phrase that completes "the download ..." (e.g. "holds 12 images,
expected 39,209"). Expected counts are parameters, so tests can use a tiny archive.
"""

from __future__ import annotations

import contextlib
import csv
import io
import zipfile
import zlib
from collections import Counter
from pathlib import PurePosixPath

import numpy as np

from signclf import MAX_IMAGE_PIXELS
from signclf.data.gtsrb import CLASS_DIR, TEST_CSV
from signclf.data.image_header import declared_size

GTSRB_CLASSES = 43
FULL_TRAINING_IMAGES = 39_209  # GTSRB_Final_Training_Images.zip, in ~1,307 tracks
IJCNN_TRAINING_IMAGES = 26_640  # GTSRB-Training_fixed.zip (MD5-verified; counts stated, not checked)
TEST_IMAGES = 12_630  # GTSRB_Final_Test_Images.zip, labelled by GTSRB_Final_Test_GT.zip
FULL_TRAINING_FOLDER = "GTSRB/Final_Training/Images"
TEST_FOLDER = "GTSRB/Final_Test/Images"
SHOWN = 3  # names quoted in a problem before "..."


class _Problem(Exception):
    """The archive is not what it should be; the message completes "the download ..."."""


def _some(names) -> str:
    names = sorted(names)
    return ", ".join(names[:SHOWN]) + (", ..." if len(names) > SHOWN else "")


def _read(z: zipfile.ZipFile, name: str) -> bytes:
    """A member's bytes; reading it to the end is what checks its CRC."""
    try:
        return z.read(name)
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:
        raise _Problem(f"is corrupt ({name} fails to decompress or its CRC check: {e})")
    except NotImplementedError as e:  # a compression method zipfile cannot read
        raise _Problem(f"uses a compression this reader lacks ({name}: {e})")


def _csv_rows(z: zipfile.ZipFile, name: str) -> list[tuple[str, str]]:
    """(Filename, ClassId) of each row of a GT CSV member; refuses a file listed twice."""
    try:
        text = _read(z, name).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _Problem(f"has {name}, which is not a text CSV")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";")
    header = next(reader, [])
    if "Filename" not in header or "ClassId" not in header:
        raise _Problem(f"has {name} without the Filename and ClassId columns")
    file_at, class_at = header.index("Filename"), header.index("ClassId")
    rows = [(row[file_at].strip(), row[class_at].strip()) for row in reader
            if any(cell.strip() for cell in row) and len(row) > max(file_at, class_at)]
    twice = [f for f, n in Counter(f for f, _ in rows).items() if n > 1]
    if twice:
        raise _Problem(f"has {name} listing {_some(twice)} more than once")
    return rows


def _same_files(csv_name: str, listed, present) -> None:
    listed, present = set(listed), set(present)
    if listed - present:
        raise _Problem(f"has {csv_name} listing {_some(listed - present)}, which the archive does not hold")
    if present - listed:
        raise _Problem(f"has {_some(present - listed)} beside {csv_name} but not listed in it")


def _check_decodes(name: str, data: bytes) -> None:
    import cv2  # only here: the rest of the check runs without OpenCV

    size = declared_size(data)  # refuse a header claiming gigapixels before OpenCV allocates them
    if size is not None and size[0] * size[1] > MAX_IMAGE_PIXELS:
        raise _Problem(f"has {name}, which claims {size[0]}×{size[1]} pixels, more than a sign photo has")
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        image = None
    if image is None or image.size == 0:
        raise _Problem(f"has {name}, which does not decode as an image")


def _class_folders(z: zipfile.ZipFile, folder: str) -> dict[str, dict[str, str]]:
    """{class folder name: {file name: member name}} for every file below `folder`."""
    classes: dict[str, dict[str, str]] = {}
    for info in z.infolist():
        path = PurePosixPath(info.filename)
        if info.is_dir() or not info.filename.startswith(folder + "/"):
            continue  # the read-me beside the images, folder entries
        parts = path.relative_to(folder).parts
        if len(parts) != 2 or not CLASS_DIR.match(parts[0]):
            raise _Problem(f"has {info.filename}, which is not in a 000NN class folder")
        classes.setdefault(parts[0], {})[parts[1]] = info.filename
    return classes


def _training_problem(z: zipfile.ZipFile, images: int, classes: int, folder: str) -> None:
    found = _class_folders(z, folder)
    expected = {f"{c:05d}" for c in range(classes)}
    if set(found) != expected:
        missing, extra = expected - set(found), set(found) - expected
        detail = "; ".join(filter(None, [missing and f"missing {_some(missing)}", extra and f"extra {_some(extra)}"]))
        raise _Problem(f"has {len(found)} class folders in {folder}, expected {classes} ({detail})")
    for class_dir, files in sorted(found.items()):
        if f"GT-{class_dir}.csv" not in files:
            raise _Problem(f"has no GT-{class_dir}.csv in {folder}/{class_dir}")
    total = sum(len(files) - 1 for files in found.values())
    if total != images:
        raise _Problem(f"holds {total:,} images in {folder}, expected {images:,}")
    for class_dir, files in sorted(found.items()):
        csv_name = files[f"GT-{class_dir}.csv"]
        rows = _csv_rows(z, csv_name)
        wrong_class = [f for f, c in rows if not c.isdigit() or int(c) != int(class_dir)]
        if wrong_class:
            raise _Problem(f"has {csv_name} giving {_some(wrong_class)} a ClassId other than {int(class_dir)}")
        _same_files(csv_name, (f for f, _ in rows), (f for f in files if f != f"GT-{class_dir}.csv"))
        for member in sorted(files.values()):
            if member != csv_name:
                _check_decodes(member, _read(z, member))


def _test_problem(images_zip: zipfile.ZipFile, labels_zip: zipfile.ZipFile, images: int, folder: str) -> None:
    present = [PurePosixPath(n).name for n in images_zip.namelist()
               if PurePosixPath(n).parent == PurePosixPath(folder) and not n.lower().endswith(".csv")]
    if len(present) != images:
        raise _Problem(f"holds {len(present):,} test images in {folder}, expected {images:,}")
    labels = next((n for n in labels_zip.namelist() if PurePosixPath(n).name == TEST_CSV), None)
    if labels is None:
        raise _Problem(f"has no {TEST_CSV}")
    _same_files(labels, (f for f, _ in _csv_rows(labels_zip, labels)), present)


def _run(check, *archives) -> str | None:
    with contextlib.ExitStack() as stack:
        try:
            opened = [stack.enter_context(zipfile.ZipFile(a)) for a in archives]
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            return f"is not a readable zip ({e})"
        try:
            check(*opened)
        except _Problem as e:
            return str(e)
    return None


def training_archive_problem(path, *, images: int = FULL_TRAINING_IMAGES, classes: int = GTSRB_CLASSES,
                             folder: str = FULL_TRAINING_FOLDER) -> str | None:
    """Why the zip at `path` is not GTSRB_Final_Training_Images.zip (as far as can be told), or None."""
    return _run(lambda z: _training_problem(z, images, classes, folder), path)


def final_test_problem(images_path, labels_path, *, images: int = TEST_IMAGES,
                          folder: str = TEST_FOLDER) -> str | None:
    """Why the test images zip and the labels zip are not a matching pair of `images` images, or None."""
    return _run(lambda zi, zl: _test_problem(zi, zl, images, folder), images_path, labels_path)
