"""Prompt accuracy by kind of prompt: which of drawing and understanding fails.

The same scorer reads the labels off clouds drawn from three kinds of prompt for the same
labels (faces: orientation × expression pairs; glyphs: characters, each in its style):

* **training captions** — the run's own captions, through the very vectors it trained on:
  what is lost here is *drawing* (the real clouds of those same pictures give the ceiling);
* **canonical** — a fixed, short form in training words: the reference system's style for
  the faces, "Left-facing, neutral expression"; "Capital Q, serif, bold, italic" for glyphs;
* **held-out paraphrases** — phrasings no training caption uses ("head rotated to the left,
  with a poker face"): what is lost beyond the training captions is *understanding*.

Each kind also gets 1-NNA against the eval's real references (the same label layout): for the
training captions it says how close to real the drawing is when the words are understood.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from pointdiff.data.dataset import EMBEDDINGS_FILE, Dataset
from pointdiff.data.sampler import PointSampler
from pointdiff.data.training import embedded_rows
from pointdiff.evaluate.labelled import LabelledSource
from pointdiff.evaluate.sets import POINT_SEED, EvalSet
from pointdiff.metrics import Scorer, chamfer_matrix, label_accuracy, one_nna
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


def canonical_prompt_set(labels: list[dict[str, str]], source: LabelledSource) -> PromptSet:
    """The canonical prompt of each of ``labels`` (an eval set's: every combination ``per_combo`` times, each copy its own noise)."""
    return PromptSet(CANONICAL, [source.canonical_prompt(lab) for lab in labels], [dict(lab) for lab in labels])


def training_prompt_set(dataset_root: str | Path, encoder: EncoderInfo, source: LabelledSource, per_combo: int, num_points: int = 1024) -> PromptSet | None:
    """Up to ``per_combo`` training pictures per label combination, with their captions' stored vectors.

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
    wanted = {c: per_combo for c in source.combos()}
    chosen: list[tuple[int, int]] = []  # (embedding row, dataset row)
    for emb_row, ds_row in embedded_rows(ds, stored.ids, first_only=True):
        labels = ds.records[ds_row].labels or {}
        key = source.combo_of(labels)
        if wanted.get(key, 0) > 0 and all(k in labels for k in source.labels):
            wanted[key] -= 1
            chosen.append((emb_row, ds_row))
    if not chosen:
        return None
    sampler = PointSampler.from_dataset(ds, [d for _, d in chosen])  # only the chosen pictures are read
    real = sampler.sample(torch.arange(len(chosen)), num_points, torch.Generator().manual_seed(POINT_SEED))
    return PromptSet(
        TRAINING,
        [texts[d][0] or ds.ids[d] for _, d in chosen],
        [{k: str(ds.records[d].labels[k]) for k in source.labels} for _, d in chosen],
        cond=stored.embeddings[[e for e, _ in chosen]].float(),
        real=real,
    )


def accuracy_by_kind(
    sets: list[PromptSet], draw: Callable[[PromptSet], Tensor], scorer: Scorer, names: Sequence[str], against: EvalSet | None = None
) -> dict[str, dict[str, Any]]:
    """Prompt accuracy on labels ``names`` of clouds drawn (one per prompt, by ``draw``) from each set, with its real ceiling.

    Returns ``{kind: {"n", "generated": {<each name>, joint}, "real": ... or None, "nna": ...}}``;
    ``nna`` is the drawn clouds' 1-NNA by Chamfer against ``against``'s references (None without it).
    """
    out: dict[str, dict[str, Any]] = {}
    for ps in sets:
        clouds = draw(ps).detach().float().cpu()
        generated = label_accuracy(scorer.predict(clouds), ps.labels, names)
        real = label_accuracy(scorer.predict(ps.real), ps.labels, names) if ps.real is not None else None
        nna = one_nna(chamfer_matrix(clouds), against.d_rr(), chamfer_matrix(clouds, against.reference)) if against is not None else None
        out[ps.kind] = {"n": len(ps.prompts), "generated": generated, "real": real, "nna": nna}
    return out
