"""The camera that photographs a synthetic sign: output size, ROI inside the frame, determinism."""

import numpy as np

from signclf.data.synth_scene import background, photograph


def _face(size=64):
    rgb = np.zeros((size, size, 3), np.uint8)
    rgb[:, :, 0] = 200
    alpha = np.zeros((size, size), np.uint8)
    alpha[8:56, 8:56] = 255
    return rgb, alpha


def test_photograph_returns_the_image_its_size_and_a_roi_inside_it():
    for seed in range(5):
        img, (w, h), (x1, y1, x2, y2) = photograph(*_face(), np.random.default_rng(seed), out_size=24)
        assert img.shape == (24, 24, 3) and img.dtype == np.uint8
        assert 25 <= w <= 160 and 0 <= x1 < x2 <= w - 1 and 0 <= y1 < y2 <= h - 1


def test_same_rng_same_photo_and_clean_photos_are_square():
    a = photograph(*_face(), np.random.default_rng(3), out_size=16)
    b = photograph(*_face(), np.random.default_rng(3), out_size=16)
    assert np.array_equal(a[0], b[0]) and a[1:] == b[1:]
    _, (w, h), _ = photograph(*_face(), np.random.default_rng(3), out_size=16, clean=True)
    assert (w, h) == (16, 16)


def test_background_is_a_float_image_in_0_1():
    bg = background(np.random.default_rng(0), 20, 30)
    assert bg.shape == (20, 30, 3) and 0 <= bg.min() and bg.max() <= 1 and bg.std() > 0
