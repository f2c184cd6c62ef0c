"""One writer per dataset or run folder: a second is refused with the first one's pid; a killed one's lock is taken over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pointdiff.errors import PointdiffError
from pointdiff.lock import exclusive, lock_file

HOLD = """
import sys, time
from pointdiff.lock import exclusive
with exclusive(sys.argv[1], "train"):
    print("holding", flush=True)
    time.sleep(60)
"""


def _holder(target: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(target)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
    return proc


def test_a_second_writer_is_refused_with_the_first_ones_pid(tmp_path: Path) -> None:
    target = tmp_path / "runs" / "a"
    proc = _holder(target)
    try:
        with pytest.raises(PointdiffError, match=rf"{target} is in use: `pointdiff train` \(pid {proc.pid}\) is already running"):
            with exclusive(target, "train"):
                pass
    finally:
        proc.kill()
        proc.wait()


def test_the_lock_of_a_killed_process_is_taken_over(tmp_path: Path) -> None:
    target = tmp_path / "dataset"
    proc = _holder(target)
    os.kill(proc.pid, signal.SIGKILL)  # no chance to clean up: the lock file stays behind
    proc.wait()
    assert lock_file(target).exists()
    with exclusive(target, "embed"):
        assert f"pid {os.getpid()}" in lock_file(target).read_text()


def test_the_lock_is_released_after_the_block_and_after_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        with exclusive(tmp_path / "x", "ingest"):
            raise ValueError("boom")
    start = time.perf_counter()
    with exclusive(tmp_path / "x", "ingest"):
        with pytest.raises(PointdiffError, match="`pointdiff ingest`"):  # the same process, a second holder
            with exclusive(tmp_path / "x", "embed"):
                pass
    assert time.perf_counter() - start < 5
    assert not lock_file(tmp_path / "x").exists()  # a clean exit leaves nothing beside the folder


def test_train_embed_and_ingest_take_their_folders_lock(tmp_path: Path, shapes_dataset, train_data) -> None:  # noqa: ANN001
    from pointdiff.embedding import EmbedConfig, embed_dataset
    from pointdiff.training import train
    from tiny_runs import TINY

    run = tmp_path / "run"
    proc = _holder(run)
    try:
        with pytest.raises(PointdiffError, match="already running"):
            train(TINY, train_data, run_dir=run)
    finally:
        proc.kill()
        proc.wait()
    proc = _holder(shapes_dataset.root)
    try:
        with pytest.raises(PointdiffError, match="already running"):
            embed_dataset(shapes_dataset.root, EmbedConfig(stats=False))
    finally:
        proc.kill()
        proc.wait()
    from pointdiff.data.ingest import IngestConfig, ingest

    proc = _holder(tmp_path / "faces")
    try:
        with pytest.raises(PointdiffError, match="already running"):
            ingest("builtin:faces", tmp_path / "faces", IngestConfig(count=2))
    finally:
        proc.kill()
        proc.wait()
    assert not (tmp_path / "faces").exists()  # nothing was written
