"""The report's pictures, drawn from plain arrays and records (no TensorFlow here): learning
curves, confusion matrix, the most confident mistakes, feature maps, Grad-CAM overlays and the
robustness heatmap. Each function writes one PNG through signclf.plots and returns its path.

The page embeds every PNG, so they are drawn at a modest resolution (DPI): a whole report for 43
classes stays around a megabyte.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from signclf.evaluate import plot_confusion
from signclf.plots import new_figure, save_png
from signclf.text import cut_end, printable

DPI = 80
NAME_WIDTH = 24  # characters of a class name under a picture
SALIENCY_SIDE = 96  # pixels each image and its overlay are drawn at
_OVERLAY_ALPHA = 0.45  # share of the heatmap in a Grad-CAM overlay


def class_label(class_names, class_id: int, width: int = NAME_WIDTH) -> str:
    """"<id> <name>", the name made printable and cut to `width` characters."""
    return f"{class_id} {cut_end(printable(class_names[class_id]), width)}"


def _lines(lines) -> str:
    """Caption lines (a sequence of str) as one text, each line made printable."""
    return "\n".join(printable(line) for line in lines)


def _floats(rows, key: str) -> list[float]:
    """Column `key` of metrics.csv rows as floats (NaN where a row lacks it)."""
    out = []
    for row in rows:
        try:
            out.append(float(row.get(key) or "nan"))
        except ValueError:
            out.append(math.nan)
    return out


def plot_learning_curves(rows: list[dict], path, title: str, best_epoch: int | None = None):
    """Loss and accuracy (train vs valid) and the learning rate per epoch, from metrics.csv rows."""
    epochs = _floats(rows, "epoch")
    fig = new_figure(11, 3.2)
    panels = fig.subplots(1, 3)
    for ax, key, label in ((panels[0], "loss", "loss"), (panels[1], "acc", "accuracy")):
        ax.plot(epochs, _floats(rows, f"train_{key}"), marker=".", label="train")
        ax.plot(epochs, _floats(rows, f"valid_{key}"), marker=".", label="valid")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    panels[2].plot(epochs, _floats(rows, "lr"), marker=".", color="tab:green")
    panels[2].set_xlabel("epoch")
    panels[2].set_ylabel("learning rate")
    panels[2].grid(alpha=0.3)
    if best_epoch:
        for ax in panels:
            ax.axvline(best_epoch, color="grey", linestyle=":", linewidth=1)
        panels[0].annotate(f"best epoch {best_epoch} ", (best_epoch, 0.98), xycoords=("data", "axes fraction"),
                           fontsize=8, color="grey", ha="right", va="top")
    panels[1].legend(loc="center right", fontsize=8)
    fig.suptitle(printable(title), fontsize=10)
    return save_png(fig, path, dpi=DPI)


def plot_confusion_matrix(matrix, class_names, path, title: str):
    """The confusion matrix exactly as `signclf evaluate` draws it (names on both axes)."""
    plot_confusion(matrix, class_names, path, title)
    return path


def plot_mistakes(images, labels, top_ids, top_probs, class_names, path, columns: int = 6):
    """A grid of misclassified images: each with its true class and the model's top-3 guesses."""
    n = len(images)
    rows = max(1, math.ceil(n / columns))
    fig = new_figure(columns * 2.1, rows * 2.7)
    for i in range(rows * columns):
        ax = fig.add_subplot(rows, columns, i + 1)
        ax.set_axis_off()
        if i >= n:
            continue
        ax.imshow(images[i], interpolation="nearest")
        guesses = "\n".join(f"{p:.2f} {class_label(class_names, int(c), 18)}" for c, p in zip(top_ids[i], top_probs[i]))
        ax.set_title(f"true {class_label(class_names, int(labels[i]), 18)}\n{guesses}", fontsize=8, loc="left",
                     family="monospace")
    return save_png(fig, path, dpi=90)


def feature_mosaic(maps: np.ndarray) -> np.ndarray:
    """H×W×C activations → one 2-D picture about twice as wide as high, channels as tiles left to
    right, each scaled to its own maximum (a dead channel stays 0); NaN in the 1-pixel gaps."""
    h, w, c = maps.shape
    columns = min(c, math.ceil(math.sqrt(2 * c)))
    rows = math.ceil(c / columns)
    mosaic = np.full((rows * (h + 1) - 1, columns * (w + 1) - 1), np.nan, np.float32)
    peak = maps.reshape(-1, c).max(0)
    for k in range(c):
        r, q = divmod(k, columns)
        scaled = maps[:, :, k] / peak[k] if peak[k] > 0 else np.zeros((h, w))
        mosaic[r * (h + 1):r * (h + 1) + h, q * (w + 1):q * (w + 1) + w] = scaled
    return mosaic


def plot_feature_maps(maps: np.ndarray, path, title: str):
    """One convolution stage's output for one image: every channel as a small grey tile."""
    import matplotlib

    mosaic = feature_mosaic(np.asarray(maps, np.float32))
    width = 3.7
    fig = new_figure(width, width * mosaic.shape[0] / mosaic.shape[1] + 0.35)
    ax = fig.add_subplot()
    cmap = matplotlib.colormaps["gray"].with_extremes(bad="white")
    ax.imshow(np.ma.masked_invalid(mosaic), cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(printable(title), fontsize=9)
    return save_png(fig, path, dpi=DPI)


def plot_input(image_rgb: np.ndarray, views, path, caption):
    """An image as given and as the network sees it after preprocessing (colour space, CLAHE, size):
    `views` are preprocess.views' (name, picture) pairs, one panel each."""
    panels = [("as given", image_rgb)] + [(name, picture) for name, picture in views]
    fig = new_figure(1.3 * len(panels), 1.75)
    for i, (label, picture) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        gray = picture.ndim == 2 or picture.shape[-1] == 1
        ax.imshow(picture.squeeze(), cmap="gray" if gray else None, vmin=0, vmax=255, interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(label, fontsize=8)
    fig.suptitle(_lines(caption), fontsize=8)
    return save_png(fig, path, dpi=DPI)


def grad_cam(activations: np.ndarray, gradients: np.ndarray, side: int) -> np.ndarray:
    """Grad-CAM (Selvaraju et al. 2017) from one image's last-stage activations and the gradient
    of the class logit with respect to them (both H×W×C): ReLU of the channels summed with their
    mean gradient as weights, scaled to [0, 1] and resized to side×side."""
    weights = np.asarray(gradients, np.float64).mean(axis=(0, 1))
    cam = np.maximum((np.asarray(activations, np.float64) * weights).sum(-1), 0)
    cam = cam / cam.max() if cam.max() > 0 else cam
    return np.clip(cv2.resize(cam.astype(np.float32), (side, side), interpolation=cv2.INTER_LINEAR), 0, 1)


def _fit(image_rgb: np.ndarray, side: int) -> np.ndarray:
    shrink = image_rgb.shape[0] > side or image_rgb.shape[1] > side
    return cv2.resize(image_rgb, (side, side), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def overlay(image_rgb: np.ndarray, cam: np.ndarray) -> np.ndarray:
    """The image resized to the cam's size with the cam drawn over it as a jet heatmap (uint8 RGB)."""
    import matplotlib

    heat = matplotlib.colormaps["jet"](cam)[..., :3] * 255
    blend = (1 - _OVERLAY_ALPHA) * _fit(image_rgb, cam.shape[0]).astype(np.float32) + _OVERLAY_ALPHA * heat
    return np.clip(blend, 0, 255).astype(np.uint8)


def saliency_pair(image_rgb: np.ndarray, cam: np.ndarray, gap: int = 4) -> np.ndarray:
    """The image and its overlay side by side, `gap` white pixels apart (uint8 RGB)."""
    side = cam.shape[0]
    white = np.full((side, gap, 3), 255, np.uint8)
    return np.concatenate([_fit(image_rgb, side), white, overlay(image_rgb, cam)], axis=1)


def plot_saliency(images, cams, captions, path, title: str, columns: int = 4):
    """Each image beside its Grad-CAM overlay, captioned above with its lines (e.g. true and
    predicted class)."""
    n = len(images)
    columns = max(1, min(columns, n))
    rows = max(1, math.ceil(n / columns))
    fig = new_figure(columns * 2.8, rows * 1.9 + 0.3)
    for i in range(n):
        ax = fig.add_subplot(rows, columns, i + 1)
        ax.imshow(saliency_pair(images[i], cams[i]), interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(_lines(captions[i]), fontsize=7.5, family="monospace", loc="left")
    fig.suptitle(printable(title), fontsize=9)
    return save_png(fig, path, dpi=DPI)


def plot_robustness(robustness: dict, path):
    """Accuracy per corruption (rows, weakest first) and severity (columns), with each row's mean."""
    corruptions = robustness["corruptions"]
    names = sorted(corruptions, key=lambda name: float(np.mean(corruptions[name])))
    severities = robustness.get("severities")
    if not isinstance(severities, list) or len(severities) != len(corruptions[names[0]]):
        severities = list(range(1, len(corruptions[names[0]]) + 1))
    grid = np.array([list(corruptions[name]) + [float(np.mean(corruptions[name]))] for name in names], np.float64)
    fig = new_figure(6.4, 0.32 * len(names) + 1.5)
    ax = fig.add_subplot()
    image = ax.imshow(grid, cmap="RdYlGn", vmin=min(grid.min(), 0.5), vmax=max(robustness.get("clean_acc", 1.0),
                                                                              grid.max()), aspect="auto")
    ax.set_xticks(range(len(severities) + 1), [str(s) for s in severities] + ["mean"], fontsize=8)
    ax.set_yticks(range(len(names)), [printable(name) for name in names], fontsize=8)
    ax.set_xlabel("severity")
    for (r, c), value in np.ndenumerate(grid):
        ax.text(c, r, f"{100 * value:.1f}", ha="center", va="center", fontsize=7)
    fig.colorbar(image, ax=ax, shrink=0.8, label="accuracy")
    ax.set_title(f"accuracy (%) on corrupted copies: clean {100 * robustness['clean_acc']:.2f}, "
                 f"mean corrupted {100 * robustness['mean_corruption_acc']:.2f}", fontsize=9)
    return save_png(fig, path, dpi=DPI)
