"""Declared image sizes are read from headers, so huge images are refused before decoding."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from signclf.data import images
from signclf.data.image_header import declared_size
from signclf.errors import DataError

REPO = Path(__file__).resolve().parents[1]


def png_bomb(width: int, height: int, rgba16: bool = False) -> bytes:
    """A valid PNG of width×height zeros, 1-bit grey (or 16-bit RGBA, 8 bytes a pixel when decoded
    as declared): tens of KB (or about a MB) on disk."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = b"\0" * (1 + (width * 8 if rgba16 else (width + 7) // 8))
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, *((16, 6) if rgba16 else (1, 0)), 0, 0, 0)
    return images_png_magic() + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def images_png_magic() -> bytes:
    return b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".ppm", ".pgm", ".tif", ".webp"])
def test_declared_size_matches_what_opencv_writes(ext):
    img = np.random.default_rng(0).integers(0, 255, (23, 41, 3), np.uint8)
    if ext == ".pgm":
        img = img[:, :, 0]
    ok, buf = cv2.imencode(ext, img)
    assert ok and declared_size(buf.tobytes()) == (41, 23)


def test_declared_size_of_gif_and_lossless_webp_from_pillow():
    for fmt, extra in (("GIF", {}), ("WEBP", {"lossless": True})):
        out = io.BytesIO()
        Image.new("RGB", (37, 19)).save(out, format=fmt, **extra)
        assert declared_size(out.getvalue()) == (37, 19)


def test_netpbm_comments_and_unknown_bytes():
    assert declared_size(b"P6\n# made by hand\n300 200\n255\n") == (300, 200)
    assert declared_size(b"not an image at all") is None
    assert declared_size(b"\xff\xd8\xff\xe0\x00") is None  # a JPEG cut before its frame header


def test_a_20000x20000_png_bomb_is_refused_from_its_header(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_bomb(20000, 20000))
    assert path.stat().st_size < 100_000
    start = time.perf_counter()
    with pytest.raises(DataError) as e:
        images.read_image(path)
    assert str(e.value) == f"{path}: image too large: 20000×20000 pixels, limit {images.MAX_PIXELS:,}"
    assert time.perf_counter() - start < 0.5


def read_in_a_child(path) -> tuple[str, int]:
    """What read_image says of `path` in a fresh process (the image's shape, or the error) and that
    process's peak memory in MB (VmHWM: ru_maxrss would include the parent's at fork)."""
    probe = ("import re, sys\nfrom signclf.data.images import read_image\nfrom signclf.errors import DataError\n"
             "try:\n    img = read_image(sys.argv[1])\n    print(img.shape, img.dtype)\n"
             "except DataError as e:\n    print(e)\n"
             "print(int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)) // 1024)\n")
    proc = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, timeout=120,
                          cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    said, peak_mb = proc.stdout.strip().splitlines()
    return said, int(peak_mb)


def test_refusing_the_bomb_keeps_memory_low(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_bomb(20000, 20000))
    said, peak_mb = read_in_a_child(path)
    assert "image too large" in said and peak_mb < 400


def test_an_image_at_the_limit_costs_3_bytes_a_pixel_whatever_it_declares(tmp_path):
    side = int(images.MAX_PIXELS ** 0.5)
    path = tmp_path / "deep.png"
    path.write_bytes(png_bomb(side, side, rgba16=True))  # declared 16-bit RGBA: 8 bytes a pixel as stored
    assert path.stat().st_size < 1_200_000
    said, peak_mb = read_in_a_child(path)
    assert said == f"({side}, {side}, 3) uint8"
    assert peak_mb < 400  # as stored it would be 8·side² bytes (256 MB) plus copies: over 1 GB


def test_opencv_cap_is_set_before_cv2_loads():
    assert os.environ["OPENCV_IO_MAX_IMAGE_PIXELS"] == str(images.MAX_PIXELS)
