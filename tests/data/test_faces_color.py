"""The colour faces: grey ones unchanged, colours that are ink, strokes of the grey twin, words true to labels."""

from __future__ import annotations

import colorsys
import hashlib
import itertools
import json
import random
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from pointdiff.data import faces as F
from pointdiff.data.faces.colorwords import color_caption, is_noun
from pointdiff.data.sources import BUILTIN_SOURCES, parse_source

COLOR_KEYS = ("hair_color", "eye_color", "skin")
GREY_PINS = {  # sha256 of the grey faces, recorded from the code before colour existed (Pillow 13.0.0, numpy 2.4.6)
    "images0": "cfa8e9ee3e327f4e0fdece609625be3cc56618e6e31ca771a4564d03e5d60569",
    "texts0": "a0f0e36bc07e2b5108a35ba26546ddca84e6268079ba0716942b9d0fdc10755d",
    "images7": "3aa601081cce0d0315fa0d57ce4e212a14d49d380452aed5cca561a2d0aa5cbe",
    "texts7": "202cb5ee4f67200eb093b67beb4d7bf95ac068aaf3ebf9239957cc0072014b4b",
    "video": "da1d7f99ac885bc4db99dabd7b666900fbbba94f31b59c481f7e823aef19f34f",
    "parts": "7083b14462d691ceb345b49602a922a58e2bee7735832748fe0e9a9104c4f1ed",
    "full256": "522f233bde71a7c63603dba4640ed7dd1f1b2ee214b15bf735a354521fda8bba",
}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _ink(image: Image.Image) -> np.ndarray:
    """Ink as ingest decides it, on luminance."""
    return np.asarray(image.convert("L")) < 128


def _phrases(table: dict, attribute: str, value: str | None = None, exclude: str | None = None) -> list[str]:
    return [p for v, ps in table[attribute].items() if (value is None or v == value) and v != exclude for p in ps]


def _rgb(attribute: str, value: str) -> np.ndarray:
    return np.array(F.PALETTES[attribute][value], float)


def _blends(inks: list[tuple[int, int, int]]) -> np.ndarray:
    """Every colour a 2x2-supersampled pixel can take with these inks and white: [K, 3]."""
    options = [*inks, (255, 255, 255)]
    return np.array([np.mean(c, axis=0) for c in itertools.combinations_with_replacement(options, 4)])


def _explained(image: Image.Image, inks: list[tuple[int, int, int]], tol: float = 1.0) -> np.ndarray:
    """For each ink pixel: is it one of the blends of ``inks`` with white (up to rounding)?"""
    px = np.asarray(image, float)[_ink(image)]
    return (np.abs(px[:, None, :] - _blends(inks)[None]).max(-1) <= tol).any(1)


def test_grey_faces_are_byte_identical_to_the_ones_before_colour() -> None:
    got = {}
    for seed in (0, 7):
        fs = list(F.iter_faces(8, seed=seed, size=96, captions=2))
        assert all(f.image.mode == "L" and not set(COLOR_KEYS) & set(f.labels) for f in fs)
        got[f"images{seed}"] = _sha(b"".join(f.image.tobytes() for f in fs))
        got[f"texts{seed}"] = _sha(json.dumps([[f.labels, f.caption, f.description, f.alt_captions] for f in fs]).encode())
    got["video"] = _sha(b"".join(f.image.tobytes() for f in F.iter_faces(2, seed=1, video=True, size=96)))
    p = F.random_params(F.CHARACTERS[4], "left", "laughing", random.Random(3))
    got["parts"] = _sha(F.render_face(p, size=128, parts=F.INNER_PARTS).tobytes())
    got["full256"] = _sha(F.render_face(p).tobytes())
    assert got == GREY_PINS


def test_colour_faces_are_deterministic_rgb_pictures() -> None:
    a, b = list(F.iter_faces(5, seed=3, size=96, color=True, captions=2)), list(F.iter_faces(5, seed=3, size=96, color=True, captions=2))
    assert all(f.image.mode == "RGB" and f.image.size == (96, 96) for f in a)
    assert [f.image.tobytes() for f in a] == [f.image.tobytes() for f in b]
    assert [(f.labels, f.caption, f.alt_captions, f.description) for f in a] == [(f.labels, f.caption, f.alt_captions, f.description) for f in b]
    c = list(F.iter_faces(5, seed=4, size=96, color=True))
    assert [f.labels for f in a] != [f.labels for f in c]


def test_colour_combinations_come_in_rounds_so_a_balanced_eval_set_needs_no_spare_faces() -> None:
    from collections import Counter

    combos = len(F.HAIR_COLORS) * len(F.EYE_COLORS) * len(F.SKIN_TONES)
    faces = list(F.iter_faces(2 * combos, seed=5, size=32, color=True))
    counts = Counter((f.labels["hair_color"], f.labels["eye_color"], f.labels["skin"]) for f in faces)
    assert len(counts) == combos and set(counts.values()) == {2}
    # --every keeps the colours a full run gives the kept faces
    kept = list(F.iter_faces(2 * combos, seed=5, size=32, color=True, every=7))
    assert [f.labels for f in kept] == [f.labels for f in faces[::7]]


def test_every_palette_colour_is_ink_even_where_a_stroke_covers_three_quarters_of_a_pixel() -> None:
    assert set(F.PALETTES) == set(COLOR_KEYS) == set(F.COLOR_ATTRIBUTES)
    assert (F.HAIR_COLORS, F.EYE_COLORS, F.SKIN_TONES) == tuple(tuple(F.PALETTES[a]) for a in COLOR_KEYS)
    from pointdiff.data.faces.colors import DARK_INK, MAX_LUMINANCE

    assert MAX_LUMINANCE <= 110
    for rgb in [*(c for p in F.PALETTES.values() for c in p.values()), DARK_INK]:
        assert F.luminance(rgb) <= MAX_LUMINANCE and max(rgb) < 255, rgb
        # The 2x supersampled edge: 3 of 4 subpixels inked, averaged down as the painter does.
        edge = Image.new("RGB", (2, 2), (255, 255, 255))
        for xy in ((0, 0), (1, 0), (0, 1)):
            edge.putpixel(xy, rgb)
        assert edge.reduce(2).convert("L").getpixel((0, 0)) < 128, rgb
    for palette in F.PALETTES.values():  # told apart by a small network: far apart in RGB, and in hue
        for (na, a), (nb, b) in itertools.combinations(palette.items(), 2):
            assert np.linalg.norm(np.subtract(a, b)) >= 45, (na, nb)
            ha, _, sa = colorsys.rgb_to_hls(*np.divide(a, 255))
            hb, _, sb = colorsys.rgb_to_hls(*np.divide(b, 255))
            hue = min(abs(ha - hb), 1 - abs(ha - hb)) * 360
            assert hue >= 15 or min(sa, sb) < 0.2, (na, nb, hue)  # black differs in saturation instead


def test_a_colour_face_inks_exactly_the_pixels_of_its_grey_twin() -> None:
    grey = list(F.iter_faces(16, seed=5, size=96))
    color = list(F.iter_faces(16, seed=5, size=96, color=True))
    assert {f.labels["character"] for f in color} == {c.id for c in F.CHARACTERS}
    for g, c in zip(grey, color):
        assert {k: v for k, v in c.labels.items() if k not in COLOR_KEYS} == g.labels
        assert replace(c.params, colors=None) == g.params
        assert np.array_equal(_ink(c.image), _ink(g.image)), c.id
        touched_g, touched_c = np.asarray(g.image) < 255, (np.asarray(c.image) < 255).any(-1)
        assert np.array_equal(touched_g, touched_c), c.id  # even the faintest anti-aliasing


@pytest.mark.parametrize("character", F.CHARACTERS, ids=lambda c: c.id)
def test_ink_pixels_wear_the_colours_of_their_parts(character: F.Character) -> None:
    rng = random.Random(8)
    p = F.random_params(character, rng.choice(F.ORIENTATIONS), rng.choice(F.EXPRESSIONS), rng)
    p = replace(p, colors=F.random_colors(rng))
    ink = F.part_inks(p.colors)
    assert ink["hair"] == F.PALETTES["hair_color"][p.colors.hair] == ink["brows"] == ink["beard"]
    assert ink["eyes"] == F.PALETTES["eye_color"][p.colors.eyes]
    assert ink["outline"] == ink["ears"] == ink["neck"] == ink["nose"] == F.PALETTES["skin"][p.colors.skin]
    for part in F.PARTS:
        image = F.render_face(p, size=128, parts=(part,))
        if not _ink(image).any():  # no glasses, beard or (bald) hair on this character
            continue
        own = [ink[part], ink["hair"]] if part == "outline" else [ink[part]]  # the silhouette's hair is hair-coloured
        assert _explained(image, own).all(), part
        full = np.asarray(image)[_ink(image)]
        pure = np.any([(full == c).all(-1) for c in own], axis=0)
        assert pure.mean() > 0.4, part  # most ink is the colour itself, not a blend
    whole = F.render_face(p, size=128)
    assert _explained(whole, sorted(set(ink.values()))).all()


def test_the_silhouettes_hair_is_drawn_in_the_hair_colour() -> None:
    p = F.random_params(F.CHARACTERS[2], "front", "neutral", random.Random(0))  # spiky hair
    p = replace(p, colors=F.FaceColors("red", "blue", "dark"))
    px = np.asarray(F.render_face(p, size=128, parts=("outline",))).reshape(-1, 3)
    red, dark = (np.sum(np.all(px == F.PALETTES[a][v], axis=1)) for a, v in (("hair_color", "red"), ("skin", "dark")))
    assert red > 0.3 * dark and dark > 0.3 * red, (red, dark)


def test_colour_phrasings_are_disjoint() -> None:
    for attribute in COLOR_KEYS:
        assert set(F.COLOR_PHRASES[attribute]) == set(F.HELDOUT_COLOR_PHRASES[attribute]) == set(F.PALETTES[attribute])
        everything = [(v, p, held) for held, table in ((False, F.COLOR_PHRASES), (True, F.HELDOUT_COLOR_PHRASES)) for v, ps in table[attribute].items() for p in ps]
        assert len({p for _, p, _ in everything}) == len(everything)  # no phrasing used twice
        for (va, pa, ha), (vb, pb, hb) in itertools.permutations(everything, 2):
            if F.mentions(pa, pb):  # only a training phrasing may sit inside another of its own value
                assert va == vb and not hb and not ha, (pa, pb)
        for table in (F.COLOR_PHRASES, F.HELDOUT_COLOR_PHRASES):
            for value, phrasings in table[attribute].items():
                assert is_noun(phrasings[0]), phrasings  # prompts list the first phrasings
                groups = [[p for p in phrasings if p.endswith("brows") == brows] for brows in ((False, True) if attribute == "hair_color" else (False,))]
                assert all(any(is_noun(p) for p in g) for g in groups), (value, phrasings)  # a list needs a noun of each kind
    colour = [p for t in (F.COLOR_PHRASES, F.HELDOUT_COLOR_PHRASES) for a in COLOR_KEYS for p in _phrases(t, a)]
    pose = [p for t in (F.PHRASES, F.HELDOUT_PHRASES) for a in ("orientation", "expression") for p in _phrases(t, a)]
    for a, b in itertools.product(colour, pose):
        assert not F.mentions(a, b) and not F.mentions(b, a), (a, b)


def _names_exactly(text: str, labels: dict, own: dict, other: dict) -> None:
    """``text`` names each labelled colour in ``own`` phrasings, no other value, nothing of ``other``; hair only if drawn."""
    bald = labels["hair"] == "bald"
    for attribute in COLOR_KEYS:
        value = labels[attribute]
        assert any(F.mentions(text, x) for x in _phrases(own, attribute, value)), (attribute, text)
        assert not any(F.mentions(text, x) for x in _phrases(own, attribute, exclude=value)), (attribute, text)
        assert not any(F.mentions(text, x) for x in _phrases(other, attribute)), (attribute, text)
    hair_words = [x for t in (own, other) for x in _phrases(t, "hair_color") if not x.endswith("brows")]
    assert not (bald and any(F.mentions(text, x) for x in hair_words)), text  # no hair on a bald head


def test_colour_captions_name_exactly_the_labelled_colours() -> None:
    faces = list(F.iter_faces(24, seed=6, size=64, color=True, captions=4))
    assert {f.labels["hair"] for f in faces} >= {"bald", "long"}
    for f in faces:
        assert {f.labels[k] for k in COLOR_KEYS} <= {v for p in F.PALETTES.values() for v in p}
        assert (f.labels["hair_color"], f.labels["eye_color"], f.labels["skin"]) == (f.params.colors.hair, f.params.colors.eyes, f.params.colors.skin)
        for text in [f.caption, *f.alt_captions]:
            _names_exactly(text, f.labels, F.COLOR_PHRASES, F.HELDOUT_COLOR_PHRASES)
            assert any(F.mentions(text, x) for x in _phrases(F.PHRASES, "orientation", f.labels["orientation"])), text
            assert any(F.mentions(text, x) for x in _phrases(F.PHRASES, "expression", f.labels["expression"])), text
            assert not any(F.mentions(text, x) for a in ("orientation", "expression") for x in _phrases(F.HELDOUT_PHRASES, a)), text


@pytest.mark.parametrize("held_out", [False, True])
def test_colour_captions_of_random_faces_stay_in_their_table(held_out: bool) -> None:
    rng = random.Random(12)
    own, other = (F.HELDOUT_COLOR_PHRASES, F.COLOR_PHRASES) if held_out else (F.COLOR_PHRASES, F.HELDOUT_COLOR_PHRASES)
    for ch, _ in itertools.product(F.CHARACTERS, range(25)):
        p = replace(F.random_params(ch, rng.choice(F.ORIENTATIONS), rng.choice(F.EXPRESSIONS), rng), colors=F.random_colors(rng))
        _names_exactly(F.caption_for(p, rng, held_out=held_out), p.labels(), own, other)
        _names_exactly(color_caption(ch, p.colors, "facing left", "smiling", rng, held_out), p.labels(), own, other)


def test_colour_prompts() -> None:
    labels = {"hair_color": "red", "eye_color": "blue", "skin": "dark", "hair": "short"}
    assert F.canonical_color_prompt(labels) == "red hair, blue eyes, dark skin"
    assert F.canonical_color_prompt({**labels, "hair": "bald"}) == "red eyebrows, blue eyes, dark skin"
    assert F.color_prompt_for(labels) == "ginger hair, azure eyes, ebony skin" == F.color_prompt_for(labels)  # no rng: one fixed prompt
    assert F.color_prompt_for(labels, held_out=False) == F.canonical_color_prompt(labels)
    rng = random.Random(3)
    for hair, eyes, skin, style in itertools.product(F.HAIR_COLORS, F.EYE_COLORS, F.SKIN_TONES, ("curly", "bald")):
        lab = {"hair_color": hair, "eye_color": eyes, "skin": skin, "hair": style}
        for r in (None, rng, rng):
            _names_exactly(F.color_prompt_for(lab, r), lab, F.HELDOUT_COLOR_PHRASES, F.COLOR_PHRASES)
        _names_exactly(F.color_prompt_for(lab, rng, held_out=False), lab, F.COLOR_PHRASES, F.HELDOUT_COLOR_PHRASES)
        _names_exactly(F.canonical_color_prompt(lab), lab, F.COLOR_PHRASES, F.HELDOUT_COLOR_PHRASES)


def test_colour_descriptions_name_the_colours_and_stay_200_to_300_words() -> None:
    rng = random.Random(4)
    heldout = [p for a in ("orientation", "expression") for p in _phrases(F.HELDOUT_PHRASES, a)]
    for ch, (o, e) in zip(F.CHARACTERS * 5, itertools.cycle(itertools.product(F.ORIENTATIONS, F.EXPRESSIONS))):
        p = replace(F.random_params(ch, o, e, rng), colors=F.random_colors(rng))
        text = F.long_description(p, rng)
        assert 200 <= len(text.split()) <= 300, len(text.split())
        _names_exactly(text, p.labels(), F.COLOR_PHRASES, F.HELDOUT_COLOR_PHRASES)
        assert any(F.mentions(text, x) for x in _phrases(F.PHRASES, "orientation", o)), text
        assert not any(F.mentions(text, x) for x in heldout), text
        assert "black-and-white" not in text and "without colour" not in text and "monochrome" not in text


def test_video_colour_frames_keep_one_set_of_colours_per_clip() -> None:
    color, grey = list(F.iter_faces(6, seed=2, video=True, size=64, color=True)), list(F.iter_faces(6, seed=2, video=True, size=64))
    assert len({tuple(f.labels[k] for k in COLOR_KEYS) for f in color}) == 1
    assert all(np.array_equal(_ink(c.image), _ink(g.image)) for c, g in zip(color, grey))


def test_faces_color_is_a_builtin_source() -> None:
    assert parse_source("builtin:faces-color") == ("faces-color", None)
    source = BUILTIN_SOURCES["faces-color"]
    assert source.info == {"video": False, "color": True} and source.describes
    samples = list(source.samples(3, 1, 1, 2))
    assert all(s.image.mode == "RGB" and set(COLOR_KEYS) <= set(s.labels) and s.alt_captions for s in samples)
    assert [s.image.tobytes() for s in samples] == [f.image.tobytes() for f in F.iter_faces(3, seed=1, color=True)]
    assert "color" not in BUILTIN_SOURCES["faces"].info
