"""A new dataset folder goes in whole, and only over a dataset it may replace."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pointdiff.data.staging import RESUME_INK_FILE, RESUME_LOG_FILE, Progress, check_out, staged
from pointdiff.errors import PointdiffError


def test_check_out_refuses_what_it_may_not_replace(tmp_path: Path) -> None:
    check_out(tmp_path / "new", overwrite=False)  # absent: fine
    (tmp_path / "empty").mkdir()
    check_out(tmp_path / "empty", overwrite=False)  # empty folder: fine
    (tmp_path / "file").write_text("x")
    with pytest.raises(PointdiffError, match="is a file"):
        check_out(tmp_path / "file", overwrite=True)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(PointdiffError, match="not a pointdiff dataset"):
        check_out(tmp_path / "mine", overwrite=True)
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "dataset.json").write_text("{}")
    with pytest.raises(PointdiffError, match="--overwrite"):
        check_out(tmp_path / "ds", overwrite=False)
    check_out(tmp_path / "ds", overwrite=True)


def test_staged_replaces_whole_on_success_and_leaves_the_old_one_on_failure(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    out.mkdir()
    (out / "dataset.json").write_text("old")
    (out / "captions.jsonl").write_text("old captions")
    with pytest.raises(RuntimeError):
        with staged(out, overwrite=True) as staging:
            (staging / "dataset.json").write_text("new")
            raise RuntimeError("failed half way")
    assert sorted(p.name for p in out.iterdir()) == ["captions.jsonl", "dataset.json"] and (out / "dataset.json").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]  # the half-built folder is gone
    with staged(out, overwrite=True) as staging:
        assert staging.parent == tmp_path and staging.name.startswith(".ds.")
        (staging / "dataset.json").write_text("new")
    assert [p.name for p in out.iterdir()] == ["dataset.json"] and (out / "dataset.json").read_text() == "new"  # nothing old survives
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]


def _record(staging: Path, key: str, rows: int) -> None:
    """A killed run's record: ``rows`` rows, every odd one with k + 1 ink pixels, flushed every 4."""
    progress = Progress(staging, key, every=4)
    for k in range(rows):
        pixels = np.full((k + 1, 2), k, np.uint16) if k % 2 else None
        progress.add({"n": k, "ink": 0 if pixels is None else k + 1}, pixels)
    # no finish(): killed, with rows beyond the last flush lost


def test_progress_replays_what_was_flushed_and_cuts_a_torn_tail(tmp_path: Path) -> None:
    _record(tmp_path, "key", rows=10)  # flushed: rows 0-7
    replay = list(Progress(tmp_path, "key", every=4).replay())
    assert [row["n"] for row, _ in replay] == list(range(8))
    assert all((px is None) == (k % 2 == 0) for k, (_, px) in enumerate(replay))
    assert all(np.array_equal(px, np.full((k + 1, 2), k)) for k, (_, px) in enumerate(replay) if px is not None)
    # A kill in mid-flush: the log cut inside row 6, the ink cut inside row 5's pixels.
    log, ink = tmp_path / RESUME_LOG_FILE, tmp_path / RESUME_INK_FILE
    lines = log.read_bytes().split(b"\n")
    log.write_bytes(b"\n".join(lines[:6]) + b"\n" + lines[6][:5])
    ink.write_bytes(ink.read_bytes()[: 4 * (2 + 4 + 3)])  # rows 1 and 3 whole, 3 of row 5's 6 pixels
    progress = Progress(tmp_path, "key", every=4)
    assert progress.resumed == 5 and [row["n"] for row in progress.rows] == [0, 1, 2, 3, 4]  # row 5 lacks pixels: it and all after are redone
    assert log.read_bytes().count(b"\n") == 5 and ink.stat().st_size == 4 * (2 + 4)  # cut to exactly those
    progress.add({"n": 5, "ink": 1}, np.zeros((1, 2), np.uint16))
    progress.flush()
    assert [row["n"] for row, _ in Progress(tmp_path, "key").replay()] == [0, 1, 2, 3, 4, 5]  # continues after the cut
    with pytest.raises(ValueError, match="row says 2 ink pixels, got 1"):
        progress.add({"ink": 2}, np.zeros((1, 2), np.uint16))
    assert Progress(tmp_path, "another key").rows == []  # another run's record is not continued


def test_staged_continues_the_folder_of_the_same_source_only(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    with pytest.raises(KeyboardInterrupt):
        with staged(out, overwrite=False, resume_key="a") as first:
            _record(first, "a", rows=4)
            (first / ".ink_xy.x.raw").write_bytes(b"half")  # what else the interrupted run had written
            raise KeyboardInterrupt  # Ctrl-C: kept for the next run
    with pytest.raises(KeyboardInterrupt):
        with staged(out, overwrite=False, resume_key="a") as again:  # the same source: its folder, with its record only
            assert again == first and sorted(p.name for p in again.iterdir()) == [".resume.ink", ".resume.json", ".resume.jsonl"]
            assert len(Progress(again, "a").rows) == 4
            raise KeyboardInterrupt
    with pytest.raises(RuntimeError):
        with staged(out, overwrite=False, resume_key="b") as other:  # another source: starts afresh, the old record goes
            assert other != first and not first.exists() and not any(other.iterdir())
            _record(other, "b", rows=4)
            raise RuntimeError("a failure, not an interruption: removed")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(KeyboardInterrupt):
        with staged(out, overwrite=False) as plain:  # no key: nothing to continue, nothing kept
            raise KeyboardInterrupt
    assert not plain.exists() and list(tmp_path.iterdir()) == []
    with staged(out, overwrite=False, resume_key="a") as done:
        (done / "dataset.json").write_text("{}")
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]
