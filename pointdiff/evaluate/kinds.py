"""Prompt accuracy by kind of prompt: which of drawing and understanding fails.

The same scorer reads the labels off clouds drawn from three kinds of prompt for the same
orientation × expression pairs:

* **training captions** — the run's own captions, through the very vectors it trained on:
  what is lost here is *drawing* (the real clouds of those same faces give the ceiling);
* **canonical** — the reference system's style, "Left-facing, neutral expression": training
  words in a fixed, short form;
* **held-out paraphrases** — phrasings no training caption uses ("head rotated to the left,
  with a poker face"): what is lost beyond the training captions is *understanding*.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from pointdiff.data.dataset import EMBEDDINGS_FILE, Dataset, PointSampler
from pointdiff.data.training import embedded_rows
from pointdiff.evaluate.sets import LABELS, POINT_SEED, label_combos
from pointdiff.metrics import Scorer, label_accuracy
from pointdiff.text.embeddings import EncoderInfo, read_embeddings

TRAINING, CANONICAL, HELD_OUT = "training captions", "canonical", "held-out paraphrases"


@dataclass
class PromptSet:
    """Prompts of one kind with the labels they ask for; the real clouds they describe when known."""

    kind: str
    prompts: list[str]
    labels: list[dict[str, str]]
    cond: Tensor | None = None  # [len(prompts), D] when the vectors are known (training captions)
    real: Tensor | None = None  # one real cloud per prompt: the scorer's ceiling for this kind


def canonical_prompt_set(per_combo: int) -> PromptSet:
    """``per_combo`` copies of the canonical prompt of every orientation × expression (each copy its own noise)."""
    from pointdiff.data.faces import canonical_prompt

    pairs = [c for c in label_combos() for _ in range(per_combo)]
    return PromptSet(CANONICAL, [canonical_prompt(o, e) for o, e in pairs], [{"orientation": o, "expression": e} for o, e in pairs])


def training_prompt_set(dataset_root: str | Path, encoder: EncoderInfo, per_combo: int, num_points: int = 1024) -> PromptSet | None:
    """Up to ``per_combo`` training faces per orientation × expression, with their captions' stored vectors.

    None when the dataset is gone, has no labels, or was re-embedded with another encoder
    than ``encoder`` (its vectors would then mean nothing to the model).
    """
    root = Path(dataset_root)
    if not (root / EMBEDDINGS_FILE).exists():
        return None
    stored = read_embeddings(root / EMBEDDINGS_FILE)
    if stored.encoder != encoder:
        return None
    ds = Dataset(root)
    texts = ds.texts()
    wanted = {c: per_combo for c in label_combos()}
    chosen: list[tuple[int, int]] = []  # (embedding row, dataset row)
    for emb_row, ds_row in embedded_rows(ds, stored.ids):
        labels = ds.records[ds_row].labels or {}
        key = (str(labels.get("orientation")), str(labels.get("expression")))
        if wanted.get(key, 0) > 0:
            wanted[key] -= 1
            chosen.append((emb_row, ds_row))
    if not chosen:
        return None
    sampler = PointSampler.from_dataset(ds, [d for _, d in chosen])  # only the chosen faces are read
    real = sampler.sample(torch.arange(len(chosen)), num_points, torch.Generator().manual_seed(POINT_SEED))
    return PromptSet(
        TRAINING,
        [texts[d][0] or ds.ids[d] for _, d in chosen],
        [{k: str(ds.records[d].labels[k]) for k in LABELS} for _, d in chosen],
        cond=stored.embeddings[[e for e, _ in chosen]].float(),
        real=real,
    )


def accuracy_by_kind(sets: list[PromptSet], draw: Callable[[PromptSet], Tensor], scorer: Scorer) -> dict[str, dict[str, Any]]:
    """Prompt accuracy of clouds drawn (one per prompt, by ``draw``) from each set, with its real ceiling.

    Returns ``{kind: {"n", "generated": {orientation, expression, joint}, "real": ... or None}}``.
    """
    out: dict[str, dict[str, Any]] = {}
    for ps in sets:
        generated = label_accuracy(scorer.predict(draw(ps)), ps.labels, LABELS)
        real = label_accuracy(scorer.predict(ps.real), ps.labels, LABELS) if ps.real is not None else None
        out[ps.kind] = {"n": len(ps.prompts), "generated": generated, "real": real}
    return out
