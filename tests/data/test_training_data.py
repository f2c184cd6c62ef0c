"""What a run reads: a dataset folder with its vectors, or the reference's data.pt; fingerprints and id matching."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from tiny_runs import FAKE, TINY, add_embeddings

from pointdiff.checkpoint import read_meta
from pointdiff.data.dataset import Dataset
from pointdiff.data import rows
from pointdiff.data.rows import DiskRows
from pointdiff.data.sampler import PointSampler, StreamedPointSampler
from pointdiff.data.training import embedded_rows, load_reference_data, load_training_data, training_fingerprint
from pointdiff.errors import PointdiffError
from pointdiff.text.embeddings import EncoderInfo, read_embeddings
from pointdiff.training import train

pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


def test_reference_pt_data_file_loads(tmp_path: Path) -> None:
    g = torch.Generator().manual_seed(0)
    blob = {
        "image_paths": [f"frames/{k:04d}.png" for k in range(5)],
        "embeddings": torch.randn(5, 512, generator=g),
        "point_clouds": torch.rand(5, 1024, 2, generator=g) * 6 - 3,
        "model": "ViT-B/32",
        "num_points": 1024,
        "num_samples": 5,
    }
    torch.save(blob, tmp_path / "data.pt")
    data = load_training_data(tmp_path / "data.pt")
    assert data.encoder == EncoderInfo("openai/clip-vit-base-patch32", "clip", 512, 77, "")
    assert len(data.sampler) == 5 and data.cond.shape == (5, 512)
    torch.testing.assert_close(data.cond.norm(dim=1), torch.ones(5))
    assert set(data.sampler.sample(torch.tensor([2]), 50)[0].flatten().tolist()) <= set(blob["point_clouds"][2].flatten().tolist())
    result = train(replace(TINY, steps=5), data, run_dir=tmp_path / "run")
    assert result.checkpoint is not None and read_meta(tmp_path / "run")["encoder"]["weights_sha256"] == ""
    torch.save({"embeddings": torch.zeros(2, 4)}, tmp_path / "bad.pt")
    with pytest.raises(PointdiffError, match="point_clouds"):
        load_reference_data(tmp_path / "bad.pt")




def test_dataset_without_embeddings_points_to_embed(shapes_dataset: Dataset) -> None:
    with pytest.raises(PointdiffError, match="pointdiff embed"):
        load_training_data(shapes_dataset.root)


def test_dataset_rows_follow_the_embeddings(shapes_dataset: Dataset) -> None:
    add_embeddings(shapes_dataset)
    data = load_training_data(shapes_dataset.root)
    stored = read_embeddings(shapes_dataset.root / "embeddings.safetensors")
    assert len(data.sampler) == len(shapes_dataset.ids) == len(data.cond)
    assert data.fingerprint == training_fingerprint(shapes_dataset.fingerprint(), FAKE, stored.ids)
    assert data.texts[0] == shapes_dataset.texts()[0][0]
    assert isinstance(data.cond, torch.Tensor) and torch.equal(data.cond, stored.embeddings)  # small: held in memory
    assert isinstance(load_training_data(shapes_dataset.root, stream=True).sampler, StreamedPointSampler)
    full = PointSampler.from_dataset(shapes_dataset)
    row = {i: k for k, i in enumerate(shapes_dataset.ids)}
    for k, sample_id in enumerate(stored.ids):  # row k's points are the points of the sample its vector describes
        j = row[sample_id]
        assert torch.equal(data.sampler.points[data.sampler.offsets[k] : data.sampler.offsets[k + 1]], full.points[full.offsets[j] : full.offsets[j + 1]])
    ids = list(reversed(shapes_dataset.ids))[:3] + ["gone"]
    n = len(shapes_dataset.ids)
    assert embedded_rows(shapes_dataset, ids) == [(0, n - 1), (1, n - 2), (2, n - 3)]  # "gone" is left out


def test_fingerprint_changes_with_encoder_and_ids() -> None:
    base = training_fingerprint("abc", FAKE, ["a", "b"])
    assert len(base) == 16
    assert base != training_fingerprint("abd", FAKE, ["a", "b"])
    assert base != training_fingerprint("abc", replace(FAKE, weights_sha256="0" * 64), ["a", "b"])
    assert base != training_fingerprint("abc", FAKE, ["b", "a"])


def test_embeddings_of_vanished_samples_are_refused(shapes_dataset: Dataset) -> None:
    add_embeddings(shapes_dataset)
    from pointdiff.text.embeddings import StoredEmbeddings, write_embeddings

    stored = read_embeddings(shapes_dataset.root / "embeddings.safetensors")
    ids = ["nobody", *stored.ids[1:]]
    write_embeddings(shapes_dataset.root / "embeddings.safetensors", StoredEmbeddings(stored.embeddings, stored.encoder, ids, stored.texts_sha256))
    with pytest.raises(PointdiffError, match="out of date.*pointdiff embed"):
        load_training_data(shapes_dataset.root)


def _with_alt_captions(ds: Dataset, alts: dict[str, list[str]]) -> Dataset:
    """The same dataset with more captions for some samples (written into its manifest)."""
    from pointdiff.store import write_jsonl

    rows = [r.to_json() for r in ds.records]
    for row in rows:
        row["alt_captions"] = alts.get(row["id"], [])
    write_jsonl(ds.root / "manifest.jsonl", rows)
    return Dataset(ds.root)


def test_every_caption_of_a_picture_is_a_training_row_of_that_picture(shapes_dataset: Dataset) -> None:
    first = shapes_dataset.ids[0]
    ds = _with_alt_captions(shapes_dataset, {first: ["another phrasing", "", shapes_dataset.records[0].caption, "a third"]})
    texts, source = ds.text_lists()[0]
    assert source == "source" and texts == [ds.records[0].caption, "another phrasing", "a third"]  # empty and repeated texts dropped
    add_embeddings(ds)
    data = load_training_data(ds.root)
    n = len(ds.ids)
    assert data.num_pictures == n and len(data.cond) == n + 2
    assert data.picture.tolist() == [0, 0, 0, *range(1, n)]
    assert data.texts[:3] == texts
    assert not torch.equal(data.cond[0], data.cond[1])  # each phrasing keeps its own vector
    # the trainer draws a row's points from its picture, not from the row's position
    from pointdiff.trainer import Trainer

    trainer = Trainer(replace(TINY, clouds_per_step=n + 2, points_per_cloud=64), data)
    _, x1, _, cond, _ = trainer.batch(0)
    rows = trainer.clouds_at(0)
    full = PointSampler.from_dataset(ds)
    for k, row in enumerate(rows.tolist()):
        pic = int(data.picture[row])
        ink = {tuple(p) for p in full.points[full.offsets[pic] : full.offsets[pic + 1]].tolist()}
        assert {tuple(p) for p in x1[k].tolist()} <= ink


def test_a_changed_alternative_caption_makes_the_embeddings_stale(shapes_dataset: Dataset) -> None:
    first = shapes_dataset.ids[0]
    ds = _with_alt_captions(shapes_dataset, {first: ["another phrasing"]})
    add_embeddings(ds)
    load_training_data(ds.root)
    ds = _with_alt_captions(ds, {first: ["a changed phrasing"]})
    with pytest.raises(PointdiffError, match=r"out of date \(texts: 1 changed\)"):
        load_training_data(ds.root)


def test_a_sample_without_text_is_left_out_and_each_row_draws_its_own_picture(shapes_dataset: Dataset) -> None:
    from pointdiff.store import write_jsonl

    rows = [r.to_json() for r in shapes_dataset.records]
    rows[1]["caption"] = None  # no text: not embedded, not trained on
    rows[2]["alt_captions"] = ["two texts for this one"]
    write_jsonl(shapes_dataset.root / "manifest.jsonl", rows)
    ds = Dataset(shapes_dataset.root)
    add_embeddings(ds)
    data = load_training_data(ds.root)
    n = len(ds)
    assert data.num_pictures == n - 1 and len(data.cond) == n
    assert data.picture.dtype == torch.long and data.picture.tolist() == [0, 1, 1, *range(2, n - 1)]
    assert data.texts[1:3] == [rows[2]["caption"], "two texts for this one"]
    full = PointSampler.from_dataset(ds)
    for k, j in enumerate([0, *range(2, n)]):  # sampler row k holds dataset sample j's points
        assert torch.equal(data.sampler.points[data.sampler.offsets[k] : data.sampler.offsets[k + 1]], full.points[full.offsets[j] : full.offsets[j + 1]])
    assert torch.equal(data.sampler.pixel_half, full.pixel_half[[0, *range(2, n)]])


def test_large_vectors_stay_in_their_file_and_read_the_same(shapes_dataset: Dataset, monkeypatch: pytest.MonkeyPatch) -> None:
    add_embeddings(shapes_dataset)
    held = load_training_data(shapes_dataset.root)
    monkeypatch.setattr(rows, "HELD_BELOW_BYTES", 0)  # every array counts as large
    on_disk = load_training_data(shapes_dataset.root)
    assert isinstance(on_disk.cond, DiskRows) and on_disk.cond.shape == tuple(held.cond.shape)
    pick = torch.tensor([3, 0, 3, len(held.cond) - 1])
    assert torch.equal(on_disk.cond[pick], held.cond[pick])
