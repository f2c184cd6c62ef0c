"""Scratch databases: ingest's per-image bookkeeping, kept on disk."""

from __future__ import annotations

import hashlib

import pytest

from pointdiff.data.scratch import DiskIndex, scratch_db
from pointdiff.data.sources import _Ids


def test_disk_index_maps_hashes_to_rows_like_a_dict() -> None:
    index, plain = DiskIndex(), {}
    keys = [hashlib.sha256(bytes([k % 50])).digest() for k in range(120)]  # repeats: later values replace earlier
    for n, key in enumerate(keys):
        assert (key in index) == (key in plain)
        index[key] = plain[key] = n
    assert len(index) == len(plain) == 50
    assert all(index[key] == plain[key] for key in keys)
    with pytest.raises(KeyError):
        index[b"\0" * 32]


def test_ids_are_unique_in_the_order_asked() -> None:
    ids = _Ids()
    assert [ids.unique(s) for s in ("a", "a", "a-2", "b", "a")] == ["a", "a-2", "a-2-2", "b", "a-3"]


def test_a_scratch_database_has_no_name_on_disk() -> None:
    db = scratch_db()
    assert [row[2] for row in db.execute("PRAGMA database_list")] == [""]  # main: SQLite's own temporary file
