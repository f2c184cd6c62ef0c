"""What generated clouds are compared with: held-out built-in labelled pictures, or a dataset's own.

* :func:`labelled_eval_set`: freshly rendered pictures of a built-in labelled source (faces,
  glyphs; :mod:`pointdiff.evaluate.labelled`) that no training run saw (fixed seeds far from
  the usual ones), ``per_combo`` per label combination (faces: orientation × expression;
  glyphs: character, each in a random style), each with a held-out paraphrase of its labels
  as the prompt, and a second real set laid out the same way (what a perfect generator
  would score). :func:`faces_eval_set` is it for the faces.
* :func:`dataset_eval_set`: up to ``max_prompts`` of a dataset's pictures with their own
  text vectors.
* :func:`get_scorer`: the prompt-accuracy judge, fitted on yet other real pictures and cached.

Pictures are rendered through the real ingest path, so they become points exactly as a
training dataset's do.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from pointdiff.data.dataset import EMBEDDINGS_FILE, Dataset
from pointdiff.data.sampler import PointSampler
from pointdiff.errors import PointdiffError
from pointdiff.evaluate.labelled import FACES, LabelledSource
from pointdiff.metrics import ClassifierScorer, NearestCloudScorer, Scorer, chamfer_matrix
from pointdiff.progress import ProgressFn

# Seeds of the eval's own renders: far from the seeds people ingest with (0, 1, 42, ...),
# and distinct, so the scorer never sees the pictures it is tested on.
SCORER_SEED = 9_100_001
REFERENCE_SEED = 9_100_002
REAL_SEED = 9_100_003
PROMPT_SEED = 9_100_004
POINT_SEED = 9_100_005


@dataclass
class EvalSet:
    """Prompts to generate from and the real clouds they are compared with.

    Prompt ``i`` describes every reference whose group equals ``groups[i]``.
    """

    kind: str  # a labelled source's name ("faces", "glyphs") | "dataset"
    prompts: list[str]
    groups: list[int]
    reference: Tensor  # [R, P, 2]
    reference_groups: list[int]
    labels: list[dict[str, str]] | None = None  # per prompt (labelled sources)
    reference_labels: list[dict[str, str]] | None = None
    cond: Tensor | None = None  # [len(prompts), D] when the vectors are known (dataset); else encode prompts
    real: Tensor | None = None  # a second real set laid out like the prompts (labelled): a perfect generator
    real_labels: list[dict[str, str]] | None = None
    label_names: tuple[str, ...] = ()  # the labels prompt accuracy scores
    _d_rr: np.ndarray | None = field(default=None, repr=False)

    def d_rr(self) -> np.ndarray:
        """Chamfer distances within the reference set (computed once, reused by every evaluation)."""
        if self._d_rr is None:
            self._d_rr = chamfer_matrix(self.reference)
        return self._d_rr


def labelled_eval_set(
    source: LabelledSource,
    per_combo: int,
    num_points: int = 1024,
    cache_dir: str | Path | None = None,
    with_real: bool = True,
    progress: ProgressFn | None = None,
) -> EvalSet:
    """Held-out pictures of ``source``: ``per_combo`` references per label combination, a held-out prompt each.

    A prompt names all of its reference's scored labels (a glyph's style too); its group is
    the combination. With ``with_real``, a second, independent set of real pictures laid out
    the same way.
    """
    combos = source.combos()
    group_of = {c: k for k, c in enumerate(combos)}

    def balanced(seed: int) -> tuple[Tensor, list[dict[str, str]]]:
        sampler, labels = source.render(per_combo * len(combos), seed, cache_dir, progress)
        picked = _pick_balanced(source, labels, combos, per_combo)
        clouds = sampler.sample(torch.tensor(picked), num_points, torch.Generator().manual_seed(POINT_SEED + seed))
        return clouds, [labels[i] for i in picked]

    reference, ref_labels = balanced(REFERENCE_SEED)
    rng = random.Random(PROMPT_SEED)
    prompts = [source.prompt_for(lab, rng, held_out=True) for lab in ref_labels]
    groups = [group_of[source.combo_of(lab)] for lab in ref_labels]
    real, real_labels = balanced(REAL_SEED) if with_real else (None, None)
    return EvalSet(source.name, prompts, groups, reference, groups, ref_labels, ref_labels, None, real, real_labels, source.labels)


def faces_eval_set(per_combo: int, num_points: int = 1024, cache_dir: str | Path | None = None, with_real: bool = True, progress: ProgressFn | None = None) -> EvalSet:
    """Held-out faces: ``per_combo`` references per orientation × expression (:func:`labelled_eval_set` of the faces)."""
    return labelled_eval_set(FACES, per_combo, num_points, cache_dir, with_real, progress)


def _pick_balanced(source: LabelledSource, labels: list[dict[str, str]], combos: list[tuple[str, ...]], per_combo: int) -> list[int]:
    """Indices of the first ``per_combo`` samples of each combination, combination-major."""
    by: dict[tuple[str, ...], list[int]] = {c: [] for c in combos}
    for i, lab in enumerate(labels):
        key = source.combo_of(lab)
        if key in by and len(by[key]) < per_combo:
            by[key].append(i)
    short = ["/".join(c) for c, idx in by.items() if len(idx) < per_combo]
    if short:
        raise PointdiffError(f"builtin:{source.name} gave too few {source.noun} of {', '.join(short[:5])} for a balanced eval set")
    return [i for c in combos for i in by[c]]


def dataset_eval_set(dataset_root: str | Path, max_prompts: int = 64, num_points: int = 1024) -> EvalSet:
    """Up to ``max_prompts`` pictures of a dataset, spread over it, with their own text vectors."""
    from pointdiff.data.training import embedded_rows
    from pointdiff.text.embeddings import dataset_texts, load_dataset_embeddings

    root = Path(dataset_root)
    ds = Dataset(root)
    if not (root / EMBEDDINGS_FILE).exists():
        raise PointdiffError(f"{root} has no embeddings; run `pointdiff embed` first")
    emb, _, ids = load_dataset_embeddings(root, current=dataset_texts(ds))
    usable = embedded_rows(ds, ids, first_only=True)  # each picture once, with its first text
    pick = np.unique(np.linspace(0, len(usable) - 1, min(max_prompts, len(usable))).round().astype(int))
    emb_rows = [usable[k][0] for k in pick]
    ds_rows = [usable[k][1] for k in pick]
    all_texts = ds.texts()
    texts = [all_texts[i][0] or ds.ids[i] for i in ds_rows]
    # Identical captions describe each other's pictures too.
    group_of: dict[str, int] = {}
    groups = [group_of.setdefault(t, len(group_of)) for t in texts]
    sampler = PointSampler.from_dataset(ds, ds_rows)  # only the pictures evaluated are read
    reference = sampler.sample(torch.arange(len(ds_rows)), num_points, torch.Generator().manual_seed(POINT_SEED))
    return EvalSet("dataset", texts, groups, reference, groups, cond=emb[emb_rows].float())


def get_scorer(
    kind: str = "classifier",
    count: int | None = None,
    cache_dir: str | Path | None = None,
    progress: ProgressFn | None = None,
    config: Any = None,
    source: LabelledSource = FACES,
) -> Scorer:
    """The prompt-accuracy scorer of ``source``, fitted on ``count`` real pictures (seed :data:`SCORER_SEED`).

    ``classifier`` (a :class:`~pointdiff.metrics.ClassifierConfig` may be given) is trained
    once (1-3 min on 2 cores for the 1050 faces) and cached in ``cache_dir``; ``nearest``
    keeps one 1024-point draw of every picture as its bank. ``count`` defaults to the
    source's :attr:`~pointdiff.evaluate.labelled.LabelledSource.scorer_count`.
    """
    from pointdiff.metrics import ClassifierConfig, train_classifier

    if kind not in ("classifier", "nearest"):
        raise PointdiffError(f"unknown scorer {kind!r}: use classifier or nearest")
    count = source.scorer_count if count is None else count
    sampler, labels = source.render(count, SCORER_SEED, cache_dir)
    if kind == "nearest":
        bank = sampler.sample_all(1024, seed=SCORER_SEED)
        return NearestCloudScorer(bank, labels, source.labels)
    cfg = config or ClassifierConfig()
    key = hashlib.sha256(repr((source.version(), count, asdict(cfg))).encode()).hexdigest()[:12]
    path = Path(cache_dir) / f"scorer-{key}.safetensors" if cache_dir is not None else None
    if path is not None and path.exists():
        return ClassifierScorer.load(path)
    scorer = train_classifier(sampler, labels, source.labels, cfg, progress)
    if path is not None:
        scorer.save(path)
    return scorer
