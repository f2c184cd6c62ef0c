"""The built-in face source: determinism, labels <-> words, geometry of poses, video smoothness."""

from __future__ import annotations

import dataclasses
import itertools
import json
import random
from dataclasses import replace

import numpy as np
import pytest

from pointdiff.data import faces as F
from pointdiff.data.images import ink_pixels, pixels_to_points

PAIRS = list(itertools.product(F.ORIENTATIONS, F.EXPRESSIONS))


def _ink(image) -> np.ndarray:
    return np.asarray(image) < 128


def _centroid(image) -> np.ndarray:
    """Mean ink point in dataset coordinates (x right, y up, [-3, 3])."""
    gray = np.asarray(image)
    return pixels_to_points(ink_pixels(gray), gray.shape[1], gray.shape[0]).mean(0)


def _phrases_of(table: dict, attribute: str, value: str | None = None, exclude: str | None = None) -> list[str]:
    return [p for v, ps in table[attribute].items() if (value is None or v == value) and v != exclude for p in ps]


def test_same_seed_gives_identical_bytes_and_texts() -> None:
    a, b = list(F.iter_faces(6, seed=3)), list(F.iter_faces(6, seed=3))
    assert [f.image.tobytes() for f in a] == [f.image.tobytes() for f in b]
    assert [(f.id, f.labels, f.caption, f.description) for f in a] == [(f.id, f.labels, f.caption, f.description) for f in b]
    c = list(F.iter_faces(6, seed=4))
    assert [f.image.tobytes() for f in a] != [f.image.tobytes() for f in c]
    assert [f.caption for f in a] != [f.caption for f in c]
    va, vb = list(F.iter_faces(3, seed=3, video=True)), list(F.iter_faces(3, seed=3, video=True))
    assert [f.image.tobytes() for f in va] == [f.image.tobytes() for f in vb] and va[0].id == "frame-000000"


def test_independent_faces_cover_every_pair_and_character() -> None:
    faces = list(F.iter_faces(35, seed=2))
    assert {(f.labels["orientation"], f.labels["expression"]) for f in faces} == set(PAIRS)
    assert {f.labels["character"] for f in faces} == {c.id for c in F.CHARACTERS}
    assert len({c.id for c in F.CHARACTERS}) == len(F.CHARACTERS)  # ids tell characters apart
    for f in faces:
        assert f.id.startswith("face-")
        json.dumps(f.labels)  # JSON-able
        assert F.orientation_of(f.labels["yaw"], f.labels["pitch"]) == f.labels["orientation"]
        assert f.image.mode == "L" and f.image.size == (256, 256)
        ink = _ink(f.image)
        assert 0.03 < ink.mean() < 0.12, (f.id, ink.mean())
        assert not ink[:3].any() and not ink[:, :3].any() and not ink[:, -3:].any()  # nothing cut at the edges
    counts = [_ink(f.image).sum() for f in faces]
    assert max(counts) < 2.0 * min(counts)  # every face spends a comparable ink budget


def test_size_scales_the_picture() -> None:
    p = F.random_params(F.CHARACTERS[0], "front", "smiling", random.Random(0))
    small, big = F.render_face(p, size=128), F.render_face(p, size=256)
    assert small.size == (128, 128)
    # Same drawing, a quarter of the pixels: the ink fraction stays about the same.
    assert abs(_ink(small).mean() - _ink(big).mean()) < 0.3 * _ink(big).mean()
    with pytest.raises(ValueError, match="unknown face parts"):
        F.render_face(p, parts=("eyes", "tail"))


@pytest.mark.parametrize("character", F.CHARACTERS, ids=lambda c: c.id)
def test_left_facing_features_sit_at_negative_x(character: F.Character) -> None:
    rng = random.Random(5)
    base = F.random_params(character, "front", "neutral", rng)
    base = replace(base, yaw=0.0, pitch=0.0, shift=(0.0, 0.0))

    def inner(yaw: float, pitch: float) -> np.ndarray:
        return _centroid(F.render_face(replace(base, yaw=yaw, pitch=pitch), parts=F.INNER_PARTS))

    front = inner(0, 0)
    assert abs(front[0]) < 0.1
    # The weakest turn / tilt that still carries each label moves the features clearly.
    assert inner(-20, 0)[0] < front[0] - 0.3  # left-facing: toward the picture's left (x < 0)
    assert inner(20, 0)[0] > front[0] + 0.3
    assert inner(-45, 0)[0] < inner(-20, 0)[0]
    assert inner(0, 15)[1] > front[1] + 0.25  # looking up: features rise (y up)
    assert inner(0, -15)[1] < front[1] - 0.25


def test_a_turn_hides_the_far_ear_and_pushes_out_the_nose() -> None:
    p = replace(F.random_params(F.CHARACTERS[0], "front", "neutral", random.Random(1)), yaw=0.0, pitch=0.0, shift=(0.0, 0.0))
    left, right = (F.render_face(replace(p, yaw=y), parts=("ears",)) for y in (-35, 35))
    # Left-facing: the ear on the picture's right shows, the other is behind the head.
    assert _centroid(left)[0] > 0.2 and _centroid(right)[0] < -0.2
    nose_front, nose_left = (_centroid(F.render_face(replace(p, yaw=y), parts=("nose",)))[0] for y in (0, -35))
    eyes_left = _centroid(F.render_face(replace(p, yaw=-35), parts=("eyes",)))[0]
    assert nose_left < eyes_left < 0 and abs(nose_front) < 0.05  # the nose sticks out further than the eyes


def test_orientation_buckets_match_the_pose_ranges() -> None:
    for label, ((y0, y1), (p0, p1)) in F.POSE_RANGES.items():
        for yaw, pitch in itertools.product((y0, (y0 + y1) / 2, y1), (p0, (p0 + p1) / 2, p1)):
            assert F.orientation_of(yaw, pitch) == label, (label, yaw, pitch)


def test_expressions_differ_in_pixels() -> None:
    rng = random.Random(7)
    ch = F.CHARACTERS[0]
    inks = {e: _ink(F.render_face(replace(F.random_params(ch, "front", e, rng), yaw=0.0, pitch=0.0, shift=(0.0, 0.0), gaze=(0.0, 0.0)), parts=F.INNER_PARTS)) for e in F.EXPRESSIONS}
    for a, b in itertools.combinations(F.EXPRESSIONS, 2):
        changed = (inks[a] ^ inks[b]).sum() / max(inks[a].sum(), inks[b].sum())
        assert changed > 0.25, (a, b, changed)


def test_winking_closes_the_labelled_eye() -> None:
    p = F.random_params(F.CHARACTERS[0], "front", "winking", random.Random(3))
    for eye in ("left", "right"):
        look = F.expression_look("winking", random.Random(0), eye)
        ink = _ink(F.render_face(replace(p, yaw=0.0, pitch=0.0, shift=(0.0, 0.0), look=look, wink_eye=eye), parts=("eyes",)))
        left, right = ink[:, :128].sum(), ink[:, 128:].sum()
        closed, open_ = (left, right) if eye == "left" else (right, left)
        assert closed < 0.6 * open_, (eye, closed, open_)


def test_phrasings_are_disjoint() -> None:
    for attribute in ("orientation", "expression"):
        assert set(F.PHRASES[attribute]) == set(F.HELDOUT_PHRASES[attribute])
        everything = [(v, p, held) for held, table in ((False, F.PHRASES), (True, F.HELDOUT_PHRASES)) for v, ps in table[attribute].items() for p in ps]
        assert len({p for _, p, _ in everything}) == len(everything)  # no phrasing used twice
        for (va, pa, ha), (vb, pb, hb) in itertools.permutations(everything, 2):
            if F.mentions(pa, pb):  # only a training phrasing may sit inside another of its own value
                assert va == vb and not hb and not ha, (pa, pb)


@pytest.mark.parametrize("held_out", [False, True])
def test_captions_name_their_labels_and_nothing_else(held_out: bool) -> None:
    rng = random.Random(11)
    own, other = (F.HELDOUT_PHRASES, F.PHRASES) if held_out else (F.PHRASES, F.HELDOUT_PHRASES)
    for (o, e), _ in itertools.product(PAIRS, range(12)):
        p = F.random_params(rng.choice(F.CHARACTERS), o, e, rng)
        text = F.caption_for(p, rng, held_out=held_out)
        for attribute, value in (("orientation", o), ("expression", e)):
            assert any(F.mentions(text, x) for x in _phrases_of(own, attribute, value)), text
            assert not any(F.mentions(text, x) for x in _phrases_of(own, attribute, exclude=value)), text
            assert not any(F.mentions(text, x) for x in _phrases_of(other, attribute)), text


def test_training_captions_of_a_dataset_never_use_heldout_phrasings() -> None:
    heldout = [p for a in ("orientation", "expression") for p in _phrases_of(F.HELDOUT_PHRASES, a)]
    for f in F.iter_faces(12, seed=9):
        assert not any(F.mentions(f.caption, x) for x in heldout), f.caption
        assert any(F.mentions(f.caption, x) for x in _phrases_of(F.PHRASES, "orientation", f.labels["orientation"])), f.caption


def test_prompt_for_uses_heldout_phrasings() -> None:
    rng = random.Random(2)
    for o, e in PAIRS:
        for r in (None, rng):
            text = F.prompt_for(o, e, r)
            assert any(F.mentions(text, x) for x in _phrases_of(F.HELDOUT_PHRASES, "orientation", o)), text
            assert any(F.mentions(text, x) for x in _phrases_of(F.HELDOUT_PHRASES, "expression", e)), text
            assert not any(F.mentions(text, x) for a in ("orientation", "expression") for x in _phrases_of(F.PHRASES, a)), text
        train = F.prompt_for(o, e, rng, held_out=False)
        assert any(F.mentions(train, x) for x in _phrases_of(F.PHRASES, "expression", e)), train
    assert F.prompt_for("left", "smiling") == F.prompt_for("left", "smiling")  # no rng: one fixed prompt


def test_long_descriptions_are_200_to_300_words_and_true_to_labels() -> None:
    rng = random.Random(4)
    heldout = [p for a in ("orientation", "expression") for p in _phrases_of(F.HELDOUT_PHRASES, a)]
    for (o, e), ch in zip(PAIRS * 3, itertools.cycle(F.CHARACTERS)):
        p = F.random_params(ch, o, e, rng)
        text = F.long_description(p, rng)
        assert 200 <= len(text.split()) <= 300, len(text.split())
        for attribute, value in (("orientation", o), ("expression", e)):
            assert any(F.mentions(text, x) for x in _phrases_of(F.PHRASES, attribute, value)), (value, text)
            assert not any(F.mentions(text, x) for x in _phrases_of(F.PHRASES, attribute, exclude=value)), (value, text)
        assert not any(F.mentions(text, x) for x in heldout), text
        if o in ("left", "right"):
            assert f"toward the {o}" in text or f"to the {o}" in text or f"the {o} side" in text, text


def test_video_poses_and_moods_drift_smoothly() -> None:
    frames = list(F._clip(F.CHARACTERS[1], random.Random(0), F.VIDEO_CLIP_FRAMES))
    yaw, pitch = np.array([f.yaw for f in frames]), np.array([f.pitch for f in frames])
    assert np.abs(np.diff(yaw)).max() < 3 and np.abs(np.diff(pitch)).max() < 3  # degrees per frame
    # Moods blend over several frames: no expression parameter jumps (a cut would move one by >= 1).
    looks = np.array([dataclasses.astuple(f.look) for f in frames])
    assert np.abs(np.diff(looks, axis=0)).max() < 0.6
    assert len({f.orientation for f in frames}) >= 4 and len({f.expression for f in frames}) >= 4
    assert all((f.wink_eye is not None) == (f.expression == "winking") for f in frames)


def test_video_frames_are_smooth_in_pixels() -> None:
    faces = list(F.iter_faces(61, seed=1, video=True))
    assert all(f.labels["clip"] == 0 for f in faces) and [f.labels["t"] for f in faces] == list(range(61))
    img = [np.asarray(f.image, np.float32) for f in faces]
    near = np.mean([np.abs(img[i + 1] - img[i]).mean() for i in range(60)])
    far = np.mean([np.abs(img[i + 30] - img[i]).mean() for i in range(31)])
    assert near < 0.35 * far, (near, far)
    assert len({f.image.tobytes() for f in faces}) == len(faces)  # no two frames identical (ingest drops duplicates)


@pytest.mark.parametrize("video", [True, False])
def test_every_keeps_every_nth_sample_of_the_full_sequence(video: bool) -> None:
    full = list(F.iter_faces(10, seed=2, video=video))
    thinned = list(F.iter_faces(10, seed=2, video=video, every=3))
    assert [f.id for f in thinned] == [f.id for f in full[::3]]  # 0, 3, 6, 9: ids keep their place
    assert [f.image.tobytes() for f in thinned] == [f.image.tobytes() for f in full[::3]]
    assert [(f.labels, f.caption, f.description) for f in thinned] == [(f.labels, f.caption, f.description) for f in full[::3]]
    with pytest.raises(ValueError, match="every"):
        next(F.iter_faces(3, every=0))
