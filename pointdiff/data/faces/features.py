"""The inner features that carry the pose and the mood: brows, eyes, glasses, nose, mouth."""

from __future__ import annotations

import math

import numpy as np

from pointdiff.data.faces.characters import Character
from pointdiff.data.faces.expressions import Look
from pointdiff.data.faces.geometry import _Geometry, _smooth
from pointdiff.data.faces.painter import _W_BROW, _W_FEATURE, _W_HATCH, _blob, _Painter, _stroke
from pointdiff.data.faces.params import FaceParams


def _brows(g: _Geometry, pen: _Painter, ch: Character, look: Look) -> None:
    t = np.linspace(0, 1, 14)  # inner end -> outer end
    ph = 0.27 + look.brow_raise + 0.06 * look.brow_arch * np.sin(math.pi * t) - 0.13 * look.brow_tilt * (1 - t) + 0.03 * look.brow_tilt * t
    for side in (-1, 1):
        _stroke(g, pen, side * (0.12 + 0.42 * t) * ch.eye_spacing, ph, 0.02, width=_W_BROW if ch.gender == "man" else _W_FEATURE)


def _eye(g: _Geometry, pen: _Painter, p: FaceParams, side: int, opening: float) -> None:
    ch, look = p.character, p.look
    th0, ph0 = side * 0.36 * ch.eye_spacing, 0.02
    ew, eh = 0.19 * ch.eye_size, 0.14 * ch.eye_size
    u = np.linspace(-1, 1, 25)
    outer = side * u  # +1 at the outer corner
    shape = (1 - u**2) ** 0.6
    arc = look.eye_arc * (1 - u**2) * max(0.0, 1 - opening)  # a closed eye is a bent line
    tilt = max(look.lid_tilt, 0) * (1 - outer) / 2 + max(-look.lid_tilt, 0) * (1 + outer) / 2
    lower = ph0 + arc - opening * eh * (0.8 - 0.45 * look.squint) * shape
    upper = np.maximum(ph0 + arc + opening * eh * shape * (1 - 0.55 * tilt), lower)
    th = th0 + ew * u
    _stroke(g, pen, np.r_[th, th[::-1]], np.r_[upper, lower[::-1]], 0.0, width=_W_FEATURE, closed=True)
    size = min(1.0, max(0.0, (opening - 0.2) / 0.4))
    if size > 0:
        r = 0.07 * ch.eye_size * look.pupil * size
        r_ph = min(r, 0.6 * opening * eh)
        pc = ph0 + p.gaze[1] * eh * 0.25 - 0.15 * opening * eh * tilt.mean()
        _blob(g, pen, th0 + p.gaze[0] * ew * 0.35, pc, r * g.B / g.A, r_ph)
    if ch.gender == "woman" and opening > 0.3:  # lashes at the outer corner
        for uu in (0.55, 0.85):
            k = int(np.argmin(np.abs(outer - uu)))
            _stroke(g, pen, np.array([th[k], th[k] + side * 0.05]), np.array([upper[k], upper[k] + 0.05 * min(opening, 1)]), 0.0, width=_W_HATCH)


def _glasses(g: _Geometry, pen: _Painter, ch: Character) -> None:
    es, r_th, r_ph, ph0 = 0.36 * ch.eye_spacing, 0.27, 0.19, 0.03
    t = np.linspace(0, 2 * math.pi, 33)
    for side in (-1, 1):
        _stroke(g, pen, side * es + r_th * np.cos(t), ph0 + r_ph * np.sin(t), 0.12, width=_W_HATCH, min_facing=-0.05, closed=True)
        arm = np.linspace(es + r_th, 1.5, 12)
        _stroke(g, pen, side * arm, np.full_like(arm, ph0 + 0.05), np.linspace(0.12, 0.03, 12), width=_W_HATCH, beyond_outline=True)
    u = np.linspace(-1, 1, 9)
    _stroke(g, pen, (es - r_th) * u, ph0 + 0.04 + 0.02 * (1 - u**2), 0.14, width=_W_HATCH)


def _nose(g: _Geometry, pen: _Painter, p: FaceParams) -> None:
    ns = p.character.nose_size
    tip = 0.20 * ns
    u = np.linspace(-1, 1, 15)  # the soft "u" under the tip, which bulges toward any turn
    _stroke(g, pen, 0.085 * ns * u, -0.24 - 0.035 * (1 - u**2), 0.04 + (tip - 0.04) * (1 - u**2) ** 1.5, width=_W_FEATURE)
    # The ridge shows as the head turns: a profile line from the tip up.
    f = float(_smooth((abs(p.yaw) - 4) / 20))
    if f > 0.02:
        t = np.linspace(0, f, 10)
        _stroke(g, pen, np.zeros_like(t), -0.275 + 0.27 * t, tip - (tip - 0.03) * t, width=_W_FEATURE)
    k = float(_smooth((p.pitch - 4) / 16))  # nostrils show when the chin goes up
    if k > 0.05:
        for side in (-1, 1):
            _blob(g, pen, side * 0.045 * ns, -0.262, 0.028 * k, 0.016 * k, 0.10)


def _mouth(g: _Geometry, pen: _Painter, ch: Character, look: Look) -> None:
    ph0, w = -0.50, look.mouth_w * ch.mouth_size
    u = np.linspace(-1, 1, 31)
    mid = ph0 + look.mouth_curve * u**2 + look.smirk * u
    h = np.sqrt(np.clip(1 - u**2, 0, 1))
    upper = mid + look.mouth_open * look.mouth_round * 0.5 * h
    lower = mid - look.mouth_open * (1 - 0.5 * look.mouth_round) * h
    _stroke(g, pen, np.r_[w * u, w * u[::-1]], np.r_[upper, lower[::-1]], 0.02, width=_W_FEATURE, closed=True)
    inner = u[4:-4]  # teeth and tongue of a wide-open laugh
    gap = look.mouth_open * (1 - look.mouth_round)
    if look.teeth * gap > 0.03:
        _stroke(g, pen, w * inner, upper[4:-4] - 0.3 * gap * h[4:-4], 0.02, width=_W_HATCH)
        tu = np.linspace(-0.5, 0.5, 11)
        _stroke(g, pen, w * tu, ph0 + look.mouth_curve * tu**2 - gap * np.sqrt(1 - tu**2) + 0.4 * gap * (1 - (2 * tu) ** 2), 0.02, width=_W_HATCH)
    dimple = float(_smooth((look.mouth_curve - 0.05) / 0.04)) * (1 - min(1.0, look.mouth_open / 0.1))
    if dimple > 0.05:  # small ticks at the corners of a closed smile
        for side in (-1, 1):
            corner = ph0 + look.mouth_curve + side * look.smirk
            _stroke(g, pen, np.full(5, side * (w + 0.025)), corner + np.linspace(0.035, -0.035, 5) * dimple, 0.02, width=_W_HATCH)
