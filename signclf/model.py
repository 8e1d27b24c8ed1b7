"""The network: a pure function `images, config → logits`, built from tf.nn ops only.

Calling it twice (training tower, evaluation tower) shares the variables: everything is created
with `tf.get_variable` under the scope "model" with AUTO_REUSE. Variable names are stable
(`model/conv0/weights`, `model/fc1/biases`, `model/logits/weights`, ...) because checkpoints,
fine-tuning and the architecture check on resume rely on them.
"""

from __future__ import annotations

import numpy as np
import tensorflow.compat.v1 as tf

from signclf.config import ModelConfig
from signclf.preprocess import normalize

_HE_INIT = dict(scale=2.0, mode="fan_in", distribution="truncated_normal")


def _variable(name, shape, initializer, dtype, trainable=True):
    # Weights stay float32 (Adam's updates need the precision); compute may be float16 on a GPU.
    var = tf.get_variable(name, shape, tf.float32, initializer=initializer, trainable=trainable)
    return var if dtype == tf.float32 else tf.cast(var, dtype)


def _batch_norm(x, training: bool, axes, decay=0.99, eps=1e-3):
    """tf.nn.batch_normalization with moving averages updated through UPDATE_OPS while training."""
    channels = x.shape[-1]
    gamma = _variable("bn_gamma", [channels], tf.ones_initializer(), x.dtype)
    beta = _variable("bn_beta", [channels], tf.zeros_initializer(), x.dtype)
    moving_mean = tf.get_variable("bn_moving_mean", [channels], tf.float32, tf.zeros_initializer(), trainable=False)
    moving_var = tf.get_variable("bn_moving_variance", [channels], tf.float32, tf.ones_initializer(),
                                 trainable=False)
    if training:
        mean, var = tf.nn.moments(tf.cast(x, tf.float32), axes)
        tf.add_to_collection(tf.GraphKeys.UPDATE_OPS, tf.assign_sub(moving_mean, (moving_mean - mean) * (1 - decay)))
        tf.add_to_collection(tf.GraphKeys.UPDATE_OPS, tf.assign_sub(moving_var, (moving_var - var) * (1 - decay)))
    else:
        mean, var = moving_mean, moving_var
    return tf.nn.batch_normalization(x, tf.cast(mean, x.dtype), tf.cast(var, x.dtype), beta, gamma, eps)


def _flatten(x):
    return tf.reshape(x, [-1, x.shape[1:].num_elements()])


def _dropout(x, keep_prob, training, seed, salt):
    # Stateless dropout keyed by (seed, step, layer): a resumed run draws exactly the same masks.
    if not training or keep_prob >= 1.0 or seed is None:
        return x
    return tf.nn.experimental.stateless_dropout(x, rate=1.0 - keep_prob, seed=seed + [0, salt * 7919])


def _first_conv(x, w, stage, input_stats):
    """conv0, with the input's standardisation (x − mean) / std folded into its weights.

    Returns (convolution, per-channel offset to add after it). For VALID padding,
    conv(x·s + o, W) = conv(x, W·s) + Σ W·o exactly (s = 1/std, o = −mean/std), which saves a
    full pass over the input; the caller adds Σ W·o to the bias, so it costs no pass over the
    output either. With SAME padding the zero border would differ: the input is standardised first.
    """
    strides = [1, stage.stride, stage.stride, 1]
    if input_stats is None:
        return tf.nn.conv2d(x, w, strides=strides, padding=stage.padding), None
    if stage.padding != "VALID":
        x = tf.cast(normalize(x, input_stats), x.dtype)
        return tf.nn.conv2d(x, w, strides=strides, padding=stage.padding), None
    scale = tf.constant(1.0 / np.asarray(input_stats["std"], np.float64), w.dtype)
    offset = tf.constant(-np.asarray(input_stats["mean"], np.float64) / np.asarray(input_stats["std"]), w.dtype)
    folded = w * scale[None, None, :, None]
    return (tf.nn.conv2d(x, folded, strides=strides, padding="VALID"),
            tf.reduce_sum(w * offset[None, None, :, None], axis=[0, 1, 2]))


def build_logits(images, cfg: ModelConfig, num_classes: int, *, training: bool = False, dropout_seed=None,
                 input_stats: dict | None = None):
    """images: float N×H×W×C → logits float32 N×num_classes.

    With `input_stats` (preprocess.compute_stats) the images are raw pixels in [0, 255] and are
    standardised inside the first convolution; without, they must be standardised already.
    `training` switches dropout and batch statistics on; `dropout_seed` is an int64 [2] tensor that
    changes every step (see graph.py) so masks are random yet reproducible.
    """
    dtype = images.dtype
    x, stage_outputs = images, []
    with tf.variable_scope("model", reuse=tf.AUTO_REUSE):
        for i, stage in enumerate(cfg.conv):
            with tf.variable_scope(f"conv{i}"):
                in_ch = x.shape[-1]
                w = _variable("weights", [stage.kernel, stage.kernel, in_ch, stage.depth],
                              tf.variance_scaling_initializer(**_HE_INIT), dtype)
                if i == 0:
                    x, offset = _first_conv(x, w, stage, input_stats)
                else:
                    x = tf.nn.conv2d(x, w, strides=[1, stage.stride, stage.stride, 1], padding=stage.padding)
                    offset = None
                if cfg.batch_norm:
                    x = _batch_norm(x if offset is None else x + offset, training, [0, 1, 2])
                else:
                    bias = _variable("biases", [stage.depth], tf.zeros_initializer(), dtype)
                    x = tf.nn.bias_add(x, bias if offset is None else bias + offset)
                x = tf.nn.relu(x)
                if stage.pool > 1:
                    step = stage.pool_stride or stage.pool
                    x = tf.nn.max_pool2d(x, stage.pool, step, "VALID")
                if stage.dropout:
                    x = _dropout(x, cfg.conv_keep_prob, training, dropout_seed, 100 + i)
                stage_outputs.append(x)

        if cfg.multiscale:
            # Sermanet & LeCun 2011: earlier stages, pooled again down to the last stage's size,
            # go straight to the classifier alongside the last stage (global + local features).
            last_side = int(stage_outputs[-1].shape[1])
            parts = []
            for out in stage_outputs:
                factor = int(out.shape[1]) // max(last_side, 1)
                parts.append(tf.nn.max_pool2d(out, factor, factor, "VALID") if factor > 1 else out)
            x = tf.concat([_flatten(p) for p in parts], axis=1)
        else:
            x = _flatten(x)

        for i, width in enumerate(cfg.fc):
            with tf.variable_scope(f"fc{i}"):
                w = _variable("weights", [x.shape[-1], width], tf.variance_scaling_initializer(**_HE_INIT), dtype)
                x = tf.matmul(x, w)
                if cfg.batch_norm:
                    x = _batch_norm(x, training, [0])
                else:
                    x = x + _variable("biases", [width], tf.zeros_initializer(), dtype)
                x = _dropout(tf.nn.relu(x), cfg.keep_prob, training, dropout_seed, i + 1)

        with tf.variable_scope("logits"):
            w = _variable("weights", [x.shape[-1], num_classes],
                          tf.variance_scaling_initializer(scale=1.0, mode="fan_in", distribution="truncated_normal"),
                          dtype)
            logits = tf.matmul(x, w) + _variable("biases", [num_classes], tf.zeros_initializer(), dtype)
    return tf.cast(logits, tf.float32)


def weight_decay(cfg: ModelConfig):
    """model.l2 × Σ tf.nn.l2_loss(w) over conv and fc weights (not biases or batch-norm terms)."""
    weights = [v for v in tf.trainable_variables("model") if v.name.endswith("/weights:0")]
    if cfg.l2 <= 0 or not weights:
        return tf.constant(0.0)
    return cfg.l2 * tf.add_n([tf.nn.l2_loss(w) for w in weights])


def count_parameters() -> int:
    return int(sum(v.shape.num_elements() for v in tf.trainable_variables("model")))
