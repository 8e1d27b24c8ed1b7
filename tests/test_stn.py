"""The spatial transformer: identity at start, exact affine sampling, gradients reach the transform."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from signclf.stn import affine_grid, bilinear_sample, spatial_transformer

tf.disable_eager_execution()


def run(fetch, feed=None):
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(fetch, feed)


def sample(images, theta):
    with tf.Graph().as_default():
        x, y = affine_grid(tf.constant(theta, tf.float32), images.shape[1], images.shape[2])
        return run(bilinear_sample(tf.constant(images, tf.float32), x, y))


def test_the_identity_transform_returns_the_image():
    images = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype(np.float32)
    out = sample(images, np.tile([1, 0, 0, 0, 1, 0], (2, 1)))
    np.testing.assert_allclose(out, images, atol=1e-3)


def test_a_translation_by_one_pixel_shifts_and_repeats_the_border():
    images = np.arange(2 * 6 * 6, dtype=np.float32).reshape(2, 6, 6, 1)
    step = 2 / (6 - 1)  # one pixel in normalised coordinates
    out = sample(images, np.tile([1, 0, step, 0, 1, 0], (2, 1)))  # each output pixel reads one to its right
    np.testing.assert_allclose(out[:, :, :-1], images[:, :, 1:], atol=1e-3)
    np.testing.assert_allclose(out[:, :, -1], images[:, :, -1], atol=1e-3)


def test_half_a_pixel_interpolates_linearly():
    images = np.zeros((1, 5, 5, 1), np.float32)
    images[0, :, 2] = 100
    out = sample(images, [[1, 0, 0.5 * 2 / 4, 0, 1, 0]])
    np.testing.assert_allclose(out[0, 2, 1:3, 0], [50, 50], atol=1e-3)


def test_a_new_stage_changes_nothing_and_its_gradient_reaches_the_transform():
    images = np.random.default_rng(1).uniform(0, 255, (3, 16, 16, 1)).astype(np.float32)
    stats = {"mean": [120.0], "std": [60.0]}
    with tf.Graph().as_default():
        x = tf.constant(images)

        def variable(name, shape, initializer):
            return tf.get_variable(name, shape, tf.float32, initializer=initializer)

        warped = spatial_transformer(x, stats, variable)
        loss = tf.reduce_sum(warped * tf.constant(np.random.default_rng(2).normal(size=images.shape), tf.float32))
        bias = [v for v in tf.trainable_variables() if v.op.name == "stn/theta/biases"][0]
        out, grad = run([warped, tf.gradients(loss, bias)[0]])
    np.testing.assert_allclose(out, images, atol=1e-2)
    assert np.abs(grad).max() > 0 and np.isfinite(grad).all()


@pytest.mark.parametrize("color", ["rgb"])
def test_a_model_with_a_transformer_trains_and_serves(tmp_path, tiny_data, color):
    from conftest import tiny_overrides
    from signclf.config import load_config
    from signclf.evaluate import evaluate
    from signclf.train import train

    cfg = load_config(None, tiny_overrides(tiny_data, **{"model.stn": True, "preprocess.color": color,
                                                           "train.epochs": 3}))
    run = train(cfg, run_dir=tmp_path / "stn", log=lambda *a: None, progress=False)
    prefix = tf.train.latest_checkpoint(str(run / "checkpoints" / "last"))
    stored = dict(tf.train.list_variables(prefix))
    assert "model/stn/theta/weights" in stored
    theta_w = tf.train.load_checkpoint(prefix).get_tensor("model/stn/theta/weights")
    assert np.abs(theta_w).max() > 0  # the transform learned something
    assert evaluate([run], log=lambda *a: None)["accuracy"] >= 0.75
