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
@pytest.mark.parametrize("equalize", ["none", "hist", "clahe"])
def test_prepare_shapes_and_equalisation(images, color, channels, equalize):
    out = prepare_images(images, PreprocessConfig(color=color, equalize=equalize), 32)
    assert out.shape == (5, 32, 32, channels) and out.dtype == np.uint8
    if equalize != "none":
        assert out.max() > images.max()  # equalisation stretches a dark image's range


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
