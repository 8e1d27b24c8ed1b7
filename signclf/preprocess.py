"""The one preprocessing path that train, evaluate and predict all go through, so they never disagree.

Two halves:
- `prepare_images` (host, NumPy/OpenCV, deterministic per image): resize, colour space, histogram
  equalisation, CLAHE, a contrast stretch or local contrast normalisation, and optionally more gray
  channels equalised other ways (`extra`). Output stays uint8 so it is cheap to hold in memory and
  to feed.
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


def _stretch(channel: np.ndarray) -> np.ndarray:
    """MATLAB's imadjust: the 1st..99th percentile stretched to 0..255 (Cireşan et al.'s "imadjust")."""
    lo, hi = np.percentile(channel, (1, 99))
    if hi - lo < 1:  # a flat picture: nothing to stretch
        return channel
    return np.clip((channel.astype(np.float32) - lo) * (255.0 / (hi - lo)), 0, 255).round().astype(np.uint8)


def _local_contrast(channel: np.ndarray) -> np.ndarray:
    """Local contrast normalisation (Jarrett et al. 2009, Sermanet & LeCun 2011): each pixel minus its
    Gaussian neighbourhood's mean, over the neighbourhood's std. The divisor is floored at the picture's
    mean local std so flat areas are not blown up into noise. The result (about ±3 std) is mapped back to
    uint8 around 128, so it is held and fed like every other preprocessing."""
    x = channel.astype(np.float32)
    sigma = channel.shape[0] / 8.0  # 4 pixels on a 32-pixel crop: the scale of a sign's strokes
    centred = x - cv2.GaussianBlur(x, (0, 0), sigma)
    spread = np.sqrt(cv2.GaussianBlur(centred * centred, (0, 0), sigma))
    z = centred / np.maximum(spread, max(float(spread.mean()), 1.0))
    return np.clip(128.0 + 40.0 * z, 0, 255).round().astype(np.uint8)


def _equalize(img: np.ndarray, how: str, clahe) -> np.ndarray:
    if how == "none":
        return img
    if how == "clahe":
        apply = clahe.apply
    else:
        apply = {"hist": cv2.equalizeHist, "stretch": _stretch, "lcn": _local_contrast}[how]
    if img.ndim == 2:
        return apply(img)
    # Colour: equalise the luma only, so hues stay as they were.
    yuv = cv2.cvtColor(img, cv2.COLOR_RGB2YUV)
    yuv[:, :, 0] = apply(yuv[:, :, 0])
    return cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB)


def prepare_images(images, cfg: PreprocessConfig, image_size: int) -> np.ndarray:
    """RGB uint8 images (an N×H×W×3 array or a list of any sizes) → uint8 N×S×S×C, C = 3 or 1."""
    n = len(images)
    channels = cfg.channels
    out = np.empty((n, image_size, image_size, channels), np.uint8)
    if n == 0:
        return out
    if cfg.color == "rgb" and cfg.equalize == "none" and not cfg.extra and isinstance(images, np.ndarray) \
            and images.shape[1:3] == (image_size, image_size):
        out[:] = images  # the common case: nothing to do per image
        return out
    clahe = cv2.createCLAHE(cfg.clahe_clip, (cfg.clahe_grid, cfg.clahe_grid)) \
        if "clahe" in (cfg.equalize, *cfg.extra) else None
    base = cfg.picture_channels
    for i, img in enumerate(images):
        img = resize(img, image_size)
        out[i, :, :, :base] = _equalize(_to_color_space(img, cfg.color), cfg.equalize, clahe).reshape(
            image_size, image_size, base)
        if cfg.extra:
            gray = _to_color_space(img, "gray")
            for k, how in enumerate(cfg.extra):
                out[i, :, :, base + k] = _equalize(gray, how, clahe)
    return out


def views(prepared: np.ndarray, cfg: PreprocessConfig) -> list[tuple[str, np.ndarray]]:
    """A prepared image (…×C) split into what a person can look at: the picture (1 or 3 channels)
    and each extra gray view, as (name, …×1 or …×3) pairs."""
    base = cfg.picture_channels
    picture = ("network input" if not cfg.extra else f"{cfg.color}, {cfg.equalize}", prepared[..., :base])
    return [picture] + [(how, prepared[..., base + k:base + k + 1]) for k, how in enumerate(cfg.extra)]


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
