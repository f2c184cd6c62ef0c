"""Writing generated point clouds: picture grid, arrays, text tables, PLY, animation.

``save_points(path, points, prompts)`` picks the format from the extension:

* ``.png``: a grid, one row per prompt, one column per sample;
* ``.npy``: float32 ``[prompts, samples, P, D]`` (``np.load(..., allow_pickle=False)``);
* ``.csv``: ``prompt,sample,x,y`` rows (prompt = index into the prompts, header line first),
  ``prompt,sample,x,y,r,g,b`` for colour clouds (channels 0-255);
* ``.ply``: ASCII PLY, one vertex per point ``x y 0`` with ``prompt`` and ``sample`` properties
  (and ``red green blue`` bytes for colour clouds, which point-cloud viewers show).

Clouds are [.., P, 2] (x, y) or [.., P, 5] (x, y and colour values, :mod:`pointdiff.data.images`).

``save_animation(path, frames, prompts)`` writes a GIF of the flow from noise to picture.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from pointdiff.errors import PointdiffError
from pointdiff.store import atomic_path, atomic_write_text

FORMATS = (".png", ".npy", ".csv", ".ply")


def _as_array(points: torch.Tensor | np.ndarray) -> np.ndarray:
    a = points.detach().cpu().numpy() if isinstance(points, torch.Tensor) else np.asarray(points)
    if a.ndim == 3:
        a = a[None]
    if a.ndim != 4 or a.shape[-1] not in (2, 5):
        raise ValueError(f"expected points [prompts, samples, P, 2 or 5], got {a.shape}")
    return a.astype(np.float32)


def _rgb255(a: np.ndarray) -> np.ndarray:
    """The colour of each row of (x, y, r, g, b) points [K, 5] as integers 0..255 [K, 3]."""
    from pointdiff.data.images import values_to_rgb

    return np.round(values_to_rgb(a[:, 2:5]) * 255).astype(np.int64)


def save_points(path: str | Path, points: torch.Tensor | np.ndarray, prompts: Sequence[str] | None = None) -> Path:
    """Write ``points`` [prompts, samples, P, 2 or 5] in the format of ``path``'s extension."""
    path = Path(path)
    a = _as_array(points)
    n, s, p, d = a.shape
    color = d == 5
    ext = path.suffix.lower()
    if ext == ".npy":
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, a, allow_pickle=False)
    elif ext == ".csv":
        prompt_idx = np.repeat(np.arange(n), s * p)
        sample_idx = np.tile(np.repeat(np.arange(s), p), n)
        flat = a.reshape(-1, d)
        cols, fmt = [prompt_idx, sample_idx, flat[:, :2]], ["%d", "%d", "%.6f", "%.6f"]
        if color:
            cols, fmt = [*cols, _rgb255(flat)], [*fmt, "%d", "%d", "%d"]
        buf = io.StringIO()
        buf.write("prompt,sample,x,y" + (",r,g,b" if color else "") + "\n")
        np.savetxt(buf, np.column_stack(cols), fmt=fmt, delimiter=",")
        atomic_write_text(path, buf.getvalue())
    elif ext == ".ply":
        header = ["ply", "format ascii 1.0", "comment pointdiff generated point cloud (z = 0)"]
        header += [f"comment prompt {k}: {t}" for k, t in enumerate(prompts or [])]
        header += [f"element vertex {n * s * p}", "property float x", "property float y", "property float z"]
        header += ["property uchar red", "property uchar green", "property uchar blue"] if color else []
        header += ["property int prompt", "property int sample", "end_header"]
        flat = a.reshape(-1, d)
        prompt_idx = np.repeat(np.arange(n), s * p)
        sample_idx = np.tile(np.repeat(np.arange(s), p), n)
        cols, fmt = [flat[:, :2], np.zeros(len(flat))], ["%.6f", "%.6f", "%.1f"]
        if color:
            cols, fmt = [*cols, _rgb255(flat)], [*fmt, "%d", "%d", "%d"]
        body = io.StringIO()
        np.savetxt(body, np.column_stack([*cols, prompt_idx, sample_idx]), fmt=[*fmt, "%d", "%d"])
        atomic_write_text(path, "\n".join(header) + "\n" + body.getvalue())
    elif ext == ".png":
        from pointdiff.plot import save_cloud_grid

        titles = [(prompts[i] if prompts else f"prompt {i}") + (f" #{j + 1}" if s > 1 else "") for i in range(n) for j in range(s)]
        save_cloud_grid(path, [a[i, j] for i in range(n) for j in range(s)], titles, ncols=s)
    else:
        raise PointdiffError(f"unknown output format {path.suffix!r}; use one of {', '.join(FORMATS)}")
    return path


def _interpolate(states: list[np.ndarray], ts: list[float], per: int) -> tuple[list[np.ndarray], list[float]]:
    """``per`` frames on each straight segment between consecutive solver states."""
    out, out_t = [], []
    for a, b, ta, tb in zip(states, states[1:], ts, ts[1:]):
        for k in range(per):
            w = k / per
            out.append((1 - w) * a + w * b)
            out_t.append((1 - w) * ta + w * tb)
    return out + [states[-1]], out_t + [ts[-1]]


def save_animation(
    path: str | Path,
    frames: Sequence[torch.Tensor | np.ndarray],
    prompts: Sequence[str] | None = None,
    times: Sequence[float] | None = None,
    duration_ms: int = 80,
    hold_ms: int = 1200,
    max_frames: int = 40,
    min_frames: int = 24,
) -> Path:
    """A GIF of the flow: one panel per cloud, one frame per (subsampled) solver step.

    Args:
        frames: states along the solve, each [prompts, samples, P, 2 or 5] (x0 first).
        prompts: panel titles.
        times: t of each frame (shown in the title).
        max_frames: at most this many frames (evenly spaced, first and last kept).
        min_frames: with fewer solver states than this, frames are interpolated along the
            straight segment each solver step moves a point (what the solver did, drawn smoothly).
    """
    from PIL import Image

    from pointdiff.data.images import HALF_EXTENT
    from pointdiff.plot import new_figure, point_colors  # matplotlib loads only when something is drawn

    path = Path(path)
    if path.suffix.lower() != ".gif":
        raise PointdiffError(f"animations are GIFs: {path} should end in .gif")
    if not frames:
        raise PointdiffError("no frames to animate")
    states = [_as_array(f) for f in frames]
    ts = list(times) if times is not None and len(times) == len(states) else list(np.linspace(0, 1, len(states)))
    if len(states) < min_frames:  # few solver steps: draw the straight segments between them
        per = int(np.ceil((min_frames - 1) / max(1, len(states) - 1)))
        states, ts = _interpolate(states, ts, per)
    keep = np.unique(np.linspace(0, len(states) - 1, min(max_frames, len(states))).round().astype(int))
    arrays = [states[k] for k in keep]
    n, s = arrays[0].shape[:2]
    panels = [(i, j) for i in range(n) for j in range(s)]
    ncols = s if n > 1 else min(s, 4)
    nrows = int(np.ceil(len(panels) / ncols))
    images = []
    lim = HALF_EXTENT * 1.05
    for f, a in zip(keep, arrays):
        fig = new_figure(2.2 * ncols, 2.2 * nrows + 0.3)
        axes = fig.subplots(nrows, ncols, squeeze=False)
        for k, ax in enumerate(axes.flat):
            ax.set_xticks([])
            ax.set_yticks([])
            if k >= len(panels):
                ax.axis("off")
                continue
            i, j = panels[k]
            ax.scatter(a[i, j, :, 0], a[i, j, :, 1], s=2, c=point_colors(a[i, j]), marker=".", linewidths=0)
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
            ax.set_aspect("equal")
            if prompts and j == 0:
                ax.set_title(prompts[i][:40], fontsize=7)
        t = ts[f]
        fig.suptitle(f"t = {t:.2f}", fontsize=9)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, dpi=72, format="png")
        buf.seek(0)
        images.append(Image.open(buf).convert("P", palette=Image.Palette.ADAPTIVE, colors=16 if a.shape[-1] == 2 else 128))
    durations = [duration_ms] * (len(images) - 1) + [hold_ms]
    with atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0)
    return path
