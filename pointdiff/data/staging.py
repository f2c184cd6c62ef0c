"""Where a new dataset folder goes: never over something it may not replace, and only whole.

The dataset is built in a hidden folder beside ``out`` and renamed into place at the end, so
an interrupted or failed run leaves any old dataset untouched, and ``overwrite`` replaces the
whole folder: captions, summaries and embeddings of the old images cannot survive by mistake.

A killed run cannot clean up after itself: the next ingest to ``out`` (which holds its lock)
removes the hidden folders a killed one left, and puts the old dataset back if the kill came
in the instant between the two renames that swap the new one in.

A run may also keep a :class:`Progress` record in its folder (what it consumed so far, flushed
every :data:`RESUME_EVERY` inputs). The next run with the same ``resume_key`` (same source and
settings) then continues in that folder instead of starting over; any other key starts afresh.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from pointdiff.data.dataset import INFO_FILE, MANIFEST_FILE
from pointdiff.errors import PointdiffError
from pointdiff.store import jsonl_line, read_json, write_json

RESUME_KEY_FILE = ".resume.json"  # {"key": ...}: which source and settings the folder is being built from
RESUME_LOG_FILE = ".resume.jsonl"  # one row per input consumed, in order
RESUME_INK_FILE = ".resume.ink"  # uint16 (col, row) pairs, or (col, row, r, g, b): the pixels of the rows with "ink" > 0, in order
RESUME_FILES = (RESUME_KEY_FILE, RESUME_LOG_FILE, RESUME_INK_FILE)
# Inputs between two flushes of the record: a kill loses at most this many images' reading (well
# under a second at a few ms each) and each flush costs two fsyncs, nothing next to the reading.
RESUME_EVERY = 32


def check_out(out: Path, overwrite: bool) -> None:
    """Refuse to replace a dataset without ``overwrite``, and anything that is not a dataset.

    Raises:
        PointdiffError: ``out`` is a file, a folder of other things, or a dataset (without ``overwrite``).
    """
    if not out.exists():
        return
    if not out.is_dir():
        raise PointdiffError(f"{out} is a file, not a dataset folder; choose another --out")
    if not any(out.iterdir()):
        return
    if not ((out / INFO_FILE).exists() or (out / MANIFEST_FILE).exists()):
        raise PointdiffError(f"{out} is not empty and is not a pointdiff dataset (no {INFO_FILE}); choose another --out, or empty it yourself")
    if not overwrite:
        raise PointdiffError(
            f"a dataset already exists at {out}; pass --overwrite to replace it "
            "(its captions, summaries and embeddings go with it), or choose another --out"
        )


def _publish(staging: Path, out: Path, overwrite: bool) -> None:
    """Move the finished ``staging`` folder onto ``out`` (replacing an old dataset if allowed)."""
    check_out(out, overwrite)  # again: something may have appeared while we worked
    if out.exists():
        trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        out.rename(trash / out.name)
        staging.rename(out)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        staging.rename(out)


def _key_of(staging: Path) -> str | None:
    """The resume key a staging folder was built under, or None (none kept, or unreadable)."""
    try:
        return str(read_json(staging / RESUME_KEY_FILE)["key"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _recover(out: Path, resume_key: str | None = None) -> Path | None:
    """Undo what killed runs left beside ``out``: put back an old dataset moved aside, delete their hidden folders.

    A dead run's folder built under ``resume_key`` is kept instead, emptied of all but its
    :class:`Progress` record, and returned for this run to continue in.
    Only for the holder of ``out``'s lock: every ``.NAME.ingest-*`` / ``.NAME.old-*`` folder is then a dead run's.
    """
    for trash in sorted(out.parent.glob(f".{out.name}.old-*")):
        if not out.exists() and (trash / out.name).is_dir():
            (trash / out.name).rename(out)  # killed between the two renames of _publish: the old dataset comes back
        shutil.rmtree(trash, ignore_errors=True)
    reuse = None
    for staging in sorted(out.parent.glob(f".{out.name}.ingest-*")):
        if reuse is None and resume_key is not None and staging.is_dir() and _key_of(staging) == resume_key:
            reuse = staging
            for p in staging.iterdir():  # what it wrote besides the record (temporaries, images) is written again
                if p.name not in RESUME_FILES:
                    shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        else:
            shutil.rmtree(staging, ignore_errors=True)
    return reuse


@contextmanager
def staged(out: Path, overwrite: bool, resume_key: str | None = None) -> Iterator[Path]:
    """A hidden folder beside ``out`` to build in: it becomes ``out`` if the block succeeds.

    If the block raises, the folder is removed and ``out`` is left as it was. Call it holding
    ``out``'s lock (:func:`pointdiff.lock.exclusive`): it first cleans up after killed runs.

    With a ``resume_key`` (a hash of the source and settings), the folder of a killed run built
    under the same key is handed back instead of a new one (its :class:`Progress` says how far
    it got), and Ctrl-C leaves the folder for the next run rather than removing it.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = _recover(out, resume_key)
    if staging is None:
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.ingest-", dir=out.parent))
        staging.chmod(out.parent.stat().st_mode & 0o777)  # mkdtemp makes it private; the dataset is not
    keep = False
    try:
        yield staging
        _publish(staging, out, overwrite)
    except KeyboardInterrupt:
        keep = resume_key is not None  # interrupted, not failed: the next run continues from here
        raise
    finally:
        if staging.exists() and not keep:
            shutil.rmtree(staging, ignore_errors=True)


class Progress:
    """A staging folder's record of the inputs consumed so far, so that a killed run can continue.

    Rows (plain JSON, one per input, in order; their meaning is the caller's) and the ink
    pixels of those that have some (``row["ink"]`` pixels each) are buffered and flushed every
    :data:`RESUME_EVERY` rows: the pixels are made durable first, then the rows, so a row on
    disk always has its pixels. On opening a folder that has a record, a torn tail (a kill in
    mid-flush) is cut back to the last row whose pixels are all there. The record is read from
    disk as it is replayed, never held: continuing a 100k-image run costs no memory per image.

    Usage::

        progress = Progress(staging, key)
        progress.resumed                            # how many inputs a killed run consumed
        for row, pixels in progress.replay(): ...   # what it did with each
        progress.add(row, pixels)                   # each new input
        progress.finish()                           # done: the record goes, before the folder is published
    """

    def __init__(self, staging: Path, key: str, every: int = RESUME_EVERY, columns: int = 2):
        self.root, self.every, self.columns = Path(staging), every, columns  # columns: uint16 values per pixel (5 in colour)
        self.resumed = 0  # rows found on disk: the inputs a killed run consumed
        if _key_of(self.root) == key:
            self.resumed = self._load()
        else:
            for name in (RESUME_LOG_FILE, RESUME_INK_FILE):
                (self.root / name).unlink(missing_ok=True)
            write_json(self.root / RESUME_KEY_FILE, {"key": key})
        self._log = open(self.root / RESUME_LOG_FILE, "ab")
        self._ink = open(self.root / RESUME_INK_FILE, "ab")
        self._rows: list[bytes] = []
        self._pixels: list[bytes] = []

    def _load(self) -> int:
        """How many whole rows on disk have all their pixels on disk; both files cut to exactly those."""
        log, ink = self.root / RESUME_LOG_FILE, self.root / RESUME_INK_FILE
        have = (ink.stat().st_size // (2 * self.columns)) if ink.exists() else 0
        count = kept = need = 0  # rows kept, bytes of the log they take, pixels they own
        with open(log, "ab+") as f:  # created if missing
            f.seek(0)
            for line in f:  # one line at a time: the record of a large run is never held whole
                if not line.endswith(b"\n"):
                    break  # the part after the last newline is torn
                try:
                    row = json.loads(line)
                except ValueError:
                    break
                if not isinstance(row, dict) or need + int(row.get("ink", 0)) > have:
                    break
                count += 1
                need += int(row.get("ink", 0))
                kept += len(line)
            f.truncate(kept)
        with open(ink, "ab") as f:
            f.truncate(need * 2 * self.columns)
        return count

    def _logged(self) -> Iterator[dict[str, Any]]:
        """The rows a killed run recorded, read from disk in order."""
        with open(self.root / RESUME_LOG_FILE, "rb") as f:
            for _, line in zip(range(self.resumed), f):
                yield json.loads(line)

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The rows a killed run recorded (read from disk: for a look, not for replaying a large record)."""
        return list(self._logged())

    def replay(self) -> Iterator[tuple[dict[str, Any], np.ndarray | None]]:
        """The recorded rows in order, each with its pixels (uint16 [K, columns]; None for a row without ink)."""
        with open(self.root / RESUME_INK_FILE, "rb") as f:
            for row in self._logged():
                n = int(row.get("ink", 0))
                yield row, (np.frombuffer(f.read(2 * self.columns * n), dtype="<u2").reshape(n, self.columns) if n else None)

    def add(self, row: dict[str, Any], pixels: np.ndarray | None = None) -> None:
        """Record one more input (``row["ink"]`` must be ``len(pixels)``, 0 without pixels); flushed every ``every`` rows."""
        if int(row.get("ink", 0)) != (0 if pixels is None else len(pixels)):
            raise ValueError(f"row says {row.get('ink', 0)} ink pixels, got {0 if pixels is None else len(pixels)}")
        self._rows.append(jsonl_line(row).encode("utf-8"))
        if pixels is not None:
            self._pixels.append(np.ascontiguousarray(pixels, dtype="<u2").tobytes())
        if len(self._rows) >= self.every:
            self.flush()

    def flush(self) -> None:
        """Make the rows added so far durable: their pixels first, then the rows."""
        for f, chunks in ((self._ink, self._pixels), (self._log, self._rows)):
            f.write(b"".join(chunks))
            f.flush()
            os.fsync(f.fileno())
            chunks.clear()

    def close(self) -> None:
        """Close the record's files, keeping what was flushed (what a failed or interrupted run leaves); idempotent."""
        self._log.close()
        self._ink.close()

    def finish(self) -> None:
        """The run is complete: close and delete the record, so it is not published with the folder."""
        self.close()
        for name in RESUME_FILES:
            (self.root / name).unlink(missing_ok=True)
