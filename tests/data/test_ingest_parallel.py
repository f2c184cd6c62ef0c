"""`ingest` reads a folder's images in worker processes; the dataset is the same byte for byte."""

from __future__ import annotations

import json
import multiprocessing
import random
import re
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import pointdiff.data.ingest as ingest_mod
from pointdiff.cli.app import app
from pointdiff.data.dataset import Rejection
from pointdiff.data.images import InkRead
from pointdiff.data.ingest import IN_FLIGHT_PER_WORKER, IngestConfig, ingest, pool_size, read_in_order
from pointdiff.data.sources import Candidate
from pointdiff.errors import PointdiffError


def _folder(root: Path) -> Path:
    """Sixteen files: 12 drawings of assorted sizes (one shrunk), a duplicate, a corrupt file, a blank image, a text file."""
    root.mkdir()
    for k in range(12):
        h, w = (40 + 3 * k, 56 - 2 * k) if k != 5 else (300, 200)  # number 5 is shrunk to max_size
        img = np.full((h, w), 255, np.uint8)
        img[2 + k : 9 + 2 * k, 3 : 10 + k] = k * 9  # ink of several gray levels, one bar per picture
        Image.fromarray(img).save(root / f"d{k}.png")
        (root / f"d{k}.txt").write_text(f"drawing {k}")
    (root / "e-copy.png").write_bytes((root / "d3.png").read_bytes())  # a duplicate, after d3 in order
    (root / "e-copy.txt").write_text("the third bar, in other words")
    (root / "f-cut.png").write_bytes((root / "d7.png").read_bytes()[:50])  # corrupt: cut inside its image data
    Image.new("L", (30, 30), 255).save(root / "g-blank.png")  # no ink
    (root / "notes.txt").write_text("not a picture")
    return root


def _files(root: Path) -> dict[str, bytes]:
    """Every file of a dataset, ``dataset.json``'s creation time left out (it is the clock's)."""
    files = {p.name: p.read_bytes() for p in sorted(root.iterdir())}
    files["dataset.json"] = re.sub(rb'"created": "[^"]*"', b"", files["dataset.json"])
    return files


def test_two_workers_write_the_same_dataset_as_one_byte_for_byte(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest_mod, "IMAGES_PER_WORKER", 1)  # a pool even for these few images
    src = _folder(tmp_path / "src")
    one = ingest(src, tmp_path / "one", IngestConfig(workers=1, max_size=128, contact_sheet=0))
    children: list[int] = []  # worker processes alive while each image is consumed
    progress = lambda done, total, **fields: children.append(len(multiprocessing.active_children()))  # noqa: E731
    two = ingest(src, tmp_path / "two", IngestConfig(workers=2, max_size=128, contact_sheet=0), progress=progress)
    assert (one.workers, two.workers) == (1, 2) and children == [2] * 15  # the second really read in two other processes
    a, b = _files(tmp_path / "one"), _files(tmp_path / "two")
    assert sorted(a) == ["dataset.json", "ink_offsets.npy", "ink_xy.npy", "manifest.jsonl", "rejected.jsonl"]
    assert a == b
    # What the identical bytes hold: all the kinds of outcome, so the check covers each of them.
    assert [(r.source, r.kind) for r in one.rejected] == [
        ("notes.txt", Rejection.NOT_IMAGE),
        ("e-copy.png", Rejection.DUPLICATE),
        ("f-cut.png", Rejection.CORRUPT),
        ("g-blank.png", Rejection.NO_INK),
    ]
    assert [(r.source, r.kind, r.detail) for r in one.rejected] == [(r.source, r.kind, r.detail) for r in two.rejected]
    assert one.taken == two.taken == 12 and one.resized == two.resized == 1
    rows = [json.loads(line) for line in a["manifest.jsonl"].splitlines()]
    assert [r["id"] for r in rows] == [f"d{k}" for k in range(12)]  # the folder's order, not the workers'
    assert rows[3]["alt_captions"] == ["the third bar, in other words"]  # the duplicate's caption joined the first copy


class _ThreadPool(ThreadPoolExecutor):
    """Stands in for the process pool: same interface, no process start-up (the window logic is what is tested)."""

    def __init__(self, workers: int, mp_context: Any = None, initializer: Any = None):
        super().__init__(workers)


def test_reads_keep_the_order_and_never_run_more_than_a_window_ahead(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    rng = random.Random(0)
    delays = [rng.uniform(0, 0.004) for _ in range(60)]  # finishing order shuffled against submitting order

    def fake_read(path: Path, max_size: int, threshold: int, color: bool = False) -> InkRead:
        time.sleep(delays[int(path.name)])
        return InkRead(sha256=path.name)

    monkeypatch.setattr(ingest_mod, "ProcessPoolExecutor", _ThreadPool)
    monkeypatch.setattr(ingest_mod, "read_ink", fake_read)
    pulled = []

    def candidates() -> Iterator[Candidate]:
        for k in range(60):
            pulled.append(k)
            yield Candidate(tmp_path / str(k), str(k), str(k))

    got = []
    for c, read in read_in_order(candidates(), IngestConfig(workers=3), workers=3):
        assert read.sha256 == c.id  # each result goes with its own candidate
        got.append(c.id)
        assert len(pulled) - len(got) <= IN_FLIGHT_PER_WORKER * 3  # bounded: never the whole folder at once
    assert got == [str(k) for k in range(60)]


def test_a_worker_that_dies_is_an_error_that_says_what_to_try(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    class DyingPool(_ThreadPool):
        def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future:
            future: Future = Future()
            future.set_exception(BrokenProcessPool("a child process terminated abruptly"))
            return future

    monkeypatch.setattr(ingest_mod, "ProcessPoolExecutor", DyingPool)
    monkeypatch.setattr(ingest_mod, "IMAGES_PER_WORKER", 1)
    src = _folder(tmp_path / "src")
    with pytest.raises(PointdiffError, match=r"worker process died .*\(at d0\.png or one after it\).*--workers 1"):
        ingest(src, tmp_path / "ds", IngestConfig(workers=2, contact_sheet=0))
    assert not (tmp_path / "ds").exists() and [p.name for p in tmp_path.iterdir()] == ["src"]  # nothing half-built left


def test_a_few_images_start_no_pool_and_workers_must_be_positive(tmp_path: Path) -> None:
    per = ingest_mod.IMAGES_PER_WORKER
    assert pool_size(16, per) == 1  # start-up would cost more than the images
    assert pool_size(2, per + 1) == 2 and pool_size(16, 2 * per + 1) == 3 and pool_size(4, 100 * per) == 4
    with pytest.raises(PointdiffError, match="workers must be 1 or more, got 0"):
        ingest(_folder(tmp_path / "src"), tmp_path / "ds", IngestConfig(workers=0, contact_sheet=0))


def test_cli_workers_flag_reaches_the_core(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest_mod, "IMAGES_PER_WORKER", 1)
    src = _folder(tmp_path / "src")
    runner = CliRunner(env={"COLUMNS": "200", "POINTDIFF_WORKSPACE": ""})
    result = runner.invoke(app, ["ingest", str(src), "--out", str(tmp_path / "ds"), "--contact-sheet", "0", "--workers", "0"])
    assert result.exit_code != 0 and str(result.exception) == "workers must be 1 or more, got 0"
    result = runner.invoke(app, ["ingest", str(src), "--out", str(tmp_path / "ds"), "--contact-sheet", "0", "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert "(2 worker processes)" in result.output  # the summary says how the images were read
