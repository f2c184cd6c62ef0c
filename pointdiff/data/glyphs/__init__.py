"""The second built-in labelled source: letters and digits set in real fonts.

Black on white (mode "L", 256x256 by default, like the faces): one of a-z, A-Z, 0-9 per
picture, set with PIL's FreeType in one of the TrueType fonts that ship with matplotlib
(DejaVu Sans / Serif / Sans Mono in four styles each, STIX in four, Computer Modern roman,
bold, italic, sans and typewriter), with a random size (a capital is 45-70 % of the
canvas), place and angle (±8°). Every picture comes with its true labels and a short
caption, so a model can be *measured* on something other than faces::

    from pointdiff.data.glyphs import iter_glyphs, prompt_for, font_report
    for g in iter_glyphs(62, seed=0):                 # every character once
        g.image.save(f"{g.id}.png"); print(g.labels["character"], g.caption)
    prompt_for({"character": "Q", "family": "serif", "weight": "bold", "slant": "italic"})
    [(s.font.file, s.error or s.skipped) for s in font_report() if not s.loaded or s.skipped]

Labels: ``character``; ``case`` (lower / upper / digit); ``family`` (sans / serif / mono:
STIX and Computer Modern roman, bold and italic are serif, cmss sans, cmtt mono);
``weight`` (regular / bold); ``slant`` (upright / italic, oblique counts as italic);
``font`` (the typeface), ``font_file``, ``cap_height`` and ``angle``.

Captions use only :data:`PHRASES`; :data:`HELDOUT_PHRASES` holds a disjoint set per label
value that no training caption contains (:func:`prompt_for`). Everything is deterministic
for a seed (and the installed fonts): the same seed gives byte-identical images and
identical texts. A font or character that does not render is skipped and reported by
:func:`font_report`, never a crash.

The package, one job per module (this module re-exports the public API)::

    labels   CHARACTERS, CASES, FAMILIES, WEIGHTS, SLANTS, case_of
    fonts    GlyphFont, FONTS, FontStatus, check_font, font_report, usable_fonts, font_folder
    params   GlyphParams (what decides one picture), choose_font, random_params
    render   render_glyph
    words    PHRASES, HELDOUT_PHRASES, caption_for, prompt_for, canonical_prompt
    source   GlyphSample, iter_glyphs, drawable_characters
"""

from __future__ import annotations

from pointdiff.data.glyphs.fonts import FONTS, FontStatus, GlyphFont, check_font, font_folder, font_report, usable_fonts
from pointdiff.data.glyphs.labels import CASES, CHARACTERS, FAMILIES, SLANTS, STYLE_LABELS, WEIGHTS, case_of
from pointdiff.data.glyphs.params import CAP_HEIGHT, MAX_ANGLE, GlyphParams, choose_font, random_params
from pointdiff.data.glyphs.render import render_glyph
from pointdiff.data.glyphs.source import GlyphSample, drawable_characters, iter_glyphs
from pointdiff.data.glyphs.words import DEFAULTS, HELDOUT_PHRASES, PHRASES, canonical_prompt, caption_for, prompt_for

__all__ = [
    "CAP_HEIGHT",
    "CASES",
    "CHARACTERS",
    "DEFAULTS",
    "FAMILIES",
    "FONTS",
    "HELDOUT_PHRASES",
    "MAX_ANGLE",
    "PHRASES",
    "SLANTS",
    "STYLE_LABELS",
    "WEIGHTS",
    "FontStatus",
    "GlyphFont",
    "GlyphParams",
    "GlyphSample",
    "canonical_prompt",
    "caption_for",
    "case_of",
    "check_font",
    "choose_font",
    "drawable_characters",
    "font_folder",
    "font_report",
    "iter_glyphs",
    "prompt_for",
    "random_params",
    "render_glyph",
    "usable_fonts",
]
