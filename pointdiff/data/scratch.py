"""Bookkeeping that grows with a folder, kept on disk: a private temporary SQLite database.

Ingest needs, per image, a few lookups that Python would hold in dicts and sets: a folder's
file names in natural order, each ``metadata.jsonl`` row by the file it names, the ids given
so far, the hash of every image taken. At about 350 bytes an image, those made ingest's memory
grow with the folder (35 MB at 100k images). SQLite keeps the same tables on disk behind a
page cache of :data:`CACHE_KIB`, and its sorter spills to disk too, so they cost the same
memory at any size. A database opened with an empty name is SQLite's own temporary file: no
name on disk, gone when the connection closes or the process dies, even by a kill.
"""

from __future__ import annotations

import sqlite3

CACHE_KIB = 2048  # page cache (and sort memory) per database, in KiB: the most this bookkeeping holds


def scratch_db() -> sqlite3.Connection:
    """A new private temporary database, tuned for scratch work (no journal, no syncs: nothing here outlives the process)."""
    db = sqlite3.connect("")
    db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    return db


class DiskIndex:
    """A map from bytes (a hash) to a row number, in a scratch database: ``key in index``, ``index[key]``, ``index[key] = n``."""

    def __init__(self) -> None:
        self.db = scratch_db()
        self.db.execute("CREATE TABLE map (key BLOB PRIMARY KEY, value INTEGER) WITHOUT ROWID")

    def __contains__(self, key: bytes) -> bool:
        return self.db.execute("SELECT 1 FROM map WHERE key = ?", (key,)).fetchone() is not None

    def __getitem__(self, key: bytes) -> int:
        row = self.db.execute("SELECT value FROM map WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        return int(row[0])

    def __setitem__(self, key: bytes, value: int) -> None:
        self.db.execute("INSERT OR REPLACE INTO map VALUES (?, ?)", (key, value))

    def __len__(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM map").fetchone()[0])
