"""Short captions and prompts: the training phrasings, the held-out ones, and a word matcher.

Training captions use PHRASES only (and, for a colour face, COLOR_PHRASES: see
:mod:`.colorwords`); HELDOUT_PHRASES never appear in them (nor in the long descriptions),
so a prompt written with them tests paraphrase, not memory. No phrasing contains a
phrasing of another value of the same attribute.
"""

from __future__ import annotations

import random
import re

from pointdiff.data.faces.characters import Character
from pointdiff.data.faces.colorwords import color_caption
from pointdiff.data.faces.params import FaceParams

PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "orientation": {
        "front": ("front-facing", "facing forward", "facing the viewer", "looking straight ahead", "seen from the front", "head facing front"),
        "left": ("left-facing", "facing left", "turned to the left", "looking left", "head turned toward the left", "turning left"),
        "right": ("right-facing", "facing right", "turned to the right", "looking right", "head turned toward the right", "turning right"),
        "up": ("looking up", "facing upward", "head tilted up", "chin raised", "tilted upward", "looking upward"),
        "down": ("looking down", "facing downward", "head tilted down", "chin lowered", "tilted downward", "head bowed"),
    },
    "expression": {
        "smiling": ("smiling", "with a smile", "grinning", "with a gentle smile", "happy", "a smiling expression"),
        "laughing": ("laughing", "laughing out loud", "with an open-mouthed laugh", "cracking up", "with a big laugh", "a laughing expression"),
        "neutral": ("neutral", "with a neutral expression", "expressionless", "with a blank expression", "deadpan", "a neutral expression"),
        "sad": ("sad", "looking sad", "with a sad face", "sorrowful", "gloomy", "a sad expression"),
        "surprised": ("surprised", "with a surprised look", "astonished", "shocked", "amazed", "a surprised expression"),
        "angry": ("angry", "looking angry", "with an angry frown", "furious", "scowling", "an angry expression"),
        "winking": ("winking", "with a wink", "winking one eye", "giving a wink", "with one eye closed", "a winking expression"),
    },
}

HELDOUT_PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "orientation": {
        "front": ("facing the camera", "in a frontal view", "looking directly at us", "face-on"),
        "left": ("head rotated to the left", "gazing to the left", "in a three-quarter view to the left", "angled leftward"),
        "right": ("head rotated to the right", "gazing to the right", "in a three-quarter view to the right", "angled rightward"),
        "up": ("gazing up at the sky", "head tipped back", "face angled up", "glancing upward"),
        "down": ("gazing at the floor", "head tipped forward", "face angled down", "glancing downward"),
    },
    "expression": {
        "smiling": ("beaming", "cheerful", "with a friendly smile", "pleased"),
        "laughing": ("roaring with laughter", "chuckling heartily", "with a hearty laugh", "guffawing"),
        "neutral": ("impassive", "with a poker face", "showing no emotion", "straight-faced"),
        "sad": ("unhappy", "glum", "dejected", "heartbroken"),
        "surprised": ("startled", "stunned", "taken aback", "in disbelief"),
        "angry": ("enraged", "livid", "fuming", "glaring"),
        "winking": ("with a cheeky wink", "closing one eye", "blinking one eye playfully", "one eye shut in a wink"),
    },
}

_HAIR_WORDS = {
    "short": ("short-haired", "with short hair"),
    "spiky": ("spiky-haired", "with spiky hair"),
    "curly": ("curly-haired", "with curly hair"),
    "swept": ("with side-swept hair", "with a side parting"),
    "long": ("long-haired", "with long hair"),
    "bun": ("with a hair bun", "with hair tied in a bun"),
    "bald": ("bald", "bald-headed"),
}
_CAPTION_TEMPLATES = (
    "{s}, {o}, {e}",
    "{o}, {e}",
    "{e}, {o}",
    "{s} {o}, {e}",
    "{s}: {o}, {e}",
    "{o} and {e}: {s}",
    "a line drawing of {s}, {e}, {o}",
    "cartoon portrait, {o}, {e}",
    "{s}, {e} and {o}",
    "{o} {s}, {e}",
)


def _pick(rng: random.Random | None, options: tuple[str, ...]) -> str:
    return options[0] if rng is None else rng.choice(options)


def _subject(ch: Character, rng: random.Random) -> str:
    """A noun phrase for the character, naming some of its traits (or none)."""
    noun = rng.choice((ch.gender, ch.gender, "person", "character"))
    adjectives, withs = [], []
    if rng.random() < 0.5:
        word = rng.choice(_HAIR_WORDS[ch.hair])
        (withs if word.startswith("with") else adjectives).append(word)
    if ch.beard and rng.random() < 0.6:
        adjectives.append("bearded") if rng.random() < 0.5 else withs.append("with a beard")
    if ch.glasses and rng.random() < 0.6:
        withs.append(rng.choice(("with glasses", "wearing glasses")))
    if not adjectives and not withs and rng.random() < 0.4:
        return rng.choice(("a cartoon face", "a memoji-style face", "a cartoon head", "a face"))
    words = " ".join([*adjectives, rng.choice(("cartoon ", "")) + noun])
    article = "an" if words[0] in "aeiou" else "a"
    return " ".join([article, words, " and ".join(withs)]).strip()


def caption_for(params: FaceParams, rng: random.Random, held_out: bool = False) -> str:
    """A short caption from a random template: one phrasing of the orientation and of the expression.

    A colour face's caption also names its hair, eye and skin colours
    (:func:`~pointdiff.data.faces.colorwords.color_caption`). ``held_out=True`` draws the
    phrasings from :data:`HELDOUT_PHRASES` (and :data:`.colorwords.HELDOUT_COLOR_PHRASES`)
    instead (evaluation only).
    """
    table = HELDOUT_PHRASES if held_out else PHRASES
    o = rng.choice(table["orientation"][params.orientation])
    e = rng.choice(table["expression"][params.expression])
    if params.colors is not None:
        text = color_caption(params.character, params.colors, o, e, rng, held_out)
    else:
        template = rng.choice(_CAPTION_TEMPLATES)
        if template.startswith("{o} {s}") and not o.endswith("-facing"):  # only "left-facing man" reads well
            template = "{s}, {o}, {e}"
        if "{s} {o}" in template and o.startswith(("head ", "chin ")):  # "a man with the head bowed"
            template = template.replace("{s} {o}", "{s} with the {o}")
        text = template.format(s=_subject(params.character, rng), o=o, e=e)
    text = text[0].upper() + text[1:] if rng.random() < 0.5 else text
    return text + "." if rng.random() < 0.3 else text


def prompt_for(orientation: str, expression: str, rng: random.Random | None = None, held_out: bool = True) -> str:
    """A short prompt for a pair of labels, like ``"facing the camera, beaming"``.

    With ``held_out=True`` (the default) the phrasings come from :data:`HELDOUT_PHRASES`, which
    no training caption uses; without ``rng`` the first phrasing of each is taken.
    """
    table = HELDOUT_PHRASES if held_out else PHRASES
    o, e = _pick(rng, table["orientation"][orientation]), _pick(rng, table["expression"][expression])
    if rng is None or rng.random() < 0.5:
        return f"{o}, {e}"
    return rng.choice(("a face {o}, {e}", "{e}, {o}", "a cartoon face, {o} and {e}")).format(o=o, e=e)


def canonical_prompt(orientation: str, expression: str) -> str:
    """The reference system's own prompt style for a pair of labels: ``"Left-facing, neutral expression"``.

    Built from the first training phrasing of the orientation and the label word of the
    expression, so every word of it appears in training captions.
    """
    o = PHRASES["orientation"][orientation][0]
    return f"{o[0].upper()}{o[1:]}, {expression} expression"


def mentions(text: str, phrase: str) -> bool:
    """Whether ``text`` contains ``phrase`` as whole words (case-insensitive)."""
    return re.search(r"(?<![\w-])" + re.escape(phrase.lower()) + r"(?![\w-])", text.lower()) is not None
