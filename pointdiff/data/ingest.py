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
(:mod:`pointdiff.data.staging`): a failed run leaves any old dataset untouched.
"""

from __future__ import annotations

import os
import textwrap
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from pointdiff import __version__
from pointdiff.data.dataset import CAPTIONS_FILE, CONTACT_SHEET_FILE, Dataset, DatasetWriter, PointSampler, Record, Rejection
from pointdiff.data.images import IMAGE_EXTENSIONS, ImageError, ink_pixels, load_grayscale
from pointdiff.data.sources import BUILTIN_ONLY, BUILTIN_PREFIX, DESCRIBED_BY, BuiltinSettings, Candidate, builtin_names, parse_source, render_builtin, scan_folder
from pointdiff.data.staging import check_out, staged
from pointdiff.errors import PointdiffError
from pointdiff.lock import exclusive
from pointdiff.progress import ProgressFn
from pointdiff.progress import report as report_progress
from pointdiff.store import sha256_file, write_jsonl

SHEET_POINTS = 1024  # points per cloud on the contact sheet: what the model draws
SHEET_SEED = 0  # fixed, so two ingests of the same images give the same sheet

# Why an image could not be opened (ImageError.kind) -> the rejection kind it becomes.
_IMAGE_ERROR_KINDS = {
    ImageError.NOT_IMAGE: Rejection.NOT_IMAGE,
    ImageError.CORRUPT: Rejection.CORRUPT,
    ImageError.TOO_LARGE: Rejection.UNREADABLE,
    ImageError.NOT_FOUND: Rejection.UNREADABLE,
}


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
    ink_counts: list[int] = field(default_factory=list)
    consumed: list[str] = field(default_factory=list)  # metadata.jsonl / sidecar files read
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


def _take(c: Candidate, cfg: IngestConfig, seen: dict[str, Record], writer: DatasetWriter, rep: IngestReport) -> bool:
    """Read one image and add it to ``writer`` (True), or record why not (False).

    A copy of an image already taken is rejected, but its captions are not lost: those the
    first copy lacks become that sample's ``alt_captions`` (two people captioned one picture).
    """
    try:
        digest = sha256_file(c.path)
    except OSError as e:
        rep.rejected.append(Rejection(c.rel, Rejection.UNREADABLE, f"cannot read the file ({e.strerror or e})"))
        return False
    if digest in seen:
        first = seen[digest]
        known = {first.caption, *first.alt_captions}
        new = [t for t in dict.fromkeys([c.caption, *c.alt_captions]) if t and t not in known]
        first.alt_captions.extend(new)
        rep.alt_captions += len(new)
        kept = f"; its caption{'s' if len(new) > 1 else ''} joined {first.id}'s" if new else ""
        rep.rejected.append(Rejection(c.rel, Rejection.DUPLICATE, f"same bytes (sha256) as {first.source}{kept}"))
        return False
    try:
        gray = load_grayscale(c.path, cfg.max_size)
        pixels = ink_pixels(gray, cfg.threshold)  # inside: a side over 65535 px is a rejection too
    except ImageError as e:
        rep.rejected.append(image_rejection(c.rel, e))
        return False
    if len(pixels) == 0:
        rep.rejected.append(Rejection(c.rel, Rejection.NO_INK, f"no pixel darker than {cfg.threshold} (darkest is {int(gray.min())}); blank, or try a higher --threshold"))
        return False
    height, width = gray.shape
    if len(pixels) > 0.9 * gray.size:
        rep.mostly_ink.append(c.rel)
    with Image.open(c.path) as im:  # header only: was it shrunk?
        if max(im.size) > max(width, height):
            rep.resized += 1
    texts = [t for t in dict.fromkeys(c.alt_captions) if t != c.caption]
    record = Record(id=c.id, source=c.rel, sha256=digest, width=width, height=height, ink_count=len(pixels), caption=c.caption, alt_captions=texts, labels=c.labels)
    writer.add(record, pixels)
    seen[digest] = record  # the writer keeps it until close: later copies can still add captions
    rep.alt_captions += len(texts)
    rep.taken += 1
    rep.ink_counts.append(len(pixels))
    rep.captions[c.caption_from or "none"] += 1
    rep.labelled += bool(c.labels)
    return True


def _contact_sheet(root: Path, panels: int, title: str) -> Path:
    """Grid of fresh 1024-point draws from up to ``panels`` samples spread over the dataset."""
    from pointdiff.plot import save_cloud_grid  # matplotlib loads only when a sheet is drawn

    ds = Dataset(root)
    pick = np.unique(np.linspace(0, len(ds) - 1, min(panels, len(ds))).round().astype(int))
    # A sampler over the picked samples only: a 100k-image dataset is never loaded whole.
    clouds = PointSampler.from_dataset(ds, pick).sample_all(SHEET_POINTS, seed=SHEET_SEED).numpy()
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
    if cfg.contact_sheet < 0:
        raise PointdiffError(f"contact_sheet must be 0 (none) or more, got {cfg.contact_sheet}")


def ingest(src: str | Path, out: str | Path, cfg: IngestConfig | None = None, overwrite: bool = False, progress: ProgressFn | None = None) -> IngestReport:
    """Build the dataset folder ``out`` from ``src`` (a folder or a built-in source).

    Args:
        src: a folder of images / frames, or ``"builtin:faces"`` / ``"builtin:faces-video"`` /
            ``"builtin:glyphs"``.
        out: the dataset folder to create (replaced only if ``overwrite``).
        cfg: threshold, max_size, recursive, every, contact_sheet; count, seed and
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

    with exclusive(out, "ingest"), staged(out, overwrite) as staging:
        found = render_builtin(builtin, staging, cfg.builtin(), cfg.every) if builtin is not None else scan_folder(root, cfg.recursive, cfg.every, exclude=out)
        rep.files_seen, rep.skipped_by_every = found.files_seen, found.skipped_by_every
        rep.consumed, rep.rejected, rep.notes = found.consumed, found.rejected, found.notes
        info: dict[str, Any] = {
            "source": rep.source,
            "threshold": cfg.threshold,
            "max_size": cfg.max_size,
            "every": cfg.every,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "pointdiff_version": __version__,
            **found.info,
        }
        writer = DatasetWriter(staging, info)
        seen: dict[str, Record] = {}
        described: list[dict[str, Any]] = []  # captions.jsonl rows of the taken samples
        for k, c in enumerate(found.candidates):
            if _take(c, cfg, seen, writer, rep) and c.description is not None:
                described.append({"id": c.id, "text": c.description, "model": DESCRIBED_BY})
            report_progress(progress, k + 1, found.total, taken=rep.taken, rejected=len(rep.rejected))
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
