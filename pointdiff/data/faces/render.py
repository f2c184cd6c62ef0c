"""Draw a :class:`~pointdiff.data.faces.params.FaceParams`: black line art on white, or in colour."""

from __future__ import annotations

from PIL import Image

from pointdiff.data.faces.colors import DARK_INK, part_inks
from pointdiff.data.faces.features import _brows, _eye, _glasses, _mouth, _nose
from pointdiff.data.faces.geometry import _HAIR, _Geometry
from pointdiff.data.faces.head import _beard, _ears, _hair, _neck, _outline
from pointdiff.data.faces.painter import _W_LINE, _Painter
from pointdiff.data.faces.params import FaceParams

PARTS = ("outline", "hair", "ears", "neck", "brows", "eyes", "nose", "mouth", "glasses", "beard")
INNER_PARTS = ("brows", "eyes", "nose", "mouth")  # the features that carry the pose and mood


def render_face(params: FaceParams, size: int = 256, parts: tuple[str, ...] | None = None) -> Image.Image:
    """Draw ``params``: a mode "L" image of black line art on white, ``size`` x ``size``.

    When ``params.colors`` is set the image is mode "RGB" and each part is drawn in its ink
    (:func:`~pointdiff.data.faces.colors.part_inks`); the strokes are the very same, so the
    pixels a colour face inks are those its grey twin inks.

    Args:
        params: the face (character, pose, expression look, and maybe colours).
        size: picture side in pixels; strokes scale with it (about 4 px at 256).
        parts: draw only these of :data:`PARTS` (e.g. :data:`INNER_PARTS`); all by default.
    """
    want = set(PARTS if parts is None else parts)
    unknown = want - set(PARTS)
    if unknown:
        raise ValueError(f"unknown face parts {sorted(unknown)}; known: {PARTS}")
    ink = part_inks(params.colors) if params.colors is not None else dict.fromkeys(PARTS, DARK_INK)  # the grey canvas ignores it: all black
    g, pen = _Geometry(params, size), _Painter(size, color=params.colors is not None)
    ch, look = params.character, params.look
    hair = _HAIR.get(ch.hair)
    pen.use(ink["outline"])
    poly, kind = _outline(g, ch, hair, pen, draw="outline" in want)
    pen.set_mask(poly)
    if "outline" in want and pen.color:  # the silhouette's hair and beard stretches wear the hair's colour
        for code, part in ((1, "hair"), (2, "beard")):
            pen.use(ink[part])
            pen.recolor(poly, _W_LINE, kind == code)
    if "neck" in want:
        pen.use(ink["neck"])
        _neck(g, pen, size)
    if "ears" in want and ch.hair != "long":
        pen.use(ink["ears"])
        _ears(g, pen)
    if "hair" in want and hair is not None:
        pen.use(ink["hair"])
        _hair(g, pen, ch, hair)
    if "beard" in want and ch.beard:
        pen.use(ink["beard"])
        _beard(g, pen)
    if "brows" in want:
        pen.use(ink["brows"])
        _brows(g, pen, ch, look)
    if "eyes" in want:
        pen.use(ink["eyes"])
        for side, opening in ((-1, look.eye_open_l), (1, look.eye_open_r)):
            _eye(g, pen, params, side, opening)
    if "glasses" in want and ch.glasses:
        pen.use(ink["glasses"])
        _glasses(g, pen, ch)
    if "nose" in want:
        pen.use(ink["nose"])
        _nose(g, pen, params)
    if "mouth" in want:
        pen.use(ink["mouth"])
        _mouth(g, pen, ch, look)
    return pen.image()
