"""The words for a colour face's colours: training and held-out phrasings, captions, prompts.

As :mod:`.words` does for pose and mood: training captions and descriptions use
:data:`COLOR_PHRASES` only, :data:`HELDOUT_COLOR_PHRASES` never appear in them, and no
phrasing contains a phrasing of another value of the same attribute. The first phrasing of
each value is a plain noun phrase ("red hair"), so that prompts built from it read as a list.

A bald head has no hair to colour: its hair colour shows in the brows (and beard), so its
captions name the brows (the ``hair_color`` phrasings that end in "brows") and never hair.
"""

from __future__ import annotations

import random

from pointdiff.data.faces.characters import Character
from pointdiff.data.faces.colors import COLOR_ATTRIBUTES, FaceColors

COLOR_PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "hair_color": {
        "black": ("black hair", "black-haired", "jet-black hair", "black eyebrows", "black brows"),
        "brown": ("brown hair", "brown-haired", "chocolate-brown hair", "brown eyebrows", "brown brows"),
        "red": ("red hair", "red-haired", "copper-red hair", "red eyebrows", "red brows"),
        "blond": ("blond hair", "blond-haired", "golden hair", "blond eyebrows", "blond brows"),
    },
    "eye_color": {
        "brown": ("brown eyes", "brown-eyed", "coffee-brown eyes"),
        "blue": ("blue eyes", "blue-eyed", "bright blue eyes"),
        "green": ("green eyes", "green-eyed", "bright green eyes"),
    },
    "skin": {
        "light": ("light skin", "light-skinned", "pale skin"),
        "tan": ("tan skin", "tan-skinned", "tanned"),
        "dark": ("dark skin", "dark-skinned", "rich dark skin"),
    },
}

HELDOUT_COLOR_PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "hair_color": {
        "black": ("raven hair", "raven-haired", "inky hair", "raven eyebrows"),
        "brown": ("chestnut hair", "chestnut-haired", "brunette", "chestnut eyebrows"),
        "red": ("ginger hair", "ginger-haired", "auburn-haired", "ginger eyebrows"),
        "blond": ("flaxen hair", "fair-haired", "yellow hair", "flaxen eyebrows"),
    },
    "eye_color": {
        "brown": ("hazel eyes", "hazel-eyed", "amber eyes"),
        "blue": ("azure eyes", "azure-eyed", "sapphire eyes"),
        "green": ("emerald eyes", "emerald-eyed", "jade eyes"),
    },
    "skin": {
        "light": ("porcelain skin", "a pale complexion", "ivory skin"),
        "tan": ("sun-kissed skin", "a bronzed complexion", "bronze-skinned"),
        "dark": ("ebony skin", "a deep complexion", "mahogany skin"),
    },
}

_NOUN_ENDINGS = (" hair", " eyes", " skin", " complexion", " brows", " eyebrows")  # the rest go before the noun
_INK_WORDS = {"black": "black", "brown": "brown", "red": "red", "blond": "golden blond"}  # "drawn in ..."
_TEMPLATES = (  # each names all three colours, through the subject {s} or the list {c}
    "{s}, {o}, {e}",
    "{s}: {o}, {e}",
    "{s}, {e} and {o}",
    "{o} and {e}: {s}",
    "a line drawing of {s}, {e}, {o}",
    "cartoon portrait of {s}, {o}, {e}",
    "{o}, {e}, {c}",
    "{e}, {o}, {c}",
    "{c}; {o}, {e}",
)


def is_noun(phrase: str) -> bool:
    """Whether a colour phrasing is a noun phrase ("red hair") rather than an adjective ("red-haired")."""
    return phrase.endswith(_NOUN_ENDINGS)


def _options(table: dict, attribute: str, value: str, bald: bool, nouns_only: bool = False) -> tuple[str, ...]:
    """The phrasings that fit: a bald head's hair colour only as brows, a hair colour otherwise as hair."""
    out = table[attribute][value]
    if attribute == "hair_color":
        out = tuple(p for p in out if p.endswith("brows") == bald)
    return tuple(p for p in out if is_noun(p)) if nouns_only else out


def _values(colors: FaceColors | dict[str, str]) -> tuple[str, str, str]:
    if isinstance(colors, FaceColors):
        return colors.hair, colors.eyes, colors.skin
    return colors["hair_color"], colors["eye_color"], colors["skin"]


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _subject(values: tuple[str, str, str], bald: bool, noun: str, extras: list[str], rng: random.Random, table: dict) -> str:
    """``"a red-haired, blue-eyed woman with dark skin"``: the noun with all three colours."""
    picks = [rng.choice(_options(table, a, v, bald)) for a, v in zip(COLOR_ATTRIBUTES, values)]
    rng.shuffle(picks)
    adjectives = (["bald"] if bald and rng.random() < 0.7 else []) + [p for p in picks if not is_noun(p)]
    withs = [p for p in picks if is_noun(p)] + extras
    words = ", ".join(adjectives) + " " + noun if adjectives else noun
    article = "an" if words[0] in "aeiou" else "a"
    return f"{article} {words}" + (f" with {_and(withs)}" if withs else "")


def _color_list(values: tuple[str, str, str], bald: bool, rng: random.Random | None, table: dict) -> str:
    """``"red hair, blue eyes, dark skin"``: one noun phrasing per colour (the first without ``rng``)."""
    options = [_options(table, a, v, bald, nouns_only=True) for a, v in zip(COLOR_ATTRIBUTES, values)]
    items = [o[0] if rng is None else rng.choice(o) for o in options]
    if rng is None:
        return ", ".join(items)
    rng.shuffle(items)
    return ("bald, " if bald and rng.random() < 0.7 else "") + (_and(items) if rng.random() < 0.5 else ", ".join(items))


def color_caption(ch: Character, colors: FaceColors, o: str, e: str, rng: random.Random, held_out: bool = False) -> str:
    """A short caption naming the three colours besides the orientation ``o`` and expression ``e`` phrasings."""
    table = HELDOUT_COLOR_PHRASES if held_out else COLOR_PHRASES
    values, bald = _values(colors), ch.hair == "bald"
    template = rng.choice(_TEMPLATES)
    if "{s}" in template:
        extras = [x for x, on in (("a beard", ch.beard), ("glasses", ch.glasses)) if on and rng.random() < 0.4]
        noun = rng.choice(("", "", "cartoon ")) + rng.choice((ch.gender, ch.gender, "person", "character"))
        return template.format(s=_subject(values, bald, noun, extras, rng, table), o=o, e=e)
    return template.format(c=_color_list(values, bald, rng, table), o=o, e=e)


def color_prompt_for(labels: dict[str, str], rng: random.Random | None = None, held_out: bool = True) -> str:
    """A prompt naming a face's ``hair_color``, ``eye_color`` and ``skin``, like ``"ginger hair, azure eyes, ebony skin"``.

    With ``held_out=True`` (the default) the phrasings come from :data:`HELDOUT_COLOR_PHRASES`,
    which no training caption uses; without ``rng`` the first phrasing of each is taken. When
    ``labels["hair"] == "bald"`` the hair colour is named as the brows' colour.
    """
    table = HELDOUT_COLOR_PHRASES if held_out else COLOR_PHRASES
    values, bald = _values(labels), labels.get("hair") == "bald"
    if rng is None or rng.random() < 0.5:
        return _color_list(values, bald, rng, table)
    return _subject(values, bald, rng.choice(("person", "character", "cartoon character")), [], rng, table)


def canonical_color_prompt(labels: dict[str, str]) -> str:
    """The fixed training-words prompt for a face's colours: ``"red hair, blue eyes, dark skin"``.

    The first training phrasing of each (``"red eyebrows"`` for the hair colour of a bald head).
    """
    return _color_list(_values(labels), labels.get("hair") == "bald", None, COLOR_PHRASES)


def color_sentences(ch: Character, colors: FaceColors, rng: random.Random) -> tuple[str, str]:
    """Two sentences for a long description: which colours the face has; which parts wear them.

    The first stands in for the grey faces' sentence on the black strokes.
    """
    bald = ch.hair == "bald"
    hair, eyes, skin = (rng.choice(_options(COLOR_PHRASES, a, v, bald, nouns_only=True)) for a, v in zip(COLOR_ATTRIBUTES, _values(colors)))
    first = rng.choice((f"The character has {hair}, {eyes} and {skin}.", f"It is drawn with {hair}, {eyes} and {skin}."))
    hairy = _and((["the eyebrows"] if bald else ["the hair", "the eyebrows"]) + (["the beard"] if ch.beard else []))
    how = f"Only the strokes are coloured, on plain white: {hairy} in {_INK_WORDS[colors.hair]}, the eyes in {colors.eyes}, the face in a {colors.skin} skin tone."
    return first, how
