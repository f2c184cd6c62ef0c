"""The label vocabulary, and which orientation label any pose gets.

Left and right are the viewer's (see :mod:`pointdiff.data.faces`): ``yaw < 0`` (degrees)
turns the face toward the picture's left, ``pitch > 0`` tilts it up.
"""

from __future__ import annotations

ORIENTATIONS = ("front", "left", "right", "up", "down")
EXPRESSIONS = ("smiling", "laughing", "neutral", "sad", "surprised", "angry", "winking")

# (yaw range, pitch range) in degrees of the poses drawn for each label in independent mode.
POSE_RANGES: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "front": ((-8, 8), (-8, 8)),
    "left": ((-45, -20), (-8, 8)),
    "right": ((20, 45), (-8, 8)),
    "up": ((-8, 8), (15, 30)),
    "down": ((-8, 8), (-30, -15)),
}
# Bucket borders for arbitrary poses: halfway between the ranges above.
YAW_BORDER = 14.0
PITCH_BORDER = 11.5


def orientation_of(yaw: float, pitch: float) -> str:
    """The orientation label of any pose (degrees); a turn wins over a tilt of equal size."""
    if abs(yaw) >= YAW_BORDER and abs(yaw) >= abs(pitch):
        return "left" if yaw < 0 else "right"
    if abs(pitch) >= PITCH_BORDER:
        return "up" if pitch > 0 else "down"
    return "front"
