"""The colour faces' palettes: hair, eye and skin colours by name, which part wears which ink.

A colour face (``FaceParams.colors`` set) is drawn in mode "RGB": hair, brows and beard in
the hair colour, the eyes in the eye colour, the outline, ears, neck and nose in the skin
tone's line colour, the mouth and glasses in :data:`DARK_INK`. Ink is still decided on
luminance (``convert("L") < 128``), so every colour is a dark one: at most
:data:`MAX_LUMINANCE`, which keeps a pixel that a stroke covers by three quarters (the 2x
supersampling's edge pixels) ink, as it is in the grey faces -- so a colour face's ink mask
is its grey twin's and the colour changes no point of the cloud's geometry. Within an
attribute the colours differ in hue, not only in lightness, so that a small network can tell
them apart on a coarse raster. The words for them live in :mod:`.colorwords`.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

RGB = tuple[int, int, int]

# 0.75 * L + 0.25 * 255 < 128 needs L < 85.7; a little under it for PIL's rounding.
MAX_LUMINANCE = 84.0

# attribute (the label key) -> colour name -> RGB of its strokes. The first name of each is
# no default: every face draws its colours uniformly.
PALETTES: dict[str, dict[str, RGB]] = {
    "hair_color": {
        "black": (28, 26, 24),
        "brown": (88, 42, 14),  # a dark chocolate, far in hue from blond's yellow
        "red": (190, 40, 20),
        "blond": (108, 86, 0),  # a dark gold: blond is light, and ink must be dark
    },
    "eye_color": {
        "brown": (110, 58, 18),
        "blue": (35, 75, 215),
        "green": (15, 122, 40),
    },
    "skin": {  # the line colour of the skin, not a fill: rose, amber, deep brown
        "light": (145, 48, 85),
        "tan": (145, 62, 16),  # amber, redder than blond hair so hair and face stay apart
        "dark": (100, 42, 40),  # a deep red-brown: its hue apart from both rose and amber, lighter than black hair
    },
}
HAIR_COLORS = tuple(PALETTES["hair_color"])
EYE_COLORS = tuple(PALETTES["eye_color"])
SKIN_TONES = tuple(PALETTES["skin"])
COLOR_ATTRIBUTES = tuple(PALETTES)  # ("hair_color", "eye_color", "skin"): the label keys
DARK_INK: RGB = (30, 30, 30)  # mouth and glasses: the same on every face


def luminance(rgb: RGB) -> float:
    """The grey level of a colour, as PIL's ``convert("L")`` weighs it (ITU-R 601-2)."""
    r, g, b = rgb
    return 0.299 * r + 0.587 * g + 0.114 * b


@dataclass(frozen=True)
class FaceColors:
    """The colours of one face, by name (keys of :data:`PALETTES`)."""

    hair: str  # one of HAIR_COLORS; on a bald head it shows in the brows and beard
    eyes: str  # one of EYE_COLORS
    skin: str  # one of SKIN_TONES

    def __post_init__(self) -> None:
        for attribute, name in zip(COLOR_ATTRIBUTES, (self.hair, self.eyes, self.skin)):
            if name not in PALETTES[attribute]:
                raise ValueError(f"unknown {attribute} {name!r}; known: {tuple(PALETTES[attribute])}")

    def labels(self) -> dict[str, str]:
        """The colour labels: ``{"hair_color": ..., "eye_color": ..., "skin": ...}``."""
        return dict(zip(COLOR_ATTRIBUTES, (self.hair, self.eyes, self.skin)))


def random_colors(rng: random.Random) -> FaceColors:
    """Colours drawn uniformly and independently, so no colour goes with a character or pose."""
    return FaceColors(rng.choice(HAIR_COLORS), rng.choice(EYE_COLORS), rng.choice(SKIN_TONES))


def color_rounds(rng: random.Random) -> Iterator[FaceColors]:
    """Every hair × eye × skin combination once per round, each round in a new shuffled order.

    Independent faces take their colours from here, so any ``36·k`` consecutive faces hold
    each combination ``k`` times: an eval set balanced over the colours needs no more faces
    than it has prompts, and training sees every combination equally often.
    """
    combos = [FaceColors(h, e, s) for h in HAIR_COLORS for e in EYE_COLORS for s in SKIN_TONES]
    while True:
        rng.shuffle(combos)
        yield from combos


def part_inks(colors: FaceColors) -> dict[str, RGB]:
    """The ink of each of ``render.PARTS`` for a face of these colours."""
    hair, eyes, skin = (PALETTES[a][n] for a, n in zip(COLOR_ATTRIBUTES, (colors.hair, colors.eyes, colors.skin)))
    return {"outline": skin, "ears": skin, "neck": skin, "nose": skin, "hair": hair, "brows": hair, "beard": hair, "eyes": eyes, "mouth": DARK_INK, "glasses": DARK_INK}
