"""Files on disk: atomic writes, JSONL, safetensors and hashing.

Every write goes to a temporary file in the same folder and is then renamed over the
target, so a killed process leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import errno
import glob
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, BinaryIO

from pointdiff.errors import PointdiffError


def _create_temp_beside(path: Path) -> Path:
    """Create a new empty file with a unique name beside ``path`` and return its path.

    Its permissions are what a plain ``open(path, "w")`` would give: ``0o666`` less the
    process's umask, applied by the kernel when the file is created. (``tempfile.mkstemp``
    makes ``0600``, and fixing that up afterwards needs the umask, which can only be read by
    setting it: process-wide, and racy with other threads.)
    """
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp{path.suffix}"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:  # O_EXCL: never reuse a name another writer holds
            continue
        return tmp
    raise FileExistsError(f"no free temporary name beside {path}")


def remove_temps(path: str | os.PathLike) -> None:
    """Delete the temporary files that killed writers of ``path`` left beside it.

    Only for ``path``'s one writer (it holds the folder's lock): each such file is then a dead process's.
    """
    path = Path(path)
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp{glob.escape(path.suffix)}"):
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_path(path: str | os.PathLike, size: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds.

    Use it for writers that want a file name (``np.save``, ``safetensors``, ``savefig``).
    If the block raises, ``path`` keeps its old content (or stays absent) and the temporary
    file is removed. A full disk (ENOSPC) becomes a :func:`disk_full` error saying how much
    space the write needed (``size``, when the caller knows it).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = _create_temp_beside(path)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
        raise disk_full(path, tmp_path.stat().st_size if tmp_path.exists() else 0, size) from None
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def disk_full(path: Path, written: int, needed: int | None = None) -> PointdiffError:
    """The error for a write to ``path`` that ran out of disk: how much it needed, and what is free.

    ``needed`` is the whole size when the writer knows it; otherwise the bytes ``written``
    before the disk filled are a lower bound.
    """
    try:
        free = shutil.disk_usage(path.parent).free
    except OSError:
        free = None
    need = f"it needs {_size(needed)}" if needed is not None else f"it needs more than the {_size(written)} written before the disk filled"
    room = f", {_size(free)} free" if free is not None else ""
    return PointdiffError(f"no space left on the disk of {path.parent} writing {path.name}: {need}{room}. Free some space and run again; the previous {path.name} is unchanged")


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    scaled, unit = float(n), "bytes"
    for unit in ("KB", "MB", "GB"):
        scaled /= 1024
        if scaled < 1024:
            break
    return f"{scaled:.1f} {unit}"


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path, size=len(data)) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def jsonl_line(row: Mapping[str, Any]) -> str:
    """One JSONL line: ``row`` as JSON (non-ASCII kept as is) and a newline; every JSONL file pointdiff writes uses it."""
    return json.dumps(dict(row), ensure_ascii=False) + "\n"


def write_jsonl(path: str | os.PathLike, rows: Iterable[Mapping[str, Any]]) -> None:
    """Write ``rows`` one JSON object per line, atomically (the whole file at once)."""
    text = "".join(jsonl_line(r) for r in rows)
    atomic_write_text(path, text)


def read_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Read a JSONL file; a torn last line (a run killed mid-write) is skipped, not fatal."""
    path = Path(path)
    if not path.exists():
        return []
    rows: list[dict[str, Any]] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if n == len(lines) - 1:
                break  # torn tail of an append-only cache
            raise ValueError(f"{path}:{n + 1}: not valid JSON") from None
    return rows


class JsonlAppender:
    """An append-only JSONL file flushed and fsynced per row: a cache that survives kill -9.

    A torn last line left by a killed writer is cut off on open, so the next row starts
    on a line of its own.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._repair_tail()
        self._f: BinaryIO = open(self.path, "ab")

    def _repair_tail(self) -> None:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        data = self.path.read_bytes()
        if data.endswith(b"\n"):
            return
        cut = data.rfind(b"\n") + 1  # 0 when the only line is torn
        with open(self.path, "r+b") as f:
            f.truncate(cut)

    def append(self, row: Mapping[str, Any]) -> None:
        """Append one row and make it durable before returning."""
        self._f.write(jsonl_line(row).encode("utf-8"))
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        """Close the file."""
        self._f.close()

    def __enter__(self) -> "JsonlAppender":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def save_tensors(path: str | os.PathLike, tensors: Mapping[str, Any], metadata: Mapping[str, str] | None = None) -> None:
    """Save torch tensors as safetensors, atomically. Metadata values must be strings."""
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    size = sum(v.numel() * v.element_size() for v in tensors.values())  # the header adds a little
    with atomic_path(path, size=size) as tmp:
        try:
            save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp), metadata=dict(metadata or {}))
        except SafetensorError as e:  # its I/O errors come wrapped; a full disk is still a full disk
            if "No space left" in str(e) or "code: 28" in str(e):
                raise OSError(errno.ENOSPC, str(e)) from None
            raise


def load_tensors(path: str | os.PathLike, device: str = "cpu") -> tuple[dict[str, Any], dict[str, str]]:
    """Load a safetensors file: (tensors, metadata). Never unpickles anything."""
    from safetensors import SafetensorError, safe_open

    tensors = {}
    try:
        with safe_open(str(path), framework="pt", device=device) as f:
            metadata = dict(f.metadata() or {})
            for key in f.keys():
                tensors[key] = f.get_tensor(key)
    except SafetensorError as e:  # a truncated or foreign file: the user's to replace, not a crash
        raise PointdiffError(f"{path} is not a readable safetensors file ({e})") from None
    return tensors, metadata


def safetensors_header(source: str | os.PathLike | BinaryIO) -> tuple[int, dict[str, Any]]:
    """(where the data starts, the JSON header) of a safetensors file (a path, or a binary file at its start), without reading a tensor.

    The format is 8 bytes of little-endian header length, the header, then the tensors' bytes;
    each tensor's ``data_offsets`` count from the end of the header, and ``__metadata__`` holds
    the string metadata.
    """
    name = getattr(source, "name", source)
    try:
        with open(source, "rb") if isinstance(source, (str, os.PathLike)) else nullcontext(source) as f:
            size = int.from_bytes(f.read(8), "little")
            header = json.loads(f.read(size))
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
    except (OSError, ValueError) as e:  # json errors and a short read are ValueErrors
        raise PointdiffError(f"{name} is not a readable safetensors file ({type(e).__name__}: {e})") from None
    return 8 + size, header
