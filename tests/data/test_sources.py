"""Sources: which files of a folder are tried, in what order, with what captions; the built-in renderer."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pointdiff.data.dataset import REJECTED_FILE, Rejection
from pointdiff.data.ingest import IngestConfig, ingest
from pointdiff.data.sources import BuiltinSettings, parse_source, render_builtin, scan_folder
from pointdiff.errors import PointdiffError
from pointdiff.store import read_jsonl


def draw(path: Path, k: int = 0) -> Path:
    img = np.full((24, 24), 255, np.uint8)
    img[k % 20 : k % 20 + 3, 2:20] = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path)
    return path


def test_parse_source(tmp_path: Path) -> None:
    assert parse_source("builtin:faces-video") == ("faces-video", None)
    assert parse_source(tmp_path / "x" / "..") == (None, tmp_path)  # normalised, absolute
    assert parse_source("builtin:glyphs") == ("glyphs", None)
    with pytest.raises(PointdiffError, match="unknown built-in source 'builtin:cats'; known: builtin:faces, builtin:faces-video, builtin:faces-color, builtin:glyphs$"):
        parse_source("builtin:cats")
    with pytest.raises(PointdiffError, match="does not exist"):
        parse_source(tmp_path / "nope")
    (tmp_path / "f.png").write_bytes(b"")
    with pytest.raises(PointdiffError, match="is a file"):
        parse_source(tmp_path / "f.png")


def test_scan_folder_order_every_captions_and_what_it_saw(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for k in (10, 2, 1, 3):
        draw(src / f"frame{k}.png", k)
    (src / "frame1.txt").write_text("first frame\n")
    (src / "metadata.jsonl").write_text(json.dumps({"file_name": "frame3.png", "text": "third", "pose": "left"}) + "\n{oops\n")
    (src / "lonely.txt").write_text("no image")
    (src / "notes.pdf").write_bytes(b"%PDF")
    draw(src / "sub" / "x.png")
    found = scan_folder(src, every=2)
    got = [(c.id, c.caption, c.caption_from, c.labels) for c in found.candidates]
    assert got == [("frame1", "first frame", "sidecar .txt", {}), ("frame3", "third", "metadata.jsonl", {"pose": "left"})]  # 1, 2, 3, 10: every 2nd
    assert (found.total, found.files_seen, found.skipped_by_every) == (2, 8, 2)
    assert found.caption_files == 2  # frame1.txt and metadata.jsonl
    assert [(r.source, r.kind) for r in found.rejected] == [("lonely.txt", Rejection.NOT_IMAGE), ("notes.pdf", Rejection.NOT_IMAGE)]
    assert "not valid JSON" in found.notes[0] and "--recursive" in found.notes[1]
    assert found.info == {"recursive": False}


def test_scan_folder_ids_stay_unique_and_skip_the_excluded_folder(tmp_path: Path) -> None:
    src = tmp_path / "src"
    draw(src / "a.png")
    draw(src / "a.jpg", 5)
    draw(src / "out" / "b.png")
    found = scan_folder(src, recursive=True, exclude=src / "out")
    assert [(c.id, c.rel) for c in found.candidates] == [("a", "a.jpg"), ("a-2", "a.png")]


def test_render_builtin_draws_lazily_and_describes_only_when_asked(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    found = render_builtin("faces-video", tmp_path / "plain", BuiltinSettings(count=5, seed=2), every=2)
    assert (found.total, found.files_seen, found.skipped_by_every) == (3, 5, 2)
    assert found.info == {"count": 5, "seed": 2, "captions": 5, "video": True}
    assert list((tmp_path / "plain" / "images").iterdir()) == []  # nothing drawn until asked for
    faces = list(found.candidates)
    assert [c.id for c in faces] == ["frame-000000", "frame-000002", "frame-000004"]
    assert all(c.path.is_file() and c.caption and c.labels and c.caption_from == "builtin:faces-video" for c in faces)
    assert all(c.description is None for c in faces)
    (tmp_path / "described").mkdir()
    described = list(render_builtin("faces", tmp_path / "described", BuiltinSettings(count=2, descriptions=True)).candidates)
    assert all(len(c.description.split()) > 100 for c in described)


def test_render_builtin_glyphs_records_its_settings_only(tmp_path: Path) -> None:
    found = render_builtin("glyphs", tmp_path, BuiltinSettings(count=5, seed=1), every=2)
    assert (found.total, found.files_seen, found.skipped_by_every) == (3, 5, 2)
    assert found.info == {"count": 5, "seed": 1, "captions": 5}
    drawn = list(found.candidates)
    assert all(len(c.alt_captions) == 4 for c in drawn)
    assert [c.id for c in drawn] == ["glyph-00000", "glyph-00002", "glyph-00004"]
    assert all(c.path.is_file() and c.caption and c.labels["character"] and c.caption_from == "builtin:glyphs" and c.description is None for c in drawn)


def test_a_folder_listing_gives_the_same_candidates_each_time_it_is_read(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for name in ("b10.png", "b2.png", "sub/c.png"):
        draw(src / name)
    (src / "b2.txt").write_text("from a sidecar")
    rows = [{"file_name": "b10.png", "text": ["one", "two"], "pose": {"yaw": 1.5}}, {"file_name": "sub/c.png", "caption": "café"}]
    (src / "metadata.jsonl").write_text(json.dumps(rows[0]) + "\n\n" + json.dumps(rows[1], ensure_ascii=False) + "\n{bad\n", encoding="utf-8")
    found = scan_folder(src, recursive=True)
    first, again = list(found.candidates), list(found.candidates)  # the resume key reads it, then ingest does
    assert first == again and len(found.candidates) == found.total == 3
    got = [(c.path, c.rel, c.id, c.caption, c.alt_captions, c.caption_from, c.labels) for c in first]
    assert got == [
        (src / "b2.png", "b2.png", "b2", "from a sidecar", [], "sidecar .txt", {}),
        (src / "b10.png", "b10.png", "b10", "one", ["two"], "metadata.jsonl", {"pose": {"yaw": 1.5}}),
        (src / "sub" / "c.png", "sub/c.png", "sub/c", "café", [], "metadata.jsonl", {}),
    ]
    assert found.notes == ["metadata.jsonl:4: not valid JSON, line ignored"]  # blank lines count in the numbering


def test_a_file_name_that_is_not_utf8_is_rejected_and_the_rest_taken(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    try:
        draw(Path(os.fsdecode(bytes(src) + b"/a\xff.png")))
    except (OSError, ValueError):  # a file system that insists on valid names (macOS)
        pytest.skip("this file system refuses names that are not UTF-8")
    draw(src / "b.png")
    found = scan_folder(src)
    assert [c.id for c in found.candidates] == ["b"]
    assert [(r.source, r.kind) for r in found.rejected] == [("a\ufffd.png", Rejection.UNREADABLE)] and "not valid UTF-8" in found.rejected[0].detail
    rep = ingest(src, tmp_path / "ds", IngestConfig(workers=1, contact_sheet=0))  # it used to stop ingest with a UnicodeEncodeError
    assert rep.taken == 1 and [row["source"] for row in read_jsonl(tmp_path / "ds" / REJECTED_FILE)] == ["a\ufffd.png"]


def test_ties_in_natural_order_and_every_counted_per_folder(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for k, name in enumerate(("f01.png", "f1.png", "F2.png", "f10.png", "sub/f1.png", "sub/f2.png", "sub/f3.png")):
        draw(src / name, k)
    found = scan_folder(src, recursive=True, every=2)
    assert [c.rel for c in found.candidates] == ["f01.png", "F2.png", "sub/f1.png", "sub/f3.png"]  # f01 = f1 by value: the name breaks the tie
    assert found.skipped_by_every == 3
