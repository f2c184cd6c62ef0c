"""Draw a :class:`~pointdiff.data.faces.params.FaceParams` as black line art on white."""

from __future__ import annotations

from PIL import Image

from pointdiff.data.faces.features import _brows, _eye, _glasses, _mouth, _nose
from pointdiff.data.faces.geometry import _HAIR, _Geometry
from pointdiff.data.faces.head import _beard, _ears, _hair, _neck, _outline
from pointdiff.data.faces.painter import _Painter
from pointdiff.data.faces.params import FaceParams

PARTS = ("outline", "hair", "ears", "neck", "brows", "eyes", "nose", "mouth", "glasses", "beard")
INNER_PARTS = ("brows", "eyes", "nose", "mouth")  # the features that carry the pose and mood


def render_face(params: FaceParams, size: int = 256, parts: tuple[str, ...] | None = None) -> Image.Image:
    """Draw ``params`` as black line art on white: a mode "L" image, ``size`` x ``size``.

    Args:
        params: the face (character, pose, expression look).
        size: picture side in pixels; strokes scale with it (about 4 px at 256).
        parts: draw only these of :data:`PARTS` (e.g. :data:`INNER_PARTS`); all by default.
    """
    want = set(PARTS if parts is None else parts)
    unknown = want - set(PARTS)
    if unknown:
        raise ValueError(f"unknown face parts {sorted(unknown)}; known: {PARTS}")
    g, pen = _Geometry(params, size), _Painter(size)
    ch, look = params.character, params.look
    hair = _HAIR.get(ch.hair)
    pen.set_mask(_outline(g, ch, hair, pen, draw="outline" in want))
    if "neck" in want:
        _neck(g, pen, size)
    if "ears" in want and ch.hair != "long":
        _ears(g, pen)
    if "hair" in want and hair is not None:
        _hair(g, pen, ch, hair)
    if "beard" in want and ch.beard:
        _beard(g, pen)
    if "brows" in want:
        _brows(g, pen, ch, look)
    if "eyes" in want:
        for side, opening in ((-1, look.eye_open_l), (1, look.eye_open_r)):
            _eye(g, pen, params, side, opening)
    if "glasses" in want and ch.glasses:
        _glasses(g, pen, ch)
    if "nose" in want:
        _nose(g, pen, params)
    if "mouth" in want:
        _mouth(g, pen, ch, look)
    return pen.image()
