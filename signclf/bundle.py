"""An exported model bundle: its file names, its metadata (signclf-model.json) and the checks that
a bundle is complete and untampered. Reading a bundle needs no TensorFlow.

    BUNDLE/
        signclf-model.json   format version, classes, preprocessing, sources, versions, SHA-256s
        config.yaml          the (first) source run's config: preprocessing and data paths
        saved_model/         serve tag, serving_default: image uint8 [N,S,S,C] → probabilities, classes
        model.onnx  model.tflite  model-int8.tflite        (those that were asked for)

A reader refuses a bundle whose format is newer than BUNDLE_FORMAT instead of guessing.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from signclf.errors import CheckpointError, ConfigError, SignclfError

BUNDLE_FORMAT = 1
METADATA = "signclf-model.json"
CONFIG = "config.yaml"
# --format name → file or folder in the bundle; saved_model is what the others are converted from.
FILES = {"saved_model": "saved_model", "onnx": "model.onnx", "tflite": "model.tflite",
         "tflite-int8": "model-int8.tflite"}
# Which package each runtime needs, and the extra that installs it.
EXTRAS = {"tf2onnx": "export", "onnx": "export", "onnxruntime": "runtime", "ai_edge_litert": "tflite"}


def require(module: str) -> None:
    """One line naming the pip command when an optional package is missing."""
    if importlib.util.find_spec(module) is None:
        extra = EXTRAS[module]
        raise SignclfError(f"{module} is not installed; run: pip install 'signclf[{extra}]' "
                           f"(or pip install -e '.[{extra}]' in a clone)")


def parse_formats(text: str) -> list[str]:
    """'onnx,tflite' → ['saved_model', 'onnx', 'tflite'] (the SavedModel is always written)."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in FILES]
    if unknown or not names:
        raise ConfigError(f"--format {text!r}: unknown format {', '.join(unknown) or '(none)'}; "
                          f"choose from {','.join(FILES)}")
    return ["saved_model"] + [n for n in FILES if n in names and n != "saved_model"]


def check_destination(out, force: bool) -> None:
    """An export never mixes its files into a folder that holds something, unless --force."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise SignclfError(f"{out}: already exists and is not empty; pass --force to replace it "
                           f"or choose another --out")


def sha256(path) -> str:
    """Of a file, or of a folder: every file's relative path and bytes, in sorted order."""
    path = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        if path.is_dir():
            digest.update(f.relative_to(path).as_posix().encode() + b"\0")
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Bundle:
    root: Path
    meta: dict

    @property
    def class_names(self) -> list[str]:
        return list(self.meta["class_names"])

    @property
    def formats(self) -> list[str]:
        return list(self.meta["files"])

    def path(self, fmt: str) -> Path:
        if fmt not in self.meta["files"]:
            raise SignclfError(f"{self.root}: has no {fmt} model (it has {', '.join(self.formats)}); "
                               f"export it with signclf export --format {fmt}")
        return self.root / FILES[fmt]

    def load_config(self):
        from signclf.config import load_config

        return load_config(self.root / CONFIG)

    def verify(self, formats=None) -> None:
        """Each file's SHA-256 against the metadata: a missing or changed file is one line."""
        for fmt in formats or self.formats:
            self._check(self.path(fmt), self.meta["files"][fmt]["sha256"])
        self._check(self.root / CONFIG, self.meta["config_sha256"])

    def _check(self, path: Path, expected: str) -> None:
        if not path.exists():
            raise CheckpointError(f"{path}: missing from the bundle; export it again with signclf export")
        if sha256(path) != expected:
            raise CheckpointError(f"{path}: SHA-256 differs from {METADATA} (changed or damaged); "
                                  f"export it again with signclf export")


def read_bundle(root) -> Bundle:
    """The bundle's metadata, checked for its format version (not yet its hashes: see Bundle.verify)."""
    import json

    root = Path(root)
    meta_path = root / METADATA
    if not meta_path.is_file():
        raise CheckpointError(f"{root}: not a signclf model bundle (no {METADATA}); "
                              f"make one with signclf export --run RUN --out {root}")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        fmt = int(meta["format"])
        meta["class_names"], meta["files"]  # noqa: B018 - present, or the bundle is damaged
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{meta_path}: damaged ({type(e).__name__}: {e}); "
                              f"export it again with signclf export") from None
    if fmt > BUNDLE_FORMAT:
        raise CheckpointError(f"{root}: bundle format {fmt} is newer than this signclf reads ({BUNDLE_FORMAT}); "
                              f"read it with the signclf version that wrote it (see its versions.signclf)")
    return Bundle(root, meta)
