import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from signclf.augment import augment_batch, gtsrb_mirror_table, mixup
from signclf.config import AugmentConfig

tf.disable_eager_execution()


def run_augment(images, labels, cfg, step=0, seed=0, mirror=None):
    graph = tf.Graph()
    with graph.as_default():
        x = tf.constant(images.astype(np.float32))
        y = tf.constant(labels.astype(np.int64))
        out, out_labels = augment_batch(x, y, cfg, tf.constant([seed, step], tf.int64), mirror)
        assert out.shape.as_list() == list(images.shape)
        with tf.Session() as sess:
            return sess.run([out, out_labels])


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (6, 32, 32, 3)).astype(np.uint8), np.arange(6)


def test_all_zero_ranges_are_the_identity(batch):
    cfg = AugmentConfig(enabled=True, rotation=0, shift=0, scale=0, shear=0, brightness=0, contrast=0, saturation=0,
                        gamma=0)
    out, labels = run_augment(*batch, cfg)
    np.testing.assert_allclose(out, batch[0], atol=1e-3)
    np.testing.assert_array_equal(labels, batch[1])


def test_same_step_same_result_other_step_different(batch):
    cfg = AugmentConfig(enabled=True, hue=0.05, blur_prob=0.5, noise=0.02, perspective=0.1)
    a, _ = run_augment(*batch, cfg, step=3)
    b, _ = run_augment(*batch, cfg, step=3)
    c, _ = run_augment(*batch, cfg, step=4)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert a.min() >= 0 and a.max() <= 255 and np.isfinite(a).all()


def _sequential_colour_ops(x, cfg, seed):
    """brightness → contrast → saturation → hue one after another, the textbook way (the
    reference for augment's composed per-image map; same random draws)."""
    from signclf.augment import _hue_matrices, _per_image, _uniform

    n = tf.shape(x)[0]
    x = x + _per_image(_uniform([n], seed, 7, -1.0, 1.0) * (cfg.brightness * 255))
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    x = (x - mean) * _per_image(1 + _uniform([n], seed, 8, -1.0, 1.0) * cfg.contrast) + mean
    if int(x.shape[-1]) == 3:
        gray = tf.reduce_sum(x * tf.constant([0.299, 0.587, 0.114]), axis=-1, keepdims=True)
        x = gray + (x - gray) * _per_image(1 + _uniform([n], seed, 9, -1.0, 1.0) * cfg.saturation)
        x = tf.einsum("nij,nhwj->nhwi", _hue_matrices(_uniform([n], seed, 10, -1.0, 1.0) * (cfg.hue * 2 * np.pi)), x)
    return tf.clip_by_value(x, 0.0, 255.0)


@pytest.mark.parametrize("channels", [3, 1, 5])  # 5: RGB and two preprocess.extra views
def test_colour_ops_composed_into_one_map_equal_applying_them_in_turn(channels):
    cfg = AugmentConfig(enabled=True, rotation=0, shift=0, scale=0, shear=0, gamma=0,
                        brightness=0.2, contrast=0.3, saturation=0.4, hue=0.1)
    images = np.random.default_rng(1).integers(0, 256, (8, 16, 16, channels)).astype(np.float32)
    with tf.Graph().as_default(), tf.Session() as sess:
        seed = tf.constant([5, 9], tf.int64)
        x = tf.constant(images)
        composed, _ = augment_batch(x, tf.zeros([8], tf.int64), cfg, seed)
        a, b = sess.run([composed, _sequential_colour_ops(x, cfg, seed)])
    np.testing.assert_allclose(a, b, atol=2e-3)
    assert np.abs(a - images).mean() > 5  # the ops did something


def test_pure_shift_moves_pixels(batch):
    img = np.zeros((1, 32, 32, 1), np.uint8)
    img[0, 16, 16] = 255
    cfg = AugmentConfig(enabled=True, rotation=0, shift=0.2, scale=0, shear=0, brightness=0, contrast=0,
                        saturation=0, gamma=0)
    moved = [np.unravel_index(run_augment(img, np.zeros(1), cfg, step=s)[0][0, :, :, 0].argmax(), (32, 32))
             for s in range(4)]
    assert any(m != (16, 16) for m in moved)
    assert all(abs(r - 16) <= 7 and abs(c - 16) <= 7 for r, c in moved)  # at most 0.2 × 32 ≈ 6.4 px


NO_GEOMETRY_OR_COLOUR = dict(enabled=True, rotation=0, shift=0, scale=0, shear=0, brightness=0, contrast=0,
                             saturation=0, gamma=0)


def test_backlight_darkens_the_centre_when_it_brightens_the_corners():
    flat = np.full((32, 32, 32, 1), 100, np.uint8)
    out, _ = run_augment(flat, np.zeros(32), AugmentConfig(**NO_GEOMETRY_OR_COLOUR, backlight=0.5))
    centre, corner = out[:, 15, 15, 0], out[:, 0, 0, 0]
    assert np.all((centre - 100) * (corner - 100) <= 0)  # the falloff goes one way: centre against corners
    assert centre.min() >= 49 and centre.max() <= 151  # gain 1 ± 0.5 at most
    assert (centre < 90).any() and (centre > 110).any()  # both backlit and lit-from-the-front images


def test_invert_prob_inverts_whole_images_only():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 255, (64, 32, 32, 1)).astype(np.uint8)
    out, _ = run_augment(images, np.zeros(64), AugmentConfig(**NO_GEOMETRY_OR_COLOUR, invert_prob=0.5))
    inverted = np.all(np.abs(out - (255.0 - images)) < 1e-3, axis=(1, 2, 3))
    kept = np.all(np.abs(out - images) < 1e-3, axis=(1, 2, 3))
    assert np.all(inverted | kept)
    assert 16 <= inverted.sum() <= 48


def test_haze_lays_a_smooth_bright_veil_of_bounded_opacity():
    black = np.zeros((64, 32, 32, 1), np.uint8)
    out, _ = run_augment(black, np.zeros(64), AugmentConfig(**NO_GEOMETRY_OR_COLOUR, haze=0.5))
    # over black the veil is alpha·layer: alpha ≤ 0.5 and the layer between 0.5·180 and 255 levels
    assert out.min() >= 0 and out.max() <= 0.5 * 255 + 1e-3
    assert (out.mean(axis=(1, 2, 3)) > 40).any() and (out.mean(axis=(1, 2, 3)) < 15).any()  # opacities vary
    steps = np.abs(np.diff(out, axis=2)).max()  # smooth: neighbours differ by a fraction of the image's range
    assert 0 < steps < 0.1 * out.max()
    rgb = np.full((4, 32, 32, 3), 30, np.uint8)
    veiled, _ = run_augment(rgb, np.zeros(4), AugmentConfig(**NO_GEOMETRY_OR_COLOUR, haze=0.5))
    np.testing.assert_allclose(veiled[..., 0], veiled[..., 2], atol=1e-3)  # a white veil: no colour cast


def test_noise_max_draws_one_std_per_image_up_to_the_maximum():
    gray = np.full((200, 32, 32, 1), 128, np.uint8)
    out, _ = run_augment(gray, np.zeros(200), AugmentConfig(**NO_GEOMETRY_OR_COLOUR, noise_max=0.1))
    stds = out.std(axis=(1, 2, 3)) / 255
    assert stds.max() <= 0.1 * 1.15 and stds.min() < 0.01  # from almost clean ...
    assert stds.max() > 0.08 and 0.04 < stds.mean() < 0.06  # ... to the maximum, uniformly
    assert abs(out.mean() - 128) < 1


def test_class_aware_mirror_relabels_only_mirrorable_signs():
    table = gtsrb_mirror_table(43)
    assert table[33] == 34 and table[34] == 33 and table[13] == 13 and table[1] == -1  # "30 km/h" has no mirror
    images = np.random.default_rng(1).integers(0, 255, (3, 32, 32, 3)).astype(np.uint8)
    labels = np.array([33, 13, 1])
    cfg = AugmentConfig(enabled=True, mirror_prob=1.0, rotation=0, shift=0, scale=0, shear=0, brightness=0,
                        contrast=0, saturation=0, gamma=0)
    out, new_labels = run_augment(images, labels, cfg, mirror=table)
    assert new_labels.tolist() == [34, 13, 1]
    np.testing.assert_allclose(out[0], images[0, :, ::-1], atol=1e-3)
    np.testing.assert_allclose(out[2], images[2], atol=1e-3)


def test_random_erasing_replaces_one_rectangle_of_bounded_area_in_some_images():
    gray = np.full((200, 32, 32, 3), 128, np.uint8)
    out, _ = run_augment(gray, np.zeros(200), AugmentConfig(**NO_GEOMETRY_OR_COLOUR, erase_prob=0.5, erase_max=0.3))
    changed = np.any(np.abs(out - 128) > 1e-3, axis=3)  # N×H×W: the erased pixels
    erased = changed.any(axis=(1, 2))
    assert 70 <= erased.sum() <= 130  # about half the images
    for mask in changed[erased]:
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        box = mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        assert box.mean() > 0.97  # one solid rectangle (a noise pixel may land near 128 by chance)
        assert box.size <= 0.3 * 32 * 32 + 2 * 32 + 1  # at most erase_max of the image, rounding to whole pixels
    areas = changed[erased].sum(axis=(1, 2)) / (32 * 32)
    assert areas.min() < 0.08 and areas.max() > 0.2  # small and large patches
    assert out[changed].std() > 60  # filled with uniform noise (std 74), not a flat colour


def run_mixup(images, targets, alpha, step=0):
    with tf.Graph().as_default(), tf.Session() as sess:
        x, t = mixup(tf.constant(images), tf.constant(targets), alpha, tf.constant([0, step], tf.int64))
        return sess.run([x, t])


def test_mixup_blends_each_image_and_its_target_with_the_reversed_batch_by_one_weight_of_at_least_a_half():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (64, 8, 8, 3)).astype(np.float32)
    targets = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 64)] * 0.9 + 0.01  # smoothed one-hot
    x, t = run_mixup(images, targets, 0.4)
    partner = images[::-1]
    # Recover each image's weight from its pixels, then check the target used the same one.
    lam = np.array([np.polyfit((images[i] - partner[i]).ravel(), (x[i] - partner[i]).ravel(), 1)[0]
                    for i in range(64)])
    np.testing.assert_allclose(x, lam[:, None, None, None] * images + (1 - lam[:, None, None, None]) * partner,
                               atol=1e-3)
    np.testing.assert_allclose(t, lam[:, None] * targets + (1 - lam[:, None]) * targets[::-1], atol=1e-5)
    assert lam.min() >= 0.5 - 1e-6 and lam.max() <= 1 + 1e-6
    assert 0.55 < lam.mean() < 0.95 and lam.std() > 0.05  # Beta(0.4, 0.4) folded: spread, not constant
    np.testing.assert_allclose(t.sum(axis=1), targets.sum(axis=1), atol=1e-5)
    again, _ = run_mixup(images, targets, 0.4)
    np.testing.assert_array_equal(again, x)  # stateless: the same step mixes the same way
    other_step, _ = run_mixup(images, targets, 0.4, step=1)
    assert not np.allclose(other_step, x)


def test_a_tiny_mixup_alpha_leaves_images_almost_unmixed():
    # Beta(a, a) puts its mass near 0 and 1 as a → 0; folded to ≥ 0.5 that is λ ≈ 1.
    images = np.random.default_rng(1).uniform(0, 255, (32, 8, 8, 1)).astype(np.float32)
    x, _ = run_mixup(images, np.eye(32, dtype=np.float32), 0.01)
    assert np.median(np.abs(x - images)) < 1.0


def test_stroke_makes_dark_strokes_bolder_or_thinner_by_at_most_a_pixel_each_side():
    bars = np.full((200, 32, 32, 1), 255, np.uint8)
    bars[:, 8:24, 14:18] = 0  # a dark stroke four pixels wide
    out, _ = run_augment(bars, np.zeros(200), AugmentConfig(**NO_GEOMETRY_OR_COLOUR, stroke=1.0))
    ink = (255 - out[:, 16]).sum(axis=(1, 2)) / 255  # the stroke's width in pixels, across its middle row
    assert ink.min() >= 2 - 1e-3 and ink.max() <= 6 + 1e-3  # from one pixel thinner each side to one bolder
    assert (ink < 3).any() and (ink > 5).any() and (np.abs(ink - 4) < 0.5).any()  # both ways, and near unchanged
    assert out.min() >= 0 and out.max() <= 255
    rgb = np.repeat(bars[:8], 3, axis=3)
    same, _ = run_augment(rgb, np.zeros(8), AugmentConfig(**NO_GEOMETRY_OR_COLOUR, stroke=1.0))
    np.testing.assert_allclose(same[..., 0], same[..., 2], atol=1e-3)  # every channel alike: no colour fringes
