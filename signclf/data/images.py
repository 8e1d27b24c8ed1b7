"""Decode one image file of any kind OpenCV reads into uint8 RGB, or say exactly why not.

Shared by predict, evaluate and every folder-based reader so they agree on what a readable
image is (gray, RGBA, 16-bit, CMYK JPEG, first frame of an animated GIF).
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from signclf import MAX_IMAGE_PIXELS as MAX_PIXELS
from signclf.data.image_header import declared_size
from signclf.errors import DataError

MAX_FILE_BYTES = 256 << 20  # read into memory whole; no photo of a sign comes near this
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".ppm", ".pgm", ".bmp", ".gif", ".tif", ".tiff", ".webp")
cv2.setNumThreads(1)  # we parallelise across files; nested OpenCV threads only contend


def to_rgb_uint8(img: np.ndarray) -> np.ndarray:
    """Any decoded OpenCV array (gray, BGR, BGRA, 16-bit, float) → uint8 H×W×3 RGB."""
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    elif img.dtype != np.uint8:
        img = np.clip(img.astype(np.float32) * (255.0 if img.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    if img.shape[2] == 1:
        return cv2.cvtColor(img[:, :, 0], cv2.COLOR_GRAY2RGB)
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _decode_gif(data: bytes):
    # OpenCV builds without GIF support return None; Pillow (a matplotlib dependency) reads frame 0.
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        im.seek(0)
        return cv2.cvtColor(np.asarray(im.convert("RGB")), cv2.COLOR_RGB2BGR)


def _check_pixel_count(path, size) -> None:
    if size is not None and size[0] * size[1] > MAX_PIXELS:
        raise DataError(f"{path}: image too large: {size[0]}×{size[1]} pixels, limit {MAX_PIXELS:,}")


def read_image(path) -> np.ndarray:
    """Read `path` as uint8 H×W×3 RGB; raise DataError('<path>: <reason>') for anything unusable."""
    path = str(path)
    try:
        size = os.stat(path).st_size
    except OSError as e:
        raise DataError(f"{path}: {e.strerror.lower() if e.strerror else e}")
    if not os.path.isfile(path):
        raise DataError(f"{path}: not a regular file")
    if size == 0:
        raise DataError(f"{path}: empty file (0 bytes)")
    if size > MAX_FILE_BYTES:
        raise DataError(f"{path}: file too large for an image ({size:,} bytes, limit {MAX_FILE_BYTES:,})")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})")
    _check_pixel_count(path, declared_size(data))
    buf = np.frombuffer(data, np.uint8)
    try:
        # IMREAD_COLOR: the decoder itself reduces 16-bit, alpha and gray to 8-bit BGR, so a file
        # costs 3 bytes per pixel whatever it declares (a 16-bit RGBA one would cost 8, plus copies).
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        if img is None and data[:6] in (b"GIF87a", b"GIF89a"):
            img = _decode_gif(data)
    except Exception as e:  # OpenCV/Pillow raise their own types on hostile headers
        raise DataError(f"{path}: not a decodable image ({type(e).__name__})")
    if img is None or img.size == 0:
        raise DataError(f"{path}: not a decodable image (truncated, corrupt, or not an image format)")
    _check_pixel_count(path, (img.shape[1], img.shape[0]))
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB, dst=img)  # in place: no second copy of a large image


def resize(img: np.ndarray, size: int) -> np.ndarray:
    """Resize to size×size: area averaging when shrinking (no aliasing), bilinear when growing."""
    if img.shape[0] == size and img.shape[1] == size:
        return img
    shrinking = img.shape[0] > size or img.shape[1] > size
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def crop_roi(img: np.ndarray, roi) -> np.ndarray:
    """Crop (x1, y1, x2, y2) inclusive, clamped to the image; the whole image if the ROI is degenerate."""
    h, w = img.shape[:2]
    x1, y1, x2, y2 = (int(round(v)) for v in roi)
    x1, y1 = max(0, min(x1, w - 1)), max(0, min(y1, h - 1))
    x2, y2 = max(x1 + 1, min(x2 + 1, w)), max(y1 + 1, min(y2 + 1, h))
    return img[y1:y2, x1:x2]


def list_image_files(paths) -> tuple[list[Path], list[str]]:
    """Expand files and directories (recursively, sorted) into image paths.

    Returns (files, problems): a directory with no images and a missing path are problems,
    reported alongside the files that were found, never raised, so the rest still run.
    """
    files, problems = [], []
    for p in map(Path, paths):
        if p.is_dir():
            try:
                found = sorted(q for q in p.rglob("*") if q.suffix.lower() in IMAGE_SUFFIXES and not q.is_dir())
            except OSError as e:  # symlink loops and unreadable subfolders
                problems.append(f"{p}: cannot list directory ({e.strerror or e})")
                continue
            if not found:
                problems.append(f"{p}: no image files ({', '.join(IMAGE_SUFFIXES)}) in this directory")
            files.extend(found)
        else:
            files.append(p)  # read_image reports a missing file, with its own reason
    return files, problems
