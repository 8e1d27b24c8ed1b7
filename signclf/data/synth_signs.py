"""Draw the 43 GTSRB sign faces (shapes, colours, pictograms, numbers) with OpenCV primitives.

Every painter draws in *unit coordinates* (see `synth_draw.Canvas`): the sign's bounding circle is
radius 1 around (0, 0), y grows downwards like image rows. `Canvas.sub` opens a smaller unit box for
a pictogram (and can mirror it), so a left/right pair is one drawing plus a flag. Geometry, paint
shades, digit style and stroke weight are jittered per image by the caller's rng, because a
classifier trained on one exact drawing learns that drawing, not the sign.
"""

from __future__ import annotations

import cv2
import numpy as np

from signclf.data.synth_draw import Canvas, arc, arrow, din_number, rot, rounded_poly

_FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_COMPLEX)
_DIGIT_FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX)  # sans serif, like DIN 1451


def palette(rng) -> dict:
    """Paint shades for one sign: faded, dirty or fresh, so no exact colour is learnt."""
    j = lambda rgb, s=14: tuple(int(np.clip(v + rng.normal(0, s), 0, 255)) for v in rgb)  # noqa: E731
    white = j((232, 232, 228), 10)
    return {
        "red": j((196 + rng.integers(-25, 30), 28, 38 + rng.integers(-15, 25))),
        "blue": j((18, 70 + rng.integers(-25, 40), 165 + rng.integers(-40, 40))),
        "white": white,
        "black": j((22, 22, 24), 8),
        "grey": j((100, 100, 100), 18),
        "yellow": j((246, 186, 20), 14),
        "green": j((30, 170, 70), 15),
    }


# --- sign bodies ------------------------------------------------------------------------------

TRIANGLE = np.array([(0.0, -0.87), (1.0, 0.87), (-1.0, 0.87)])
_TRI_CENTROID = np.array([0.0, 0.29])


def _triangle(cv, pal, rng, inverted=False, border=None):
    """A red-bordered white triangle (upright for warnings, inverted for yield)."""
    tri = TRIANGLE * [1, -1] if inverted else TRIANGLE
    centroid = _TRI_CENTROID * [1, -1] if inverted else _TRI_CENTROID
    border = border if border is not None else rng.uniform(0.12, 0.19)
    corner = rng.uniform(0.04, 0.1)
    rounded_poly(cv, tri, 255, corner, silhouette=True)
    rounded_poly(cv, tri, pal["red"], corner)
    inner = centroid + (tri - centroid) * (1 - border / 0.577)  # 0.577 = inradius of a side-2 triangle
    cv.fill(inner, pal["white"])


def _ring_disc(cv, pal, rng):
    """The prohibitory body: white disc in a red ring."""
    cv.disc((0, 0), 1, 255, silhouette=True)
    cv.disc((0, 0), 1, pal["red"])
    cv.disc((0, 0), 1 - rng.uniform(0.12, 0.2), pal["white"])


def _blue_disc(cv, pal, rng):
    cv.disc((0, 0), 1, 255, silhouette=True)
    cv.disc((0, 0), 1, pal["white"])
    cv.disc((0, 0), 1 - rng.uniform(0.0, 0.06), pal["blue"])


def _end_disc(cv, pal, rng):
    """White disc with a thin dark edge; the grey content and the stripes come on top."""
    cv.disc((0, 0), 1, 255, silhouette=True)
    cv.disc((0, 0), 1, pal["white"])


def _end_stripes(cv, pal, rng, count, spacing):
    """Thin black diagonal lines running from lower left to upper right, clipped by the disc edge."""
    ext = np.array([(-1.2, 1.2), (1.2, -1.2)])
    normal = np.array([1.0, 1.0]) / np.sqrt(2)
    width = rng.uniform(0.03, 0.05)
    for k in np.arange(count) - (count - 1) / 2:
        cv.stroke(ext + normal * k * spacing, width, pal["black"])
    cv.ring((0, 0), 1, rng.uniform(0.03, 0.06), pal["black"])


# --- pictogram pieces (unit box each) ---------------------------------------------------------

def car_rear(cv, color):  # a wide, low car seen from behind
    cv.fill([(-0.6, -0.5), (0.6, -0.5), (0.85, -0.1), (-0.85, -0.1)], color)
    cv.fill([(-0.95, -0.12), (0.95, -0.12), (0.95, 0.4), (-0.95, 0.4)], color)
    cv.fill([(-0.88, 0.35), (-0.52, 0.35), (-0.52, 0.65), (-0.88, 0.65)], color)
    cv.fill([(0.88, 0.35), (0.52, 0.35), (0.52, 0.65), (0.88, 0.65)], color)


def truck_rear(cv, color):
    cv.fill([(-0.85, -0.95), (0.85, -0.95), (0.85, 0.55), (-0.85, 0.55)], color)
    cv.fill([(-0.8, 0.5), (-0.4, 0.5), (-0.4, 0.9), (-0.8, 0.9)], color)
    cv.fill([(0.8, 0.5), (0.4, 0.5), (0.4, 0.9), (0.8, 0.9)], color)


def truck_side(cv, color, white):
    cv.fill([(-0.45, -0.55), (1.0, -0.55), (1.0, 0.35), (-0.45, 0.35)], color)  # box
    cv.fill([(-1.0, -0.3), (-0.6, -0.3), (-0.5, 0.35), (-1.0, 0.35)], color)  # cab
    cv.fill([(-0.9, -0.2), (-0.65, -0.2), (-0.62, 0.0), (-0.9, 0.0)], white)  # cab window
    for x in (-0.72, 0.35, 0.72):
        cv.disc((x, 0.42), 0.17, color)


def person(cv, color, stride=1.0):
    cv.disc((0.08, -0.78), 0.17, color)
    cv.stroke([(0.02, -0.52), (-0.05, 0.12)], 0.26, color)
    cv.stroke([(-0.05, 0.12), (-0.35 * stride, 0.9)], 0.17, color)
    cv.stroke([(-0.05, 0.12), (0.12, 0.45), (0.35 * stride, 0.9)], 0.17, color)
    cv.stroke([(0.0, -0.45), (-0.3, 0.05)], 0.13, color)
    cv.stroke([(0.04, -0.45), (0.32, -0.02)], 0.13, color)


# --- one painter per sign family ----------------------------------------------------------------

def _number(cv, pal, rng, text, w, h, color):
    """Half DIN-like stroke digits, half Hershey font digits, so no single glyph set is learnt."""
    centre = (rng.normal(0, 0.02), rng.normal(0, 0.02))
    if rng.random() < 0.5:
        din_number(cv, text, centre, w, h, color, h * rng.uniform(0.1, 0.16))
    else:
        font = _DIGIT_FONTS[rng.integers(len(_DIGIT_FONTS))] | (cv2.FONT_ITALIC if rng.random() < 0.1 else 0)
        cv.text(text, centre, w, h, color, font, int(rng.integers(3, 9)))


def speed_limit(number):
    def paint(cv, pal, rng):
        _ring_disc(cv, pal, rng)
        text = str(number)
        # DIN digits: wide, round and thin-stroked (about a ninth of their height); three digits fill the disc.
        w = (1.12 if len(text) == 2 else 1.38) * rng.uniform(0.92, 1.06)
        h = (0.9 if len(text) == 2 else 0.84) * rng.uniform(0.92, 1.06)
        _number(cv, pal, rng, text, w, h, pal["black"])
    return paint


def end_of_speed_limit(cv, pal, rng):
    _end_disc(cv, pal, rng)
    _number(cv, pal, rng, "80", 1.1 * rng.uniform(0.92, 1.06), 0.9 * rng.uniform(0.92, 1.06), pal["grey"])
    _end_stripes(cv, pal, rng, 5, rng.uniform(0.1, 0.13))


def end_of_all_limits(cv, pal, rng):
    _end_disc(cv, pal, rng)
    _end_stripes(cv, pal, rng, 5, rng.uniform(0.11, 0.15))


def end_of_no_passing(trucks):
    def paint(cv, pal, rng):
        _end_disc(cv, pal, rng)
        (truck_rear if trucks else car_rear)(cv.sub(-0.36, 0.0, 0.28), pal["grey"])
        car_rear(cv.sub(0.37, 0.02, 0.28), pal["grey"])
        _end_stripes(cv, pal, rng, 5, 0.1)
    return paint


def no_passing(trucks):
    def paint(cv, pal, rng):
        _ring_disc(cv, pal, rng)
        if trucks:
            truck_rear(cv.sub(-0.36, 0.0, 0.27), pal["red"])
        else:
            car_rear(cv.sub(-0.37, 0.02, 0.28), pal["red"])
        car_rear(cv.sub(0.37, 0.02, 0.28), pal["black"])
    return paint


def no_vehicles(cv, pal, rng):
    _ring_disc(cv, pal, rng)


def no_heavy_trucks(cv, pal, rng):
    _ring_disc(cv, pal, rng)
    truck_side(cv.sub(0, 0.02, 0.55), pal["black"], pal["white"])


def no_entry(cv, pal, rng):
    cv.disc((0, 0), 1, 255, silhouette=True)
    cv.disc((0, 0), 1, pal["red"])
    h = rng.uniform(0.13, 0.18)
    cv.fill([(-0.62, -h), (0.62, -h), (0.62, h), (-0.62, h)], pal["white"])


def stop(cv, pal, rng):
    octagon = arc((0, 0), 1.0, 22.5, 22.5 + 315, 8)
    cv.fill(octagon, 255, silhouette=True)
    cv.fill(octagon, pal["white"])
    cv.fill(arc((0, 0), rng.uniform(0.88, 0.94), 22.5, 22.5 + 315, 8), pal["red"])
    cv.text("STOP", (0, 0), rng.uniform(1.2, 1.4), rng.uniform(0.45, 0.55), pal["white"],
            _FONTS[rng.integers(len(_FONTS))], int(rng.integers(5, 10)))


def yield_sign(cv, pal, rng):
    _triangle(cv, pal, rng, inverted=True, border=rng.uniform(0.2, 0.27))


def priority_road(cv, pal, rng):
    diamond = [(0, -1), (1, 0), (0, 1), (-1, 0)]
    rounded_poly(cv, diamond, 255, 0.05, silhouette=True)
    rounded_poly(cv, diamond, pal["black"], 0.05)
    rounded_poly(cv, np.array(diamond) * 0.95, pal["white"], 0.05)
    rounded_poly(cv, np.array(diamond) * rng.uniform(0.55, 0.65), pal["yellow"], 0.03)


def warning(pictogram):
    """A warning triangle carrying `pictogram(cv, pal, rng)` drawn in its own unit box."""
    def paint(cv, pal, rng):
        _triangle(cv, pal, rng)
        # Real pictograms read as bold black blobs at 32 px: draw them large and with heavy strokes.
        pictogram(cv.sub(rng.normal(0, 0.015), 0.25 + rng.normal(0, 0.015), rng.uniform(0.42, 0.5),
                         weight=rng.uniform(1.1, 1.6)), pal, rng)
    return paint


def mandatory(pictogram, flip=False):
    def paint(cv, pal, rng):
        _blue_disc(cv, pal, rng)
        pictogram(cv.sub(0, 0, rng.uniform(0.62, 0.72), flip, weight=rng.uniform(0.9, 1.3)), pal["white"], rng)
    return paint


# --- warning pictograms -----------------------------------------------------------------------

def right_of_way(cv, pal, rng):  # a fat vertical bar with a pointed top, crossed by a thinner bar
    k = pal["black"]
    cv.fill([(-0.24, 0.9), (0.24, 0.9), (0.24, -0.5), (0, -0.92), (-0.24, -0.5)], k)
    cv.fill([(-0.72, -0.28), (0.72, -0.28), (0.72, 0.02), (-0.72, 0.02)], k)


def caution(cv, pal, rng):
    cv.fill([(-0.2, -0.92), (0.2, -0.92), (0.11, 0.35), (-0.11, 0.35)], pal["black"])
    cv.disc((0, 0.7), 0.18, pal["black"])


def curve(cv, pal, rng):  # drawn bending left; mirrored for the right-hand curve
    pts = np.vstack([[(0.3, 0.95)], arc((-0.1, 0.0), 0.4, 0, -90, 8), [(-0.7, -0.4)]])
    arrow(cv, pts, 0.22, pal["black"], head_len=0.38, head_w=0.62)


def double_curve(cv, pal, rng):
    pts = [(0.15, 0.95), (0.15, 0.5), (-0.3, 0.15), (-0.3, -0.05), (0.25, -0.45), (0.25, -0.95)]
    arrow(cv, pts, 0.2, pal["black"], head_len=0.38, head_w=0.6)


def bumpy_road(cv, pal, rng):
    bumps = [(-0.95, 0.4)] + list(arc((-0.42, 0.4), 0.36, 180, 360, 10)) + list(arc((0.42, 0.4), 0.36, 180, 360, 10))
    cv.fill(bumps + [(0.95, 0.4), (0.95, 0.65), (-0.95, 0.65)], pal["black"])


def slippery_road(cv, pal, rng):
    k = pal["black"]
    cv.fill([(-0.75, -0.55), (0.75, -0.55), (0.75, -0.15), (-0.75, -0.15)], k)
    cv.fill([(-0.35, -0.85), (0.35, -0.85), (0.5, -0.55), (-0.5, -0.55)], k)
    for dx in (-0.3, 0.3):
        t = np.linspace(0, 1, 12)
        cv.stroke(np.stack([dx + 0.25 * np.sin(t * 2 * np.pi) - 0.2 * t, 0.0 + 0.9 * t], 1), 0.1, k)


def road_narrows(cv, pal, rng):  # the right-hand side narrows
    k = pal["black"]
    cv.stroke([(-0.45, 0.95), (-0.45, -0.95)], 0.18, k)
    cv.stroke([(0.45, 0.95), (0.45, 0.2), (0.1, -0.2), (0.1, -0.95)], 0.18, k)


def road_work(cv, pal, rng):
    k = pal["black"]
    cv.disc((-0.3, -0.62), 0.17, k)
    cv.stroke([(-0.22, -0.4), (0.0, 0.2)], 0.24, k)
    cv.stroke([(0.0, 0.2), (-0.35, 0.9)], 0.15, k)
    cv.stroke([(0.0, 0.2), (0.3, 0.9)], 0.15, k)
    cv.stroke([(-0.2, -0.28), (0.25, 0.05), (0.55, 0.55)], 0.1, k)
    cv.fill([(0.35, 0.92), (1.0, 0.92), (0.78, 0.5)], k)


def traffic_signals(cv, pal, rng):
    # Real signs show the three lamps on the white field; some add a thin dark housing outline.
    if rng.random() < 0.4:
        rounded_poly(cv, [(-0.36, -0.98), (0.36, -0.98), (0.36, 0.98), (-0.36, 0.98)], pal["black"], 0.12)
        rounded_poly(cv, [(-0.28, -0.9), (0.28, -0.9), (0.28, 0.9), (-0.28, 0.9)], pal["white"], 0.1)
    cyan_green = (pal["green"][0], pal["green"][1], min(255, pal["green"][2] + int(rng.integers(0, 150))))
    for y, colour in ((-0.6, pal["red"]), (0.0, pal["yellow"]), (0.6, cyan_green)):
        cv.disc((0, y), 0.26, colour)


def pedestrian(cv, pal, rng):
    person(cv, pal["black"])


def children(cv, pal, rng):
    person(cv.sub(-0.38, -0.05, 0.62), pal["black"])
    person(cv.sub(0.4, 0.25, 0.5), pal["black"], stride=0.8)
    cv.stroke([(-0.2, 0.0), (0.25, 0.1)], 0.09, pal["black"])


def bicycle(cv, pal, rng):
    k = pal["black"]
    for x in (-0.55, 0.55):
        cv.ring((x, 0.35), 0.38, 0.1, k)
    cv.stroke([(-0.55, 0.35), (-0.15, -0.2), (0.4, -0.2), (0.55, 0.35)], 0.1, k)
    cv.stroke([(-0.15, -0.2), (0.0, 0.35), (-0.55, 0.35)], 0.1, k)
    cv.stroke([(-0.25, -0.35), (-0.02, -0.35)], 0.1, k)
    cv.stroke([(0.4, -0.2), (0.35, -0.45), (0.5, -0.45)], 0.1, k)


def snowflake(cv, pal, rng):
    k = pal["black"]
    for a in (90, 30, 150):
        d = np.array([np.cos(np.radians(a)), np.sin(np.radians(a))])
        cv.stroke([-0.9 * d, 0.9 * d], 0.12, k)
        for s in (-1, 1):
            p, n = s * 0.55 * d, np.array([-d[1], d[0]])
            cv.stroke([p + n * 0.22 + s * d * 0.2, p, p - n * 0.22 + s * d * 0.2], 0.09, k)


def deer(cv, pal, rng):  # leaping up to the right, legs stretched fore and aft
    k = pal["black"]
    cv.fill(arc((0, 0), 1, 0, 360, 20) * [0.55, 0.17] @ rot(-20) + [-0.05, 0.05], k)
    cv.stroke([(0.38, -0.12), (0.6, -0.5)], 0.15, k)
    cv.fill([(0.52, -0.62), (0.88, -0.45), (0.6, -0.42)], k)
    cv.stroke([(0.55, -0.6), (0.45, -0.95)], 0.06, k)
    cv.stroke([(0.5, -0.78), (0.3, -0.88)], 0.06, k)
    cv.stroke([(0.35, -0.02), (0.8, 0.1)], 0.08, k)
    cv.stroke([(0.3, 0.02), (0.62, 0.32)], 0.08, k)
    cv.stroke([(-0.45, 0.22), (-0.92, 0.42)], 0.08, k)
    cv.stroke([(-0.4, 0.25), (-0.7, 0.72)], 0.08, k)


# --- mandatory (blue) pictograms, drawn white ----------------------------------------------------

def ahead(cv, white, rng):
    arrow(cv, [(0, 0.85), (0, -0.85)], 0.3, white, head_len=0.5, head_w=0.8)


def turn(cv, white, rng):  # turn right ahead; mirrored for left
    pts = np.vstack([[(-0.35, 0.85)], arc((0.05, 0.0), 0.4, 180, 270, 8), [(0.8, -0.4)]])
    arrow(cv, pts, 0.28, white, head_len=0.45, head_w=0.75)


def ahead_or_turn(cv, white, rng):  # straight or right; mirrored for left
    arrow(cv, [(-0.25, 0.9), (-0.25, -0.9)], 0.26, white, head_len=0.45, head_w=0.7)
    pts = np.vstack([arc((0.2, 0.3), 0.45, 180, 270, 8), [(0.85, -0.15)]])
    arrow(cv, pts, 0.24, white, head_len=0.42, head_w=0.68)


def keep(cv, white, rng):  # keep right (arrow down to the right); mirrored for left
    arrow(cv, [(-0.6, -0.6), (0.6, 0.6)], 0.3, white, head_len=0.55, head_w=0.85)


def roundabout(cv, white, rng):
    for start in (-45, 75, 195):
        pts = arc((0, 0), 0.62, start, start - 105, 14)  # counter-clockwise on screen
        arrow(cv, pts, 0.22, white, head_len=0.3, head_w=0.5)


PAINTERS = {
    **{cid: speed_limit(n) for cid, n in zip((0, 1, 2, 3, 4, 5, 7, 8), (20, 30, 50, 60, 70, 80, 100, 120))},
    6: end_of_speed_limit, 9: no_passing(False), 10: no_passing(True), 11: warning(right_of_way),
    12: priority_road, 13: yield_sign, 14: stop, 15: no_vehicles, 16: no_heavy_trucks, 17: no_entry,
    18: warning(caution), 19: warning(curve), 20: warning(lambda cv, p, r: curve(cv.sub(0, 0, 1, True), p, r)),
    21: warning(double_curve), 22: warning(bumpy_road), 23: warning(slippery_road), 24: warning(road_narrows),
    25: warning(road_work), 26: warning(traffic_signals), 27: warning(pedestrian), 28: warning(children),
    29: warning(bicycle), 30: warning(snowflake), 31: warning(deer), 32: end_of_all_limits,
    33: mandatory(turn), 34: mandatory(turn, flip=True), 35: mandatory(ahead), 36: mandatory(ahead_or_turn),
    37: mandatory(ahead_or_turn, flip=True), 38: mandatory(keep), 39: mandatory(keep, flip=True),
    40: mandatory(roundabout), 41: end_of_no_passing(False), 42: end_of_no_passing(True),
}


def render_sign(class_id: int, rng, size: int = 96):
    """The clean face of one sign: (rgb uint8 size×size×3, alpha uint8 size×size)."""
    cv = Canvas(size)
    PAINTERS[class_id](cv, palette(rng), rng)
    return cv.rgb, cv.alpha
