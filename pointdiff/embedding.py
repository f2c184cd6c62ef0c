"""The embed stage: each sample's text -> a vector the flow model is conditioned on.

    result = embed_dataset("pointdiff-work/dataset", EmbedConfig(encoder="minilm"))
    report = compare_prompts(["left-facing neutral", "smiling, turned right"], "pointdiff-work/dataset")

``embed_dataset`` encodes each sample's text (summary > generated caption > source caption)
and writes ``DATASET/embeddings.safetensors`` (see :mod:`pointdiff.text.embeddings`). Rows
whose text and encoder are unchanged are reused, so a second run does no work and an edited
caption costs one encode, not N. Samples without text are refused unless ``allow_missing``;
then they are left out of the file and training uses only the samples it lists.

It also measures how alike the texts are (pairwise cosine statistics, duplicates, a
histogram PNG), and ``compare_prompts`` shows how prompts relate to each other and to the
dataset's captions. Nothing here prints: results are dataclasses the CLI renders.

Under ``torchrun`` (:mod:`pointdiff.distributed`) each process encodes a contiguous share of
the texts to encode; the shares are gathered in rank order, and rank 0, which holds the
dataset's lock, writes the file and the histogram while the others wait. The rows are those
one process would have made (up to float rounding: a share is batched differently).
"""

from __future__ import annotations

import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from pointdiff.data.dataset import EMBEDDINGS_FILE, Dataset
from pointdiff.device import resolve_device
from pointdiff.distributed import Distributed, current
from pointdiff.errors import PointdiffError
from pointdiff.lock import exclusive
from pointdiff.progress import ProgressFn
from pointdiff.store import remove_temps
from pointdiff.text.embeddings import DatasetTexts, EncoderInfo, StoredEmbeddings, check_encoder, dataset_texts, read_embeddings, staleness, write_embeddings
from pointdiff.text.encoders import DEFAULT_ENCODER, TextEncoder, load_encoder, resolve_encoder
from pointdiff.text.similarity import DuplicateGroup, SimilarityStats, cosine_matrix, duplicate_texts, nearest, pairwise_stats, text_groups

HISTOGRAM_FILE = "similarity_hist.png"
_PLACE_CHUNK = 8192  # new vectors copied into their rows at a time


@dataclass
class EmbedConfig:
    """Settings of `pointdiff embed` (YAML section ``embed:``; flags override)."""

    encoder: str = DEFAULT_ENCODER  # minilm works offline; "clip" is the reference's ViT-B/32 text tower
    batch_size: int = 64  # 64 short captions fill 2 CPU cores; larger batches only add padding
    device: str = "auto"  # auto = cuda if available, else cpu
    trust_remote_code: bool = False  # let an encoder folder run its own Python code
    allow_missing: bool = False  # embed only the samples that have text (the rest are left out of training)
    force: bool = False  # re-encode everything even if the stored embeddings are current
    stats: bool = True  # compute the similarity table and histogram
    top_pairs: int = 5  # most / least similar pairs to show
    hist_pairs: int = 200_000  # histogram uses all pairs up to this many, else a seeded random sample
    seed: int = 0  # for the histogram's pair sample


@dataclass
class Similarity:
    """The similarity table of a dataset's texts, ready to render."""

    stats: SimilarityStats | None  # None when fewer than 2 samples
    duplicates: list[DuplicateGroup]  # rows refer to EmbedResult.ids / texts
    num_duplicate_rows: int  # rows whose text also appears elsewhere
    histogram: Path | None


@dataclass
class EmbedResult:
    """What `embed_dataset` did."""

    path: Path  # the embeddings file
    encoder: EncoderInfo
    ids: list[str]  # one per row
    texts: list[str]  # one per row
    sources: dict[str, int]  # rows by where their text came from: summary / caption / source
    encoded: int  # rows computed this run (identical texts are encoded once)
    reused: int  # rows taken from the previous file
    up_to_date: bool  # nothing needed doing
    missing: list[str]  # ids of samples without text (left out)
    over_budget: dict[str, int]  # id -> tokens, texts longer than the encoder reads (truncated)
    seconds: float
    similarity: Similarity | None = None  # rank 0's alone under torchrun (it draws the histogram)
    reason: str = ""  # why work was done ("first run", "3 texts changed", "encoder changed", "--force")


def embed_dataset(
    dataset_root: str | Path,
    cfg: EmbedConfig | None = None,
    progress: ProgressFn | None = None,
    encoder: TextEncoder | None = None,
    dist: Distributed | None = None,
) -> EmbedResult:
    """Embed every sample's text and write ``DATASET/embeddings.safetensors``.

    Args:
        dataset_root: a dataset folder (``pointdiff ingest`` wrote it).
        cfg: settings; defaults to ``EmbedConfig()``.
        progress: called as texts are encoded (under torchrun: this process's share).
        encoder: an already loaded encoder (tests, or callers embedding several datasets);
            otherwise ``cfg.encoder`` is loaded only if something must be encoded.
        dist: this process's place among several that share the encoding (every one calls
            ``embed_dataset`` alike; rank 0 writes); default: the process group this process
            joined, if any (:func:`pointdiff.distributed.current`).

    Raises:
        PointdiffError: samples without text (and not ``allow_missing``), no text at all, or
            an encoder that cannot be loaded.
    """
    dist = dist if dist is not None else current()
    with ExitStack() as held:  # one writer per dataset: rank 0, for all the processes of this run
        dist.on_main(lambda: held.enter_context(exclusive(dataset_root, "embed")))
        return _embed(Path(dataset_root), cfg or EmbedConfig(), progress, encoder, dist)


def _embed(root: Path, cfg: EmbedConfig, progress: ProgressFn | None, encoder: TextEncoder | None, dist: Distributed) -> EmbedResult:
    start = time.perf_counter()
    now = dataset_texts(Dataset(root))
    if not now.ids:
        raise PointdiffError(f"no sample in {root} has any text; describe them first with `pointdiff caption`")
    if now.missing and not cfg.allow_missing:
        shown = ", ".join(now.missing[:5]) + (" …" if len(now.missing) > 5 else "")
        raise PointdiffError(
            f"{len(now.missing)} of {len(now.ids) + len(now.missing)} samples have no text ({shown}); describe them "
            "with `pointdiff caption`, or pass --allow-missing to embed the others (training then leaves these out)"
        )
    hashes = now.hashes
    info = encoder.info if encoder is not None else resolve_encoder(cfg.encoder).info
    path = root / EMBEDDINGS_FILE
    if dist.is_main:  # the lock's holder
        for name in (EMBEDDINGS_FILE, HISTOGRAM_FILE):
            remove_temps(root / name)  # what a killed embed left (we hold the dataset's lock)
    old = _previous(path)
    reason = _reason(old, info, now.ids, hashes, cfg.force)

    if reason is None:
        assert old is not None
        rows, over, encoded = old.embeddings, old.over_budget, 0
    else:
        rows, over, encoded = _update(old, now, hashes, info, cfg, encoder, progress, dist)
        dist.on_main(lambda: write_embeddings(path, StoredEmbeddings(rows, info, now.ids, hashes, over)))
    sources = dict(Counter(now.sources))
    result = EmbedResult(
        path=path, encoder=info, ids=now.ids, texts=now.texts, sources=sources, encoded=encoded, reused=len(now.ids) - encoded,
        up_to_date=reason is None, missing=now.missing, over_budget=over, seconds=0.0, reason=reason or "",
    )
    if cfg.stats:

        def report() -> None:  # rank 0 draws the histogram, and its result alone carries the table
            result.similarity = similarity_report(rows, now.texts, cfg, root / HISTOGRAM_FILE, redraw=reason is not None)

        dist.on_main(report)
    result.seconds = time.perf_counter() - start
    return result


def _update(
    old: StoredEmbeddings | None, now: DatasetTexts, hashes: list[str], info: EncoderInfo,
    cfg: EmbedConfig, encoder: TextEncoder | None, progress: ProgressFn | None, dist: Distributed,
) -> tuple[torch.Tensor, dict[str, int], int]:
    """New rows (reusing what the same weights made from the same text), over-budget texts, count encoded.

    With several processes each encodes a contiguous share of the distinct texts; the
    shares, gathered in rank order, are the list one process would have encoded.
    """
    same_weights = old is not None and not cfg.force and old.encoder.weights_sha256 == info.weights_sha256
    previous = {(i, h): r for r, (i, h) in enumerate(zip(old.ids, old.texts_sha256))} if old is not None and same_weights else {}
    found = [previous.get(key) for key in zip(now.ids, hashes)]
    kept = [k for k, r in enumerate(found) if r is not None]
    todo = [k for k, r in enumerate(found) if r is None]
    rows = torch.empty(len(now.ids), info.dim)
    over: dict[str, int] = {}
    if kept and old is not None:
        rows[kept] = old.embeddings[[found[k] for k in kept]]
        over = {now.ids[k]: old.over_budget[now.ids[k]] for k in kept if now.ids[k] in old.over_budget}
    if todo:  # otherwise rows were only dropped or reordered: no model needed
        enc = encoder or load_encoder(cfg.encoder, dist.place(resolve_device(cfg.device)), cfg.trust_remote_code)
        texts = [now.texts[k] for k in todo]
        unique = list(dict.fromkeys(texts))  # datasets repeat captions; encode each text once
        where = {t: n for n, t in enumerate(unique)}
        mine = dist.shard(unique)  # all of them in one process
        vectors, tokens = enc.encode(mine, cfg.batch_size, progress), enc.count_tokens(mine)
        if dist.active:  # every process gets every share, in rank order (as arrays: a pickled tensor goes through torch.save)
            shares = dist.all_gather((vectors.numpy(), tokens))
            vectors = torch.from_numpy(np.concatenate([v for v, _ in shares]))
            tokens = [n for _, counts in shares for n in counts]
        pick = [where[t] for t in texts]
        over.update({now.ids[k]: tokens[n] for k, n in zip(todo, pick) if tokens[n] > info.max_tokens})
        if len(todo) == len(rows) and pick == list(range(len(unique))):  # every text new and distinct: the encoder's rows are the file's
            return vectors, over, len(todo)
        for a in range(0, len(todo), _PLACE_CHUNK):  # a chunk at a time: indexing all at once copies every vector again
            rows[todo[a : a + _PLACE_CHUNK]] = vectors[pick[a : a + _PLACE_CHUNK]]
    return rows, over, len(todo)


def _previous(path: Path) -> StoredEmbeddings | None:
    """The stored embeddings, or None when there are none or they cannot be read (then we rebuild)."""
    if not path.exists():
        return None
    try:
        return read_embeddings(path)
    except PointdiffError:
        return None


def _reason(old: StoredEmbeddings | None, info: EncoderInfo, ids: list[str], hashes: list[str], force: bool) -> str | None:
    """Why the embeddings must be (partly) recomputed, or None when they are current."""
    if force:
        return "--force"
    if old is None:
        return "no embeddings yet"
    if old.encoder.weights_sha256 != info.weights_sha256 or old.encoder.dim != info.dim:
        return f"encoder changed ({old.encoder.id} -> {info.id})"
    return staleness(old, ids, hashes)


def similarity_report(emb: torch.Tensor, texts: list[str], cfg: EmbedConfig, histogram: Path | None, redraw: bool = True) -> Similarity:
    """Pairwise statistics, duplicate texts and (when ``histogram`` is given) the histogram PNG.

    ``redraw=False`` keeps an existing histogram file (the embeddings did not change).
    """
    dups = duplicate_texts(texts)
    stats = None
    if len(texts) >= 2:
        stats = pairwise_stats(emb, top_k=cfg.top_pairs, groups=text_groups(texts), hist_pairs=cfg.hist_pairs, seed=cfg.seed)
    if histogram is not None and stats is not None and (redraw or not histogram.exists()):
        from pointdiff.plot import save_histogram

        kind = "all" if stats.histogram_exact else f"{len(stats.histogram_values):,} random"
        title = f"pairwise cosine similarity ({kind} of {stats.num_pairs:,} pairs)"
        save_histogram(histogram, stats.histogram_values, "cosine similarity", title=title)
    elif stats is None:
        histogram = None
    return Similarity(stats, dups, sum(len(d.rows) for d in dups), histogram)


@dataclass
class Neighbour:
    """A dataset text near a prompt."""

    id: str  # the first sample with this text
    text: str
    cosine: float
    count: int = 1  # samples that share exactly this text


@dataclass
class PromptReport:
    """How prompts relate to each other and to a dataset's texts."""

    prompts: list[str]
    encoder: EncoderInfo
    similarity: torch.Tensor  # [P, P] cosines
    tokens: list[int]  # per prompt
    neighbours: list[list[Neighbour]] = field(default_factory=list)  # per prompt; empty without a dataset
    note: str = ""  # why there are no neighbours, or that they may be stale


def compare_prompts(
    prompts: list[str],
    dataset_root: str | Path | None = None,
    encoder: str | None = None,
    top: int = 3,
    device: str = "auto",
    trust_remote_code: bool = False,
    fallback_encoder: str = DEFAULT_ENCODER,
) -> PromptReport:
    """Embed ``prompts``; their similarity matrix and each one's ``top`` nearest dataset texts.

    The encoder is ``encoder`` when given, else the one the dataset's embeddings were made
    with (so neighbours are comparable), else ``fallback_encoder``. An explicit ``encoder``
    that differs from the dataset's still gives the matrix, but no neighbours.
    """
    if not prompts:
        raise PointdiffError("give at least one prompt (--text)")
    root = Path(dataset_root) if dataset_root is not None else None
    stored, note = None, ""
    if root is not None and (root / EMBEDDINGS_FILE).exists():
        stored = read_embeddings(root / EMBEDDINGS_FILE)
    elif root is not None and (root / "manifest.jsonl").exists():
        note = f"no embeddings in {root} yet: run `pointdiff embed` to see each prompt's nearest captions"
    name = encoder or (stored.encoder.id if stored else fallback_encoder)
    enc = load_encoder(name, resolve_device(device), trust_remote_code)
    vecs = enc.encode(prompts)
    report = PromptReport(list(prompts), enc.info, cosine_matrix(vecs), enc.count_tokens(prompts), note=note)
    if stored is None:
        return report
    if encoder is not None and (stored.encoder.weights_sha256 != enc.info.weights_sha256 or stored.encoder.dim != enc.info.dim):
        report.note = f"the dataset was embedded with {stored.encoder.id}, not {enc.info.id}: no nearest captions (they need the same encoder)"
        return report
    check_encoder(stored.encoder, enc.info, what=f"{root / EMBEDDINGS_FILE}")
    now = dataset_texts(Dataset(root))
    text_of = dict(zip(now.ids, now.texts))
    if staleness(stored, now.ids, now.hashes):
        report.note = "the dataset's embeddings are out of date (texts changed since `pointdiff embed`); neighbours may be off"
    # one row per distinct text, or a caption shared by many samples fills the whole top list
    first: dict[str, int] = {}
    count: dict[str, int] = {}
    for row, h in enumerate(stored.texts_sha256):
        first.setdefault(h, row)
        count[h] = count.get(h, 0) + 1
    rows = list(first.values())
    values, index = nearest(vecs, stored.embeddings[rows], top)
    report.neighbours = []
    for vs, js in zip(values.tolist(), index.tolist()):
        picked = [rows[j] for j in js]
        report.neighbours.append(
            [Neighbour(stored.ids[r], text_of.get(stored.ids[r], "?"), v, count[stored.texts_sha256[r]]) for v, r in zip(vs, picked)]
        )
    return report
