"""`signclf export`: turn trained run(s) into a bundle that runtimes without signclf can load.

Each run's inference graph (one tower, plain convolutions, float32: nothing tied to this machine)
is restored from its best checkpoint and frozen into constants. The members are imported into one
graph behind a single uint8 `image` input (the output of preprocess.prepare_images) and their
softmax outputs averaged, so a committee exports as one model. Members must share their
preprocessing (colour space, equalisation, image size): a model has one input, and feeding each
member its own picture would push preprocessing choices onto every user of the bundle.

Everything is written into a temp folder beside --out and renamed into place at the end, so an
interrupted export leaves no half bundle.
"""

from __future__ import annotations

import contextlib
import platform
import shutil
import tempfile
from pathlib import Path

import numpy as np
import tensorflow.compat.v1 as tf

from signclf import __version__, rundir
from signclf.atomic import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    replace_folder,
    shareable_dir,
)
from signclf.bundle import BUNDLE_FORMAT, CONFIG, FILES, METADATA, check_destination, require, sha256
from signclf.config import config_to_yaml
from signclf.device import Device
from signclf.errors import CheckpointError
from signclf.tensorflow_import import stderr_muted

ONNX_OPSET = 17
REPRESENTATIVE_IMAGES = 300  # training images that calibrate the int8 model's ranges


def preprocessing_key(cfg) -> tuple:
    """What decides the uint8 picture a member is fed (normalisation is inside the graph)."""
    p = cfg.preprocess
    return (cfg.data.image_size, p.color, p.equalize, tuple(p.extra)) + (
        (p.clahe_clip, p.clahe_grid) if "clahe" in (p.equalize, *p.extra) else ())


def _frozen_member(run_dir: Path):
    """(RunInfo, checkpoint, GraphDef with the weights as constants) of one run."""
    from signclf.checkpoints import find_checkpoint, restore
    from signclf.graph import build_inference_graph, weights_to_restore

    info = rundir.read_run(run_dir)
    net = build_inference_graph(info.cfg, info.stats, len(info.class_names), Device.portable())
    checkpoint = find_checkpoint(run_dir, "best")
    with tf.Session(graph=net.graph) as sess:
        restore(sess, checkpoint, weights_to_restore(net.graph, info.cfg.train.ema_decay > 0), f"run {run_dir}")
        frozen = tf.graph_util.convert_variables_to_constants(sess, net.graph.as_graph_def(), ["probabilities"])
    return info, checkpoint, frozen


def _check_members(run_dirs, infos) -> None:
    first = infos[0]
    for run_dir, info in zip(run_dirs[1:], infos[1:]):
        if info.class_names != first.class_names:
            raise CheckpointError(f"{run_dir}: its classes differ from {run_dirs[0]}'s; "
                                  f"a committee needs runs trained on the same classes")
        if preprocessing_key(info.cfg) != preprocessing_key(first.cfg):
            raise CheckpointError(f"{run_dir}: its preprocessing {preprocessing_key(info.cfg)} differs from "
                                  f"{run_dirs[0]}'s {preprocessing_key(first.cfg)}; an exported committee has "
                                  f"one input, so export these runs as separate bundles (one --run each) and "
                                  f"average them with predict/evaluate --model A --model B")


def _write_saved_model(frozen_members, cfg, folder: Path):
    """One graph: image → every member → mean softmax; written as a SavedModel without variables."""
    size, channels = cfg.data.image_size, cfg.preprocess.channels
    graph = tf.Graph()
    with graph.as_default():
        image = tf.placeholder(tf.uint8, [None, size, size, channels], name="image")
        outputs = [tf.import_graph_def(frozen, input_map={"images:0": image}, return_elements=["probabilities:0"],
                                       name=f"member{i}")[0] for i, frozen in enumerate(frozen_members)]
        mean = outputs[0] if len(outputs) == 1 else tf.add_n(outputs) / float(len(outputs))
        probabilities = tf.identity(mean, name="probabilities")
        classes = tf.argmax(probabilities, 1, output_type=tf.int64, name="classes")
        with tf.Session(graph=graph) as sess:
            builder = tf.saved_model.Builder(str(folder))
            signature = tf.saved_model.predict_signature_def({"image": image}, {"probabilities": probabilities,
                                                                                 "classes": classes})
            builder.add_meta_graph_and_variables(sess, [tf.saved_model.SERVING],
                                                 signature_def_map={"serving_default": signature},
                                                 strip_default_attrs=True)
            builder.save()
    return graph.as_graph_def()


def _write_onnx(graph_def, path: Path) -> None:
    require("tf2onnx")
    import tf2onnx

    # tf2onnx names its inputs and outputs after the TensorFlow tensors; rename them to the signature's.
    model, _ = tf2onnx.convert.from_graph_def(graph_def, input_names=["image:0"],
                                              output_names=["probabilities:0", "classes:0"], opset=ONNX_OPSET)
    renames = {"image:0": "image", "probabilities:0": "probabilities", "classes:0": "classes"}
    for node in model.graph.node:
        node.input[:] = [renames.get(n, n) for n in node.input]
        node.output[:] = [renames.get(n, n) for n in node.output]
    for value in list(model.graph.input) + list(model.graph.output):
        value.name = renames.get(value.name, value.name)
    atomic_write_bytes(path, model.SerializeToString())


def _representative_images(cfg, log) -> np.ndarray:
    """A fixed random draw of prepared training images (the int8 model's calibration set)."""
    from signclf.data.loading import load_split
    from signclf.preprocess import prepare_images

    train = load_split(cfg, "train", log=log)
    pick = np.random.default_rng(0).permutation(len(train.images))[:REPRESENTATIVE_IMAGES]
    return prepare_images(train.images[np.sort(pick)], cfg.preprocess, cfg.data.image_size)


def _write_tflite(saved_model: Path, path: Path, representative=None, verbose: bool = False) -> None:
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model), signature_key="serving_default")
    if representative is not None:
        # Post-training integer quantisation: weights and activations int8, calibrated on training
        # images; the input stays the uint8 picture, so callers feed exactly what the float model takes.
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([representative[i:i + 1]] for i in range(len(representative)))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
        converter.inference_input_type = tf.uint8
        # One scale per dense layer instead of one per output unit: per-unit scales and zero points
        # (12 bytes each) are a tenth of LeNet's int8 file, for no accuracy the verify table can see.
        converter._experimental_disable_per_channel_quantization_for_dense_layers = True
    with contextlib.nullcontext() if verbose else stderr_muted():
        model = converter.convert()
    atomic_write_bytes(path, model)


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    found = {"signclf": __version__, "python": platform.python_version()}
    for package in ("tensorflow", "tf2onnx", "onnx", "numpy"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            pass
    return found


def _validation_accuracy(info) -> float | None:
    try:
        return rundir.read_summary(info.paths.root).get("best_valid_acc")
    except CheckpointError:
        return None


def export(run_dirs, out, formats, force: bool = False, log=print, before_publish=None,
           verbose: bool = False) -> Path:
    """Write the bundle for `run_dirs` (one run or a committee) into `out`; returns its path.

    `before_publish(folder)` sees the finished bundle before it is renamed to `out` (--verify); if
    it raises, nothing is published. `verbose` lets the TFLite converter's own log lines through."""
    out = Path(out)
    check_destination(out, force)
    if "onnx" in formats:
        require("tf2onnx")
    tf.disable_eager_execution()
    members = [_frozen_member(Path(r)) for r in run_dirs]
    infos = [m[0] for m in members]
    for _, checkpoint, _ in members:
        if checkpoint.note:
            log(f"note: {checkpoint.note}")
    _check_members(run_dirs, infos)
    cfg = infos[0].cfg
    out.parent.mkdir(parents=True, exist_ok=True)
    work = shareable_dir(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        log(f"exporting {len(run_dirs)} run(s) to {out}: {', '.join(formats)}")
        graph_def = _write_saved_model([m[2] for m in members], cfg, work / FILES["saved_model"])
        if "onnx" in formats:
            _write_onnx(graph_def, work / FILES["onnx"])
        if "tflite" in formats:
            _write_tflite(work / FILES["saved_model"], work / FILES["tflite"], verbose=verbose)
        if "tflite-int8" in formats:
            _write_tflite(work / FILES["saved_model"], work / FILES["tflite-int8"], _representative_images(cfg, log),
                          verbose)
        atomic_write_text(work / CONFIG, config_to_yaml(cfg))
        atomic_write_json(work / METADATA, _metadata(run_dirs, members, formats, work))
        if before_publish is not None:
            before_publish(work)
        replace_folder(work, out)  # an old `out` (only with --force) goes only once the new one is there
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return out


def _metadata(run_dirs, members, formats, work: Path) -> dict:
    info = members[0][0]
    cfg, p = info.cfg, info.cfg.preprocess
    files = {fmt: {"path": FILES[fmt], "sha256": sha256(work / FILES[fmt]),
                   "bytes": sum(f.stat().st_size for f in (work / FILES[fmt]).rglob("*") if f.is_file())
                   if fmt == "saved_model" else (work / FILES[fmt]).stat().st_size} for fmt in formats}
    if "onnx" in files:
        files["onnx"]["opset"] = ONNX_OPSET
    return {
        "format": BUNDLE_FORMAT,
        "class_names": info.class_names,
        "input": {"name": "image", "dtype": "uint8", "shape": [None, cfg.data.image_size, cfg.data.image_size,
                                                                p.channels]},
        "outputs": {"probabilities": {"dtype": "float32", "shape": [None, len(info.class_names)]},
                    "classes": {"dtype": "int64", "shape": [None]}},
        "preprocess": {"image_size": cfg.data.image_size, "color": p.color, "equalize": p.equalize,
                       "extra_gray_channels": list(p.extra), "clahe_clip": p.clahe_clip, "clahe_grid": p.clahe_grid,
                       "input_color": "RGB", "resize": "cv2.INTER_AREA when shrinking, cv2.INTER_LINEAR otherwise",
                       "note": "mean/std normalisation is inside the model; feed the uint8 picture"},
        "members": [{"run": str(Path(r).resolve()), "checkpoint": str(checkpoint), "stats": m_info.stats,
                     "valid_accuracy": _validation_accuracy(m_info)}
                    for r, (m_info, checkpoint, _) in zip(run_dirs, members)],
        "committee": "mean of the members' softmax" if len(run_dirs) > 1 else None,
        "files": files,
        "config_sha256": sha256(work / CONFIG),
        "versions": _versions(),
    }
