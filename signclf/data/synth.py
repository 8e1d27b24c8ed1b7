"""An offline, procedurally rendered stand-in for GTSRB, written in the Udacity pickle layout.

`write_synthetic_dataset` draws every one of the 43 classes (`synth_signs`), photographs each
drawing with random camera nuisances (`synth_scene`) and writes `train.p`, `valid.p`, one sample
PNG per class and `signnames.csv`, so the whole pipeline can be exercised with no download.

Each image has its own random stream seeded by (seed, class, index): an image never depends on
which images were drawn before it, so the output is identical however the work is ordered or split.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from signclf.atomic import atomic_write
from signclf.data.dataset import gtsrb_class_names
from signclf.data.synth_scene import photograph
from signclf.data.synth_signs import render_sign

NUM_CLASSES = 43
FACE_SIZE = 96  # pixels the face is drawn at before the camera shrinks it: fine strokes stay crisp
SAMPLE_SIZE = 96  # the per-class sample PNGs: large enough to look at, small enough for predict


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


def write_synthetic_dataset(out_dir, per_class: int = 100, seed: int = 0, valid_fraction: float = 0.1,
                            image_size: int = 32, progress: Callable[[int, int], None] | None = None) -> dict:
    """Render `per_class` images of each of the 43 classes into `out_dir` (Udacity pickle layout).

    The first round(per_class * valid_fraction) images of every class go to valid.p, the rest to
    train.p, so both splits cover every class. `progress(done, total)` is called after each class.
    Returns counts and the paths written.
    """
    if not 0.0 <= valid_fraction < 1.0:
        raise ValueError(f"valid_fraction must be in [0, 1), got {valid_fraction}")
    if per_class < (2 if valid_fraction > 0 else 1):
        raise ValueError(f"per_class must be at least {2 if valid_fraction > 0 else 1} "
                         f"(one train and one valid image per class), got {per_class}")
    # Every class gets at least one validation image (and keeps at least one for training).
    n_valid = min(max(int(round(per_class * valid_fraction)), 1), per_class - 1) if valid_fraction > 0 else 0
    out = Path(out_dir)
    (out / "samples").mkdir(parents=True, exist_ok=True)
    names = gtsrb_class_names()

    splits = {"train": [], "valid": []}
    samples = []
    for class_id in range(NUM_CLASSES):
        features, sizes, coords = render_class(class_id, per_class, seed, image_size)
        labels = np.full(per_class, class_id, np.uint8)
        for split, part in (("valid", slice(0, n_valid)), ("train", slice(n_valid, per_class))):
            splits[split].append((features[part], labels[part], sizes[part], coords[part]))
        sample_path = out / "samples" / f"{class_id:02d}_{slug(names[class_id])}.png"
        _write_png(sample_path, render_example(class_id, seed, 0, SAMPLE_SIZE, clean=True)[0])
        samples.append(str(sample_path))
        if progress is not None:
            progress(class_id + 1, NUM_CLASSES)

    paths, counts = {}, {}
    for split, parts in splits.items():
        keys = ("features", "labels", "sizes", "coords")
        arrays = {key: np.concatenate([p[k] for p in parts]) for k, key in enumerate(keys)}
        paths[split] = str(out / f"{split}.p")
        counts[split] = len(arrays["labels"])
        _write_pickle(out / f"{split}.p", arrays)

    csv = "ClassId,SignName\n" + "".join(f"{i},{n}\n" for i, n in enumerate(names))
    atomic_write(out / "signnames.csv", lambda f: f.write(csv.encode("utf-8")))
    return {
        "num_classes": NUM_CLASSES, "per_class": per_class, "train": counts["train"], "valid": counts["valid"],
        "train_path": paths["train"], "valid_path": paths["valid"], "signnames_path": str(out / "signnames.csv"),
        "samples_dir": str(out / "samples"), "samples": samples,
    }
