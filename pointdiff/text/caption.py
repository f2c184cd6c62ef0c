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
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pointdiff.data.dataset import CAPTIONS_FILE, MANIFEST_FILE, SUMMARIES_FILE, Dataset
from pointdiff.data.folders import METADATA_FILE
from pointdiff.data.images import IMAGE_EXTENSIONS
from pointdiff.distributed import one_process_only
from pointdiff.errors import PointdiffError
from pointdiff.progress import ProgressFn, report
from pointdiff.store import atomic_write_text, read_jsonl, sha256_file, write_jsonl
from pointdiff.text.cache import LazyAppender, ResultCache, make_key, text_digest
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
) -> CaptionResult:
    """Describe every image of ``src`` (a dataset folder or an image folder), resumably.

    Args:
        src: a dataset folder (has ``manifest.jsonl``) or a folder of images.
        cfg: model, prompt and generation settings.
        cache_path: the JSONL cache of results by key (shared by runs and datasets).
        out: image folders only: where to write ``metadata.jsonl`` rows (default ``src/metadata.jsonl``).
        progress: called as ``progress(done, total, new=, cached=)`` after each batch.
        captioner: an already loaded model to use (else loaded only if something needs describing).

    Raises:
        PointdiffError: a missing source or model, a model that cannot caption, an image that cannot be read.
    """
    one_process_only("caption")
    cfg = cfg or CaptionConfig()
    cfg.check()
    t0 = time.perf_counter()
    src = Path(src)
    if not src.is_dir():
        raise PointdiffError(f"{src} {'is a file' if src.exists() else 'does not exist'}; give a dataset folder or a folder of images")
    is_dataset = (src / MANIFEST_FILE).exists()
    if is_dataset and out is not None:
        raise PointdiffError(f"{src} is a dataset: its captions always go to {src / CAPTIONS_FILE}; --out is for image folders")
    items = dataset_images(Dataset(src)) if is_dataset else folder_images(src, cfg.recursive)
    if not items:
        raise PointdiffError(f"no images in {src} ({', '.join(e[1:] for e in IMAGE_EXTENSIONS)}{'; try --recursive' if not cfg.recursive else ''})")
    output = src / CAPTIONS_FILE if is_dataset else Path(out) if out is not None else src / METADATA_FILE
    if not is_dataset:
        _check_metadata_owner(output)

    fingerprint = captioner.fingerprint if captioner else cfg.fingerprint()
    settings = cfg.settings()
    prompt_sha = text_digest(cfg.prompt)
    res = CaptionResult(src, output, Path(cache_path), cfg.model, fingerprint, prompt_sha, total=len(items), is_dataset=is_dataset)
    keys = {it.id: make_key(task="caption", image=it.sha256, model=fingerprint, prompt=cfg.prompt, generation=settings.key_fields()) for it in items}
    # What the output holds now: by key for a dataset (model, prompt and settings all match),
    # by text for metadata.jsonl (its rows are only file_name + text).
    existing = read_jsonl(output)
    current = {row["id"]: row.get("key") for row in existing if "id" in row}
    shown = {row.get("file_name"): row.get("text") for row in existing}
    # A dataset's own rows carry their key and text: a second cache should the cache file be gone.
    earlier = {row["key"]: row for row in existing if is_dataset and "key" in row and "text" in row}

    def is_current(it: ImageInput, row: dict[str, Any]) -> bool:
        return current.get(it.id) == row["key"] if is_dataset else shown.get(it.id) == row["text"]

    res.from_ink = [it.id for it in items if it.from_ink]
    texts: dict[str, str] = {}

    with ResultCache(cache_path) as cache, LazyAppender(output if is_dataset else None) as sink:

        def emit(it: ImageInput, row: dict[str, Any]) -> None:
            texts[it.id] = row["text"]
            if not row.get("stopped", True):
                res.cut_short.append(it.id)
            if not is_current(it, row):
                sink.append({"id": it.id, "text": row["text"], "model": cfg.model, "fingerprint": fingerprint, "prompt_sha": prompt_sha,
                             "key": row["key"], "image": "ink" if it.from_ink else "file", "words": row["words"], "stopped": row["stopped"]})

        todo: dict[str, list[ImageInput]] = {}  # key -> items (one image may be several samples)
        for it in items:
            hit = cache.get(keys[it.id]) or earlier.get(keys[it.id])
            if hit is None:
                todo.setdefault(keys[it.id], []).append(it)
                continue
            fresh = is_current(it, hit)
            res.up_to_date += fresh
            res.from_cache += not fresh
            emit(it, hit)
        done = len(items) - sum(len(v) for v in todo.values())
        report(progress, done, len(items), new=0, cached=res.from_cache)
        try:
            if todo:
                captioner = captioner or Captioner.from_options(cfg)
                for batch in batched(list(todo.values()), cfg.batch_size):
                    described = captioner.describe([g[0].load() for g in batch], cfg.prompt, settings)
                    for group, (text, stopped) in zip(batch, described):
                        row = cache.put(keys[group[0].id], {"text": text, "model": cfg.model, "fingerprint": fingerprint,
                                                           "prompt_sha": prompt_sha, "words": len(text.split()), "stopped": stopped})
                        res.example = res.example or (group[0].id, text)
                        for it in group:
                            res.generated += 1
                            emit(it, row)
                    done += sum(len(g) for g in batch)
                    report(progress, done, len(items), new=res.generated, cached=res.from_cache)
        finally:  # also on Ctrl-C: what was described so far is kept in metadata.jsonl too
            rows = [{"file_name": it.id, "text": texts[it.id]} for it in items if it.id in texts]
            if not is_dataset and rows and rows != existing:
                _write_metadata(output, rows)
    res.words = [len(texts[it.id].split()) for it in items if it.id in texts]
    res.seconds = time.perf_counter() - t0
    return res
