"""Every picture pointdiff draws: point clouds, grids of them, curves, histograms.

Draws with matplotlib's object API on an Agg canvas of its own (no screen needed) and writes
PNGs atomically. Nothing here touches pyplot or the process-wide backend, so importing or
drawing leaves an application's own matplotlib setup as it was.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from pointdiff.data.images import HALF_EXTENT, values_to_rgb
from pointdiff.store import atomic_path


def new_figure(width: float, height: float) -> Figure:
    """A figure of ``width`` × ``height`` inches on its own Agg canvas.

    Not pyplot's: pyplot keeps every figure in a process-wide registry until closed and
    draws through the global backend; a bare ``Figure`` is garbage-collected like any object.
    """
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)  # attaches itself as fig.canvas
    return fig


def point_colors(points: np.ndarray) -> np.ndarray | str:
    """What each point is drawn in: its own colour for (x, y, r, g, b) points, else black."""
    return values_to_rgb(points[:, 2:5]) if points.shape[1] >= 5 else "black"


def _draw_cloud(ax: Axes, points: np.ndarray, title: str | None, size: float, title_chars: int = 36) -> None:
    ax.scatter(points[:, 0], points[:, 1], s=size, c=point_colors(points), marker=".", linewidths=0)
    lim = HALF_EXTENT * 1.05
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        # matplotlib's wrap=True wraps at the figure's edge, so long prompts ran into the next panel.
        # Each given line is wrapped on its own: a caller's line breaks stay.
        ax.set_title("\n".join(textwrap.fill(line, title_chars) for line in title.split("\n")), fontsize=7)


def save_cloud_grid(
    path: str | Path,
    clouds: Sequence[np.ndarray],
    titles: Sequence[str] | None = None,
    ncols: int | None = None,
    panel_inches: float = 2.0,
    point_size: float | None = None,
    suptitle: str | None = None,
) -> Path:
    """Plot clouds ([P, 2] arrays in [-3, 3], y up; [P, 5] draws each point in its colour) in a grid and save a PNG.

    ``point_size`` (marker area) defaults to 2 for clouds of up to 1024 points and shrinks
    with the square root of the count above that, so 10 000 or 100 000 points draw strokes
    rather than a solid blot.
    """
    n = len(clouds)
    ncols = ncols or min(n, math.ceil(math.sqrt(n)))
    nrows = math.ceil(n / ncols)
    fig = new_figure(panel_inches * ncols, panel_inches * nrows + (0.3 if suptitle else 0))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k < n:
            pts = np.asarray(clouds[k])
            size = point_size if point_size is not None else 2.0 * min(1.0, math.sqrt(1024 / max(1, len(pts))))
            _draw_cloud(ax, pts, titles[k] if titles else None, size, max(12, round(panel_inches * 18)))
        else:
            ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def save_curve(path: str | Path, xs: Sequence[float], ys: Sequence[float], xlabel: str, ylabel: str, title: str | None = None, smooth: int = 0, logy: bool = False) -> Path:
    """A line plot (e.g. the loss curve); ``smooth`` > 1 adds a moving average."""
    fig = new_figure(6, 3.5)
    ax = fig.subplots()
    ax.plot(xs, ys, lw=0.6, alpha=0.5 if smooth > 1 else 1.0, label="raw" if smooth > 1 else None)
    if smooth > 1 and len(ys) >= smooth:
        k = np.ones(smooth) / smooth
        ax.plot(np.asarray(xs)[smooth - 1 :], np.convolve(ys, k, mode="valid"), lw=1.5, label=f"mean of {smooth}")
        ax.legend()
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def save_histogram(path: str | Path, values: np.ndarray, xlabel: str, title: str | None = None, bins: int = 50) -> Path:
    """A histogram of ``values``."""
    fig = new_figure(6, 3.5)
    ax = fig.subplots()
    ax.hist(np.asarray(values).ravel(), bins=bins, color="steelblue")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    return path
