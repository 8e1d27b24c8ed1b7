"""The network: a pure function `images, config → logits`, built from tf.nn ops only.

Calling it twice (training tower, evaluation tower) shares the variables: everything is created
with `tf.get_variable` under the scope "model" with AUTO_REUSE. Variable names are stable
(`model/conv0/weights`, `model/fc1/biases`, `model/logits/weights`, ...) because checkpoints,
fine-tuning and the architecture check on resume rely on them.
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow.compat.v1 as tf

from signclf.config import ModelConfig
from signclf.preprocess import normalize
from signclf.stn import spatial_transformer

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


def _fold_standardisation(x, w, stage, input_stats):
    """conv0's input standardisation (x − mean) / std, folded into its weights where exact.

    Returns (input, weights, per-channel offset to add after the convolution or None). For VALID
    padding, conv(x·s + o, W) = conv(x, W·s) + Σ W·o exactly (s = 1/std, o = −mean/std), which
    saves a full pass over the input; the caller adds Σ W·o to the bias, so it costs no pass over
    the output either. With SAME padding the zero border would differ: the input is standardised.
    """
    if input_stats is None:
        return x, w, None
    if stage.padding != "VALID":
        return tf.cast(normalize(x, input_stats), x.dtype), w, None
    scale = tf.constant(1.0 / np.asarray(input_stats["std"], np.float64), w.dtype)
    offset = tf.constant(-np.asarray(input_stats["mean"], np.float64) / np.asarray(input_stats["std"]), w.dtype)
    return x, w * scale[None, None, :, None], tf.reduce_sum(w * offset[None, None, :, None], axis=[0, 1, 2])


# A narrow first convolution (LeNet-5's 3→6) leaves most of a CPU's vector lanes idle in oneDNN.
# `_conv_then_pool` trades 44% more arithmetic for 4× the output channels, which nets out faster
# up to this depth (first layer, 64 images, one core: fwd+bwd 3→6 3.36 → 2.43 ms, 1→6 1.92 →
# 1.27 ms, 3→8 3.06 → 2.31 ms) and slower above it (3→16 3.39 → 4.04 ms). Deeper layers would
# also need the input gradient, which the blocked form computes slowly (6→16: 2.1 → 3.2 ms).
_BLOCKED_MAX_DEPTH = 8


def _blocked_conv_applies(x, stage, batch_norm: bool) -> bool:
    """Whether conv0 + its 2×2 max-pool may run as `_conv_then_pool` (the same function)."""
    side = x.shape[1]
    return (not batch_norm  # bias and ReLU commute with the max; a batch norm's scale may be negative
            and stage.depth <= _BLOCKED_MAX_DEPTH
            and stage.stride == 1 and stage.padding == "VALID" and stage.kernel % 2 == 1
            and stage.pool == 2 and stage.pool_stride in (0, 2)
            and side is not None and side % 2 == 0 and x.shape[2] == side)


@functools.lru_cache(maxsize=None)
def _blocked_kernel_index(k: int, channels: int, depth: int) -> np.ndarray:
    """Where each entry of the (k+1)×(k+1)×C×(2·2·O) blocked kernel comes from in the flattened
    k×k×C×O kernel: entry [a, b, c, (p, q, o)] = W[a − p, b − q, c, o], or the appended zero
    (index k·k·C·O) where that tap falls outside the k×k kernel.
    """
    a, b, c, p, q, o = np.ix_(*(np.arange(n) for n in (k + 1, k + 1, channels, 2, 2, depth)))
    u, v = a - p, b - q
    inside = (u >= 0) & (u < k) & (v >= 0) & (v < k)
    flat = ((u * k + v) * channels + c) * depth + o
    return np.where(inside, flat, k * k * channels * depth).reshape(k + 1, k + 1, channels, 4 * depth)


def _conv_then_pool(x, w):
    """max_pool(conv(x, w, VALID), 2, 2) for an odd k×k kernel, as one stride-2 convolution.

    A (k+1)×(k+1) kernel moved 2 pixels at a time covers a whole pooling window's receptive
    field, so it can compute all four outputs of the window at once, as four groups of output
    channels (p, q, o). The max over the groups is a 1×4 max-pool once they sit side by side
    along the width. The variable stays the k×k×C×O kernel; the blocked one is gathered from it
    every step, so checkpoints and gradients are those of the plain layer.
    """
    k, _, channels, depth = w.shape.as_list()
    index = _blocked_kernel_index(k, channels, depth)
    blocked = tf.gather(tf.concat([tf.reshape(w, [-1]), tf.zeros([1], w.dtype)], 0), index)
    y = tf.nn.conv2d(x, blocked, strides=2, padding="VALID")  # N×h×w×(2·2·O)
    n, h, width = tf.shape(y)[0], y.shape[1], y.shape[2]
    y = tf.reshape(y, [n, h, width * 4, depth])
    return tf.nn.max_pool2d(y, [1, 4], [1, 4], "VALID")  # N×h×w×O


def build_logits(images, cfg: ModelConfig, num_classes: int, *, training: bool = False, dropout_seed=None,
                 input_stats: dict | None = None, blocked_conv: bool = False):
    """images: float N×H×W×C → logits float32 N×num_classes.

    With `input_stats` (preprocess.compute_stats) the images are raw pixels in [0, 255] and are
    standardised inside the first convolution; without, they must be standardised already.
    `training` switches dropout and batch statistics on; `dropout_seed` is an int64 [2] tensor that
    changes every step (see graph.py) so masks are random yet reproducible. `blocked_conv` lets a
    narrow conv0 + 2×2 pool run as `_conv_then_pool`: the same function, faster on a CPU.
    """
    dtype = images.dtype
    x, stage_outputs = images, []
    with tf.variable_scope("model", reuse=tf.AUTO_REUSE):
        if cfg.stn:
            x = spatial_transformer(x, input_stats, lambda *spec: _variable(*spec, tf.float32))
        for i, stage in enumerate(cfg.conv):
            with tf.variable_scope(f"conv{i}"):
                in_ch = x.shape[-1]
                w = _variable("weights", [stage.kernel, stage.kernel, in_ch, stage.depth],
                              tf.variance_scaling_initializer(**_HE_INIT), dtype)
                offset = None
                if i == 0:
                    x, w, offset = _fold_standardisation(x, w, stage, input_stats)
                blocked = blocked_conv and i == 0 and _blocked_conv_applies(x, stage, cfg.batch_norm)
                if blocked:
                    x = _conv_then_pool(x, w)  # pooled before bias and ReLU: 4× less work for both
                else:
                    x = tf.nn.conv2d(x, w, strides=[1, stage.stride, stage.stride, 1], padding=stage.padding)
                if cfg.batch_norm:
                    x = _batch_norm(x if offset is None else x + offset, training, [0, 1, 2])
                else:
                    bias = _variable("biases", [stage.depth], tf.zeros_initializer(), dtype)
                    x = tf.nn.bias_add(x, bias if offset is None else bias + offset)
                x = tf.nn.relu(x)
                if stage.pool > 1 and not blocked:
                    step = stage.pool_stride or stage.pool
                    x = tf.nn.max_pool2d(x, stage.pool, step, "VALID")
                if stage.dropout:
                    x = _dropout(x, cfg.conv_keep_prob, training, dropout_seed, 100 + i)
            # "model/stage<i>": the stage's output after ReLU and pooling (the blocked conv0 has no
            # unpooled form), where `signclf report` reads feature maps and Grad-CAM gradients.
            x = tf.identity(x, name=f"stage{i}")
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
