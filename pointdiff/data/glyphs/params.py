"""What decides one picture (:class:`GlyphParams`), and a random one for a given character."""

from __future__ import annotations

import random
from dataclasses import dataclass

from pointdiff.data.glyphs.fonts import FontStatus
from pointdiff.data.glyphs.labels import STYLE_LABELS, case_of

# Jitter, drawn uniformly per sample.
CAP_HEIGHT = (0.45, 0.70)  # height of a capital of the font, as a fraction of the canvas side
MAX_ANGLE = 8.0  # degrees either way


@dataclass(frozen=True)
class GlyphParams:
    """Everything that decides one picture; :func:`~pointdiff.data.glyphs.render.render_glyph` draws it.

    Lowercase letters keep their size relative to the capitals (an "o" is smaller than an
    "O" of the same font size): it is what tells the two apart.
    """

    character: str
    font: FontStatus
    cap_height: float  # fraction of the canvas side (CAP_HEIGHT)
    angle: float  # degrees, counter-clockwise
    x: float  # 0..1: where the glyph sits in the room it leaves, left .. right
    y: float  # 0..1: top .. bottom

    def labels(self) -> dict:
        """The JSON-able true labels."""
        f = self.font.font
        return {
            "character": self.character,
            "case": case_of(self.character),
            "family": f.family,
            "weight": f.weight,
            "slant": f.slant,
            "font": f.typeface,
            "font_file": f.file,
            "cap_height": round(self.cap_height, 3),
            "angle": round(self.angle, 2),
        }


def choose_font(character: str, fonts: tuple[FontStatus, ...], rng: random.Random) -> FontStatus:
    """A font that draws ``character``: family, then weight, then slant drawn uniformly, then a font of that style.

    Drawing the style label by label (not the font) keeps the labels balanced although
    there are more serif fonts than sans or mono ones.
    """
    able = [s for s in fonts if character in s.characters]
    if not able:
        raise ValueError(f"no loaded font draws {character!r}")
    for label in STYLE_LABELS:
        value = rng.choice(sorted({getattr(s.font, label) for s in able}))
        able = [s for s in able if getattr(s.font, label) == value]
    return rng.choice(able)


def random_params(character: str, fonts: tuple[FontStatus, ...], rng: random.Random) -> GlyphParams:
    """``character`` in a random style, size, angle and place."""
    font = choose_font(character, fonts, rng)
    return GlyphParams(character, font, rng.uniform(*CAP_HEIGHT), rng.uniform(-MAX_ANGLE, MAX_ANGLE), rng.random(), rng.random())
