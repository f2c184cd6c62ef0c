"""DiskRows: rows of an array read from its file when asked for, never held."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from pointdiff.data.rows import DiskRows
from pointdiff.errors import PointdiffError
from pointdiff.store import load_tensors, save_tensors


def test_rows_of_a_safetensors_tensor_are_the_tensor_s_rows(tmp_path: Path) -> None:
    a, b = torch.randn(9, 4), torch.arange(6, dtype=torch.float32).view(3, 2)
    save_tensors(tmp_path / "t.safetensors", {"a": a, "b": b}, {"note": "x"})
    rows = DiskRows.from_safetensors(tmp_path / "t.safetensors", "b")
    assert len(rows) == 3 and rows.shape == (3, 2)
    assert torch.equal(rows[torch.tensor([2, 0, 2])], b[[2, 0, 2]])
    assert torch.equal(DiskRows.from_safetensors(tmp_path / "t.safetensors", "a")[np.arange(9)], load_tensors(tmp_path / "t.safetensors")[0]["a"])
    assert torch.equal(rows[1], b[1])  # one row: [columns], as a tensor's
    with pytest.raises(PointdiffError, match="'c'"):
        DiskRows.from_safetensors(tmp_path / "t.safetensors", "c")
    with pytest.raises(IndexError):
        rows[torch.tensor([3])]


def test_rows_of_an_npy_file_and_a_damaged_one(tmp_path: Path) -> None:
    ink = np.arange(20, dtype="<u2").reshape(10, 2)
    np.save(tmp_path / "ink.npy", ink)
    rows = DiskRows.from_npy(tmp_path / "ink.npy", np.dtype("<u2"), 2)
    assert np.array_equal(rows.read(3, 4), ink[3:7])
    with pytest.raises(PointdiffError, match="not a uint16 \\[N, 3\\]"):
        DiskRows.from_npy(tmp_path / "ink.npy", np.dtype("<u2"), 3)
    with open(tmp_path / "ink.npy", "r+b") as f:  # cut short after the header was written
        f.truncate(f.seek(0, 2) - 8)
    with pytest.raises(PointdiffError, match="ended early"):
        DiskRows.from_npy(tmp_path / "ink.npy", np.dtype("<u2"), 2).read(8, 2)


def test_spilled_rows_read_back_exactly_and_copies_share_them() -> None:
    chunks = [torch.randn(5, 3, dtype=torch.float64), torch.randn(2, 3)]
    rows = DiskRows.spill(iter(chunks), 3)
    assert rows.shape == (7, 3)
    torch.testing.assert_close(rows[torch.arange(7)], torch.cat([c.float() for c in chunks]), rtol=0, atol=0)
    assert copy.deepcopy({"codes": rows})["codes"] is rows  # an EMA copy of a model reads the same file
    assert rows.to("cuda") is rows and rows.device == torch.device("cpu")  # a model's move leaves them on disk; indices go to the CPU
    with pytest.raises(ValueError, match="\\[n, 3\\]"):
        DiskRows.spill([torch.zeros(2, 4)], 3)


def test_small_rows_are_held_in_memory_and_large_ones_stay_on_disk() -> None:
    data = torch.randn(10, 4)
    rows = DiskRows.spill([data], 4)
    held = rows.held_if_small(limit=10 * 4 * 4)
    assert isinstance(held, torch.Tensor) and torch.equal(held, data)
    assert rows.held_if_small(limit=10 * 4 * 4 - 1) is rows
