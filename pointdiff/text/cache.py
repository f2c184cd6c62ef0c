"""What `caption` and `summarize` share: a resumable result cache and its keys.

A generated text is worth minutes of model time, so every result is appended to a JSONL
cache the moment it exists (fsynced, :class:`pointdiff.store.JsonlAppender`). A run that is
killed loses at most the batch in flight; the next run looks every input up by its key and
only generates what is missing. A key is the sha256 of everything that decides the output::

    key = make_key(task="caption", image=image_sha256, model=model_fingerprint(path, "KamilaMila/FastVLM-0.5B"),
                   prompt=prompt, generation=settings.key_fields())  # GenerationSettings (text/generation.py)

Device, dtype and batch size are left out on purpose: they change how fast a text comes,
not what was asked for, and moving from a GPU to a laptop should not redo the work.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Generic, TypeVar

from pointdiff.store import JsonlAppender, read_jsonl
from pointdiff.text.hf import weights_files, weights_sha256

T = TypeVar("T")

KEY_FIELD = "key"
_SNAPSHOT = re.compile(r"[/\\]snapshots[/\\]([0-9a-f]{40})(?:[/\\]|$)")


def make_key(**parts: Any) -> str:
    """sha256 of ``parts`` as canonical JSON (sorted keys): same inputs, same key."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def text_digest(text: str) -> str:
    """Short sha256 of a text (prompts and instructions are stored by digest, not repeated per row)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def model_fingerprint(path: str | Path, name: str) -> str:
    """What identifies the weights a run used, for cache keys and output rows.

    A hub model in the Hugging Face cache is identified by its commit (free: it is in the
    snapshot path); a local folder by the sha256 of its weight files (hashed once per
    process; about a second per GB).
    """
    match = _SNAPSHOT.search(str(path))
    if match:
        return f"{name}@{match.group(1)}"
    return f"{name}@sha256:{weights_sha256(weights_files(path))[:16]}"


class ResultCache:
    """An append-only JSONL file of results by key; the last row for a key wins.

    Rows are ``{"key": ..., **fields}``. Reading tolerates the torn last line a kill may
    leave; appending first cuts it off (JsonlAppender), so no row is ever half-written.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._rows: dict[str, dict[str, Any]] = {}
        for row in read_jsonl(self.path):
            if isinstance(row, dict) and KEY_FIELD in row:
                self._rows[row[KEY_FIELD]] = row
        self._appender: JsonlAppender | None = None

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, key: str) -> bool:
        return key in self._rows

    def get(self, key: str) -> dict[str, Any] | None:
        """The row stored under ``key``, or None."""
        return self._rows.get(key)

    def put(self, key: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Store ``fields`` under ``key``; durable on disk when this returns."""
        row = {KEY_FIELD: key, **fields}
        if self._appender is None:
            self._appender = JsonlAppender(self.path)  # opened lazily: a run with nothing to do writes nothing
        self._appender.append(row)
        self._rows[key] = row
        return row

    def close(self) -> None:
        """Close the file (the cache stays readable)."""
        if self._appender is not None:
            self._appender.close()
            self._appender = None

    def __enter__(self) -> "ResultCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LazyAppender:
    """A :class:`JsonlAppender` opened on the first row, so a run with nothing to do touches no file.

    ``path=None`` drops rows (a caller whose output is written another way).
    """

    def __init__(self, path: str | Path | None):
        self._path = Path(path) if path is not None else None
        self._appender: JsonlAppender | None = None

    def append(self, row: dict[str, Any]) -> None:
        """Append one row, durable on return."""
        if self._path is None:
            return
        if self._appender is None:
            self._appender = JsonlAppender(self._path)
        self._appender.append(row)

    def __enter__(self) -> "LazyAppender":
        return self

    def __exit__(self, *exc: object) -> None:
        if self._appender is not None:
            self._appender.close()


class InOrder(Generic[T]):
    """Batch results that may arrive out of order, released in batch order.

    Under torchrun a later process's share can finish a round before an earlier one's; the
    output rows must still come in the order one process writes them, so a result waits here
    until every batch before it has been released.
    """

    def __init__(self) -> None:
        self._waiting: dict[int, T] = {}
        self._next = 0  # the first batch not released yet

    def add(self, batch: int, result: T) -> list[tuple[int, T]]:
        """Keep ``result`` of ``batch``; return ``(batch, result)`` of every batch whose turn has come, in order."""
        self._waiting[batch] = result
        ready = []
        while self._next in self._waiting:
            ready.append((self._next, self._waiting.pop(self._next)))
            self._next += 1
        return ready

