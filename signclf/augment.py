"""Training-time augmentation inside the graph, so it runs on the GPU when there is one.

Every random number is drawn with a stateless op keyed by (seed, global step, op number): the
same step of the same run always sees the same transforms, which is what makes `--resume`
reproduce an uninterrupted run exactly. All ops work on float pixels in [0, 255] before
normalisation. No plain flips: a mirrored "turn left" is a "turn right"; `mirror_prob` flips only
signs whose mirror image is a sign, and relabels them.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow.compat.v1 as tf

from signclf.config import AugmentConfig

# GTSRB classes whose left-right mirror is a GTSRB class: themselves (symmetric) or a partner.
_SYMMETRIC = (11, 12, 13, 15, 17, 18, 22, 26, 30, 35)
_PAIRS = ((19, 20), (33, 34), (36, 37), (38, 39))


def gtsrb_mirror_table(num_classes: int) -> np.ndarray:
    """table[c] = class of c's mirror image, or -1 when the mirror is not a sign (digits, arrows...)."""
    table = np.full(num_classes, -1, np.int64)
    if num_classes != 43:  # only GTSRB's mirror relations are known
        return table
    for c in _SYMMETRIC:
        table[c] = c
    for a, b in _PAIRS:
        table[a], table[b] = b, a
    return table


def _uniform(shape, seed, k, low, high):
    return tf.random.stateless_uniform(shape, seed=seed + [0, k], minval=low, maxval=high)


def _geometric(x, cfg: AugmentConfig, seed):
    """One projective warp per image combining rotation, scale, shear, shift and perspective."""
    n = tf.shape(x)[0]
    h, w = float(x.shape[1]), float(x.shape[2])
    theta = _uniform([n], seed, 1, -1.0, 1.0) * (cfg.rotation * math.pi / 180)
    scale = 1.0 + _uniform([n], seed, 2, -1.0, 1.0) * cfg.scale
    shear = _uniform([n], seed, 3, -1.0, 1.0) * cfg.shear
    tx = _uniform([n], seed, 4, -1.0, 1.0) * (cfg.shift * w)
    ty = _uniform([n], seed, 5, -1.0, 1.0) * (cfg.shift * h)
    cx, cy = (w - 1) / 2, (h - 1) / 2
    cos, sin = tf.cos(theta), tf.sin(theta)
    # Forward map (input → output) about the centre: R · Shear · Scale, then shift.
    a00, a01 = scale * cos, scale * (shear * cos - sin)
    a10, a11 = scale * sin, scale * (shear * sin + cos)
    b0 = cx + tx - a00 * cx - a01 * cy
    b1 = cy + ty - a10 * cx - a11 * cy
    zeros, ones = tf.zeros_like(theta), tf.ones_like(theta)
    forward = tf.reshape(tf.stack([a00, a01, b0, a10, a11, b1, zeros, zeros, ones], axis=1), [-1, 3, 3])
    inverse = tf.linalg.inv(forward)  # the op wants output → input
    inverse = inverse / inverse[:, 2:3, 2:3]
    flat = tf.reshape(inverse, [-1, 9])[:, :8]
    if cfg.perspective > 0:
        persp = _uniform([n, 2], seed, 6, -1.0, 1.0) * (cfg.perspective / w)
        flat = tf.concat([flat[:, :6], flat[:, 6:8] + persp], axis=1)
    warped = tf.raw_ops.ImageProjectiveTransformV3(
        images=x, transforms=flat, output_shape=tf.constant([int(h), int(w)], tf.int32), fill_value=0.0,
        interpolation="BILINEAR", fill_mode="REFLECT")
    warped.set_shape(x.shape)
    return warped


_TO_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], np.float32)
_LUMA = _TO_YIQ[0]  # Y, the luma weights


def _hue_matrices(angle):
    """Per-image hue rotation in YIQ space (tf.image.adjust_hue takes one delta for the batch)."""
    to_yiq = tf.constant(_TO_YIQ)
    from_yiq = tf.constant(np.linalg.inv(_TO_YIQ).astype(np.float32))
    cos, sin = tf.cos(angle), tf.sin(angle)
    one, zero = tf.ones_like(angle), tf.zeros_like(angle)
    rot = tf.reshape(tf.stack([one, zero, zero, zero, cos, -sin, zero, sin, cos], 1), [-1, 3, 3])
    return tf.matmul(tf.matmul(tf.tile(from_yiq[None], [tf.shape(angle)[0], 1, 1]), rot), to_yiq)


def _colour_affine(x, cfg: AugmentConfig, seed):
    """Brightness, contrast, saturation and hue, in that order, as one map x ↦ A·x + b per image.

    Each of the four is affine in the pixel's colour, so their composition is too: applied as one
    3×3 matrix and offset per image it costs one pass over the batch instead of about a dozen
    (the same maths; only float rounding differs). Returns (A N×C×C, b N×C), or None when all
    four are off.
    """
    n, channels = tf.shape(x)[0], int(x.shape[-1])
    rgb = channels == 3
    if not (cfg.brightness or cfg.contrast or (rgb and (cfg.saturation or cfg.hue))):
        return None
    a = tf.eye(channels, batch_shape=[n])
    b = tf.zeros([n, channels])
    if cfg.brightness:  # x + β
        b = b + (_uniform([n], seed, 7, -1.0, 1.0) * (cfg.brightness * 255))[:, None]
    if cfg.contrast:  # (y − mean y)·c + mean y, the mean over the image's pixels and channels
        c = (1 + _uniform([n], seed, 8, -1.0, 1.0) * cfg.contrast)[:, None]
        mean = tf.reduce_mean(x, axis=[1, 2, 3])[:, None] + tf.reduce_mean(b, axis=1, keepdims=True)
        a, b = a * c[:, :, None], b * c + (1 - c) * mean
    if rgb and cfg.saturation:  # gray + (y − gray)·s = (s·I + (1 − s)·1·lumaᵀ) y
        s = (1 + _uniform([n], seed, 9, -1.0, 1.0) * cfg.saturation)[:, None, None]
        sat = s * tf.eye(3) + (1 - s) * tf.constant(np.outer(np.ones(3), _LUMA).astype(np.float32))
        a, b = tf.matmul(sat, a), tf.linalg.matvec(sat, b)
    if rgb and cfg.hue:
        hue = _hue_matrices(_uniform([n], seed, 10, -1.0, 1.0) * (cfg.hue * 2 * math.pi))
        a, b = tf.matmul(hue, a), tf.linalg.matvec(hue, b)
    return a, b


def _gaussian_blur(x, sigma):
    radius = max(1, int(math.ceil(2 * sigma)))
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    k = (k / k.sum()).astype(np.float32)
    channels = int(x.shape[-1])
    kx = tf.constant(np.tile(k[None, :, None, None], [1, 1, channels, 1]))
    ky = tf.constant(np.tile(k[:, None, None, None], [1, 1, channels, 1]))
    x = tf.nn.depthwise_conv2d(x, kx, [1, 1, 1, 1], "SAME")
    return tf.nn.depthwise_conv2d(x, ky, [1, 1, 1, 1], "SAME")


def _stroke(x, amount):
    """Bolder or thinner dark strokes: each image blended by `amount` (per image, in [-1, 1]) towards
    its 3×3 minimum filter (> 0: dark digits, pictograms and rims grow by up to a pixel each side)
    or its maximum filter (< 0: they shrink). Signs are printed in more than one font weight, and
    in a bold one a 6 whose loop almost closes looks like an 8."""
    window, one = [1, 3, 3, 1], [1, 1, 1, 1]
    bolder = -tf.nn.max_pool(-x, window, one, "SAME")
    thinner = tf.nn.max_pool(x, window, one, "SAME")
    a = _per_image(amount)
    return x + tf.maximum(a, 0.0) * (bolder - x) + tf.maximum(-a, 0.0) * (thinner - x)


def _radial_gain(x, strength):
    """Per-image gain 1 - s at the centre rising to 1 + s in the corners: s > 0 is a backlit sign
    (dark against a bright sky), s < 0 a sign lit by headlights against a dark background."""
    h, w = int(x.shape[1]), int(x.shape[2])
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.hypot(yy - (h - 1) / 2, xx - (w - 1) / 2)
    ramp = tf.constant((2 * r / r.max() - 1)[None, :, :, None])  # -1 at the centre, +1 in the corners
    return 1.0 + _per_image(strength) * ramp


def _veil(x, opacity, seed):
    """Blend each image towards a smooth bright layer (a 4×4 grid of random levels, bilinearly
    enlarged): milky, low-contrast, uneven like fog or frost on glass, unlike a uniform contrast cut."""
    n, h, w = tf.shape(x)[0], int(x.shape[1]), int(x.shape[2])
    coarse = _uniform([n, 4, 4, 1], seed, 16, 0.5, 1.0)
    level = _per_image(_uniform([n], seed, 17, 180.0, 255.0))
    layer = tf.image.resize_bilinear(coarse, [h, w], align_corners=True) * level
    alpha = _per_image(_uniform([n], seed, 18, 0.0, opacity))
    return (1 - alpha) * x + alpha * layer


def _erase(x, cfg: AugmentConfig, seed):
    """Random erasing (Zhong et al. 2017): with probability erase_prob, one rectangle of 2% to
    erase_max of the image, aspect ratio 0.3 to 3.3, becomes uniform noise in every channel. The
    model must then read a sign from what is left of it, as behind a branch, a sticker or snow."""
    n, h, w = tf.shape(x)[0], int(x.shape[1]), int(x.shape[2])
    area = _uniform([n], seed, 22, 0.02, cfg.erase_max) * (h * w)
    ratio = tf.exp(_uniform([n], seed, 23, math.log(0.3), math.log(1 / 0.3)))
    eh = tf.minimum(tf.sqrt(area * ratio), float(h))
    ew = tf.minimum(tf.sqrt(area / ratio), float(w))
    top = _uniform([n], seed, 24, 0.0, 1.0) * (h - eh)
    left = _uniform([n], seed, 25, 0.0, 1.0) * (w - ew)
    rows = tf.range(h, dtype=tf.float32)[None, :, None]
    cols = tf.range(w, dtype=tf.float32)[None, None, :]
    inside = ((rows >= top[:, None, None]) & (rows < (top + eh)[:, None, None])
              & (cols >= left[:, None, None]) & (cols < (left + ew)[:, None, None]))
    chosen = _uniform([n], seed, 26, 0.0, 1.0) < cfg.erase_prob
    mask = tf.logical_and(inside, chosen[:, None, None])[:, :, :, None]
    noise = tf.random.stateless_uniform(tf.shape(x), seed=seed + [0, 27], minval=0.0, maxval=255.0)
    return tf.where(tf.broadcast_to(mask, tf.shape(x)), noise, x)


def mixup(x, targets, alpha: float, seed):
    """Mixup (Zhang et al. 2018): each image and its target blended with another image of the batch
    (the batch reversed, itself in random order) by λ ~ Beta(alpha, alpha). λ is folded to ≥ 0.5 so
    the image stays mostly itself and its label is still the one the training accuracy counts.
    x: float N×H×W×C; targets: float N×K (one-hot or smoothed)."""
    n = tf.shape(x)[0]
    # Beta(a, a) as G1 / (G1 + G2) with Gamma(a) draws: stateless, so a resumed run mixes alike.
    g1 = tf.random.stateless_gamma([n], seed=seed + [0, 30], alpha=alpha)
    g2 = tf.random.stateless_gamma([n], seed=seed + [0, 31], alpha=alpha)
    lam = g1 / tf.maximum(g1 + g2, 1e-12)
    lam = tf.maximum(lam, 1.0 - lam)
    mixed_x = _per_image(lam) * x + _per_image(1.0 - lam) * tf.reverse(x, [0])
    mixed_targets = lam[:, None] * targets + (1.0 - lam[:, None]) * tf.reverse(targets, [0])
    return mixed_x, mixed_targets


def _per_image(values):
    return tf.reshape(values, [-1, 1, 1, 1])


def augment_batch(x, labels, cfg: AugmentConfig, seed, mirror_table=None):
    """x: float32 N×H×W×C in [0, 255]; seed: int64 [2] tensor that changes every step.

    Returns (augmented x, labels): labels change only where a class-aware mirror flip applied.
    """
    n = tf.shape(x)[0]
    if cfg.mirror_prob > 0 and mirror_table is not None and (mirror_table >= 0).any():
        table = tf.constant(mirror_table)
        target = tf.gather(table, labels)
        flip = tf.logical_and(target >= 0, _uniform([n], seed, 20, 0.0, 1.0) < cfg.mirror_prob)
        x = tf.where(flip, tf.reverse(x, [2]), x)
        labels = tf.where(flip, target, labels)
    if cfg.rotation or cfg.scale or cfg.shear or cfg.shift or cfg.perspective:
        x = _geometric(x, cfg, seed)
    if cfg.stroke:
        x = _stroke(x, _uniform([n], seed, 32, -1.0, 1.0) * cfg.stroke)
    colour = _colour_affine(x, cfg, seed)
    if colour is not None:
        a, b = colour
        if int(x.shape[-1]) == 1:
            x = x * a[:, :, :, None] + b[:, None, None, :]
        else:  # a batched matmul over the pixels (oneDNN's einsum for the same took 1.5× as long)
            pixels = tf.reshape(x, [n, -1, int(x.shape[-1])])
            x = tf.reshape(tf.matmul(pixels, a, transpose_b=True) + b[:, None, :], tf.shape(x))
    if cfg.gamma:
        x = tf.clip_by_value(x, 0.0, 255.0)
        # x^g as exp(g·log x): the same maths, but vectorised ops instead of a slow element-wise Pow.
        g = _per_image(tf.exp(_uniform([n], seed, 11, -1.0, 1.0) * cfg.gamma))
        x = 255.0 * tf.exp(g * tf.math.log(x / 255.0 + 1e-6))
    if cfg.backlight:
        x = x * _radial_gain(x, _uniform([n], seed, 14, -1.0, 1.0) * cfg.backlight)
    if cfg.invert_prob > 0:
        x = tf.where(_uniform([n], seed, 15, 0.0, 1.0) < cfg.invert_prob, 255.0 - x, x)
    if cfg.haze:
        x = _veil(x, cfg.haze, seed)
    if cfg.blur_prob > 0 and cfg.blur_sigma > 0:
        blur = _uniform([n], seed, 12, 0.0, 1.0) < cfg.blur_prob
        x = tf.where(blur, _gaussian_blur(x, cfg.blur_sigma), x)
    if cfg.noise:
        x = x + tf.random.stateless_normal(tf.shape(x), seed=seed + [0, 13]) * (cfg.noise * 255)
    if cfg.noise_max:
        # One std per image: the batch mixes clean and very noisy images, where a fixed std would
        # make every image equally noisy and cost accuracy on clean ones.
        std = _per_image(_uniform([n], seed, 19, 0.0, cfg.noise_max * 255))
        x = x + tf.random.stateless_normal(tf.shape(x), seed=seed + [0, 21]) * std
    if cfg.erase_prob > 0:  # last: the erased patch is noise, not a sign seen through blur or noise
        x = _erase(x, cfg, seed)
    return tf.clip_by_value(x, 0.0, 255.0), labels
