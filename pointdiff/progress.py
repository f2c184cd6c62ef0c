"""How long-running core functions report progress without knowing about terminals.

A core function takes ``progress: ProgressFn | None`` and calls it as
``progress(done, total, **fields)``; the CLI passes a function that drives a Rich bar,
tests pass nothing or a list-appender. ``fields`` carry live numbers (loss, steps/s).
"""

from __future__ import annotations

from typing import Protocol


class ProgressFn(Protocol):
    """Called with the units done so far, the total, and optional live fields."""

    def __call__(self, done: int, total: int, **fields: float | str) -> None: ...


def report(progress: ProgressFn | None, done: int, total: int, **fields: float | str) -> None:
    """Call ``progress`` if there is one (saves an ``if`` at every call site)."""
    if progress is not None:
        progress(done, total, **fields)
