"""Fresh point clouds from a dataset's ink: every use of a picture draws new points from all its pixels.

:class:`PointSampler` holds the points in memory; :class:`StreamedPointSampler` reads a
picture's pixels from disk each time it is drawn, with the same draws bit for bit, so
training memory stays flat above :data:`STREAM_ABOVE_POINTS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from pointdiff.data.dataset import INK_RGB_FILE, INK_XY_FILE, Dataset
from pointdiff.data.images import pixel_size, pixels_to_points, rgb_to_values
from pointdiff.data.rows import DiskRows
from pointdiff.errors import PointdiffError

# Above this many ink points (8 bytes each in RAM), a dataset's sampler reads pictures from disk
# when it draws them instead of holding every point: 16M points = 128 MB, about 4000 faces.
STREAM_ABOVE_POINTS = 16_000_000
_CONVERT_SAMPLES = 2048  # pictures converted to points at a time when a sampler loads them


class PointSampler:
    """Draws fresh point clouds from every ink pixel of a set of pictures.

    Holds all ink points as float32 [total, D] in [-3, 3] (pixel centres; D = 2, or 5 with
    colour values after the coordinates) with per-sample offsets; ``jitter`` spreads each
    draw's position uniformly over its pixel (dequantisation), so the model learns a density
    rather than a grid. :class:`StreamedPointSampler` draws the same points from a dataset on
    disk without holding them.
    """

    def __init__(self, points: torch.Tensor, offsets: torch.Tensor, pixel_half: torch.Tensor):
        self.points = points.float()  # no copy when already float32
        self.dim = int(self.points.shape[1])
        self.offsets = offsets.long()
        self.counts = self.offsets[1:] - self.offsets[:-1]
        self.pixel_half = pixel_half.float()  # half a pixel in point units, per sample (0: no jitter)
        if (self.counts <= 0).any():
            raise PointdiffError("a sample has no points")

    @classmethod
    def from_dataset(cls, ds: Dataset, indices: Sequence[int] | None = None, stream: bool | None = None) -> "PointSampler":
        """All ink points of ``ds`` (or of the samples ``indices`` only), converted once to [-3, 3].

        8 bytes per ink pixel in RAM (20 in colour); with ``indices`` only those samples are read, so a
        few pictures of a 100k-image dataset cost a few pictures. ``stream`` (None: when the
        points exceed :data:`STREAM_ABOVE_POINTS`) returns a :class:`StreamedPointSampler`
        instead, which reads a picture from disk each time it is drawn and holds none.
        """
        idx = np.arange(len(ds)) if indices is None else np.asarray(indices, dtype=np.int64).reshape(-1)
        counts = (ds.offsets[idx + 1] - ds.offsets[idx]).astype(np.int64)
        width = ds.widths[idx].astype(np.float32)
        height = ds.heights[idx].astype(np.float32)
        if stream or (stream is None and counts.sum() > STREAM_ABOVE_POINTS):
            rgb = ds.root / INK_RGB_FILE if ds.color else None
            return StreamedPointSampler(ds.root / INK_XY_FILE, ds.offsets[idx].astype(np.int64), counts, width, height, rgb)
        bounds = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        points = np.empty((int(bounds[-1]), ds.point_dim), np.float32)
        # images.py owns the mapping; it runs over a few thousand pictures at a time with each
        # pixel's image size, so its temporaries (several times the points) stay small.
        for a in range(0, len(idx), _CONVERT_SAMPLES):
            b = min(a + _CONVERT_SAMPLES, len(idx))
            xy = np.concatenate([ds.pixels(i) for i in idx[a:b]])
            points[bounds[a] : bounds[b], :2] = pixels_to_points(xy, np.repeat(width[a:b], counts[a:b]), np.repeat(height[a:b], counts[a:b]))
            if ds.color:
                points[bounds[a] : bounds[b], 2:] = rgb_to_values(np.concatenate([ds.colors(i) for i in idx[a:b]]))
        return cls(torch.from_numpy(points), torch.from_numpy(bounds), torch.from_numpy(pixel_size(width, height) / 2))

    @classmethod
    def from_clouds(cls, clouds: torch.Tensor) -> "PointSampler":
        """Fixed clouds [N, P, D] already in [-3, 3] (the reference's ``.pt`` data): draws resample them."""
        n, p, d = clouds.shape
        return cls(clouds.reshape(-1, d), torch.arange(n + 1) * p, torch.zeros(n))

    def __len__(self) -> int:
        return len(self.counts)

    def sample(self, indices: torch.Tensor, num_points: int, generator: torch.Generator | None = None, jitter: bool = False) -> torch.Tensor:
        """Draw ``num_points`` points with replacement from each sample in ``indices``: [B, P, D]."""
        indices = indices.long()
        u = torch.rand(len(indices), num_points, generator=generator)
        local = (u * self.counts[indices, None]).long().clamp_max_(self.counts[indices, None] - 1)
        pts = self._gather(indices, local)
        if jitter:  # over the pixel's area only: a pixel's colour is one value
            half = self.pixel_half[indices, None, None]
            pts[..., :2] += (torch.rand((*pts.shape[:2], 2), generator=generator) * 2 - 1) * half
        return pts

    def all_points(self, index: int) -> torch.Tensor:
        """Every ink point of sample ``index`` (pixel centres, no draw): [count, D]."""
        return self._gather(torch.tensor([index]), torch.arange(int(self.counts[index]))[None])[0]

    def sample_all(self, num_points: int, seed: int = 0, jitter: bool = False) -> torch.Tensor:
        """One deterministic draw for every sample: [N, P, D] (evaluation reference clouds)."""
        g = torch.Generator().manual_seed(seed)
        return self.sample(torch.arange(len(self)), num_points, g, jitter)

    def _gather(self, indices: torch.Tensor, local: torch.Tensor) -> torch.Tensor:
        """Points number ``local`` [B, P] of samples ``indices`` [B]: [B, P, D]."""
        return self.points[self.offsets[indices, None] + local]


class StreamedPointSampler(PointSampler):
    """A :class:`PointSampler` over a dataset on disk: each draw reads its pictures' pixels.

    Nothing but per-picture sizes is held, so memory stays flat however large the dataset
    (a 100k-image dataset's points would take gigabytes). Reads go through ``pread`` into
    fresh buffers, not a memory map, so the file's pages never count as this process's
    memory. Draws are equal, bit for bit, to the in-memory sampler's for the same generator.
    """

    def __init__(self, path: Path, starts: np.ndarray, counts: np.ndarray, width: np.ndarray, height: np.ndarray, rgb_path: Path | None = None):
        self.path = Path(path)
        self._xy = DiskRows.from_npy(self.path, np.dtype("<u2"), 2)
        self._rgb = DiskRows.from_npy(Path(rgb_path), np.dtype("u1"), 3) if rgb_path is not None else None
        if self._rgb is not None and self._rgb.rows != self._xy.rows:
            raise PointdiffError(f"{rgb_path} has {self._rgb.rows} colours for {self._xy.rows} ink pixels; the dataset is damaged: ingest it again")
        self.dim = 5 if self._rgb is not None else 2
        self.starts = torch.from_numpy(np.asarray(starts, np.int64))
        self.counts = torch.from_numpy(np.asarray(counts, np.int64))
        if (self.counts <= 0).any():
            raise PointdiffError("a sample has no points")
        if len(self.counts) and int((self.starts + self.counts).max()) > self._xy.rows:
            raise PointdiffError(f"{self.path} holds fewer points than the manifest says; the dataset is damaged: ingest it again")
        self.width, self.height = np.asarray(width, np.float32), np.asarray(height, np.float32)
        self.pixel_half = torch.from_numpy(pixel_size(self.width, self.height) / 2)

    def _gather(self, indices: torch.Tensor, local: torch.Tensor) -> torch.Tensor:
        out = np.empty((*local.shape, self.dim), np.float32)
        for row, (i, loc) in enumerate(zip(indices.tolist(), local.numpy())):
            # A picture is a few kB: reading it whole and picking is cheaper than one read per point.
            start, count = int(self.starts[i]), int(self.counts[i])
            out[row, :, :2] = pixels_to_points(self._xy.read(start, count)[loc], self.width[i], self.height[i])
            if self._rgb is not None:
                out[row, :, 2:] = rgb_to_values(self._rgb.read(start, count)[loc])
        return torch.from_numpy(out)
