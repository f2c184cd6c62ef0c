"""The cast: identity traits that make a character look the same in every pose and mood."""

from __future__ import annotations

from dataclasses import dataclass

HAIR_STYLES = ("short", "spiky", "curly", "swept", "long", "bun", "bald")
FACE_SHAPES = ("round", "oval", "square")


@dataclass(frozen=True)
class Character:
    """Identity traits: the same character looks the same in every pose and mood."""

    gender: str  # "man" | "woman": words in captions, brows/lashes in the drawing
    hair: str  # one of HAIR_STYLES
    face: str  # one of FACE_SHAPES
    glasses: bool
    beard: bool
    eye_size: float = 1.0  # multipliers on the base geometry, so characters differ a little
    eye_spacing: float = 1.0
    nose_size: float = 1.0
    mouth_size: float = 1.0

    @property
    def id(self) -> str:
        """A readable id derived from the discrete traits, e.g. ``man-spiky-round-glasses-beard``."""
        extras = [w for w, on in (("glasses", self.glasses), ("beard", self.beard)) if on]
        return "-".join([self.gender, self.hair, self.face, *extras])


# The built-in cast: every hair style, both genders, glasses and beards, all face shapes.
CHARACTERS: tuple[Character, ...] = (
    Character("man", "short", "square", glasses=False, beard=False),
    Character("woman", "long", "oval", glasses=False, beard=False, eye_size=1.08),
    Character("man", "spiky", "round", glasses=True, beard=False, eye_spacing=1.05),
    Character("woman", "bun", "round", glasses=True, beard=False, eye_size=1.05, mouth_size=0.92),
    Character("man", "bald", "oval", glasses=False, beard=True, nose_size=1.15),
    Character("woman", "curly", "round", glasses=False, beard=False, eye_size=1.1, eye_spacing=0.95),
    Character("man", "swept", "oval", glasses=True, beard=True, eye_size=0.95, mouth_size=1.05),
    Character("woman", "swept", "square", glasses=False, beard=False, nose_size=0.9),
)
