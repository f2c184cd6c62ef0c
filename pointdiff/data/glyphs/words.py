"""Short captions and prompts for a glyph: the training phrasings, the held-out ones, the canonical form.

A text names the character after a phrasing of its case ("capital letter Q", "digit 7")
and its style: family always, weight and slant in training captions only when they are
not the plain default (a caption without "bold" is a regular glyph, half the time), in
prompts always. Training captions use :data:`PHRASES` only; :data:`HELDOUT_PHRASES`
never appear in them, so a prompt written with them tests paraphrase, not memory. No
phrasing contains a phrasing of another value of the same attribute (as whole words, see
:func:`~pointdiff.data.faces.words.mentions`).
"""

from __future__ import annotations

import random

from pointdiff.data.glyphs.labels import case_of

PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "case": {
        "lower": ("lowercase", "lowercase letter", "small letter", "lowercase character"),
        "upper": ("capital", "capital letter", "uppercase", "uppercase letter"),
        "digit": ("digit", "number", "numeral", "digit character"),
    },
    "family": {
        "sans": ("sans-serif", "sans", "in a sans-serif font", "in a sans-serif typeface"),
        "serif": ("serif", "with serifs", "in a serif font", "in a serif typeface"),
        "mono": ("monospaced", "monospace", "in a monospaced font", "typewriter-style"),
    },
    "weight": {
        "regular": ("regular", "regular-weight", "normal-weight", "in regular weight"),
        "bold": ("bold", "boldface", "in bold", "heavy"),
    },
    "slant": {
        "upright": ("upright", "non-italic", "unslanted", "standing upright"),
        "italic": ("italic", "in italics", "slanted", "oblique"),
    },
}

HELDOUT_PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "case": {
        "lower": ("minuscule", "lower-case", "small-case letter", "little letter"),
        "upper": ("majuscule", "upper-case", "block letter", "big letter"),
        "digit": ("figure", "numeric character", "numeric glyph", "arabic figure"),
    },
    "family": {
        "sans": ("without serifs", "in a grotesque typeface", "in a Helvetica-like font", "in a plain modern font"),
        "serif": ("in a Times-like font", "in a Garamond-like face", "in a classic book face", "with little feet on its strokes"),
        "mono": ("fixed-width", "in a fixed-pitch font", "in a Courier-like font", "in a code font"),
    },
    "weight": {
        "regular": ("medium-weight", "with thin strokes", "unbolded", "of normal thickness"),
        "bold": ("thick-stroked", "emboldened", "with thick strokes", "extra-dark"),
    },
    "slant": {
        "upright": ("perpendicular", "unsloped", "with vertical stems", "straight-standing"),
        "italic": ("sloping", "leaning to the right", "cursive", "sloped"),
    },
}

# The plain style a training caption may leave unsaid.
DEFAULTS = {"weight": "regular", "slant": "upright"}
_OMIT_DEFAULT = 0.5  # chance a training caption leaves a default out
_POST = ("in ", "with ", "without ", "of ", "leaning ", "standing ")  # phrasings that follow the noun
_NOUN_FORMS = ("{}", "{}", "a picture of {}", "{} on a white background", "a drawing of {}")
_LIST_FORMS = ("{}", "{}", "glyph: {}", "character: {}")


def _pick(rng: random.Random | None, options: tuple[str, ...]) -> str:
    return options[0] if rng is None else rng.choice(options)


def _compose(labels: dict, table: dict[str, dict[str, tuple[str, ...]]], rng: random.Random | None, omit_defaults: bool) -> str:
    """One text for ``labels`` from ``table``: a noun phrase or a comma list; a fixed list without ``rng``."""
    char = str(labels["character"])
    named = f"{_pick(rng, table['case'][labels.get('case') or case_of(char)])} {char}"
    said: dict[str, str] = {}  # in adjective order: "a bold italic serif lowercase g"
    for name in ("weight", "slant", "family"):
        value = labels[name]
        if omit_defaults and rng is not None and DEFAULTS.get(name) == value and rng.random() < _OMIT_DEFAULT:
            continue
        said[name] = _pick(rng, table[name][value])
    if rng is None:
        return ", ".join([named, said["family"], said["weight"], said["slant"]])
    style = list(said.values())
    if rng.random() < 0.5:
        rng.shuffle(style)
        text = rng.choice(_LIST_FORMS).format(", ".join([named, *style]))
    else:
        head = " ".join([*(s for s in style if not s.startswith(_POST)), named])
        article = rng.choice(("a", "the", ""))
        if article == "a" and head[0] in "aeiou":
            article = "an"
        posts = [s for s in style if s.startswith(_POST)]
        text = rng.choice(_NOUN_FORMS).format(" ".join(w for w in (article, head, ", ".join(posts)) if w))
    if not text.startswith(("a ", "an ")) and rng.random() < 0.5:  # never "A ...": it would read as the letter
        text = text[0].upper() + text[1:]
    return text + "." if rng.random() < 0.3 else text


def caption_for(labels: dict, rng: random.Random) -> str:
    """A short training caption from random phrasings and templates, e.g. ``"a bold serif lowercase g"``."""
    return _compose(labels, PHRASES, rng, omit_defaults=True)


def prompt_for(labels: dict, rng: random.Random | None = None, held_out: bool = True) -> str:
    """A prompt naming every label of a glyph, e.g. ``"minuscule g, without serifs, medium-weight, perpendicular"``.

    With ``held_out=True`` (the default) the phrasings come from :data:`HELDOUT_PHRASES`, which
    no training caption uses; without ``rng`` the first phrasing of each is taken, as a plain list.
    ``labels`` needs ``character``, ``family``, ``weight`` and ``slant`` (``case`` follows from the character).
    """
    return _compose(labels, HELDOUT_PHRASES if held_out else PHRASES, rng, omit_defaults=False)


def canonical_prompt(labels: dict) -> str:
    """A fixed short form in training words: ``"Capital Q, serif, bold, italic"``, ``"Digit 7, monospaced, regular, upright"``."""
    text = prompt_for(labels, None, held_out=False)
    return text[0].upper() + text[1:]
