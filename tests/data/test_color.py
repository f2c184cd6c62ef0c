"""Colour clouds: ink read on luminance with each pixel's RGB, stored, drawn, streamed and resumed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pointdiff.data.dataset import INK_RGB_FILE, Dataset
from pointdiff.data.sampler import PointSampler, StreamedPointSampler
from pointdiff.data.images import luminance, read_ink, rgb_to_values, values_to_rgb
from pointdiff.data.ingest import IngestConfig, ingest
from pointdiff.data.staging import Progress
from pointdiff.errors import PointdiffError

RED, BLUE, PALE = (200, 30, 30), (30, 60, 200), (250, 230, 120)  # ink, ink, not ink (luminance 226)


def _picture(path: Path, size: int = 32) -> Path:
    """A red bar, a blue bar and a pale yellow bar (light enough to be paper) on white."""
    a = np.full((size, size, 3), 255, np.uint8)
    a[4:8, 4:28] = RED
    a[14:18, 4:28] = BLUE
    a[24:28, 4:28] = PALE
    Image.fromarray(a).save(path)
    return path


def test_ink_is_decided_on_luminance_and_keeps_its_colour(tmp_path: Path) -> None:
    path = _picture(tmp_path / "bars.png")
    grey, color = read_ink(path, None), read_ink(path, None, color=True)
    assert grey.pixels is not None and color.pixels is not None
    assert color.pixels.shape == (len(grey.pixels), 5)
    assert np.array_equal(color.pixels[:, :2], grey.pixels)  # the same ink, whatever the colour
    rows = color.pixels[:, 1]
    assert set(rows.tolist()) == set(range(4, 8)) | set(range(14, 18))  # the pale bar is paper
    assert (color.pixels[rows < 10, 2:] == RED).all() and (color.pixels[rows > 10, 2:] == BLUE).all()


def test_luminance_is_pils() -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    assert np.array_equal(luminance(rgb), np.asarray(Image.fromarray(rgb).convert("L")))


def test_colour_values_round_trip() -> None:
    rgb = np.arange(256, dtype=np.uint8).repeat(3).reshape(-1, 3)
    v = rgb_to_values(rgb)
    assert v.min() == -3.0 and v.max() == 3.0  # the coordinates' range
    assert np.allclose(values_to_rgb(v) * 255, rgb, atol=1e-3)
    assert values_to_rgb(np.array([[9.0, -9.0, 0.0]])).tolist() == [[1.0, 0.0, 0.5]]  # clipped


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    for k in range(3):
        _picture(src / f"img{k}.png", size=32 + 8 * k)
    (src / "metadata.jsonl").write_text("".join(json.dumps({"file_name": f"img{k}.png", "text": f"bars {k}"}) + "\n" for k in range(3)))
    return src


def test_a_colour_dataset_stores_and_draws_colour(folder: Path, tmp_path: Path) -> None:
    ingest(folder, tmp_path / "color", IngestConfig(color=True, workers=1, contact_sheet=4))
    ingest(folder, tmp_path / "grey", IngestConfig(workers=1, contact_sheet=0))
    ds, grey = Dataset(tmp_path / "color"), Dataset(tmp_path / "grey")
    assert ds.color and ds.point_dim == 5 and ds.info["color"] is True
    assert not grey.color and grey.point_dim == 2 and not (grey.root / INK_RGB_FILE).exists()
    for i in range(len(ds)):
        assert np.array_equal(ds.pixels(i), grey.pixels(i))
        assert {tuple(c) for c in ds.colors(i).tolist()} == {RED, BLUE}
    sampler = PointSampler.from_dataset(ds)
    assert sampler.dim == 5
    pts = sampler.sample_all(256, seed=1, jitter=True)
    assert pts.shape == (3, 256, 5)
    assert np.allclose(pts[..., :2], PointSampler.from_dataset(grey).sample_all(256, seed=1, jitter=True))  # same draws, same jitter
    colours = {tuple(np.round(values_to_rgb(c) * 255).astype(int)) for c in pts[..., 2:].reshape(-1, 3).numpy()}
    assert colours == {RED, BLUE}  # jitter moves a point over its pixel, never its colour


def test_a_streamed_colour_sampler_draws_what_memory_draws(folder: Path, tmp_path: Path) -> None:
    ingest(folder, tmp_path / "color", IngestConfig(color=True, workers=1, contact_sheet=0))
    ds = Dataset(tmp_path / "color")
    memory, streamed = PointSampler.from_dataset(ds, stream=False), PointSampler.from_dataset(ds, stream=True)
    assert isinstance(streamed, StreamedPointSampler) and streamed.dim == 5
    idx = torch.tensor([2, 0, 1, 2])
    for jitter in (False, True):
        a = memory.sample(idx, 100, torch.Generator().manual_seed(3), jitter=jitter)
        b = streamed.sample(idx, 100, torch.Generator().manual_seed(3), jitter=jitter)
        assert torch.equal(a, b)


def test_a_colour_dataset_without_its_colours_is_refused(folder: Path, tmp_path: Path) -> None:
    ingest(folder, tmp_path / "color", IngestConfig(color=True, workers=1, contact_sheet=0))
    (tmp_path / "color" / INK_RGB_FILE).unlink()
    with pytest.raises(PointdiffError, match="ink_rgb.npy"):
        Dataset(tmp_path / "color")


def test_the_resume_record_keeps_colour_pixels(tmp_path: Path) -> None:
    rec = Progress(tmp_path, "k", every=2, columns=5)
    px = np.arange(30, dtype=np.uint16).reshape(6, 5)
    rec.add({"ink": 6}, px)
    rec.add({"ink": 0})
    rec.add({"ink": 1}, px[:1])  # not flushed: lost, as a kill would lose it
    rec.close()
    again = list(Progress(tmp_path, "k", columns=5).replay())
    assert len(again) == 2 and np.array_equal(again[0][1], px) and again[1][1] is None


def test_a_colour_ingest_does_not_continue_a_grey_one(folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pointdiff.data.ingest as ingest_mod

    keys: list[str] = []
    real = ingest_mod._resume_key
    monkeypatch.setattr(ingest_mod, "_resume_key", lambda *a: keys.append(real(*a)) or keys[-1])
    ingest(folder, tmp_path / "a", IngestConfig(workers=1, contact_sheet=0))
    ingest(folder, tmp_path / "b", IngestConfig(color=True, workers=1, contact_sheet=0))
    assert keys[0] != keys[1]
