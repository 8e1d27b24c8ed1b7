"""Udacity traffic-sign pickles (train.p / valid.p / test.p), loaded without running their code.

A pickle can name any importable callable; plain `pickle.load` would call it. The restricted
unpickler below resolves only the handful of NumPy internals needed to rebuild arrays and refuses
everything else *before* calling it, so a hostile payload runs nothing.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np

from signclf.data.dataset import Dataset, gtsrb_class_names
from signclf.errors import DataError

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),  # protocol-2 pickles rebuild byte strings with it; it only encodes text
    ("builtins", "dict"),
    ("builtins", "list"),
    ("__builtin__", "dict"),
    ("__builtin__", "list"),
    ("copy_reg", "_reconstructor"),  # Python 2 pickles of ndarray subclasses name these two
    ("copyreg", "_reconstructor"),
    ("__builtin__", "object"),
    ("builtins", "object"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: "
                                     f"only dicts, lists and NumPy arrays are allowed")


def safe_load_pickle(path):
    """Load a pickle that may contain only dicts, lists and NumPy arrays (Python 2 pickles too)."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})")
    try:
        return _RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()
    except pickle.UnpicklingError as e:
        raise DataError(f"{path}: unsafe or corrupt pickle ({e}); refusing to load it")
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, MemoryError, OverflowError,
            UnicodeDecodeError, ImportError) as e:
        raise DataError(f"{path}: not a readable pickle ({type(e).__name__}: {e})")


def _scaled_rois(obj, n_images: int, image_size: int):
    """ROIs from `coords` (original pixels) scaled by 32/size onto the stored images."""
    coords, sizes = obj.get("coords"), obj.get("sizes")
    if coords is None or sizes is None:
        return None
    coords = np.asarray(coords, dtype=np.float32)
    sizes = np.asarray(sizes, dtype=np.float32)
    if coords.shape != (n_images, 4) or sizes.shape != (n_images, 2) or (sizes <= 0).any():
        return None
    scale = np.concatenate([image_size / sizes, image_size / sizes], axis=1)
    return coords * scale


def read_pickle(path, class_names=None) -> Dataset:
    """A Udacity pickle: dict with `features` uint8 N×32×32×3 RGB and `labels`; `sizes`/`coords` optional."""
    obj = safe_load_pickle(path)
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a dict with 'features' and 'labels', got {type(obj).__name__}")
    obj = {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}
    missing = [k for k in ("features", "labels") if k not in obj]
    if missing:
        raise DataError(f"{path}: missing key(s) {missing}; a Udacity pickle has 'features' and 'labels'")
    features, labels = obj["features"], np.asarray(obj["labels"])
    if not isinstance(features, np.ndarray) or features.ndim != 4 or features.shape[-1] != 3 \
            or features.shape[1] != features.shape[2]:
        shape = getattr(features, "shape", type(features).__name__)
        raise DataError(f"{path}: 'features' must be N×S×S×3 RGB images, got shape {shape}")
    if features.dtype != np.uint8:
        if np.issubdtype(features.dtype, np.floating) or np.issubdtype(features.dtype, np.integer):
            if features.size and (features.min() < 0 or features.max() > 255):
                raise DataError(f"{path}: 'features' must be uint8 pixel values 0..255, got {features.dtype} "
                                f"ranging {features.min()}..{features.max()}")
            features = features.astype(np.uint8)
        else:
            raise DataError(f"{path}: 'features' must be uint8, got {features.dtype}")
    if labels.ndim != 1 or not (np.issubdtype(labels.dtype, np.integer) or labels.size == 0):
        raise DataError(f"{path}: 'labels' must be a 1-D integer array, got {labels.dtype} {labels.shape}")
    names = list(class_names) if class_names else list(gtsrb_class_names())
    sizes = obj.get("sizes")
    sizes = np.asarray(sizes) if sizes is not None and np.shape(sizes) == (len(features), 2) else None
    return Dataset(features, labels.astype(np.int64), names,
                   rois=_scaled_rois(obj, len(features), features.shape[1]), source=str(path), sizes=sizes)
