"""Turn a clean sign face into a GTSRB-like photo crop: the nuisances a real camera adds.

GTSRB crops are small (median ~44 px, 25..250), the sign fills ~70-90% of the crop with a ~10%
margin of street behind it, and they are often dark, washed out, colour-cast, blurred and noisy.
We compose the crop at its simulated original size (capped at twice the output size, beyond which
the detail would be averaged away anyway), degrade it there, and only then resize to the output
size, so the low-resolution look comes from the same resampling a real crop goes through.
"""

from __future__ import annotations

import cv2
import numpy as np


def _smooth_noise(rng, h, w, cells, channels=1):
    """Low-frequency noise in [0, 1]: a coarse random grid upsampled smoothly (blobs, clouds, leaves)."""
    gh, gw = max(2, int(h / cells)), max(2, int(w / cells))
    grid = rng.random((gh, gw, channels)).astype(np.float32)
    out = cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(out.reshape(h, w, channels), 0, 1)


def background(rng, h, w) -> np.ndarray:
    """A cluttered street backdrop, float32 RGB in [0, 1]: sky, foliage, buildings, or dark shade."""
    kind = rng.choice(["sky", "foliage", "building", "dark", "mixed"], p=[0.2, 0.25, 0.2, 0.15, 0.2])
    yy = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    if kind == "sky":  # often overexposed to near white behind the sign
        top, bottom = rng.uniform(0.45, 1.0, 3), rng.uniform(0.35, 0.95, 3)
        if rng.random() < 0.4:
            top = bottom = rng.uniform(0.85, 1.0) * np.ones(3)
        top[2] = max(top[2], top[0])  # skies lean blue or grey, never red
        img = top + (bottom - top) * yy + 0.15 * (_smooth_noise(rng, h, w, rng.uniform(6, 20)) - 0.5)
    elif kind == "foliage":
        base = np.array([rng.uniform(0.1, 0.45), rng.uniform(0.2, 0.55), rng.uniform(0.05, 0.3)])
        img = base * (0.4 + 1.2 * _smooth_noise(rng, h, w, rng.uniform(2, 6))) \
            + 0.25 * (_smooth_noise(rng, h, w, rng.uniform(3, 8), 3) - 0.5)
    elif kind == "building":
        base = rng.uniform(0.3, 0.85) * np.array([1.0, rng.uniform(0.85, 1.0), rng.uniform(0.7, 1.0)])
        img = np.broadcast_to(base, (h, w, 3)).astype(np.float32).copy()
        for _ in range(rng.integers(2, 8)):  # windows, bricks, edges of facades
            x, y = rng.integers(0, w), rng.integers(0, h)
            dw, dh = rng.integers(2, max(3, w // 2)), rng.integers(2, max(3, h // 2))
            cv2.rectangle(img, (x, y), (x + dw, y + dh), rng.uniform(0.05, 0.9, 3).tolist(), -1)
    elif kind == "dark":
        img = rng.uniform(0.02, 0.2, 3) * (0.5 + _smooth_noise(rng, h, w, rng.uniform(3, 10), 3))
    else:
        img = rng.uniform(0.1, 0.9, 3) * (0.3 + _smooth_noise(rng, h, w, rng.uniform(3, 12), 3))
    img = np.ascontiguousarray(img, dtype=np.float32)
    grey = img.mean(axis=2, keepdims=True)
    img = grey + (img - grey) * rng.uniform(0.2, 0.8)  # real street backdrops are far greyer than random RGB
    for _ in range(rng.poisson(1.5)):  # wires, branches, kerbs
        p1, p2 = rng.integers(0, [w, h]), rng.integers(0, [w, h])
        cv2.line(img, tuple(map(int, p1)), tuple(map(int, p2)), rng.uniform(0, 1, 3).tolist(),
                 int(rng.integers(1, max(2, w // 12))), cv2.LINE_AA)
    return np.clip(img, 0, 1)


def _neighbour_sign(img, rng, box):
    """Part of another sign or plate above/below, as GTSRB crops often show one at their edge."""
    h, w = img.shape[:2]
    x1, y1, x2, y2 = box
    r = (x2 - x1) / 2 * rng.uniform(0.8, 1.1)
    above = rng.random() < 0.5
    cy = y1 - r * rng.uniform(0.95, 1.3) if above else y2 + r * rng.uniform(0.95, 1.3)
    cx = (x1 + x2) / 2 + rng.normal(0, r * 0.1)
    colour = [(0.75, 0.1, 0.12), (0.1, 0.3, 0.7), (0.9, 0.9, 0.9), (0.95, 0.75, 0.1)][rng.integers(4)]
    if rng.random() < 0.5:
        cv2.circle(img, (int(cx), int(cy)), int(r), colour, -1, cv2.LINE_AA)
        cv2.circle(img, (int(cx), int(cy)), int(r * 0.8), (0.9, 0.9, 0.9), -1, cv2.LINE_AA)
    else:
        cv2.rectangle(img, (int(cx - r), int(cy - r * 0.5)), (int(cx + r), int(cy + r * 0.5)), colour, -1)


def _pole(img, rng, box):
    x1, y1, x2, y2 = box
    cx = (x1 + x2) / 2 + rng.normal(0, 0.5)
    half = max(1.0, (x2 - x1) * rng.uniform(0.03, 0.06))
    grey = rng.uniform(0.25, 0.7)
    cv2.rectangle(img, (int(cx - half), int((y1 + y2) / 2)), (int(cx + half), img.shape[0]),
                  (grey, grey, grey * rng.uniform(0.9, 1.1)), -1)


def _placement(rng, face_box, w0, h0, clean):
    """The perspective map from the face's pixels into the crop: scale, off-centre, roll, yaw, pitch."""
    fx1, fy1, fx2, fy2 = face_box
    frac = rng.uniform(0.8, 0.9) if clean else np.clip(rng.normal(0.8, 0.06), 0.6, 0.95)
    scale = frac * w0 / (fx2 - fx1)
    src = np.float32([(fx1, fy1), (fx2, fy1), (fx2, fy2), (fx1, fy2)])
    local = (src - [(fx1 + fx2) / 2, (fy1 + fy2) / 2]) * scale
    roll = np.radians(rng.normal(0, 2 if clean else 5))
    rot = np.array([[np.cos(roll), -np.sin(roll)], [np.sin(roll), np.cos(roll)]])
    local = local @ rot.T
    yaw, pitch = rng.normal(0, 0.04 if clean else 0.1, 2)
    local[:, 0] *= 1 - abs(yaw)  # turning away narrows the sign and shortens its far edge
    far = (local[:, 0] > 0) if yaw > 0 else (local[:, 0] < 0)
    local[:, 1] *= np.where(far, 1 - abs(yaw) * 0.6, 1.0)
    local[:, 1] *= 1 - abs(pitch) * 0.5
    local[:, 0] *= np.where((local[:, 1] > 0) == (pitch > 0), 1 - abs(pitch) * 0.4, 1.0)
    spread = 0.02 if clean else 0.06
    centre = np.array([w0 / 2 + rng.normal(0, spread * w0), h0 / 2 + rng.normal(0, spread * h0)])
    dst = np.float32(local + centre)
    return cv2.getPerspectiveTransform(src, dst), dst


def _photometric(img, rng, clean):
    """Contrast, exposure, gamma, colour cast, haze, saturation: GTSRB is often dark and colour-cast."""
    if clean:
        gain, gamma, cast, haze, sat = rng.uniform(0.85, 1.1), rng.uniform(0.9, 1.1), rng.normal(1, 0.03, 3), 0, 1
    else:
        gain = np.exp(rng.normal(-0.55, 0.6))
        gamma = np.exp(rng.normal(0, 0.25))
        cast = np.exp(rng.normal(0, 0.12, 3))
        haze = rng.uniform(0, 0.35) if rng.random() < 0.2 else 0.0
        sat = rng.uniform(0.3, 1.1)
        contrast = np.exp(rng.normal(0.2, 0.2))
        img = np.clip(img.mean() + (img - img.mean()) * contrast, 0, 1)
    grey = img.mean(axis=2, keepdims=True)
    img = grey + (img - grey) * sat
    img = np.clip(img * gain * cast, 0, 1) ** gamma
    if haze:
        img = img * (1 - haze) + haze * rng.uniform(0.4, 1.0) * np.exp(rng.normal(0, 0.08, 3))
    return np.clip(img, 0, 1)


def _blur(img, rng, w0, out_size, clean):
    """Defocus and motion blur, sized in output pixels so small and large crops blur alike."""
    per_out = w0 / out_size
    sigma = abs(rng.normal(0, 0.2 if clean else 0.35)) * per_out
    if sigma > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    if not clean and rng.random() < 0.2:
        length = max(2, int(round(rng.uniform(1, 2.5) * per_out)))
        kernel = np.zeros((length, length), np.float32)
        angle = rng.uniform(0, np.pi)
        c = (length - 1) / 2
        d = np.array([np.cos(angle), np.sin(angle)]) * c
        ends = np.round([c - d, c + d]).astype(int)
        cv2.line(kernel, tuple(map(int, ends[0])), tuple(map(int, ends[1])), 1.0)
        img = cv2.filter2D(img, -1, kernel / kernel.sum())
    return img


def _sensor(img8, rng, clean):
    """Sensor noise and JPEG blocking on the uint8 crop."""
    if clean:
        return img8
    sigma = rng.uniform(0, 5)
    if sigma > 1:
        img8 = np.clip(img8 + rng.normal(0, sigma, img8.shape), 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        ok, buf = cv2.imencode(".jpg", img8, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(40, 95))])
        img8 = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return img8


def _light_on_face(rng, w, h, clean):
    """Uneven light on the sign face: a shadow or sun gradient that the background does not share."""
    gx, gy = rng.normal(0, 0.05 if clean else 0.25, 2)
    xx, yy = np.meshgrid(np.linspace(-1, 1, w, dtype=np.float32), np.linspace(-1, 1, h, dtype=np.float32))
    shade = np.clip(1 + gx * xx + gy * yy, 0.3, 1.4)[..., None]
    if not clean:  # retro-reflective faces often stand out brighter than the street behind them
        shade = shade * np.exp(rng.normal(0.1, 0.2))
        if rng.random() < 0.12:  # back-lit: a dark face against a bright sky
            shade = shade * rng.uniform(0.12, 0.45)
    return shade


def photograph(face_rgb, face_alpha, rng, out_size=32, clean=False):
    """A photo-like crop of the sign: (uint8 out×out×3 RGB, (width, height), (x1, y1, x2, y2) ROI).

    (width, height) is the crop's simulated original size and the ROI is in those pixels, as in GTSRB.
    """
    w0 = out_size if clean else int(np.clip(np.exp(rng.normal(np.log(44), 0.45)), 25, 160))
    h0 = int(round(w0 * (1.0 if clean else np.clip(rng.normal(1.03, 0.04), 0.95, 1.15))))
    # Big crops are composed at twice the output size at most: the final resize would average the
    # extra detail away anyway, and the cost grows with the square of the size.
    k = min(1.0, 2 * out_size / max(w0, h0))
    w, h = int(round(w0 * k)), int(round(h0 * k))

    ys, xs = np.nonzero(face_alpha)
    face_box = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    shrink = min(1.0, 1.35 * w / (face_box[2] - face_box[0]))
    if shrink < 1.0:  # area-average first: a perspective warp alone would alias the fine strokes
        face_rgb = cv2.resize(face_rgb, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
        face_alpha = cv2.resize(face_alpha, (face_rgb.shape[1], face_rgb.shape[0]), interpolation=cv2.INTER_AREA)
        face_box = tuple(v * shrink for v in face_box)
    M, quad = _placement(rng, face_box, w, h, clean)
    face = cv2.warpPerspective(face_rgb.astype(np.float32) / 255, M, (w, h), flags=cv2.INTER_LINEAR)
    alpha = cv2.warpPerspective(face_alpha.astype(np.float32) / 255, M, (w, h), flags=cv2.INTER_LINEAR)[..., None]
    x1, y1 = np.floor(quad.min(0)).astype(int)
    x2, y2 = np.ceil(quad.max(0)).astype(int)

    img = background(rng, h, w)
    if rng.random() < (0.15 if clean else 0.5):
        _pole(img, rng, (x1, y1, x2, y2))
    if not clean and rng.random() < 0.25:
        _neighbour_sign(img, rng, (x1, y1, x2, y2))
    img = img * (1 - alpha) + face * _light_on_face(rng, w, h, clean) * alpha
    img = _photometric(img, rng, clean)
    img = _blur(img, rng, w, out_size, clean)
    img8 = _sensor((img * 255 + 0.5).astype(np.uint8), rng, clean)
    if not clean and rng.random() < 0.1:  # a lower-resolution camera, upscaled back
        low = int(rng.integers(max(12, w // 4), max(13, w // 2)))
        img8 = cv2.resize(cv2.resize(img8, (low, low), interpolation=cv2.INTER_AREA), (w, h),
                          interpolation=cv2.INTER_LINEAR)
    shrinking = w > out_size or h > out_size
    out = cv2.resize(img8, (out_size, out_size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    x1, x2 = int(x1 * w0 / w), int(np.ceil(x2 * w0 / w))  # back to the simulated original's pixels
    y1, y2 = int(y1 * h0 / h), int(np.ceil(y2 * h0 / h))
    return out, (w0, h0), (max(0, x1), max(0, y1), min(w0 - 1, x2), min(h0 - 1, y2))
