"""The drawing primitives the synthetic signs are made of: unit coordinates, mirroring, silhouettes."""

import numpy as np

from signclf.data.synth_draw import Canvas, arc, arrow, din_number, rot, rounded_poly


def test_unit_square_fills_the_canvas_and_the_silhouette_separately():
    cv = Canvas(32)
    cv.fill([(-1, -1), (1, -1), (1, 1), (-1, 1)], (255, 0, 0))
    assert (cv.rgb[2:-2, 2:-2] == (255, 0, 0)).all() and cv.alpha.max() == 0
    cv.fill([(-1, -1), (0, -1), (0, 1), (-1, 1)], None, silhouette=True)
    assert cv.alpha[16, 5] == 255 and cv.alpha[16, 27] == 0  # left half only


def test_a_mirrored_sub_canvas_draws_on_the_other_side():
    left_half = [(-1, -1), (0, -1), (0, 1), (-1, 1)]
    plain, mirrored = Canvas(32), Canvas(32)
    plain.fill(left_half, (0, 255, 0))
    mirrored.sub(0, 0, 1.0, flip=True).fill(left_half, (0, 255, 0))
    assert plain.rgb[16, 5, 1] == 255 and plain.rgb[16, 27, 1] == 0
    assert mirrored.rgb[16, 27, 1] == 255 and mirrored.rgb[16, 5, 1] == 0


def test_arc_rot_and_shapes():
    quarter = arc((0, 0), 1.0, 0, 90, n=3)
    np.testing.assert_allclose(quarter, [[1, 0], [np.sqrt(0.5), np.sqrt(0.5)], [0, 1]], atol=1e-12)
    np.testing.assert_allclose(np.array([[1.0, 0.0]]) @ rot(90), [[0, 1]], atol=1e-12)  # clockwise on screen
    cv = Canvas(48)
    arrow(cv, [(0, 0.8), (0, -0.8)], 0.2, (255, 255, 255))
    rounded_poly(cv, [(-0.9, 0.5), (0.9, 0.5), (0.9, 0.9), (-0.9, 0.9)], (0, 0, 255), 0.1)
    assert cv.rgb[:, :, 0].max() == 255 and cv.rgb[:, :, 2].max() == 255


def test_din_number_writes_each_digit_inside_its_box():
    cv = Canvas(64)
    din_number(cv, "80", (0, 0), 1.2, 0.8, (255, 255, 255), 0.12)
    ys, xs = np.nonzero(cv.rgb[:, :, 0])
    assert xs.min() >= 64 / 2 - 0.6 * 31 - 2 and xs.max() <= 64 / 2 + 0.6 * 31 + 2
    assert len(np.unique(xs // 16)) >= 2  # ink in both digit columns
