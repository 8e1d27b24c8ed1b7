"""corruptions.py: every corruption keeps shape and dtype, is seeded, and gets worse with severity."""

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import make_dataset
from signclf.corruptions import CORRUPTIONS, SEVERITIES, corrupt, frost_texture, rng_for

BENCHMARK = ["gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur",
             "zoom_blur", "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate",
             "jpeg_compression"]


@pytest.fixture(scope="module")
def signs():
    return make_dataset(4, seed=0)[0]  # 16 drawn signs on noisy backgrounds, 32×32


def changed(corrupted, clean) -> float:
    """Mean absolute difference from the clean images, in 0..255 levels."""
    return float(np.abs(corrupted.astype(np.int16) - clean).mean())


def detail(images) -> float:
    """High-frequency energy: mean absolute difference between neighbouring pixels."""
    images = images.astype(np.float32)
    return float(np.abs(np.diff(images, axis=1)).mean() + np.abs(np.diff(images, axis=2)).mean())


def test_the_registry_holds_the_15_benchmark_corruptions_with_5_severities():
    assert list(CORRUPTIONS) == BENCHMARK
    assert all(len(spec.params) == len(SEVERITIES) == 5 for spec in CORRUPTIONS.values())


@pytest.mark.parametrize("name", BENCHMARK)
def test_shape_dtype_and_input_left_alone(name, signs):
    before = signs.copy()
    for severity in (1, 5):
        out = corrupt(signs, name, severity, seed=0)
        assert out.shape == signs.shape and out.dtype == np.uint8
    odd = make_dataset(1, seed=3, size=24)[0][:, :, :20]  # 24×20: not square, not 32
    assert corrupt(odd, name, 3).shape == odd.shape
    np.testing.assert_array_equal(signs, before)


@pytest.mark.parametrize("name", BENCHMARK)
def test_same_seed_same_images_and_another_seed_other_images_where_random(name, signs):
    first = corrupt(signs, name, 3, seed=7)
    np.testing.assert_array_equal(first, corrupt(signs, name, 3, seed=7))
    other = corrupt(signs, name, 3, seed=8)
    assert (not np.array_equal(first, other)) == CORRUPTIONS[name].random


def test_each_image_gets_its_own_randomness(signs):
    twins = np.repeat(signs[:1], 2, axis=0)
    for name in ("gaussian_noise", "motion_blur", "snow", "frost", "fog", "elastic_transform", "glass_blur"):
        out = corrupt(twins, name, 4)
        assert not np.array_equal(out[0], out[1]), name


# The simple statistic each corruption worsens from severity 1 to 3 to 5: noise and weather move pixels
# away from the clean image; blurs and pixelation remove detail.
GROWING_CHANGE = ["gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "zoom_blur", "snow", "frost",
                  "fog", "brightness", "contrast", "jpeg_compression"]
FALLING_DETAIL = ["defocus_blur", "motion_blur", "zoom_blur", "pixelate", "contrast"]


@pytest.mark.parametrize("name", GROWING_CHANGE)
def test_change_from_the_clean_image_grows_with_severity(name, signs):
    amounts = [changed(corrupt(signs, name, s), signs) for s in (1, 3, 5)]
    assert amounts[0] < amounts[1] < amounts[2], amounts


@pytest.mark.parametrize("name", FALLING_DETAIL)
def test_detail_falls_with_severity(name, signs):
    amounts = [detail(corrupt(signs, name, s)) for s in (1, 3, 5)]
    assert detail(signs) > amounts[0] > amounts[1] > amounts[2], amounts


def test_glass_blur_blurs_more_then_jitters_longer(signs):
    """CIFAR-10-C's glass blur raises the blur over severities 1-3, then restarts at a smaller blur with
    two jitter passes (4-5): detail falls within each group and the change grows with the passes."""
    out = {s: corrupt(signs, "glass_blur", s) for s in SEVERITIES}
    assert detail(out[1]) > detail(out[2]) > detail(out[3]) and detail(out[4]) > detail(out[5])
    assert changed(out[4], signs) > changed(out[2], signs) and changed(out[5], signs) > changed(out[3], signs)


def test_elastic_transform_trades_the_global_warp_for_local_wobble(signs):
    """CIFAR-10-C's elastic severities shrink the random affine warp (2.56 → 0.96 px) while the local
    displacement grows, so the change from the clean image falls with severity, as its parameters say."""
    amounts = [changed(corrupt(signs, "elastic_transform", s), signs) for s in (1, 3, 5)]
    assert amounts[0] > amounts[1] > amounts[2] > 5, amounts


def test_impulse_noise_hits_the_configured_share_of_values():
    flat = np.full((64, 32, 32, 3), 128, np.uint8)
    hit = corrupt(flat, "impulse_noise", 5) != 128
    assert hit.mean() == pytest.approx(CORRUPTIONS["impulse_noise"].params[4], rel=0.05)


def test_contrast_keeps_each_images_mean_and_shrinks_its_spread(signs):
    out, clean = corrupt(signs, "contrast", 5).astype(np.float32), signs.astype(np.float32)
    np.testing.assert_allclose(out.mean(axis=(1, 2)), clean.mean(axis=(1, 2)), atol=1)
    spread = (out - out.mean(axis=(1, 2), keepdims=True)).std()
    assert spread == pytest.approx(0.15 * (clean - clean.mean(axis=(1, 2), keepdims=True)).std(), rel=0.05)


def test_pixelate_makes_square_blocks():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    out = corrupt(images, "pixelate", 5)  # 32 → 20 → 32 pixels
    assert len(np.unique(out[0, 5], axis=0)) <= 20 and len(np.unique(out[0, :, 5], axis=0)) <= 20


def test_frost_texture_is_a_seeded_blue_white_layer():
    layer = frost_texture(3, 32, 32, np.random.default_rng(1))
    assert layer.shape == (3, 32, 32, 3) and 0 <= layer.min() and layer.max() <= 1
    np.testing.assert_array_equal(layer, frost_texture(3, 32, 32, np.random.default_rng(1)))
    assert layer[..., 2].mean() > layer[..., 0].mean() > 0.3  # bluish white, light overall
    assert not np.array_equal(layer[0], layer[1])


def test_each_cell_has_its_own_stream():
    draws = {(seed, name, s): rng_for(seed, name, s).random()
             for seed, name, s in [(0, "fog", 3), (1, "fog", 3), (0, "snow", 3), (0, "fog", 4)]}
    assert len(set(draws.values())) == 4
    assert rng_for(0, "fog", 3).random() == draws[(0, "fog", 3)]


def test_the_corrupted_images_are_the_same_in_another_process(signs):
    """Seeds come from crc32 of the name, not hash(), which changes with every Python process."""
    code = ("import hashlib, sys; from conftest import make_dataset; from signclf.corruptions import corrupt; "
            "print(hashlib.sha1(corrupt(make_dataset(4, seed=0)[0], 'snow', 2).tobytes()).hexdigest())")
    tests = os.path.dirname(__file__)
    env = dict(os.environ, PYTHONHASHSEED="123", PYTHONPATH=os.pathsep.join([tests, os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == hashlib.sha1(corrupt(signs, "snow", 2).tobytes()).hexdigest()


@pytest.mark.parametrize("args, message", [
    (("rain", 1), "unknown corruption 'rain'; valid: gaussian_noise, shot_noise"),
    (("fog", 6), "severity must be 1..5"),
    (("fog", 0), "severity must be 1..5"),
])
def test_bad_names_and_severities_are_refused(args, message, signs):
    with pytest.raises(ValueError, match=message):
        corrupt(signs, *args)


def test_only_uint8_rgb_batches_are_accepted(signs):
    with pytest.raises(ValueError, match="uint8 N×H×W×3"):
        corrupt(signs.astype(np.float32), "fog", 1)
    with pytest.raises(ValueError, match="uint8 N×H×W×3"):
        corrupt(signs[0], "fog", 1)
