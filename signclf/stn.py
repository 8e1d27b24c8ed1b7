"""A spatial transformer stage (Jaderberg et al. 2015): the network straightens its own input.

A small localisation network looks at the image and predicts an affine transform (6 numbers); the
image is resampled through it before the first convolution, so the classifier sees signs more
alike in position, size and rotation than the camera delivered them. Published GTSRB models with
such a stage are the best single networks (99.6–99.7% on the official test set).

The sampler is built from plain TF ops (gather + bilinear weights) because TensorFlow's own
`ImageProjectiveTransformV3` has no gradient with respect to the transform: here the gradient
reaches the localisation net through the interpolation weights. It starts as the identity (last
layer zero), so an untrained stage changes nothing. Out-of-image samples repeat the
border, as a wider crop would show.
"""

from __future__ import annotations

import numpy as np
import tensorflow.compat.v1 as tf

_IDENTITY = np.array([1, 0, 0, 0, 1, 0], np.float32)
# The transform is identity + _DAMPING × (what the last layer says). Adam moves every weight by about
# the learning rate whatever its gradient's size, so this is how the warp learns ten times slower than
# the classifier: at full speed it swings the image out of frame before the classifier can use it.
_DAMPING = 0.1


def affine_grid(theta, height: int, width: int):
    """theta N×6 (row-major 2×3, normalised coordinates in [-1, 1]) → source pixel x, y, each N×(H·W)."""
    xs, ys = tf.meshgrid(tf.linspace(-1.0, 1.0, width), tf.linspace(-1.0, 1.0, height))
    grid = tf.stack([tf.reshape(xs, [-1]), tf.reshape(ys, [-1]), tf.ones([height * width])])  # 3 × HW
    source = tf.einsum("nij,jk->nik", tf.reshape(theta, [-1, 2, 3]), grid)  # N × 2 × HW
    return (source[:, 0] + 1) * (width - 1) / 2, (source[:, 1] + 1) * (height - 1) / 2


def bilinear_sample(images, x, y):
    """images N×H×W×C float; x, y N×(H·W) pixel coordinates → N×H×W×C, differentiable in x and y."""
    shape = tf.shape(images)
    n, height, width, channels = shape[0], images.shape[1], images.shape[2], images.shape[3]
    x = tf.clip_by_value(x, 0.0, width - 1.0)
    y = tf.clip_by_value(y, 0.0, height - 1.0)
    x0, y0 = tf.floor(x), tf.floor(y)
    x1, y1 = tf.minimum(x0 + 1, width - 1.0), tf.minimum(y0 + 1, height - 1.0)
    flat = tf.reshape(images, [-1, channels])
    base = tf.range(n)[:, None] * (height * width)

    def pixels(px, py):
        index = base + tf.cast(py, tf.int32) * width + tf.cast(px, tf.int32)
        return tf.gather(flat, index)  # N × HW × C

    wx, wy = (x - x0)[..., None], (y - y0)[..., None]
    top = pixels(x0, y0) * (1 - wx) + pixels(x1, y0) * wx
    bottom = pixels(x0, y1) * (1 - wx) + pixels(x1, y1) * wx
    return tf.reshape(top * (1 - wy) + bottom * wy, [-1, height, width, channels])


def spatial_transformer(images, input_stats: dict | None, variable):
    """images float N×H×W×C (raw pixels with input_stats, else standardised) → the same shape, warped.

    `variable(name, shape, initializer)` creates a float32 weight (model._variable's policy)."""
    x = tf.cast(images, tf.float32)
    loc = x
    if input_stats is not None:  # the localisation net wants standardised inputs, as the classifier does
        loc = (x - np.asarray(input_stats["mean"], np.float32)) / np.asarray(input_stats["std"], np.float32)
    he = tf.variance_scaling_initializer(scale=2.0, mode="fan_in", distribution="truncated_normal")
    with tf.variable_scope("stn"):
        loc = tf.nn.max_pool2d(loc, 2, 2, "VALID")  # the warp needs the sign's outline, not its detail
        for i, depth in enumerate((16, 32)):
            with tf.variable_scope(f"conv{i}"):
                w = variable("weights", [5, 5, loc.shape[-1], depth], he)
                b = variable("biases", [depth], tf.zeros_initializer())
                loc = tf.nn.max_pool2d(tf.nn.relu(tf.nn.conv2d(loc, w, 1, "SAME") + b), 2, 2, "VALID")
        loc = tf.reshape(loc, [-1, int(np.prod(loc.shape[1:]))])
        with tf.variable_scope("fc"):
            loc = tf.nn.relu(tf.matmul(loc, variable("weights", [loc.shape[-1], 64], he))
                             + variable("biases", [64], tf.zeros_initializer()))
        with tf.variable_scope("theta"):
            theta = _IDENTITY + _DAMPING * (tf.matmul(loc, variable("weights", [64, 6], tf.zeros_initializer()))
                                            + variable("biases", [6], tf.zeros_initializer()))
    sx, sy = affine_grid(theta, int(images.shape[1]), int(images.shape[2]))
    return tf.cast(bilinear_sample(x, sx, sy), images.dtype)
