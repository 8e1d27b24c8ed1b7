"""An offline, procedurally rendered stand-in for GTSRB, written in the Udacity pickle layout.

`write_synthetic_dataset` draws every one of the 43 classes (`synth_signs`), photographs each
drawing with random camera nuisances (`synth_scene`) and writes `train.p`, `valid.p`, one sample
PNG per class and `signnames.csv`, so the whole pipeline can be exercised with no download.
The set is written into a hidden folder beside the target and swapped in whole: a run killed
midway leaves the previous set as it was, never a new train.p beside an old valid.p.

Each image has its own random stream seeded by (seed, class, index): an image never depends on
which images were drawn before it, so the output is identical however the work is ordered or split.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import re
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from signclf.atomic import atomic_write, shareable_dir
from signclf.data.dataset import gtsrb_class_names
from signclf.data.pickles import SPLIT_FILES
from signclf.data.summary import HISTOGRAM_FILE, SAMPLES_FILE
from signclf.data.synth_scene import photograph
from signclf.data.synth_signs import render_sign
from signclf.errors import DataError
from signclf.preview import PREVIEW_FILE

NUM_CLASSES = 43
FACE_SIZE = 96  # pixels the face is drawn at before the camera shrinks it: fine strokes stay crisp
SAMPLE_SIZE = 96  # the per-class sample PNGs: large enough to look at, small enough for predict
# What a re-run may replace: its own files, and the pictures `data summary`/`data preview` drew of them.
OWN_ENTRIES = {SPLIT_FILES["train"], SPLIT_FILES["valid"], "signnames.csv", "samples", HISTOGRAM_FILE, SAMPLES_FILE,
               PREVIEW_FILE}
RENAME_EXCHANGE = 2  # renameat2(2) flag: swap two paths in one step
AT_FDCWD = -100


def slug(name: str) -> str:
    """'Speed limit (20km/h)' -> 'speed_limit_20km_h': a file-name-safe class name."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def render_example(class_id: int, seed: int, index: int, image_size: int = 32, clean: bool = False):
    """One synthetic photo: (uint8 image_size×image_size×3 RGB, (width, height), (x1, y1, x2, y2))."""
    rng = np.random.default_rng([seed, class_id, index, int(clean)])
    face_rgb, face_alpha = render_sign(class_id, rng, FACE_SIZE)
    return photograph(face_rgb, face_alpha, rng, out_size=image_size, clean=clean)


def render_class(class_id: int, count: int, seed: int, image_size: int = 32):
    """`count` photos of one class as (features N×S×S×3 uint8, sizes N×2 int32, coords N×4 int32)."""
    features = np.empty((count, image_size, image_size, 3), np.uint8)
    sizes = np.empty((count, 2), np.int32)
    coords = np.empty((count, 4), np.int32)
    for i in range(count):
        features[i], sizes[i], coords[i] = render_example(class_id, seed, i, image_size)
    return features, sizes, coords


def _write_pickle(path: Path, arrays: dict) -> None:
    atomic_write(path, lambda f: pickle.dump(arrays, f, protocol=4))


def _write_png(path: Path, rgb: np.ndarray) -> None:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"{path}: PNG encoding failed")
    atomic_write(path, lambda f: f.write(buf.tobytes()))


def _check_replaceable(out: Path) -> None:
    if not out.exists():
        return
    if not out.is_dir():
        raise DataError(f"{out}: exists and is not a folder; choose another --out")
    # Hidden entries count too (a .git or notes would be deleted with the old set); only the temp
    # files a killed atomic write left behind are ours.
    leftover = re.compile(r"^\..*\.tmp$")
    foreign = sorted(n for n in os.listdir(out) if n not in OWN_ENTRIES and not leftover.match(n))
    if foreign:
        raise DataError(f"{out}: holds files `signclf data synth` did not write ({', '.join(foreign[:3])}); "
                        "choose a new or empty --out")


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one atomic step (Linux renameat2); False where the system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0


def _swap_in(staging: Path, out: Path) -> None:
    """Make `staging` the folder `out`; the old `out`, if any, is deleted once the new one is in place."""
    if not out.exists() or not any(out.iterdir()):
        os.replace(staging, out)  # renaming onto an empty folder replaces it
        return
    if _exchange(staging, out):
        shutil.rmtree(staging)  # now holds the old set
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    os.replace(out, old / out.name)  # then the one moment without `out`: two renames apart
    os.replace(staging, out)
    shutil.rmtree(old)


def write_synthetic_dataset(out_dir, per_class: int = 100, seed: int = 0, valid_fraction: float = 0.1,
                            image_size: int = 32, progress: Callable[[int, int], None] | None = None) -> dict:
    """Render `per_class` images of each of the 43 classes into `out_dir` (Udacity pickle layout).

    The first round(per_class * valid_fraction) images of every class (at least one) go to valid.p,
    the rest to train.p, so both splits cover every class. `progress(done, total)` is called after
    each class. An existing `out_dir` is replaced as a whole, and only if it holds nothing else.
    Returns counts and the paths written.
    """
    out = Path(out_dir)
    _check_replaceable(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    shareable_dir(staging)  # mkdtemp's 0700 would hide the dataset from everyone else
    try:
        counts = _render_into(staging, per_class, seed, valid_fraction, image_size, progress)
        _swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {
        "num_classes": NUM_CLASSES, "per_class": per_class, **counts,
        "train_path": str(out / "train.p"), "valid_path": str(out / "valid.p"),
        "signnames_path": str(out / "signnames.csv"), "samples_dir": str(out / "samples"),
        "samples": [str(p) for p in sorted((out / "samples").iterdir())],
    }


def _render_into(out: Path, per_class: int, seed: int, valid_fraction: float, image_size: int,
                 progress) -> dict[str, int]:
    """Write the whole set into the (new, empty) folder `out`; the number of train and valid images."""
    if not 0.0 <= valid_fraction < 1.0:
        raise ValueError(f"valid_fraction must be in [0, 1), got {valid_fraction}")
    if per_class < (2 if valid_fraction > 0 else 1):
        raise ValueError(f"per_class must be at least {2 if valid_fraction > 0 else 1} "
                         f"(one train and one valid image per class), got {per_class}")
    # Every class gets at least one validation image (and keeps at least one for training).
    n_valid = min(max(int(round(per_class * valid_fraction)), 1), per_class - 1) if valid_fraction > 0 else 0
    (out / "samples").mkdir()
    names = gtsrb_class_names()

    splits = {"train": [], "valid": []}
    for class_id in range(NUM_CLASSES):
        features, sizes, coords = render_class(class_id, per_class, seed, image_size)
        labels = np.full(per_class, class_id, np.uint8)
        for split, part in (("valid", slice(0, n_valid)), ("train", slice(n_valid, per_class))):
            splits[split].append((features[part], labels[part], sizes[part], coords[part]))
        sample_path = out / "samples" / f"{class_id:02d}_{slug(names[class_id])}.png"
        _write_png(sample_path, render_example(class_id, seed, 0, SAMPLE_SIZE, clean=True)[0])
        if progress is not None:
            progress(class_id + 1, NUM_CLASSES)

    counts = {}
    for split, parts in splits.items():
        keys = ("features", "labels", "sizes", "coords")
        arrays = {key: np.concatenate([p[k] for p in parts]) for k, key in enumerate(keys)}
        counts[split] = len(arrays["labels"])
        _write_pickle(out / f"{split}.p", arrays)

    csv = "ClassId,SignName\n" + "".join(f"{i},{n}\n" for i, n in enumerate(names))
    atomic_write(out / "signnames.csv", lambda f: f.write(csv.encode("utf-8")))
    return counts
