"""Where ingest's images come from: which files of a folder, in what order, with what captions.

Sources:

* A folder of images (png, jpg, jpeg, webp, bmp, gif first frame); ``recursive`` also reads
  subfolders. Hidden files and folders (``.name``) are ignored. A symbolic link that leads
  outside the folder (an image, a caption file, a subfolder) is not followed but rejected as
  "outside the source": a folder someone sent must not make ingest copy other files of this
  machine into the dataset. Links that stay inside the folder are followed.
* The same with ``every=N``: in each folder, files are put in natural order (``frame2`` before
  ``frame10``) and every Nth is kept, starting with the first (video frames next to each other
  are near copies; the reference kept every 6th).
* A built-in source (:data:`BUILTIN_SOURCES`): ``builtin:faces`` / ``builtin:faces-video`` /
  ``builtin:faces-color`` (:mod:`pointdiff.data.faces`; the last in colour, RGB PNGs) or
  ``builtin:glyphs`` (:mod:`pointdiff.data.glyphs`) renders ``count`` pictures (or frames)
  for ``seed``; the PNGs are written to ``DATASET/images/`` and then read back exactly like a
  folder, with their true labels and caption.

Captions come from a ``metadata.jsonl`` (diffusers image folder: ``file_name`` relative to
the folder holding the file, ``text`` or ``caption`` — a string, or a list of several captions
of the one picture; other keys become labels) or else from a
sidecar ``IMAGE.txt`` / ``IMAGE.caption`` (kohya; ``.txt`` is read first). Those files are
consumed, not rejected. Sample ids are the path relative to the source without its extension
(``sub/photo``), with ``-2``, ``-3`` ... added when two files share one.

A source only lists candidates; :mod:`pointdiff.data.ingest` opens them and builds the dataset.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path, PurePath
from typing import Any

from pointdiff.data.dataset import IMAGES_DIR, Rejection, pread
from pointdiff.data.folders import METADATA_FILE, natural_key
from pointdiff.data.images import IMAGE_EXTENSIONS
from pointdiff.errors import PointdiffError

BUILTIN_PREFIX = "builtin:"
SIDECAR_EXTENSIONS = (".txt", ".caption")  # kohya; the first one found wins
CAPTION_KEYS = ("text", "caption")  # metadata.jsonl keys holding the caption, first wins
DESCRIBED_BY = f"{BUILTIN_PREFIX}faces"  # "model" of the long descriptions in captions.jsonl: the renderer


@dataclass(frozen=True)
class BuiltinSettings:
    """What a built-in source renders: the settings only built-in sources take, with defaults."""

    count: int = 600  # pictures (or video frames, before ``every``) to render; 600 takes seconds
    seed: int = 0  # same seed, same pictures
    descriptions: bool = False  # also write each face's long description to captions.jsonl (faces only)
    # Short captions per picture: the first, then other phrasings of the same labels (as COCO
    # has 5 per image). Faces, 3000 steps, 5 vs 1: canonical prompts' orientation 94 vs 77 %,
    # held-out paraphrases' 63 vs 57 %; own captions unchanged (99 / 23 vs 96 / 23 %).
    captions: int = 5


BUILTIN_ONLY = tuple(f.name for f in fields(BuiltinSettings))  # settings a folder refuses


@dataclass(frozen=True)
class BuiltinSource:
    """A built-in renderer: what ``builtin:NAME`` draws.

    ``samples(count, seed, every, captions)`` yields objects with ``.id``, ``.image``,
    ``.labels``, ``.caption``, ``.alt_captions`` (and ``.description`` when ``describes``),
    imported only when called.
    """

    samples: Callable[[int, int, int, int], Iterator[Any]]
    info: dict[str, Any]  # what dataset.json records besides count and seed
    describes: bool = False  # has long descriptions (``--descriptions``)


def _faces(video: bool, color: bool = False) -> Callable[[int, int, int, int], Iterator[Any]]:
    def samples(count: int, seed: int, every: int, captions: int) -> Iterator[Any]:
        from pointdiff.data.faces import iter_faces  # the renderer is only needed for builtin sources

        return iter_faces(count, seed=seed, video=video, every=every, captions=captions, color=color)

    return samples


def _glyphs(count: int, seed: int, every: int, captions: int) -> Iterator[Any]:
    from pointdiff.data.glyphs import iter_glyphs

    return iter_glyphs(count, seed=seed, every=every, captions=captions)


BUILTIN_SOURCES: dict[str, BuiltinSource] = {
    "faces": BuiltinSource(_faces(False), {"video": False}, describes=True),
    "faces-video": BuiltinSource(_faces(True), {"video": True}, describes=True),
    "faces-color": BuiltinSource(_faces(False, color=True), {"video": False, "color": True}, describes=True),
    "glyphs": BuiltinSource(_glyphs, {}),
}


def builtin_names() -> str:
    """``"builtin:faces, builtin:faces-video, builtin:glyphs"``: for messages and help."""
    return ", ".join(BUILTIN_PREFIX + n for n in BUILTIN_SOURCES)


@dataclass
class Candidate:
    """An image file to try, with what its source says about it."""

    path: Path
    rel: str  # path relative to the source, with "/" (the manifest's ``source``)
    id: str
    caption: str | None = None
    caption_from: str | None = None  # "metadata.jsonl", "sidecar .txt", "builtin:faces", ...
    labels: dict[str, Any] = field(default_factory=dict)
    description: str | None = None  # a long description (built-in faces, when asked for)
    alt_captions: list[str] = field(default_factory=list)  # more captions of the picture (a metadata list, a built-in's phrasings)


class Listing:
    """A folder's candidates, each kept as one compact JSON line in a temporary file and made into a :class:`Candidate` when iterated.

    A Candidate with its Path costs about 700 bytes and its JSON row (name, id, captions,
    labels) about 120 for a one-line caption; on disk, a 100k-image folder's listing costs this
    process nothing (it held 12 MB as rows in memory). Iterating again reads the file again
    and gives equal candidates (the resume key hashes them, then ingest reads them).
    """

    def __init__(self, root: Path):
        self.root = root
        self._file = tempfile.TemporaryFile()  # no name on POSIX: gone with the process, even after a kill
        self._count = 0
        self._lock = threading.Lock()  # pread's stand-in where the OS has none

    def append(self, c: Candidate) -> None:
        """Keep ``c`` (a folder's: no description)."""
        row = json.dumps([c.rel, c.id, c.caption, c.caption_from, c.labels, c.alt_captions], ensure_ascii=False)  # one line: JSON escapes newlines
        self._file.write(row.encode("utf-8") + b"\n")
        self._count += 1

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Candidate]:
        self._file.flush()
        offset, tail = 0, b""
        while block := pread(self._file.fileno(), 1 << 16, offset, self._lock):  # each pass at its own offset
            offset += len(block)
            *rows, tail = (tail + block).split(b"\n")
            for row in rows:
                rel, sid, caption, caption_from, labels, alt_captions = json.loads(row)
                yield Candidate(self.root / rel, rel, sid, caption, caption_from, labels, None, alt_captions)


@dataclass
class Found:
    """What a source offers: the images to try, in order, and what it saw on the way."""

    candidates: Iterable[Candidate]  # a folder's Listing; lazy for a built-in source: each face is drawn when reached
    total: int  # how many candidates there are (for progress)
    info: dict[str, Any] = field(default_factory=dict)  # what dataset.json records about the source
    files_seen: int = 0  # every file looked at (images, captions, others)
    skipped_by_every: int = 0  # frames dropped by ``every`` (not rejections)
    consumed: list[str] = field(default_factory=list)  # metadata.jsonl / sidecar files read
    rejected: list[Rejection] = field(default_factory=list)  # files that are not images
    notes: list[str] = field(default_factory=list)  # warnings worth showing


def parse_source(src: str | Path) -> tuple[str | None, Path | None]:
    """``(name, None)`` for ``builtin:NAME``, else ``(None, folder)`` as a normalised absolute path.

    Raises:
        PointdiffError: an unknown built-in source, or a folder that does not exist.
    """
    s = str(src)
    if s.startswith(BUILTIN_PREFIX):
        name = s[len(BUILTIN_PREFIX) :]
        if name not in BUILTIN_SOURCES:
            raise PointdiffError(f"unknown built-in source {s!r}; known: {builtin_names()}")
        return name, None
    root = Path(os.path.normpath(Path(src).absolute()))  # normalised: compared with scanned paths
    if not root.is_dir():
        what = "is a file" if root.exists() else "does not exist"
        raise PointdiffError(f"{src} {what}; give a folder of images (or a built-in source: {builtin_names()})")
    return None, root


# ----------------------------------------------------------------------------- folders


def _leaves(p: Path, real_root: Path) -> bool:
    """Whether ``p`` is a symbolic link to somewhere outside the (resolved) source folder."""
    return p.is_symlink() and not p.resolve().is_relative_to(real_root)


def _is(entry: os.DirEntry[str], kind: str) -> bool:
    """``entry.is_dir()`` / ``is_file()`` (links followed), False where it cannot be told: as :class:`Path`'s."""
    try:
        return entry.is_dir() if kind == "dir" else entry.is_file()
    except OSError:
        return False


def _walk(root: Path, recursive: bool, exclude: Path | None, notes: list[str], outside: list[Path]) -> Iterator[tuple[Path, list[str]]]:
    """(folder, names of its files) for ``root`` and, if recursive, its subfolders; hidden entries skipped.

    A symbolic link that leaves ``root`` is not followed (a received folder must not make ingest
    read, say, ``~/.ssh`` into a caption): it goes to ``outside`` instead. Links within are followed.
    Files are named, not made Paths: a folder of 100k images is 100k short strings here.
    """
    real_root = root.resolve()
    stack, visited = [root], set()
    while stack:
        folder = stack.pop()
        if folder.resolve() in visited:  # a symlink loop must not walk forever
            continue
        visited.add(folder.resolve())
        files: list[str] = []
        subdirs: list[Path] = []
        try:
            with os.scandir(folder) as entries:
                for e in entries:
                    if e.name.startswith(".") or (exclude is not None and e.name == exclude.name and folder / e.name == exclude):
                        continue
                    if e.is_symlink() and _leaves(folder / e.name, real_root) and (recursive or not _is(e, "dir")):
                        outside.append(folder / e.name)
                    elif _is(e, "dir"):
                        subdirs.append(folder / e.name)
                    elif _is(e, "file"):
                        files.append(e.name)
        except OSError as e:
            notes.append(f"cannot read folder {folder}: {e.strerror or e}")
            continue
        files.sort(key=natural_key)
        yield folder, files
        if recursive:
            stack.extend(sorted(subdirs, key=lambda p: natural_key(p.name), reverse=True))


def _read_metadata(path: Path, root: Path, notes: list[str]) -> dict[str, str]:
    """The rows of one metadata.jsonl by image path relative to ``root``, each as its line of JSON; bad lines become notes.

    A line is kept as text (a quarter of its parsed dict) and parsed again when its image's
    candidate is made. Read line by line, split as ``str.splitlines`` splits.
    """
    base = path.parent
    rows: dict[str, str] = {}
    where = path.relative_to(root).as_posix()
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        lines = (piece for physical in f for piece in physical.splitlines())  # a physical line is never empty
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                notes.append(f"{where}:{n}: not valid JSON, line ignored")
                continue
            if not isinstance(row, dict) or not isinstance(row.get("file_name"), str):
                notes.append(f"{where}:{n}: no \"file_name\", line ignored")
                continue
            rel = Path(os.path.relpath(os.path.normpath(base / row["file_name"]), root)).as_posix()
            rows[rel] = line
    return rows


def _unique_id(stem: str, used: set[str]) -> str:
    new, n = stem, 1
    while new in used:
        n += 1
        new = f"{stem}-{n}"
    used.add(new)
    return new


def _texts(value: Any) -> list[str]:
    """A metadata caption value as a list of texts: one string, or a list of them (several captions of one picture)."""
    values = value if isinstance(value, list) else [value]
    return list(dict.fromkeys(v.strip() for v in values if isinstance(v, str) and v.strip()))


def _caption(c: Candidate, metadata: dict[str, str], real_root: Path) -> None:
    """Attach caption and labels: metadata.jsonl first, then a sidecar .txt / .caption (not one that links outside ``real_root``).

    The metadata row used is taken out of ``metadata`` (each image is captioned once), so its
    text is freed as the candidate's own row is made.
    """
    line = metadata.pop(c.rel, None)
    if line is not None:
        row = json.loads(line)  # valid: _read_metadata kept only rows that parse
        c.labels = {k: v for k, v in row.items() if k not in ("file_name", *CAPTION_KEYS)}
        texts = next((t for t in (_texts(row.get(k)) for k in CAPTION_KEYS) if t), [])
        if texts:
            c.caption, c.alt_captions, c.caption_from = texts[0], texts[1:], METADATA_FILE
            return
    for ext in SIDECAR_EXTENSIONS:
        side = c.path.with_suffix(ext)
        if side.is_file() and not _leaves(side, real_root):
            text = side.read_text(encoding="utf-8-sig", errors="replace").strip()
            if text:
                c.caption, c.caption_from = text, f"sidecar {ext}"
                return


def scan_folder(root: Path, recursive: bool = False, every: int = 1, exclude: Path | None = None) -> Found:
    """The images of ``root`` to try (after ``every``); caption files consumed, other files rejected.

    ``exclude`` is a path never read (the dataset being written, when it lies inside ``root``).
    Per image only its name is held while the folder is walked, and a :class:`Listing` row after.
    """
    found = Found([], 0, {"recursive": recursive})
    metadata: dict[str, str] = {}  # image rel -> its metadata.jsonl line
    all_images: list[str] = []  # rel of every image, in order
    kept = bytearray()  # per image in all_images: 1 if kept by ``every``
    others: list[str] = []  # rel of files neither images nor metadata
    outside: list[Path] = []
    for folder, files in _walk(root, recursive, exclude, found.notes, outside):
        found.files_seen += len(files)
        prefix = "" if folder == root else folder.relative_to(root).as_posix() + "/"
        k = 0  # frames of this folder so far
        for name in files:
            suffix = PurePath(name).suffix
            if suffix.lower() in IMAGE_EXTENSIONS:
                all_images.append(prefix + name)
                kept.append(k % every == 0)
                found.skipped_by_every += k % every != 0
                k += 1
            elif name == METADATA_FILE:
                metadata.update(_read_metadata(folder / name, root, found.notes))  # deeper files come later and win
                found.consumed.append(prefix + name)
            else:
                others.append(prefix + name)
    unread = [e.name for e in os.scandir(root) if not e.name.startswith(".") and _is(e, "dir") and root / e.name != exclude] if not recursive else []
    if unread:
        found.notes.append(f"{len(unread)} subfolder(s) not read, e.g. {unread[0]}/; add --recursive to include them")

    stems = {rel.rsplit(".", 1)[0] for rel in all_images} if any(PurePath(rel).suffix.lower() in SIDECAR_EXTENSIONS for rel in others) else set()
    for rel in others:
        p = PurePath(rel)
        if p.suffix.lower() in SIDECAR_EXTENSIONS and rel.rsplit(".", 1)[0] in stems:
            found.consumed.append(rel)
        elif p.suffix.lower() in SIDECAR_EXTENSIONS:
            found.rejected.append(Rejection(rel, Rejection.NOT_IMAGE, f"a caption file with no image named {p.stem}.*"))
        else:
            found.rejected.append(Rejection(rel, Rejection.NOT_IMAGE, f"extension {p.suffix or '(none)'} is not one of {', '.join(e[1:] for e in IMAGE_EXTENSIONS)}"))
    del stems
    for p in outside:
        found.rejected.append(Rejection(p.relative_to(root).as_posix(), Rejection.OUTSIDE, f"a symbolic link to {p.resolve()}, outside the source folder: not followed (copy it in to use it)"))
    unmatched = sorted(set(metadata).difference(all_images))
    if unmatched:
        found.notes.append(f"{METADATA_FILE}: {len(unmatched)} row(s) name files not found, e.g. {unmatched[0]}")

    # Ids depend on file names only (not on which files turn out bad), so they are stable.
    used: set[str] = set()
    listing = Listing(root)
    real_root = root.resolve()
    for rel, keep in zip(all_images, kept):
        sid = _unique_id(rel.rsplit(".", 1)[0], used)
        if keep:
            c = Candidate(root / rel, rel, sid)
            _caption(c, metadata, real_root)
            listing.append(c)
    found.candidates, found.total = listing, len(listing)
    return found


# ----------------------------------------------------------------------------- builtin


def render_builtin(name: str, root: Path, settings: BuiltinSettings, every: int = 1) -> Found:
    """The pictures of built-in source ``name``, rendered into ``root/images`` as they are reached.

    Each PNG is written first and then read back like any folder image, so built-in and user
    images go through exactly the same conversion.

    Raises:
        PointdiffError: long descriptions asked of a source that has none.
    """
    source = BUILTIN_SOURCES[name]
    if settings.descriptions and not source.describes:
        having = ", ".join(BUILTIN_PREFIX + n for n, s in BUILTIN_SOURCES.items() if s.describes)
        raise PointdiffError(f"--descriptions: {BUILTIN_PREFIX}{name} has no long descriptions (only {having})")
    images = root / IMAGES_DIR
    images.mkdir()
    kept = -(-settings.count // every)  # samples kept by ``every``; the renderer never draws the others
    info = {"count": settings.count, "seed": settings.seed, "captions": settings.captions, **source.info}

    def candidates() -> Iterator[Candidate]:
        used: set[str] = set()
        for sample in source.samples(settings.count, settings.seed, every, settings.captions):
            sid = _unique_id(re.sub(r"[^A-Za-z0-9_.-]+", "-", str(sample.id)), used)
            path = images / f"{sid}.png"
            # Level 1: line art compresses almost as well as at the default 6, several times faster.
            sample.image.save(path, format="PNG", compress_level=1)
            description = sample.description if settings.descriptions else None
            yield Candidate(path, f"{IMAGES_DIR}/{sid}.png", sid, sample.caption, f"{BUILTIN_PREFIX}{name}", dict(sample.labels), description, list(sample.alt_captions))

    return Found(candidates(), kept, info, files_seen=settings.count, skipped_by_every=settings.count - kept)
