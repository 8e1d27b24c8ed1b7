"""The one preprocessing path that train, evaluate and predict all go through, so they never disagree.

Two halves:
- `prepare_images` (host, NumPy/OpenCV, deterministic per image): resize, colour space, histogram
  equalisation or CLAHE. Output stays uint8 so it is cheap to hold in memory and to feed.
- `normalize` (in the graph): uint8 → float, minus the training set's per-channel mean, over its std;
  model.build_logits folds it into the first convolution's weights when that is exact (VALID).
  The statistics come from `compute_stats` on the training set and are saved with the run
  (preprocess.json); evaluate and predict read them back from there.
"""

from __future__ import annotations

import cv2
import numpy as np

from signclf.config import PreprocessConfig
from signclf.data.images import resize


def _to_color_space(img: np.ndarray, color: str) -> np.ndarray:
    if color == "rgb":
        return img
    if color == "gray":
        return cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    return cv2.cvtColor(img, cv2.COLOR_RGB2YUV)[:, :, 0]  # "y": luma only, as Sermanet & LeCun


def _equalize(img: np.ndarray, cfg: PreprocessConfig, clahe) -> np.ndarray:
    if cfg.equalize == "none":
        return img
    if img.ndim == 2:
        return clahe.apply(img) if clahe is not None else cv2.equalizeHist(img)
    # Colour: equalise the luma only, so hues stay as they were.
    yuv = cv2.cvtColor(img, cv2.COLOR_RGB2YUV)
    yuv[:, :, 0] = clahe.apply(yuv[:, :, 0]) if clahe is not None else cv2.equalizeHist(yuv[:, :, 0])
    return cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB)


def prepare_images(images, cfg: PreprocessConfig, image_size: int) -> np.ndarray:
    """RGB uint8 images (an N×H×W×3 array or a list of any sizes) → uint8 N×S×S×C, C = 3 or 1."""
    n = len(images)
    channels = cfg.channels
    out = np.empty((n, image_size, image_size, channels), np.uint8)
    if n == 0:
        return out
    if cfg.color == "rgb" and cfg.equalize == "none" and isinstance(images, np.ndarray) \
            and images.shape[1:3] == (image_size, image_size):
        out[:] = images  # the common case: nothing to do per image
        return out
    clahe = cv2.createCLAHE(cfg.clahe_clip, (cfg.clahe_grid, cfg.clahe_grid)) if cfg.equalize == "clahe" else None
    for i, img in enumerate(images):
        img = _equalize(_to_color_space(resize(img, image_size), cfg.color), cfg, clahe)
        out[i] = img.reshape(image_size, image_size, channels)
    return out


def compute_stats(prepared: np.ndarray, cfg: PreprocessConfig) -> dict:
    """Per-channel mean and std of the prepared training images (identity when normalize is off)."""
    c = prepared.shape[-1]
    if not cfg.normalize:
        return {"mean": [0.0] * c, "std": [255.0] * c}
    # Chunked float64 sums: exact enough and never a float copy of the whole set in memory.
    total = np.zeros(c)
    total_sq = np.zeros(c)
    for start in range(0, len(prepared), 8192):
        chunk = prepared[start:start + 8192].reshape(-1, c).astype(np.float64)
        total += chunk.sum(0)
        total_sq += (chunk ** 2).sum(0)
    count = prepared.size // c
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean ** 2, 1e-6))
    return {"mean": mean.round(6).tolist(), "std": std.round(6).tolist()}


def normalize(images_uint8, stats: dict):
    """In-graph: uint8 N×H×W×C → float32 standardised with the saved statistics.

    Written as one multiply-add, x·(1/std) + (−mean/std): a division per pixel costs a fifth of
    LeNet-5's inference time on a CPU.
    """
    import tensorflow.compat.v1 as tf

    mean = np.asarray(stats["mean"], np.float64)
    std = np.asarray(stats["std"], np.float64)
    scale = tf.constant((1.0 / std).astype(np.float32), name="inv_std")
    offset = tf.constant((-mean / std).astype(np.float32), name="neg_mean_over_std")
    x = images_uint8 if images_uint8.dtype == tf.float32 else tf.cast(images_uint8, tf.float32)
    return x * scale + offset
