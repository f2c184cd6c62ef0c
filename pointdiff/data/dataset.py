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
memory-mapped (never pickled), so a 100k-image dataset is read lazily; so is the manifest:
:class:`Dataset` holds only the columns training needs (ids, sizes) and where each line lies,
and parses a :class:`Record` when one is asked for (:class:`Records`).

The text of a sample (what `embed` encodes) is, in order of preference: its summary, its
generated caption, the caption that came with the image.
"""

from __future__ import annotations

import hashlib
import json
import operator
import os
import shutil
import tempfile
import threading
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, overload

import numpy as np

from pointdiff.errors import PointdiffError
from pointdiff.store import atomic_path, jsonl_line, read_json, read_jsonl, write_json, write_jsonl

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


def _manifest_line(record: Record) -> bytes:
    """A record as its line of ``manifest.jsonl``: what :func:`pointdiff.store.write_jsonl` writes for it."""
    return jsonl_line(record.to_json()).encode("utf-8")


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

    Ink coordinates (and, with ``color``, their RGB) and manifest rows go to temporary files
    as they come and become ``ink_xy.npy`` (``ink_rgb.npy``) and ``manifest.jsonl`` at the
    end, so memory stays flat however many images (8 bytes a sample are held: where its row
    starts). The manifest is written last, so a dataset folder with a manifest is always
    complete. Captions a later duplicate brings (:meth:`add_captions`) are held by sample
    and joined to that sample's row when the manifest is written.
    """

    def __init__(self, root: str | Path, info: dict[str, Any] | None = None, color: bool = False):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.info = dict(info or {})
        self.color = color
        if color:
            self.info["color"] = True
        self.rejections: list[Rejection] = []
        self._offsets = array("q", [0])  # 8 bytes a sample, not a Python int's 36
        self._row_starts = array("q")  # where each sample's row starts in the temporary manifest
        self._row_end = 0
        self._more_captions: dict[int, list[str]] = {}  # sample -> captions to join its row at close
        self._raw_path, self._raw = self._temp(".ink_xy.")
        self._rgb_path, self._rgb = self._temp(".ink_rgb.") if color else (None, None)
        self._rows_path, self._rows = self._temp(".rows.")  # not named like the manifest: it is never published

    def _temp(self, prefix: str) -> tuple[Path, Any]:
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".raw", dir=self.root)
        return Path(tmp), os.fdopen(fd, "wb")

    def __len__(self) -> int:
        return len(self._row_starts)

    def add(self, record: Record, pixels: np.ndarray) -> int:
        """Add one sample with its ink pixels: uint16 [K, 2] (col, row), or [K, 5] (col, row, r, g, b) in colour.

        The sample's row is written now (``record.ink_count`` set first): later changes to
        ``record`` are not seen; more captions go through :meth:`add_captions`.

        Returns:
            The sample's index (its row in the manifest).
        """
        width = 5 if self.color else 2
        if pixels.ndim != 2 or pixels.shape[1] != width or len(pixels) == 0:
            raise ValueError(f"{record.id}: expected a non-empty [K, {width}] pixel array, got {pixels.shape}")
        record.ink_count = int(len(pixels))
        line = _manifest_line(record)  # first: a record that cannot be written adds no pixels either
        self._raw.write(np.ascontiguousarray(pixels[:, :2], dtype=np.uint16).tobytes())
        if self._rgb is not None:
            self._rgb.write(np.ascontiguousarray(pixels[:, 2:], dtype=np.uint8).tobytes())
        self._offsets.append(self._offsets[-1] + len(pixels))
        self._rows.write(line)
        self._row_starts.append(self._row_end)
        self._row_end += len(line)
        return len(self._row_starts) - 1

    def record(self, index: int) -> Record:
        """Sample ``index`` as it will be published: its row read back, with the captions added since."""
        self._rows.flush()
        start = self._row_starts[index]
        end = self._row_starts[index + 1] if index + 1 < len(self._row_starts) else self._row_end
        with open(self._rows_path, "rb") as f:
            f.seek(start)
            record = Record.from_json(json.loads(f.read(end - start)))
        record.alt_captions.extend(self._more_captions.get(index, []))
        return record

    def add_captions(self, index: int, texts: list[str]) -> None:
        """More captions of sample ``index`` (a duplicate's): joined to its ``alt_captions`` when the manifest is written."""
        if texts:
            self._more_captions.setdefault(index, []).extend(texts)

    def reject(self, rejection: Rejection) -> None:
        """Record an input that was not taken."""
        self.rejections.append(rejection)

    def close(self) -> None:
        """Write the arrays, manifest, rejections and info; remove the temporary files."""
        self._raw.close()
        if self._rgb is not None:
            self._rgb.close()
        self._rows.close()
        try:
            total = self._offsets[-1]
            _publish(self._raw_path, self.root / INK_XY_FILE, np.uint16, (total, 2))
            if self._rgb_path is not None:
                _publish(self._rgb_path, self.root / INK_RGB_FILE, np.uint8, (total, 3))
            with atomic_path(self.root / INK_OFFSETS_FILE) as tmp:
                with open(tmp, "wb") as f:
                    np.save(f, _int64(self._offsets))
            write_jsonl(self.root / REJECTED_FILE, (r.to_json() for r in self.rejections))
            write_json(self.root / INFO_FILE, {"format_version": FORMAT_VERSION, "num_samples": len(self), "total_ink": total, **self.info})
            self._write_manifest()
        finally:
            for path in (self._raw_path, self._rgb_path, self._rows_path):
                if path is not None:
                    path.unlink(missing_ok=True)

    def _write_manifest(self) -> None:
        """The temporary rows as ``manifest.jsonl``, line by line, with each duplicate's captions joined; atomically.

        A row without added captions is copied as written, so the file is byte for byte what
        writing every record at the end would give; a row with some is rewritten from its own
        JSON (same keys in the same order, ``alt_captions`` longer).
        """
        with atomic_path(self.root / MANIFEST_FILE) as tmp:
            with open(self._rows_path, "rb") as rows, open(tmp, "wb") as out:
                for index, line in enumerate(rows):
                    more = self._more_captions.get(index)
                    if more:
                        row = json.loads(line)
                        row["alt_captions"] = [*row["alt_captions"], *more]
                        line = jsonl_line(row).encode("utf-8")
                    out.write(line)
                out.flush()
                os.fsync(out.fileno())


def _publish(raw_path: Path, path: Path, dtype: Any, shape: tuple[int, int]) -> None:
    """A raw temp file of ``shape`` rows as the ``.npy`` at ``path``, atomically: a header, then the bytes copied.

    Copied through file reads and writes rather than memory maps: a mapped page counts as this
    process's memory, and a 100k-image dataset's ink is a hundred MB of them.
    """
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": shape}
    with atomic_path(path) as tmp, open(raw_path, "rb") as raw, open(tmp, "wb") as out:
        np.lib.format.write_array_header_1_0(out, header)
        shutil.copyfileobj(raw, out, 1 << 20)


def _last_text_per_id(path: Path) -> dict[str, str]:
    return {row["id"]: row["text"] for row in read_jsonl(path) if row.get("text")}


def _load_array(path: Path, mmap_mode: str | None = None) -> np.ndarray:
    """A dataset's ``.npy`` array, never unpickled: an object array, a torn or a missing file is refused."""
    try:
        return np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise PointdiffError(f"{path} is not a plain array file ({e}); the dataset is damaged: ingest it again") from None


def _position(i: Any, n: int, what: str) -> int:
    """Index ``i`` of a sequence of ``n`` as a position from 0 (negative counts from the end); IndexError outside."""
    k = operator.index(i)
    k = k + n if k < 0 else k
    if not 0 <= k < n:
        raise IndexError(f"{what} {i} of {n}")
    return k


def pread(fd: int, nbytes: int, offset: int, lock: threading.Lock) -> bytes:
    """``nbytes`` from ``offset`` of an open file, into a fresh buffer; the file's position is never shared state."""
    if hasattr(os, "pread"):
        return os.pread(fd, nbytes, offset)
    with lock:  # Windows has no pread: a seek and a read, which two threads must not interleave
        os.lseek(fd, offset, os.SEEK_SET)
        return os.read(fd, nbytes)


class Records(Sequence[Record]):
    """A dataset's manifest as a sequence of :class:`Record`, each parsed from its line when asked for.

    Only where each line lies is held (16 bytes a sample, where a parsed Record costs about
    1 KB), so a 100k-image dataset's records cost 1.6 MB. Iterating reads the file in large
    blocks, front to back; ``records[i]`` reads one line. Every access makes a new Record:
    changing one changes nothing on disk or here. The file stays open from the moment the
    dataset was opened, so a dataset replaced on disk meanwhile (ingest ``--overwrite``) is
    read as it was, as its memory-mapped arrays are.
    """

    _BLOCK = 1 << 20  # bytes read at a time when iterating

    def __init__(self, path: Path, fd: int, starts: np.ndarray, ends: np.ndarray):
        self.path, self._fd = path, fd
        self._starts, self._ends = starts, ends
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._starts)

    @overload
    def __getitem__(self, i: int) -> Record: ...
    @overload
    def __getitem__(self, i: slice) -> list[Record]: ...
    def __getitem__(self, i: int | slice) -> Record | list[Record]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        k = _position(i, len(self), "record")
        start, end = int(self._starts[k]), int(self._ends[k])
        return self._parse(pread(self._fd, end - start, start, self._lock), k)

    def __iter__(self) -> Iterator[Record]:
        buf, at = b"", 0  # buf holds the file's bytes from offset ``at``
        for k in range(len(self)):
            start, end = int(self._starts[k]), int(self._ends[k])
            if end > at + len(buf):
                at = start
                buf = pread(self._fd, max(self._BLOCK, end - start), start, self._lock)
            yield self._parse(buf[start - at : end - at], k)

    def blocks(self) -> Iterator[bytes]:
        """The whole manifest file as it was opened, in blocks (for hashing it)."""
        offset = 0
        while block := pread(self._fd, self._BLOCK, offset, self._lock):
            yield block
            offset += len(block)

    def _parse(self, line: bytes, k: int) -> Record:
        if len(line) != int(self._ends[k] - self._starts[k]):
            raise PointdiffError(f"{self.path} ended early; the dataset is damaged: ingest it again")
        return Record.from_json(json.loads(line))

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the descriptor (a number that means nothing in another process)."""
        return {k: v for k, v in self.__dict__.items() if k not in ("_fd", "_lock")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickled in another process: the manifest is opened again, by its path."""
        self.__dict__.update(state)
        self._fd, self._lock = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0)), threading.Lock()

    def __del__(self) -> None:
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)
            self._fd = None


class PackedStrings(Sequence[str]):
    """Strings kept end to end in one UTF-8 buffer with where each ends: ``append``, ``[i]``, ``len``.

    A dataset's ids as a list cost about 60 bytes each in str objects scattered over the heap;
    packed, an id costs its length plus 8.
    """

    def __init__(self) -> None:
        self._data = bytearray()
        self._ends = array("q")

    def append(self, text: str) -> None:
        """Add ``text`` at the end."""
        self._data += text.encode("utf-8", "surrogatepass")
        self._ends.append(len(self._data))

    def __len__(self) -> int:
        return len(self._ends)

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> list[str]: ...
    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        k = _position(i, len(self), "string")
        start = self._ends[k - 1] if k else 0
        return self._data[start : self._ends[k]].decode("utf-8", "surrogatepass")


def _index_manifest(path: Path) -> tuple[Records, PackedStrings, np.ndarray, np.ndarray]:
    """Read ``manifest.jsonl`` once, front to back: its :class:`Records` and the columns held (ids, widths, heights).

    Lines are taken as :func:`pointdiff.store.read_jsonl` takes them: blank ones skipped, a torn
    last one (no valid JSON) left out, any other bad line refused.
    """
    starts, ends, widths, heights = array("q"), array("q"), array("q"), array("q")
    ids = PackedStrings()
    bad: str | None = None  # a line that is not JSON: fatal unless it turns out to be the last
    with open(path, "rb") as f:
        pos = 0
        for n, line in enumerate(f, 1):
            start, pos = pos, pos + len(line)
            if bad is not None:
                raise PointdiffError(bad)
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                bad = f"{path}:{n}: not valid JSON; the dataset is damaged: ingest it again"
                continue
            try:
                record = Record.from_json(row)
                width, height = int(record.width), int(record.height)
            except (TypeError, ValueError, AttributeError):
                raise PointdiffError(f"{path}:{n}: not a sample of this format (id, source, sha256, width, height, ink_count ...); the dataset is damaged: ingest it again") from None
            ids.append(record.id)
            widths.append(width)
            heights.append(height)
            starts.append(start)
            ends.append(pos)
        fd = os.dup(f.fileno())  # kept: the same file, even if another is renamed over its path
    return Records(path, fd, _int64(starts), _int64(ends)), ids, _int64(widths), _int64(heights)


def _int64(a: array) -> np.ndarray:
    """An ``array('q')`` as an int64 numpy array, sharing its buffer (no copy)."""
    return np.frombuffer(a, dtype=np.int64) if len(a) else np.zeros(0, np.int64)


class Dataset:
    """A dataset folder, read lazily: arrays are memory-mapped, records parsed when asked for.

    Held per sample: its id, width and height (what training and the samplers use, as
    :attr:`ids`, :attr:`widths`, :attr:`heights`) and where its manifest line lies; the rest of
    a sample (captions, labels, source, ...) is read from the manifest through :attr:`records`.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)
        manifest = self.root / MANIFEST_FILE
        if not manifest.exists():
            raise PointdiffError(f"no dataset at {self.root} (missing {MANIFEST_FILE}); create one with `pointdiff ingest`")
        self.info: dict[str, Any] = read_json(self.root / INFO_FILE) if (self.root / INFO_FILE).exists() else {}
        version = self.info.get("format_version", FORMAT_VERSION)
        if version > FORMAT_VERSION:
            raise PointdiffError(f"{self.root}: dataset format {version} is newer than this pointdiff ({FORMAT_VERSION}); upgrade pointdiff")
        self.records, self._ids, self.widths, self.heights = _index_manifest(manifest)
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
        return len(self._ids)

    @property
    def ids(self) -> list[str]:
        """Sample ids in order (a new list: changing it changes nothing here)."""
        return list(self._ids)

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
        return [_text_of(r, summaries, captions) for r in self.records]

    def text_lists(self) -> list[tuple[list[str], str]]:
        """Per sample, every text it trains with and where they come from (as :meth:`texts`).

        A summary or a generated caption is one text; captions that came with the image are
        its caption and its ``alt_captions`` (several phrasings of one picture teach the model
        the words, not one sentence). Empty texts are left out; a sample without any has ``[]``.
        """
        return list(self.iter_text_lists())

    def iter_text_lists(self) -> Iterator[tuple[list[str], str]]:
        """:meth:`text_lists` one sample at a time, in one pass over the manifest."""
        summaries, captions = self.summaries(), self.captions()
        for r in self.records:
            text, source = _text_of(r, summaries, captions)
            texts = [text, *r.alt_captions] if source == "source" else [text]
            yield [t for t in dict.fromkeys(texts) if t and t.strip()], source

    def fingerprint(self) -> str:
        """A short hash of the samples (manifest and ink layout): what a model was trained on."""
        h = hashlib.sha256()
        for block in self.records.blocks():  # the manifest this dataset opened, in blocks: a 100k-image one is tens of MB
            h.update(block)
        h.update(self.offsets.tobytes())
        return h.hexdigest()[:16]


def _text_of(r: Record, summaries: dict[str, str], captions: dict[str, str]) -> tuple[str | None, str]:
    """A sample's text and where it is from: summary > generated caption > original caption (see :meth:`Dataset.texts`)."""
    if r.id in summaries:
        return summaries[r.id], "summary"
    if r.id in captions:
        return captions[r.id], "caption"
    if r.caption:
        return r.caption, "source"
    return None, "none"
