"""Shared fixtures: small datasets built in a temp dir, in well under a second."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

from pointdiff.data.dataset import Dataset, DatasetWriter, Record

# Property tests (tests/test_properties.py): the same examples every run (derandomize: CI is
# deterministic), no deadline (a busy 2-core machine is slow at random), few examples (seconds,
# not minutes), and nothing written into the tree (no example database; hypothesis's cache of
# the source's constants goes to the temp folder instead of ./.hypothesis).
settings.register_profile("pointdiff", max_examples=50, deadline=None, derandomize=True, database=None)
settings.load_profile("pointdiff")
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "pointdiff-hypothesis")


def _ring(cx: float, cy: float, r: float, size: int = 64) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    d = np.hypot(xx - cx, yy - cy)
    rows, cols = np.nonzero(np.abs(d - r) < 1.5)
    return np.stack([cols, rows], 1).astype(np.uint16)


def _bar(horizontal: bool, size: int = 64) -> np.ndarray:
    img = np.zeros((size, size), bool)
    if horizontal:
        img[size // 2 - 2 : size // 2 + 2, 8:-8] = True
    else:
        img[8:-8, size // 2 - 2 : size // 2 + 2] = True
    rows, cols = np.nonzero(img)
    return np.stack([cols, rows], 1).astype(np.uint16)


SHAPES = {
    "a small ring on the left": lambda: _ring(20, 32, 10),
    "a big ring in the middle": lambda: _ring(32, 32, 24),
    "a horizontal bar": lambda: _bar(True),
    "a vertical bar": lambda: _bar(False),
}


def make_shapes_dataset(root: Path, copies: int = 2) -> Dataset:
    """A tiny captioned dataset of 4 simple shapes (64x64), ``copies`` samples each."""
    w = DatasetWriter(root, {"source": "test:shapes"})
    k = 0
    for _ in range(copies):
        for caption, make in SHAPES.items():
            px = make()
            w.add(Record(id=f"shape-{k:03d}", source=f"shape-{k:03d}.png", sha256=f"{k:064x}", width=64, height=64, ink_count=0, caption=caption, labels={"shape": caption}), px)
            k += 1
    w.close()
    return Dataset(root)


@pytest.fixture(autouse=True)
def _hub_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reaches for the network: pointdiff downloads missing hub models unless HF_HUB_OFFLINE is set.

    The tests of the download path unset it and replace the one download call.
    """
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def shapes_dataset(tmp_path: Path) -> Dataset:
    """4 shapes x 2 copies, captioned, in a temp dataset folder."""
    return make_shapes_dataset(tmp_path / "shapes")


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """Run a module's tiny models on one torch thread: faster for them, and two OpenMP threads
    on a busy shared 2-core machine can stall each other."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def train_data(shapes_dataset: Dataset):  # noqa: ANN201 - a TrainingData
    """The shapes dataset with stand-in text vectors, loaded for training."""
    from tiny_runs import add_embeddings

    from pointdiff.data.training import load_training_data

    add_embeddings(shapes_dataset)
    return load_training_data(shapes_dataset.root)
