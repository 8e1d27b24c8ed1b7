"""The one decode path every folder-based reader shares: parallel, resized once, cached on disk.

Decoding a 40,000-image GTSRB tree takes seconds from a warm disk and much longer from a cold
one; loading it again should cost one .npz read and a stat per file. Decoded arrays are cached
as .npz in ~/.cache/signclf (or $SIGNCLF_CACHE_DIR), keyed by every file's (path, size, mtime)
plus the output size and crop boxes, so any edit to the tree, or to the boxes in its CSV, misses
the cache instead of serving stale pixels.
"""

from __future__ import annotations

import hashlib
import logging
import os
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np

from signclf.atomic import atomic_write
from signclf.data.dataset import Dataset
from signclf.data.images import crop_roi, read_image, resize
from signclf.device import usable_cores
from signclf.errors import DataError
from signclf.progress import bar as progress_bar

log = logging.getLogger(__name__)

CACHE_VERSION = 1  # bump when decoding or resizing changes, so old entries stop matching
KEEP_ENTRIES = 16  # least recently used entries beyond this are deleted
FILES_PER_TASK = 256  # big enough to amortise scheduling, small enough to balance the threads
SHOW_FIRST = 3  # unreadable-file reasons quoted in the warning


class Decoded(NamedTuple):
    images: np.ndarray  # N×S×S×3 uint8; zeros where decoding failed
    ok: np.ndarray  # N bool: False where the file could not be used
    sizes: np.ndarray  # N×2 int32 (width, height) on disk; 0 where decoding failed
    problems: list[str]  # "<path>: <reason>" for each failure


def cache_dir() -> Path:
    return Path(os.environ.get("SIGNCLF_CACHE_DIR") or Path.home() / ".cache" / "signclf").expanduser()


def _decode_one(path, image_size, roi, roi_frame):
    img = read_image(path)
    h, w = img.shape[:2]
    if roi is not None:
        if roi_frame is not None and tuple(roi_frame) != (w, h):
            # The CSV measured the box on a differently sized copy of this image: rescale it.
            sx, sy = w / roi_frame[0], h / roi_frame[1]
            roi = (roi[0] * sx, roi[1] * sy, roi[2] * sx, roi[3] * sy)
        img = crop_roi(img, roi)
    return resize(img, image_size), (w, h)


def decode_files(paths, image_size: int, rois=None, roi_frames=None, workers: int | None = None) -> Decoded:
    """Decode, optionally crop, and resize every file to image_size×image_size in a thread pool.

    `rois` (N×4, x1 y1 x2 y2 inclusive) crop each image before resizing; `roi_frames` (N×2,
    width height) is the image size the boxes were measured on, when that may differ from the
    file. Failures do not stop the rest: they come back in `ok` and `problems`.
    """
    paths = [str(p) for p in paths]
    n = len(paths)
    images = np.zeros((n, image_size, image_size, 3), np.uint8)
    sizes = np.zeros((n, 2), np.int32)
    ok = np.zeros(n, bool)
    problems: list[str] = []

    def run_chunk(start):
        for i in range(start, min(start + FILES_PER_TASK, n)):
            roi = None if rois is None else rois[i]
            frame = None if roi_frames is None else roi_frames[i]
            try:
                images[i], sizes[i] = _decode_one(paths[i], image_size, roi, frame)
                ok[i] = True
            except DataError as e:
                problems.append(str(e))  # list.append is atomic under the GIL
        return min(FILES_PER_TASK, n - start)

    # cv2 releases the GIL while decoding and resizing, so threads scale without pickling arrays.
    workers = workers or min(16, 2 * usable_cores())

    with ThreadPoolExecutor(workers) as pool, \
            progress_bar(total=n, unit="img", desc="decoding") as bar:
        for done in pool.map(run_chunk, range(0, n, FILES_PER_TASK)):
            bar.update(done)
    return Decoded(images, ok, sizes, sorted(problems))


def _cache_key(paths, image_size, rois, roi_frames) -> str:
    h = hashlib.sha256(f"v{CACHE_VERSION} size={image_size}\n".encode())
    for p in paths:
        try:
            st = os.stat(p)
            h.update(f"{os.path.abspath(p)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        except OSError:
            h.update(f"{os.path.abspath(p)}\0missing\n".encode())
    for boxes in (rois, roi_frames):  # cropping: the boxes are part of what was decoded
        h.update(b"none" if boxes is None else np.ascontiguousarray(boxes, np.float64).tobytes())
    return h.hexdigest()[:32]


def _read_entry(path: Path) -> Decoded | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            entry = Decoded(z["images"], z["ok"], z["sizes"], [str(s) for s in z["problems"]])
        os.utime(path)  # mark as recently used for pruning
        return entry
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:  # truncated or foreign: redo it
        log.warning("ignoring unreadable cache entry %s (%s)", path, e)
        return None


def _write_entry(path: Path, entry: Decoded) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda f: np.savez(f, images=entry.images, ok=entry.ok, sizes=entry.sizes,
                                              problems=np.array(entry.problems, dtype=str)))
        _prune(path.parent)
    except OSError as e:  # a read-only home must not stop training, only make it slower
        log.warning("cannot write the decode cache in %s (%s); set SIGNCLF_CACHE_DIR to a writable "
                    "folder to make the next load fast", path.parent, e.strerror or e)


def _prune(folder: Path) -> None:
    def last_used(p: Path) -> float:
        try:
            return p.stat().st_mtime
        except OSError:  # another process pruned it first
            return 0.0

    entries = sorted(folder.glob("decoded-*.npz"), key=last_used, reverse=True)
    for old in entries[KEEP_ENTRIES:]:
        try:
            old.unlink()
        except OSError:
            pass  # already gone, or not ours to delete: either way not worth failing a load


def decode_cached(paths, image_size: int, rois=None, roi_frames=None) -> Decoded:
    """`decode_files`, answered from the disk cache when the same files were decoded before."""
    paths = [str(p) for p in paths]
    entry_path = cache_dir() / f"decoded-{_cache_key(paths, image_size, rois, roi_frames)}.npz"
    entry = _read_entry(entry_path)
    if entry is not None and len(entry.ok) == len(paths):
        return entry
    entry = decode_files(paths, image_size, rois, roi_frames)
    _write_entry(entry_path, entry)
    return entry


def dataset_from_files(files, labels, class_names, *, image_size: int, source: str, roi_crop: bool = False,
                       rois=None, roi_frames=None, track_ids=None) -> Dataset:
    """Decode `files` (cached) into a Dataset, skipping unreadable ones with one warning line.

    `rois` (N×4) are boxes measured on images of size `roi_frames` (N×2 width, height; the file's
    own size when None). With `roi_crop` each image is cropped to its box; otherwise the boxes
    are kept, rescaled onto the resized image.
    """
    labels = np.asarray(labels, np.int64)
    if rois is not None:
        rois = np.asarray(rois, np.float32)
        roi_frames = None if roi_frames is None else np.asarray(roi_frames, np.float32)
    crop = roi_crop and rois is not None
    decoded = decode_cached(files, image_size, rois if crop else None, roi_frames if crop else None)
    ok = decoded.ok
    if decoded.problems:
        first = "; ".join(decoded.problems[:SHOW_FIRST])
        more = f" (and {len(decoded.problems) - SHOW_FIRST} more)" if len(decoded.problems) > SHOW_FIRST else ""
        log.warning("%s: skipped %d of %d images that could not be read: %s%s",
                    source, len(decoded.problems), len(files), first, more)
    if not ok.any():
        raise DataError(f"{source}: none of the {len(files)} images could be read "
                        f"(first: {decoded.problems[0] if decoded.problems else 'no files'}); check the files")
    kept_rois = None
    if rois is not None and not crop:
        frames = roi_frames if roi_frames is not None else decoded.sizes.astype(np.float32)
        kept_rois = rois * np.tile(image_size / np.maximum(frames, 1), 2)  # onto the resized image
    everything = bool(ok.all())

    def readable(a):  # the rows of `a` whose image decoded; no copy when all did
        return None if a is None else np.asarray(a) if everything else np.asarray(a)[ok]

    return Dataset(readable(decoded.images), readable(labels), list(class_names), track_ids=readable(track_ids),
                   rois=readable(kept_rois), source=source, sizes=readable(decoded.sizes))
