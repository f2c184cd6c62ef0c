"""Strokes on a supersampled PIL canvas, and surface curves drawn through a head's geometry.

The canvas is grey (mode "L", every stroke black) or, for a colour face, "RGB" with a current
ink that :meth:`_Painter.use` sets before each part.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from pointdiff.data.faces.colors import RGB
from pointdiff.data.faces.geometry import _Geometry

_SS = 2  # supersampling: draw at twice the size, then average down (smooth strokes, fast)
# Stroke widths, pixels at size 256: the inner features are the boldest, so that they keep
# a fair share of a 1024-point sample of the ink.
_W_LINE, _W_FEATURE, _W_BROW, _W_HATCH = 3.5, 4.5, 5.5, 3.0


class _Painter:
    """Draws strokes (in output pixels) on a supersampled canvas."""

    def __init__(self, size: int, color: bool = False):
        self.size = size
        self.k = size / 256  # stroke widths are given for size 256
        self.color = color
        self.ink: int | RGB = 0  # the grey canvas's black, or the current colour
        self.img = Image.new("RGB", (size * _SS, size * _SS), (255, 255, 255)) if color else Image.new("L", (size * _SS, size * _SS), 255)
        self.draw = ImageDraw.Draw(self.img)
        self.mask = np.zeros((size, size), bool)  # inside the head outline

    def use(self, ink: RGB) -> None:
        """Draw the next strokes in ``ink``; the grey canvas keeps drawing black."""
        if self.color:
            self.ink = ink

    def set_mask(self, poly: np.ndarray) -> None:
        """Remember the head's silhouette (ears, neck and hair behind it are clipped by it)."""
        m = Image.new("L", (self.size, self.size), 0)
        ImageDraw.Draw(m).polygon([tuple(p) for p in poly.tolist()], fill=1)
        self.mask = np.asarray(m, bool)

    def inside(self, xy: np.ndarray) -> np.ndarray:
        """Whether pixels lie inside the head outline."""
        c = np.clip(np.round(xy).astype(int), 0, self.size - 1)
        return self.mask[c[:, 1], c[:, 0]]

    def line(self, xy: np.ndarray, width: float, visible: np.ndarray | None = None, closed: bool = False) -> None:
        """A polyline through ``xy``, drawn only along runs of visible points."""
        w = max(1, round(width * self.k * _SS))
        pts = xy * _SS
        if visible is None or visible.all():
            seq = [tuple(p) for p in pts.tolist()]
            self.draw.line(seq + seq[:1] if closed else seq, fill=self.ink, width=w)
            if not closed:
                self._caps(pts[[0, -1]], w)
            return
        edges = np.flatnonzero(np.diff(np.r_[0, visible.astype(np.int8), 0]))
        for a, b in zip(edges[::2], edges[1::2]):
            if b - a >= 2:
                self.draw.line([tuple(p) for p in pts[a:b].tolist()], fill=self.ink, width=w)
                self._caps(pts[[a, b - 1]], w)

    def _caps(self, ends: np.ndarray, w: int) -> None:
        # Round ends, so short strokes read as soft marks rather than boxes.
        r = w / 2 - 0.5
        for x, y in ends.tolist():
            self.draw.ellipse((x - r, y - r, x + r, y + r), fill=self.ink)

    def fill(self, xy: np.ndarray) -> None:
        """A filled polygon (pupils, nostrils)."""
        if len(xy) >= 3:
            self.draw.polygon([tuple(p) for p in (xy * _SS).tolist()], fill=self.ink)

    def recolor(self, xy: np.ndarray, width: float, where: np.ndarray) -> None:
        """Redraw, in the current ink, the segments of the closed polyline ``xy`` between points ``where``.

        The segments are exactly those :meth:`line` drew (no caps), so only their colour changes.
        """
        n = len(xy)
        on = where & np.roll(where, -1)  # segment i runs from point i to point i + 1 (mod n)
        if not on.any():
            return
        w = max(1, round(width * self.k * _SS))
        start = int(np.argmin(on)) + 1 if not on.all() else 0  # begin just after a gap, so no run wraps
        order = (np.arange(n + 1) + start) % n
        pts, seg = (xy * _SS)[order], on[order[:-1]]
        edges = np.flatnonzero(np.diff(np.r_[0, seg.astype(np.int8), 0]))
        for a, b in zip(edges[::2], edges[1::2]):  # segments a..b-1 run through points a..b
            self.draw.line([tuple(p) for p in pts[a : b + 1].tolist()], fill=self.ink, width=w)

    def image(self) -> Image.Image:
        """The finished picture at the output size."""
        return self.img.reduce(_SS)


def _stroke(g: _Geometry, pen: _Painter, th, ph, lift=0.0, width: float = _W_LINE, min_facing: float = 0.0, beyond_outline: bool = False, closed: bool = False) -> None:
    """Draw a surface curve where it faces the viewer (or, if asked, sticks out of the head)."""
    pts, n = g.surface(th, ph, lift)
    xy, nz = g.view(pts, n)
    vis = nz > min_facing
    if beyond_outline:
        vis |= ~pen.inside(xy)
    pen.line(xy, width, vis, closed=closed and bool(vis.all()))


def _blob(g: _Geometry, pen: _Painter, th0: float, ph0: float, r_th: float, r_ph: float, lift: float = 0.0) -> None:
    """A small filled ellipse on the surface (pupil, nostril), if it faces the viewer."""
    t = np.linspace(0, 2 * math.pi, 16, endpoint=False)
    pts, n = g.surface(th0 + r_th * np.cos(t), ph0 + r_ph * np.sin(t), lift)
    xy, nz = g.view(pts, n)
    if nz.mean() > 0.05:
        pen.fill(xy)
