"""Video mode: clips in which the pose glides between orientations and the mood blends between expressions."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

import numpy as np

from pointdiff.data.faces.characters import Character
from pointdiff.data.faces.expressions import blend, expression_look
from pointdiff.data.faces.geometry import _smooth
from pointdiff.data.faces.labels import EXPRESSIONS, ORIENTATIONS, POSE_RANGES
from pointdiff.data.faces.params import FaceParams

VIDEO_CLIP_FRAMES = 360  # frames per character in video mode (12 s at 30 fps)


def _video_params(seed: int, cast: tuple[Character, ...]) -> Iterator[tuple[FaceParams, dict]]:
    clip = 0
    while True:
        rng = random.Random(f"pointdiff-faces:{seed}:clip:{clip}")
        for t, p in enumerate(_clip(cast[clip % len(cast)], rng, VIDEO_CLIP_FRAMES)):
            yield p, {"clip": clip, "t": t}
        clip += 1


def _cycle(rng: random.Random, items: tuple[str, ...], start: str | None = None) -> Iterator[str]:
    """Endless shuffled rounds over ``items``, never repeating the previous item."""
    last = start
    while True:
        round_ = list(items)
        rng.shuffle(round_)
        for x in round_:
            if x != last:
                yield x
                last = x


def _clip(ch: Character, rng: random.Random, n: int) -> Iterator[FaceParams]:
    """One smooth clip: the pose glides between orientations, the expression blends between moods."""
    yaw, pitch = np.zeros(n), np.zeros(n)
    orients = _cycle(rng, ORIENTATIONS)
    o = next(orients)
    (y0, y1), (p0, p1) = POSE_RANGES[o]
    cur = (rng.uniform(y0, y1), rng.uniform(p0, p1))
    t = 0
    while t < n:  # hold a pose, then glide to one in another orientation
        hold = rng.randint(15, 45)
        yaw[t : t + hold], pitch[t : t + hold] = cur
        t += hold
        (y0, y1), (p0, p1) = POSE_RANGES[next(orients)]
        nxt = (rng.uniform(y0, y1), rng.uniform(p0, p1))
        # Long glides for long ways: at most about 2.5 degrees per frame at the fastest.
        move = max(rng.randint(18, 36), math.ceil(0.6 * math.hypot(nxt[0] - cur[0], nxt[1] - cur[1])))
        w = _smooth(np.arange(1, move + 1) / move)
        k = min(move, max(0, n - t))
        yaw[t : t + k] = cur[0] + (nxt[0] - cur[0]) * w[:k]
        pitch[t : t + k] = cur[1] + (nxt[1] - cur[1]) * w[:k]
        cur, t = nxt, t + move
    # A slow wobble keeps the head alive (and every frame distinct) while it holds a pose.
    f = np.arange(n)
    for arr in (yaw, pitch):
        for _ in range(2):
            arr += rng.uniform(0.5, 1.2) * np.sin(2 * math.pi * f / rng.uniform(40, 90) + rng.uniform(0, 2 * math.pi))
    exprs = _cycle(rng, EXPRESSIONS)
    name, wink = next(exprs), rng.choice(("left", "right"))
    look, t_next = expression_look(name, rng, wink), rng.randint(30, 80)
    prev = prev_name = prev_wink = None
    blend_start, blend_len = -100, 1
    scale, shift = rng.uniform(0.95, 1.05), (rng.uniform(-4, 4), rng.uniform(-4, 4))
    for t in range(n):
        if t == t_next:  # the mood changes: blend from the old look to a new one
            prev, prev_name, prev_wink = look, name, wink
            name, wink = next(exprs), rng.choice(("left", "right"))
            look, t_next = expression_look(name, rng, wink), t + rng.randint(30, 80)
            blend_start, blend_len = t, rng.randint(6, 10)
        w = float(_smooth((t - blend_start + 1) / blend_len))
        shown = look if prev is None or w >= 1 else blend(prev, look, w)
        label, label_wink = (name, wink) if w >= 0.5 else (prev_name, prev_wink)
        gaze = (float(np.clip(yaw[t] / 45, -1, 1)), float(np.clip(pitch[t] / 30, -1, 1)))
        yield FaceParams(ch, float(yaw[t]), float(pitch[t]), label, shown, label_wink if label == "winking" else None, gaze, scale, shift)
