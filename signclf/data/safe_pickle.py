"""Unpickle untrusted files that may hold only dicts, lists, numbers, strings and plain numeric arrays.

A pickle can name any importable callable; plain `pickle.load` would call it. Even NumPy's own
array constructors are unsafe on hostile input: an object dtype over raw bytes dereferences fake
pointers, a doctored dtype with itemsize 0 lets a few bytes claim gigabytes, and `_reconstruct`
without its state leaves uninitialised memory. So `find_class` never hands out a NumPy callable:
it hands out stand-ins that build the array themselves, only from a plain numeric dtype and a
byte string whose length matches the shape exactly, and count every byte they create against a
budget proportional to the file's size.
"""

from __future__ import annotations

import io
import math
import os
import pickle
import stat

import numpy as np

from signclf.errors import DataError

MAX_FILE_BYTES = 4 << 30  # larger than any traffic-sign pickle; refused before reading
BUDGET_FACTOR = 4  # bytes the stand-ins may create per byte of file...
BUDGET_EXTRA = 1 << 20  # ...plus this, so that tiny files can still hold a few arrays
NUMERIC_KINDS = "biuf"  # bool, signed and unsigned integers, floats: never objects, strings or records
MAX_DIMS = 32


class Refused(pickle.UnpicklingError):
    """The pickle asks for something this loader never builds."""


class _NdarrayClass:
    """What `numpy.ndarray` resolves to: an argument `_reconstruct` accepts, never callable."""


_NDARRAY = _NdarrayClass()


class _DtypeSpec:
    """A dtype request, turned into a fresh canonical dtype once its BUILD state is checked."""

    def __init__(self, dtype: np.dtype):
        self.dtype = dtype

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) < 8 or any(s is not None for s in state[2:5]):
            raise Refused("dtype with sub-arrays or fields")
        byteorder, itemsize, flags = state[1], state[5], state[7]
        if flags != 0:  # the flags that would say "holds object pointers"; a plain number has none
            raise Refused(f"dtype {self.dtype} with object flags {flags!r:.20}")
        if itemsize not in (-1, self.dtype.itemsize) or byteorder not in ("<", ">", "=", "|"):
            raise Refused(f"dtype {self.dtype} with a doctored item size or byte order")
        if byteorder in ("<", ">"):
            self.dtype = self.dtype.newbyteorder(byteorder)


class _ArraySpec:
    """What `_reconstruct` returns: an array only once BUILD has supplied checked data."""

    def __init__(self, loader: "_Unpickler"):
        self.loader = loader
        self.array = None

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise Refused("array state is not (version, shape, dtype, fortran, data)")
        shape, spec, fortran, raw = state[-4:]
        self.array = self.loader.make_array(raw, spec, shape, "F" if fortran else "C")
        self.loader = None  # no cycle back to the unpickler and the file's bytes it holds


def _numeric_dtype(spec) -> np.dtype:
    if not isinstance(spec, _DtypeSpec):
        raise Refused(f"array dtype is a {type(spec).__name__}, not a dtype")
    return spec.dtype


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, budget: int):
        super().__init__(file, encoding="latin1")  # Python 2 pickles: byte strings come back as str
        self.budget = budget
        self.stand_ins = {
            ("numpy", "ndarray"): _NDARRAY,
            ("numpy", "dtype"): self.dtype,
            ("numpy.core.multiarray", "_reconstruct"): self.reconstruct,
            ("numpy._core.multiarray", "_reconstruct"): self.reconstruct,
            ("numpy.core.multiarray", "scalar"): self.scalar,
            ("numpy._core.multiarray", "scalar"): self.scalar,
            ("numpy.core.numeric", "_frombuffer"): self.frombuffer,
            ("numpy._core.numeric", "_frombuffer"): self.frombuffer,
            ("_codecs", "encode"): self.latin1_encode,
        }

    def find_class(self, module, name):
        try:
            return self.stand_ins[(module, name)]
        except KeyError:
            raise Refused(f"it names {module}.{name}; only dicts, lists and numeric NumPy arrays are allowed")

    def spend(self, nbytes: int) -> None:
        self.budget -= nbytes
        if self.budget < 0:
            raise Refused(f"it expands to more than {BUDGET_FACTOR}× its file size")

    def _as_bytes(self, raw):
        if isinstance(raw, str):  # a Python 2 byte string, decoded as latin-1 on the way in
            self.spend(len(raw))
            return raw.encode("latin1")
        if isinstance(raw, (bytes, bytearray, pickle.PickleBuffer)):
            return raw
        raise Refused(f"array data is a {type(raw).__name__}, not bytes")

    def make_array(self, raw, spec, shape, order: str) -> np.ndarray:
        dtype = _numeric_dtype(spec)
        if not isinstance(shape, tuple) or len(shape) > MAX_DIMS \
                or not all(type(n) is int and n >= 0 for n in shape):
            raise Refused(f"array shape {shape!r:.60} is not a tuple of sizes")
        raw = self._as_bytes(raw)
        expected = math.prod(shape) * dtype.itemsize
        have = memoryview(raw).nbytes
        if have != expected:
            raise Refused(f"a {dtype} array of shape {shape} needs {expected} bytes, the data has {have}")
        self.spend(expected)
        if isinstance(raw, bytes):  # checked above, so NumPy's own setstate is safe: writeable, no copy
            array = np.empty(0, np.uint8)
            array.__setstate__((1, shape, dtype, order == "F", raw))
            return array
        return np.frombuffer(raw, dtype).reshape(shape, order=order)

    def dtype(self, obj, align=False, copy=True):
        try:
            dtype = np.dtype(obj) if isinstance(obj, str) and len(obj) <= 8 else None
        except TypeError:
            dtype = None
        if dtype is None or dtype.kind not in NUMERIC_KINDS or dtype.fields is not None \
                or dtype.subdtype is not None or dtype.hasobject:
            raise Refused(f"dtype {obj!r:.40} is not a plain number type")
        return _DtypeSpec(np.dtype(dtype.str))

    def reconstruct(self, cls, shape=None, typecode=None):
        if cls is not _NDARRAY:
            raise Refused("_reconstruct of something other than numpy.ndarray")
        return _ArraySpec(self)

    def scalar(self, spec, raw=b""):
        return self.make_array(raw, spec, (), "C")[()]

    def frombuffer(self, raw, spec, shape, order="C"):
        if order not in ("C", "F"):
            raise Refused(f"array order {order!r:.10}")
        return _Resolved(self.make_array(raw, spec, shape, order))

    def latin1_encode(self, text, encoding="utf-8", errors="strict"):
        if not isinstance(text, str) or encoding.replace("-", "").lower() != "latin1":
            raise Refused(f"_codecs.encode({type(text).__name__}, {encoding!r:.20}): only latin-1 text is decoded")
        self.spend(len(text))
        return text.encode("latin1")


class _Resolved:
    """An array already complete (protocol 5 `_frombuffer`), so that `_resolve` treats both paths alike."""

    def __init__(self, array):
        self.array = array


def _resolve(obj, seen: dict):
    """Replace every stand-in in the loaded tree by its array; refuse one that never got its data."""
    if isinstance(obj, (_ArraySpec, _Resolved)):
        if obj.array is None:
            raise Refused("an array was declared but its data never given")
        return obj.array
    if isinstance(obj, (_DtypeSpec, _NdarrayClass)):
        raise Refused("a dtype or class stands where data should be")
    if isinstance(obj, (dict, list, tuple)):
        if id(obj) in seen:
            return seen[id(obj)]
        if isinstance(obj, dict):
            out = seen[id(obj)] = {}
            out.update((_resolve(k, seen), _resolve(v, seen)) for k, v in obj.items())
            return out
        items = [_resolve(v, seen) for v in obj]
        seen[id(obj)] = out = items if isinstance(obj, list) else tuple(items)
        return out
    return obj


def _read_regular_file(path) -> bytes:
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise DataError(f"{path}: refused: not a regular file (a pickle must be a file on disk)")
        if st.st_size > MAX_FILE_BYTES:
            raise DataError(f"{path}: refused: {st.st_size:,} bytes is more than the {MAX_FILE_BYTES:,} a pickle "
                            "may have")
        with open(path, "rb") as f:
            data = f.read(st.st_size + 1)
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})")
    if len(data) > st.st_size:
        raise DataError(f"{path}: refused: the file grew while being read")
    return data


def safe_load_pickle(path):
    """Load a pickle holding only dicts, lists, scalars and numeric NumPy arrays (Python 2 pickles too).

    Anything else, or anything that would decode to more than BUDGET_FACTOR× the file's size,
    raises DataError with one line containing "refused".
    """
    data = _read_regular_file(path)
    unpickler = _Unpickler(io.BytesIO(data), BUDGET_FACTOR * len(data) + BUDGET_EXTRA)
    try:
        return _resolve(unpickler.load(), {})
    except Refused as e:
        raise DataError(f"{path}: refused to load this pickle: {e}")
    except RecursionError:
        raise DataError(f"{path}: refused to load this pickle: nested too deeply")
    except Exception as e:  # a hostile or damaged stream can make the unpickler raise almost anything
        reason = " ".join(f"{type(e).__name__}: {e}".split())[:160]
        raise DataError(f"{path}: refused to load this pickle: truncated, corrupt or not a pickle ({reason})")
    finally:
        # The stand-ins are bound methods of the unpickler, kept in its table and its memo: break that cycle
        # so the file's bytes are freed now rather than at some later garbage collection.
        unpickler.stand_ins.clear()
        unpickler.memo.clear()
