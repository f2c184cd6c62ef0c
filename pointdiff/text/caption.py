"""Images -> long descriptions, with any image-text-to-text model transformers supports.

    from pointdiff.text.caption import CaptionConfig, caption
    result = caption("pointdiff-work/dataset", CaptionConfig(), cache_path="pointdiff-work/cache/caption.jsonl")
    result = caption("photos/", CaptionConfig(model="/models/FastVLM-0.5B"), cache_path="cache.jsonl")

Any image-text-to-text model transformers supports describes (:mod:`pointdiff.text.captioner`);
the images come from :mod:`pointdiff.text.caption_inputs`; the model, device and decoding
settings are the :class:`~pointdiff.text.generation.GenerationOptions` `summarize` shares.
This module holds the config, the result and the run.

Where results go:

* a dataset folder (has ``manifest.jsonl``): one row per image is appended to
  ``DATASET/captions.jsonl`` as soon as it is generated (``{"id", "text", "model", "prompt_sha",
  ...}``; the last row per id wins). The image read is the file the sample came from (checked
  against its sha256); when that file is gone, a black-on-white picture of its ink pixels.
* a plain image folder: ``FOLDER/metadata.jsonl`` (``{"file_name", "text"}``, the diffusers
  image-folder convention), which ``pointdiff ingest FOLDER`` reads as the images' captions.
  A ``metadata.jsonl`` that pointdiff did not write is never replaced.

Every result also goes to a content-keyed cache (:mod:`pointdiff.text.cache`): a killed run
restarts where it stopped, and one with nothing left to do loads no model.

Under ``torchrun`` (:mod:`pointdiff.distributed`) each process describes a contiguous share of
the batches still to do; rank 0 stores every description in the cache the round it is made
and writes the output in the order one process would, so the files are the same.
"""

from __future__ import annotations

import statistics
import time
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from pointdiff.data.dataset import CAPTIONS_FILE, MANIFEST_FILE, SUMMARIES_FILE, Dataset
from pointdiff.data.folders import METADATA_FILE
from pointdiff.data.images import IMAGE_EXTENSIONS
from pointdiff.device import resolve_device
from pointdiff.distributed import Distributed, joined
from pointdiff.errors import PointdiffError
from pointdiff.progress import ProgressFn, report
from pointdiff.store import atomic_write_text, read_jsonl, sha256_file, write_jsonl
from pointdiff.text.cache import InOrder, LazyAppender, ResultCache, make_key, text_digest
from pointdiff.text.caption_inputs import ImageInput, dataset_images, folder_images
from pointdiff.text.captioner import DEFAULT_MODEL, Captioner
from pointdiff.text.generation import GenerationOptions, batched

REFERENCE_PROMPT = (
    "Describe this image in 200-300 words. Cover, in this order: "
    "(1) the face orientation: is the face turned to the front, left, right, up or down? "
    "(2) the facial expression; "
    "(3) any other notable features."
)
_OWNER_SUFFIX = ".pointdiff-sha256"  # beside a metadata.jsonl we wrote: its sha256, so we know it is ours


@dataclass
class CaptionConfig(GenerationOptions):
    """Settings of `pointdiff caption` (YAML section ``caption:``; flags override).

    Model, device, dtype, decoding and seed are :class:`GenerationOptions`, shared with `summarize`.
    """

    model: str = DEFAULT_MODEL  # hub id (downloaded on first use) or a folder; FastVLM 0.5B as in the reference
    max_new_tokens: int = 512  # 300 words are ~400 tokens: room to finish rather than be cut off
    batch_size: int = 4  # images per generate call: a GPU wants more, 2 CPU cores gain little
    prompt: str = REFERENCE_PROMPT  # the reference's: orientation, expression, other features, 200-300 words
    recursive: bool = False  # image folders: also caption subfolders


@dataclass
class CaptionResult:
    """What a caption run did (the CLI renders it)."""

    source: Path
    output: Path
    cache: Path
    model: str
    fingerprint: str
    prompt_sha: str
    total: int = 0
    generated: int = 0  # described by the model in this run
    from_cache: int = 0  # found in the cache (an earlier, interrupted run, or the same image twice)
    up_to_date: int = 0  # already in the output with this model, prompt and settings
    cut_short: list[str] = field(default_factory=list)  # ids whose description hit max_new_tokens
    from_ink: list[str] = field(default_factory=list)  # ids described from their ink pixels (image file gone)
    words: list[int] = field(default_factory=list)  # words per description, every image
    seconds: float = 0.0
    example: tuple[str, str] | None = None  # (id, text) of one description made in this run
    is_dataset: bool = False  # the source is a dataset folder (else a plain image folder)

    @property
    def nothing_to_do(self) -> bool:
        """True when every image was already described: nothing was written."""
        return self.generated == 0 and self.from_cache == 0

    @property
    def feeds_ingest(self) -> bool:
        """Whether the output is an image folder's metadata.jsonl, which `ingest` reads as captions."""
        return not self.is_dataset and self.output.name == METADATA_FILE

    def summaries_outdated(self) -> bool:
        """Whether this run left the dataset's summaries behind its descriptions.

        A sample's summary wins over its caption as its text, so new descriptions change
        nothing downstream until `summarize` runs again.
        """
        return self.is_dataset and not self.nothing_to_do and (self.source / SUMMARIES_FILE).exists()

    def word_stats(self) -> tuple[float, float, int] | None:
        """Mean, median and max words per description."""
        return (statistics.fmean(self.words), statistics.median(self.words), max(self.words)) if self.words else None


# ----------------------------------------------------------------------------- outputs


def _check_metadata_owner(path: Path) -> None:
    """Refuse to replace a metadata.jsonl that pointdiff did not write (someone's own captions)."""
    if not path.exists():
        return
    owner = path.with_name(path.name + _OWNER_SUFFIX)
    if owner.exists() and owner.read_text(encoding="utf-8").strip() == sha256_file(path):
        return
    raise PointdiffError(
        f"{path} exists and was not written by `pointdiff caption` (or was edited since); it is not replaced. "
        "Write elsewhere with --out FILE, or move it away"
    )


def _write_metadata(path: Path, rows: list[dict[str, Any]]) -> None:
    write_jsonl(path, rows)
    atomic_write_text(path.with_name(path.name + _OWNER_SUFFIX), sha256_file(path) + "\n")


# ----------------------------------------------------------------------------- the run


def caption(
    src: str | Path,
    cfg: CaptionConfig | None = None,
    *,
    cache_path: str | Path,
    out: str | Path | None = None,
    progress: ProgressFn | None = None,
    captioner: Captioner | None = None,
    dist: Distributed | None = None,
) -> CaptionResult:
    """Describe every image of ``src`` (a dataset folder or an image folder), resumably.

    Under torchrun every process calls this alike: each describes a contiguous share of the
    batches still to do (:meth:`Distributed.in_rounds`), on its own device
    (:meth:`Distributed.place`); rank 0 alone reads and writes the cache and the output. The
    batches are the ones a single process makes, and a batch's words depend only on its
    images, prompt and seed, so the output is the one a single process writes, row for row.

    Args:
        src: a dataset folder (has ``manifest.jsonl``) or a folder of images.
        cfg: model, prompt and generation settings.
        cache_path: the JSONL cache of results by key (shared by runs and datasets).
        out: image folders only: where to write ``metadata.jsonl`` rows (default ``src/metadata.jsonl``).
        progress: called as ``progress(done, total, new=, cached=)`` after each batch (under
            torchrun: on rank 0, counting every process's batches).
        captioner: an already loaded model to use (else loaded only if something needs describing).
        dist: this process's place among several that share the work; default: the process
            group this process joined, if any (:func:`pointdiff.distributed.joined`: a torchrun
            process of several that joined none is refused).

    Returns:
        What the run did (rank 0's account, on every process).

    Raises:
        PointdiffError: a missing source or model, a model that cannot caption, an image that cannot be read.
    """
    dist = dist if dist is not None else joined("caption")
    cfg = cfg or CaptionConfig()
    cfg.check()
    t0 = time.perf_counter()
    src = Path(src)
    if not src.is_dir():
        raise PointdiffError(f"{src} {'is a file' if src.exists() else 'does not exist'}; give a dataset folder or a folder of images")
    is_dataset = (src / MANIFEST_FILE).exists()
    if is_dataset and out is not None:
        raise PointdiffError(f"{src} is a dataset: its captions always go to {src / CAPTIONS_FILE}; --out is for image folders")
    # Every process lists the images: each loads its share from them (an input holds a loader, it is not sent).
    items = dataset_images(Dataset(src)) if is_dataset else folder_images(src, cfg.recursive)
    if not items:
        raise PointdiffError(f"no images in {src} ({', '.join(e[1:] for e in IMAGE_EXTENSIONS)}{'; try --recursive' if not cfg.recursive else ''})")
    output = src / CAPTIONS_FILE if is_dataset else Path(out) if out is not None else src / METADATA_FILE
    settings = cfg.settings()
    ledger = _Ledger(src, output, is_dataset, items, cfg, Path(cache_path), progress)
    model = captioner

    def describe(batch: list[list[int]]) -> list[tuple[str, bool]]:
        nonlocal model
        model = model or Captioner.from_options(replace(cfg, device=dist.place(resolve_device(cfg.device))))
        return model.describe([items[group[0]].load() for group in batch], cfg.prompt, settings)

    with ExitStack() as held:
        batches = dist.on_main(lambda: ledger.open(held, captioner.fingerprint if captioner else None))
        try:
            for finished in dist.in_rounds(batches, describe):
                dist.on_main(partial(ledger.record, finished))
        except BaseException:
            if dist.is_main:  # also on Ctrl-C: what was described so far is kept in metadata.jsonl too
                ledger.write_metadata()
            raise
        return dist.on_main(lambda: ledger.finish(time.perf_counter() - t0))


class _Ledger:
    """Rank 0's side of a caption run: what is described already, each new description stored
    the moment it arrives, and the output rows in the order one process writes them.

    Every process builds one (nothing is read or opened before :meth:`open`); only rank 0
    calls its methods, through :meth:`Distributed.on_main`, so a failed write stops every
    process. Work travels as groups of item indices: one group per distinct image (key),
    every sample showing that image.
    """

    def __init__(self, src: Path, output: Path, is_dataset: bool, items: list[ImageInput], cfg: CaptionConfig, cache_path: Path, progress: ProgressFn | None):
        self.src, self.output, self.is_dataset, self.items, self.cfg = src, output, is_dataset, items, cfg
        self.cache_path, self.progress = cache_path, progress
        self.texts: dict[str, str] = {}
        self.batches: list[list[list[int]]] = []
        self.in_order: InOrder[list[dict[str, Any]]] = InOrder()  # each batch's cache rows, until the batches before it are written
        self.done = 0

    def open(self, held: ExitStack, fingerprint: str | None) -> list[list[list[int]]]:
        """Read the output and the cache (kept open in ``held``), write what the cache already
        has, and return the batches still to describe (the same list for every process)."""
        cfg, items = self.cfg, self.items
        if not self.is_dataset:
            _check_metadata_owner(self.output)
        self.fingerprint = fingerprint or cfg.fingerprint()
        self.prompt_sha = text_digest(cfg.prompt)
        self.res = CaptionResult(self.src, self.output, self.cache_path, cfg.model, self.fingerprint, self.prompt_sha, total=len(items), is_dataset=self.is_dataset)
        generation = cfg.settings().key_fields()
        self.keys = [make_key(task="caption", image=it.sha256, model=self.fingerprint, prompt=cfg.prompt, generation=generation) for it in items]
        # What the output holds now: by key for a dataset (model, prompt and settings all match),
        # by text for metadata.jsonl (its rows are only file_name + text).
        self.existing = read_jsonl(self.output)
        self.current = {row["id"]: row.get("key") for row in self.existing if "id" in row}
        self.shown = {row.get("file_name"): row.get("text") for row in self.existing}
        # A dataset's own rows carry their key and text: a second cache should the cache file be gone.
        earlier = {row["key"]: row for row in self.existing if self.is_dataset and "key" in row and "text" in row}
        self.res.from_ink = [it.id for it in items if it.from_ink]
        self.cache = held.enter_context(ResultCache(self.cache_path))
        self.sink = held.enter_context(LazyAppender(self.output if self.is_dataset else None))

        todo: dict[str, list[int]] = {}  # key -> items (one image may be several samples)
        for k, it in enumerate(items):
            hit = self.cache.get(self.keys[k]) or earlier.get(self.keys[k])
            if hit is None:
                todo.setdefault(self.keys[k], []).append(k)
                continue
            fresh = self._is_current(it, hit)
            self.res.up_to_date += fresh
            self.res.from_cache += not fresh
            self._emit(it, hit)
        self.done = len(items) - sum(len(v) for v in todo.values())
        report(self.progress, self.done, len(items), new=0, cached=self.res.from_cache)
        self.batches = [list(b) for b in batched(list(todo.values()), cfg.batch_size)]
        return self.batches

    def record(self, finished: list[tuple[int, list[tuple[str, bool]]]]) -> None:
        """Store the batches ``finished`` (by index) in the cache now, and write every batch whose turn has come."""
        for b, described in finished:
            rows = [
                self.cache.put(self.keys[group[0]], {"text": text, "model": self.cfg.model, "fingerprint": self.fingerprint,
                                                     "prompt_sha": self.prompt_sha, "words": len(text.split()), "stopped": stopped})
                for group, (text, stopped) in zip(self.batches[b], described)
            ]
            self.done += sum(len(group) for group in self.batches[b])
            self.res.generated += sum(len(group) for group in self.batches[b])
            for ready, ready_rows in self.in_order.add(b, rows):  # under torchrun a later share can arrive first: it waits for its turn
                for group, row in zip(self.batches[ready], ready_rows):
                    self.res.example = self.res.example or (self.items[group[0]].id, row["text"])
                    for k in group:
                        self._emit(self.items[k], row)
        report(self.progress, self.done, len(self.items), new=self.res.generated, cached=self.res.from_cache)

    def write_metadata(self) -> None:
        """An image folder's metadata.jsonl: every description so far, in the folder's order (unless unchanged)."""
        rows = [{"file_name": it.id, "text": self.texts[it.id]} for it in self.items if it.id in self.texts]
        if not self.is_dataset and rows and rows != self.existing:
            _write_metadata(self.output, rows)

    def finish(self, seconds: float) -> CaptionResult:
        """Write metadata.jsonl (image folders) and return what the run did."""
        self.write_metadata()
        self.res.words = [len(self.texts[it.id].split()) for it in self.items if it.id in self.texts]
        self.res.seconds = seconds
        return self.res

    def _is_current(self, it: ImageInput, row: dict[str, Any]) -> bool:
        return self.current.get(it.id) == row["key"] if self.is_dataset else self.shown.get(it.id) == row["text"]

    def _emit(self, it: ImageInput, row: dict[str, Any]) -> None:
        self.texts[it.id] = row["text"]
        if not row.get("stopped", True):
            self.res.cut_short.append(it.id)
        if not self._is_current(it, row):
            self.sink.append({"id": it.id, "text": row["text"], "model": self.cfg.model, "fingerprint": self.fingerprint, "prompt_sha": self.prompt_sha,
                              "key": row["key"], "image": "ink" if it.from_ink else "file", "words": row["words"], "stopped": row["stopped"]})
