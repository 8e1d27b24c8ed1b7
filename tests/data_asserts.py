"""Checks on decoded datasets shared by the reader tests (the fixtures paint each class its colour)."""

import numpy as np

from fixtures_data import CLASS_COLOURS, GREY


def assert_class_colours(ds, cropped=False):
    """Each image's centre has its label's colour; uncropped corners stay grey."""
    centre = ds.images[:, ds.images.shape[1] // 2, ds.images.shape[2] // 2]
    np.testing.assert_array_equal(centre, np.array(CLASS_COLOURS)[ds.labels])
    corner = ds.images[:, 0, 0]
    expected = np.array(CLASS_COLOURS)[ds.labels] if cropped else np.tile(GREY, (len(ds), 1))
    np.testing.assert_array_equal(corner, expected)
