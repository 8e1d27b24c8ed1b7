"""`signclf data summary`: what a dataset holds, before an hour of training finds out the hard way.

Prints images per split and per class and the original image sizes, and draws a class
histogram and a grid of samples per class. Matplotlib is imported only here, only when drawing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from signclf.data.dataset import Dataset
from signclf.data.readers import load_dataset
from signclf.errors import DataError
from signclf.plots import new_figure, save_png
from signclf.text import cut_end, printable

HISTOGRAM_FILE = "class_histogram.png"
SAMPLES_FILE = "sample_grid.png"
SAMPLES_PER_CLASS = 8
NAME_WIDTH = 44
LABEL_WIDTH = 32  # class names on a picture's axis
FONT_SIZE = 8


@dataclass
class Summary:
    text: str  # the printed report
    files: list[Path]  # the PNGs written


def _short(name: str, width: int) -> str:
    return cut_end(printable(name), width)  # names come from the user's files: escaped for the terminal


def split_from_name(path) -> str:
    """The split a dataset path most likely holds, from its name: test.p → test, valid/ → valid."""
    name = Path(path).name.lower()
    if "test" in name:
        return "test"
    if "val" in name:
        return "valid"
    return "train"


def specs_for_paths(paths) -> list[tuple[str, Path]]:
    """(split, path) for each path; a folder of train.p/valid.p/test.p gives one pair per split it holds."""
    from signclf.data.pickles import SPLIT_FILES, is_pickle_set

    specs = []
    for path in map(Path, paths):
        if is_pickle_set(path):
            specs += [(split, path) for split, name in SPLIT_FILES.items() if (path / name).is_file()]
        else:
            specs.append((split_from_name(path), path))
    return specs


def default_out_dir(specs) -> Path:
    """Where the pictures go unless told: the first dataset's folder (the folder itself, or a file's)."""
    first = Path(specs[0][1]).expanduser()
    return first if first.is_dir() else first.parent


def load_specs(specs, *, fmt="auto", image_size=32, class_names=None) -> dict[str, Dataset]:
    """{label: Dataset} for (split, path) pairs; a split named twice is labelled by its path too."""
    datasets: dict[str, Dataset] = {}
    for split, path in specs:
        label = split if split not in datasets else f"{split}:{Path(path).name}"
        datasets[label] = load_dataset(path, fmt=fmt, split=split, image_size=image_size, roi_crop=False,
                                       class_names=class_names)
    names = {tuple(ds.class_names) for ds in datasets.values()}
    if len(names) > 1:
        raise DataError("the datasets have different class names; summarise them separately")
    return datasets


def _size_line(ds: Dataset) -> str:
    if ds.sizes is None:
        return f"original sizes not recorded (stored at {ds.images.shape[2]}×{ds.images.shape[1]})"
    w, h = np.asarray(ds.sizes).T
    return (f"original width {w.min()}–{w.max()} (median {np.median(w):g}), "
            f"height {h.min()}–{h.max()} (median {np.median(h):g}) pixels")


def describe(datasets: dict[str, Dataset]) -> str:
    """The text report: one line per split, then a table of classes × splits."""
    lines = []
    for label, ds in datasets.items():
        tracks = "" if ds.track_ids is None else f", {len(np.unique(ds.track_ids)):,} tracks"
        present = len(np.unique(ds.labels))
        lines.append(f"{label}: {len(ds):,} images, {present} of {ds.num_classes} classes{tracks} "
                     f"({printable(ds.source)})")
        lines.append(f"  {_size_line(ds)}")
        lines += [f"  note: {printable(note)}" for note in ds.notes]  # what the reader changed, e.g. rescaled pixels
    class_names = next(iter(datasets.values())).class_names
    counts = {label: np.bincount(ds.labels, minlength=len(class_names)) for label, ds in datasets.items()}
    widths = [max(7, len(label)) for label in counts]
    header = f"{'id':>3}  {'name':<{NAME_WIDTH}}" + "".join(f"  {label:>{w}}" for label, w in zip(counts, widths))
    lines += ["", header, "-" * len(header)]
    for i, name in enumerate(class_names):
        row = "".join(f"  {c[i]:>{w},}" for c, w in zip(counts.values(), widths))
        lines.append(f"{i:>3}  {_short(name, NAME_WIDTH):<{NAME_WIDTH}}{row}")
    lines.append("-" * len(header))
    lines.append(f"{'':>3}  {'total':<{NAME_WIDTH}}" + "".join(f"  {c.sum():>{w},}" for c, w in zip(counts.values(),
                                                                                                  widths)))
    return "\n".join(lines)


def _save(fig, path: Path) -> Path:
    return save_png(fig, path)  # a full disk or read-only folder: one line naming the file (atomic.FileWriteError)


def _label(class_id: int, name: str) -> str:
    return f"{class_id} {_short(name, LABEL_WIDTH)}"


def write_class_histogram(datasets: dict[str, Dataset], path: Path) -> Path:
    """Horizontal bars per class (labelled with id and name), one colour per split, legend beside the plot."""
    class_names = next(iter(datasets.values())).class_names
    k = len(class_names)
    fig = new_figure(9.0, max(3.0, k * 0.24 + 1.2))
    ax = fig.add_subplot()
    height = 0.8 / len(datasets)
    for j, (label, ds) in enumerate(datasets.items()):
        ax.barh(np.arange(k) + (j - (len(datasets) - 1) / 2) * height, np.bincount(ds.labels, minlength=k),
                height, label=label)
    ax.set_yticks(np.arange(k), [_label(i, n) for i, n in enumerate(class_names)], fontsize=FONT_SIZE)
    ax.set(ylim=(k - 0.4, -0.6), xlabel="images", title="Images per class and split")
    ax.tick_params(axis="x", labelsize=FONT_SIZE)
    ax.legend(title="split", loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=FONT_SIZE)
    return _save(fig, path)


def sample_mosaic(ds: Dataset, per_class: int = SAMPLES_PER_CLASS, seed: int = 0, pad: int = 2) -> np.ndarray:
    """One row per class of up to `per_class` random images (blank where a class has fewer)."""
    size = ds.images.shape[1]
    cell = size + pad
    mosaic = np.full((ds.num_classes * cell + pad, per_class * cell + pad, 3), 255, np.uint8)
    rng = np.random.default_rng(seed)
    for c in range(ds.num_classes):
        members = np.flatnonzero(ds.labels == c)
        for j, i in enumerate(rng.choice(members, min(per_class, len(members)), replace=False)):
            y, x = pad + c * cell, pad + j * cell
            mosaic[y:y + size, x:x + size] = ds.images[i]
    return mosaic


def write_sample_grid(ds: Dataset, path: Path, per_class: int = SAMPLES_PER_CLASS, seed: int = 0) -> Path:
    per_class = max(1, min(per_class, int(np.bincount(ds.labels).max())))  # no empty columns
    mosaic = sample_mosaic(ds, per_class, seed)
    rows = ds.num_classes
    fig = new_figure(per_class * 0.45 + 3.8, rows * 0.45 + 0.8)
    ax = fig.add_subplot()
    ax.imshow(mosaic, interpolation="nearest")  # one image, not rows×cols axes: fast for 43×8
    cell = mosaic.shape[0] / rows
    ax.set_yticks((np.arange(rows) + 0.5) * cell)
    ax.set_yticklabels([_label(i, n) for i, n in enumerate(ds.class_names)], fontsize=FONT_SIZE)
    ax.set_xticks([])
    title = f"Samples per class ({ds.source})" if len(ds.source) < 60 else "Samples per class"
    ax.set_title(title, fontsize=FONT_SIZE + 1)
    return _save(fig, path)


def summarize(specs, out_dir=None, *, fmt="auto", image_size=32, class_names=None) -> Summary:
    """Load every (split, path) in `specs`, describe them, and write the two PNGs into `out_dir`
    (default: the first dataset's folder)."""
    if not specs:
        raise DataError("no dataset to summarise; give a path, or --train/--valid/--test")
    datasets = load_specs(specs, fmt=fmt, image_size=image_size, class_names=class_names)
    out_dir = Path(out_dir) if out_dir is not None else default_out_dir(specs)
    shown = datasets.get("train") or next(iter(datasets.values()))  # samples of what the model learns from
    files = [write_class_histogram(datasets, out_dir / HISTOGRAM_FILE),
             write_sample_grid(shown, out_dir / SAMPLES_FILE)]
    return Summary(describe(datasets), files)
