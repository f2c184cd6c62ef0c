"""Rows of an array kept on disk and read when a step asks for them: training memory that does not grow with the data.

A 100k-caption dataset's text vectors take 150 MB and its density codes 100 MB. Held in memory
they grow a run with its data; memory-mapped they do too, since every page a batch touches
counts as the process's own until the kernel takes it back. :class:`DiskRows` reads just the
rows asked for, with ``pread`` into fresh buffers: a batch of 64 rows is 64 small reads from the
page cache (tens of microseconds), and nothing stays behind. Three kinds of file hold such rows:
a dataset's ``.npy`` ink arrays, the embeddings' safetensors file, and an anonymous temporary
file for what a run computes once and reads back per step (:meth:`DiskRows.spill`).
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch
from torch import Tensor

from pointdiff.data.dataset import pread
from pointdiff.errors import PointdiffError
from pointdiff.store import safetensors_header

# Arrays up to this size are held in memory instead: a density step reads 256 rows of two arrays,
# and reading them from disk cost 7 % of the step on the faces (22.8 vs 21.3 ms, 2 cores). Above it
# memory stays flat; below it grows by at most this much per array.
HELD_BELOW_BYTES = 32 * 2**20

# safetensors' names for the dtypes this module reads
_SAFETENSORS_DTYPES = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "U16": np.dtype("<u2"), "U8": np.dtype("u1")}


class DiskRows:
    """A 2-D array ``[rows, columns]`` of ``dtype`` at byte ``offset`` of an open file, read by rows.

    The file stays open from the start, so the rows are those of the file that was opened even
    if another is renamed over its path meanwhile (``pointdiff embed --force`` during a run).
    Read-only and safe to share: a copy (``copy.deepcopy``, an EMA of a model holding it) is
    the same object, and a forked process reads through the same descriptor (``pread`` moves
    no file position).
    """

    def __init__(self, file: IO[bytes], offset: int, rows: int, columns: int, dtype: np.dtype, metadata: dict[str, str] | None = None):
        self.path = Path(file.name) if isinstance(file.name, str) else None  # an anonymous file has none
        self.offset, self.rows, self.columns, self.dtype = offset, rows, columns, np.dtype(dtype)
        self.metadata = metadata or {}  # a safetensors file's string metadata
        self._row_bytes = self.dtype.itemsize * columns
        self._file = file
        self._lock = threading.Lock()  # pread's stand-in where the OS has none

    @classmethod
    def from_npy(cls, path: Path, dtype: np.dtype, columns: int) -> "DiskRows":
        """The rows of a 2-D ``.npy`` file, which must hold ``dtype`` [N, ``columns``] (no pickle, no memory map)."""
        f = open(path, "rb")  # the .npy header says where the data starts
        try:
            major, _ = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            shape, fortran, found = read_header(f)
        except ValueError as e:
            f.close()
            raise PointdiffError(f"{path} is not a .npy array ({e}); the dataset is damaged: ingest it again") from None
        if found != dtype or fortran or len(shape) != 2 or shape[1] != columns:
            f.close()
            raise PointdiffError(f"{path} is not a {np.dtype(dtype)} [N, {columns}] array; the dataset is damaged: ingest it again")
        return cls(f, f.tell(), int(shape[0]), columns, dtype)

    @classmethod
    def from_safetensors(cls, path: Path, name: str) -> "DiskRows":
        """The rows of 2-D tensor ``name`` of a safetensors file, found from its header; the file's metadata as :attr:`metadata`."""
        f = open(path, "rb")
        try:
            start, header = safetensors_header(f)
            entry = header[name]
            dtype, shape, (begin, end) = _SAFETENSORS_DTYPES[entry["dtype"]], entry["shape"], entry["data_offsets"]
        except (KeyError, TypeError, ValueError, PointdiffError) as e:
            f.close()
            raise PointdiffError(f"{path}: no 2-D tensor {name!r} of a known type ({type(e).__name__}: {e})") from None
        if len(shape) != 2 or end - begin != shape[0] * shape[1] * dtype.itemsize:
            f.close()
            raise PointdiffError(f"{path}: tensor {name!r} of shape {shape} does not fit its {end - begin} bytes")
        return cls(f, start + begin, int(shape[0]), int(shape[1]), dtype, dict(header.get("__metadata__") or {}))

    @classmethod
    def spill(cls, chunks: Iterable[Tensor], columns: int) -> "DiskRows":
        """Float32 rows written chunk by chunk (each [n, ``columns``]) to an anonymous temporary file.

        The file has no name on POSIX systems (the OS removes it when the last handle closes, even
        after a kill); it lives in the system's temporary folder (``TMPDIR``).
        """
        file = tempfile.TemporaryFile()
        rows = 0
        for chunk in chunks:
            block = chunk.detach().to("cpu", torch.float32).contiguous().numpy()
            if block.ndim != 2 or block.shape[1] != columns:
                file.close()
                raise ValueError(f"expected chunks of shape [n, {columns}], got {tuple(block.shape)}")
            file.write(block.tobytes())
            rows += len(block)
        file.flush()
        return cls(file, 0, rows, columns, np.dtype("<f4"))

    ndim = 2
    device = torch.device("cpu")  # where indices must be to read rows, as a tensor's device

    def to(self, *args: Any, **kwargs: Any) -> "DiskRows":
        """These rows, left on disk: ``table.to(device)`` holds a tensor there and leaves DiskRows be, so callers move what they read."""
        return self

    def __len__(self) -> int:
        return self.rows

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns), as a tensor's."""
        return (self.rows, self.columns)

    def read(self, start: int, count: int) -> np.ndarray:
        """``count`` consecutive rows from row ``start``: [count, columns] (a fresh, read-only buffer)."""
        nbytes = count * self._row_bytes
        buf = pread(self._file.fileno(), nbytes, self.offset + start * self._row_bytes, self._lock)
        if len(buf) != nbytes:
            raise PointdiffError(f"{self.path or 'a temporary file'} ended early (rows {start}..{start + count} of {self.rows}); the file is damaged")
        return np.frombuffer(buf, dtype=self.dtype).reshape(count, self.columns)

    def __getitem__(self, index: int | Tensor | np.ndarray | list[int]) -> Tensor:
        """Rows ``index`` [B] as a float32 tensor [B, columns], one read a row (an int: that row, [columns])."""
        rows = np.asarray(index.cpu() if isinstance(index, Tensor) else index, dtype=np.int64)
        flat = rows.reshape(-1)
        if len(flat) and not (0 <= flat.min() and flat.max() < self.rows):
            raise IndexError(f"rows {flat.min()}..{flat.max()} of {self.rows}")
        out = np.empty((len(flat), self.columns), np.float32)
        for k, r in enumerate(flat.tolist()):
            out[k] = self.read(r, 1)[0]
        return torch.from_numpy(out.reshape(*rows.shape, self.columns))

    def held_if_small(self, limit: int | None = None) -> "Tensor | DiskRows":
        """All rows as one float32 tensor when they take at most ``limit`` bytes (default :data:`HELD_BELOW_BYTES`), else these rows on disk."""
        if self.rows * self.columns * 4 > (HELD_BELOW_BYTES if limit is None else limit):
            return self
        return torch.from_numpy(self.read(0, self.rows).astype(np.float32))  # astype copies: the tensor owns its memory

    def __deepcopy__(self, memo: dict[int, Any]) -> "DiskRows":
        return self  # read-only: a copy can share the file

    def __del__(self) -> None:
        if getattr(self, "_file", None) is not None:
            self._file.close()
