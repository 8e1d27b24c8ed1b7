"""Drawing primitives for the synthetic signs: a unit-coordinate canvas, arcs, arrows, DIN digits.

Shapes are given in unit coordinates (the sign's bounding circle is radius 1 around (0, 0), y
down) and drawn with OpenCV's anti-aliased, sub-pixel primitives, so the same drawing renders
cleanly at any face size.
"""

from __future__ import annotations

import cv2
import numpy as np

_SHIFT = 4  # OpenCV's fixed-point sub-pixel bits: smooth anti-aliased edges at any scale


class Canvas:
    """An RGB face plus the sign's silhouette (alpha), addressed in unit coordinates."""

    def __init__(self, size: int, rgb=None, alpha=None, cx=0.0, cy=0.0, scale=1.0, flip=False, weight=1.0):
        self.size = size
        self.weight = weight  # multiplies every stroke width: the same pictogram drawn bolder or finer
        self.rgb = np.zeros((size, size, 3), np.uint8) if rgb is None else rgb
        self.alpha = np.zeros((size, size), np.uint8) if alpha is None else alpha
        self.cx, self.cy, self.scale, self.flip = cx, cy, scale, flip
        self.unit = (size - 2) / 2.0  # pixels per unit; one pixel of margin keeps AA edges inside

    def sub(self, cx, cy, scale, flip=False, weight=1.0) -> "Canvas":
        """A child frame whose unit box sits at (cx, cy) with half-size `scale`, optionally mirrored."""
        sx = -1.0 if self.flip else 1.0
        return Canvas(self.size, self.rgb, self.alpha, self.cx + self.scale * sx * cx, self.cy + self.scale * cy,
                      self.scale * scale, self.flip != flip, self.weight * weight)

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
                      255 if silhouette else color, max(1, self._len(width * self.weight) - 1), cv2.LINE_AA, _SHIFT)

    def disc(self, center, radius, color, silhouette=False):
        c = self._px(center)[0]
        cv2.circle(self.alpha if silhouette else self.rgb, (int(c[0]), int(c[1])),
                   int(round(radius * self.scale * self.unit * (1 << _SHIFT))),
                   255 if silhouette else color, -1, cv2.LINE_AA, _SHIFT)

    def ring(self, center, radius, width, color):
        pts = arc(center, radius - width / 2, 0, 360, 48)
        self.stroke(pts, width, color, closed=True)

    def text(self, text, center, box_w, box_h, color, font, weight):
        """`text` in a Hershey font, stretched to fill the box: the sign, not the font, sets its size."""
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


def _ellipse(cx, cy, rx, ry, a0, a1, n=12):
    t = np.radians(np.linspace(a0, a1, n))
    return [(cx + rx * np.cos(a), cy + ry * np.sin(a)) for a in t]


# Centre lines of DIN 1451 digits in a unit cell (x right, y down), drawn with a uniform pen.
# Hershey's stroke digits are close but not the same; real signs use these shapes.
_DIN_DIGITS = {
    "0": [_ellipse(.5, .3, .5, .3, 180, 360) + _ellipse(.5, .7, .5, .3, 0, 180) + [(0, .3)]],
    "1": [[(.12, .3), (.68, 0), (.68, 1)]],
    "2": [_ellipse(.5, .28, .5, .28, 180, 400) + [(0, 1), (1, 1)]],
    "3": [[(.05, 0), (.95, 0), (.4, .37)] + _ellipse(.5, .68, .5, .32, -100, 150)],
    "4": [[(.72, 1), (.72, 0), (0, .7), (1, .7)]],
    "5": [[(.9, 0), (.12, 0), (.06, .46)] + _ellipse(.5, .66, .5, .34, -150, 150)],
    "6": [[(.75, 0), (.1, .55)], _ellipse(.5, .66, .5, .34, 0, 360, 20)],
    "7": [[(0, 0), (1, 0), (.35, 1)]],
    "8": [_ellipse(.5, .23, .42, .23, 0, 360, 20), _ellipse(.5, .7, .5, .3, 0, 360, 20)],
    "9": [[(.25, 1), (.9, .45)], _ellipse(.5, .34, .5, .34, 0, 360, 20)],
}


def din_number(cv, text, center, box_w, box_h, color, stroke):
    """`text` in DIN-like stroke digits filling box_w×box_h; `stroke` is the pen width (unit coords)."""
    n = len(text)
    gap = 0.22  # space between digits, in digit widths
    cell_w = (box_w - stroke) / (n + gap * (n - 1))
    x0, y0 = center[0] - box_w / 2 + stroke / 2, center[1] - box_h / 2 + stroke / 2
    h = box_h - stroke
    for i, ch in enumerate(text):
        left = x0 + i * cell_w * (1 + gap)
        for line in _DIN_DIGITS[ch]:
            cv.stroke([(left + u * cell_w, y0 + v * h) for u, v in line], stroke, color)


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


def rounded_poly(cv, pts, color, corner, silhouette=False):
    """A polygon with rounded corners: shrink it by `corner`, then fill and stroke it that wide."""
    pts = np.asarray(pts, np.float64)
    centre = pts.mean(0)
    inner = centre + (pts - centre) * (1 - corner / np.abs(pts - centre).max())
    cv.fill(inner, color, silhouette)
    cv.stroke(inner, 2 * corner, color, closed=True, silhouette=silhouette)


def rot(deg):
    """Right-multiplied rotation for row vectors: positive degrees turn clockwise on screen."""
    t = np.radians(deg)
    return np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])
