"""`signclf export --verify`: run a dataset through every format of a bundle and through the Saver
path (inference.Committee, what evaluate and predict use) and compare.

Float formats (SavedModel, ONNX in ONNX Runtime and in OpenCV's dnn, float TFLite) must give the
same argmax on every image and probabilities within FLOAT_TOLERANCE; the int8 model is expected to
differ a little and reports its accuracy change and how much smaller it is than the float TFLite.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from signclf.bundle import FILES, read_bundle
from signclf.config import INFERENCE_BATCH_SIZE
from signclf.errors import SignclfError
from signclf.preprocess import prepare_images

FLOAT_TOLERANCE = 1e-4


@dataclass
class Row:
    name: str  # what ran: "saver", a --format name, or "opencv-dnn"
    file: str
    agreement: float  # share of images whose argmax equals the Saver path's
    max_delta: float  # max |Δprob| against the Saver path
    accuracy: float
    size: int  # bytes on disk (0 for the Saver path's checkpoint, which is not one file)
    images_per_s: float

    @property
    def is_float(self) -> bool:
        return self.name != "tflite-int8"

    @property
    def passes(self) -> bool:
        return not self.is_float or (self.agreement == 1.0 and self.max_delta <= FLOAT_TOLERANCE)


def _timed(probabilities, images) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    probs = probabilities(images)
    return probs, len(images) / max(time.perf_counter() - start, 1e-9)


def _batched(run_prepared, cfg, batch_size: int):
    def probabilities(images):
        return np.concatenate([run_prepared(prepare_images(images[i:i + batch_size], cfg.preprocess,
                                                           cfg.data.image_size))
                               for i in range(0, len(images), batch_size)])
    return probabilities


def _saved_model(path: Path):
    import tensorflow.compat.v1 as tf

    graph = tf.Graph()
    sess = tf.Session(graph=graph)
    try:
        loaded = tf.saved_model.loader.load(sess, [tf.saved_model.SERVING], str(path))
        signature = loaded.signature_def["serving_default"]
    except BaseException:
        sess.close()
        raise
    image, probs = signature.inputs["image"].name, signature.outputs["probabilities"].name
    return sess, lambda x: sess.run(probs, {image: x})


def _opencv(path: Path):
    import cv2

    net = cv2.dnn.readNetFromONNX(str(path))

    def run(x):
        net.setInput(x, "image")
        return net.forward("probabilities")
    return run


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else path.stat().st_size


def verify(bundle_dir, run_dirs, data_path=None, batch_size: int = INFERENCE_BATCH_SIZE, log=print) -> list[Row]:
    """One Row per format (the Saver path first); raises SignclfError when a float format disagrees."""
    from signclf.data.loading import load_split
    from signclf.inference import Committee
    from signclf.runtime import BundleModel

    bundle = read_bundle(bundle_dir)
    bundle.verify()
    cfg = bundle.load_config()
    dataset = load_split(cfg, "valid", data_path, log=log)
    images, labels = dataset.images, dataset.labels

    rows, reference = [], None

    def add(name, file, probs, speed, size):
        nonlocal reference
        if reference is None:
            reference = probs
        rows.append(Row(name, file, float((probs.argmax(1) == reference.argmax(1)).mean()),
                        float(np.abs(probs - reference).max()), float((probs.argmax(1) == labels).mean()),
                        size, speed))

    with Committee(run_dirs) as committee:
        add("saver", "checkpoint(s)", *_timed(lambda x: committee.probabilities(x, batch_size), images), 0)
    sess, run_saved = _saved_model(bundle.path("saved_model"))
    with sess:
        add("saved_model", FILES["saved_model"] + "/", *_timed(_batched(run_saved, cfg, batch_size), images),
            _size(bundle.path("saved_model")))
    for fmt in ("onnx", "tflite", "tflite-int8"):
        if fmt in bundle.formats:
            with BundleModel(bundle.root, fmt, verify=False) as model:
                add(fmt, FILES[fmt], *_timed(lambda x: model.probabilities(x, batch_size), images),
                    _size(bundle.path(fmt)))
    if "onnx" in bundle.formats:
        add("opencv-dnn", FILES["onnx"], *_timed(_batched(_opencv(bundle.path("onnx")), cfg, batch_size), images),
            _size(bundle.path("onnx")))
    return rows


def format_table(rows: list[Row]) -> str:
    """The table --verify prints; the int8 line adds its accuracy change and its size ratio."""
    lines = [f"{'format':12s} {'file':20s} {'argmax agree':>12s} {'max |Δprob|':>11s} {'accuracy':>8s} "
             f"{'size':>10s} {'images/s':>9s}  verdict"]
    by_name = {r.name: r for r in rows}
    for r in rows:
        if r.name == "saver":
            verdict = "reference"
        elif r.is_float:
            verdict = "ok" if r.passes else f"FAILED (needs 100% and ≤ {FLOAT_TOLERANCE:g})"
        else:
            change = (r.accuracy - rows[0].accuracy) * 100
            ratio = by_name["tflite"].size / r.size if "tflite" in by_name and r.size else float("nan")
            verdict = f"int8: accuracy {change:+.2f} points, {ratio:.1f}× smaller than model.tflite"
        size = f"{r.size / 1024:,.0f} KiB" if r.size else "-"
        lines.append(f"{r.name:12s} {r.file:20s} {r.agreement:12.2%} {r.max_delta:11.2e} {r.accuracy:8.4f} "
                     f"{size:>10s} {r.images_per_s:9,.0f}  {verdict}")
    return "\n".join(lines)


def check(rows: list[Row], bundle_dir) -> None:
    failed = [r.name for r in rows if not r.passes]
    if failed:
        raise SignclfError(f"{bundle_dir}: {', '.join(failed)} disagree(s) with the checkpoint (table above); "
                           f"do not deploy this bundle, and report it with the table")
