"""The samples: rendered faces with their true labels and texts, deterministic for a seed."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from PIL import Image

from pointdiff.data.faces.characters import CHARACTERS, Character
from pointdiff.data.faces.colors import color_rounds, random_colors
from pointdiff.data.faces.descriptions import long_description
from pointdiff.data.faces.labels import EXPRESSIONS, ORIENTATIONS
from pointdiff.data.faces.params import FaceParams, random_params
from pointdiff.data.faces.render import render_face
from pointdiff.data.faces.video import _video_params
from pointdiff.data.faces.words import caption_for
from pointdiff.data.phrasings import more_phrasings


@dataclass
class FaceSample:
    """One rendered face with its true labels and texts."""

    id: str  # "face-000000", or "frame-000000" in video mode
    image: Image.Image  # mode "L", size x size, black ink on white (mode "RGB" with colours)
    labels: dict  # orientation, expression, yaw, pitch, character and its traits (+ clip, t in video mode; + colours)
    caption: str  # a short template caption (training phrasings only)
    description: str  # the long VLM-style description
    params: FaceParams | None = None  # what was drawn (for re-rendering; not JSON)
    alt_captions: list[str] = field(default_factory=list)  # more phrasings of the same picture (``captions`` > 1)


def iter_faces(count: int, seed: int = 0, video: bool = False, size: int = 256, characters: int | None = None, every: int = 1, captions: int = 1, color: bool = False) -> Iterator[FaceSample]:
    """Render ``count`` labelled faces, deterministically for ``seed``.

    Independent mode walks the 5 x 7 orientation x expression grid in a shuffled order (every
    35 faces cover each pair once) and cycles through the characters. Video mode renders
    smooth clips of :data:`VIDEO_CLIP_FRAMES` frames, one character per clip, in which the pose
    wanders between orientations and the expression changes now and then, blending over a
    few frames; each frame is labelled with its current orientation and dominant expression.

    Args:
        count: number of samples (before ``every`` thins them out).
        seed: same seed, same pictures (byte for byte) and texts.
        video: frames of smooth clips instead of independent faces.
        size: picture side in pixels.
        characters: use only the first this many of :data:`CHARACTERS` (default: all).
        every: yield only samples 0, every, 2 * every, ... of the ``count`` (keeping their
            ids). The ones between are not drawn, but the sequence still steps through them,
            so each kept sample is byte-identical to the one a full run yields at its place.
        captions: short captions per face: the first as with 1, then ``captions - 1`` other
            phrasings of the same labels (``alt_captions``), from a random stream of their own
            so that pictures, first captions and descriptions do not change.
        color: draw in colour (mode "RGB"): hair, eye and skin colours, labelled
            (``hair_color``, ``eye_color``, ``skin``) and named in every text. They come from a
            random stream of their own (shuffled rounds of every combination, or one draw per
            clip in video mode: a character keeps its colours through a clip), so face ``i`` has
            the pose, mood and strokes of grey face ``i`` of the same seed.
    """
    if every < 1:
        raise ValueError(f"every must be 1 or more, got {every}")
    cast = CHARACTERS[: characters or len(CHARACTERS)]
    params = _video_params(seed, cast) if video else _independent_params(seed, cast)
    prefix = "frame" if video else "face"
    rounds = color_rounds(random.Random(f"pointdiff-faces:{seed}:colors"))
    for i in range(count):
        p, extra = next(params)  # always: the video state must move through skipped frames
        colors = next(rounds) if color and not video else None  # always too, for the same reason
        if i % every:
            continue
        if color:
            p = replace(p, colors=colors or random_colors(random.Random(f"pointdiff-faces:{seed}:clip:{extra['clip']}:colors")))
        text_rng = random.Random(f"pointdiff-faces:{seed}:{i}:text")
        caption = caption_for(p, text_rng)
        more_rng = random.Random(f"pointdiff-faces:{seed}:{i}:more-text")
        alts = more_phrasings(caption, lambda: caption_for(p, more_rng), captions - 1)
        yield FaceSample(f"{prefix}-{i:06d}", render_face(p, size), {**p.labels(), **extra}, caption, long_description(p, text_rng), p, alts)


def _independent_params(seed: int, cast: tuple[Character, ...]) -> Iterator[tuple[FaceParams, dict]]:
    order = random.Random(f"pointdiff-faces:{seed}:order")
    combos = [(o, e) for o in ORIENTATIONS for e in EXPRESSIONS]
    i = 0
    while True:
        order.shuffle(combos)
        for o, e in combos:
            ch = cast[i % len(cast)]
            yield random_params(ch, o, e, random.Random(f"pointdiff-faces:{seed}:{i}")), {}
            i += 1
