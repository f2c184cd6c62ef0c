"""The on-disk dataset: a folder a person can open, streamed from disk at any size.

Layout (format version 1)::

    DATASET/
      dataset.json       format version, counts, how it was made (threshold, source, ...)
      manifest.jsonl     one sample per line: id, source, sha256, width, height, ink_count,
                         caption, labels  (plus anything a source adds)
      ink_xy.npy         uint16 [total_ink, 2]: (col, row) of EVERY ink pixel of every image
      ink_offsets.npy    int64 [N + 1]: sample i owns ink_xy[offsets[i]:offsets[i+1]]
      ink_rgb.npy        uint8 [total_ink, 3]: each ink pixel's colour (colour datasets only:
                         ``ingest --color``; dataset.json says ``"color": true``)
      rejected.jsonl     inputs that were not taken, each with its reason
      captions.jsonl     written by `caption`:   {"id", "text", ...}; the last row per id wins
      summaries.jsonl    written by `summarize`: {"id", "text", ...}; the last row per id wins
      embeddings.safetensors   written by `embed`
      images/            the built-in source writes its PNGs here
      contact_sheet.png  a quick look at sampled clouds

All ink pixels are kept, not one frozen draw, so training draws a fresh set of points
each time it uses an image (the reference's data augmentation). ``.npy`` files open
memory-mapped (never pickled), so a 100k-image dataset is read lazily.

The text of a sample (what `embed` encodes) is, in order of preference: its summary, its
generated caption, the caption that came with the image.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pointdiff.data.images import pixel_size, pixels_to_points, rgb_to_values
from pointdiff.errors import PointdiffError
from pointdiff.store import atomic_path, read_json, read_jsonl, write_json, write_jsonl

FORMAT_VERSION = 1
INFO_FILE = "dataset.json"
MANIFEST_FILE = "manifest.jsonl"
INK_XY_FILE = "ink_xy.npy"
INK_OFFSETS_FILE = "ink_offsets.npy"
INK_RGB_FILE = "ink_rgb.npy"
REJECTED_FILE = "rejected.jsonl"
CAPTIONS_FILE = "captions.jsonl"
SUMMARIES_FILE = "summaries.jsonl"
EMBEDDINGS_FILE = "embeddings.safetensors"
IMAGES_DIR = "images"
CONTACT_SHEET_FILE = "contact_sheet.png"


@dataclass
class Record:
    """One sample of the manifest."""

    id: str
    source: str  # path of the image it came from (relative to the ingest source when possible)
    sha256: str
    width: int
    height: int
    ink_count: int
    caption: str | None = None  # the caption that came with the image, if any
    alt_captions: list[str] = field(default_factory=list)  # more captions of the same picture (other phrasings, other writers)
    labels: dict[str, Any] = field(default_factory=dict)  # true labels, when a source knows them
    extra: dict[str, Any] = field(default_factory=dict)  # anything else a source wants to keep

    def to_json(self) -> dict[str, Any]:
        """The manifest row (``extra`` is flattened into it)."""
        row = asdict(self)
        row.update(row.pop("extra"))
        return row

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> "Record":
        """Parse a manifest row; unknown keys go to ``extra``."""
        known = {"id", "source", "sha256", "width", "height", "ink_count", "caption", "alt_captions", "labels"}
        return cls(**{k: v for k, v in row.items() if k in known}, extra={k: v for k, v in row.items() if k not in known})


@dataclass
class Rejection:
    """An input that was not taken: where it came from, what kind of problem, the details.

    ``kind`` is what a summary groups by (ingest uses the constants below); a line of
    ``rejected.jsonl`` is ``{"source", "reason"}`` with the reason ``"kind: detail"``.
    """

    NOT_IMAGE = "not an image"
    CORRUPT = "corrupt image"
    NO_INK = "no ink"
    DUPLICATE = "duplicate"
    UNREADABLE = "unreadable"  # permissions, a file that vanished, an image too large to open safely
    OUTSIDE = "outside the source"  # a symbolic link that leaves the source folder: never followed

    source: str
    kind: str
    detail: str

    @property
    def reason(self) -> str:
        """The reason as written to ``rejected.jsonl``: ``"kind: detail"``."""
        return f"{self.kind}: {self.detail}"

    def to_json(self) -> dict[str, str]:
        """The ``rejected.jsonl`` row."""
        return {"source": self.source, "reason": self.reason}


class DatasetWriter:
    """Streams samples to disk; :meth:`close` publishes them atomically.

    Ink coordinates (and, with ``color``, their RGB) go to temporary raw files as they come
    (so memory stays flat for 100k images) and become ``ink_xy.npy`` (``ink_rgb.npy``) at
    the end; the manifest is written last, so a dataset folder with a manifest is always complete.
    """

    def __init__(self, root: str | Path, info: dict[str, Any] | None = None, color: bool = False):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.info = dict(info or {})
        self.color = color
        if color:
            self.info["color"] = True
        self.records: list[Record] = []
        self.rejections: list[Rejection] = []
        self._offsets = [0]
        self._raw_path, self._raw = self._temp(".ink_xy.")
        self._rgb_path, self._rgb = self._temp(".ink_rgb.") if color else (None, None)

    def _temp(self, prefix: str) -> tuple[Path, Any]:
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".raw", dir=self.root)
        return Path(tmp), os.fdopen(fd, "wb")

    def add(self, record: Record, pixels: np.ndarray) -> None:
        """Add one sample with its ink pixels: uint16 [K, 2] (col, row), or [K, 5] (col, row, r, g, b) in colour."""
        width = 5 if self.color else 2
        if pixels.ndim != 2 or pixels.shape[1] != width or len(pixels) == 0:
            raise ValueError(f"{record.id}: expected a non-empty [K, {width}] pixel array, got {pixels.shape}")
        record.ink_count = int(len(pixels))
        self._raw.write(np.ascontiguousarray(pixels[:, :2], dtype=np.uint16).tobytes())
        if self._rgb is not None:
            self._rgb.write(np.ascontiguousarray(pixels[:, 2:], dtype=np.uint8).tobytes())
        self._offsets.append(self._offsets[-1] + len(pixels))
        self.records.append(record)

    def reject(self, rejection: Rejection) -> None:
        """Record an input that was not taken."""
        self.rejections.append(rejection)

    def close(self) -> None:
        """Write the arrays, manifest, rejections and info; remove the temporary files."""
        self._raw.close()
        if self._rgb is not None:
            self._rgb.close()
        try:
            total = self._offsets[-1]
            _publish(self._raw_path, self.root / INK_XY_FILE, np.uint16, (total, 2))
            if self._rgb_path is not None:
                _publish(self._rgb_path, self.root / INK_RGB_FILE, np.uint8, (total, 3))
            with atomic_path(self.root / INK_OFFSETS_FILE) as tmp:
                with open(tmp, "wb") as f:
                    np.save(f, np.asarray(self._offsets, dtype=np.int64))
            write_jsonl(self.root / REJECTED_FILE, (r.to_json() for r in self.rejections))
            write_json(self.root / INFO_FILE, {"format_version": FORMAT_VERSION, "num_samples": len(self.records), "total_ink": total, **self.info})
            write_jsonl(self.root / MANIFEST_FILE, (r.to_json() for r in self.records))
        finally:
            self._raw_path.unlink(missing_ok=True)
            if self._rgb_path is not None:
                self._rgb_path.unlink(missing_ok=True)


def _publish(raw_path: Path, path: Path, dtype: Any, shape: tuple[int, int]) -> None:
    """A raw temp file of ``shape`` rows as the ``.npy`` at ``path``, copied in chunks (flat memory), atomically."""
    total = shape[0]
    raw = np.memmap(raw_path, dtype=dtype, mode="r", shape=shape) if total else np.zeros(shape, dtype)
    with atomic_path(path) as tmp:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=shape)
        chunk = 1 << 22
        for a in range(0, total, chunk):
            out[a : a + chunk] = raw[a : a + chunk]
        out.flush()
        del out
    del raw


def _last_text_per_id(path: Path) -> dict[str, str]:
    return {row["id"]: row["text"] for row in read_jsonl(path) if row.get("text")}


def _load_array(path: Path, mmap_mode: str | None = None) -> np.ndarray:
    """A dataset's ``.npy`` array, never unpickled: an object array, a torn or a missing file is refused."""
    try:
        return np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise PointdiffError(f"{path} is not a plain array file ({e}); the dataset is damaged: ingest it again") from None


class Dataset:
    """A dataset folder, read lazily (arrays are memory-mapped)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        manifest = self.root / MANIFEST_FILE
        if not manifest.exists():
            raise PointdiffError(f"no dataset at {self.root} (missing {MANIFEST_FILE}); create one with `pointdiff ingest`")
        self.info: dict[str, Any] = read_json(self.root / INFO_FILE) if (self.root / INFO_FILE).exists() else {}
        version = self.info.get("format_version", FORMAT_VERSION)
        if version > FORMAT_VERSION:
            raise PointdiffError(f"{self.root}: dataset format {version} is newer than this pointdiff ({FORMAT_VERSION}); upgrade pointdiff")
        self.records = [Record.from_json(r) for r in read_jsonl(manifest)]
        self.offsets = _load_array(self.root / INK_OFFSETS_FILE)
        self.ink_xy = _load_array(self.root / INK_XY_FILE, mmap_mode="r")
        if len(self.offsets) != len(self.records) + 1:
            raise PointdiffError(f"{self.root}: manifest has {len(self.records)} samples but ink offsets describe {len(self.offsets) - 1}")
        self.ink_rgb: np.ndarray | None = None
        if self.info.get("color"):
            self.ink_rgb = _load_array(self.root / INK_RGB_FILE, mmap_mode="r")
            if self.ink_rgb.dtype != np.uint8 or self.ink_rgb.shape != (len(self.ink_xy), 3):
                raise PointdiffError(f"{self.root}: {INK_RGB_FILE} is {self.ink_rgb.dtype} {self.ink_rgb.shape}, expected uint8 ({len(self.ink_xy)}, 3); ingest it again")

    def __len__(self) -> int:
        return len(self.records)

    @property
    def ids(self) -> list[str]:
        """Sample ids in order."""
        return [r.id for r in self.records]

    @property
    def color(self) -> bool:
        """Whether each ink pixel has a colour (``ingest --color``)."""
        return self.ink_rgb is not None

    @property
    def point_dim(self) -> int:
        """Values per point: 2 (x, y), or 5 (x, y, r, g, b) for a colour dataset."""
        return 5 if self.color else 2

    def pixels(self, i: int) -> np.ndarray:
        """All ink pixels (col, row) of sample ``i``, uint16 [K, 2]."""
        return np.asarray(self.ink_xy[self.offsets[i] : self.offsets[i + 1]])

    def colors(self, i: int) -> np.ndarray:
        """The RGB of every ink pixel of sample ``i``, uint8 [K, 3] (a colour dataset only)."""
        if self.ink_rgb is None:
            raise PointdiffError(f"{self.root} has no colours: ingest it with --color")
        return np.asarray(self.ink_rgb[self.offsets[i] : self.offsets[i + 1]])

    def captions(self) -> dict[str, str]:
        """Generated long captions by id (from ``captions.jsonl``)."""
        return _last_text_per_id(self.root / CAPTIONS_FILE)

    def summaries(self) -> dict[str, str]:
        """Short summaries by id (from ``summaries.jsonl``)."""
        return _last_text_per_id(self.root / SUMMARIES_FILE)

    def texts(self) -> list[tuple[str | None, str]]:
        """Per sample, ``(text, where_from)``: summary > generated caption > original caption.

        ``where_from`` is ``"summary"``, ``"caption"``, ``"source"`` or ``"none"``.
        """
        summaries, captions = self.summaries(), self.captions()
        out: list[tuple[str | None, str]] = []
        for r in self.records:
            if r.id in summaries:
                out.append((summaries[r.id], "summary"))
            elif r.id in captions:
                out.append((captions[r.id], "caption"))
            elif r.caption:
                out.append((r.caption, "source"))
            else:
                out.append((None, "none"))
        return out

    def text_lists(self) -> list[tuple[list[str], str]]:
        """Per sample, every text it trains with and where they come from (as :meth:`texts`).

        A summary or a generated caption is one text; captions that came with the image are
        its caption and its ``alt_captions`` (several phrasings of one picture teach the model
        the words, not one sentence). Empty texts are left out; a sample without any has ``[]``.
        """
        out: list[tuple[list[str], str]] = []
        for r, (text, source) in zip(self.records, self.texts()):
            texts = [text, *r.alt_captions] if source == "source" else [text]
            out.append(([t for t in dict.fromkeys(texts) if t and t.strip()], source))
        return out

    def fingerprint(self) -> str:
        """A short hash of the samples (manifest and ink layout): what a model was trained on."""
        h = hashlib.sha256()
        h.update((self.root / MANIFEST_FILE).read_bytes())
        h.update(self.offsets.tobytes())
        return h.hexdigest()[:16]


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
        width = np.asarray([ds.records[i].width for i in idx], dtype=np.float32)
        height = np.asarray([ds.records[i].height for i in idx], dtype=np.float32)
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
        self._xy = _RawArray(self.path, np.dtype("<u2"), 2)
        self._rgb = _RawArray(Path(rgb_path), np.dtype("u1"), 3) if rgb_path is not None else None
        if self._rgb is not None and self._rgb.rows != self._xy.rows:
            raise PointdiffError(f"{rgb_path} has {self._rgb.rows} colours for {self._xy.rows} ink pixels; the dataset is damaged: ingest it again")
        shape = (self._xy.rows, 2)
        self.dim = 5 if self._rgb is not None else 2
        self.starts = torch.from_numpy(np.asarray(starts, np.int64))
        self.counts = torch.from_numpy(np.asarray(counts, np.int64))
        if (self.counts <= 0).any():
            raise PointdiffError("a sample has no points")
        if len(self.counts) and int((self.starts + self.counts).max()) > shape[0]:
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


class _RawArray:
    """Rows of a 2-D ``.npy`` file read with ``pread`` into fresh buffers (no memory map, no pickle)."""

    def __init__(self, path: Path, dtype: np.dtype, columns: int):
        self.path, self.dtype, self.columns = path, dtype, columns
        with open(path, "rb") as f:  # the .npy header says where the data starts
            major, _ = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            shape, fortran, found = read_header(f)
            self._data_start = f.tell()
        if found != dtype or fortran or len(shape) != 2 or shape[1] != columns:
            raise PointdiffError(f"{path} is not a {dtype} [N, {columns}] ink array; the dataset is damaged: ingest it again")
        self.rows = int(shape[0])
        self._row_bytes = dtype.itemsize * columns
        self._fd: int | None = None
        self._pid = -1

    def read(self, start: int, count: int) -> np.ndarray:
        """``count`` rows from row ``start``: [count, columns]."""
        if self._fd is None or self._pid != os.getpid():  # a forked worker opens its own descriptor
            self._fd, self._pid = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0)), os.getpid()
        nbytes = count * self._row_bytes
        offset = self._data_start + start * self._row_bytes
        if hasattr(os, "pread"):
            buf = os.pread(self._fd, nbytes, offset)
        else:  # Windows has no pread
            os.lseek(self._fd, offset, os.SEEK_SET)
            buf = os.read(self._fd, nbytes)
        if len(buf) != nbytes:
            raise PointdiffError(f"{self.path} ended early; the dataset is damaged: ingest it again")
        return np.frombuffer(buf, dtype=self.dtype).reshape(count, self.columns)

    def __del__(self) -> None:
        if getattr(self, "_fd", None) is not None and self._pid == os.getpid():
            os.close(self._fd)

