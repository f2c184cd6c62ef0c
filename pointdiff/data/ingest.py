"""Build a dataset folder from a source: open each image, reject what cannot be used, write the rest.

Usage (``pointdiff ingest`` is a thin wrapper around this)::

    from pointdiff.data.ingest import IngestConfig, ingest
    report = ingest("photos/", "pointdiff-work/dataset", IngestConfig(recursive=True))
    report = ingest("frames/", "data/video", IngestConfig(every=6))         # every 6th frame
    report = ingest("builtin:faces", "data/faces", IngestConfig(count=600, seed=0))
    report = ingest("builtin:glyphs", "data/glyphs", IngestConfig(count=620, seed=0))

Which files a source gives, in what order and with what captions is
:mod:`pointdiff.data.sources`; this module turns them into ink.

Every input that is not taken gets a reason in ``rejected.jsonl`` ("not an image", "corrupt
image", "no ink", "duplicate", "unreadable"). Only a source with nothing usable is an error.

The dataset is built beside ``out`` and swapped in whole at the end
(:mod:`pointdiff.data.staging`): a failed run leaves any old dataset untouched. While a folder
is read, what each image gave is recorded there every few dozen images; a killed (or Ctrl-C'd)
run, started again with the same source and settings, continues from that record instead of
reading those images again, and ends with the same dataset as an uninterrupted run.

A folder's images are read (hashed, decoded, thresholded: :func:`pointdiff.data.images.read_ink`)
by ``workers`` processes; this one consumes their results in the folder's order and does all
the writing, duplicate detection and rejecting, so the dataset does not depend on the count.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import textwrap
import time
from array import array
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from pointdiff import __version__
from pointdiff.data.dataset import CAPTIONS_FILE, CONTACT_SHEET_FILE, Dataset, DatasetWriter, Record, Rejection
from pointdiff.data.sampler import PointSampler
from pointdiff.data.scratch import DiskIndex
from pointdiff.data.images import IMAGE_EXTENSIONS, ImageError, InkRead, init_worker, read_ink
from pointdiff.data.sources import BUILTIN_ONLY, BUILTIN_PREFIX, DESCRIBED_BY, BuiltinSettings, Candidate, Found, builtin_names, parse_source, render_builtin, scan_folder
from pointdiff.data.staging import Progress, check_out, staged
from pointdiff.errors import PointdiffError
from pointdiff.lock import exclusive
from pointdiff.progress import ProgressFn
from pointdiff.progress import report as report_progress
from pointdiff.store import write_jsonl

SHEET_POINTS = 1024  # points per cloud on the contact sheet: what the model draws
SHEET_SEED = 0  # fixed, so two ingests of the same images give the same sheet
IMAGES_PER_WORKER = 64  # fewer images than this per worker: start fewer workers (see pool_size)
IN_FLIGHT_PER_WORKER = 4  # images submitted ahead per worker: keeps each busy, bounds memory

# Why an image could not be opened (ImageError.kind) -> the rejection kind it becomes.
_IMAGE_ERROR_KINDS = {
    ImageError.NOT_IMAGE: Rejection.NOT_IMAGE,
    ImageError.CORRUPT: Rejection.CORRUPT,
    ImageError.TOO_LARGE: Rejection.UNREADABLE,
    ImageError.NOT_FOUND: Rejection.UNREADABLE,
}


def all_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one, e.g. under taskset or a container)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


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
    # Built-in sources only. None means "not given": a folder refuses any that is given, and a
    # built-in source uses the default in BuiltinSettings (600 pictures, seed 0, no descriptions).
    count: int | None = None  # faces, glyphs (or video frames) to render
    seed: int | None = None  # same seed, same pictures
    descriptions: bool | None = None  # also write long descriptions to captions.jsonl
    captions: int | None = None  # short captions per picture (the first, then other phrasings)
    contact_sheet: int = 36  # clouds on contact_sheet.png, spread over the dataset (0: none)
    # Keep each ink pixel's RGB: clouds of (x, y, r, g, b) points (ink is still decided on
    # luminance). None: as the source says (builtin:faces-color is colour; folders are not).
    color: bool | None = None
    # Processes that read a folder's images (1: this one, no pool). The dataset is the same
    # whatever the number; built-in sources always read in-process (rendering is their cost).
    workers: int = field(default_factory=all_cores)

    def builtin_given(self) -> list[str]:
        """The built-in-only settings given (not None), in :data:`BUILTIN_ONLY` order."""
        return [name for name in BUILTIN_ONLY if getattr(self, name) is not None]

    def builtin(self) -> BuiltinSettings:
        """The built-in source's settings: those given here, defaults for the rest."""
        return BuiltinSettings(**{name: getattr(self, name) for name in self.builtin_given()})


@dataclass
class IngestReport:
    """What an ingest did; the CLI renders it, tests inspect it."""

    source: str
    out: Path
    files_seen: int = 0  # every file looked at (images, captions, others)
    taken: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    skipped_by_every: int = 0  # frames dropped by ``every`` (not rejections)
    captions: Counter = field(default_factory=Counter)  # where captions came from -> samples
    labelled: int = 0  # samples with labels
    resized: int = 0  # images shrunk to max_size
    workers: int = 1  # processes that read the images (1: this one)
    resumed: int = 0  # images a killed run had read: taken from its progress record, not read again
    ink_counts: array = field(default_factory=lambda: array("q"))  # per taken sample; 8 bytes each, not a list's 36
    caption_files: int = 0  # metadata.jsonl and sidecar files read
    descriptions: int = 0  # long descriptions written to captions.jsonl
    alt_captions: int = 0  # captions beyond each sample's first (several per picture, or from a duplicate)
    contact_sheet: Path | None = None
    mostly_ink: list[str] = field(default_factory=list)  # taken, but over 90% ink: inverted?
    notes: list[str] = field(default_factory=list)  # warnings worth showing
    seconds: float = 0.0

    def rejected_by_kind(self) -> dict[str, list[Rejection]]:
        """Rejections grouped by kind, largest group first."""
        groups: dict[str, list[Rejection]] = {}
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


def image_rejection(source: str, error: ImageError) -> Rejection:
    """The rejection of an image that could not be opened, by the error's kind.

    "not an image" and "corrupt image" say what happened, so the detail is the specifics
    ("corrupt image: image file is truncated"); "unreadable" alone says little, so it keeps
    the error's whole message ("unreadable: file not found").
    """
    kind = _IMAGE_ERROR_KINDS[error.kind]  # every kind is mapped (a test tries each)
    detail = error.detail if kind != Rejection.UNREADABLE and error.detail else str(error)
    return Rejection(source, kind, detail)


def _take(c: Candidate, read: InkRead, cfg: IngestConfig, seen: DiskIndex, writer: DatasetWriter, rep: IngestReport) -> bool:
    """Add one image, as :func:`read_ink` read it, to ``writer`` (True), or record why not (False).

    A copy of an image already taken is rejected, but its captions are not lost: those the
    first copy lacks become that sample's ``alt_captions`` (two people captioned one picture).
    Runs in the parent, in candidate order, so which copy is "first" never depends on which
    worker finished first. ``seen`` maps each taken image's sha256 (its 32 bytes) to its sample
    index, not to its record (the writer has that on disk), in a scratch database: a dict cost
    about 140 bytes per image.
    """
    if read.sha256 is None:  # the bytes could not be read: error is ("unreadable", message)
        rep.rejected.append(Rejection(c.rel, Rejection.UNREADABLE, read.error[1] if read.error else "cannot read the file"))
        return False
    digest = read.sha256
    key = bytes.fromhex(digest)
    if key in seen:
        first = writer.record(seen[key])  # as published: with the captions earlier copies added
        known = {first.caption, *first.alt_captions}
        new = [t for t in dict.fromkeys([c.caption, *c.alt_captions]) if t and t not in known]
        writer.add_captions(seen[key], new)
        rep.alt_captions += len(new)
        kept = f"; its caption{'s' if len(new) > 1 else ''} joined {first.id}'s" if new else ""
        rep.rejected.append(Rejection(c.rel, Rejection.DUPLICATE, f"same bytes (sha256) as {first.source}{kept}"))
        return False
    if read.error is not None or read.pixels is None:
        kind, detail = read.error or (ImageError.CORRUPT, "")
        rep.rejected.append(image_rejection(c.rel, ImageError(kind, detail)))
        return False
    pixels = read.pixels
    if len(pixels) == 0:
        rep.rejected.append(Rejection(c.rel, Rejection.NO_INK, f"no pixel darker than {cfg.threshold} (darkest is {read.darkest}); blank, or try a higher --threshold"))
        return False
    width, height = read.width, read.height
    if len(pixels) > 0.9 * width * height:
        rep.mostly_ink.append(c.rel)
    rep.resized += read.resized
    texts = [t for t in dict.fromkeys(c.alt_captions) if t != c.caption]
    record = Record(id=c.id, source=c.rel, sha256=digest, width=width, height=height, ink_count=len(pixels), caption=c.caption, alt_captions=texts, labels=c.labels)
    seen[key] = writer.add(record, pixels)  # later copies add their captions through this index
    rep.alt_captions += len(texts)
    rep.taken += 1
    rep.ink_counts.append(len(pixels))
    rep.captions[c.caption_from or "none"] += 1
    rep.labelled += bool(c.labels)
    return True


def _row(read: InkRead, taken: bool) -> dict[str, Any]:
    """What the progress record keeps of a read: enough for :func:`_take` to decide again, the same way, without the file."""
    ink = len(read.pixels) if taken and read.pixels is not None else 0  # only a taken image's pixels are kept
    return {"sha256": read.sha256, "width": read.width, "height": read.height, "darkest": read.darkest, "resized": read.resized, "error": read.error, "has_pixels": read.pixels is not None, "ink": ink}


def _unrow(row: dict[str, Any], pixels: np.ndarray | None, columns: int) -> InkRead:
    """The read a progress row stands for. An image not taken gets no pixels back: a duplicate is
    decided by its hash, a blank one by having none (so an empty array), an error by having no array."""
    if pixels is None:
        pixels = np.zeros((0, columns), np.uint16) if row["has_pixels"] else None
    error = (str(row["error"][0]), str(row["error"][1])) if row["error"] else None
    return InkRead(row["sha256"], pixels, int(row["width"]), int(row["height"]), int(row["darkest"]), bool(row["resized"]), error)


def _resume_key(root: Path, cfg: IngestConfig, found: Found, color: bool) -> str:
    """What a killed run's progress must match to be continued: the settings that shape the ink,
    and every image to read as it is now (name, id, captions, size and modification time).

    Hashed as the listing is walked, one candidate at a time: nothing per image is kept.
    """
    settings = {"format": 1, "pointdiff": __version__, "source": str(root), "threshold": cfg.threshold, "max_size": cfg.max_size, "every": cfg.every, "info": found.info, "color": color}
    h = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for c in found.candidates:
        try:
            st = c.path.stat()
            stamp: list[int] | None = [st.st_size, st.st_mtime_ns]
        except OSError:
            stamp = None
        h.update(json.dumps([c.rel, c.id, c.caption, c.alt_captions, c.caption_from, c.labels, stamp], sort_keys=True, default=str).encode())
    return h.hexdigest()


def pool_size(workers: int, total: int) -> int:
    """Worker processes worth starting for ``total`` images: at most ``workers``, 1 (none) for a few images.

    Starting workers and passing each image's pixels back costs time, while an image costs ~1 ms
    (small line art) to ~20 ms (a photo to decode and shrink). So each worker gets at least
    :data:`IMAGES_PER_WORKER` images or is not started. Even so, a pool pays for photos, not for
    small drawings: on a quiet 2-core box (whole command, 1 vs 2 workers) 300 1280×960 JPEGs
    took 9.1 vs 7.3 s, 1 000 64×64 PNGs 3.1 vs 4.5 s, so ``--workers 1`` suits such folders.
    """
    return max(1, min(workers, -(-total // IMAGES_PER_WORKER)))


def _context() -> multiprocessing.context.BaseContext:
    """How worker processes start: from a fork server where the OS has one, else spawned.

    Never a plain fork of this process: forking one that has used torch's thread pools can
    deadlock the child. A spawned worker re-runs the main script (for the CLI that imports
    torch: seconds and hundreds of MB per worker); a fork server runs it once and forks the
    workers from itself, so they start in milliseconds and share its memory.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    # By default the server imports __main__ (the CLI, and torch with it): seconds per ingest.
    # The workers need only the image reader, which imports PIL and numpy.
    ctx.set_forkserver_preload(["pointdiff.data.images"])
    return ctx


def read_in_order(candidates: Iterable[Candidate], cfg: IngestConfig, workers: int, color: bool = False) -> Iterator[tuple[Candidate, InkRead]]:
    """Each candidate with :func:`read_ink`'s result, in candidate order, read by ``workers`` processes.

    ``workers == 1`` reads in this process. Otherwise at most ``IN_FLIGHT_PER_WORKER * workers``
    images are submitted and not yet consumed at any time, so memory stays bounded however large
    the folder (an executor's ``map`` would submit all of it at once). Workers start as
    :func:`_context` says and exit when this process dies, even by SIGKILL
    (:func:`~pointdiff.data.images.init_worker`, which also leaves Ctrl-C to this process).

    Raises:
        PointdiffError: a worker process died (killed for memory, or a crash in an image decoder).
    """
    if workers <= 1:
        for c in candidates:
            yield c, read_ink(c.path, cfg.max_size, cfg.threshold, color)
        return
    window: deque[tuple[Candidate, Future[InkRead]]] = deque()
    todo = iter(candidates)
    with ProcessPoolExecutor(workers, mp_context=_context(), initializer=init_worker) as pool:
        # Stopped early (an error, Ctrl-C), the pool's exit waits for the few images in flight rather
        # than cancelling them: Python 3.11's pool, broken after a cancel, fails on the cancelled ones.
        while True:
            while len(window) < IN_FLIGHT_PER_WORKER * workers and (c := next(todo, None)) is not None:
                window.append((c, pool.submit(read_ink, c.path, cfg.max_size, cfg.threshold, color)))
            if not window:
                return
            c, future = window.popleft()
            try:
                read = future.result()
            except BrokenProcessPool:
                raise PointdiffError(f"a worker process died while reading images (at {c.rel} or one after it): out of memory, or an image that crashes its decoder? Try --workers 1 to find it") from None
            yield c, read


def _contact_sheet(root: Path, panels: int, title: str) -> Path:
    """Grid of fresh 1024-point draws from up to ``panels`` samples spread over the dataset."""
    from pointdiff.plot import save_cloud_grid  # matplotlib loads only when a sheet is drawn

    ds = Dataset(root)
    pick = np.unique(np.linspace(0, len(ds) - 1, min(panels, len(ds))).round().astype(int))
    # A sampler over the picked samples only, reading them with pread: a memory map's readahead
    # around 36 pictures spread over a 100k-image dataset made 14 MB of this process's memory.
    clouds = PointSampler.from_dataset(ds, pick, stream=True).sample_all(SHEET_POINTS, seed=SHEET_SEED).numpy()
    titles = ["\n".join(textwrap.wrap(textwrap.shorten(ds.records[i].caption or ds.records[i].id, 64, placeholder=" ..."), 34)) for i in pick]
    return save_cloud_grid(root / CONTACT_SHEET_FILE, list(clouds), titles, suptitle=title)


def _validate(cfg: IngestConfig, builtin: bool) -> None:
    """Refuse settings out of range, and built-in-only settings given for a folder."""
    given = cfg.builtin_given()
    if given and not builtin:
        flags = ", ".join("--" + name for name in given)
        raise PointdiffError(f"{flags}: only for a built-in source ({builtin_names()}), not for a folder")
    if not 1 <= cfg.threshold <= 255:
        raise PointdiffError(f"threshold must be 1-255 (ink is gray < threshold), got {cfg.threshold}")
    if cfg.max_size < 8:
        raise PointdiffError(f"max_size must be at least 8 pixels, got {cfg.max_size}")
    if cfg.every < 1:
        raise PointdiffError(f"every must be 1 or more, got {cfg.every}")
    if cfg.count is not None and cfg.count < 1:
        raise PointdiffError(f"count must be 1 or more, got {cfg.count}")
    if cfg.captions is not None and cfg.captions < 1:
        raise PointdiffError(f"captions must be 1 or more, got {cfg.captions}")
    if cfg.workers < 1:
        raise PointdiffError(f"workers must be 1 or more, got {cfg.workers}")
    if cfg.contact_sheet < 0:
        raise PointdiffError(f"contact_sheet must be 0 (none) or more, got {cfg.contact_sheet}")


def ingest(src: str | Path, out: str | Path, cfg: IngestConfig | None = None, overwrite: bool = False, progress: ProgressFn | None = None) -> IngestReport:
    """Build the dataset folder ``out`` from ``src`` (a folder or a built-in source).

    Args:
        src: a folder of images / frames, or ``"builtin:faces"`` / ``"builtin:faces-video"`` /
            ``"builtin:glyphs"``.
        out: the dataset folder to create (replaced only if ``overwrite``).
        cfg: threshold, max_size, recursive, every, contact_sheet, workers (processes reading
            a folder's images; the dataset is byte-identical for any number); count, seed and
            descriptions (faces only) for a built-in source only.
        overwrite: replace an existing dataset at ``out`` (all of it).
        progress: called as ``progress(done, total, taken=, rejected=)`` per input.

    Returns:
        An :class:`IngestReport` (also summarised in ``out/dataset.json``).

    Raises:
        NothingUsableError: the source gave no usable image (the old dataset is untouched).
        PointdiffError: bad settings (built-in-only ones for a folder, too), a missing source,
            or an ``out`` that may not be replaced.
    """
    cfg = cfg or IngestConfig()
    _validate(cfg, builtin=str(src).startswith(BUILTIN_PREFIX))
    t0 = time.perf_counter()
    out = Path(os.path.normpath(Path(out).absolute()))  # normalised: compared with scanned paths
    builtin, root = parse_source(src)
    check_out(out, overwrite)
    if root is not None and out.exists() and root.resolve().is_relative_to(out.resolve()):
        raise PointdiffError(f"{src} is inside {out}, which this ingest would replace; copy the images out of it first, or choose another --out")
    rep = IngestReport(source=str(src) if root is None else str(root), out=out)

    with ExitStack() as stack:
        stack.enter_context(exclusive(out, "ingest"))
        # A folder is listed before the staging folder is chosen: a killed run's is continued only
        # if it was built from the same files with the same settings. A built-in renders into it.
        found = scan_folder(root, cfg.recursive, cfg.every, exclude=out) if root is not None else None
        color = bool(cfg.color)  # a folder is grey unless asked; a built-in source's own word comes below
        key = _resume_key(root, cfg, found, color) if root is not None and found is not None else None  # None: nothing to resume
        staging = stack.enter_context(staged(out, overwrite, key))
        if builtin is not None:
            found = render_builtin(builtin, staging, cfg.builtin(), cfg.every)
            color = bool(found.info.get("color")) if cfg.color is None else cfg.color
        assert found is not None  # a folder's listing or a built-in's renderer: parse_source gave one of the two
        found.info.pop("color", None)  # the writer records it, for what this dataset really holds
        rep.files_seen, rep.skipped_by_every = found.files_seen, found.skipped_by_every
        rep.caption_files, rep.rejected, rep.notes = found.caption_files, found.rejected, found.notes
        info: dict[str, Any] = {
            "source": rep.source,
            "threshold": cfg.threshold,
            "max_size": cfg.max_size,
            "every": cfg.every,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "pointdiff_version": __version__,
            **found.info,
        }
        writer = DatasetWriter(staging, info, color=color)
        seen = DiskIndex()  # sha256 -> sample index of the first copy taken
        described: list[dict[str, Any]] = []  # captions.jsonl rows of the taken samples
        columns = 5 if color else 2
        log = Progress(staging, key, columns=columns) if key is not None else None  # folders only: a built-in renders in seconds
        replayed: Iterator[tuple[Candidate, InkRead]] = iter(())
        todo: Iterator[Candidate] = iter(found.candidates)  # one pass, never a list: a built-in's are rendered as they are read
        if log is not None:
            rep.resumed = log.resumed
            # zip asks the record first, so the candidate after the last recorded one stays in ``todo``
            replayed = ((c, _unrow(row, pixels, columns)) for (row, pixels), c in zip(log.replay(), todo))
        rep.workers = 1 if builtin is not None else pool_size(cfg.workers, found.total - rep.resumed)
        try:
            with closing(read_in_order(todo, cfg, rep.workers, color)) as fresh:  # closed at once on an error: no pool outlives it
                for k, (c, read) in enumerate(chain(replayed, fresh)):
                    taken = _take(c, read, cfg, seen, writer, rep)
                    if taken and c.description is not None:
                        described.append({"id": c.id, "text": c.description, "model": DESCRIBED_BY})
                    if log is not None and k >= rep.resumed:  # replayed rows are on record already
                        log.add(_row(read, taken), read.pixels if taken else None)
                    report_progress(progress, k + 1, found.total, taken=rep.taken, rejected=len(rep.rejected))
        finally:  # an error or Ctrl-C keeps the record's flushed part for the next run, and its files closed
            if log is not None:
                log.close()
        del seen, todo, replayed  # what the contact sheet below need not keep alive
        found.candidates = ()
        for r in rep.rejected:
            writer.reject(r)
        writer.info.update(files_seen=rep.files_seen, rejected=len(rep.rejected), skipped_by_every=rep.skipped_by_every)
        writer.close()
        if rep.mostly_ink:
            rep.notes.append(
                f"{len(rep.mostly_ink)} image(s) are over 90% ink, e.g. {rep.mostly_ink[0]}: light drawings on dark "
                "paper? Ink must be darker than the paper (or lower --threshold)"
            )
        if rep.taken == 0:
            raise NothingUsableError(_nothing_message(str(src), rep, cfg), rep)
        if described:
            write_jsonl(staging / CAPTIONS_FILE, described)
            rep.descriptions = len(described)
        if cfg.contact_sheet:
            _contact_sheet(staging, cfg.contact_sheet, f"{src}: {rep.taken} samples, {SHEET_POINTS} points each")
            rep.contact_sheet = out / CONTACT_SHEET_FILE
        if log is not None:
            log.finish()  # complete: a kill from here on leaves nothing to continue, only to redo
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
