"""Rich rendering shared by the commands: console, progress bars, tables, errors."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from pointdiff.progress import ProgressFn

console = Console()
err_console = Console(stderr=True)


@contextmanager
def progress_bar(description: str, total: int | None = None) -> Iterator[ProgressFn]:
    """A Rich bar (count, %, elapsed, ETA, live fields) driven by a core ``ProgressFn``."""
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
    ]
    with Progress(*columns, console=err_console, transient=False) as bar:
        task = bar.add_task(description, total=total, info="")

        def update(done: int, total: int, **fields: float | str) -> None:
            info = "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in fields.items())
            bar.update(task, completed=done, total=total, info=info)

        yield update


class LazyBar:
    """A progress bar that appears once there is work: an up-to-date run shows none."""

    def __init__(self, stack: ExitStack, description: str):
        self.stack, self.description, self.fn = stack, description, None

    def __call__(self, done: int, total: int, **fields: float | str) -> None:
        if self.fn is None:
            if done >= total:
                return
            self.fn = self.stack.enter_context(progress_bar(self.description, total))
        self.fn(done, total, **fields)


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]], justify_numbers: bool = True) -> Table:
    """A Rich table; numbers are right-aligned and floats shown with 3 significant decimals."""
    t = Table(title=title, title_justify="left")
    for c in columns:
        t.add_column(c)
    for row in rows:
        t.add_row(*(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row))
    if justify_numbers and rows:
        for k, v in enumerate(rows[0]):
            if isinstance(v, (int, float)):
                t.columns[k].justify = "right"
    return t


def reflow(text: str) -> str:
    """Help text as paragraphs that the terminal wraps: hard line breaks inside a paragraph go.

    Docstrings are wrapped at the source's width; Rich would wrap them again at the
    terminal's and keep the old breaks too ("a folder of" / "video frames"). Lines that start
    with white space (examples, lists) are kept verbatim, each on its own line.
    """
    out: list[str] = []
    for para in textwrap.dedent(text).strip().split("\n\n"):
        lines: list[str] = []
        for line in para.splitlines():
            if lines and line.strip() and not line[0].isspace() and not lines[-1][:1].isspace():
                lines[-1] = f"{lines[-1]} {line.strip()}"
            else:
                lines.append(line.rstrip())
        out.append("\n".join(lines))
    return "\n\n".join(out)
