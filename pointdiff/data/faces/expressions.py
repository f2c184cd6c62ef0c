"""Expressions as points in a continuous space of mouth / eye / brow parameters.

Each expression label has a centre :class:`Look`, jittered per face by :func:`expression_look`
and blended between moods by :func:`blend` (video mode).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Look:
    """Continuous expression parameters (angles in radians of the head surface).

    Every expression is a point in this space, so expressions can be jittered and blended.
    "Left"/"right" eyes are by picture side.
    """

    mouth_w: float = 0.22  # half-width of the mouth
    mouth_curve: float = 0.0  # corner lift: > 0 smile (U), < 0 frown (inverted U)
    mouth_open: float = 0.0  # gap between the lips
    mouth_round: float = 0.0  # 0: lower lip drops (D shape), 1: both lips part (O shape)
    teeth: float = 0.0  # 0..1: how much of the teeth line of an open mouth shows
    smirk: float = 0.0  # lifts the picture-right corner, lowers the left
    eye_open_l: float = 1.0  # 0 closed (an arc), 1 normal, > 1 wide
    eye_open_r: float = 1.0
    eye_arc: float = 0.0  # bend of a closed eye: > 0 is a happy "^"
    squint: float = 0.0  # raises the lower lids (smiling cheeks)
    lid_tilt: float = 0.0  # > 0 upper lid low at the inner corner (angry), < 0 at the outer (sad)
    pupil: float = 1.0  # pupil size
    brow_raise: float = 0.0
    brow_tilt: float = 0.0  # > 0 inner ends down (angry V), < 0 inner ends up (sad)
    brow_arch: float = 0.3


def blend(a: Look, b: Look, w: float) -> Look:
    """``(1 - w) * a + w * b`` field by field."""
    return Look(**{f.name: (1 - w) * getattr(a, f.name) + w * getattr(b, f.name) for f in fields(Look)})


# Each expression's centre and the +- jitter of a few of its fields.
_LOOKS: dict[str, tuple[Look, dict[str, float]]] = {
    "smiling": (Look(mouth_w=0.27, mouth_curve=0.10, squint=0.45, brow_raise=0.02, brow_arch=0.45), {"mouth_curve": 0.025, "mouth_w": 0.03}),
    "laughing": (
        Look(mouth_w=0.29, mouth_curve=0.07, mouth_open=0.20, teeth=1.0, eye_open_l=0.0, eye_open_r=0.0, eye_arc=0.07, brow_raise=0.05, brow_arch=0.5),
        {"mouth_open": 0.03, "mouth_w": 0.03},
    ),
    "neutral": (Look(mouth_w=0.19), {"mouth_w": 0.03, "brow_raise": 0.02}),
    "sad": (Look(mouth_w=0.21, mouth_curve=-0.10, eye_open_l=0.85, eye_open_r=0.85, lid_tilt=-0.7, brow_tilt=-1.0, brow_raise=0.03, brow_arch=0.1), {"mouth_curve": 0.02, "brow_tilt": 0.2}),
    "surprised": (
        Look(mouth_w=0.12, mouth_open=0.22, mouth_round=1.0, eye_open_l=1.35, eye_open_r=1.35, pupil=0.7, brow_raise=0.10, brow_arch=0.9),
        {"mouth_open": 0.03, "mouth_w": 0.015, "brow_raise": 0.02},
    ),
    "angry": (Look(mouth_w=0.16, mouth_curve=-0.06, eye_open_l=0.8, eye_open_r=0.8, lid_tilt=0.9, brow_tilt=1.0, brow_raise=-0.05, brow_arch=0.0), {"mouth_curve": 0.015, "brow_tilt": 0.2}),
    "winking": (Look(mouth_w=0.24, mouth_curve=0.08, smirk=0.04, eye_arc=0.05, squint=0.3, brow_arch=0.4), {"mouth_curve": 0.02, "smirk": 0.02}),
}


def expression_look(expression: str, rng: random.Random, wink_eye: str = "left") -> Look:
    """A jittered :class:`Look` for ``expression`` (the winking one closes ``wink_eye``)."""
    base, spread = _LOOKS[expression]
    look = replace(base, **{k: getattr(base, k) + rng.uniform(-d, d) for k, d in spread.items()})
    if expression == "winking":
        look = replace(look, **{"eye_open_l" if wink_eye == "left" else "eye_open_r": 0.0})
    return look
