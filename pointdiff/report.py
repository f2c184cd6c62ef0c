"""What `pointdiff inspect` shows, collected as plain data (no printing).

Three kinds of thing can be inspected, told apart by what is on disk:

* a **dataset** folder (``manifest.jsonl``): counts, ink statistics, where each sample's
  text comes from, embedding coverage and freshness, label distribution, pairwise
  similarity of the embeddings, the contact sheet;
* a **run** (a training run folder or a checkpoint inside one, recognised by
  :func:`pointdiff.checkpoint.load_run`): architecture, parameter count, encoder, step,
  config, data fingerprint (and whether it matches the dataset now), loss curve;
* an **embeddings** file (``*.safetensors`` with an ``embeddings`` tensor): encoder, size,
  similarity statistics.

Usage::

    from pointdiff.report import inspect_path
    rep = inspect_path("pointdiff-work/dataset")   # DatasetReport
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pointdiff.data.dataset import CONTACT_SHEET_FILE, EMBEDDINGS_FILE, MANIFEST_FILE, REJECTED_FILE, Dataset
from pointdiff.errors import PointdiffError
from pointdiff.store import read_jsonl


@dataclass
class SimilaritySummary:
    """Pairwise cosine statistics of a set of embeddings and its most alike / least alike texts."""

    n: int
    min: float
    max: float
    mean: float
    std: float
    most_similar: list[tuple[str, str, float]]  # (text or id, text or id, cosine)
    least_similar: list[tuple[str, str, float]]
    duplicate_texts: int  # rows whose text another row also has


@dataclass
class EmbeddingsReport:
    """An embeddings file."""

    path: Path
    encoder: dict[str, Any]  # EncoderInfo fields
    rows: int
    dim: int
    over_budget: int  # texts longer than the encoder reads (truncated)
    unit_norm: bool  # every row has length 1 (± 1e-3)
    up_to_date: bool | None  # against its dataset's texts now (None: no dataset beside it)
    stale_reason: str | None
    similarity: SimilaritySummary | None


@dataclass
class DatasetReport:
    """A dataset folder."""

    path: Path
    num_samples: int
    info: dict[str, Any]  # dataset.json
    rejected: int
    image_sizes: dict[str, int]  # "WxH" -> count
    ink: dict[str, float]  # min / median / mean / max ink pixels per sample, and total
    text_sources: dict[str, int]  # summary / caption / source / none -> samples (what embed encodes)
    captions: int  # rows in captions.jsonl (generated long descriptions)
    summaries: int
    embeddings: EmbeddingsReport | None
    embedded: int  # samples with an embedding row
    labels: dict[str, dict[str, int]]  # label name -> value -> count (empty when the source has none)
    contact_sheet: Path | None
    fingerprint: str


@dataclass
class RunReport:
    """A training run or one of its checkpoints."""

    path: Path
    arch: str
    arch_config: dict[str, Any]
    num_params: int
    encoder: dict[str, Any]
    step: int | None
    config: dict[str, Any]
    data_fingerprint: str | None
    dataset: str | None  # the data it was trained on (dataset folder or reference .pt)
    dataset_matches: bool | None  # that dataset, as it is now, is what the run trained on (None: cannot tell)
    loss_curve: Path | None
    checkpoints: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)  # everything else the run recorded


@dataclass
class WorkspaceReport:
    """The default of `inspect`: the workspace's dataset and its latest run."""

    root: Path
    dataset: DatasetReport | None
    run: RunReport | None
    runs: list[str]


# ----------------------------------------------------------------------------- embeddings


def _similarity(emb: Any, texts: list[str], top_k: int = 3) -> SimilaritySummary | None:
    from pointdiff.text.similarity import pairwise_stats, text_groups

    if emb.shape[0] < 2:
        return None
    groups = text_groups(texts)
    st = pairwise_stats(emb, top_k=top_k, groups=groups)
    counts = Counter(groups)
    dup = sum(c for c in counts.values() if c > 1)
    pick = lambda pairs: [(texts[p.i], texts[p.j], p.cosine) for p in pairs]  # noqa: E731
    return SimilaritySummary(st.n, st.min, st.max, st.mean, st.std, pick(st.most_similar), pick(st.least_similar), dup)


def inspect_embeddings(path: str | Path) -> EmbeddingsReport:
    """Report on an embeddings file; compares it with the dataset folder it sits in, if any."""
    from pointdiff.text.embeddings import dataset_texts, read_embeddings, staleness

    path = Path(path)
    stored = read_embeddings(path)
    emb = stored.embeddings.float()
    norms = emb.norm(dim=1)
    texts = list(stored.ids)
    up_to_date: bool | None = None
    reason: str | None = None
    if (path.parent / MANIFEST_FILE).exists():
        now = dataset_texts(Dataset(path.parent))
        reason = staleness(stored, now.ids, now.hashes)
        up_to_date = reason is None
        by_id = dict(zip(now.ids, now.texts))
        texts = [by_id.get(i, i) for i in stored.ids]  # show texts, not ids, where we can
    return EmbeddingsReport(
        path=path,
        encoder=stored.encoder.to_dict(),
        rows=int(emb.shape[0]),
        dim=int(emb.shape[1]),
        over_budget=len(stored.over_budget),
        unit_norm=bool(((norms - 1).abs() < 1e-3).all()) if len(norms) else True,
        up_to_date=up_to_date,
        stale_reason=reason,
        similarity=_similarity(emb, texts),
    )


# ----------------------------------------------------------------------------- dataset


def inspect_dataset(path: str | Path) -> DatasetReport:
    """Report on a dataset folder (reads the manifest and text files, never the ink arrays whole)."""
    ds = Dataset(path)
    inks = np.array([r.ink_count for r in ds.records], dtype=np.float64)
    ink = {"min": float(inks.min()), "median": float(np.median(inks)), "mean": float(inks.mean()), "max": float(inks.max()), "total": float(inks.sum())} if len(inks) else {}
    sizes = Counter(f"{r.width}x{r.height}" for r in ds.records)
    sources = Counter(src for _, src in ds.texts())
    labels: dict[str, Counter] = {}
    for r in ds.records:
        for k, v in (r.labels or {}).items():
            labels.setdefault(k, Counter())[str(v)] += 1
    emb_path = ds.root / EMBEDDINGS_FILE
    emb = inspect_embeddings(emb_path) if emb_path.exists() else None
    embedded = 0
    if emb is not None:
        from pointdiff.text.embeddings import read_embeddings

        embedded = len(set(read_embeddings(emb_path).ids) & set(ds.ids))
    sheet = ds.root / CONTACT_SHEET_FILE
    return DatasetReport(
        path=ds.root,
        num_samples=len(ds),
        info=ds.info,
        rejected=len(read_jsonl(ds.root / REJECTED_FILE)),
        image_sizes=dict(sizes.most_common()),
        ink=ink,
        text_sources={k: sources.get(k, 0) for k in ("summary", "caption", "source", "none")},
        captions=len(ds.captions()),
        summaries=len(ds.summaries()),
        embeddings=emb,
        embedded=embedded,
        labels={k: dict(sorted(c.items())) for k, c in sorted(labels.items())},
        contact_sheet=sheet if sheet.exists() else None,
        fingerprint=ds.fingerprint(),
    )


# ----------------------------------------------------------------------------- runs


def _dataset_matches(source: str | None, fingerprint: str | None) -> bool | None:
    """Whether the dataset at ``source`` gives the training-data ``fingerprint`` now (None: cannot tell).

    Reads the manifest and the embeddings, never the ink.
    """
    from pointdiff.data.training import training_fingerprint
    from pointdiff.text.embeddings import read_embeddings

    root = Path(source) if source else None
    if not fingerprint or root is None or not (root / MANIFEST_FILE).exists() or not (root / EMBEDDINGS_FILE).exists():
        return None
    try:
        stored = read_embeddings(root / EMBEDDINGS_FILE)
        return training_fingerprint(Dataset(root).fingerprint(), stored.encoder, list(stored.ids)) == fingerprint
    except PointdiffError:
        return None


def inspect_run(path: str | Path) -> RunReport:
    """Report on a training run folder or checkpoint (loaded on the CPU)."""
    from pointdiff.checkpoint import LOSS_PLOT, list_checkpoints, load_run, run_dir_of

    path = Path(path)
    run = load_run(path, "cpu")
    meta = dict(run.meta)
    run_dir = run_dir_of(run.path)
    data = meta.get("data") or {}
    fingerprint = data.get("fingerprint")
    source = data.get("source")
    curve = run_dir / LOSS_PLOT
    shown = {"arch", "arch_config", "num_params", "config", "encoder", "step", "data"}
    return RunReport(
        path=run.path,
        arch=str(meta.get("arch", getattr(run.model, "arch", type(run.model).__name__))),
        arch_config=dict(meta.get("arch_config") or {}),
        num_params=sum(p.numel() for p in run.model.parameters()),
        encoder=run.encoder.to_dict(),
        step=meta.get("step"),
        config=dict(meta.get("config") or {}),
        data_fingerprint=fingerprint,
        dataset=str(source) if source else None,
        dataset_matches=_dataset_matches(source, fingerprint),
        loss_curve=curve if curve.exists() else None,
        checkpoints=[p.name for p in list_checkpoints(run_dir)],
        meta={k: v for k, v in meta.items() if k not in shown},
    )


# ----------------------------------------------------------------------------- dispatch


def _is_embeddings(path: Path) -> bool:
    if path.suffix != ".safetensors" or not path.is_file():
        return False
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return "embeddings" in f.keys() and "encoder" in (f.metadata() or {})
    except SafetensorError as e:  # torn or foreign: say so, not a traceback
        raise PointdiffError(f"{path} is not a readable safetensors file ({e})") from None


def inspect_path(path: str | Path) -> DatasetReport | RunReport | EmbeddingsReport:
    """Inspect whatever ``path`` is: a dataset folder, an embeddings file, or a run/checkpoint."""
    path = Path(path)
    if not path.exists():
        raise PointdiffError(f"nothing at {path}")
    if path.is_dir() and (path / MANIFEST_FILE).exists():
        return inspect_dataset(path)
    if _is_embeddings(path):
        return inspect_embeddings(path)
    try:
        return inspect_run(path)
    except PointdiffError as e:
        raise PointdiffError(f"{path} is not a dataset folder, an embeddings file, or a training run/checkpoint ({e})") from None


def inspect_workspace(ws: Any) -> WorkspaceReport:
    """The workspace's dataset and latest run (either may be missing)."""
    dataset = inspect_dataset(ws.dataset) if (ws.dataset / MANIFEST_FILE).exists() else None
    latest = ws.latest_run()
    run = inspect_run(latest) if latest is not None else None
    runs = sorted(p.name for p in ws.runs.iterdir() if p.is_dir()) if ws.runs.exists() else []
    if dataset is None and run is None:
        raise PointdiffError(f"nothing to inspect in workspace {ws.root}: no dataset (run `pointdiff ingest`) and no runs (run `pointdiff train`)")
    return WorkspaceReport(ws.root, dataset, run, runs)


__all__ = [
    "DatasetReport",
    "EmbeddingsReport",
    "RunReport",
    "SimilaritySummary",
    "WorkspaceReport",
    "inspect_dataset",
    "inspect_embeddings",
    "inspect_path",
    "inspect_run",
    "inspect_workspace",
]
