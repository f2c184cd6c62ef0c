"""The pseudo-3-D head: surface points, pose, projection to picture pixels.

The head is an ellipsoid in a head frame (x to the picture's right, y up, z toward the
viewer; 1 unit ~ half the head height). A point of the head surface is addressed by
azimuth ``th`` (0 = the middle of the face, +pi/2 = the side on the picture's right in
the front view) and elevation ``ph`` (0 = eye level, + up), plus a ``lift`` along the
surface normal (the nose, glasses, hair volume stand off the skin). Features are curves
in (th, ph, lift); a pose rotates the head about the top of the neck and projects it
orthographically. So a turn shifts and squeezes features, pushes the nose out toward
the turn and hides what faces away -- without any hand-written per-pose drawing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pointdiff.data.faces.params import FaceParams

_UNIT = 80.0  # pixels per head unit at size 256
_CENTER = (128.0, 111.0)  # head centre (column, row) at size 256; the neck runs below
_PIVOT = np.array([0.0, -0.85, -0.2])  # the top of the neck: the head turns about it
# face shape -> (half-width A, half-height B, half-depth C, jaw taper, jaw squareness)
_SHAPES = {"round": (0.84, 0.97, 0.86, 0.16, 0.0), "oval": (0.76, 1.02, 0.86, 0.30, 0.0), "square": (0.80, 0.97, 0.86, 0.04, 0.10)}
_NAPE = -0.45  # elevation of the hairline at the back of the head


@dataclass(frozen=True)
class _Hair:
    front: float  # hairline elevation above the middle of the forehead
    side: float  # ... at the temples
    thick: float  # hair volume above the scalp
    edge: str  # outline decoration: "smooth" | "spiky" | "curly"
    fringe: str  # hairline shape: "smooth" | "zigzag" | "scallop" | "swept" | "part"


_HAIR = {
    "short": _Hair(0.62, 0.30, 0.08, "smooth", "smooth"),
    "spiky": _Hair(0.58, 0.28, 0.12, "spiky", "zigzag"),
    "curly": _Hair(0.56, 0.24, 0.15, "curly", "scallop"),
    "swept": _Hair(0.62, 0.28, 0.10, "smooth", "swept"),
    "long": _Hair(0.60, 0.30, 0.08, "smooth", "part"),
    "bun": _Hair(0.64, 0.30, 0.05, "smooth", "smooth"),
}


def _smooth(x: np.ndarray | float) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _tri(x: np.ndarray) -> np.ndarray:
    """A triangle wave with period 1, 0 at integers and 1 halfway."""
    return 1 - np.abs(2 * (x - np.floor(x)) - 1)


def _support(xy: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """Index of the point reaching furthest along each direction.

    Elementwise in float32 rather than ``@``: several times faster here, and a threaded BLAS
    on a busy machine is slower still (sub-pixel precision is plenty).
    """
    xy, dirs = xy.astype(np.float32), dirs.astype(np.float32)
    return np.argmax(dirs[:, :1] * xy[:, 0] + dirs[:, 1:] * xy[:, 1], axis=1)


def _hairline(hair: _Hair, th: np.ndarray) -> np.ndarray:
    """Elevation of the hair's edge at each azimuth: high on the forehead, low at the nape."""
    a = np.abs(th)
    ph = np.where(a < 1.6, hair.front + (hair.side - hair.front) * _smooth(a / 1.6), hair.side + (_NAPE - hair.side) * _smooth((a - 1.6) / (math.pi - 1.6)))
    w = 1 - _smooth((a - 0.9) / 0.5)  # fringe shapes live on the forehead only
    if hair.fringe == "zigzag":
        ph = ph - 0.08 * w * _tri(th / 0.2 + 0.5)
    elif hair.fringe == "scallop":
        ph = ph - 0.06 * w * np.abs(np.sin(th * math.pi / 0.22)) ** 0.6
    elif hair.fringe == "swept":  # a fringe falling toward the picture's left
        ph = ph - 0.24 * (1 - _smooth((a - 1.1) / 0.4)) * _smooth((0.35 - th) / 0.9)
    elif hair.fringe == "part":
        ph = ph + 0.10 * np.clip(1 - a / 0.12, 0, 1)
    return ph


def _beard_edge(th: np.ndarray) -> np.ndarray:
    """Upper edge of a beard: under the mouth in the middle, up to the ears at the sides."""
    return -0.72 + 0.70 * np.clip(np.abs(th) / 1.5, 0, 1.2) ** 1.6


# A fixed grid over the whole head surface: its silhouette is the head outline.
_MESH_TH, _MESH_PH = (g.ravel() for g in np.meshgrid(np.linspace(-math.pi, math.pi, 80, endpoint=False), np.linspace(-math.pi / 2, math.pi / 2, 41)))
_DIRS_A = np.linspace(0, 2 * math.pi, 200, endpoint=False)
_DIRS = np.stack([np.cos(_DIRS_A), np.sin(_DIRS_A)], 1)  # outward directions in picture space (y down)
# A bun: a ball on the crown, toward the back.
_BALL = np.stack([g.ravel() for g in np.meshgrid(np.linspace(0, 2 * math.pi, 24, endpoint=False), np.linspace(-1.4, 1.4, 12))], 1)
_BUN_CENTER, _BUN_R = np.array([0.0, 0.9, -0.42]), 0.28


class _Geometry:
    """One head in one pose: surface points -> picture pixels and visibility."""

    def __init__(self, p: FaceParams, size: int):
        self.A, self.B, self.C, self.taper, self.square = _SHAPES[p.character.face]
        yaw, pitch = math.radians(p.yaw), math.radians(p.pitch)
        ry = np.array([[math.cos(yaw), 0, math.sin(yaw)], [0, 1, 0], [-math.sin(yaw), 0, math.cos(yaw)]])
        rx = np.array([[1, 0, 0], [0, math.cos(pitch), math.sin(pitch)], [0, -math.sin(pitch), math.cos(pitch)]])
        self.R = ry @ rx  # nod first, then turn about the vertical
        # Hanging hair mostly keeps hanging when the head nods.
        rx_hang = np.array([[1, 0, 0], [0, math.cos(pitch / 3), math.sin(pitch / 3)], [0, -math.sin(pitch / 3), math.cos(pitch / 3)]])
        self.R_hang = ry @ rx_hang
        k = size / 256
        self.s = _UNIT * p.scale * k
        self.cx, self.cy = (_CENTER[0] + p.shift[0]) * k, (_CENTER[1] + p.shift[1]) * k

    def surface(self, th, ph, lift=0.0) -> tuple[np.ndarray, np.ndarray]:
        """Head-frame points [N, 3] and unit normals [N, 3] at (th, ph), ``lift`` off the skin."""
        th, ph, lift = np.broadcast_arrays(np.asarray(th, float), np.asarray(ph, float), np.asarray(lift, float))
        ct, st, cp, sp = np.cos(th), np.sin(th), np.cos(ph), np.sin(ph)
        n = np.stack([st * cp / self.A, sp / self.B, ct * cp / self.C], -1)
        n /= np.linalg.norm(n, axis=-1, keepdims=True)
        low = np.clip(-sp, 0, 1)  # 0 above eye level, 1 at the chin
        # The jaw narrows toward the chin; a square jaw keeps its corners.
        wx = 1 - self.taper * low**2 + self.square * np.sin(2 * np.clip(-ph, 0, math.pi / 2)) ** 2
        pts = np.stack([self.A * st * cp * wx, self.B * sp, self.C * ct * cp], -1) + lift[..., None] * n
        return pts, n

    def view(self, pts: np.ndarray, normals: np.ndarray | None = None, hanging: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Picture pixels [N, 2] (column, row) and how much each normal faces the viewer [N]."""
        # Elementwise rather than ``@``: tiny products through a threaded BLAS cost more than they do.
        r = self.R_hang if hanging else self.R
        d = pts - _PIVOT
        x = d[:, 0] * r[0, 0] + d[:, 1] * r[0, 1] + d[:, 2] * r[0, 2] + _PIVOT[0]
        y = d[:, 0] * r[1, 0] + d[:, 1] * r[1, 1] + d[:, 2] * r[1, 2] + _PIVOT[1]
        xy = np.stack([self.cx + self.s * x, self.cy - self.s * y], 1)
        nz = normals[:, 0] * r[2, 0] + normals[:, 1] * r[2, 1] + normals[:, 2] * r[2, 2] if normals is not None else np.ones(len(pts))
        return xy, nz
