"""The head's shape: the silhouette (with the hair's spikes or curls), neck, ears, hair, beard."""

from __future__ import annotations

import math

import numpy as np

from pointdiff.data.faces.characters import Character
from pointdiff.data.faces.geometry import _BALL, _BUN_CENTER, _BUN_R, _DIRS, _DIRS_A, _MESH_PH, _MESH_TH, _beard_edge, _Geometry, _Hair, _hairline, _smooth, _support, _tri
from pointdiff.data.faces.painter import _W_HATCH, _W_LINE, _Painter, _stroke


def _outline(g: _Geometry, ch: Character, hair: _Hair | None, pen: _Painter, draw: bool) -> tuple[np.ndarray, np.ndarray]:
    """The silhouette of head + hair volume + beard, as a polygon; drawn if ``draw``.

    Returns the polygon and what each of its points is: 0 skin, 1 hair, 2 beard (a colour
    face draws those stretches in the hair colour).

    The silhouette of a (nearly) convex body is its set of support points: for each of 200
    picture directions, the surface point that reaches furthest that way. Where the
    silhouette is hair, it gets the style's spikes or curls, phased by picture direction
    so that neighbouring video frames keep them in place.
    """
    th, ph = _MESH_TH, _MESH_PH
    hair_w = _smooth((ph - _hairline(hair, th)) / 0.35) if hair else np.zeros_like(th)
    beard_w = _smooth((_beard_edge(th) - ph) / 0.15) * (1 - _smooth((np.abs(th) - 1.45) / 0.15)) if ch.beard else np.zeros_like(th)
    lift = np.maximum(hair_w * (hair.thick if hair else 0), beard_w * 0.08)
    pts, n = g.surface(th, ph, lift)
    kind = np.where(hair_w * (hair.thick if hair else 0) >= beard_w * 0.08, 1, 2) * (lift > 1e-3)
    weight = np.where(kind == 1, hair_w, beard_w)
    # Only points whose skin faces sideways can be on the silhouette: skip the rest (speed).
    _, n_view = g.view(pts, n)
    near = np.flatnonzero(np.abs(n_view) < 0.5)
    xy, _ = g.view(pts[near])
    idx = near[_support(xy, _DIRS)]
    poly, k, w = xy[np.searchsorted(near, idx)], kind[idx], weight[idx]
    amp = np.zeros(len(idx))
    edge = hair.edge if hair else "smooth"
    if edge == "spiky":
        amp = np.where(k == 1, 9.0 * _tri(_DIRS_A * 18 / (2 * math.pi)), 0.0)
    elif edge == "curly":
        amp = np.where(k == 1, 6.0 * np.abs(np.sin(_DIRS_A * 14)) ** 0.5, 0.0)
    amp = amp + np.where(k == 2, 1.5 * np.abs(np.sin(_DIRS_A * 45)), 0.0)  # a beard's rough edge
    poly = poly + (amp * w * pen.k)[:, None] * _DIRS
    if draw:
        pen.line(poly, _W_LINE, closed=True)
    return poly, k


def _neck(g: _Geometry, pen: _Painter, size: int) -> None:
    # The neck stays put while the head turns, which makes the turn easier to read.
    rows = np.arange(g.cy + 0.3 * g.s, min(size + 2.0, g.cy + 1.55 * g.s), 1.0)
    for side in (-1, 1):
        xy = np.stack([np.full_like(rows, g.cx + side * 0.32 * g.s), rows], 1)
        pen.line(xy, _W_HATCH, ~pen.inside(xy))


def _ears(g: _Geometry, pen: _Painter) -> None:
    t = np.linspace(0, 1, 16)
    bulge = np.sin(math.pi * t) ** 0.8 * (1.15 - 0.35 * t)  # rounder at the top, like an ear
    for side in (-1, 1):
        th = side * (math.pi / 2 + 0.05 + 0.10 * np.sin(math.pi * t))
        _stroke(g, pen, th, 0.14 - 0.40 * t, 0.20 * bulge, beyond_outline=True)
        # The inner fold shows only on an ear that turns toward the viewer.
        ti = t[3:13]
        _stroke(g, pen, side * (math.pi / 2 + 0.02 + 0.06 * np.sin(math.pi * ti)), 0.08 - 0.28 * ti, 0.10 * bulge[3:13], width=_W_HATCH, min_facing=0.2)


def _hair(g: _Geometry, pen: _Painter, ch: Character, hair: _Hair) -> None:
    th = np.linspace(-math.pi, math.pi, 241)
    _stroke(g, pen, th, _hairline(hair, th), 0.005, min_facing=0.02)
    for t_pts, p_pts in _strands(ch.hair, hair):  # drawn on the hair volume, just under its surface
        _stroke(g, pen, t_pts, p_pts, hair.thick * 0.85 * _smooth((p_pts - _hairline(hair, t_pts)) / 0.35), width=_W_HATCH, min_facing=0.02)
    if ch.hair == "long":
        _curtains(g, pen)
    if ch.hair == "bun":
        _bun(g, pen)


def _strands(style: str, hair: _Hair) -> list[tuple[np.ndarray, np.ndarray]]:
    """A few strokes that give each hair style its texture, as (azimuth, elevation) curves."""
    u = np.linspace(0, 1, 12)

    def edge(t: float) -> float:
        return float(_hairline(hair, np.array([t]))[0]) + 0.05

    if style == "short":  # short strokes leaning back from the hairline
        return [(t0 + 0.2 * u, edge(t0) + 0.3 * u) for t0 in (-0.55, -0.15, 0.25, 0.65)]
    if style == "spiky":  # strokes rising from the zigzag fringe
        return [(np.full_like(u, t0), edge(t0) + 0.34 * u) for t0 in (-0.75, -0.35, 0.05, 0.45, 0.85)]
    if style == "bun":  # hair combed back toward the bun
        return [(t0 * (1 - 0.65 * u), edge(t0) + 0.9 * u) for t0 in (-0.75, -0.35, 0.05, 0.45, 0.85)]
    if style == "swept":  # strands from a side parting down to the fringe
        return [(0.55 + (t1 - 0.55) * u, 1.05 + (edge(t1) + 0.01 - 1.05) * u**0.7) for t1 in (-1.0, -0.55, -0.1)]
    if style == "curly":  # a row of curls above the fringe
        t = np.linspace(-1.1, 1.1, 61)
        return [(t, _hairline(hair, t) + 0.28 - 0.05 * np.abs(np.sin((t + 0.11) * math.pi / 0.22)) ** 0.6)]
    if style == "long":  # the parting
        return [(0.0 * u, edge(0.0) - 0.05 + 0.65 * u)]
    return []


def _bun(g: _Geometry, pen: _Painter) -> None:
    """A ball of hair on the crown: its silhouette where the head does not hide it."""
    a, b = _BALL[:, 0], _BALL[:, 1]
    xy, _ = g.view(_BUN_CENTER + _BUN_R * np.stack([np.cos(b) * np.sin(a), np.sin(b), np.cos(b) * np.cos(a)], 1))
    ring = _densify(xy[_support(xy, _DIRS[::4])])
    pen.line(ring, _W_LINE, ~pen.inside(ring))


def _densify(ring: np.ndarray, k: int = 6) -> np.ndarray:
    """A closed polygon with ``k`` points per edge, so clipping it does not drop whole edges."""
    seg = np.linspace(0, 1, k, endpoint=False)[:, None, None]
    dense = (ring[None] + seg * (np.roll(ring, -1, 0) - ring)[None]).transpose(1, 0, 2).reshape(-1, 2)
    return np.vstack([dense, dense[:1]])


def _curtains(g: _Geometry, pen: _Painter) -> None:
    """Long hair falling behind the head to the shoulders; drawn where the head does not hide it."""
    y = np.linspace(0.3, -1.15, 14)
    for side in (-1, 1):
        th = side * np.linspace(1.15, math.pi, 14)
        T, Y = np.meshgrid(th, y)
        flare = 0.12 + 0.12 * np.clip(-Y, 0, None)  # hair spreads a little toward the ends
        pts = np.stack([(g.A + flare) * np.sin(T), Y, (g.C + flare) * np.cos(T)], -1).reshape(-1, 3)
        xy, _ = g.view(pts, hanging=True)
        dense = _densify(xy[_support(xy, _DIRS[::3])])
        pen.line(dense, _W_LINE, ~pen.inside(dense))


def _beard(g: _Geometry, pen: _Painter) -> None:
    th = np.linspace(-1.5, 1.5, 61)
    _stroke(g, pen, th, _beard_edge(th), 0.04, min_facing=0.02)
    u = np.linspace(-1, 1, 21)  # moustache: a band under the nose with drooping ends
    top, bottom = -0.36 - 0.02 * u**2, -0.41 - 0.06 * u**4
    _stroke(g, pen, np.r_[0.27 * u, 0.27 * u[::-1]], np.r_[top, bottom[::-1]], 0.05, closed=True)
    for t0, p0 in ((-0.45, -0.8), (0.0, -0.9), (0.45, -0.8), (-0.9, -0.55), (0.9, -0.55)):  # texture
        _stroke(g, pen, np.array([t0, t0 * 1.05]), np.array([p0, p0 - 0.07]), 0.06, width=_W_HATCH, min_facing=0.02)
