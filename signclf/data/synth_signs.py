"""Draw the 43 GTSRB sign faces (shapes, colours, pictograms, numbers) with OpenCV primitives.

Every painter draws in *unit coordinates*: the sign's bounding circle is radius 1 around (0, 0),
y grows downwards like image rows. `Canvas.sub` opens a smaller unit box for a pictogram (and can
mirror it), so a left/right pair is one drawing plus a flag. Geometry, paint shades, font face and
stroke weight are jittered per image by the caller's rng, because a classifier trained on one
exact drawing learns that drawing, not the sign.
"""

from __future__ import annotations

import cv2
import numpy as np

_SHIFT = 4  # OpenCV's fixed-point sub-pixel bits: smooth anti-aliased edges at any scale
_FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_COMPLEX)


class Canvas:
    """An RGB face plus the sign's silhouette (alpha), addressed in unit coordinates."""

    def __init__(self, size: int, rgb=None, alpha=None, cx=0.0, cy=0.0, scale=1.0, flip=False):
        self.size = size
        self.rgb = np.zeros((size, size, 3), np.uint8) if rgb is None else rgb
        self.alpha = np.zeros((size, size), np.uint8) if alpha is None else alpha
        self.cx, self.cy, self.scale, self.flip = cx, cy, scale, flip
        self.unit = (size - 2) / 2.0  # pixels per unit; one pixel of margin keeps AA edges inside

    def sub(self, cx, cy, scale, flip=False) -> "Canvas":
        """A child frame whose unit box sits at (cx, cy) with half-size `scale`, optionally mirrored."""
        sx = -1.0 if self.flip else 1.0
        return Canvas(self.size, self.rgb, self.alpha, self.cx + self.scale * sx * cx, self.cy + self.scale * cy,
                      self.scale * scale, self.flip != flip)

    def _px(self, pts) -> np.ndarray:
        p = np.asarray(pts, np.float64).reshape(-1, 2).copy()
        if self.flip:
            p[:, 0] = -p[:, 0]
        p = self.size / 2.0 + self.unit * (np.array([self.cx, self.cy]) + self.scale * p)
        return np.round(p * (1 << _SHIFT)).astype(np.int32)

    def _len(self, length) -> int:
        return max(1, int(round(length * self.scale * self.unit)))

    def fill(self, pts, color, silhouette=False):
        cv2.fillPoly(self.alpha if silhouette else self.rgb, [self._px(pts)],
                     255 if silhouette else color, cv2.LINE_AA, _SHIFT)

    def stroke(self, pts, width, color, closed=False, silhouette=False):
        cv2.polylines(self.alpha if silhouette else self.rgb, [self._px(pts)], closed,
                      255 if silhouette else color, max(1, self._len(width) - 1), cv2.LINE_AA, _SHIFT)

    def disc(self, center, radius, color, silhouette=False):
        c = self._px(center)[0]
        cv2.circle(self.alpha if silhouette else self.rgb, (int(c[0]), int(c[1])),
                   int(round(radius * self.scale * self.unit * (1 << _SHIFT))),
                   255 if silhouette else color, -1, cv2.LINE_AA, _SHIFT)

    def ring(self, center, radius, width, color):
        pts = arc(center, radius - width / 2, 0, 360, 48)
        self.stroke(pts, width, color, closed=True)

    def text(self, text, center, box_w, box_h, color, font, weight):
        """`text` stretched into a box: Hershey glyphs made tall and bold like the DIN sign font."""
        scale = 3.0
        (tw, th), base = cv2.getTextSize(text, font, scale, weight)
        pad = weight + 4
        tmp = np.zeros((th + base + 2 * pad, tw + 2 * pad), np.uint8)
        cv2.putText(tmp, text, (pad, pad + th), font, scale, 255, weight, cv2.LINE_AA)
        ys, xs = np.nonzero(tmp)
        tmp = tmp[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
        w, h = self._len(box_w), self._len(box_h)
        mask = cv2.resize(tmp, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)[..., None] / 255.0
        if self.flip:
            mask = mask[:, ::-1]
        c = self._px(center)[0] / (1 << _SHIFT)
        x0, y0 = int(round(c[0] - w / 2)), int(round(c[1] - h / 2))
        xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + w, self.size), min(y0 + h, self.size)
        if xb <= xa or yb <= ya:
            return
        m = mask[ya - y0:yb - y0, xa - x0:xb - x0]
        roi = self.rgb[ya:yb, xa:xb].astype(np.float32)
        self.rgb[ya:yb, xa:xb] = (roi * (1 - m) + np.float32(color) * m).astype(np.uint8)


def arc(center, radius, a0, a1, n=16):
    """Points on a circle from angle a0 to a1 (degrees, clockwise on screen since y points down)."""
    t = np.radians(np.linspace(a0, a1, n))
    return np.stack([center[0] + radius * np.cos(t), center[1] + radius * np.sin(t)], 1)


def arrow(cv: Canvas, pts, width, color, head_len=0.4, head_w=0.75):
    """A polyline shaft ending in a triangular head that points along the last segment."""
    pts = np.asarray(pts, np.float64)
    tip = pts[-1]
    d = tip - pts[-2]
    d /= np.linalg.norm(d)
    n = np.array([-d[1], d[0]])
    base = tip - d * head_len
    cv.stroke(np.vstack([pts[:-1], base + d * 0.05]), width, color)
    cv.fill([tip, base + n * head_w / 2, base - n * head_w / 2], color)


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


def _rounded_poly(cv, pts, color, corner, silhouette=False):
    """A polygon with rounded corners: shrink it by `corner`, then fill and stroke it that wide."""
    pts = np.asarray(pts, np.float64)
    centre = pts.mean(0)
    inner = centre + (pts - centre) * (1 - corner / np.abs(pts - centre).max())
    cv.fill(inner, color, silhouette)
    cv.stroke(inner, 2 * corner, color, closed=True, silhouette=silhouette)


def _triangle(cv, pal, rng, inverted=False, border=None):
    """A red-bordered white triangle (upright for warnings, inverted for yield)."""
    tri = TRIANGLE * [1, -1] if inverted else TRIANGLE
    centroid = _TRI_CENTROID * [1, -1] if inverted else _TRI_CENTROID
    border = border if border is not None else rng.uniform(0.15, 0.22)
    corner = rng.uniform(0.04, 0.1)
    _rounded_poly(cv, tri, 255, corner, silhouette=True)
    _rounded_poly(cv, tri, pal["red"], corner)
    inner = centroid + (tri - centroid) * (1 - border / 0.577)  # 0.577 = inradius of a side-2 triangle
    cv.fill(inner, pal["white"])


def _ring_disc(cv, pal, rng):
    """The prohibitory body: white disc in a red ring."""
    cv.disc((0, 0), 1, 255, silhouette=True)
    cv.disc((0, 0), 1, pal["red"])
    cv.disc((0, 0), 1 - rng.uniform(0.15, 0.22), pal["white"])


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

def car_rear(cv, color):
    cv.fill([(-0.62, -0.7), (0.62, -0.7), (0.85, -0.05), (-0.85, -0.05)], color)
    cv.fill([(-0.9, -0.1), (0.9, -0.1), (0.9, 0.55), (-0.9, 0.55)], color)
    cv.fill([(-0.85, 0.5), (-0.5, 0.5), (-0.5, 0.9), (-0.85, 0.9)], color)
    cv.fill([(0.85, 0.5), (0.5, 0.5), (0.5, 0.9), (0.85, 0.9)], color)


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

def speed_limit(number):
    def paint(cv, pal, rng):
        _ring_disc(cv, pal, rng)
        text = str(number)
        w = (0.98 if len(text) == 2 else 1.22) * rng.uniform(0.9, 1.08)
        h = (0.92 if len(text) == 2 else 0.78) * rng.uniform(0.9, 1.08)
        cv.text(text, (rng.normal(0, 0.02), rng.normal(0, 0.02)), w, h, pal["black"],
                _FONTS[rng.integers(len(_FONTS))], int(rng.integers(9, 17)))
    return paint


def end_of_speed_limit(cv, pal, rng):
    _end_disc(cv, pal, rng)
    cv.text("80", (0, 0), 0.98, 0.9, pal["grey"], _FONTS[rng.integers(len(_FONTS))], int(rng.integers(6, 12)))
    _end_stripes(cv, pal, rng, 5, rng.uniform(0.1, 0.13))


def end_of_all_limits(cv, pal, rng):
    _end_disc(cv, pal, rng)
    _end_stripes(cv, pal, rng, 5, rng.uniform(0.11, 0.15))


def end_of_no_passing(trucks):
    def paint(cv, pal, rng):
        _end_disc(cv, pal, rng)
        (truck_rear if trucks else car_rear)(cv.sub(-0.36, 0.0, 0.3), pal["grey"])
        car_rear(cv.sub(0.36, 0.05, 0.28), pal["grey"])
        _end_stripes(cv, pal, rng, 5, 0.1)
    return paint


def no_passing(trucks):
    def paint(cv, pal, rng):
        _ring_disc(cv, pal, rng)
        (truck_rear if trucks else car_rear)(cv.sub(-0.34, 0.0, 0.3), pal["red"])
        car_rear(cv.sub(0.34, 0.05, 0.28), pal["black"])
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
    _rounded_poly(cv, diamond, 255, 0.05, silhouette=True)
    _rounded_poly(cv, diamond, pal["black"], 0.05)
    _rounded_poly(cv, np.array(diamond) * 0.95, pal["white"], 0.05)
    _rounded_poly(cv, np.array(diamond) * rng.uniform(0.55, 0.65), pal["yellow"], 0.03)


def warning(pictogram):
    """A warning triangle carrying `pictogram(cv, pal, rng)` drawn in its own unit box."""
    def paint(cv, pal, rng):
        _triangle(cv, pal, rng)
        pictogram(cv.sub(rng.normal(0, 0.015), 0.25 + rng.normal(0, 0.015), rng.uniform(0.4, 0.48)), pal, rng)
    return paint


def mandatory(pictogram, flip=False):
    def paint(cv, pal, rng):
        _blue_disc(cv, pal, rng)
        pictogram(cv.sub(0, 0, rng.uniform(0.62, 0.72), flip), pal["white"], rng)
    return paint


# --- warning pictograms -----------------------------------------------------------------------

def right_of_way(cv, pal, rng):
    k = pal["black"]
    cv.fill([(-0.16, 0.9), (0.16, 0.9), (0.16, -0.55), (0, -0.9), (-0.16, -0.55)], k)
    cv.fill([(-0.75, -0.22), (0.75, -0.22), (0.75, 0.0), (-0.75, 0.0)], k)


def caution(cv, pal, rng):
    cv.fill([(-0.17, -0.9), (0.17, -0.9), (0.08, 0.35), (-0.08, 0.35)], pal["black"])
    cv.disc((0, 0.68), 0.16, pal["black"])


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
        _rounded_poly(cv, [(-0.36, -0.98), (0.36, -0.98), (0.36, 0.98), (-0.36, 0.98)], pal["black"], 0.12)
        _rounded_poly(cv, [(-0.28, -0.9), (0.28, -0.9), (0.28, 0.9), (-0.28, 0.9)], pal["white"], 0.1)
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
    cv.fill(arc((0, 0), 1, 0, 360, 20) * [0.55, 0.17] @ _rot(-20) + [-0.05, 0.05], k)
    cv.stroke([(0.38, -0.12), (0.6, -0.5)], 0.15, k)
    cv.fill([(0.52, -0.62), (0.88, -0.45), (0.6, -0.42)], k)
    cv.stroke([(0.55, -0.6), (0.45, -0.95)], 0.06, k)
    cv.stroke([(0.5, -0.78), (0.3, -0.88)], 0.06, k)
    cv.stroke([(0.35, -0.02), (0.8, 0.1)], 0.08, k)
    cv.stroke([(0.3, 0.02), (0.62, 0.32)], 0.08, k)
    cv.stroke([(-0.45, 0.22), (-0.92, 0.42)], 0.08, k)
    cv.stroke([(-0.4, 0.25), (-0.7, 0.72)], 0.08, k)


def _rot(deg):
    t = np.radians(deg)
    return np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])


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
