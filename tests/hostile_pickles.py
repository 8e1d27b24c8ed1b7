"""Hand-assembled hostile pickles (a few hundred bytes each), for the tests of the safe unpickler.

Each opcode is written out so the files contain exactly the attack and nothing pickle.dumps would
normalise away. Shared by test_data_safe_pickle.py and its subprocess helpers.
"""

from __future__ import annotations

import struct

PROTO2 = b"\x80\x02"
MARK, STOP, REDUCE, BUILD, NONE = b"(", b".", b"R", b"b", b"N"
TUPLE, TUPLE1, TUPLE2, TUPLE3 = b"t", b"\x85", b"\x86", b"\x87"
NEWFALSE, EMPTY_DICT, SETITEM = b"\x89", b"}", b"s"


def glob(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def text(s: str) -> bytes:
    data = s.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def raw(data: bytes) -> bytes:
    return b"B" + struct.pack("<I", len(data)) + data


def integer(n: int) -> bytes:
    return b"J" + struct.pack("<i", n)


def tuple_of(*items: bytes) -> bytes:
    return MARK + b"".join(items) + TUPLE


def dtype(code: str, elsize: int = -1, byteorder: str = "|", flags: int = 0) -> bytes:
    """numpy.dtype(code, False, True) with its BUILD state (itemsize `elsize`, -1 meaning its own)."""
    state = tuple_of(integer(3), text(byteorder), NONE, NONE, NONE, integer(elsize), integer(-1), integer(flags))
    return glob("numpy", "dtype") + tuple_of(text(code), NEWFALSE, b"\x88") + REDUCE + state + BUILD


def reconstruct() -> bytes:
    """numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), b'b'): an array awaiting its BUILD."""
    return glob("numpy.core.multiarray", "_reconstruct") + tuple_of(
        glob("numpy", "ndarray"), tuple_of(integer(0)), raw(b"b")) + REDUCE


def array(shape, dtype_ops: bytes, data: bytes) -> bytes:
    state = tuple_of(integer(1), tuple_of(*map(integer, shape)), dtype_ops, NEWFALSE, raw(data))
    return reconstruct() + state + BUILD


def udacity_dict(**fields: bytes) -> bytes:
    """A pickle of {name: value, ...} with valid tiny features and labels unless overridden."""
    fields.setdefault("features", array((1, 1, 1, 3), dtype("u1"), b"\x00\x01\x02"))
    fields.setdefault("labels", array((1,), dtype("u1"), b"\x00"))
    body = b"".join(text(k) + v + SETITEM for k, v in fields.items())
    return PROTO2 + EMPTY_DICT + body + STOP


def object_dtype_coords() -> bytes:
    """`coords` as an object array over raw bytes: fake object pointers beside valid fields."""
    return udacity_dict(coords=array((1, 4), dtype("O8", elsize=8, flags=63), b"\x41" * 32))


def object_flags_coords() -> bytes:
    """`coords` as uint64 whose dtype's BUILD sets the "holds objects" flags: raw bytes taken for pointers."""
    return udacity_dict(coords=array((1, 4), dtype("u8", flags=63), b"\x41" * 32))


def zero_itemsize_features(n_images: int = 200_000) -> bytes:
    """uint8 features whose dtype's BUILD claims itemsize 0: no data, yet `n_images` images."""
    return udacity_dict(features=array((n_images, 32, 32, 3), dtype("u1", elsize=0), b""))


def short_data_features(n_images: int = 200_000) -> bytes:
    """A shape of `n_images` images over three bytes of data."""
    return udacity_dict(features=array((n_images, 32, 32, 3), dtype("u1"), b"abc"))


def codecs_doubling(levels: int) -> bytes:
    """_codecs.encode(..., 'hex') nested `levels` deep around 64 bytes: 64·2^levels bytes decoded."""
    put, get = b"q\x01", b"h\x01"
    head = glob("_codecs", "encode") + put + b"0" + text("hex") + b"q\x02" + b"0"  # memoise, then pop
    calls = get * levels + raw(b"A" * 64) + (b"h\x02" + TUPLE2 + REDUCE) * levels
    return PROTO2 + head + EMPTY_DICT + text("features") + calls + SETITEM + STOP


def reconstruct_without_build() -> bytes:
    """`labels` left as _reconstruct made it: no BUILD ever gives it shape or data."""
    return udacity_dict(labels=reconstruct())
