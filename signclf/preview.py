"""`signclf data preview`: a PNG grid of what the network sees after preprocessing and augmentation.

Row = one training image; first column the prepared image, then augmented draws of it, produced by
the same in-graph `augment_batch` that training runs (different step seeds, as successive steps).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from signclf.config import Config
from signclf.text import cut_end

PREVIEW_FILE = "augment-preview.png"
LABEL_WIDTH = 28
FONT_SIZE = 8


def default_preview_path(cfg: Config) -> Path:
    """augment-preview.png beside the training data (inside it when data.train is a folder)."""
    train = Path(cfg.data.train).expanduser() if cfg.data.train else Path(".")
    return (train if train.is_dir() else train.parent) / PREVIEW_FILE


def augmented_grid(cfg: Config, rows: int = 8, variants: int = 7, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """(uint8 image of rows × (1 + variants) tiles, one "id name" label per row) of training images."""
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
        out, _ = augment_batch(x, y, cfg.augment, tf.stack([tf.constant(seed, tf.int64), step]),
                               gtsrb_mirror_table(ds.num_classes))
        with tf.Session(graph=graph) as sess:
            draws = [sess.run(out, {x: images.astype(np.float32), y: labels, step: s}) for s in range(variants)]

    # The picture's channels only: extra gray views (preprocess.extra) are augmented alike and not shown.
    picture = cfg.preprocess.picture_channels
    images, draws = images[..., :picture], [d[..., :picture] for d in draws]
    tiles = np.concatenate([images[None].astype(np.float32)] + [d[None] for d in draws], axis=0)  # V×R×H×W×C
    tiles = np.clip(tiles, 0, 255).astype(np.uint8)
    v, r, h, w, c = tiles.shape
    pad = np.full((v, r, h + 2, w + 2, c), 255, np.uint8)
    pad[:, :, 1:-1, 1:-1] = tiles
    grid = pad.transpose(1, 2, 0, 3, 4).reshape(r * (h + 2), v * (w + 2), c)
    names = [f"{int(k)} {cut_end(ds.class_names[int(k)], LABEL_WIDTH)}" for k in labels]
    return (grid if c == 3 else np.repeat(grid, 3, axis=2)), names


def draw_preview(grid: np.ndarray, row_names: list[str], path, title: str) -> Path:
    """The grid with its column headers ("prepared", "draw 1", …), row labels and a title, as a PNG."""
    from signclf.plots import new_figure, save_png

    rows = len(row_names)
    tile = grid.shape[0] / rows
    columns = int(round(grid.shape[1] / tile))
    fig = new_figure(3.2 + columns * 0.8, 1.0 + rows * 0.8)
    ax = fig.add_subplot()
    ax.imshow(grid, interpolation="nearest")
    ax.set_xticks((np.arange(columns) + 0.5) * tile, ["prepared"] + [f"draw {i}" for i in range(1, columns)],
                  fontsize=FONT_SIZE)
    ax.xaxis.tick_top()
    ax.set_yticks((np.arange(rows) + 0.5) * tile, row_names, fontsize=FONT_SIZE)
    ax.tick_params(length=0)
    ax.set_title(title, fontsize=FONT_SIZE + 2)
    return save_png(fig, path)


def write_preview(cfg: Config, out_path, rows: int = 8, variants: int = 7) -> Path:
    grid, names = augmented_grid(cfg, rows, variants)
    title = f"Augmentation preview: each training image prepared, then {variants} random draws"
    return draw_preview(grid, names, out_path, title)
