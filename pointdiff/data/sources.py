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
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path, PurePath
from typing import Any

from pointdiff.data.dataset import IMAGES_DIR, Rejection
from pointdiff.data.folders import METADATA_FILE, natural_bytes, natural_key
from pointdiff.data.images import IMAGE_EXTENSIONS
from pointdiff.data.scratch import scratch_db
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
    """A folder's candidates, each kept as one compact JSON row in the scan's scratch database and made into a :class:`Candidate` when iterated.

    A Candidate with its Path costs about 700 bytes and its JSON row (name, id, captions,
    labels) about 120 for a one-line caption; on disk, a 100k-image folder's listing costs this
    process nothing (it held 12 MB as rows in memory). Iterating again reads the rows again
    and gives equal candidates (the resume key hashes them, then ingest reads them).
    """

    def __init__(self, root: Path, db: sqlite3.Connection):
        self.root = root
        self._db = db
        db.execute("CREATE TABLE listing (row TEXT)")
        self._count = 0

    def append(self, c: Candidate) -> None:
        """Keep ``c`` (a folder's: no description)."""
        row = json.dumps([c.rel, c.id, c.caption, c.caption_from, c.labels, c.alt_captions])  # ASCII: any str goes in, a lone surrogate too
        self._db.execute("INSERT INTO listing VALUES (?)", (row,))
        self._count += 1

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Candidate]:
        for (row,) in self._db.execute("SELECT row FROM listing ORDER BY rowid"):  # a cursor: one row at a time
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
    caption_files: int = 0  # metadata.jsonl and sidecar files read
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


def _walk(root: Path, recursive: bool, exclude: Path | None, notes: list[str], outside: list[Path]) -> Iterator[tuple[Path, str]]:
    """(folder, file name) for each file of ``root`` and, if recursive, its subfolders'; hidden entries skipped.

    A folder's files come in the order the OS lists them, one at a time (a folder of 100k
    images is never a list here: the scan sorts them on disk). A symbolic link that leaves
    ``root`` is not followed (a received folder must not make ingest read, say, ``~/.ssh`` into
    a caption): it goes to ``outside`` instead. Links within are followed.
    """
    real_root = root.resolve()
    stack, visited = [root], set()
    while stack:
        folder = stack.pop()
        if folder.resolve() in visited:  # a symlink loop must not walk forever
            continue
        visited.add(folder.resolve())
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
                        yield folder, e.name
        except OSError as e:
            notes.append(f"cannot read folder {folder}: {e.strerror or e}")
            continue
        if recursive:
            stack.extend(sorted(subdirs, key=lambda p: natural_key(p.name), reverse=True))


def _utf8(text: str) -> bool:
    """Whether ``text`` is valid Unicode: a file name that was not valid UTF-8 on disk comes with lone surrogates, which no JSON file or database takes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _read_metadata(path: Path, root: Path, notes: list[str], db: sqlite3.Connection) -> None:
    """Each row of one metadata.jsonl into table ``caption_row``, as its line of JSON by the image path relative to ``root``; bad lines become notes.

    A row for a file named before replaces the earlier one. The line is parsed again when its
    image's candidate is made. Read line by line, split as ``str.splitlines`` splits.
    """
    base = path.parent
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
            if not isinstance(row, dict) or not isinstance(row.get("file_name"), str) or not _utf8(row["file_name"]):
                notes.append(f"{where}:{n}: no \"file_name\", line ignored")
                continue
            rel = Path(os.path.relpath(os.path.normpath(base / row["file_name"]), root)).as_posix()
            db.execute("INSERT OR REPLACE INTO caption_row VALUES (?, ?)", (rel, line))


class _Ids:
    """Sample ids made unique in the order asked: ``photo``, then ``photo-2``, ``photo-3`` ...; those given kept in a scratch database."""

    def __init__(self, db: sqlite3.Connection | None = None):
        self._db = db or scratch_db()
        self._db.execute("CREATE TABLE used_id (id TEXT PRIMARY KEY) WITHOUT ROWID")

    def unique(self, stem: str) -> str:
        """``stem``, or ``stem-N`` with the smallest N from 2 not given yet."""
        new, n = stem, 1
        while self._db.execute("INSERT OR IGNORE INTO used_id VALUES (?)", (new,)).rowcount == 0:
            n += 1
            new = f"{stem}-{n}"
        return new


def _texts(value: Any) -> list[str]:
    """A metadata caption value as a list of texts: one string, or a list of them (several captions of one picture)."""
    values = value if isinstance(value, list) else [value]
    return list(dict.fromkeys(v.strip() for v in values if isinstance(v, str) and v.strip()))


def _caption(c: Candidate, db: sqlite3.Connection, real_root: Path) -> None:
    """Attach caption and labels: metadata.jsonl first (table ``caption_row``), then a sidecar .txt / .caption (not one that links outside ``real_root``)."""
    found = db.execute("SELECT line FROM caption_row WHERE rel = ?", (c.rel,)).fetchone()
    if found is not None:
        row = json.loads(found[0])  # valid: _read_metadata kept only rows that parse
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


_SCAN_TABLES = """
CREATE TABLE image (folder INTEGER, key BLOB, rel TEXT, stem TEXT);  -- every image file; key: natural_bytes(name)
CREATE TABLE other (folder INTEGER, key BLOB, rel TEXT);  -- files neither images nor metadata.jsonl
CREATE TABLE caption_row (rel TEXT PRIMARY KEY, line TEXT) WITHOUT ROWID;  -- metadata.jsonl lines by the image they name
"""


def scan_folder(root: Path, recursive: bool = False, every: int = 1, exclude: Path | None = None) -> Found:
    """The images of ``root`` to try (after ``every``); caption files consumed, other files rejected.

    ``exclude`` is a path never read (the dataset being written, when it lies inside ``root``).
    What the scan keeps per file (names, metadata rows, ids, the listing) lives in a scratch
    database (:mod:`pointdiff.data.scratch`), so a folder of any size costs the same memory;
    only rejections and notes are held. Folders are visited depth first in natural order and
    each folder's files in natural order (ties, such as ``a1`` and ``a01``, by name).
    """
    found = Found([], 0, {"recursive": recursive})
    db = scratch_db()
    db.executescript(_SCAN_TABLES)
    outside: list[Path] = []
    sidecars = False  # whether any file could be a sidecar caption
    last: Path | None = None
    folders, prefix = 0, ""
    for folder, name in _walk(root, recursive, exclude, found.notes, outside):
        found.files_seen += 1
        if folder != last:
            last, folders = folder, folders + 1
            prefix = "" if folder == root else folder.relative_to(root).as_posix() + "/"
        rel, suffix = prefix + name, PurePath(name).suffix.lower()
        if not _utf8(rel):
            shown = rel.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            found.rejected.append(Rejection(shown, Rejection.UNREADABLE, "its name is not valid UTF-8; rename the file to include it"))
        elif suffix in IMAGE_EXTENSIONS:
            db.execute("INSERT INTO image VALUES (?, ?, ?, ?)", (folders, natural_bytes(name), rel, rel.rsplit(".", 1)[0]))
        elif name == METADATA_FILE:
            _read_metadata(folder / name, root, found.notes, db)  # deeper files come later and win
            found.caption_files += 1
        else:
            sidecars |= suffix in SIDECAR_EXTENSIONS
            db.execute("INSERT INTO other VALUES (?, ?, ?)", (folders, natural_bytes(name), rel))
    unread = [e.name for e in os.scandir(root) if not e.name.startswith(".") and _is(e, "dir") and root / e.name != exclude] if not recursive else []
    if unread:
        found.notes.append(f"{len(unread)} subfolder(s) not read, e.g. {unread[0]}/; add --recursive to include them")

    if sidecars:
        db.execute("CREATE INDEX image_stem ON image (stem)")
    for (rel,) in db.execute("SELECT rel FROM other ORDER BY folder, key, rel"):
        p = PurePath(rel)
        if p.suffix.lower() in SIDECAR_EXTENSIONS and db.execute("SELECT 1 FROM image WHERE stem = ?", (rel.rsplit(".", 1)[0],)).fetchone():
            found.caption_files += 1
        elif p.suffix.lower() in SIDECAR_EXTENSIONS:
            found.rejected.append(Rejection(rel, Rejection.NOT_IMAGE, f"a caption file with no image named {p.stem}.*"))
        else:
            found.rejected.append(Rejection(rel, Rejection.NOT_IMAGE, f"extension {p.suffix or '(none)'} is not one of {', '.join(e[1:] for e in IMAGE_EXTENSIONS)}"))
    for p in outside:
        found.rejected.append(Rejection(p.relative_to(root).as_posix(), Rejection.OUTSIDE, f"a symbolic link to {p.resolve()}, outside the source folder: not followed (copy it in to use it)"))
    unmatched, first = db.execute("SELECT count(*), min(rel) FROM caption_row WHERE rel NOT IN (SELECT rel FROM image)").fetchone()
    if unmatched:
        found.notes.append(f"{METADATA_FILE}: {unmatched} row(s) name files not found, e.g. {first}")

    # Ids depend on file names only (not on which files turn out bad), so they are stable.
    ids = _Ids(db)
    listing = Listing(root, db)
    real_root = root.resolve()
    last_folder, k = -1, 0  # k: the image's place in its folder, for ``every``
    for folder_n, rel, stem in db.execute("SELECT folder, rel, stem FROM image ORDER BY folder, key, rel"):
        k = k + 1 if folder_n == last_folder else 0
        last_folder = folder_n
        sid = ids.unique(stem)
        if k % every:
            found.skipped_by_every += 1
            continue
        c = Candidate(root / rel, rel, sid)
        _caption(c, db, real_root)
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
        ids = _Ids()
        for sample in source.samples(settings.count, settings.seed, every, settings.captions):
            sid = ids.unique(re.sub(r"[^A-Za-z0-9_.-]+", "-", str(sample.id)))
            path = images / f"{sid}.png"
            # Level 1: line art compresses almost as well as at the default 6, several times faster.
            sample.image.save(path, format="PNG", compress_level=1)
            description = sample.description if settings.descriptions else None
            yield Candidate(path, f"{IMAGES_DIR}/{sid}.png", sid, sample.caption, f"{BUILTIN_PREFIX}{name}", dict(sample.labels), description, list(sample.alt_captions))

    return Found(candidates(), kept, info, files_seen=settings.count, skipped_by_every=settings.count - kept)
