"""The safe unpickler: hostile pickles are refused in one line, never crash, never balloon."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import hostile_pickles as hp
import numpy as np
import pytest

from signclf.data import safe_pickle
from signclf.data.pickles import read_pickle
from signclf.data.readers import load_dataset
from signclf.data.safe_pickle import safe_load_pickle
from signclf.errors import DataError

REPO = Path(__file__).resolve().parents[1]


def _refused(path, *extra) -> str:
    with pytest.raises(DataError) as e:
        read_pickle(path)
    message = str(e.value)
    assert "\n" not in message and str(path) in message and "refused" in message
    for words in extra:
        assert words in message
    return message


def test_plain_arrays_of_every_protocol_load_writeable_and_equal(tmp_path):
    arrays = {"u1": np.arange(24, dtype=np.uint8).reshape(2, 2, 2, 3), "f4": np.linspace(0, 1, 6, dtype=np.float32),
              "big": np.arange(4, dtype=">i8"), "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
              "scalar": np.int64(7), "nested": [{"b": np.zeros(2, bool)}]}
    for protocol in (2, 3, 4, 5):
        path = tmp_path / f"p{protocol}.p"
        path.write_bytes(pickle.dumps(arrays, protocol=protocol))
        loaded = safe_load_pickle(path)
        for key in ("u1", "f4", "big", "fortran"):
            np.testing.assert_array_equal(loaded[key], arrays[key])
            assert loaded[key].dtype.kind == arrays[key].dtype.kind and loaded[key].flags.writeable
        assert loaded["scalar"] == 7 and loaded["nested"][0]["b"].dtype == bool


@pytest.mark.parametrize("forged, words", [(hp.object_dtype_coords, "'O8'"), (hp.object_flags_coords, "object flags")])
def test_object_dtype_over_raw_bytes_is_refused_without_crashing(tmp_path, forged, words):
    path = tmp_path / "forged.p"
    path.write_bytes(forged())
    # In a child process: on a loader that builds the array, this dereferences fake pointers (SIGSEGV).
    proc = subprocess.run([sys.executable, "-c", "import sys\nfrom signclf.data.pickles import read_pickle\n"
                           "from signclf.errors import DataError\n"
                           "try:\n    read_pickle(sys.argv[1])\nexcept DataError as e:\n    print(e)\n"
                           "    sys.exit(1)\n", str(path)],
                          capture_output=True, text=True, timeout=60, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 1, proc.stderr[-500:]
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1 and "refused" in lines[0] and words in lines[0]


def test_dtype_whose_state_claims_itemsize_zero_is_refused(tmp_path):
    path = tmp_path / "zero-stride.p"
    path.write_bytes(hp.zero_itemsize_features())
    assert path.stat().st_size < 400
    _refused(path, "doctored item size")


def test_shape_claiming_200000_images_over_three_bytes_is_refused(tmp_path):
    path = tmp_path / "short.p"
    path.write_bytes(hp.short_data_features())
    _refused(path, "needs 614400000 bytes, the data has 3")


def test_codecs_hex_doubling_chain_is_refused_at_once(tmp_path):
    path = tmp_path / "codecs.p"
    path.write_bytes(hp.codecs_doubling(levels=20))  # 64 MiB if decoded
    start = time.perf_counter()
    _refused(path, "_codecs.encode", "only latin-1")
    assert time.perf_counter() - start < 1


def test_latin1_codecs_output_counts_against_the_budget(tmp_path, monkeypatch):
    monkeypatch.setattr(safe_pickle, "BUDGET_EXTRA", 0)
    path = tmp_path / "py2.p"
    path.write_bytes(pickle.dumps({"features": np.zeros((40, 32, 32, 3), np.uint8)}, protocol=2))
    monkeypatch.setattr(safe_pickle, "BUDGET_FACTOR", 1)  # the file's size cannot pay for text + bytes + array
    with pytest.raises(DataError, match="refused.*expands to more than 1× its file size"):
        safe_load_pickle(path)
    monkeypatch.setattr(safe_pickle, "BUDGET_FACTOR", 4)
    assert safe_load_pickle(path)["features"].shape == (40, 32, 32, 3)


def test_reconstruct_without_build_is_refused_not_uninitialised(tmp_path):
    path = tmp_path / "nobuild.p"
    path.write_bytes(hp.reconstruct_without_build())
    _refused(path, "declared but its data never given")


def test_calling_ndarray_directly_is_refused(tmp_path):
    path = tmp_path / "ndarray-call.p"
    path.write_bytes(hp.PROTO2 + hp.glob("numpy", "ndarray") + hp.tuple_of(hp.tuple_of(hp.integer(10**6))) + hp.REDUCE
                     + hp.STOP)
    _refused(path, "not callable")


@pytest.mark.parametrize("code", ["O", "V8", "S4", "U2", "M8", "(3,)u1", "c16"])
def test_only_plain_number_dtypes_are_allowed(tmp_path, code):
    path = tmp_path / "dtype.p"
    path.write_bytes(hp.udacity_dict(coords=hp.array((1,), hp.dtype(code), b"\0" * 16)))
    _refused(path, "not a plain number type")


def test_dev_zero_is_refused_before_reading(tmp_path):
    start = time.perf_counter()
    with pytest.raises(DataError, match="refused: not a regular file") as e:
        load_dataset("/dev/zero", fmt="pickle")
    assert "\n" not in str(e.value) and time.perf_counter() - start < 1


def test_a_file_over_the_size_limit_is_refused_without_reading(tmp_path):
    path = tmp_path / "huge.p"
    with open(path, "wb") as f:
        f.truncate(safe_pickle.MAX_FILE_BYTES + 1)  # sparse: no disk used
    with pytest.raises(DataError, match="refused: .* bytes is more than"):
        safe_load_pickle(path)


MEMORY_PROBE = """
import re, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1536 << 20, 1536 << 20))
from signclf.data.pickles import read_pickle
from signclf.errors import DataError
for path in sys.argv[1:]:
    try:
        read_pickle(path)
        print("LOADED", path)
    except DataError as e:
        print("REFUSED" if "refused" in str(e) else "OTHER", str(e)[:200])
peak_kb = int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1))  # this image's peak RSS
print("PEAK_MB", peak_kb // 1024)
"""


def test_hostile_pickles_stay_under_a_memory_bound(tmp_path):
    """Every crafted file under 1 MB is refused by a loader limited to 1.5 GB of address space, peak < 1 GB."""
    files = {"codecs.p": hp.codecs_doubling(levels=26), "zero.p": hp.zero_itemsize_features(),
             "short.p": hp.short_data_features(), "object.p": hp.object_dtype_coords(),
             "flags.p": hp.object_flags_coords(),
             "nobuild.p": hp.reconstruct_without_build()}
    paths = []
    for name, data in files.items():
        assert len(data) < 1 << 20
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    env = {**os.environ, "PYTHONPATH": str(REPO), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", MEMORY_PROBE, *paths], capture_output=True, text=True,
                          timeout=120, cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stderr[-800:]
    lines = proc.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines[:-1]] == ["REFUSED"] * len(files), lines
    assert lines[-1].startswith("PEAK_MB") and int(lines[-1].split()[1]) < 1024


def test_the_file_bytes_are_freed_without_waiting_for_the_garbage_collector(tmp_path):
    import gc

    def rss_mb():
        return int(Path("/proc/self/status").read_text().split("VmRSS:")[1].split()[0]) / 1024

    path = tmp_path / "big.p"
    path.write_bytes(pickle.dumps({"features": np.ones((4000, 32, 32, 3), np.uint8)}, protocol=4))  # 12 MB
    gc.collect()
    gc.disable()
    try:
        safe_load_pickle(path)
        before = rss_mb()
        for _ in range(5):
            safe_load_pickle(path)
        grown = rss_mb() - before
    finally:
        gc.enable()
    assert grown < 20  # a cycle holding each load's file and arrays would add ~24 MB per load
