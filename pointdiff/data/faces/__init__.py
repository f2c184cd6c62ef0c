"""The built-in labelled image source: procedural memoji-like cartoon faces.

Black line art on white (mode "L", 256x256 by default) -- or, with ``color=True``, line art
in colour (mode "RGB") -- of a cartoon head with hair, ears, brows, eyes, nose and mouth,
drawn from a small pseudo-3-D head model so that a turn of the head moves, squeezes and
hides features the way a real turn does. Every picture comes with its true labels, a short
caption from varied templates and a long VLM-style description, so the whole pipeline can
run and be *measured* offline::

    from pointdiff.data.faces import iter_faces, prompt_for
    for face in iter_faces(35, seed=0):          # every orientation x expression once
        face.image.save(f"{face.id}.png"); print(face.labels, face.caption)
    prompt_for("left", "smiling")                # a held-out paraphrase for evaluation

**Orientation convention.** Left and right are the *viewer's*: a "left-facing" face is
turned toward the left side of the picture -- its nose points to the picture's left, which
is the character's own right. In the dataset's coordinates (x grows to the right of the
picture, y grows up) a left-facing face's eyes, nose and mouth sit at negative x, a
right-facing one's at positive x; an "up" face is tilted up (chin raised, features at
larger y), a "down" face is tilted down. The labels ``yaw`` and ``pitch`` are in degrees:
``yaw < 0`` turns the face toward the picture's left, ``pitch > 0`` tilts it up.
Independent faces are drawn inside :data:`POSE_RANGES`; any pose (video frames pass
through in-between poses) is labelled by :func:`orientation_of`.

Expressions: smiling, laughing (open mouth, eyes squeezed shut), neutral, sad, surprised
(round open mouth, raised brows, wide eyes), angry (V brows, tight frown), winking (one
eye closed in a curve; ``labels["wink_eye"]`` says which, by picture side). Each is a
point in a continuous space of mouth / eye / brow parameters (:class:`Look`), jittered
per face and blended between expressions in video mode.

Colour faces (``iter_faces(..., color=True)``, ``builtin:faces-color``): hair, brows and
beard in one of :data:`HAIR_COLORS`, the eyes in one of :data:`EYE_COLORS`, outline, ears,
neck and nose in one of :data:`SKIN_TONES` (:data:`PALETTES` has the RGB of each), labelled
``hair_color``, ``eye_color`` and ``skin`` and named in the captions. Every colour is dark
enough to be ink on luminance, so a colour face inks exactly the pixels its grey twin (the
same seed and index) inks; without colours the pictures are byte for byte the grey ones.
:func:`color_prompt_for` and :func:`canonical_color_prompt` name a face's colours for
evaluation::

    face = next(iter_faces(1, seed=0, color=True))
    color_prompt_for(face.labels)                # "raven hair, emerald eyes, ebony skin" or so

Captions use only :data:`PHRASES` (the training phrasings); :data:`HELDOUT_PHRASES` holds a
disjoint set per attribute value that no training caption contains, for measuring how a
model copes with paraphrased prompts (:func:`prompt_for`). Everything is deterministic for
a seed: the same seed gives byte-identical images and identical texts.

The package, one job per module (this module re-exports the public API)::

    labels        ORIENTATIONS, EXPRESSIONS, POSE_RANGES, orientation_of
    characters    Character and the built-in CHARACTERS
    expressions   Look, expression_look, blend
    colors        PALETTES, HAIR_COLORS, EYE_COLORS, SKIN_TONES, FaceColors, random_colors, part_inks
    params        FaceParams (what decides one picture), random_params
    geometry      the pseudo-3-D head: surface, pose, projection
    painter       strokes on a supersampled PIL canvas
    head          silhouette, neck, ears, hair, beard
    features      brows, eyes, glasses, nose, mouth
    render        render_face, PARTS, INNER_PARTS
    words         PHRASES, HELDOUT_PHRASES, caption_for, prompt_for, canonical_prompt, mentions
    colorwords    COLOR_PHRASES, HELDOUT_COLOR_PHRASES, color_prompt_for, canonical_color_prompt
    descriptions  long_description
    video         video mode: smooth clips (VIDEO_CLIP_FRAMES)
    source        FaceSample, iter_faces
"""

from __future__ import annotations

from pointdiff.data.faces.characters import CHARACTERS, FACE_SHAPES, HAIR_STYLES, Character
from pointdiff.data.faces.colors import COLOR_ATTRIBUTES, EYE_COLORS, HAIR_COLORS, PALETTES, SKIN_TONES, FaceColors, luminance, part_inks, random_colors
from pointdiff.data.faces.colorwords import COLOR_PHRASES, HELDOUT_COLOR_PHRASES, canonical_color_prompt, color_prompt_for
from pointdiff.data.faces.descriptions import long_description
from pointdiff.data.faces.expressions import Look, blend, expression_look
from pointdiff.data.faces.labels import EXPRESSIONS, ORIENTATIONS, PITCH_BORDER, POSE_RANGES, YAW_BORDER, orientation_of
from pointdiff.data.faces.params import FaceParams, random_params
from pointdiff.data.faces.render import INNER_PARTS, PARTS, render_face
from pointdiff.data.faces.source import FaceSample, iter_faces
from pointdiff.data.faces.video import VIDEO_CLIP_FRAMES, _clip  # noqa: F401  (_clip: the video tests drive one clip)
from pointdiff.data.faces.words import HELDOUT_PHRASES, PHRASES, canonical_prompt, caption_for, mentions, prompt_for

__all__ = [
    "CHARACTERS",
    "COLOR_ATTRIBUTES",
    "COLOR_PHRASES",
    "EXPRESSIONS",
    "EYE_COLORS",
    "FACE_SHAPES",
    "HAIR_COLORS",
    "HAIR_STYLES",
    "HELDOUT_COLOR_PHRASES",
    "HELDOUT_PHRASES",
    "INNER_PARTS",
    "ORIENTATIONS",
    "PALETTES",
    "PARTS",
    "PHRASES",
    "PITCH_BORDER",
    "POSE_RANGES",
    "SKIN_TONES",
    "VIDEO_CLIP_FRAMES",
    "YAW_BORDER",
    "Character",
    "FaceColors",
    "FaceParams",
    "FaceSample",
    "Look",
    "blend",
    "canonical_color_prompt",
    "canonical_prompt",
    "caption_for",
    "color_prompt_for",
    "expression_look",
    "iter_faces",
    "long_description",
    "luminance",
    "mentions",
    "orientation_of",
    "part_inks",
    "prompt_for",
    "random_colors",
    "random_params",
    "render_face",
]
