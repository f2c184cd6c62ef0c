"""One writer at a time: a lock file held with ``flock`` while a command writes a dataset or a run.

Two ``train --resume latest``, or an ``embed`` during an ``ingest --overwrite`` of the same
dataset, would otherwise interleave their writes. The kernel releases an ``flock`` when its
process dies, however it dies, so the lock of a killed run is simply taken over by the next
one. The file records its holder (pid, command) for the "already running" message; a clean
exit removes it, a killed process leaves it for the next one to take over. Where ``fcntl`` does
not exist (Windows) nothing is locked.

The processes of one ``torchrun`` job are one writer: rank 0 takes the lock for all of them
(``Distributed.on_main``, :mod:`pointdiff.distributed`) and writes every file; the others never
ask for it, so they can neither block each other nor hold it after rank 0 is gone.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pointdiff.errors import PointdiffError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


def lock_file(target: str | Path) -> Path:
    """The lock of a folder: a hidden file beside it (``ingest --overwrite`` replaces a dataset folder whole)."""
    target = Path(target)
    return target.parent / f".{target.name}.lock"


@contextmanager
def exclusive(target: str | Path, command: str) -> Iterator[None]:
    """Be the only pointdiff process writing ``target`` (a dataset or run folder) for the block.

    Raises:
        PointdiffError: another live process holds it ("already running (pid N)").
    """
    target = Path(target)
    path = lock_file(target)
    if fcntl is None:  # pragma: no cover
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _acquire(path, target)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"`pointdiff {command}` (pid {os.getpid()})".encode(), 0)
        yield
    finally:
        path.unlink(missing_ok=True)  # while still held: nobody can have locked this file meanwhile
        os.close(fd)  # releases the flock


def _acquire(path: Path, target: Path) -> int:
    """Open and flock ``path``; retry when it was unlinked by its last holder between our open and our lock."""
    for _ in range(10):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise PointdiffError(f"{target} is in use: {holder} is already running on it; wait for it to finish (or stop it) and run again") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # we locked a file its holder had just removed: try the current one
    raise PointdiffError(f"could not lock {target}: its lock file keeps changing")  # pragma: no cover
