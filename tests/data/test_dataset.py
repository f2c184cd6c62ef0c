"""The dataset folder: rejections as written, the manifest read lazily and written as a stream, and the sampler's points (the one pixel -> point mapping)."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pointdiff.data import dataset as dataset_module
from pointdiff.data import sampler as sampler_module
from pointdiff.data.dataset import Dataset, DatasetWriter, PackedStrings, Record, Rejection
from pointdiff.data.sampler import PointSampler, StreamedPointSampler
from pointdiff.data.images import pixel_size, pixels_to_points, points_to_pixels
from pointdiff.data.ingest import IngestConfig, ingest
from pointdiff.errors import PointdiffError
from pointdiff.store import read_json, read_jsonl, write_jsonl

SIZES = [(200, 100), (64, 300), (77, 77), (5, 1)]  # wide, tall, square, tiny: (width, height)


def write_dataset(root: Path, sizes: list[tuple[int, int]] = SIZES) -> Dataset:
    """One sample per size, with ink in all four corners and a few pixels inside."""
    w = DatasetWriter(root, {"source": "test"})
    rng = np.random.default_rng(0)
    for k, (width, height) in enumerate(sizes):
        corners = [[0, 0], [width - 1, 0], [0, height - 1], [width - 1, height - 1]]
        inside = np.stack([rng.integers(0, width, 5), rng.integers(0, height, 5)], 1)
        px = np.concatenate([np.asarray(corners), inside]).astype(np.uint16)
        w.add(Record(id=f"s{k}", source=f"s{k}.png", sha256=f"{k:064x}", width=width, height=height, ink_count=0), px)
    w.reject(Rejection("bad.png", Rejection.CORRUPT, "image file is truncated"))
    w.close()
    return Dataset(root)


# ----------------------------------------------------------------------------- rejections


def test_rejection_reads_kind_colon_detail_in_rejected_jsonl(tmp_path: Path) -> None:
    write_dataset(tmp_path / "ds")
    assert read_jsonl(tmp_path / "ds" / "rejected.jsonl") == [{"source": "bad.png", "reason": "corrupt image: image file is truncated"}]
    assert Rejection("a", Rejection.NO_INK, "blank").reason == "no ink: blank"


# ----------------------------------------------------------------------------- the sampler's points


def test_sampler_points_are_where_pixels_to_points_puts_them(tmp_path: Path) -> None:
    ds = write_dataset(tmp_path / "ds")
    sampler = PointSampler.from_dataset(ds)
    for i, r in enumerate(ds.records):
        a, b = int(sampler.offsets[i]), int(sampler.offsets[i + 1])
        expected = pixels_to_points(ds.pixels(i), r.width, r.height)
        np.testing.assert_array_equal(sampler.points[a:b].numpy(), expected)  # the same map, bit for bit
        np.testing.assert_allclose(points_to_pixels(sampler.points[a:b].numpy(), r.width, r.height), ds.pixels(i), atol=1e-3)


def test_sampler_jitter_spreads_a_point_over_its_own_pixel(tmp_path: Path) -> None:
    ds = write_dataset(tmp_path / "ds")
    sampler = PointSampler.from_dataset(ds)
    np.testing.assert_array_equal(sampler.pixel_half.numpy(), pixel_size([w for w, _ in SIZES], [h for _, h in SIZES]) / 2)
    g = torch.Generator().manual_seed(0)
    for i, r in enumerate(ds.records):
        pts = sampler.sample(torch.tensor([i]), 2000, g, jitter=True)[0].numpy()
        px = points_to_pixels(pts, r.width, r.height)
        ink = {tuple(p) for p in ds.pixels(i).tolist()}
        assert {tuple(p) for p in np.rint(px).astype(int).tolist()} <= ink  # never leaves its pixel
        offset = px - np.rint(px)
        assert np.abs(offset).max() <= 0.5 + 1e-3 and np.abs(offset).max() > 0.4  # but fills it


def test_sampler_over_some_samples_reads_only_those(tmp_path: Path) -> None:
    ds = write_dataset(tmp_path / "ds")
    whole, part = PointSampler.from_dataset(ds), PointSampler.from_dataset(ds, [3, 1])
    assert len(part) == 2 and part.counts.tolist() == [whole.counts[3], whole.counts[1]]
    for j, i in enumerate([3, 1]):
        a, b = int(part.offsets[j]), int(part.offsets[j + 1])
        np.testing.assert_array_equal(part.points[a:b], whole.points[int(whole.offsets[i]) : int(whole.offsets[i + 1])])
    assert part.pixel_half.tolist() == [whole.pixel_half[3], whole.pixel_half[1]]


@pytest.mark.parametrize("jitter", [False, True])
def test_streamed_sampler_draws_what_the_in_memory_one_draws(tmp_path: Path, jitter: bool) -> None:
    ds = write_dataset(tmp_path / "ds")
    held, streamed = PointSampler.from_dataset(ds, [3, 0, 2], stream=False), PointSampler.from_dataset(ds, [3, 0, 2], stream=True)
    assert isinstance(streamed, StreamedPointSampler) and not isinstance(held, StreamedPointSampler)
    assert streamed.counts.tolist() == held.counts.tolist() and torch.equal(streamed.pixel_half, held.pixel_half)
    rows = torch.tensor([1, 0, 2, 2, 1])
    a = held.sample(rows, 300, torch.Generator().manual_seed(4), jitter=jitter)
    b = streamed.sample(rows, 300, torch.Generator().manual_seed(4), jitter=jitter)
    assert torch.equal(a, b)  # bit for bit, so a large dataset trains exactly as a small one would
    assert torch.equal(held.sample_all(64, seed=2), streamed.sample_all(64, seed=2))


def test_a_dataset_above_the_threshold_is_streamed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ds = write_dataset(tmp_path / "ds")
    assert not isinstance(PointSampler.from_dataset(ds), StreamedPointSampler)
    monkeypatch.setattr(sampler_module, "STREAM_ABOVE_POINTS", int(ds.offsets[-1]) - 1)
    assert isinstance(PointSampler.from_dataset(ds), StreamedPointSampler)


def test_streamed_sampler_refuses_a_truncated_ink_file(tmp_path: Path) -> None:
    ds = write_dataset(tmp_path / "ds")
    path = tmp_path / "ds" / "ink_xy.npy"
    path.write_bytes(path.read_bytes()[:-4])  # the last pixel is gone, the header still promises it
    with pytest.raises(PointdiffError, match="damaged"):
        PointSampler.from_dataset(ds, stream=True).sample(torch.tensor([len(ds) - 1]), 10)


# ----------------------------------------------------------------------------- sampling an ingested folder


@pytest.fixture
def ingested(tmp_path: Path) -> Dataset:
    src = tmp_path / "src"
    src.mkdir()
    for k in range(3):
        img = np.full((48, 48), 255, np.uint8)
        img[4 + 7 * k : 10 + 7 * k, 5:40] = 0
        Image.fromarray(img).save(src / f"p{k}.png")
    ingest(src, tmp_path / "ds", IngestConfig(contact_sheet=0))
    return Dataset(tmp_path / "ds")


def test_sampler_range_count_and_fresh_draws(ingested: Dataset) -> None:
    sampler = PointSampler.from_dataset(ingested)
    idx = torch.arange(len(ingested))
    a = sampler.sample(idx, 1024)
    b = sampler.sample(idx, 1024)
    assert a.shape == (3, 1024, 2)
    assert a.abs().max() <= 3.0
    assert not torch.equal(a, b)  # every use draws afresh (the augmentation)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(sampler.sample(idx, 1024, g1), sampler.sample(idx, 1024, g2))


def test_sampler_draws_only_ink_pixels_of_the_right_sample(ingested: Dataset) -> None:
    sampler = PointSampler.from_dataset(ingested)
    for i in range(len(ingested)):
        pts = sampler.sample(torch.tensor([i]), 500)[0].numpy()
        r = ingested.records[i]
        px = np.rint(points_to_pixels(pts, r.width, r.height)).astype(int)
        ink = {tuple(p) for p in ingested.pixels(i).tolist()}
        assert {tuple(p) for p in px.tolist()} <= ink


# ----------------------------------------------------------------------------- the manifest, read lazily

MANIFEST_ROWS = [
    {"id": "a", "source": "a.png", "sha256": "0" * 64, "width": 3, "height": 2, "ink_count": 1, "caption": "un café ☕", "alt_captions": ["another", "a third"], "labels": {"pose": "left", "yaw": -12.5}},
    {"id": "b", "source": "sub/b.png", "sha256": "1" * 64, "width": 5, "height": 7, "ink_count": 2},  # a row from before alt_captions and labels
    {"id": "c", "source": "c.png", "sha256": "2" * 64, "width": 1, "height": 9, "ink_count": 1, "caption": None, "alt_captions": [], "labels": {}, "frame": 12, "by": {"source": "x"}},
]


def _manifest_folder(root: Path, text: str, samples: int) -> Path:
    """A dataset folder with this manifest text and ink arrays for ``samples`` samples."""
    root.mkdir()
    (root / "manifest.jsonl").write_bytes(text.encode("utf-8"))
    np.save(root / "ink_offsets.npy", np.arange(samples + 1, dtype=np.int64))
    np.save(root / "ink_xy.npy", np.zeros((samples, 2), np.uint16))
    return root


@pytest.mark.parametrize("block", [7, 150, 1 << 20])  # a line longer than a read, lines across reads, all in one
def test_lazy_records_are_the_records_parsing_the_whole_manifest_gives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    monkeypatch.setattr(dataset_module.Records, "_BLOCK", block)
    lines = [json.dumps(r, ensure_ascii=False) for r in MANIFEST_ROWS]
    text = lines[0] + "\n\n" + lines[1] + "\r\n   \n" + lines[2] + '\n{"id": "d", "sou'  # blank lines, CRLF, a torn tail
    root = _manifest_folder(tmp_path / "ds", text, 3)
    eager = [Record.from_json(r) for r in read_jsonl(root / "manifest.jsonl")]  # how the manifest was read before
    assert len(eager) == 3 and eager[2].extra == {"frame": 12, "by": {"source": "x"}} and eager[1].alt_captions == []
    ds = Dataset(root)
    assert len(ds) == len(ds.records) == 3
    assert list(ds.records) == eager
    assert [ds.records[i] for i in (2, 0, 1, -1)] == [eager[2], eager[0], eager[1], eager[2]]
    assert ds.records[1:] == eager[1:] and ds.records[::-1] == eager[::-1]
    assert ds.ids == ["a", "b", "c"] and ds.widths.tolist() == [3, 5, 1] and ds.heights.tolist() == [2, 7, 9]
    assert ds.text_lists() == [(["un café ☕", "another", "a third"], "source"), ([], "none"), ([], "none")]
    with pytest.raises(IndexError):
        ds.records[3]
    ds.records[0].alt_captions.append("lost")  # a record is a copy: the dataset is unchanged
    assert ds.records[0] == eager[0]


def test_a_damaged_manifest_is_refused_at_its_line(tmp_path: Path) -> None:
    good = json.dumps(MANIFEST_ROWS[1])
    _manifest_folder(tmp_path / "json", f"{good}\n{{oops\n{good}\n", 2)
    with pytest.raises(PointdiffError, match=r"manifest.jsonl:2: not valid JSON"):
        Dataset(tmp_path / "json")
    row = {k: v for k, v in MANIFEST_ROWS[1].items() if k != "width"}
    _manifest_folder(tmp_path / "field", f"{good}\n{json.dumps(row)}\n", 2)
    with pytest.raises(PointdiffError, match=r"manifest.jsonl:2: not a sample"):
        Dataset(tmp_path / "field")


def test_records_are_read_from_the_manifest_the_dataset_opened(tmp_path: Path) -> None:
    ds = write_dataset(tmp_path / "ds")
    before = list(ds.records)
    other = tmp_path / "other.jsonl"
    other.write_text("".join(json.dumps({**r.to_json(), "caption": "replaced"}) + "\n" for r in before))
    os.replace(other, tmp_path / "ds" / "manifest.jsonl")  # as a new ingest swaps a dataset in
    assert list(ds.records) == before and ds.records[2] == before[2]
    assert [r.caption for r in Dataset(tmp_path / "ds").records] == ["replaced"] * len(before)


def test_the_writer_streams_rows_and_joins_later_captions_byte_for_byte(tmp_path: Path) -> None:
    records = [
        Record(id="a", source="a.png", sha256="a" * 64, width=4, height=3, ink_count=0, caption="first", alt_captions=["premier"], labels={"k": [1, 2.5]}),
        Record(id="b", source="b.png", sha256="b" * 64, width=2, height=2, ink_count=0, caption="deux\u2028lignes", extra={"frame": 3}),
        Record(id="c", source="c.png", sha256="c" * 64, width=1, height=5, ink_count=0),
    ]
    w = DatasetWriter(tmp_path / "ds", {"source": "test"})
    assert [w.add(r, np.ones((k + 1, 2), np.uint16)) for k, r in enumerate(records)] == [0, 1, 2]
    w.add_captions(0, ["a copy's caption"])
    w.add_captions(0, ["another copy's", "and one more"])
    w.add_captions(2, [])
    assert w.record(0).alt_captions == ["premier", "a copy's caption", "another copy's", "and one more"]  # as it will be published
    assert w.record(1) == records[1] and len(w) == 3
    w.close()
    records[0].alt_captions += ["a copy's caption", "another copy's", "and one more"]  # what holding every record until close gave
    write_jsonl(tmp_path / "eager.jsonl", (r.to_json() for r in records))
    assert (tmp_path / "ds" / "manifest.jsonl").read_bytes() == (tmp_path / "eager.jsonl").read_bytes()
    assert sorted(p.name for p in (tmp_path / "ds").iterdir()) == ["dataset.json", "ink_offsets.npy", "ink_xy.npy", "manifest.jsonl", "rejected.jsonl"]  # no temporaries left
    ds = Dataset(tmp_path / "ds")
    assert list(ds.records) == records and ds.records[1].caption == "deux\u2028lignes"  # a line separator inside a caption is not a line break
    assert ds.offsets.tolist() == [0, 1, 3, 6] and read_json(tmp_path / "ds" / "dataset.json")["num_samples"] == 3


def test_records_survive_a_trip_to_another_process(tmp_path: Path) -> None:
    import pickle

    ds = write_dataset(tmp_path / "ds")
    fingerprint = ds.fingerprint()
    copy = pickle.loads(pickle.dumps(ds.records))  # what a spawned worker would get: the file opened again
    assert list(copy) == list(ds.records) and copy[1] == ds.records[1]
    import hashlib

    whole = hashlib.sha256((tmp_path / "ds" / "manifest.jsonl").read_bytes() + ds.offsets.tobytes()).hexdigest()[:16]
    assert fingerprint == whole  # the manifest hashed in blocks: the fingerprint runs recorded before


def test_packed_strings_read_back_as_stored() -> None:
    texts = ["a", "", "café", "sub/photo-2", "\udcff"]  # a lone surrogate: a name that was not UTF-8 on disk
    packed = PackedStrings()
    for t in texts:
        packed.append(t)
    assert len(packed) == 5 and list(packed) == texts and packed[-1] == texts[-1] and packed[1:3] == texts[1:3]
    with pytest.raises(IndexError):
        packed[5]
    assert pickle.loads(pickle.dumps(packed))[2] == "café"
