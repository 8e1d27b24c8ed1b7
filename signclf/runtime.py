"""Run an exported bundle without TensorFlow: ONNX Runtime for model.onnx, the LiteRT interpreter
for the .tflite models.

`BundleModel` offers what evaluate and predict use of inference.Committee (`class_names`, `cfg`,
`probabilities(images_rgb, batch_size)`), and feeds the model the same uint8 pictures LoadedRun
does, from the same preprocess.prepare_images. `BundleCommittee` averages several bundles: each
prepares the pictures its own way, so members trained on different preprocessing (which one
exported model cannot hold) still ship as a committee.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from signclf.bundle import read_bundle, require
from signclf.config import INFERENCE_BATCH_SIZE
from signclf.device import usable_cores
from signclf.errors import CheckpointError
from signclf.preprocess import prepare_images
from signclf.tensorflow_import import stderr_muted

RUNTIME_FORMATS = ("onnx", "tflite", "tflite-int8")


class _OnnxModel:
    def __init__(self, path: Path):
        require("onnxruntime")
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = usable_cores()
        # Idle ONNX Runtime threads would otherwise spin on the cores that predict's decoding threads
        # need between batches: over a folder of PNGs, spinning costs about a fifth of the images/s.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def run(self, prepared: np.ndarray) -> np.ndarray:
        return self.session.run(["probabilities"], {"image": prepared})[0]


class _LiteModel:
    def __init__(self, path: Path):
        require("ai_edge_litert")
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=str(path), num_threads=usable_cores())
        self.input = self.interpreter.get_input_details()[0]["index"]
        self.output = next(o for o in self.interpreter.get_output_details() if "probabilities" in o["name"])["index"]
        self.batch = None

    def run(self, prepared: np.ndarray) -> np.ndarray:
        if self.batch != len(prepared):  # the interpreter's tensors have a fixed batch: resize on change
            self.interpreter.resize_tensor_input(self.input, prepared.shape)
            with stderr_muted():
                self.interpreter.allocate_tensors()
            self.batch = len(prepared)
        self.interpreter.set_tensor(self.input, prepared)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output).copy()


class BundleModel:
    """A bundle's model in one runtime; `probabilities` maps RGB uint8 images to N×K softmax."""

    def __init__(self, root, fmt: str = "onnx", verify: bool = True):
        self.bundle = read_bundle(root)
        self.root, self.format = self.bundle.root, fmt
        path = self.bundle.path(fmt)
        if verify:
            self.bundle.verify([fmt])
        self.cfg = self.bundle.load_config()
        self.class_names = self.bundle.class_names
        self.model = _OnnxModel(path) if fmt == "onnx" else _LiteModel(path)

    def probabilities(self, images_rgb, batch_size: int = INFERENCE_BATCH_SIZE) -> np.ndarray:
        out = [self.model.run(prepare_images(images_rgb[start:start + batch_size], self.cfg.preprocess,
                                             self.cfg.data.image_size))
               for start in range(0, len(images_rgb), batch_size)]
        return np.concatenate(out) if out else np.zeros((0, len(self.class_names)), np.float32)

    @property
    def sources(self) -> list[str]:
        return [m["run"] for m in self.bundle.meta.get("members", [])]

    @property
    def model_files(self) -> list[str]:
        return [str(self.bundle.path(self.format))]

    def close(self):
        self.model = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class BundleCommittee:
    """Several bundles as one model: the mean of their softmax outputs (as inference.Committee)."""

    def __init__(self, members):
        self.members = members
        names = members[0].class_names
        for member in members[1:]:
            if member.class_names != names:
                self.close()
                raise CheckpointError(f"{member.root}: its classes differ from {members[0].root}'s; "
                                      f"a committee needs models trained on the same classes")
        self.class_names, self.cfg, self.root = names, members[0].cfg, members[0].root

    def probabilities(self, images_rgb, batch_size: int = INFERENCE_BATCH_SIZE) -> np.ndarray:
        return np.mean([m.probabilities(images_rgb, batch_size) for m in self.members], axis=0)

    @property
    def sources(self) -> list[str]:
        return [source for m in self.members for source in m.sources]

    @property
    def model_files(self) -> list[str]:
        return [str(m.bundle.path(m.format)) for m in self.members]

    def close(self):
        for member in self.members:
            member.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def bundle_root(path) -> Path:
    """The bundle folder of `--model PATH` (the folder itself, or the folder a model file is in)."""
    path = Path(path)
    return path.parent if path.suffix in (".onnx", ".tflite") else path


def model_format(path) -> str | None:
    """The format of a model file in a bundle; None for the bundle folder itself."""
    return {"model.tflite": "tflite", "model-int8.tflite": "tflite-int8", "model.onnx": "onnx"}.get(Path(path).name)


def open_model(path, verify: bool = True) -> BundleModel:
    """`--model PATH`: a model file inside a bundle, or the bundle folder (its ONNX model, else its
    float TFLite, else its int8 one)."""
    root = bundle_root(path)
    fmt = model_format(path)
    if fmt is None:
        available = read_bundle(root).formats
        fmt = next((f for f in RUNTIME_FORMATS if f in available), "onnx")  # none: BundleModel names the fix
    return BundleModel(root, fmt, verify)


def open_models(paths, verify: bool = True) -> BundleModel | BundleCommittee:
    """Repeated `--model`: one bundle as it is, several as a committee."""
    paths = list(paths)
    if len(paths) == 1:
        return open_model(paths[0], verify)
    members = []
    try:
        for path in paths:
            members.append(open_model(path, verify))
    except BaseException:
        for member in members:
            member.close()
        raise
    return BundleCommittee(members)
