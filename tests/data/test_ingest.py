"""`ingest` core end to end: folders, frames, captions, bad inputs, overwrite, settings, the builtin source."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pointdiff.data.dataset import Dataset, Rejection
from pointdiff.data.images import ImageError, ink_pixels, load_grayscale
from pointdiff.data.ingest import IngestConfig, NothingUsableError, image_rejection, ingest
from pointdiff.data.sources import BUILTIN_ONLY, BuiltinSettings
from pointdiff.errors import PointdiffError
from pointdiff.store import read_json, read_jsonl

NO_SHEET = IngestConfig(contact_sheet=0)  # the sheet costs ~1 s of matplotlib; tested once


def draw(path: Path, k: int = 0, size: tuple[int, int] = (48, 48)) -> Path:
    """A distinct little picture: a bar whose position depends on ``k``."""
    img = np.full((size[1], size[0]), 255, np.uint8)
    img[4 + k % 30 : 10 + k % 30, 5:40] = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path)
    return path


def by_id(out: Path) -> dict[str, dict]:
    return {r["id"]: r for r in read_jsonl(out / "manifest.jsonl")}


# ----------------------------------------------------------------------------- ink


def test_all_ink_pixels_kept(tmp_path: Path) -> None:
    src = draw(tmp_path / "src" / "a.png")
    ingest(tmp_path / "src", tmp_path / "ds", NO_SHEET)
    ds = Dataset(tmp_path / "ds")
    expected = ink_pixels(load_grayscale(src))
    assert ds.records[0].ink_count == len(expected) == 6 * 35
    np.testing.assert_array_equal(ds.pixels(0), expected)


# ----------------------------------------------------------------------------- captions, ids, frames


def test_captions_from_metadata_and_sidecars_metadata_wins(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for k, name in enumerate(["meta", "both", "txt", "cap", "plain"]):
        draw(src / f"{name}.png", k * 5)
    rows = [{"file_name": "meta.png", "text": "from metadata", "pose": "left"}, {"file_name": "both.png", "caption": "metadata wins"}]
    (src / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (src / "both.txt").write_text("sidecar loses")
    (src / "txt.txt").write_text("  from txt \n")
    (src / "cap.caption").write_text("from caption file")
    rep = ingest(src, tmp_path / "ds", NO_SHEET)
    m = by_id(tmp_path / "ds")
    assert m["meta"]["caption"] == "from metadata" and m["meta"]["labels"] == {"pose": "left"}
    assert m["both"]["caption"] == "metadata wins"
    assert m["txt"]["caption"] == "from txt"
    assert m["cap"]["caption"] == "from caption file"
    assert m["plain"]["caption"] is None
    assert rep.captions == {"metadata.jsonl": 2, "sidecar .txt": 1, "sidecar .caption": 1, "none": 1}
    assert rep.rejected == []  # metadata.jsonl and sidecars are consumed, not rejected
    assert rep.labelled == 1


def test_recursive_ids_and_nested_metadata(tmp_path: Path) -> None:
    src = tmp_path / "src"
    draw(src / "a.png", 0)
    draw(src / "a.jpg", 3)  # same stem: id de-duplicated
    draw(src / "sub" / "b.png", 6)
    draw(src / "sub" / "deeper" / "c.png", 9)
    (src / "sub" / "metadata.jsonl").write_text(json.dumps({"file_name": "deeper/c.png", "text": "c in deeper"}) + "\n")
    ingest(src, tmp_path / "flat", NO_SHEET)
    assert set(by_id(tmp_path / "flat")) == {"a", "a-2"}
    ingest(src, tmp_path / "deep", IngestConfig(recursive=True, contact_sheet=0))
    m = by_id(tmp_path / "deep")
    assert set(m) == {"a", "a-2", "sub/b", "sub/deeper/c"}
    assert m["sub/deeper/c"]["caption"] == "c in deeper"
    assert m["sub/deeper/c"]["source"] == "sub/deeper/c.png"


def test_every_keeps_every_nth_frame_in_natural_order(tmp_path: Path) -> None:
    src = tmp_path / "frames"
    for k in range(1, 13):  # frame1 ... frame12; text order would put frame10 after frame1
        draw(src / f"frame{k}.png", k)
    rep = ingest(src, tmp_path / "ds", IngestConfig(every=3, contact_sheet=0))
    assert Dataset(tmp_path / "ds").ids == ["frame1", "frame4", "frame7", "frame10"]
    assert rep.skipped_by_every == 8 and rep.rejected == []


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "name, make, kind",
    [
        ("cut.png", lambda p, good: p.write_bytes(good.read_bytes()[:80]), Rejection.CORRUPT),
        ("garbage.png", lambda p, good: p.write_bytes(b"\x00\x01 not a picture at all"), Rejection.NOT_IMAGE),
        ("white.png", lambda p, good: Image.new("L", (32, 32), 255).save(p), Rejection.NO_INK),
        ("notes.txt", lambda p, good: p.write_text("shopping list"), Rejection.NOT_IMAGE),
        ("zz-copy.png", lambda p, good: p.write_bytes(good.read_bytes()), Rejection.DUPLICATE),  # later in order than good.png,
        ("wide.png", lambda p, good: Image.new("L", (65536, 1), 0).save(p), Rejection.UNREADABLE),  # a side ink_pixels cannot hold
    ],
)
def test_each_bad_input_is_rejected_with_a_reason(tmp_path: Path, name: str, make, kind: str) -> None:
    src = tmp_path / "src"
    good = draw(src / "good.png")
    make(src / name, good)
    rep = ingest(src, tmp_path / "ds", IngestConfig(max_size=70000, contact_sheet=0))  # nothing shrunk
    assert rep.taken == 1 and [(r.source, r.kind) for r in rep.rejected] == [(name, kind)]
    rows = read_jsonl(tmp_path / "ds" / "rejected.jsonl")
    assert [r["source"] for r in rows] == [name] and rows[0]["reason"].startswith(kind + ": ")
    assert len(rows[0]["reason"]) > len(kind) + 5  # details, not just a label


def test_empty_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(NothingUsableError, match=r"looked for png.*saw 0 file"):
        ingest(tmp_path / "empty", tmp_path / "ds", NO_SHEET)
    assert not (tmp_path / "ds").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["empty"]  # no staging folder left behind


def test_only_bad_files_is_an_error_that_says_why(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    Image.new("L", (16, 16), 255).save(src / "white.png")
    (src / "x.txt").write_text("?")
    with pytest.raises(NothingUsableError, match=r"saw 2 file") as e:
        ingest(src, tmp_path / "ds", NO_SHEET)
    assert "1 no ink" in str(e.value) and "1 not an image" in str(e.value)
    assert len(e.value.report.rejected) == 2


def test_subfolders_hint_when_not_recursive(tmp_path: Path) -> None:
    draw(tmp_path / "src" / "sub" / "a.png")
    with pytest.raises(NothingUsableError, match="--recursive"):
        ingest(tmp_path / "src", tmp_path / "ds", NO_SHEET)


def test_missing_source_and_bad_settings(tmp_path: Path) -> None:
    with pytest.raises(PointdiffError, match="does not exist"):
        ingest(tmp_path / "nope", tmp_path / "ds")
    with pytest.raises(PointdiffError, match="unknown built-in"):
        ingest("builtin:cats", tmp_path / "ds")
    with pytest.raises(PointdiffError, match="every"):
        ingest(tmp_path, tmp_path / "ds", IngestConfig(every=0))


@pytest.mark.parametrize(
    "error, reason",
    [
        (ImageError(ImageError.NOT_IMAGE, "unrecognised format"), "not an image: unrecognised format"),
        (ImageError(ImageError.CORRUPT, "image file is truncated"), "corrupt image: image file is truncated"),
        (ImageError(ImageError.CORRUPT), "corrupt image: corrupt or truncated image"),  # no detail: the message
        (ImageError(ImageError.NOT_FOUND), "unreadable: file not found"),
        (ImageError(ImageError.TOO_LARGE, "a side over 65535 pixels"), "unreadable: image too large to open safely (a side over 65535 pixels)"),
    ],
)
def test_image_errors_become_rejections_by_kind(error: ImageError, reason: str) -> None:
    assert image_rejection("x.png", error).reason == reason  # rejected.jsonl reads as it always did


# ----------------------------------------------------------------------------- settings


def test_builtin_only_settings_are_refused_for_a_folder(tmp_path: Path) -> None:
    draw(tmp_path / "src" / "a.png")
    with pytest.raises(PointdiffError, match=r"^--count, --seed: only for a built-in source \(builtin:faces, builtin:faces-video, builtin:faces-color, builtin:glyphs\), not for a folder$"):
        ingest(tmp_path / "src", tmp_path / "ds", IngestConfig(count=5, seed=1, contact_sheet=0))
    with pytest.raises(PointdiffError, match=r"^--descriptions: only for a built-in source"):  # "no" is a given setting too
        ingest(tmp_path / "src", tmp_path / "ds", IngestConfig(descriptions=False, contact_sheet=0))
    assert not (tmp_path / "ds").exists()
    assert ingest(tmp_path / "src", tmp_path / "ds", NO_SHEET).taken == 1  # not given: fine


def test_builtin_settings_not_given_take_the_builtin_defaults() -> None:
    assert IngestConfig().builtin_given() == [] and IngestConfig().builtin() == BuiltinSettings()
    assert BuiltinSettings() == BuiltinSettings(count=600, seed=0, descriptions=False, captions=5)
    assert IngestConfig(seed=7).builtin() == BuiltinSettings(count=600, seed=7, descriptions=False, captions=5)
    assert set(BUILTIN_ONLY) == {"count", "seed", "descriptions", "captions"}


# ----------------------------------------------------------------------------- output folder


def test_overwrite_protection_and_clean_replace(tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "ds"
    draw(src / "a.png", 0)
    ingest(src, out, NO_SHEET)
    (out / "captions.jsonl").write_text('{"id": "a", "text": "stale"}\n')
    with pytest.raises(PointdiffError, match="--overwrite"):
        ingest(src, out, NO_SHEET)
    assert (out / "captions.jsonl").exists()  # refused: nothing touched
    draw(src / "b.png", 9)
    ingest(src, out, NO_SHEET, overwrite=True)
    assert Dataset(out).ids == ["a", "b"]
    assert not (out / "captions.jsonl").exists()  # old stage outputs do not survive
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "src"]  # no temp folders left


def test_failed_overwrite_keeps_the_old_dataset(tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "ds"
    draw(src / "a.png")
    ingest(src, out, NO_SHEET)
    (tmp_path / "empty").mkdir()
    with pytest.raises(NothingUsableError):
        ingest(tmp_path / "empty", out, NO_SHEET, overwrite=True)
    assert Dataset(out).ids == ["a"]


def test_refuses_to_replace_the_folder_it_reads_from(tmp_path: Path) -> None:
    ingest("builtin:faces", tmp_path / "ds", IngestConfig(count=2, contact_sheet=0))
    with pytest.raises(PointdiffError, match="inside"):
        ingest(tmp_path / "ds" / "images", tmp_path / "ds", NO_SHEET, overwrite=True)
    assert len(list((tmp_path / "ds" / "images").iterdir())) == 2


def test_refuses_to_replace_a_folder_that_is_not_a_dataset(tmp_path: Path) -> None:
    draw(tmp_path / "src" / "a.png")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(PointdiffError, match="not a pointdiff dataset"):
        ingest(tmp_path / "src", tmp_path / "mine", NO_SHEET, overwrite=True)
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"


def test_info_manifest_and_contact_sheet(tmp_path: Path) -> None:
    src = tmp_path / "src"
    draw(src / "wide.png", 0, size=(1200, 600))  # shrunk by max_size
    draw(src / "b.png", 5)
    calls: list[tuple[int, int]] = []
    rep = ingest(src, tmp_path / "ds", IngestConfig(max_size=300, contact_sheet=4), progress=lambda d, t, **f: calls.append((d, t)))
    info = read_json(tmp_path / "ds" / "dataset.json")
    assert {"source", "threshold", "max_size", "every", "created", "pointdiff_version"} <= set(info)
    assert info["max_size"] == 300 and info["num_samples"] == 2
    m = by_id(tmp_path / "ds")
    assert (m["wide"]["width"], m["wide"]["height"]) == (300, 150) and rep.resized == 1
    assert set(m["b"]) >= {"id", "source", "sha256", "width", "height", "ink_count", "caption", "labels"}
    assert calls[-1] == (2, 2)
    sheet = Image.open(tmp_path / "ds" / "contact_sheet.png")
    assert rep.contact_sheet == tmp_path / "ds" / "contact_sheet.png" and sheet.width > 200
    assert rep.ink_stats() is not None and rep.ink_stats()[0] <= rep.ink_stats()[2]


# ----------------------------------------------------------------------------- builtin source


def test_builtin_faces_labelled_captioned_images_written_deterministic(tmp_path: Path) -> None:
    cfg = IngestConfig(count=5, seed=3, descriptions=True, contact_sheet=0)
    rep = ingest("builtin:faces", tmp_path / "a", cfg)
    ds = Dataset(tmp_path / "a")
    assert len(ds) == rep.taken == 5 and rep.rejected == []
    for r in ds.records:
        assert r.caption and {"orientation", "expression"} <= set(r.labels)
        with Image.open(tmp_path / "a" / r.source) as im:  # the PNG a user can look at
            assert im.size == (256, 256) and (r.width, r.height) == (256, 256)
    captions = read_jsonl(tmp_path / "a" / "captions.jsonl")
    assert [c["id"] for c in captions] == ds.ids and all(c["model"] == "builtin:faces" for c in captions)
    assert all(len(c["text"].split()) > 100 for c in captions)  # long, for `summarize`
    assert ds.texts()[0] == (captions[0]["text"], "caption")
    info = read_json(tmp_path / "a" / "dataset.json")
    assert (info["source"], info["count"], info["seed"]) == ("builtin:faces", 5, 3)

    ingest("builtin:faces", tmp_path / "b", cfg)
    ingest("builtin:faces", tmp_path / "c", IngestConfig(count=5, seed=4, contact_sheet=0))
    same, other = Dataset(tmp_path / "b"), Dataset(tmp_path / "c")
    assert [r.sha256 for r in same.records] == [r.sha256 for r in ds.records]
    assert [r.caption for r in same.records] == [r.caption for r in ds.records]
    np.testing.assert_array_equal(np.asarray(same.ink_xy), np.asarray(ds.ink_xy))
    assert [r.sha256 for r in other.records] != [r.sha256 for r in ds.records]


def test_builtin_video_with_every(tmp_path: Path) -> None:
    rep = ingest("builtin:faces-video", tmp_path / "v", IngestConfig(count=9, every=4, contact_sheet=0))
    assert Dataset(tmp_path / "v").ids == ["frame-000000", "frame-000004", "frame-000008"]
    assert rep.skipped_by_every == 6 and rep.files_seen == 9
    assert sorted(p.name for p in (tmp_path / "v" / "images").iterdir()) == ["frame-000000.png", "frame-000004.png", "frame-000008.png"]


# ----------------------------------------------------------------------------- several captions per picture


def test_a_metadata_list_gives_one_picture_several_captions(tmp_path: Path) -> None:
    src = tmp_path / "src"
    draw(src / "a.png", 1)
    draw(src / "b.png", 2)
    rows = [{"file_name": "a.png", "text": ["a circle", " ", "a round shape", "a circle"]}, {"file_name": "b.png", "text": "a square"}]
    (src / "metadata.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    rep = ingest(src, tmp_path / "ds", NO_SHEET)
    ds = Dataset(tmp_path / "ds")
    assert [(r.caption, r.alt_captions) for r in ds.records] == [("a circle", ["a round shape"]), ("a square", [])]  # blanks and repeats dropped
    assert rep.alt_captions == 1


def test_a_duplicate_image_gives_its_caption_to_the_first_copy(tmp_path: Path) -> None:
    src = tmp_path / "src"
    first = draw(src / "a.png", 1)
    (src / "b.png").write_bytes(first.read_bytes())
    (src / "c.png").write_bytes(first.read_bytes())
    (src / "a.txt").write_text("a drawing")
    (src / "b.txt").write_text("the same drawing, in other words")
    (src / "c.txt").write_text("a drawing")  # nothing new: nothing added
    rep = ingest(src, tmp_path / "ds", NO_SHEET)
    ds = Dataset(tmp_path / "ds")
    assert rep.taken == 1 and [(r.source, r.kind) for r in rep.rejected] == [("b.png", Rejection.DUPLICATE), ("c.png", Rejection.DUPLICATE)]
    assert "joined a's" in rep.rejected[0].detail and "joined" not in rep.rejected[1].detail
    assert ds.records[0].alt_captions == ["the same drawing, in other words"]
    assert ds.text_lists()[0] == (["a drawing", "the same drawing, in other words"], "source")


def test_builtin_captions_are_other_phrasings_and_leave_the_first_unchanged(tmp_path: Path) -> None:
    one = ingest("builtin:faces", tmp_path / "one", IngestConfig(count=3, seed=4, captions=1, contact_sheet=0))
    three = ingest("builtin:faces", tmp_path / "three", IngestConfig(count=3, seed=4, captions=3, contact_sheet=0))
    assert one.alt_captions == 0 and three.alt_captions == 6
    a, b = Dataset(tmp_path / "one"), Dataset(tmp_path / "three")
    assert [r.caption for r in a.records] == [r.caption for r in b.records] and a.offsets.tolist() == b.offsets.tolist()
    from pointdiff.data.faces import PHRASES, mentions

    for r in b.records:
        assert len({r.caption, *r.alt_captions}) == 3
        for text in r.alt_captions:  # every phrasing names the picture's own labels
            for attr in ("orientation", "expression"):
                assert any(mentions(text, p) for p in PHRASES[attr][r.labels[attr]]), (text, r.labels)
    assert read_json(tmp_path / "three" / "dataset.json")["captions"] == 3
    with pytest.raises(PointdiffError, match="captions must be 1 or more"):
        ingest("builtin:faces", tmp_path / "zero", IngestConfig(count=3, captions=0, contact_sheet=0))


# ----------------------------------------------------------------------------- resume


def _interrupted(monkeypatch: pytest.MonkeyPatch, src: Path, out: Path, after: int) -> None:
    """An ingest stopped by Ctrl-C as it reads image number ``after`` + 1 (in this process: workers=1)."""
    import pointdiff.data.ingest as ingest_mod

    real, reads = ingest_mod.read_ink, []

    def read(path: Path, *args: object):
        if len(reads) == after:
            raise KeyboardInterrupt
        reads.append(path)
        return real(path, *args)

    monkeypatch.setattr(ingest_mod, "read_ink", read)
    with pytest.raises(KeyboardInterrupt):
        ingest(src, out, IngestConfig(workers=1, contact_sheet=0))
    monkeypatch.setattr(ingest_mod, "read_ink", real)


def _reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The file names read_ink is called on from now on."""
    import pointdiff.data.ingest as ingest_mod

    real, names = ingest_mod.read_ink, []
    monkeypatch.setattr(ingest_mod, "read_ink", lambda path, *a: names.append(path.name) or real(path, *a))
    return names


def _dataset_bytes(root: Path) -> dict[str, bytes]:
    files = {p.name: p.read_bytes() for p in sorted(root.iterdir())}
    files["dataset.json"] = json.dumps({k: v for k, v in read_json(root / "dataset.json").items() if k != "created"}).encode()
    return files


def _resume_source(src: Path) -> Path:
    for k in range(80):  # over two flushes of the progress record (every 32 images)
        draw(src / f"p{k:02d}.png", k, size=(48, 40 + k % 7))
        (src / f"p{k:02d}.txt").write_text(f"picture {k}")
    # Each kind of outcome among the first 64 (those on record after an interruption), decided again from it.
    (src / "p03b-copy.png").write_bytes((src / "p03.png").read_bytes())  # after p03 in natural order
    (src / "p03b-copy.txt").write_text("picture three, again")  # joins p03's captions
    Image.new("L", (20, 20), 255).save(src / "p10b-blank.png")
    (src / "p20b-cut.png").write_bytes((src / "p20.png").read_bytes()[:60])
    return src


def test_an_interrupted_ingest_continues_without_reading_the_recorded_images_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = _resume_source(tmp_path / "src")
    whole = ingest(src, tmp_path / "whole", IngestConfig(workers=1, contact_sheet=0))
    _interrupted(monkeypatch, src, tmp_path / "ds", after=70)  # Ctrl-C: 64 images (two flushes) on record
    assert not (tmp_path / "ds").exists() and len(list(tmp_path.glob(".ds.ingest-*"))) == 1  # kept for the next run
    names = _reads(monkeypatch)
    rep = ingest(src, tmp_path / "ds", IngestConfig(workers=1, contact_sheet=0))
    assert rep.resumed == 64 and names == [f"p{k}.png" for k in range(61, 80)]  # only what was not on record
    assert _dataset_bytes(tmp_path / "ds") == _dataset_bytes(tmp_path / "whole")
    kinds = [("p03b-copy.png", Rejection.DUPLICATE), ("p10b-blank.png", Rejection.NO_INK), ("p20b-cut.png", Rejection.CORRUPT)]
    assert [(r.source, r.kind) for r in rep.rejected] == [(r.source, r.kind) for r in whole.rejected] == kinds
    assert Dataset(tmp_path / "ds").records[3].alt_captions == ["picture three, again"]
    assert (rep.taken, rep.ink_counts) == (whole.taken, whole.ink_counts)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # the record went with the finished run


def test_an_interrupted_ingest_starts_afresh_when_an_image_or_a_setting_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = _resume_source(tmp_path / "src")
    _interrupted(monkeypatch, src, tmp_path / "ds", after=40)
    draw(src / "p05.png", 33)  # another picture under the same name
    names = _reads(monkeypatch)
    rep = ingest(src, tmp_path / "ds", IngestConfig(workers=1, contact_sheet=0))
    assert rep.resumed == 0 and len(names) == 83  # every image read again: the record described other files
    _interrupted(monkeypatch, src, tmp_path / "other", after=40)
    names = _reads(monkeypatch)
    rep = ingest(src, tmp_path / "other", IngestConfig(workers=1, threshold=100, contact_sheet=0))
    assert rep.resumed == 0 and len(names) == 83 and len(list(tmp_path.glob(".*"))) == 0


def test_an_interrupted_ingest_closes_its_progress_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pointdiff.data import staging

    closed: list[bool] = []
    real_close = staging.Progress.close

    def close(self: staging.Progress) -> None:
        real_close(self)
        closed.append(self._log.closed and self._ink.closed)

    monkeypatch.setattr(staging.Progress, "close", close)
    _interrupted(monkeypatch, _resume_source(tmp_path / "src"), tmp_path / "ds", after=40)
    assert closed == [True]  # the Ctrl-C reached the caller with the record's files closed
