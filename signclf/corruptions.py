"""The 15 corruptions of CIFAR-10-C (Hendrycks & Dietterich 2019), applied to batches of camera images.

`corrupt(images, name, severity, seed)` takes uint8 N×H×W×3 RGB (the pictures before signclf's own
preprocessing: rain, blur and JPEG hit the camera image) and returns a corrupted uint8 copy. The
parameters are CIFAR-10-C's for 32×32 images (its make_cifar_c.py); the code is our own and works
on a whole batch at once. All randomness comes from one generator seeded by (seed, name, severity),
so every run, committee member and bundle is scored on the very same corrupted pictures.

The `imagecorruptions` package is not used: its parameters are ImageNet's (224×224), it works one
image at a time and it needs scikit-image, which signclf does not otherwise depend on.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

SEVERITIES = (1, 2, 3, 4, 5)
_PLANES_PER_CALL = 128  # OpenCV filters take at most 128 channels: blur the batch's planes in chunks


@dataclass(frozen=True)
class Corruption:
    """`apply(x, c, rng)` corrupts float32 N×H×W×3 images in [0, 1] with severity parameter c."""

    name: str
    apply: Callable[[np.ndarray, object, np.random.Generator], np.ndarray]
    params: tuple  # one entry per severity 1..5
    random: bool  # whether the seed matters


def rng_for(seed: int, name: str, severity: int) -> np.random.Generator:
    """The generator of one (corruption, severity) cell; crc32, not hash(): stable across processes."""
    return np.random.default_rng([int(seed), zlib.crc32(name.encode()), int(severity)])


def corrupt(images: np.ndarray, name: str, severity: int, seed: int = 0) -> np.ndarray:
    """A corrupted uint8 copy of uint8 N×H×W×3 RGB `images` (CORRUPTIONS[name] at severity 1..5)."""
    if name not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}; valid: {', '.join(CORRUPTIONS)}")
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be 1..5, not {severity!r}")
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be uint8 N×H×W×3, got {images.dtype} {images.shape}")
    spec = CORRUPTIONS[name]
    out = spec.apply(images.astype(np.float32) / 255, spec.params[severity - 1], rng_for(seed, name, severity))
    return np.rint(np.clip(out, 0, 1) * 255).astype(np.uint8)


# ---- helpers: whole-batch filtering, resampling and noise textures ----

def _per_plane(x: np.ndarray, filter_plane) -> np.ndarray:
    """Apply a 2-D OpenCV filter to every channel of every image (N×H×W×C), many planes per call."""
    n, h, w, c = x.shape
    planes = np.ascontiguousarray(x.transpose(1, 2, 0, 3).reshape(h, w, n * c))
    out = np.empty_like(planes)
    for start in range(0, n * c, _PLANES_PER_CALL):
        chunk = np.ascontiguousarray(planes[:, :, start:start + _PLANES_PER_CALL])
        out[:, :, start:start + _PLANES_PER_CALL] = filter_plane(chunk).reshape(h, w, -1)
    return out.reshape(h, w, n, c).transpose(2, 0, 1, 3)


def _gaussian(x: np.ndarray, sigma: float, truncate: float = 4.0, border=cv2.BORDER_REPLICATE) -> np.ndarray:
    """Gaussian blur of N×H×W×C (a kernel of ±truncate·sigma pixels, as scipy/scikit-image cut it)."""
    radius = int(truncate * sigma + 0.5)
    if radius == 0:
        return x
    return _per_plane(x, lambda p: cv2.GaussianBlur(p, (2 * radius + 1,) * 2, sigma, borderType=border))


def _linear_weights(coords: np.ndarray, size: int) -> np.ndarray:
    """len(coords)×size matrix sampling a length-`size` signal at `coords` (linear, edges clamped)."""
    coords = np.clip(coords, 0, size - 1)
    low = np.floor(coords).astype(int)
    high = np.minimum(low + 1, size - 1)
    frac = coords - low
    weights = np.zeros((len(coords), size), np.float32)
    np.add.at(weights, (np.arange(len(coords)), low), 1 - frac)
    np.add.at(weights, (np.arange(len(coords)), high), frac)
    return weights


def _zoom_plane(plane: np.ndarray, factor: float) -> np.ndarray:
    """Magnify H×W×C `plane` by `factor` about its centre, keeping the middle H×W pixels (CIFAR-C's
    clipped zoom)."""
    h, w = plane.shape[:2]
    shift = (1 - factor) * np.array([(w - 1) / 2, (h - 1) / 2])
    matrix = np.float32([[factor, 0, shift[0]], [0, factor, shift[1]]])
    return cv2.warpAffine(plane, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE) \
        .reshape(plane.shape)


def _resize_matrix(src: int, dst: int) -> np.ndarray:
    return _linear_weights((np.arange(dst) + 0.5) * src / dst - 0.5, src)


def _separable(x: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """out[n] = rows @ x[n] @ cols.T for every channel: two large matrix products for the batch."""
    y = np.tensordot(x, rows, axes=([1], [1]))  # N×W×C×H'
    y = np.tensordot(y, cols, axes=([1], [1]))  # N×C×H'×W'
    return np.ascontiguousarray(y.transpose(0, 2, 3, 1))


def _reflect(index: np.ndarray, size: int) -> np.ndarray:
    """Mirror out-of-range integer indices back into 0..size-1 (d c b | a b c d | c b a)."""
    period = max(2 * (size - 1), 1)
    index = np.mod(index, period)
    return np.where(index >= size, period - index, index)


def _sample(x: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Bilinear samples of N×H×W×C images at per-image coordinates ys, xs (N×H'×W'), mirrored edges."""
    n, h, w, _ = x.shape
    y0, x0 = np.floor(ys), np.floor(xs)
    fy, fx = (ys - y0)[..., None], (xs - x0)[..., None]
    y0, x0 = y0.astype(int), x0.astype(int)
    batch = np.arange(n).reshape(-1, *([1] * (ys.ndim - 1)))
    rows = _reflect(y0, h), _reflect(y0 + 1, h)
    cols = _reflect(x0, w), _reflect(x0 + 1, w)
    top = x[batch, rows[0], cols[0]] * (1 - fx) + x[batch, rows[0], cols[1]] * fx
    bottom = x[batch, rows[1], cols[0]] * (1 - fx) + x[batch, rows[1], cols[1]] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)


def _motion(x: np.ndarray, radius: float, sigma: float, angles_deg: np.ndarray) -> np.ndarray:
    """One-sided motion streak, each image at its own angle: ImageMagick's -motion-blur (Gaussian
    weights along the line, 3 sigma or `radius` pixels long, whichever is shorter)."""
    n, h, w = x.shape[:3]
    taps = np.arange(min(2 * int(np.ceil(radius)) + 1, int(np.ceil(3 * sigma)) + 1))
    weights = np.exp(-taps ** 2 / (2 * sigma ** 2))
    weights /= weights.sum()
    angle = np.deg2rad(angles_deg)[:, None, None]
    batch, rows, cols = np.arange(n)[:, None, None], np.arange(h)[None, :, None], np.arange(w)[None, None, :]
    out = np.zeros_like(x)
    for tap, weight in zip(taps, weights):
        dy, dx = np.rint(tap * np.sin(angle)).astype(int), np.rint(tap * np.cos(angle)).astype(int)
        out += weight * x[batch, np.clip(rows + dy, 0, h - 1), np.clip(cols + dx, 0, w - 1)]
    return out


def _plasma(n: int, size: int, decay: float, rng: np.random.Generator) -> np.ndarray:
    """n diamond-square height maps (size a power of two), each scaled to 0..1: CIFAR-C's fog."""
    maps = np.zeros((n, size, size))
    step, wibble = size, 100.0

    def wibbled_mean(total):
        return total / 4 + wibble * rng.uniform(-wibble, wibble, total.shape)

    while step >= 2:
        half = step // 2
        corners = maps[:, ::step, ::step]
        squares = corners + np.roll(corners, -1, axis=1)
        maps[:, half::step, half::step] = wibbled_mean(squares + np.roll(squares, -1, axis=2))
        centres = maps[:, half::step, half::step]
        maps[:, ::step, half::step] = wibbled_mean(centres + np.roll(centres, 1, axis=1)
                                                   + corners + np.roll(corners, -1, axis=2))
        maps[:, half::step, ::step] = wibbled_mean(centres + np.roll(centres, 1, axis=2)
                                                   + corners + np.roll(corners, -1, axis=1))
        step, wibble = half, wibble / decay
    maps -= maps.min(axis=(1, 2), keepdims=True)
    return maps / np.maximum(maps.max(axis=(1, 2), keepdims=True), 1e-12)


def _value_noise(n: int, h: int, w: int, cells: int, rng: np.random.Generator) -> np.ndarray:
    """n smooth random fields (N×H×W in 0..1): a cells×cells grid of random values, interpolated."""
    grid = rng.random((n, cells, cells, 1), dtype=np.float32)
    return _separable(grid, _resize_matrix(cells, h), _resize_matrix(cells, w))[..., 0]


def frost_texture(n: int, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """n procedural frost layers (N×H×W×3 in 0..1), in place of CIFAR-C's six frost photographs:
    fractal noise for the milky film plus ridged noise (bright where the noise crosses 0.5) for ice
    needles, tinted blue-white like frost on glass."""
    film = sum(0.5 ** octave * _value_noise(n, h, w, 2 ** (octave + 2), rng) for octave in range(4)) / 1.875
    needles = sum((1 - np.abs(2 * _value_noise(n, h, w, cells, rng) - 1)) ** 6 for cells in (6, 11, 17))
    layer = np.clip(0.25 + 0.55 * film + 0.45 * needles, 0, 1)
    return layer[..., None] * np.array([0.85, 0.93, 1.0], np.float32)


def _disk(radius: float, alias_blur: float) -> np.ndarray:
    """Defocus kernel: a normalised disk, antialiased by a small Gaussian, trimmed to its support."""
    span = np.arange(-max(8, int(np.ceil(radius))), max(8, int(np.ceil(radius))) + 1)
    xx, yy = np.meshgrid(span, span)
    disk = (xx ** 2 + yy ** 2 <= radius ** 2).astype(np.float32)
    kernel = cv2.GaussianBlur(disk / disk.sum(), (3, 3) if radius <= 8 else (5, 5), alias_blur)
    keep = np.flatnonzero(kernel.sum(0) > 1e-6)
    return np.ascontiguousarray(kernel[keep[0]:keep[-1] + 1, keep[0]:keep[-1] + 1])


def _gray(x: np.ndarray) -> np.ndarray:
    return (x @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]


# ---- the corruptions: x is float32 N×H×W×3 in [0, 1], c the severity's parameters ----

def gaussian_noise(x, c, rng):
    return x + rng.normal(scale=c, size=x.shape).astype(np.float32)


def shot_noise(x, c, rng):
    return (rng.poisson(x * c) / c).astype(np.float32)


def impulse_noise(x, c, rng):
    """Salt and pepper on each channel value independently (scikit-image's random_noise 's&p')."""
    hit = rng.random(x.shape) < c
    salt = rng.random(x.shape) < 0.5
    return np.where(hit, salt.astype(np.float32), x)


def defocus_blur(x, c, rng):
    kernel = _disk(*c)
    return _per_plane(x, lambda p: cv2.filter2D(p, -1, kernel, borderType=cv2.BORDER_REFLECT_101))


def glass_blur(x, c, rng):
    """Blur, jitter every pixel, blur again. CIFAR-10-C meant to swap each pixel with a random neighbour,
    but its tuple swap of NumPy views copies instead: each inner pixel takes the value of a random
    neighbour up to `delta` pixels up or left. Its images show that, so we do the same, one gather
    per iteration for the whole batch."""
    sigma, delta, iterations = c
    n, h, w, _ = x.shape
    pixels = np.rint(np.clip(_gaussian(x, sigma), 0, 1) * 255).astype(np.uint8)
    batch = np.arange(n)[:, None, None]
    rows, cols = np.arange(delta + 1, h - delta + 1)[None, :, None], np.arange(delta + 1, w - delta + 1)[None, None, :]
    for _ in range(iterations):
        dy, dx = rng.integers(-delta, delta, size=(2, n, rows.size, cols.size))
        pixels[:, rows[0], cols[0]] = pixels[batch, rows + dy, cols + dx]
    return _gaussian(pixels.astype(np.float32) / 255, sigma)


def motion_blur(x, c, rng):
    return _motion(x, *c, rng.uniform(-45, 45, len(x)))


def zoom_blur(x, c, rng):
    factors = np.arange(1, c, 0.01)
    return _per_plane(x, lambda plane: (plane + sum(_zoom_plane(plane, f) for f in factors)) / (len(factors) + 1))


def snow(x, c, rng):
    """Flakes: thresholded, zoomed noise streaked by motion blur, added twice (turned 180°) over an
    image lightened towards white."""
    loc, scale, zoom, threshold, radius, sigma, keep = c
    n, h, w, _ = x.shape
    flakes = rng.normal(loc, scale, (n, h, w, 1)).astype(np.float32)
    flakes = _per_plane(flakes, lambda plane: _zoom_plane(plane, zoom))
    flakes = np.clip(np.where(flakes < threshold, 0, flakes), 0, 1)
    flakes = _motion(flakes, radius, sigma, rng.uniform(-135, -45, n))
    x = keep * x + (1 - keep) * np.maximum(x, _gray(x) * 1.5 + 0.5)
    return x + flakes + np.rot90(flakes, 2, axes=(1, 2))


def frost(x, c, rng):
    image_weight, frost_weight = c
    return image_weight * x + frost_weight * frost_texture(len(x), *x.shape[1:3], rng)


def fog(x, c, rng):
    strength, decay = c
    n, h, w, _ = x.shape
    size = 1 << (max(h, w) - 1).bit_length()
    haze = _plasma(n, size, decay, rng)[:, :h, :w, None].astype(np.float32)
    brightest = x.max(axis=(1, 2, 3), keepdims=True)
    return (x + strength * haze) * brightest / (brightest + strength)


def brightness(x, c, rng):
    hsv = cv2.cvtColor(x.reshape(-1, x.shape[2], 3), cv2.COLOR_RGB2HSV)
    hsv[..., 2] = np.clip(hsv[..., 2] + c, 0, 1)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB).reshape(x.shape)


def contrast(x, c, rng):
    means = x.mean(axis=(1, 2), keepdims=True)
    return (x - means) * c + means


def elastic_transform(x, c, rng):
    """A random affine warp (three control points moved by up to c[2] pixels) followed by a smooth
    random displacement field (uniform noise blurred by sigma c[1], scaled by c[0] pixels)."""
    alpha, sigma, jitter = (v * x.shape[1] / 32 for v in c)  # CIFAR-C: fractions of 32 pixels
    n, h, w, _ = x.shape
    centre, half = np.array([w // 2, h // 2], np.float32), min(h, w) // 3
    corners = np.array([centre + half, [centre[0] + half, centre[1] - half], centre - half], np.float32)
    moved = corners + rng.uniform(-jitter, jitter, (n, 3, 2)).astype(np.float32)
    # The warp sends `corners` to `moved`; sampling needs the inverse: where each output pixel came from.
    source = np.linalg.solve(np.concatenate([moved, np.ones((n, 3, 1), np.float32)], 2), corners)  # N×3×2
    dx, dy = (_gaussian(rng.uniform(-1, 1, (n, h, w, 1)).astype(np.float32), sigma, 3.0, cv2.BORDER_REFLECT)[..., 0]
              * alpha for _ in range(2))
    cols, rows = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    px, py = cols + dx, rows + dy
    xs = px * source[:, 0, 0, None, None] + py * source[:, 1, 0, None, None] + source[:, 2, 0, None, None]
    ys = px * source[:, 0, 1, None, None] + py * source[:, 1, 1, None, None] + source[:, 2, 1, None, None]
    return _sample(x, ys, xs)


def pixelate(x, c, rng):
    """Box-average down to c×size pixels, then blow back up with square pixels (PIL's BOX both ways)."""
    h, w = x.shape[1:3]
    return _separable(x, _pixelate_matrix(h, max(1, int(h * c))), _pixelate_matrix(w, max(1, int(w * c))))


def _pixelate_matrix(size: int, small: int) -> np.ndarray:
    edges = np.arange(small + 1) * size / small
    starts, ends = edges[:-1, None], edges[1:, None]
    pixels = np.arange(size)[None, :]
    down = np.clip(np.minimum(ends, pixels + 1) - np.maximum(starts, pixels), 0, None) * small / size
    up = np.zeros((size, small), np.float32)
    up[np.arange(size), np.minimum(((np.arange(size) + 0.5) * small / size).astype(int), small - 1)] = 1
    return (up @ down).astype(np.float32)


def jpeg_compression(x, c, rng):
    pixels = np.rint(x * 255).astype(np.uint8)[..., ::-1]  # OpenCV encodes BGR
    quality = [cv2.IMWRITE_JPEG_QUALITY, int(c)]
    decoded = [cv2.imdecode(cv2.imencode(".jpg", np.ascontiguousarray(img), quality)[1], cv2.IMREAD_COLOR)
               for img in pixels]
    return np.stack(decoded)[..., ::-1].astype(np.float32) / 255


# CIFAR-10-C's parameters (make_cifar_c.py), severity 1..5, in the benchmark's order.
CORRUPTIONS: dict[str, Corruption] = {spec.name: spec for spec in [
    Corruption("gaussian_noise", gaussian_noise, (0.04, 0.06, 0.08, 0.09, 0.10), True),
    Corruption("shot_noise", shot_noise, (500, 250, 100, 75, 50), True),
    Corruption("impulse_noise", impulse_noise, (0.01, 0.02, 0.03, 0.05, 0.07), True),
    Corruption("defocus_blur", defocus_blur, ((0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1)), False),
    Corruption("glass_blur", glass_blur, ((0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2), (0.4, 1, 2)), True),
    Corruption("motion_blur", motion_blur, ((6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5)), True),
    Corruption("zoom_blur", zoom_blur, (1.06, 1.11, 1.16, 1.21, 1.26), False),
    Corruption("snow", snow, ((0.1, 0.2, 1, 0.6, 8, 3, 0.95), (0.1, 0.2, 1, 0.5, 10, 4, 0.9),
                              (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9), (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85),
                              (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8)), True),
    Corruption("frost", frost, ((1, 0.2), (1, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45)), True),
    Corruption("fog", fog, ((0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75)), True),
    Corruption("brightness", brightness, (0.05, 0.1, 0.15, 0.2, 0.3), False),
    Corruption("contrast", contrast, (0.75, 0.5, 0.4, 0.3, 0.15), False),
    Corruption("elastic_transform", elastic_transform, ((0, 0, 2.56), (1.6, 6.4, 2.24), (2.56, 1.92, 1.92),
                                                        (3.2, 1.28, 1.6), (3.2, 0.96, 0.96)), True),
    Corruption("pixelate", pixelate, (0.95, 0.9, 0.85, 0.75, 0.65), False),
    Corruption("jpeg_compression", jpeg_compression, (80, 65, 58, 50, 40), False),
]}
