"""The samples: rendered glyphs with their true labels and captions, deterministic for a seed."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from pointdiff.data.glyphs.fonts import font_report, usable_fonts
from pointdiff.data.glyphs.labels import CHARACTERS
from pointdiff.data.glyphs.params import GlyphParams, random_params
from pointdiff.data.glyphs.render import render_glyph
from pointdiff.data.glyphs.words import caption_for
from pointdiff.data.phrasings import more_phrasings
from pointdiff.errors import PointdiffError


@dataclass
class GlyphSample:
    """One rendered glyph with its true labels and caption."""

    id: str  # "glyph-00017"
    image: Image.Image  # mode "L", size x size, black ink on white
    labels: dict  # character, case, family, weight, slant, font, font_file, cap_height, angle
    caption: str  # a short template caption (training phrasings only)
    params: GlyphParams | None = None  # what was drawn (for re-rendering; not JSON)
    alt_captions: list[str] = field(default_factory=list)  # more phrasings of the same picture (``captions`` > 1)


def drawable_characters(folder: Path | None = None) -> str:
    """The characters at least one loaded font draws, in :data:`CHARACTERS` order."""
    fonts = usable_fonts(folder)
    return "".join(c for c in CHARACTERS if any(c in s.characters for s in fonts))


def iter_glyphs(count: int, seed: int = 0, size: int = 256, every: int = 1, folder: Path | None = None, captions: int = 1) -> Iterator[GlyphSample]:
    """Render ``count`` labelled glyphs, deterministically for ``seed``.

    The characters come in shuffled rounds (every 62 glyphs hold each character once), each in
    a random style (family, weight and slant drawn uniformly, then a font of that style), size,
    angle and place.

    Args:
        count: number of samples (before ``every`` thins them out).
        seed: same seed, same pictures (byte for byte) and captions.
        size: picture side in pixels.
        every: yield only samples 0, every, 2 * every, ... (keeping their ids), each
            byte-identical to the one a full run yields at its place.
        folder: where the font files are (default: matplotlib's).
        captions: short captions per glyph: the first as with 1, then ``captions - 1`` other
            phrasings of the same labels (``alt_captions``) from a random stream of their own.

    Raises:
        PointdiffError: no font could be loaded (each one's reason is in the message).
    """
    if every < 1:
        raise ValueError(f"every must be 1 or more, got {every}")
    fonts = usable_fonts(folder)
    chars = list(drawable_characters(folder))
    if not chars:
        reasons = "; ".join(f"{s.font.file}: {s.error}" for s in font_report(folder))
        raise PointdiffError(f"no font could draw the built-in glyphs (is matplotlib installed whole?): {reasons}")
    order = random.Random(f"pointdiff-glyphs:{seed}:order")
    i = 0
    while i < count:
        order.shuffle(chars)
        for c in chars[: count - i]:
            if i % every == 0:
                p = random_params(c, fonts, random.Random(f"pointdiff-glyphs:{seed}:{i}"))
                labels = p.labels()
                caption = caption_for(labels, random.Random(f"pointdiff-glyphs:{seed}:{i}:text"))
                more_rng = random.Random(f"pointdiff-glyphs:{seed}:{i}:more-text")
                alts = more_phrasings(caption, lambda: caption_for(labels, more_rng), captions - 1)
                yield GlyphSample(f"glyph-{i:05d}", render_glyph(p, size), labels, caption, p, alts)
            i += 1
