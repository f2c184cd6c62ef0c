"""The fonts: the TrueType files that ship with matplotlib, their style labels, and a check of each.

Only ``matplotlib.get_data_path()`` is used (never pyplot): the files live in its
``fonts/ttf`` folder. A font is checked once per process, character by character, for
every one of :data:`~pointdiff.data.glyphs.labels.CHARACTERS`:

* its character map must lead to a glyph of the character's standard name ("a", "Q",
  "seven"): TeX's Computer Modern fonts in matplotlib map plain ASCII codes to whatever their
  encoding puts there (cmex10 draws part of a big parenthesis for "a", cmsy10 a turnstile),
  and only the glyph name tells;
* rendered, it must leave ink, differ from the font's missing-glyph box, and differ from
  every other character's bitmap (two code points drawn by one glyph cannot both be right).

A character that fails is skipped for that font; a font that cannot be opened or draws
none is skipped whole. :func:`font_report` says which loaded and why the rest did not.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

from pointdiff.data.glyphs.labels import CHARACTERS

CHECK_SIZE = 64  # pixels per em for the check: big enough that two glyphs never share a bitmap by rounding
_MISSING = "\uffff"  # a noncharacter: no font maps it, so it shows the font's "missing glyph" box
# The standard (Adobe Glyph List) names of the digits' glyphs; a letter's glyph is named by the letter.
_DIGIT_NAMES = dict(zip("0123456789", ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")))


@dataclass(frozen=True)
class GlyphFont:
    """One font file and the style labels it stands for."""

    file: str  # file name inside matplotlib's fonts/ttf
    typeface: str  # the ``font`` label: its family name ("DejaVu Sans", "Computer Modern Typewriter")
    family: str  # sans | serif | mono
    weight: str  # regular | bold
    slant: str  # upright | italic (oblique counts as italic)


def _four(prefix: str, typeface: str, family: str, italic: str) -> tuple[GlyphFont, ...]:
    """DejaVu's four styles of one typeface: ``X.ttf``, ``X-Bold``, ``X-<italic>``, ``X-Bold<italic>``."""
    return (
        GlyphFont(f"{prefix}.ttf", typeface, family, "regular", "upright"),
        GlyphFont(f"{prefix}-Bold.ttf", typeface, family, "bold", "upright"),
        GlyphFont(f"{prefix}-{italic}.ttf", typeface, family, "regular", "italic"),
        GlyphFont(f"{prefix}-Bold{italic}.ttf", typeface, family, "bold", "italic"),
    )


# Every family has both weights and both slants (DejaVu alone covers all eight), so a style
# drawn label by label always finds a font.
FONTS: tuple[GlyphFont, ...] = (
    *_four("DejaVuSans", "DejaVu Sans", "sans", "Oblique"),
    *_four("DejaVuSerif", "DejaVu Serif", "serif", "Italic"),
    *_four("DejaVuSansMono", "DejaVu Sans Mono", "mono", "Oblique"),
    GlyphFont("STIXGeneral.ttf", "STIX", "serif", "regular", "upright"),
    GlyphFont("STIXGeneralBol.ttf", "STIX", "serif", "bold", "upright"),
    GlyphFont("STIXGeneralItalic.ttf", "STIX", "serif", "regular", "italic"),
    GlyphFont("STIXGeneralBolIta.ttf", "STIX", "serif", "bold", "italic"),
    GlyphFont("cmr10.ttf", "Computer Modern", "serif", "regular", "upright"),
    GlyphFont("cmb10.ttf", "Computer Modern", "serif", "bold", "upright"),
    GlyphFont("cmti10.ttf", "Computer Modern", "serif", "regular", "italic"),
    GlyphFont("cmss10.ttf", "Computer Modern Sans", "sans", "regular", "upright"),
    GlyphFont("cmtt10.ttf", "Computer Modern Typewriter", "mono", "regular", "upright"),
)


@dataclass(frozen=True)
class FontStatus:
    """What the check found for one font: the characters it draws, and why it skips the others."""

    font: GlyphFont
    path: Path | None  # None: the file was not found
    characters: str = ""  # the characters it draws, in CHARACTERS order
    cap_height: float = 0.0  # height of "H" as a fraction of the em: sizes are set by it
    error: str | None = None  # why the whole font was skipped
    skipped: dict[str, str] = field(default_factory=dict)  # character -> why it is not drawn in this font

    @property
    def loaded(self) -> bool:
        """Whether any character is drawn in this font."""
        return self.error is None and bool(self.characters)


def font_folder() -> Path:
    """matplotlib's ``fonts/ttf`` folder (importing matplotlib itself, not pyplot)."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


@lru_cache(maxsize=32)  # each holds its own copy of the file (PIL reads a stream whole): keep few
def open_font(path: Path, px: int) -> ImageFont.FreeTypeFont:
    """The font file at ``path`` at ``px`` pixels per em.

    Read from the file's bytes: given a path it cannot open, PIL would quietly take a
    system font of the same file name instead, and the pictures would depend on the machine.
    """
    return ImageFont.truetype(io.BytesIO(_font_bytes(path)), px)


@lru_cache(maxsize=64)
def _font_bytes(path: Path) -> bytes:
    return path.read_bytes()


def check_font(font: GlyphFont, folder: Path) -> FontStatus:
    """Open ``font`` from ``folder`` and find which of :data:`CHARACTERS` it really draws."""
    path = folder / font.file
    if not path.is_file():
        return FontStatus(font, None, error=f"{font.file} not found in {folder}")
    try:
        face = open_font(path, CHECK_SIZE)
        missing = _bitmap(face, _MISSING)
        bitmaps = {c: _bitmap(face, c) for c in CHARACTERS}
        cap = face.getbbox("H")
    except (OSError, ValueError) as e:  # not a font PIL can read (truncated, wrong format)
        return FontStatus(font, path, error=f"cannot be opened: {e}")
    names = _glyph_names(path)
    skipped: dict[str, str] = {}
    first: dict[bytes, str] = {}
    for c, bm in bitmaps.items():
        expected = _DIGIT_NAMES.get(c, c)
        name = names.get(c, expected) if names is not None else expected
        if name is None:
            skipped[c] = "not in the font's character map"
        elif name != expected and not name.startswith(expected + "."):  # "a.alt" is still an "a"
            skipped[c] = f"maps to the glyph {name!r}, not {expected!r}"
        elif bm is None:
            skipped[c] = "renders no ink"
        elif bm == missing:
            skipped[c] = "renders the missing-glyph box"
        elif bm in first:  # two code points, one glyph: neither can be trusted to be itself
            skipped[c] = f"renders the same bitmap as {first[bm]!r}"
            skipped.setdefault(first[bm], f"renders the same bitmap as {c!r}")
        else:
            first[bm] = c
    drawn = "".join(c for c in CHARACTERS if c not in skipped)
    if not drawn:
        return FontStatus(font, path, error="draws none of the characters", skipped=skipped)
    return FontStatus(font, path, drawn, (cap[3] - cap[1]) / CHECK_SIZE, None, skipped)


def _glyph_names(path: Path) -> dict[str, str | None] | None:
    """The name of the glyph each character maps to (None: unmapped), or None when the font names no glyphs."""
    from fontTools.ttLib import TTFont, TTLibError  # matplotlib's own dependency: always there with it

    try:
        with TTFont(str(path), lazy=True) as tt:
            if tt["post"].formatType == 3.0:  # a font without glyph names: only the rendering checks apply
                return None
            cmap = tt.getBestCmap() or {}
    except (TTLibError, OSError, KeyError):
        return None
    return {c: cmap.get(ord(c)) for c in CHARACTERS}


def _bitmap(face: ImageFont.FreeTypeFont, char: str) -> bytes | None:
    """The glyph's antialiased bitmap (size + pixels) as bytes, or None when it has no ink."""
    mask = face.getmask(char)
    pixels = bytes(mask)
    if not pixels or max(pixels) < 128:  # nothing the ingest threshold would keep
        return None
    return repr(mask.size).encode() + hashlib.sha256(pixels).digest()


@lru_cache(maxsize=None)
def font_report(folder: Path | None = None) -> tuple[FontStatus, ...]:
    """The check of every font of :data:`FONTS` (cached per folder): loaded or skipped, and why.

    Args:
        folder: where the files are; default matplotlib's ``fonts/ttf``.
    """
    where = folder if folder is not None else font_folder()
    return tuple(check_font(f, where) for f in FONTS)


def usable_fonts(folder: Path | None = None) -> tuple[FontStatus, ...]:
    """The fonts that loaded, each with the characters it draws."""
    return tuple(s for s in font_report(folder) if s.loaded)
