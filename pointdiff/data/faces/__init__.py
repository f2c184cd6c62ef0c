"""The built-in labelled image source: procedural memoji-like cartoon faces.

Black line art on white (mode "L", 256x256 by default) of a cartoon head with hair, ears,
brows, eyes, nose and mouth, drawn from a small pseudo-3-D head model so that a turn of
the head moves, squeezes and hides features the way a real turn does. Every picture comes
with its true labels, a short caption from varied templates and a long VLM-style
description, so the whole pipeline can run and be *measured* offline::

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

Captions use only :data:`PHRASES` (the training phrasings); :data:`HELDOUT_PHRASES` holds a
disjoint set per attribute value that no training caption contains, for measuring how a
model copes with paraphrased prompts (:func:`prompt_for`). Everything is deterministic for
a seed: the same seed gives byte-identical images and identical texts.

The package, one job per module (this module re-exports the public API)::

    labels        ORIENTATIONS, EXPRESSIONS, POSE_RANGES, orientation_of
    characters    Character and the built-in CHARACTERS
    expressions   Look, expression_look, blend
    params        FaceParams (what decides one picture), random_params
    geometry      the pseudo-3-D head: surface, pose, projection
    painter       strokes on a supersampled PIL canvas
    head          silhouette, neck, ears, hair, beard
    features      brows, eyes, glasses, nose, mouth
    render        render_face, PARTS, INNER_PARTS
    words         PHRASES, HELDOUT_PHRASES, caption_for, prompt_for, canonical_prompt, mentions
    descriptions  long_description
    video         video mode: smooth clips (VIDEO_CLIP_FRAMES)
    source        FaceSample, iter_faces
"""

from __future__ import annotations

from pointdiff.data.faces.characters import CHARACTERS, FACE_SHAPES, HAIR_STYLES, Character
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
    "EXPRESSIONS",
    "FACE_SHAPES",
    "HAIR_STYLES",
    "HELDOUT_PHRASES",
    "INNER_PARTS",
    "ORIENTATIONS",
    "PARTS",
    "PHRASES",
    "PITCH_BORDER",
    "POSE_RANGES",
    "VIDEO_CLIP_FRAMES",
    "YAW_BORDER",
    "Character",
    "FaceParams",
    "FaceSample",
    "Look",
    "blend",
    "canonical_prompt",
    "caption_for",
    "expression_look",
    "iter_faces",
    "long_description",
    "mentions",
    "orientation_of",
    "prompt_for",
    "random_params",
    "render_face",
]
