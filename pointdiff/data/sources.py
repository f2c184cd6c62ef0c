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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from pointdiff.data.dataset import IMAGES_DIR, Rejection
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


@dataclass
class Found:
    """What a source offers: the images to try, in order, and what it saw on the way."""

    candidates: Iterable[Candidate]  # lazy for the built-in source: each face is drawn when reached
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


def _walk(root: Path, recursive: bool, exclude: Path | None, notes: list[str], outside: list[Path]) -> Iterator[tuple[Path, list[Path]]]:
    """(folder, files) for ``root`` and, if recursive, its subfolders; hidden entries skipped.

    A symbolic link that leaves ``root`` is not followed (a received folder must not make ingest
    read, say, ``~/.ssh`` into a caption): it goes to ``outside`` instead. Links within are followed.
    """
    real_root = root.resolve()
    stack, visited = [root], set()
    while stack:
        folder = stack.pop()
        if folder.resolve() in visited:  # a symlink loop must not walk forever
            continue
        visited.add(folder.resolve())
        files, subdirs = [], []
        try:
            entries = list(folder.iterdir())
        except OSError as e:
            notes.append(f"cannot read folder {folder}: {e.strerror or e}")
            continue
        for p in entries:
            if p.name.startswith(".") or (exclude is not None and p == exclude):
                continue
            if _leaves(p, real_root) and (recursive or not p.is_dir()):
                outside.append(p)
                continue
            if p.is_dir():
                subdirs.append(p)
            elif p.is_file():
                files.append(p)
        yield folder, sorted(files, key=lambda p: natural_key(p.name))
        if recursive:
            stack.extend(sorted(subdirs, key=lambda p: natural_key(p.name), reverse=True))


def _read_metadata(path: Path, root: Path, notes: list[str]) -> dict[str, dict[str, Any]]:
    """Rows of one metadata.jsonl by image path relative to ``root``; bad lines become notes."""
    base = path.parent
    rows: dict[str, dict[str, Any]] = {}
    where = path.relative_to(root).as_posix()
    for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
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
        rows[rel] = row
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


def _caption(c: Candidate, metadata: dict[str, dict[str, Any]], real_root: Path) -> None:
    """Attach caption and labels: metadata.jsonl first, then a sidecar .txt / .caption (not one that links outside ``real_root``)."""
    row = metadata.get(c.rel)
    if row is not None:
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
    """
    found = Found([], 0, {"recursive": recursive})
    metadata: dict[str, dict[str, Any]] = {}
    kept: list[tuple[Path, str]] = []  # (path, rel) of images kept by ``every``
    others: list[tuple[Path, str]] = []
    all_images: list[str] = []
    outside: list[Path] = []
    for folder, files in _walk(root, recursive, exclude, found.notes, outside):
        found.files_seen += len(files)
        frames = [p for p in files if p.suffix.lower() in IMAGE_EXTENSIONS]
        for k, p in enumerate(frames):
            rel = p.relative_to(root).as_posix()
            all_images.append(rel)
            if k % every == 0:
                kept.append((p, rel))
            else:
                found.skipped_by_every += 1
        for p in files:
            rel = p.relative_to(root).as_posix()
            if p.name == METADATA_FILE:
                metadata.update(_read_metadata(p, root, found.notes))  # deeper files come later and win
                found.consumed.append(rel)
            elif p.suffix.lower() not in IMAGE_EXTENSIONS:
                others.append((p, rel))
    unread = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and p != exclude] if not recursive else []
    if unread:
        found.notes.append(f"{len(unread)} subfolder(s) not read, e.g. {unread[0].name}/; add --recursive to include them")

    stems = {rel.rsplit(".", 1)[0] for rel in all_images}
    for p, rel in others:
        if p.suffix.lower() in SIDECAR_EXTENSIONS and rel.rsplit(".", 1)[0] in stems:
            found.consumed.append(rel)
        elif p.suffix.lower() in SIDECAR_EXTENSIONS:
            found.rejected.append(Rejection(rel, Rejection.NOT_IMAGE, f"a caption file with no image named {p.stem}.*"))
        else:
            found.rejected.append(Rejection(rel, Rejection.NOT_IMAGE, f"extension {p.suffix or '(none)'} is not one of {', '.join(e[1:] for e in IMAGE_EXTENSIONS)}"))
    for p in outside:
        found.rejected.append(Rejection(p.relative_to(root).as_posix(), Rejection.OUTSIDE, f"a symbolic link to {p.resolve()}, outside the source folder: not followed (copy it in to use it)"))
    unmatched = sorted(set(metadata) - set(all_images))
    if unmatched:
        found.notes.append(f"{METADATA_FILE}: {len(unmatched)} row(s) name files not found, e.g. {unmatched[0]}")

    # Ids depend on file names only (not on which files turn out bad), so they are stable.
    used: set[str] = set()
    ids = {rel: _unique_id(rel.rsplit(".", 1)[0], used) for rel in all_images}
    candidates = [Candidate(p, rel, ids[rel]) for p, rel in kept]
    real_root = root.resolve()
    for c in candidates:
        _caption(c, metadata, real_root)
    found.candidates, found.total = candidates, len(candidates)
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
