"""Score one run (or a committee of runs) on a dataset: accuracy, top-5, per-class P/R/F1, confusion."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from signclf import rundir
from signclf.config import INFERENCE_BATCH_SIZE
from signclf.plots import new_figure, save_png
from signclf.text import cut_end, printable


def metrics_from_probabilities(probs: np.ndarray, labels: np.ndarray, class_names) -> dict:
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    k = len(class_names)
    predicted = probs.argmax(1)
    top5 = np.argsort(-probs, axis=1)[:, :5]
    precision, recall, f1, support = precision_recall_fscore_support(labels, predicted, labels=range(k),
                                                                     zero_division=0)
    return {
        "accuracy": float((predicted == labels).mean()),
        "top5_accuracy": float((top5 == labels[:, None]).any(1).mean()),
        "n": int(len(labels)),
        "macro_f1": float(f1[support > 0].mean()) if (support > 0).any() else 0.0,
        "per_class": [{"class_id": c, "name": class_names[c], "precision": round(float(precision[c]), 5),
                       "recall": round(float(recall[c]), 5), "f1": round(float(f1[c]), 5),
                       "support": int(support[c])} for c in range(k)],
        "confusion_matrix": confusion_matrix(labels, predicted, labels=range(k)).tolist(),
    }


def _confusion_csv(matrix, class_names) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["true \\ predicted"] + list(range(len(class_names))))
    for c, row in enumerate(matrix):
        writer.writerow([c] + row)
    return buf.getvalue()


# Colour = share of the true class on a power scale: a 1% confusion is visible next to a 99% diagonal.
COLOUR_GAMMA = 0.3
_CELL_INCHES = 0.22  # per class: room for one 8 pt tick label
_ANNOTATE_UP_TO = 20  # classes; with more, counts in the cells would be too small to read


def _tick_labels(class_names, width: int = 24) -> list[str]:
    return [f"{c} {cut_end(printable(name), width)}" for c, name in enumerate(class_names)]


def plot_confusion(matrix, class_names, path, title: str) -> None:
    """Row-normalised confusion matrix as a PNG: rows are true classes, columns predictions, both
    labelled with id and name; with few classes every non-zero cell shows its image count."""
    from matplotlib.colors import PowerNorm
    from matplotlib.ticker import PercentFormatter

    m = np.asarray(matrix, np.float64)
    rates = m / np.maximum(m.sum(1, keepdims=True), 1)
    k = len(class_names)
    labels = _tick_labels(class_names)
    label_inches = max(map(len, labels)) * 0.075 + 0.6  # longest 8 pt label, plus the axis title
    side = max(k * _CELL_INCHES, 3.0)
    fig = new_figure(side + label_inches + 1.6, side + label_inches + 0.9)
    ax = fig.add_subplot()
    image = ax.imshow(rates, cmap="viridis", norm=PowerNorm(COLOUR_GAMMA, vmin=0, vmax=1))
    ax.set_xticks(range(k), labels, rotation=90, fontsize=8)
    ax.set_yticks(range(k), labels, fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"Confusion matrix: {printable(title)}", fontsize=10)
    if k <= _ANNOTATE_UP_TO:
        for (row, col), count in np.ndenumerate(m):
            if count:
                ax.text(col, row, f"{int(count):,}", ha="center", va="center", fontsize=8,
                        color="black" if rates[row, col] > 0.5 else "white")
    bar = fig.colorbar(image, ax=ax, shrink=0.8, ticks=[0, 0.01, 0.05, 0.2, 0.5, 1],
                       label=f"share of the true class (power {COLOUR_GAMMA} scale)")
    bar.ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    save_png(fig, path)


def evaluate(run_dirs, split: str = "valid", data_path=None, batch_size: int = INFERENCE_BATCH_SIZE,
             log=print, tta: int = 1, checkpoint: str = "best") -> dict:
    """Evaluate run(s) on data.<split> of the first run's config, or on `data_path`; what the readers
    say while loading (e.g. which validation set) goes to `log`. `tta` > 1 averages that many views
    of each image (signclf.tta); `checkpoint` "last" scores the last epoch's weights."""
    from signclf.inference import Committee

    with Committee(run_dirs, checkpoint) as committee:
        checkpoints = [str(run.checkpoint) for run in committee.runs]
        notes = [run.checkpoint.note for run in committee.runs if run.checkpoint.note]
        return evaluate_model(committee, run_dirs, checkpoints, Path(run_dirs[0]), split, data_path, batch_size,
                              notes, log=log, tta=tta)


def evaluate_bundle(model_paths, split: str = "valid", data_path=None, batch_size: int = INFERENCE_BATCH_SIZE,
                    log=print, tta: int = 1) -> dict:
    """Evaluate exported bundle(s) (runtime.open_models: no TensorFlow; several are a committee);
    files go into the (first) bundle folder."""
    from signclf.runtime import open_models

    with open_models(model_paths) as model:
        return evaluate_model(model, list(model_paths), model.model_files, model.root, split, data_path, batch_size,
                              committee=len(model.sources) > 1, log=log, tta=tta)


def evaluate_model(model, sources, checkpoints, out_dir: Path, split: str = "valid", data_path=None,
                   batch_size: int = INFERENCE_BATCH_SIZE, notes=(), committee: bool | None = None,
                   log=print, tta: int = 1) -> dict:
    """Score anything with `cfg`, `class_names` and `probabilities` (a Committee or a runtime.BundleModel)
    and record the results in `out_dir` (under their own key with test-time augmentation)."""
    probs, dataset = score_split(model, split, data_path, batch_size, log=log, tta=tta)
    results = metrics_from_probabilities(probs, dataset.labels, model.class_names)

    key = split if data_path is None else Path(data_path).name
    if committee if committee is not None else len(sources) > 1:
        key = f"committee-{key}"
    if tta > 1:
        key = f"{key}-tta{tta}"
    results.update(dataset=str(dataset.source), split=key, runs=[str(r) for r in sources], checkpoints=checkpoints,
                   checkpoint_notes=list(notes), tta=tta)
    _save(out_dir, key, results, model.class_names, log)
    return results


def members(model) -> list:
    """The single models that `model` averages (a committee's members), or `model` itself."""
    return list(getattr(model, "members", None) or [model])


def score_split(model, split: str = "valid", data_path=None, batch_size: int = INFERENCE_BATCH_SIZE, log=print,
                tta: int = 1) -> tuple[np.ndarray, object]:
    """(N×K softmax, the dataset) of `model` on data.<split> of its config, or on `data_path`.

    Members trained at different input sizes each see the set loaded at their own size, as they
    would alone: loading once at one size would resample a 32×32 picture to 48×48 and back for the
    32-pixel members (a blur they never trained on)."""
    from signclf.data.loading import load_split
    from signclf.errors import DataError
    from signclf.tta import with_tta

    def load(cfg, log):
        dataset = load_split(cfg, split, data_path, log=log)
        if dataset.num_classes != len(model.class_names):
            raise DataError(f"{dataset.source}: has {dataset.num_classes} classes but the run was trained on "
                            f"{len(model.class_names)}")
        return dataset

    by_size = {}
    for member in members(model):
        by_size.setdefault(member.cfg.data.image_size, []).append(member)
    total, first = 0.0, None
    for size, group in by_size.items():
        dataset = load(group[0].cfg, log if first is None else lambda *a: None)
        if first is not None and not np.array_equal(dataset.labels, first.labels):
            raise DataError(f"{dataset.source}: its images come in a different order at {size} pixels; "
                            f"evaluate the members one by one")
        first = dataset if first is None else first
        for member in group:
            total = total + with_tta(member, tta).probabilities(dataset.images, batch_size)
    return total / len(members(model)), first


def _save(out_dir: Path, key: str, results: dict, class_names, log) -> None:
    """evaluation.json keeps one entry per evaluated dataset; confusion matrix as CSV and PNG.
    A folder we may not write (a shipped, read-only bundle) costs the record, never the scores."""
    from signclf.atomic import FileWriteError

    summary = {k: v for k, v in results.items() if k != "confusion_matrix"}
    results["files"] = []
    try:
        files = rundir.record_evaluation(out_dir, key, summary,
                                         _confusion_csv(results["confusion_matrix"], class_names))
        results["files"] = [str(f) for f in files[:2]]
        plot_confusion(results["confusion_matrix"], class_names, files[2],
                       f"{key}: accuracy {results['accuracy']:.4f} on {results['n']:,} images")
        results["files"].append(str(files[2]))
    except FileWriteError as e:
        if results["files"]:
            saved = ", ".join(Path(f).name for f in results["files"])
            log(f"note: the results are printed but not all saved (saved: {saved}): {e}")
        else:
            log(f"note: the results are printed but not saved: {e}")


def format_report(results: dict, worst: int = 5, name_width: int = 40) -> str:
    """The human-readable summary `signclf evaluate` prints (names escaped and cut with "…")."""
    runs = ", ".join(printable(r) for r in results["runs"])
    lines = [f"note: {printable(note)}" for note in results.get("checkpoint_notes", [])]
    views = f", mean of {results['tta']} views each" if results.get("tta", 1) > 1 else ""
    lines += [f"evaluated {runs} on {printable(results['dataset'])} ({results['n']:,} images{views})",
             f"  accuracy       {results['accuracy']:.4f}",
             f"  top-5 accuracy {results['top5_accuracy']:.4f}",
             f"  macro F1       {results['macro_f1']:.4f}",
             "  weakest classes by F1:"]
    present = [c for c in results["per_class"] if c["support"] > 0]
    id_width = len(str(max(len(results["per_class"]) - 1, 0)))
    for c in sorted(present, key=lambda c: c["f1"])[:worst]:
        name = cut_end(printable(c["name"]), name_width)
        lines.append(f"    {c['class_id']:{max(id_width, 3)}d} {name:{name_width}s} F1 {c['f1']:.3f}  "
                     f"P {c['precision']:.3f}  R {c['recall']:.3f}  n={c['support']:,}")
    if results.get("files"):
        lines.append("  wrote " + ", ".join(printable(f) for f in results["files"]))
    return "\n".join(lines)
