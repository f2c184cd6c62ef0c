"""Turn a folder of images, video frames or the built-in face renderer into a dataset folder.

Usage (``pointdiff ingest`` is a thin wrapper around this)::

    from pointdiff.data.ingest import IngestConfig, ingest
    report = ingest("photos/", "pointdiff-work/dataset", IngestConfig(recursive=True))
    report = ingest("frames/", "data/video", IngestConfig(every=6))         # every 6th frame
    report = ingest("builtin:faces", "data/faces", IngestConfig(count=600, seed=0))

Sources:

* A folder of images (png, jpg, jpeg, webp, bmp, gif first frame); ``recursive`` also reads
  subfolders. Hidden files and folders (``.name``) are ignored.
* The same with ``every=N``: in each folder, files are put in natural order (``frame2`` before
  ``frame10``) and every Nth is kept, starting with the first (video frames next to each other
  are near copies; the reference kept every 6th).
* ``builtin:faces`` / ``builtin:faces-video``: :mod:`pointdiff.data.faces` renders ``count``
  faces (or frames) for ``seed``; the PNGs are written to ``DATASET/images/`` and then read
  back exactly like a folder, with their true labels and caption.

Captions come from a ``metadata.jsonl`` (diffusers image folder: ``file_name`` relative to
the folder holding the file, ``text`` or ``caption``; other keys become labels) or else from a
sidecar ``IMAGE.txt`` / ``IMAGE.caption`` (kohya; ``.txt`` is read first). Those files are
consumed, not rejected. Sample ids are the path relative to the source without its extension
(``sub/photo``), with ``-2``, ``-3`` ... added when two files share one.

Every input that is not taken gets a reason in ``rejected.jsonl`` ("not an image", "corrupt
image", "no ink", "duplicate"). Only a source with nothing usable is an error.

The dataset is built in a hidden folder beside ``out`` and renamed into place at the end, so
an interrupted or failed run leaves any old dataset untouched, and ``overwrite`` replaces the
whole folder: captions, summaries and embeddings of the old images cannot survive by mistake.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import textwrap
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from PIL import Image

import numpy as np
import torch

from pointdiff import __version__
from pointdiff.data.dataset import CAPTIONS_FILE, CONTACT_SHEET_FILE, IMAGES_DIR, INFO_FILE, MANIFEST_FILE, Dataset, DatasetWriter, PointSampler, Record
from pointdiff.data.images import IMAGE_EXTENSIONS, ImageError, ink_pixels, load_grayscale, pixels_to_points
from pointdiff.errors import PointdiffError
from pointdiff.progress import ProgressFn, report as report_progress
from pointdiff.store import sha256_file, write_jsonl

BUILTIN_PREFIX = "builtin:"
BUILTIN_SOURCES = {"faces": False, "faces-video": True}  # name -> video mode
METADATA_FILE = "metadata.jsonl"
SIDECAR_EXTENSIONS = (".txt", ".caption")  # kohya; the first one found wins
CAPTION_KEYS = ("text", "caption")  # metadata.jsonl keys holding the caption, first wins
SHEET_POINTS = 1024  # points per cloud on the contact sheet: what the model draws
SHEET_SEED = 0  # fixed, so two ingests of the same images give the same sheet

# Rejection kinds (the part of a reason before the colon; the summary groups by it).
NOT_IMAGE = "not an image"
CORRUPT = "corrupt image"
NO_INK = "no ink"
DUPLICATE = "duplicate"
UNREADABLE = "unreadable"  # permissions, a file that vanished, an image too large to open safely


@dataclass
class IngestConfig:
    """How images become ink. Load with ``pointdiff.config.load_config(IngestConfig, ...)``."""

    threshold: int = 128  # a pixel darker than this is ink (the reference's 128)
    # Longer side shrunk to this before thresholding: a 12-megapixel photo would keep millions
    # of ink pixels (8 bytes each in training RAM) though a draw uses only 1024 of them;
    # 512 leaves 256-512 px line art (the built-in faces, memoji frames) untouched.
    max_size: int = 512
    recursive: bool = False  # also read subfolders (ids keep the subfolder: "sub/photo")
    every: int = 1  # keep every Nth file per folder in natural order (video frames; reference: 6)
    count: int = 600  # builtin only: faces (or video frames) to render; 600 takes seconds
    seed: int = 0  # builtin only: same seed, same faces
    descriptions: bool = False  # builtin only: also write long descriptions to captions.jsonl
    contact_sheet: int = 36  # clouds on contact_sheet.png, spread over the dataset (0: none)


@dataclass
class Rejected:
    """An input that was not taken: where it came from, what kind of problem, the details."""

    source: str
    kind: str
    detail: str

    @property
    def reason(self) -> str:
        """The reason as written to ``rejected.jsonl``: ``"kind: detail"``."""
        return f"{self.kind}: {self.detail}"


@dataclass
class IngestReport:
    """What an ingest did; the CLI renders it, tests inspect it."""

    source: str
    out: Path
    files_seen: int = 0  # every file looked at (images, captions, others)
    taken: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    skipped_by_every: int = 0  # frames dropped by ``every`` (not rejections)
    captions: Counter = field(default_factory=Counter)  # where captions came from -> samples
    labelled: int = 0  # samples with labels
    resized: int = 0  # images shrunk to max_size
    ink_counts: list[int] = field(default_factory=list)
    consumed: list[str] = field(default_factory=list)  # metadata.jsonl / sidecar files read
    descriptions: int = 0  # long descriptions written to captions.jsonl
    contact_sheet: Path | None = None
    mostly_ink: list[str] = field(default_factory=list)  # taken, but over 90% ink: inverted?
    notes: list[str] = field(default_factory=list)  # warnings worth showing
    seconds: float = 0.0

    def rejected_by_kind(self) -> dict[str, list[Rejected]]:
        """Rejections grouped by kind, largest group first."""
        groups: dict[str, list[Rejected]] = {}
        for r in self.rejected:
            groups.setdefault(r.kind, []).append(r)
        return dict(sorted(groups.items(), key=lambda kv: -len(kv[1])))

    def ink_stats(self) -> tuple[int, int, int] | None:
        """(min, median, max) ink pixels per taken sample, or None if nothing was taken."""
        if not self.ink_counts:
            return None
        a = np.asarray(self.ink_counts)
        return int(a.min()), int(np.median(a)), int(a.max())


class NothingUsableError(PointdiffError):
    """Raised when a source gives no usable image; carries the report so the CLI can show why."""

    def __init__(self, message: str, report: IngestReport):
        super().__init__(message)
        self.report = report


def natural_key(name: str) -> list[Any]:
    """Sort key that orders digit runs as numbers: ``frame2`` < ``frame10``."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


# ----------------------------------------------------------------------------- folders


@dataclass
class _Candidate:
    """An image file to try, with what the folder says about it."""

    path: Path
    rel: str  # path relative to the source, with "/"
    id: str
    caption: str | None = None
    caption_from: str | None = None
    labels: dict[str, Any] = field(default_factory=dict)


def _walk(root: Path, recursive: bool, exclude: Path | None, notes: list[str]) -> Iterator[tuple[Path, list[Path]]]:
    """(folder, files) for ``root`` and, if recursive, its subfolders; hidden entries skipped."""
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


def _caption(c: _Candidate, metadata: dict[str, dict[str, Any]]) -> None:
    """Attach caption and labels: metadata.jsonl first, then a sidecar .txt / .caption."""
    row = metadata.get(c.rel)
    if row is not None:
        c.labels = {k: v for k, v in row.items() if k not in ("file_name", *CAPTION_KEYS)}
        text = next((row[k].strip() for k in CAPTION_KEYS if isinstance(row.get(k), str) and row[k].strip()), None)
        if text:
            c.caption, c.caption_from = text, METADATA_FILE
            return
    for ext in SIDECAR_EXTENSIONS:
        side = c.path.with_suffix(ext)
        if side.is_file():
            text = side.read_text(encoding="utf-8-sig", errors="replace").strip()
            if text:
                c.caption, c.caption_from = text, f"sidecar {ext}"
                return


def _scan_folder(root: Path, cfg: IngestConfig, rep: IngestReport, exclude: Path | None) -> list[_Candidate]:
    """List the images to try (after ``every``); consume caption files; reject other files."""
    metadata: dict[str, dict[str, Any]] = {}
    kept: list[tuple[Path, str]] = []  # (path, rel) of images kept by ``every``
    others: list[tuple[Path, str]] = []
    all_images: list[str] = []
    for folder, files in _walk(root, cfg.recursive, exclude, rep.notes):
        rep.files_seen += len(files)
        frames = [p for p in files if p.suffix.lower() in IMAGE_EXTENSIONS]
        for k, p in enumerate(frames):
            rel = p.relative_to(root).as_posix()
            all_images.append(rel)
            if k % cfg.every == 0:
                kept.append((p, rel))
            else:
                rep.skipped_by_every += 1
        for p in files:
            rel = p.relative_to(root).as_posix()
            if p.name == METADATA_FILE:
                metadata.update(_read_metadata(p, root, rep.notes))  # deeper files come later and win
                rep.consumed.append(rel)
            elif p.suffix.lower() not in IMAGE_EXTENSIONS:
                others.append((p, rel))
    unread = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and p != exclude] if not cfg.recursive else []
    if unread:
        rep.notes.append(f"{len(unread)} subfolder(s) not read, e.g. {unread[0].name}/; add --recursive to include them")

    stems = {rel.rsplit(".", 1)[0] for rel in all_images}
    for p, rel in others:
        if p.suffix.lower() in SIDECAR_EXTENSIONS and rel.rsplit(".", 1)[0] in stems:
            rep.consumed.append(rel)
        elif p.suffix.lower() in SIDECAR_EXTENSIONS:
            rep.rejected.append(Rejected(rel, NOT_IMAGE, f"a caption file with no image named {p.stem}.*"))
        else:
            rep.rejected.append(Rejected(rel, NOT_IMAGE, f"extension {p.suffix or '(none)'} is not one of {', '.join(e[1:] for e in IMAGE_EXTENSIONS)}"))
    unmatched = sorted(set(metadata) - set(all_images))
    if unmatched:
        rep.notes.append(f"{METADATA_FILE}: {len(unmatched)} row(s) name files not found, e.g. {unmatched[0]}")

    # Ids depend on file names only (not on which files turn out bad), so they are stable.
    used: set[str] = set()
    ids = {rel: _unique_id(rel.rsplit(".", 1)[0], used) for rel in all_images}
    candidates = [_Candidate(p, rel, ids[rel]) for p, rel in kept]
    for c in candidates:
        _caption(c, metadata)
    return candidates


# ----------------------------------------------------------------------------- builtin


def _render_builtin(name: str, staging: Path, cfg: IngestConfig, rep: IngestReport, descriptions: list[dict[str, Any]]) -> Iterator[_Candidate]:
    """Render faces into ``staging/images`` and yield them as candidates, one at a time.

    The PNG is written first and then read back like any folder image, so built-in and user
    images go through exactly the same conversion. Long descriptions go to ``descriptions``.
    """
    from pointdiff.data.faces import iter_faces  # the renderer is only needed for builtin sources

    images = staging / IMAGES_DIR
    images.mkdir()
    used: set[str] = set()
    # The renderer applies ``every`` itself, so dropped frames are never drawn. Kept face k
    # stands for frames k * every up to the next kept one: all seen, all but its own skipped.
    for k, face in enumerate(iter_faces(cfg.count, seed=cfg.seed, video=BUILTIN_SOURCES[name], every=cfg.every)):
        span = min(cfg.every, cfg.count - k * cfg.every)
        rep.files_seen += span
        rep.skipped_by_every += span - 1
        sid = _unique_id(re.sub(r"[^A-Za-z0-9_.-]+", "-", str(face.id)), used)
        path = images / f"{sid}.png"
        # Level 1: line art compresses almost as well as at the default 6, several times faster.
        face.image.save(path, format="PNG", compress_level=1)
        if cfg.descriptions:
            descriptions.append({"id": sid, "text": face.description, "model": f"{BUILTIN_PREFIX}faces"})
        yield _Candidate(path, f"{IMAGES_DIR}/{sid}.png", sid, face.caption, f"{BUILTIN_PREFIX}{name}", dict(face.labels))


# ----------------------------------------------------------------------------- shared


def _take(c: _Candidate, cfg: IngestConfig, seen: dict[str, str], writer: DatasetWriter, rep: IngestReport) -> None:
    """Read one image and add it to ``writer``, or record why not."""
    try:
        digest = sha256_file(c.path)
    except OSError as e:
        rep.rejected.append(Rejected(c.rel, UNREADABLE, f"cannot read the file ({e.strerror or e})"))
        return
    if digest in seen:
        rep.rejected.append(Rejected(c.rel, DUPLICATE, f"same bytes (sha256) as {seen[digest]}"))
        return
    try:
        gray = load_grayscale(c.path, cfg.max_size)
    except ImageError as e:
        msg = str(e)
        kind = NOT_IMAGE if msg.startswith(NOT_IMAGE) else CORRUPT if msg.startswith("corrupt") else UNREADABLE
        if kind != UNREADABLE and msg.endswith(")"):
            msg = msg[msg.index("(") + 1 : -1]  # the kind says the rest
        rep.rejected.append(Rejected(c.rel, kind, msg))
        return
    pixels = ink_pixels(gray, cfg.threshold)
    if len(pixels) == 0:
        rep.rejected.append(Rejected(c.rel, NO_INK, f"no pixel darker than {cfg.threshold} (darkest is {int(gray.min())}); blank, or try a higher --threshold"))
        return
    seen[digest] = c.rel
    height, width = gray.shape
    if len(pixels) > 0.9 * gray.size:
        rep.mostly_ink.append(c.rel)
    with Image.open(c.path) as im:  # header only: was it shrunk?
        if max(im.size) > max(width, height):
            rep.resized += 1
    record = Record(id=c.id, source=c.rel, sha256=digest, width=width, height=height, ink_count=len(pixels), caption=c.caption, labels=c.labels)
    writer.add(record, pixels)
    rep.taken += 1
    rep.ink_counts.append(len(pixels))
    rep.captions[c.caption_from or "none"] += 1
    rep.labelled += bool(c.labels)


def _check_out(out: Path, overwrite: bool) -> None:
    """Refuse to replace a dataset without ``overwrite``, and anything that is not a dataset."""
    if not out.exists():
        return
    if not out.is_dir():
        raise PointdiffError(f"{out} is a file, not a dataset folder; choose another --out")
    if not any(out.iterdir()):
        return
    if not ((out / INFO_FILE).exists() or (out / MANIFEST_FILE).exists()):
        raise PointdiffError(f"{out} is not empty and is not a pointdiff dataset (no {INFO_FILE}); choose another --out, or empty it yourself")
    if not overwrite:
        raise PointdiffError(
            f"a dataset already exists at {out}; pass --overwrite to replace it "
            "(its captions, summaries and embeddings go with it), or choose another --out"
        )


def _publish(staging: Path, out: Path, overwrite: bool) -> None:
    """Move the finished ``staging`` folder onto ``out`` (replacing an old dataset if allowed)."""
    _check_out(out, overwrite)  # again: something may have appeared while we worked
    if out.exists():
        trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        out.rename(trash / out.name)
        staging.rename(out)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        staging.rename(out)


def _contact_sheet(root: Path, panels: int, title: str) -> Path:
    """Grid of fresh 1024-point draws from up to ``panels`` samples spread over the dataset."""
    from pointdiff.plot import save_cloud_grid  # matplotlib loads only when a sheet is drawn

    ds = Dataset(root)
    pick = np.unique(np.linspace(0, len(ds) - 1, min(panels, len(ds))).round().astype(int))
    # A sampler over the picked samples only: a 100k-image dataset is never loaded whole.
    pts = [pixels_to_points(ds.pixels(i), ds.records[i].width, ds.records[i].height) for i in pick]
    offsets = torch.tensor(np.concatenate([[0], np.cumsum([len(p) for p in pts])]))
    sampler = PointSampler(torch.from_numpy(np.concatenate(pts)), offsets, torch.zeros(len(pick)))
    clouds = sampler.sample_all(SHEET_POINTS, seed=SHEET_SEED).numpy()
    titles = ["\n".join(textwrap.wrap(textwrap.shorten(ds.records[i].caption or ds.records[i].id, 64, placeholder=" ..."), 34)) for i in pick]
    return save_cloud_grid(root / CONTACT_SHEET_FILE, list(clouds), titles, suptitle=title)


def _validate(cfg: IngestConfig) -> None:
    if not 1 <= cfg.threshold <= 255:
        raise PointdiffError(f"threshold must be 1-255 (ink is gray < threshold), got {cfg.threshold}")
    if cfg.max_size < 8:
        raise PointdiffError(f"max_size must be at least 8 pixels, got {cfg.max_size}")
    if cfg.every < 1:
        raise PointdiffError(f"every must be 1 or more, got {cfg.every}")
    if cfg.count < 1:
        raise PointdiffError(f"count must be 1 or more, got {cfg.count}")
    if cfg.contact_sheet < 0:
        raise PointdiffError(f"contact_sheet must be 0 (none) or more, got {cfg.contact_sheet}")


def ingest(src: str | Path, out: str | Path, cfg: IngestConfig | None = None, overwrite: bool = False, progress: ProgressFn | None = None) -> IngestReport:
    """Build the dataset folder ``out`` from ``src`` (a folder or ``builtin:faces[-video]``).

    Args:
        src: a folder of images / frames, or ``"builtin:faces"`` / ``"builtin:faces-video"``.
        out: the dataset folder to create (replaced only if ``overwrite``).
        cfg: threshold, max_size, recursive, every, count, seed, descriptions, contact_sheet.
        overwrite: replace an existing dataset at ``out`` (all of it).
        progress: called as ``progress(done, total, taken=, rejected=)`` per input.

    Returns:
        An :class:`IngestReport` (also summarised in ``out/dataset.json``).

    Raises:
        NothingUsableError: the source gave no usable image (the old dataset is untouched).
        PointdiffError: bad settings, a missing source, or an ``out`` that may not be replaced.
    """
    cfg = cfg or IngestConfig()
    _validate(cfg)
    t0 = time.perf_counter()
    out = Path(os.path.normpath(Path(out).absolute()))  # normalised: compared with scanned paths
    src_s = str(src)
    builtin = src_s[len(BUILTIN_PREFIX) :] if src_s.startswith(BUILTIN_PREFIX) else None
    if builtin is not None and builtin not in BUILTIN_SOURCES:
        raise PointdiffError(f"unknown built-in source {src_s!r}; known: {', '.join(BUILTIN_PREFIX + n for n in BUILTIN_SOURCES)}")
    root = None if builtin is not None else Path(os.path.normpath(Path(src).absolute()))
    if root is not None and not root.is_dir():
        what = "is a file" if root.exists() else "does not exist"
        raise PointdiffError(f"{src} {what}; give a folder of images (or builtin:faces / builtin:faces-video)")
    _check_out(out, overwrite)
    if root is not None and out.exists() and root.resolve().is_relative_to(out.resolve()):
        raise PointdiffError(f"{src} is inside {out}, which this ingest would replace; copy the images out of it first, or choose another --out")
    rep = IngestReport(source=src_s if root is None else str(root), out=out)
    if builtin is None and cfg.descriptions:
        rep.notes.append("descriptions: only built-in sources have them; ignored")

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.ingest-", dir=out.parent))
    staging.chmod(out.parent.stat().st_mode & 0o777)  # mkdtemp makes it private; the dataset is not
    try:
        info: dict[str, Any] = {
            "source": rep.source,
            "threshold": cfg.threshold,
            "max_size": cfg.max_size,
            "every": cfg.every,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "pointdiff_version": __version__,
        }
        descriptions: list[dict[str, Any]] = []
        candidates: Iterator[_Candidate] | list[_Candidate]
        if builtin is not None:
            info.update(count=cfg.count, seed=cfg.seed, video=BUILTIN_SOURCES[builtin])
            candidates = _render_builtin(builtin, staging, cfg, rep, descriptions)
            total = -(-cfg.count // cfg.every)  # frames kept by ``every``
        else:
            info["recursive"] = cfg.recursive
            candidates = _scan_folder(root, cfg, rep, exclude=out)
            total = len(candidates)
        writer = DatasetWriter(staging, info)
        seen: dict[str, str] = {}
        for k, c in enumerate(candidates):
            _take(c, cfg, seen, writer, rep)
            report_progress(progress, k + 1, total, taken=rep.taken, rejected=len(rep.rejected))
        for r in rep.rejected:
            writer.reject(r.source, r.reason)
        writer.info.update(files_seen=rep.files_seen, rejected=len(rep.rejected), skipped_by_every=rep.skipped_by_every)
        writer.close()
        if rep.mostly_ink:
            rep.notes.append(
                f"{len(rep.mostly_ink)} image(s) are over 90% ink, e.g. {rep.mostly_ink[0]}: light drawings on dark "
                "paper? Ink must be darker than the paper (or lower --threshold)"
            )
        if rep.taken == 0:
            raise NothingUsableError(_nothing_message(src_s, rep, cfg), rep)
        if descriptions:
            taken = {r.id for r in writer.records}
            rows = [d for d in descriptions if d["id"] in taken]
            write_jsonl(staging / CAPTIONS_FILE, rows)
            rep.descriptions = len(rows)
        if cfg.contact_sheet:
            _contact_sheet(staging, cfg.contact_sheet, f"{src_s}: {rep.taken} samples, {SHEET_POINTS} points each")
            rep.contact_sheet = out / CONTACT_SHEET_FILE
        _publish(staging, out, overwrite)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    rep.seconds = time.perf_counter() - t0
    return rep


def _nothing_message(src: str, rep: IngestReport, cfg: IngestConfig) -> str:
    exts = ", ".join(e[1:] for e in IMAGE_EXTENSIONS)
    msg = f"no usable image in {src}: looked for {exts} files{' in all subfolders' if cfg.recursive else ''}, saw {rep.files_seen} file(s)"
    if rep.rejected:
        kinds = ", ".join(f"{len(v)} {k}" for k, v in rep.rejected_by_kind().items())
        msg += f"; rejected {kinds}"
    if rep.skipped_by_every:
        msg += f"; {rep.skipped_by_every} skipped by --every {cfg.every}"
    hints = [n for n in rep.notes if "--recursive" in n]
    return msg + (f" ({hints[0]})" if hints else "")
