"""Images -> long descriptions, with any image-text-to-text model transformers supports.

    from pointdiff.text.caption import CaptionConfig, caption
    result = caption("pointdiff-work/dataset", CaptionConfig(), cache_path="pointdiff-work/cache/caption.jsonl")
    result = caption("photos/", CaptionConfig(model="/models/FastVLM-0.5B"), cache_path="cache.jsonl")

The model is loaded with ``AutoProcessor`` + ``AutoModelForImageTextToText`` and prompted
through the processor's chat template, so the Llava family (FastVLM, the reference's
captioner, has Llava's layout), Qwen2-VL, SmolVLM, ... all work the same way.

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

import os
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from pointdiff.data.dataset import CAPTIONS_FILE, MANIFEST_FILE, Dataset
from pointdiff.data.images import IMAGE_EXTENSIONS, ImageError, open_on_white
from pointdiff.errors import PointdiffError
from pointdiff.progress import ProgressFn, report
from pointdiff.store import atomic_write_text, read_jsonl, sha256_bytes, sha256_file, write_jsonl
from pointdiff.text import hf
from pointdiff.text.cache import GenerationSettings, LazyAppender, ResultCache, generate_texts, make_key, model_fingerprint, text_digest, torch_device_dtype

# transformers' native port of FastVLM 0.5B (Apple's weights converted by the port's author);
# its vision tower runs in timm, an optional extra. See docs/captioning.md.
DEFAULT_MODEL = "KamilaMila/FastVLM-0.5B"
REFERENCE_PROMPT = (
    "Describe this image in 200-300 words. Cover, in this order: "
    "(1) the face orientation: is the face turned to the front, left, right, up or down? "
    "(2) the facial expression; "
    "(3) any other notable features."
)
METADATA_FILE = "metadata.jsonl"
_OWNER_SUFFIX = ".pointdiff-sha256"  # beside a metadata.jsonl we wrote: its sha256, so we know it is ours


@dataclass
class CaptionConfig:
    """Settings of `pointdiff caption` (YAML section ``caption:``; flags override)."""

    model: str = DEFAULT_MODEL  # hub id (in the HF cache) or a folder; FastVLM 0.5B as in the reference
    prompt: str = REFERENCE_PROMPT  # the reference's: orientation, expression, other features, 200-300 words
    max_new_tokens: int = 512  # 300 words are ~400 tokens: room to finish rather than be cut off
    batch_size: int = 4  # images per generate call: a GPU wants more, 2 CPU cores gain little
    device: str = "auto"  # auto: cuda > mps > cpu
    dtype: str = "auto"  # auto: bfloat16 on GPU, float32 on CPU (bfloat16 is faster on AVX-512 BF16 CPUs)
    do_sample: bool = False  # greedy: the same image always gets the same words
    temperature: float = 0.7  # only when sampling
    top_p: float = 0.9  # only when sampling
    seed: int = 0  # only when sampling
    revision: str | None = None  # hub branch / tag / commit of a hub id
    trust_remote_code: bool = False  # let a model folder run its own Python (off: never silently)
    recursive: bool = False  # image folders: also caption subfolders

    def settings(self) -> GenerationSettings:
        """The generation settings that enter the cache key."""
        return GenerationSettings(self.max_new_tokens, self.do_sample, self.temperature, self.top_p, self.seed)


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

    @property
    def nothing_to_do(self) -> bool:
        """True when every image was already described: nothing was written."""
        return self.generated == 0 and self.from_cache == 0

    def word_stats(self) -> tuple[float, float, int] | None:
        """Mean, median and max words per description."""
        return (statistics.fmean(self.words), statistics.median(self.words), max(self.words)) if self.words else None


@dataclass
class _Item:
    id: str
    sha256: str  # of what the model sees: the image file, or the ink pixels
    load: Callable[[], Image.Image]
    from_ink: bool = False


class Captioner:
    """A loaded image-text-to-text model and its processor: images in, descriptions out."""

    def __init__(self, processor: Any, model: Any, name: str, fingerprint: str, device: str):
        self.processor, self.model, self.name, self.fingerprint, self.device = processor, model, name, fingerprint, device
        tokenizer = getattr(processor, "tokenizer", None)
        if tokenizer is None or not callable(getattr(processor, "apply_chat_template", None)):
            raise PointdiffError(f"{name!r} has no processor with a tokenizer; `caption` needs an image-text-to-text model")
        tokenizer.padding_side = "left"  # batched generation: every prompt must end where generation starts
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.tokenizer = tokenizer

    @classmethod
    def load(cls, model: str, device: str = "auto", dtype: str = "auto", revision: str | None = None, trust_remote_code: bool = False) -> "Captioner":
        """Load ``model`` (hub id in the HF cache, or a folder) from local files only."""
        path = hf.resolve_model_dir(model, revision=revision, flag="--model")
        config = hf.read_model_config(path)
        _check_loadable(model, config)
        device, torch_dtype = torch_device_dtype(device, dtype)
        from transformers import AutoModelForImageTextToText, AutoProcessor

        try:
            processor = hf.load_pretrained(AutoProcessor, path, name=model, trust_remote_code=trust_remote_code)
            net = hf.load_pretrained(AutoModelForImageTextToText, path, name=model, trust_remote_code=trust_remote_code, dtype=torch_dtype)
        except ImportError as e:  # an optional backend (timm, torchvision) that this model needs
            reason = _first_line(e).split(" but it was not found")[0]  # "TimmWrapperModel requires the timm library"
            raise PointdiffError(f"{model!r} cannot be loaded here: {reason}, which is not installed{_extra_hint(config)}") from None
        return cls(processor, net.to(device).eval(), model, model_fingerprint(path, model), device)

    def describe(self, images: Sequence[Image.Image], prompt: str, settings: GenerationSettings) -> list[tuple[str, bool]]:
        """One description per image: ``(text, stopped)``; ``stopped`` is False when cut by ``max_new_tokens``."""
        conversation = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]
        try:
            text = self.processor.apply_chat_template(conversation, add_generation_prompt=True)
        except ValueError as e:  # no chat template
            raise PointdiffError(f"{self.name!r} cannot format a prompt ({_first_line(e)}); it needs a chat template") from None
        with hf.quiet_transformers():
            inputs = self.processor(images=list(images), text=[text] * len(images), padding=True, return_tensors="pt")
        inputs = inputs.to(self.device, self.model.dtype)  # casts only floating tensors (pixel values)
        return generate_texts(self.model, self.tokenizer, inputs, settings)


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def _extra_hint(config: dict[str, Any]) -> str:
    if config.get("model_type") == "fast_vlm" or (config.get("vision_config") or {}).get("model_type") == "timm_wrapper":
        return (
            ". FastVLM's vision tower runs in timm: `pip install timm torchvision` with a torchvision built for "
            "your torch (see docs/captioning.md), or caption with a model whose vision tower is native to "
            "transformers (e.g. a Llava, Qwen2-VL or SmolVLM checkpoint)"
        )
    return ""


def _check_loadable(name: str, config: dict[str, Any]) -> None:
    """Refuse, with what to do instead, checkpoints that AutoModelForImageTextToText cannot drive."""
    if config.get("model_type") == "llava_qwen2":
        raise PointdiffError(
            f"{name!r} is Apple's original FastVLM checkpoint (model_type llava_qwen2): its own Python code and "
            "prompt format, written for transformers 4, not an AutoModelForImageTextToText model. Use transformers' "
            f"native port instead: --model {DEFAULT_MODEL} (see docs/captioning.md)"
        )


# ----------------------------------------------------------------------------- inputs


def open_rgb(path: str | Path) -> Image.Image:
    """An image file as RGB, transparency composited on white (line art on a clear background stays visible)."""
    try:
        return open_on_white(path).convert("RGB")
    except ImageError as e:
        raise PointdiffError(f"cannot read image {path}: {e}") from None


def ink_image(pixels: np.ndarray, width: int, height: int) -> Image.Image:
    """Black ink pixels (col, row) on white: what the dataset keeps of an image whose file is gone."""
    canvas = np.full((height, width), 255, dtype=np.uint8)
    canvas[pixels[:, 1], pixels[:, 0]] = 0
    return Image.fromarray(canvas).convert("RGB")


def _dataset_items(ds: Dataset) -> list[_Item]:
    """Each sample's original image file if it is still there unchanged, else its ink."""
    roots = [ds.root]
    source = ds.info.get("source")
    if isinstance(source, str) and Path(source).is_absolute():
        roots.append(Path(source))
    items = []
    for i, r in enumerate(ds.records):
        path = next((root / r.source for root in roots if (root / r.source).is_file()), None)
        if path is not None and sha256_file(path) == r.sha256:
            items.append(_Item(r.id, r.sha256, lambda p=path: open_rgb(p)))
            continue
        pixels = ds.pixels(i)
        digest = sha256_bytes(f"ink:{r.width}x{r.height}:".encode() + np.ascontiguousarray(pixels).tobytes())
        items.append(_Item(r.id, digest, lambda px=pixels, w=r.width, h=r.height: ink_image(px, w, h), from_ink=True))
    return items


def _natural(name: str) -> list[Any]:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def _folder_items(folder: Path, recursive: bool) -> list[_Item]:
    """Image files of ``folder`` (hidden ones skipped), ids = paths relative to it, in natural order."""
    paths = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")) if recursive else []
        paths += [Path(dirpath) / f for f in filenames if not f.startswith(".") and f.lower().endswith(IMAGE_EXTENSIONS)]
    paths.sort(key=lambda p: _natural(p.relative_to(folder).as_posix()))
    return [_Item(p.relative_to(folder).as_posix(), sha256_file(p), lambda p=p: open_rgb(p)) for p in paths]


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
    cfg = cfg or CaptionConfig()
    t0 = time.perf_counter()
    src = Path(src)
    if not src.is_dir():
        raise PointdiffError(f"{src} {'is a file' if src.exists() else 'does not exist'}; give a dataset folder or a folder of images")
    is_dataset = (src / MANIFEST_FILE).exists()
    if is_dataset and out is not None:
        raise PointdiffError(f"{src} is a dataset: its captions always go to {src / CAPTIONS_FILE}; --out is for image folders")
    items = _dataset_items(Dataset(src)) if is_dataset else _folder_items(src, cfg.recursive)
    if not items:
        raise PointdiffError(f"no images in {src} ({', '.join(e[1:] for e in IMAGE_EXTENSIONS)}{'; try --recursive' if not cfg.recursive else ''})")
    output = src / CAPTIONS_FILE if is_dataset else Path(out) if out is not None else src / METADATA_FILE
    if not is_dataset:
        _check_metadata_owner(output)

    fingerprint = captioner.fingerprint if captioner else model_fingerprint(hf.resolve_model_dir(cfg.model, revision=cfg.revision, flag="--model"), cfg.model)
    settings = cfg.settings()
    prompt_sha = text_digest(cfg.prompt)
    res = CaptionResult(src, output, Path(cache_path), cfg.model, fingerprint, prompt_sha, total=len(items))
    keys = {it.id: make_key(task="caption", image=it.sha256, model=fingerprint, prompt=cfg.prompt, generation=settings.key_fields()) for it in items}
    # What the output holds now: by key for a dataset (model, prompt and settings all match),
    # by text for metadata.jsonl (its rows are only file_name + text).
    existing = read_jsonl(output)
    current = {row["id"]: row.get("key") for row in existing if "id" in row}
    shown = {row.get("file_name"): row.get("text") for row in existing}
    # A dataset's own rows carry their key and text: a second cache should the cache file be gone.
    earlier = {row["key"]: row for row in existing if is_dataset and "key" in row and "text" in row}

    def is_current(it: _Item, row: dict[str, Any]) -> bool:
        return current.get(it.id) == row["key"] if is_dataset else shown.get(it.id) == row["text"]

    res.from_ink = [it.id for it in items if it.from_ink]
    texts: dict[str, str] = {}

    with ResultCache(cache_path) as cache, LazyAppender(output if is_dataset else None) as sink:

        def emit(it: _Item, row: dict[str, Any]) -> None:
            texts[it.id] = row["text"]
            if not row.get("stopped", True):
                res.cut_short.append(it.id)
            if not is_current(it, row):
                sink.append({"id": it.id, "text": row["text"], "model": cfg.model, "fingerprint": fingerprint, "prompt_sha": prompt_sha,
                             "key": row["key"], "image": "ink" if it.from_ink else "file", "words": row["words"], "stopped": row["stopped"]})

        todo: dict[str, list[_Item]] = {}  # key -> items (one image may be several samples)
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
                captioner = captioner or Captioner.load(cfg.model, cfg.device, cfg.dtype, cfg.revision, cfg.trust_remote_code)
                groups = list(todo.values())
                for a in range(0, len(groups), max(1, cfg.batch_size)):
                    batch = groups[a : a + cfg.batch_size]
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
