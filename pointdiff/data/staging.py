"""Where a new dataset folder goes: never over something it may not replace, and only whole.

The dataset is built in a hidden folder beside ``out`` and renamed into place at the end, so
an interrupted or failed run leaves any old dataset untouched, and ``overwrite`` replaces the
whole folder: captions, summaries and embeddings of the old images cannot survive by mistake.

A killed run cannot clean up after itself: the next ingest to ``out`` (which holds its lock)
removes the hidden folders a killed one left, and puts the old dataset back if the kill came
in the instant between the two renames that swap the new one in.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pointdiff.data.dataset import INFO_FILE, MANIFEST_FILE
from pointdiff.errors import PointdiffError


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


def _recover(out: Path) -> None:
    """Undo what killed runs left beside ``out``: put back an old dataset moved aside, delete their hidden folders.

    Only for the holder of ``out``'s lock: every ``.NAME.ingest-*`` / ``.NAME.old-*`` folder is then a dead run's.
    """
    for trash in sorted(out.parent.glob(f".{out.name}.old-*")):
        if not out.exists() and (trash / out.name).is_dir():
            (trash / out.name).rename(out)  # killed between the two renames of _publish: the old dataset comes back
        shutil.rmtree(trash, ignore_errors=True)
    for staging in out.parent.glob(f".{out.name}.ingest-*"):
        shutil.rmtree(staging, ignore_errors=True)


@contextmanager
def staged(out: Path, overwrite: bool) -> Iterator[Path]:
    """A hidden folder beside ``out`` to build in: it becomes ``out`` if the block succeeds.

    If the block raises, the folder is removed and ``out`` is left as it was. Call it holding
    ``out``'s lock (:func:`pointdiff.lock.exclusive`): it first cleans up after killed runs.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    _recover(out)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.ingest-", dir=out.parent))
    staging.chmod(out.parent.stat().st_mode & 0o777)  # mkdtemp makes it private; the dataset is not
    try:
        yield staging
        _publish(staging, out, overwrite)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
