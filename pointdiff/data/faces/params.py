"""What decides one picture (:class:`FaceParams`), and a random one for given labels."""

from __future__ import annotations

import random
from dataclasses import dataclass

from pointdiff.data.faces.characters import Character
from pointdiff.data.faces.colors import FaceColors
from pointdiff.data.faces.expressions import Look, expression_look
from pointdiff.data.faces.labels import POSE_RANGES, orientation_of


@dataclass
class FaceParams:
    """Everything that decides one picture; :func:`render_face` draws it."""

    character: Character
    yaw: float  # degrees, < 0: turned toward the picture's left
    pitch: float  # degrees, > 0: tilted up
    expression: str  # the label (in a blend, the dominant expression)
    look: Look
    wink_eye: str | None = None  # "left" / "right" picture side, when winking
    gaze: tuple[float, float] = (0.0, 0.0)  # pupil offset in -1..1 (x right, y up)
    scale: float = 1.0  # head size jitter
    shift: tuple[float, float] = (0.0, 0.0)  # head position jitter, pixels at size 256 (x right, y down)
    colors: FaceColors | None = None  # None: black line art (mode "L"); else drawn in these colours (mode "RGB")

    @property
    def orientation(self) -> str:
        """The orientation label of this pose."""
        return orientation_of(self.yaw, self.pitch)

    def labels(self) -> dict:
        """The JSON-able true labels (with ``hair_color``, ``eye_color`` and ``skin`` for a colour face)."""
        ch = self.character
        out = {"orientation": self.orientation, "expression": self.expression, "yaw": round(self.yaw, 2), "pitch": round(self.pitch, 2), "character": ch.id, "gender": ch.gender, "hair": ch.hair, "face": ch.face, "glasses": ch.glasses, "beard": ch.beard}
        if self.wink_eye:
            out["wink_eye"] = self.wink_eye
        if self.colors is not None:
            out.update(self.colors.labels())
        return out


def random_params(character: Character, orientation: str, expression: str, rng: random.Random) -> FaceParams:
    """A face with the given labels: pose inside :data:`POSE_RANGES`, jittered look and placement."""
    (y0, y1), (p0, p1) = POSE_RANGES[orientation]
    yaw, pitch = rng.uniform(y0, y1), rng.uniform(p0, p1)
    wink = rng.choice(("left", "right")) if expression == "winking" else None
    look = expression_look(expression, rng, wink or "left")
    # The eyes follow the head a little, as people look where they turn.
    gaze = (max(-1.0, min(1.0, yaw / 45 + rng.uniform(-0.3, 0.3))), max(-1.0, min(1.0, pitch / 30 + rng.uniform(-0.3, 0.3))))
    return FaceParams(character, yaw, pitch, expression, look, wink, gaze, rng.uniform(0.95, 1.05), (rng.uniform(-4, 4), rng.uniform(-4, 4)))
