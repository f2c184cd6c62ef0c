"""The label vocabulary of a glyph: which character, its case, and the style of the font it is set in."""

from __future__ import annotations

import string

# Every character the source draws, in label order: a-z, A-Z, 0-9.
CHARACTERS = string.ascii_lowercase + string.ascii_uppercase + string.digits
CASES = ("lower", "upper", "digit")
FAMILIES = ("sans", "serif", "mono")
WEIGHTS = ("regular", "bold")
SLANTS = ("upright", "italic")  # an oblique font counts as italic
STYLE_LABELS = ("family", "weight", "slant")


def case_of(character: str) -> str:
    """``"lower"``, ``"upper"`` or ``"digit"`` for one of :data:`CHARACTERS`."""
    if character.isdigit():
        return "digit"
    if character.isupper():
        return "upper"
    if character.islower():
        return "lower"
    raise ValueError(f"not a glyph character: {character!r}")
