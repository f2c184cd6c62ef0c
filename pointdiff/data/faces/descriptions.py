"""Long, VLM-style descriptions of a face, written from its true parameters.

What a vision-language model answers to the reference prompt (1: orientation, 2: expression,
3: other notable features, 200-300 words), written from the true parameters. Sentences
are drawn from small banks so that no two descriptions read alike; each bank item is a
tuple of alternatives. They use training phrasings only. A colour face's description also
names its colours and which parts wear them (:func:`.colorwords.color_sentences`).
"""

from __future__ import annotations

import random

from pointdiff.data.faces.colorwords import color_sentences
from pointdiff.data.faces.params import FaceParams
from pointdiff.data.faces.words import PHRASES


def _is(subject: str, phrase: str) -> str:
    """``subject`` + a verb that fits the phrase: "is smiling", "is drawn with a smile", "shows a ..."."""
    if phrase.startswith(("a ", "an ")):
        return f"{subject} shows {phrase}"
    if phrase.startswith("with "):
        return f"{subject} is drawn {phrase}"
    if phrase.startswith(("head ", "chin ")):
        return f"{subject} is shown with the {phrase}"
    return f"{subject} is {phrase}"


def _degree(angle: float, small: float, large: float) -> str:
    a = abs(angle)
    return "slightly" if a < small else ("clearly" if a < large else "strongly")


def _orientation_text(p: FaceParams, o: str, rng: random.Random) -> list[str]:
    side = p.orientation
    if side in ("left", "right"):
        other = "right" if side == "left" else "left"
        own = other  # the character's own side is the mirror of the picture's
        how = _degree(p.yaw, 28, 38)
        return [
            rng.choice((f"{_is('The character', o)}, {how} turned toward the {side} side of the picture (the character's own {own}), in roughly a three-quarter view.", f"In this image {_is('the character', o)}: the head is {how} rotated toward the {side} of the frame, which is the character's own {own} side.")),
            rng.choice((f"Because of the turn, the eyes, nose and mouth are shifted into the {side} half of the face, and the eye nearer the {side} edge looks narrower and more compressed than the other one.", f"The facial features have moved toward the {side} part of the head outline; the far eye is squeezed and the mouth sits off-centre, closer to the {side} cheek.")),
            rng.choice((f"The nose points toward the {side} edge of the image, its tip sticking out past the line of the cheek.", f"The nose is seen partly in profile and points to the {side}.")),
            f"Both ears are covered by the hair, and more of the hair shows on the {other} side, behind the face."
            if p.character.hair == "long"
            else rng.choice((f"The ear on the {other} side of the picture is clearly visible, while the ear on the {side} side is hidden behind the head.", f"Only one ear can be seen, on the {other} side of the head, and more of the back of the head shows on that side.")),
        ]
    if side == "up":
        how = _degree(p.pitch, 20, 26)
        return [
            rng.choice((f"{_is('The face', o)}: the head is {how} tilted back so that the chin points upward and the face is seen a little from below.", f"{_is('The character', o)}; the head is {how} tipped so that the face turns toward the ceiling.")),
            rng.choice(("The eyes, nose and mouth sit higher on the head than usual, close to the hairline, and the forehead looks shorter.", "All the facial features are placed high in the head outline, leaving a large area between the mouth and the chin.")),
            rng.choice(("The underside of the nose is visible, with both nostrils showing as small dark marks, and the jawline appears flatter and wider.", "Small nostrils show under the tip of the nose, something that is only visible when the chin goes up.")),
        ]
    if side == "down":
        how = _degree(p.pitch, 20, 26)
        return [
            rng.choice((f"{_is('The face', o)}: the head is {how} tilted forward so that the chin is tucked toward the neck and the face is seen a little from above.", f"{_is('The character', o)}; the head is {how} bent forward as if reading something held low.")),
            rng.choice(("The eyes, nose and mouth sit low on the head, close to the chin, leaving a large forehead.", "All the facial features are placed low in the head outline, and the distance from the brows to the top of the head is unusually large.")),
            rng.choice(("More of the top of the head is visible than in a level view, and the chin almost disappears into the outline.", "The crown of the head takes up a big part of the drawing, while the chin looks short and small.")),
        ]
    return [
        rng.choice((f"{_is('The face', o)}: the head points straight at the viewer, with no noticeable turn to either side and no tilt up or down.", f"{_is('The character', o)}; the head is held level and square to the viewer.")),
        rng.choice(("Both eyes are the same size and sit at the same height, the nose is centred between them, and the mouth lies on the vertical midline of the face.", "The features are arranged symmetrically: two equal eyes, a centred nose and a centred mouth.")),
        "Both ears are hidden under the hair, and the outline of the head is nearly symmetrical." if p.character.hair == "long" else rng.choice(("Both ears are visible, one on each side of the head, and the outline of the head is nearly symmetrical.", "An ear sticks out on each side of the head, at the same height.")),
    ]


def _expression_text(p: FaceParams, e: str, rng: random.Random) -> list[str]:
    x = p.expression
    if x == "smiling":
        return [
            rng.choice((f"{_is('The character', e)}: the mouth is a closed, upward-curving line whose corners lift into the cheeks, with a small crease at each corner.", f"{_is('The face', e)}; the closed mouth is drawn as a U-shaped curve with lifted corners.")),
            "The eyes are open, with slightly raised lower lids that give them a warm, friendly look, and the eyebrows are relaxed and gently arched.",
            rng.choice(("The mood is pleasant and content.", "It reads as a relaxed, friendly face.")),
        ]
    if x == "laughing":
        return [
            rng.choice((f"{_is('The character', e)}: the mouth is wide open in a D shape, with a row of upper teeth and the tongue visible inside.", f"{_is('The face', e)}; a big open mouth shows the teeth and the tongue.")),
            "The eyes are squeezed shut into two upward-curved arcs, as happens during a big laugh, and the eyebrows are lifted.",
            rng.choice(("The whole face conveys strong amusement and joy.", "It is the face of someone who finds something very funny.")),
        ]
    if x == "neutral":
        return [
            rng.choice((f"{_is('The face', e)}: the mouth is a short, straight horizontal line with no upward or downward curve.", f"{_is('The character', e)}; the closed mouth is a short flat line.")),
            "The eyes are open normally with round pupils, and the eyebrows are level and relaxed.",
            rng.choice(("No particular emotion is shown; the face looks at rest.", "There is no sign of joy, anger or sorrow in the face.")),
        ]
    if x == "sad":
        return [
            rng.choice((f"{_is('The face', e)}: the mouth curves downward like an upside-down U, with the corners pulled low.", f"{_is('The character', e)}; the mouth is bent downward at both corners.")),
            "The inner ends of the eyebrows are raised and slant up toward the middle of the forehead, and the upper eyelids droop at the outer corners.",
            rng.choice(("The overall impression is one of sorrow or disappointment.", "The character seems low in spirits.")),
        ]
    if x == "surprised":
        return [
            rng.choice((f"{_is('The character', e)}: the mouth is open in a small, round O shape.", f"{_is('The face', e)}; the mouth forms a round O.")),
            "The eyes are wide open, larger and rounder than usual, with small pupils, and the eyebrows are raised high on the forehead in tall arches.",
            rng.choice(("It is the look of someone who has just seen something unexpected.", "The face seems frozen in a moment of sudden astonishment.")),
        ]
    if x == "angry":
        return [
            rng.choice((f"{_is('The face', e)}: the eyebrows are drawn down and together into a sharp V shape, their inner ends low over the eyes.", f"{_is('The character', e)}; thick brows are pulled down into a V.")),
            "The eyes are narrowed under heavy, slanted upper lids, and the mouth is a short, tight line turned down at the corners.",
            rng.choice(("The overall mood is hostile and tense.", "The face shows clear irritation and displeasure.")),
        ]
    eye = p.wink_eye or "left"
    return [
        rng.choice((f"{_is('The character', e)}: the eye on the {eye} side of the picture is closed into a curved line, while the other eye stays open with a visible pupil.", f"{_is('The face', e)}; one eye (on the {eye} of the image) is shut as a short arc and the other is open.")),
        "The mouth is a closed curve that turns up more on one side, giving a playful, knowing look.",
        rng.choice(("The eyebrows are relaxed.", "It feels like a shared joke with the viewer.")),
    ]


_HAIR_TEXT = {
    "short": "The hair is short and neat, drawn as a smooth cap on top of the head with a few short strokes for strands and a gently curved hairline across the forehead.",
    "spiky": "The hair is short and spiky: its outline is a row of pointed tips, and the fringe forms a zigzag edge over the forehead.",
    "curly": "The hair is curly, with a bumpy, scalloped outline around the top of the head and rows of small curls above the forehead.",
    "swept": "The hair is swept to one side from a side parting, with a long fringe that falls diagonally across the forehead.",
    "long": "The hair is long and straight, parted in the middle, and falls behind the head down to about chin level on both sides, covering the ears.",
    "bun": "The hair is pulled back from the forehead and gathered into a round bun at the top of the head.",
    "bald": "The head is bald, with a smooth, bare scalp and no hair drawn at all.",
}
_SHAPE_TEXT = {"round": "a round head", "oval": "an oval head with a narrow chin", "square": "a head with a broad, square jaw"}


def _features_text(p: FaceParams, rng: random.Random) -> tuple[list[str], list[str]]:
    """(sentences that must stay, optional sentences used to reach the length)."""
    ch = p.character
    noun = rng.choice((ch.gender, "character"))
    must = [_HAIR_TEXT[ch.hair]]
    if ch.glasses:
        must.append(rng.choice((f"The {noun} wears round glasses with thin frames, a small bridge over the nose and arms running back toward the ears.", "Round glasses with thin frames sit in front of the eyes.")))
    if ch.beard:
        must.append(rng.choice(("A beard covers the jaw and chin, outlined with a slightly rough edge and a few short strokes for texture, together with a moustache above the mouth.", "The jaw and chin are covered by a beard, and a thick moustache sits just above the mouth.")))
    if p.colors is None:
        must.append(rng.choice(("The drawing uses clean black strokes of even width, with no shading, colour or texture, on a plain white background.", "Everything is drawn in bold black outlines on an empty white background, without colour or shading.")))
    else:
        colors, parts = color_sentences(ch, p.colors, rng)
        must.append(colors)
    optional = [
        f"The {noun} has {_SHAPE_TEXT[ch.face]}.",
        "Below the head, two vertical lines form a simple neck; there are no shoulders or body.",
        "The style resembles an emoji or memoji avatar reduced to simple line art.",
        "The pupils are small solid dots." if p.expression != "laughing" else "The closed eyes leave no pupils visible.",
        "There are no glasses or other accessories." if not ch.glasses else "The glasses frames are drawn with slightly thinner lines than the face.",
        "The face is clean-shaven." if not ch.beard else "No other facial hair is visible.",
        "There is no text, logo or frame in the image.",
        "The proportions are cartoonish, with a large head and big, simple eyes.",
    ]
    rng.shuffle(optional)
    if p.colors is not None:  # the first extra, if there is room: must alone can near 300 words
        optional.append(parts)
    return must, optional


def long_description(params: FaceParams, rng: random.Random) -> str:
    """A 200-300 word, VLM-style description of ``params``: orientation, expression, other features."""
    o = rng.choice(PHRASES["orientation"][params.orientation])
    e = rng.choice(PHRASES["expression"][params.expression])
    intro = rng.choice((
        "The image shows a simple black-and-white line drawing of a cartoon face in a memoji-like style.",
        f"This is a minimalist cartoon illustration of a {params.character.gender}'s head, drawn with bold black outlines on a plain white background.",
        "The picture is a monochrome sketch of a stylised, emoji-like character, showing the head and the neck.",
    ) if params.colors is None else (
        "The image shows a simple line drawing in colour of a cartoon face in a memoji-like style.",
        f"This is a minimalist cartoon illustration of a {params.character.gender}'s head, drawn with bold coloured outlines on a plain white background.",
        "The picture is a colourful sketch of a stylised, emoji-like character, showing the head and the neck.",
    ))
    orient, expr = _orientation_text(params, o, rng), _expression_text(params, e, rng)
    must, optional = _features_text(params, rng)
    closing = rng.choice((f"In short, {_is('the face', o)}, and {_is('the ' + params.character.gender, e)}.", f"To sum up: {_is('the character', o)} and {_is('the face', e)}."))
    numbered = rng.random() < 0.5
    words = lambda parts: sum(len(" ".join(x).split()) for x in parts)  # noqa: E731
    extra: list[str] = []
    while optional and words([[intro], orient, expr, must, extra, [closing]]) + (12 if numbered else 0) < 235:
        extra.append(optional.pop())
    if numbered:
        return "\n\n".join([intro, "1. Face orientation: " + " ".join(orient), "2. Facial expression: " + " ".join(expr), "3. Other notable features: " + " ".join(must + extra), closing])
    return "\n\n".join([" ".join([intro, *orient]), " ".join(expr), " ".join(must + extra + [closing])])
