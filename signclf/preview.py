"""`signclf data preview`: a PNG grid of what the network sees after preprocessing and augmentation.

Row = one training image; first column the prepared image, then augmented draws of it, produced by
the same in-graph `augment_batch` that training runs (different step seeds, as successive steps).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from signclf.config import Config


def augmented_grid(cfg: Config, rows: int = 8, variants: int = 7, seed: int = 0) -> np.ndarray:
    """uint8 image (rows × (1 + variants) tiles) of prepared and augmented training images."""
    import tensorflow.compat.v1 as tf

    from signclf.augment import augment_batch, gtsrb_mirror_table
    from signclf.data.loading import load_split
    from signclf.preprocess import prepare_images

    tf.disable_eager_execution()
    ds = load_split(cfg, "train")
    rng = np.random.default_rng(seed)
    # One image from each of `rows` different classes where possible: a preview should show variety.
    classes = rng.permutation(np.unique(ds.labels))[:rows]
    picks = [int(rng.choice(np.flatnonzero(ds.labels == c))) for c in classes]
    images = prepare_images(ds.images[picks], cfg.preprocess, cfg.data.image_size)
    labels = ds.labels[picks]

    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [None, *images.shape[1:]])
        y = tf.placeholder(tf.int64, [None])
        step = tf.placeholder(tf.int64, [])
        aug_cfg = cfg.augment
        out, _ = augment_batch(x, y, aug_cfg, tf.stack([tf.constant(seed, tf.int64), step]),
                               gtsrb_mirror_table(ds.num_classes))
        with tf.Session(graph=graph) as sess:
            draws = [sess.run(out, {x: images.astype(np.float32), y: labels, step: s}) for s in range(variants)]

    tiles = np.concatenate([images[None].astype(np.float32)] + [d[None] for d in draws], axis=0)  # V×R×H×W×C
    tiles = np.clip(tiles, 0, 255).astype(np.uint8)
    v, r, h, w, c = tiles.shape
    pad = np.full((v, r, h + 2, w + 2, c), 255, np.uint8)
    pad[:, :, 1:-1, 1:-1] = tiles
    grid = pad.transpose(1, 2, 0, 3, 4).reshape(r * (h + 2), v * (w + 2), c)
    return grid if c == 3 else np.repeat(grid, 3, axis=2)


def write_preview(cfg: Config, out_path, rows: int = 8, variants: int = 7, scale: int = 3) -> Path:
    import cv2

    from signclf.atomic import atomic_write_bytes

    grid = augmented_grid(cfg, rows, variants)
    grid = cv2.resize(grid, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    ok, png = cv2.imencode(".png", cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    out_path = Path(out_path)
    atomic_write_bytes(out_path, png.tobytes())
    return out_path
