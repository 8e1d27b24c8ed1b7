"""Shared fixtures: tiny datasets and configs the tests make themselves (no real GTSRB needed)."""

from __future__ import annotations

import os
import pickle

import cv2
import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

TINY_CLASSES = ["red disc", "blue square", "green triangle", "white bar"]


def draw_sign(label: int, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """A noisy picture whose class is obvious from shape and colour: learnable in a few steps."""
    img = rng.integers(0, 90, (size, size, 3), dtype=np.uint8)
    c, r = size // 2 + int(rng.integers(-2, 3)), size // 3
    if label == 0:
        cv2.circle(img, (c, c), r, (220, 30, 30), -1)
    elif label == 1:
        cv2.rectangle(img, (c - r, c - r), (c + r, c + r), (30, 30, 220), -1)
    elif label == 2:
        cv2.fillPoly(img, [np.array([[c, c - r], [c - r, c + r], [c + r, c + r]], np.int32)], (30, 200, 30))
    else:
        cv2.rectangle(img, (c - r, c - 3), (c + r, c + 3), (240, 240, 240), -1)
    return img


def make_dataset(n_per_class: int, seed: int = 0, size: int = 32, classes: int = 4):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(classes), n_per_class)
    images = np.stack([draw_sign(int(k), rng, size) for k in labels])
    return images, labels.astype(np.uint8)


def write_pickle(path, images, labels, **extra) -> str:
    with open(path, "wb") as f:
        pickle.dump({"features": images, "labels": labels, **extra}, f)
    return str(path)


@pytest.fixture
def tiny_data(tmp_path):
    """train.p / valid.p / signnames.csv for 4 easy classes."""
    d = tmp_path / "tiny"
    d.mkdir()
    write_pickle(d / "train.p", *make_dataset(24, seed=1))
    write_pickle(d / "valid.p", *make_dataset(8, seed=2))
    (d / "signnames.csv").write_text("ClassId,SignName\n" + "".join(f"{i},{n}\n" for i, n in enumerate(TINY_CLASSES)))
    return d


def tiny_overrides(data_dir, **extra) -> list[str]:
    """--set overrides for a small, fast model on the tiny data."""
    sets = {
        "data.train": f"{data_dir}/train.p",
        "data.valid": f"{data_dir}/valid.p",
        "data.class_names": f"{data_dir}/signnames.csv",
        "model.conv": "[{kernel: 3, depth: 8, pool: 2}, {kernel: 3, depth: 8, pool: 2}]",
        "model.fc": "[16]",
        "train.epochs": 2,
        "train.batch_size": 16,
        "train.learning_rate": 0.01,
    }
    sets.update(extra)
    return [f"{k}={v}" for k, v in sets.items()]


@pytest.fixture(autouse=True)
def _private_decode_cache(tmp_path_factory, monkeypatch):
    """Readers cache decoded trees; tests must not write into the user's ~/.cache."""
    monkeypatch.setenv("SIGNCLF_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(autouse=True)
def _ray_auth_mode_fixed(monkeypatch):
    """Ray reads RAY_AUTH_MODE once per process, and `sweep --address` sets it when it finds a cluster
    token (~/.ray/auth_token); run in the test process, that would put every later in-process Ray of
    the suite in token mode. A mode the user set is kept by signclf, so setting one here keeps it out."""
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
