"""Test-time augmentation: average a model's softmax over a few fixed views of each image.

A sign crop is never perfectly centred or sized, so the model's answer on the crop shifted by a
pixel or zoomed a little is a second opinion about the same image; averaging the opinions removes
some errors that depend on exactly where the sign sits. The views are fixed (no randomness), so
`--tta N` gives the same answer every time, and they are applied to the camera image before the
model's own preprocessing, so every model kind (runs, committees, exported bundles) gets them alike.
NumPy and OpenCV are imported on use: the CLI reads MAX_VIEWS for its --help.
"""

from __future__ import annotations

# (dx, dy, scale): shifts in pixels of a 32-pixel side (scaled to the image's own size), zoom about the centre.
# Ordered so that the first N views are the most useful N: the image itself, then one-pixel shifts, then zooms.
VIEWS = (
    (0, 0, 1.0),
    (1, 0, 1.0), (-1, 0, 1.0), (0, 1, 1.0), (0, -1, 1.0),
    (0, 0, 1.1), (0, 0, 0.92),
    (1, 1, 1.0), (-1, -1, 1.0), (1, -1, 1.0), (-1, 1, 1.0),
)
MAX_VIEWS = len(VIEWS)


def view(image, dx: float, dy: float, scale: float):
    """One view of an H×W×3 uint8 image; borders repeat the edge pixels, as a wider crop would show."""
    import cv2

    if (dx, dy, scale) == (0, 0, 1.0):
        return image
    h, w = image.shape[:2]
    unit = w / 32.0
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), 0.0, scale)
    matrix[:, 2] += (dx * unit, dy * unit)
    return cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def views_of(images, index: int):
    """View number `index` of every image (an array stays an array, a list stays a list)."""
    import numpy as np

    out = [view(np.asarray(img), *VIEWS[index]) for img in images]
    return np.stack(out) if isinstance(images, np.ndarray) and out else out


class TestTimeAugmented:
    """Wraps anything with `cfg`, `class_names` and `probabilities` (a Committee, a bundle model):
    its probabilities become the mean over the first `n_views` views."""

    __test__ = False  # not a pytest class, despite the name

    def __init__(self, model, n_views: int):
        if not 1 <= n_views <= MAX_VIEWS:
            raise ValueError(f"n_views must be in 1..{MAX_VIEWS}")
        self.model, self.n_views = model, n_views

    @property
    def cfg(self):
        return self.model.cfg

    @property
    def class_names(self):
        return self.model.class_names

    @property
    def runs(self):
        return getattr(self.model, "runs", [])

    def probabilities(self, images, batch_size: int):
        total = self.model.probabilities(images, batch_size)
        for index in range(1, self.n_views):
            total = total + self.model.probabilities(views_of(images, index), batch_size)
        return total / self.n_views

    def close(self):
        self.model.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def with_tta(model, n_views: int):
    """`model` itself for one view (no extra work), else a TestTimeAugmented wrapper."""
    return model if n_views <= 1 else TestTimeAugmented(model, n_views)
