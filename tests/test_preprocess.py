import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from signclf.config import PreprocessConfig
from signclf.preprocess import compute_stats, normalize, prepare_images

tf.disable_eager_execution()


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    return rng.integers(0, 120, (5, 40, 40, 3), dtype=np.uint8)  # dark, wrong size: like real photos


@pytest.mark.parametrize("color, channels", [("rgb", 3), ("gray", 1), ("y", 1)])
@pytest.mark.parametrize("equalize", ["none", "hist", "clahe", "stretch", "lcn"])
def test_prepare_shapes_and_equalisation(images, color, channels, equalize):
    out = prepare_images(images, PreprocessConfig(color=color, equalize=equalize), 32)
    assert out.shape == (5, 32, 32, channels) and out.dtype == np.uint8
    if equalize != "none":
        assert out.max() > images.max()  # equalisation stretches a dark image's range


def test_stretch_maps_the_percentiles_to_the_full_range():
    rng = np.random.default_rng(1)
    dim = rng.integers(40, 90, (1, 32, 32, 1), dtype=np.uint8).repeat(3, -1)  # a gray, low-contrast crop
    out = prepare_images(dim, PreprocessConfig(color="gray", equalize="stretch"), 32)[0, :, :, 0]
    assert np.percentile(out, 1) <= 3 and np.percentile(out, 99) >= 252
    order = np.argsort(dim[0, :, :, 0], axis=None, kind="stable")
    assert np.all(np.diff(out.ravel()[order].astype(int)) >= 0)  # monotonic: no pixel overtakes another
    flat = np.full((1, 32, 32, 3), 77, np.uint8)
    assert np.all(prepare_images(flat, PreprocessConfig(color="gray", equalize="stretch"), 32) == 77)


def test_local_contrast_ignores_exposure_and_keeps_colour():
    rng = np.random.default_rng(2)
    pattern = rng.random((32, 32)).astype(np.float32)
    dark = (10 + 30 * pattern).astype(np.uint8)[None, :, :, None].repeat(3, -1)
    bright = (180 + 60 * pattern).astype(np.uint8)[None, :, :, None].repeat(3, -1)
    cfg = PreprocessConfig(color="gray", equalize="lcn")
    a, b = prepare_images(dark, cfg, 32).astype(int), prepare_images(bright, cfg, 32).astype(int)
    assert abs(a.mean() - 128) < 8 and abs(b.mean() - 128) < 8  # centred whatever the exposure
    assert np.abs(a - b).mean() < 6  # the same pattern, seen the same way under both exposures
    flat = prepare_images(np.full((1, 32, 32, 3), 200, np.uint8), cfg, 32)
    assert np.all(flat == 128)  # no local contrast: nothing to amplify into noise
    red = np.zeros((1, 32, 32, 3), np.uint8)
    red[..., 0] = (100 + 100 * pattern).astype(np.uint8)
    out = prepare_images(red, PreprocessConfig(color="rgb", equalize="lcn"), 32)[0].astype(int)
    assert out[..., 0].mean() > out[..., 1].mean() + 20  # only the luma is normalised: still red


def test_lists_of_any_size_equal_arrays(images):
    cfg = PreprocessConfig(color="gray", equalize="clahe")
    as_list = prepare_images([im for im in images], cfg, 32)
    np.testing.assert_array_equal(as_list, prepare_images(images, cfg, 32))
    mixed = prepare_images([images[0], np.zeros((7, 300, 3), np.uint8)], cfg, 32)
    assert mixed.shape == (2, 32, 32, 1)


def test_stats_and_in_graph_normalisation(images):
    prepared = prepare_images(images, PreprocessConfig(), 32)
    stats = compute_stats(prepared, PreprocessConfig())
    with tf.Session(graph=tf.Graph()) as sess:
        x = sess.run(normalize(tf.constant(prepared), stats))
    np.testing.assert_allclose(x.reshape(-1, 3).mean(0), 0, atol=1e-3)
    np.testing.assert_allclose(x.reshape(-1, 3).std(0), 1, atol=1e-3)
    off = compute_stats(prepared, PreprocessConfig(normalize=False))
    assert off == {"mean": [0.0] * 3, "std": [255.0] * 3}


def test_extra_views_are_gray_channels_after_the_picture(images):
    cfg = PreprocessConfig(color="rgb", equalize="clahe", extra=["hist", "lcn"])
    out = prepare_images(images, cfg, 32)
    assert cfg.channels == 5 and out.shape == (5, 32, 32, 5)
    picture = prepare_images(images, PreprocessConfig(color="rgb", equalize="clahe"), 32)
    np.testing.assert_array_equal(out[..., :3], picture)
    for k, how in enumerate(["hist", "lcn"]):
        np.testing.assert_array_equal(out[..., 3 + k],
                                      prepare_images(images, PreprocessConfig(color="gray", equalize=how), 32)[..., 0])
    stats = compute_stats(out, cfg)
    assert len(stats["mean"]) == 5
