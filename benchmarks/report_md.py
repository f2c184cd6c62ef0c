"""Writing the benchmark's results: the section of docs/benchmarks.md and its plots.

``docs/benchmarks.md`` is shared by several benchmark scripts: each owns the text between
``<!-- name -->`` and ``<!-- /name -->``; this one owns ``run``. Everything outside those
markers is kept as it is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter  # noqa: E402

from pointdiff.store import atomic_path, atomic_write_text  # noqa: E402

HEADER = "# Benchmarks\n\nEach section below is written by one script; rerun it to refresh its section.\n"


def replace_section(path: Path, name: str, body: str) -> None:
    """Put ``body`` between ``<!-- name -->`` and ``<!-- /name -->`` in ``path`` (appended if absent)."""
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    block = f"{start}\n{body.rstrip()}\n{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text, count=1)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    atomic_write_text(path, text if text.endswith("\n") else text + "\n")


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub markdown table."""
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def _save(fig: Any, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path


def _log_axis(axis: Any, set_scale: Any) -> None:
    """Log scale labelled at 1, 2, 5 × 10^k in plain numbers (the default labels only powers of ten)."""
    set_scale("log")
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(ScalarFormatter())
    axis.set_minor_formatter(NullFormatter())


def plot_training(path: Path, curves: dict[str, list[Any]], target: float | None, key: str = "chamfer_to_ref", ylabel: str = "Chamfer to reference (lower is better)") -> Path:
    """Quality against training wall time, one line per recipe, the seed's final quality dashed."""
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for name, pts in curves.items():
        xs = [p.train_seconds for p in pts if getattr(p, key) is not None]
        ys = [getattr(p, key) for p in pts if getattr(p, key) is not None]
        ax.plot(xs, ys, marker="o", ms=3, label=name)
    if target is not None:
        ax.axhline(target, color="gray", ls="--", lw=1, label="seed recipe, final")
    _log_axis(ax.xaxis, ax.set_xscale)
    if key == "chamfer_to_ref":
        _log_axis(ax.yaxis, ax.set_yscale)  # early values are 10-20x the final ones
    ax.set_xlabel("training wall time (s, evaluation excluded)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    return _save(fig, path)


def plot_sweep(path: Path, sweeps: dict[str, list[Any]], reference: dict[str, float]) -> Path:
    """Quality against network evaluations, one panel per recipe, one line per solver."""
    fig, axes = plt.subplots(1, len(sweeps), figsize=(5.5 * len(sweeps), 3.8), squeeze=False)
    for ax, (name, rows) in zip(axes[0], sweeps.items()):
        for solver in dict.fromkeys(r.solver for r in rows):
            pts = [(r.nfe, r.chamfer_to_ref) for r in rows if r.solver == solver]
            ax.plot(*zip(*pts), marker="o", ms=3, label=solver)
        if name in reference:
            ax.axhline(reference[name], color="gray", ls="--", lw=1, label="200 Euler steps")
        ax.set_xscale("log", base=2)
        ax.set_title(name)
        ax.set_xlabel("network evaluations (NFE)")
        ax.set_ylabel("Chamfer to reference")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)
