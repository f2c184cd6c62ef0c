"""The built-in glyph source: fonts checked and reported, labels and captions that agree, determinism, ingest."""

from __future__ import annotations

import hashlib
import random
import re
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from pointdiff.data import glyphs
from pointdiff.data.dataset import Dataset
from pointdiff.data.faces.words import mentions
from pointdiff.data.glyphs import (
    CHARACTERS,
    FONTS,
    HELDOUT_PHRASES,
    PHRASES,
    GlyphFont,
    canonical_prompt,
    case_of,
    check_font,
    font_folder,
    font_report,
    iter_glyphs,
    prompt_for,
)
from pointdiff.data.ingest import IngestConfig, ingest
from pointdiff.errors import PointdiffError
from pointdiff.store import read_jsonl

STYLE = ("family", "weight", "slant")
MAY_GO_UNSAID = {"weight": "regular", "slant": "upright"}  # a training caption always names the family


@pytest.fixture(scope="module")
def sample() -> list[glyphs.GlyphSample]:
    """Two rounds of every character (124 glyphs, ~0.3 s)."""
    return list(iter_glyphs(2 * len(CHARACTERS), seed=0))


def _digest(g: glyphs.GlyphSample) -> str:
    return hashlib.sha256(g.image.tobytes()).hexdigest()


# ----------------------------------------------------------------------------- fonts


def test_every_listed_font_loads_whole_here() -> None:
    report = font_report()
    assert [s.font for s in report] == list(FONTS)  # every listed font is reported, in order
    broken = {s.font.file: s.error or s.skipped for s in report if not s.loaded or s.skipped}
    assert broken == {}  # matplotlib ships all 21, each drawing every character as itself
    assert all(0.5 < s.cap_height < 0.8 for s in report)


def test_a_font_that_draws_other_glyphs_is_skipped_per_character_with_the_reason() -> None:
    folder = font_folder()
    # cmsy10 maps "a" to a turnstile and "0" to a prime, but its capitals are named A-Z.
    sy = check_font(GlyphFont("cmsy10.ttf", "x", "serif", "regular", "upright"), folder)
    assert sy.loaded and sy.characters == CHARACTERS[26:52]
    assert sy.skipped["a"] == "maps to the glyph 'turnstileright', not 'a'" and sy.skipped["0"] == "maps to the glyph 'prime', not 'zero'"
    ex = check_font(GlyphFont("cmex10.ttf", "x", "serif", "regular", "upright"), folder)
    assert not ex.loaded and ex.error == "draws none of the characters" and len(ex.skipped) == len(CHARACTERS)
    sym = check_font(GlyphFont("STIXSizOneSymReg.ttf", "x", "serif", "regular", "upright"), folder)
    assert not sym.loaded and set(sym.skipped.values()) == {"not in the font's character map"}


def test_two_characters_with_one_bitmap_are_both_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    from pointdiff.data.glyphs import fonts

    real = fonts._bitmap
    monkeypatch.setattr(fonts, "_bitmap", lambda face, c: real(face, "o" if c == "0" else c))  # a font drawing "0" as "o"
    status = check_font(FONTS[0], font_folder())
    assert status.skipped == {"0": "renders the same bitmap as 'o'", "o": "renders the same bitmap as '0'"}
    assert "o" not in status.characters and "0" not in status.characters and len(status.characters) == 60


def test_missing_and_broken_fonts_are_reported_and_the_rest_still_draw(tmp_path: Path) -> None:
    real = font_folder()
    shutil.copy(real / "DejaVuSans.ttf", tmp_path / "DejaVuSans.ttf")
    shutil.copy(real / "cmsy10.ttf", tmp_path / "cmss10.ttf")  # a font under a listed name that draws only capitals
    (tmp_path / "DejaVuSerif.ttf").write_bytes(b"not a font at all")
    report = {s.font.file: s for s in font_report(tmp_path)}
    assert report["DejaVuSans.ttf"].loaded and report["cmss10.ttf"].characters == CHARACTERS[26:52]
    assert report["DejaVuSerif.ttf"].error.startswith("cannot be opened: ")
    assert report["STIXGeneral.ttf"].error == f"STIXGeneral.ttf not found in {tmp_path}"
    assert sum(s.loaded for s in report.values()) == 2
    # Every glyph is drawn in a font that draws its character: a lowercase one never in the impostor.
    drawn = list(iter_glyphs(124, seed=3, size=64, folder=tmp_path))
    assert all(g.labels["character"] in report[g.labels["font_file"]].characters for g in drawn)
    assert {g.labels["font_file"] for g in drawn} == {"DejaVuSans.ttf", "cmss10.ttf"}
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(PointdiffError, match="no font could draw the built-in glyphs.*DejaVuSans.ttf: DejaVuSans.ttf not found"):
        next(iter_glyphs(1, folder=empty))


# ----------------------------------------------------------------------------- pictures and labels


def test_pictures_have_ink_inside_the_canvas(sample: list[glyphs.GlyphSample]) -> None:
    for g in sample:
        a = np.asarray(g.image)
        assert g.image.mode == "L" and a.shape == (256, 256)
        ink = a < 128  # the ingest threshold
        assert ink.sum() > 800, (g.id, g.labels)  # strokes, not hairlines
        rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
        assert min(rows[0], cols[0]) >= 3 and max(rows[-1], cols[-1]) <= 252, (g.id, g.labels)  # inside the margin
        height = (rows[-1] - rows[0] + 1) / 256
        assert 0.2 < height < 0.96, (g.id, g.labels)


def test_the_tallest_glyphs_at_the_largest_size_and_angle_still_fit() -> None:
    for status in glyphs.usable_fonts():
        for char in "jQJgfy":
            for angle, corner in ((-glyphs.MAX_ANGLE, 0.0), (glyphs.MAX_ANGLE, 1.0)):
                image = glyphs.render_glyph(glyphs.GlyphParams(char, status, glyphs.CAP_HEIGHT[1], angle, corner, corner))
                ink = np.asarray(image) < 128
                rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
                assert min(rows[0], cols[0]) >= 3 and max(rows[-1], cols[-1]) <= 252, (status.font.file, char, angle)


def test_characters_come_equally_often_and_styles_are_mixed(sample: list[glyphs.GlyphSample]) -> None:
    assert Counter(g.labels["character"] for g in sample) == Counter({c: 2 for c in CHARACTERS})
    assert [g.id for g in sample[:3]] == ["glyph-00000", "glyph-00001", "glyph-00002"]
    for g in sample:
        assert g.labels["case"] == case_of(g.labels["character"])
        font = next(f for f in FONTS if f.file == g.labels["font_file"])
        assert (g.labels["family"], g.labels["weight"], g.labels["slant"], g.labels["font"]) == (font.family, font.weight, font.slant, font.typeface)
    for name, values in (("family", glyphs.FAMILIES), ("weight", glyphs.WEIGHTS), ("slant", glyphs.SLANTS)):
        counts = Counter(g.labels[name] for g in sample)
        assert set(counts) == set(values) and min(counts.values()) > len(sample) / len(values) / 2, (name, counts)
    assert len({g.labels["font_file"] for g in sample}) >= 15


def test_same_seed_same_bytes_other_seed_other_pictures() -> None:
    a, b = list(iter_glyphs(20, seed=5)), list(iter_glyphs(20, seed=5))
    assert [_digest(g) for g in a] == [_digest(g) for g in b]
    assert [(g.id, g.labels, g.caption) for g in a] == [(g.id, g.labels, g.caption) for g in b]
    c = list(iter_glyphs(20, seed=6))
    assert sum(_digest(x) != _digest(y) for x, y in zip(a, c)) == 20
    assert [g.caption for g in a] != [g.caption for g in c]
    # every=N keeps the ids and bytes a full run yields at those places.
    thinned = list(iter_glyphs(20, seed=5, every=3))
    assert [g.id for g in thinned] == [a[i].id for i in range(0, 20, 3)]
    assert [_digest(g) for g in thinned] == [_digest(a[i]) for i in range(0, 20, 3)]


# ----------------------------------------------------------------------------- words


def _case_pattern(char: str, table: dict, case: str) -> str:
    phrases = "|".join(re.escape(p) for p in table["case"][case])
    return rf"(?<![\w-])(?i:{phrases}) {re.escape(char)}(?![\w-])"


def _check_text(text: str, labels: dict, table: dict, defaults_may_be_left_out: bool) -> None:
    """The text names the character after its case, and every style label by a phrasing of its value only."""
    assert re.search(_case_pattern(labels["character"], table, labels["case"]), text), (text, labels)
    for name in STYLE:
        said = {v for v, phrases in table[name].items() if any(mentions(text, p) for p in phrases)}
        if defaults_may_be_left_out and MAY_GO_UNSAID.get(name) == labels[name]:
            assert said <= {labels[name]}, (text, name, said)
        else:
            assert said == {labels[name]}, (text, name, said)


def test_captions_name_their_character_and_style_in_training_words_only(sample: list[glyphs.GlyphSample]) -> None:
    rng = random.Random(0)
    labels = [g.labels for g in sample] + [dict(g.labels, character=c, case=case_of(c)) for g in sample for c in rng.sample(CHARACTERS, 8)]
    captions = [g.caption for g in sample] + [glyphs.caption_for(lab, random.Random(k)) for k, lab in enumerate(labels[len(sample) :])]
    held = [p for table in HELDOUT_PHRASES.values() for ps in table.values() for p in ps]
    for text, lab in zip(captions, labels):
        _check_text(text, lab, PHRASES, defaults_may_be_left_out=True)
        assert not [p for p in held if mentions(text, p)], text
    assert len(set(captions)) > 0.9 * len(captions)  # varied templates
    assert any("regular" not in t and "bold" not in t for t in captions)  # defaults are sometimes left unsaid


def test_held_out_prompts_name_every_label_in_held_out_words() -> None:
    rng = random.Random(1)
    trained = [p for table in PHRASES.values() for ps in table.values() for p in ps]
    for g in iter_glyphs(62, seed=1, size=32):
        lab = {k: g.labels[k] for k in ("character", *STYLE)}  # what eval passes: no case
        full = dict(lab, case=g.labels["case"])
        for text in (prompt_for(lab, rng), prompt_for(lab)):
            _check_text(text, full, HELDOUT_PHRASES, defaults_may_be_left_out=False)
            assert not [p for p in trained if mentions(text, p)], text
        _check_text(prompt_for(lab, rng, held_out=False), full, PHRASES, defaults_may_be_left_out=False)
    assert prompt_for({"character": "g", "family": "sans", "weight": "bold", "slant": "italic"}) == "minuscule g, without serifs, thick-stroked, sloping"


def test_phrasings_are_disjoint() -> None:
    for table in (PHRASES, HELDOUT_PHRASES):
        for name, by_value in table.items():
            for value, phrases in by_value.items():
                held = HELDOUT_PHRASES[name][value]
                assert len(set(phrases)) == len(phrases) >= 4 and not set(held) & set(PHRASES[name][value])
                others = [p for v, ps in by_value.items() if v != value for p in ps]
                assert not [(p, o) for p in phrases for o in others if mentions(p, o)], (name, value)


def test_canonical_prompts_are_a_fixed_form_in_training_words() -> None:
    assert canonical_prompt({"character": "Q", "family": "serif", "weight": "bold", "slant": "italic"}) == "Capital Q, serif, bold, italic"
    assert canonical_prompt({"character": "7", "case": "digit", "family": "mono", "weight": "regular", "slant": "upright"}) == "Digit 7, monospaced, regular, upright"
    assert canonical_prompt({"character": "a", "family": "sans", "weight": "regular", "slant": "upright"}) == "Lowercase a, sans-serif, regular, upright"


# ----------------------------------------------------------------------------- ingest


def test_ingest_builtin_glyphs_end_to_end(tmp_path: Path) -> None:
    rep = ingest("builtin:glyphs", tmp_path / "ds", IngestConfig(count=70, seed=2, contact_sheet=0))
    assert rep.taken == 70 and not rep.rejected and rep.captions == Counter({"builtin:glyphs": 70}) and rep.labelled == 70
    ds = Dataset(tmp_path / "ds")
    assert ds.info["source"] == "builtin:glyphs" and (ds.info["count"], ds.info["seed"]) == (70, 2)
    rows = read_jsonl(tmp_path / "ds" / "manifest.jsonl")
    expected = list(iter_glyphs(70, seed=2))
    assert [(r["id"], r["caption"], r["labels"]) for r in rows] == [(g.id, g.caption, g.labels) for g in expected]
    assert all(r["ink_count"] > 800 for r in rows)
    assert (tmp_path / "ds" / "images" / "glyph-00069.png").is_file()
    with pytest.raises(PointdiffError, match=r"^--descriptions: builtin:glyphs has no long descriptions \(only builtin:faces, builtin:faces-video, builtin:faces-color\)$"):
        ingest("builtin:glyphs", tmp_path / "d2", IngestConfig(count=2, descriptions=True, contact_sheet=0))
    assert not (tmp_path / "d2").exists()


def test_more_captions_are_other_phrasings_of_the_same_glyph() -> None:
    from pointdiff.data.glyphs import iter_glyphs

    one, three = list(iter_glyphs(4, seed=3)), list(iter_glyphs(4, seed=3, captions=3))
    assert [g.caption for g in one] == [g.caption for g in three] and all(g.alt_captions == [] for g in one)
    for g in three:
        assert len({g.caption, *g.alt_captions}) == 3
        assert all(g.labels["character"] in text for text in g.alt_captions)
