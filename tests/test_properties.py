"""Properties that hold for every input hypothesis tries: the point sampler, the pixel <-> point
mapping, the cloud distances and set metrics, the config loader, and the image loader on mutated files.

The examples are fixed (the "pointdiff" profile in conftest.py: derandomized, no database).
"""

from __future__ import annotations

import io
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from pointdiff.config import apply, load_config
from pointdiff.data.dataset import Dataset, DatasetWriter, Record, Rejection
from pointdiff.data.sampler import PointSampler
from pointdiff.data.images import ImageError, ink_pixels, load_grayscale, pixel_size, pixels_to_points, points_to_pixels
from pointdiff.data.ingest import IngestConfig, image_rejection
from pointdiff.embedding import EmbedConfig
from pointdiff.errors import PointdiffError
from pointdiff.evaluate.runs import EvalConfig
from pointdiff.metrics import chamfer, chamfer_matrix, coverage, emd, mmd, one_nna
from pointdiff.pipeline import GenerateConfig
from pointdiff.recipe import TrainConfig
from pointdiff.text.caption import CaptionConfig
from pointdiff.text.summarize import SummarizeConfig

# ----------------------------------------------------------------------------- the point sampler


@st.composite
def pictures(draw: st.DrawFn) -> list[tuple[int, int, np.ndarray]]:
    """1-4 pictures: (width, height, distinct ink pixels (col, row) inside the picture)."""
    out = []
    for _ in range(draw(st.integers(1, 4))):
        w, h = draw(st.integers(1, 40)), draw(st.integers(1, 40))
        cells = draw(st.lists(st.tuples(st.integers(0, w - 1), st.integers(0, h - 1)), min_size=1, max_size=20, unique=True))
        out.append((w, h, np.array(cells, np.uint16)))
    return out


@contextmanager
def dataset_of(pics: list[tuple[int, int, np.ndarray]]) -> Iterator[Dataset]:
    """The pictures written as a real dataset folder (temporary)."""
    with tempfile.TemporaryDirectory() as tmp:
        writer = DatasetWriter(tmp)
        for k, (w, h, px) in enumerate(pics):
            writer.add(Record(id=f"p{k}", source=f"p{k}.png", sha256=f"{k:064x}", width=w, height=h, ink_count=len(px)), px)
        writer.close()
        yield Dataset(tmp)


@given(pictures(), st.integers(1, 64), st.booleans(), st.integers(0, 2**31), st.data())
def test_the_sampler_draws_the_asked_count_from_each_picture_inside_the_square(pics, num_points: int, jitter: bool, seed: int, data: st.DataObject) -> None:  # noqa: ANN001
    idx = data.draw(st.lists(st.integers(0, len(pics) - 1), min_size=1, max_size=6))  # repeats allowed
    with dataset_of(pics) as ds:
        sampler = PointSampler.from_dataset(ds)
        out = sampler.sample(torch.tensor(idx), num_points, torch.Generator().manual_seed(seed), jitter=jitter)
    assert out.shape == (len(idx), num_points, 2) and out.dtype == torch.float32
    assert float(out.abs().max()) <= 3.0
    for row, i in zip(out.numpy(), idx):
        w, h, px = pics[i]
        centres = pixels_to_points(px, w, h)
        gap = np.abs(row[:, None, :] - centres[None, :, :]).max(-1).min(1)  # to the nearest ink pixel's centre
        half = float(pixel_size(w, h)) / 2
        assert gap.max() <= (half * (1 + 1e-5) if jitter else 0.0)  # its own picture's ink, spread over the pixel at most


@given(pictures(), st.integers(0, 2**31), st.booleans())
def test_the_sampler_repeats_itself_for_a_seed_and_draws_fresh_points_each_time(pics, seed: int, jitter: bool) -> None:  # noqa: ANN001
    assume(jitter or any(len(px) > 1 for _, _, px in pics))  # one pixel and no jitter: every draw is that pixel
    with dataset_of(pics) as ds:
        sampler = PointSampler.from_dataset(ds)
    idx = torch.arange(len(pics))
    g = torch.Generator().manual_seed(seed)
    first, second = sampler.sample(idx, 64, g, jitter), sampler.sample(idx, 64, g, jitter)
    assert not torch.equal(first, second)  # a fresh draw each time (the reference's augmentation)
    assert torch.equal(first, sampler.sample(idx, 64, torch.Generator().manual_seed(seed), jitter))  # same seed, same points
    assert torch.equal(sampler.sample_all(64, seed=seed), sampler.sample_all(64, seed=seed))


# ----------------------------------------------------------------------------- pixels <-> points


@st.composite
def image_pixels(draw: st.DrawFn) -> tuple[int, int, np.ndarray]:
    w, h = draw(st.integers(1, 4000)), draw(st.integers(1, 4000))
    cells = draw(st.lists(st.tuples(st.integers(0, w - 1), st.integers(0, h - 1)), min_size=1, max_size=30))
    return w, h, np.array(cells, np.uint16)


@given(image_pixels())
def test_pixels_to_points_round_trips_keeps_the_aspect_and_centres_the_picture(case: tuple[int, int, np.ndarray]) -> None:
    w, h, px = case
    pts = pixels_to_points(px, w, h)
    assert np.abs(pts).max() <= 3.0
    np.testing.assert_allclose(points_to_pixels(pts, w, h), px, atol=2e-3)  # back to the same pixels
    unit = 6.0 / max(w, h)  # one scale for x and y: the aspect ratio is kept
    assert float(pixel_size(w, h)) == pytest.approx(unit, rel=1e-6)
    d_px = np.linalg.norm(px[:, None, :].astype(np.float64) - px[None, :, :], axis=-1)
    d_pt = np.linalg.norm(pts[:, None, :].astype(np.float64) - pts[None, :, :], axis=-1)
    np.testing.assert_allclose(d_pt, d_px * unit, atol=1e-4)  # distances scale alike in every direction
    mirror = pixels_to_points(np.stack([w - 1 - px[:, 0], h - 1 - px[:, 1]], 1), w, h)
    np.testing.assert_allclose(mirror, -pts, atol=1e-5)  # centred: the opposite pixel is the opposite point
    lower = pixels_to_points(np.stack([px[:, 0], np.minimum(px[:, 1] + 1, h - 1)], 1), w, h)
    assert (lower[:, 1] <= pts[:, 1]).all()  # rows grow downward, y grows upward


# ----------------------------------------------------------------------------- distances and set metrics


def clouds(n: int | st.SearchStrategy[int]) -> st.SearchStrategy[np.ndarray]:
    size = st.just(n) if isinstance(n, int) else n
    return size.flatmap(lambda k: arrays(np.float64, (k, 2), elements=st.floats(-3, 3, allow_nan=False, width=32)))


def diameter(*sets: np.ndarray) -> float:
    pts = np.concatenate(sets)
    return float(np.linalg.norm(pts[:, None] - pts[None], axis=-1).max())


@given(clouds(st.integers(1, 24)), clouds(st.integers(1, 24)), st.randoms(use_true_random=False))
def test_chamfer_is_symmetric_zero_on_itself_blind_to_order_and_bounded(a: np.ndarray, b: np.ndarray, rnd) -> None:  # noqa: ANN001
    ab = float(chamfer(torch.tensor(a), torch.tensor(b))[0])
    assert float(chamfer(torch.tensor(b), torch.tensor(a))[0]) == pytest.approx(ab, rel=1e-6, abs=1e-9)
    shuffled = a[rnd.sample(range(len(a)), len(a))]
    assert float(chamfer(torch.tensor(a), torch.tensor(shuffled))[0]) == 0.0
    assert float(chamfer(torch.tensor(shuffled), torch.tensor(b))[0]) == pytest.approx(ab, rel=1e-5, abs=1e-9)
    assert 0.0 <= ab <= 2 * diameter(a, b) ** 2 * (1 + 1e-6)  # each term averages squared gaps no longer than the diameter
    kd = chamfer_matrix([a], [b], backend="kdtree")[0, 0]
    assert kd == pytest.approx(ab, rel=1e-5, abs=1e-6)  # both backends agree


@given(st.integers(1, 12).flatmap(lambda n: st.tuples(clouds(n), clouds(n))), st.randoms(use_true_random=False))
def test_emd_is_symmetric_zero_on_itself_blind_to_order_and_bounded(pair: tuple[np.ndarray, np.ndarray], rnd) -> None:  # noqa: ANN001
    a, b = pair
    ab = float(emd(a, b)[0])
    assert float(emd(b, a)[0]) == pytest.approx(ab, rel=1e-9, abs=1e-12)
    perm = rnd.sample(range(len(a)), len(a))
    assert float(emd(a, a[perm])[0]) == 0.0
    assert float(emd(a[perm], b)[0]) == pytest.approx(ab, rel=1e-9, abs=1e-12)
    lower = float(np.linalg.norm(a.mean(0) - b.mean(0)))  # no matching beats moving the centres
    upper = float(np.linalg.norm(a - b, axis=1).mean())  # the matching in the given order is one candidate
    assert lower - 1e-9 <= ab <= upper + 1e-9


@st.composite
def cloud_sets(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Two sets of 8-point clouds from a drawn seed: continuous, so no two distances tie."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_g, n_r = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    shift = draw(st.floats(0, 2))
    return rng.normal(size=(n_g, 8, 2)) + shift, rng.normal(size=(n_r, 8, 2))


@given(cloud_sets(), st.randoms(use_true_random=False))
def test_one_nna_is_blind_to_order_and_to_which_set_is_called_generated(sets: tuple[np.ndarray, np.ndarray], rnd) -> None:  # noqa: ANN001
    gen, ref = sets
    d_gg, d_rr, d_gr = chamfer_matrix(gen), chamfer_matrix(ref), chamfer_matrix(gen, ref)
    value = one_nna(d_gg, d_rr, d_gr)
    total = len(gen) + len(ref)
    assert round(value * total) == pytest.approx(value * total) and 0 <= value <= 1  # a share of the pooled clouds
    p = np.array(rnd.sample(range(len(gen)), len(gen)))
    assert one_nna(d_gg[np.ix_(p, p)], d_rr, d_gr[p]) == value  # generated clouds in another order
    assert one_nna(d_rr, d_gg, d_gr.T) == value  # the roles swapped


@given(cloud_sets())
def test_set_metrics_on_identical_and_on_separable_sets(sets: tuple[np.ndarray, np.ndarray]) -> None:
    gen, _ = sets
    d = chamfer_matrix(gen)
    assert mmd(d) == 0.0 and coverage(d) == 1.0  # a set against itself: every reference matched at distance 0
    assert one_nna(d, d, d) == 0.0  # each cloud's nearest other is its own copy in the other set
    far = gen + 100.0
    assert one_nna(d, chamfer_matrix(far), chamfer_matrix(gen, far)) == (1.0 if len(gen) > 1 else 0.0)  # apart: told apart (a lone cloud has only the other set)


# ----------------------------------------------------------------------------- the config loader

STAGE_CONFIGS = [TrainConfig, IngestConfig, EmbedConfig, GenerateConfig, EvalConfig, CaptionConfig, SummarizeConfig]
yaml_keys = st.one_of(st.text(min_size=1, max_size=24), st.integers(), st.booleans(), st.floats(allow_nan=False), st.none())


@given(st.sampled_from(STAGE_CONFIGS), yaml_keys, st.one_of(st.none(), st.integers(), st.text(max_size=8)))
def test_any_unknown_key_is_an_error_naming_it(cls: type, key: object, value: object) -> None:
    assume(key not in {f.name for f in fields(cls)})
    with pytest.raises(PointdiffError, match="unknown setting") as err:
        apply(cls(), {key: value})  # --set, flags, pointdiff.yaml sections
    assert str(key) in str(err.value)
    with tempfile.TemporaryDirectory() as tmp:  # a --config file, keys exactly as YAML reads them
        path = Path(tmp) / "c.yaml"
        path.write_text(yaml.safe_dump({key: value}), encoding="utf-8")
        with pytest.raises(PointdiffError, match="unknown setting"):
            load_config(cls, config_file=path)


# ----------------------------------------------------------------------------- images: mutated files


def _seed_images() -> dict[str, bytes]:
    """Small valid files of each format ingest reads, with ink on paper."""
    gray = np.random.default_rng(0).integers(150, 256, (48, 64)).astype(np.uint8)  # paper with some texture, so files have a body to damage
    gray[10:38, 12:50] = 0
    out = {}
    for name, mode, fmt in [("gray.png", "L", "PNG"), ("rgba.png", "RGBA", "PNG"), ("pal.png", "P", "PNG"), ("photo.jpg", "RGB", "JPEG"), ("anim.gif", "P", "GIF"), ("x.bmp", "RGB", "BMP"), ("x.webp", "RGB", "WEBP")]:
        buf = io.BytesIO()
        Image.fromarray(gray).convert(mode).save(buf, format=fmt)
        out[name] = buf.getvalue()
    return out


SEEDS = _seed_images()


@st.composite
def mutated_images(draw: st.DrawFn) -> tuple[str, bytes]:
    """A seed file with 1-4 mutations: byte flips, cuts, insertions, and large numbers written over header fields.

    The format's magic bytes (the first 8) are mostly left alone, so most files reach a decoder.
    """
    name = draw(st.sampled_from(sorted(SEEDS)))
    data = bytearray(SEEDS[name])
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "header"]))
        at = draw(st.integers(0 if draw(st.integers(0, 9)) == 0 else 8, max(8, len(data) - 1)))
        if op == "flip" and at < len(data):
            data[at] ^= draw(st.integers(1, 255))
        elif op == "cut":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:  # widths, heights, chunk lengths: where a small file claims a huge picture
            at = draw(st.integers(8, 40))
            data[at : at + 4] = draw(st.integers(0, 2**32 - 1)).to_bytes(4, draw(st.sampled_from(["big", "little"])))
    return name, bytes(data)


KINDS = {Rejection.NOT_IMAGE, Rejection.CORRUPT, Rejection.UNREADABLE}


@contextmanager
def no_hang(seconds: int) -> Iterator[None]:
    """Fail instead of hanging: SIGALRM after ``seconds``."""

    def alarm(*_: object) -> None:
        raise TimeoutError(f"image loading took over {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@settings(max_examples=150)
@given(mutated_images())
def test_a_mutated_image_is_a_sample_or_a_named_rejection(scratch: Path, case: tuple[str, bytes]) -> None:
    name, data = case
    path = scratch / name
    path.write_bytes(data)
    cfg = IngestConfig()
    with no_hang(20):
        try:
            gray = load_grayscale(path, cfg.max_size)  # what ingest's read_ink does with each file
            pixels = ink_pixels(gray, cfg.threshold)
        except ImageError as e:
            assert image_rejection(name, e).kind in KINDS
            return
    assert gray.dtype == np.uint8 and gray.ndim == 2 and max(gray.shape) <= cfg.max_size
    assert pixels.ndim == 2 and pixels.shape[1] == 2
    if len(pixels):
        assert pixels[:, 0].max() < gray.shape[1] and pixels[:, 1].max() < gray.shape[0]
