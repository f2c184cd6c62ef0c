"""Draw a :class:`~pointdiff.data.glyphs.params.GlyphParams` black on white with PIL's FreeType."""

from __future__ import annotations

from PIL import Image, ImageDraw

from pointdiff.data.glyphs.fonts import open_font
from pointdiff.data.glyphs.params import GlyphParams

MARGIN = 4  # pixels at size 256 kept free at every edge, so no stroke touches the border
_PAD = 2  # white around the glyph before rotating, so bicubic resampling has room to fade out


def _tile(params: GlyphParams, px: int) -> Image.Image:
    """The glyph alone on white, rotated, cropped to its rotated box."""
    assert params.font.path is not None  # only loaded fonts are drawn with
    face = open_font(params.font.path, px)
    left, top, right, bottom = face.getbbox(params.character)
    tile = Image.new("L", (right - left + 2 * _PAD, bottom - top + 2 * _PAD), 255)
    ImageDraw.Draw(tile).text((_PAD - left, _PAD - top), params.character, font=face, fill=0)
    return tile.rotate(params.angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)


def render_glyph(params: GlyphParams, size: int = 256) -> Image.Image:
    """Draw ``params``: a mode "L" image, ``size`` x ``size``, black ink on white.

    The font size makes a capital ``params.cap_height`` of the canvas tall; a glyph whose
    rotated box would not fit (a tall "j" at the largest size) is set smaller until it does.
    """
    margin = max(1, round(MARGIN * size / 256))
    room = size - 2 * margin
    px = max(8, round(params.cap_height * size / params.font.cap_height))
    tile = _tile(params, px)
    while (tile.width > room or tile.height > room) and px > 8:
        px = max(8, int(px * min(room / tile.width, room / tile.height)) - 1)
        tile = _tile(params, px)
    canvas = Image.new("L", (size, size), 255)
    x = margin + round(params.x * max(0, room - tile.width))
    y = margin + round(params.y * max(0, room - tile.height))
    canvas.paste(tile, (x, y))
    return canvas
