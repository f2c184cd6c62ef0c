"""Evaluating a trained model: prompt accuracy, set metrics, distances to reference, a picture grid.

Usage (``pointdiff eval`` wraps exactly this)::

    from pointdiff.checkpoint import load_run
    from pointdiff.evaluate import EvalConfig, evaluate_run
    result = evaluate_run(load_run("pointdiff-work/runs/demo"), EvalConfig(), cache_dir="pointdiff-work/cache/eval")
    result.metrics.prompt_accuracy    # {"orientation": .., "expression": .., "joint": ..}
    result.metrics.real               # the same numbers for real held-out clouds: the ceiling

Two modes, picked from what the model was trained on:

* **faces** (the built-in renderer, which knows true labels). The eval set is freshly
  rendered faces that no training run saw (fixed seeds far from the usual ones), with
  ``num_samples`` faces per orientation × expression (35 combinations). For each reference
  face the model draws one cloud from a *held-out paraphrase* of its labels
  (``faces.prompt_for(..., held_out=True)``), never a training caption. A scorer fitted on
  another set of real faces reads the labels off every generated cloud: prompt accuracy.
  A second set of real faces, scored exactly like the generated ones, gives the row a
  perfect generator would reach (the scorer's ceiling, 1-NNA ≈ 50 %, ...).
* **dataset** (anything else): the eval set is up to ``max_prompts`` of the dataset's own
  pictures, spread over it; the model draws from each picture's own text vector. Set
  metrics and distances only: prompt accuracy needs labels.

Metrics of a generated set ``G`` (one cloud per prompt) against the reference set ``R``
(see :mod:`pointdiff.metrics`): MMD, COV, 1-NNA by Chamfer (EMD optional: O(n²)
assignments); **Chamfer / EMD to reference**: mean over prompts of the distance to the
nearest reference cloud the prompt describes (same labels, or the same text);
**retrieval**: share of prompts whose Chamfer-nearest reference is one the prompt describes
(with unique captions: "picking the right face among N").
"""

from __future__ import annotations

import hashlib
import random
import shutil
import tempfile
import textwrap
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from pointdiff.data.dataset import EMBEDDINGS_FILE, MANIFEST_FILE, Dataset, PointSampler
from pointdiff.errors import PointdiffError
from pointdiff.metrics import ClassifierScorer, NearestCloudScorer, Scorer, chamfer_matrix, emd, label_accuracy, set_metrics
from pointdiff.metrics.sets import SetMetrics
from pointdiff.progress import ProgressFn, report

LABELS = ("orientation", "expression")
# Seeds of the eval's own renders: far from the seeds people ingest with (0, 1, 42, ...),
# and distinct, so the scorer never sees the faces it is tested on.
SCORER_SEED = 9_100_001
REFERENCE_SEED = 9_100_002
REAL_SEED = 9_100_003
PROMPT_SEED = 9_100_004
POINT_SEED = 9_100_005


@dataclass
class EvalConfig:
    """What `pointdiff eval` measures and how; ``None`` sampling fields take the run's defaults."""

    num_samples: int = 2  # faces: clouds per orientation × expression (35 combos); dataset: per picture
    steps: int | None = None  # solver steps (None: the run's own default)
    solver: str | None = None  # euler | midpoint | heun | rk4 | adaptive
    guidance: float | None = None  # classifier-free guidance scale (1 = off)
    seed: int = 0  # noise of the generated clouds
    precision: str = "fp32"  # sampling precision: fp32 | bf16
    num_points: int = 1024  # points per cloud, generated and reference (the reference recipe's)
    max_prompts: int = 64  # dataset mode: pictures evaluated (spread over the dataset)
    scorer: str = "classifier"  # classifier (chosen by measurement, see docs/measurement.md) | nearest
    scorer_faces: int = 1050  # real faces the scorer learns from (30 per combination)
    emd: bool = True  # EMD to reference (one exact assignment per cloud)
    # Exact assignment on 1024 points takes 0.1-1 s per pair here (it depends on the shapes);
    # on 512-point subsets 10-20x less. None: all points.
    emd_points: int | None = 512
    set_emd: bool = False  # MMD / COV / 1-NNA by EMD too (O(n²) exact assignments: minutes)
    grid_rows: int = 12  # prompts shown in the picture grid


# ----------------------------------------------------------------------------- eval sets


@dataclass
class EvalSet:
    """Prompts to generate from and the real clouds they are compared with.

    Prompt ``i`` describes every reference whose group equals ``groups[i]``.
    """

    kind: str  # "faces" | "dataset"
    prompts: list[str]
    groups: list[int]
    reference: Tensor  # [R, P, 2]
    reference_groups: list[int]
    labels: list[dict[str, str]] | None = None  # per prompt (faces)
    reference_labels: list[dict[str, str]] | None = None
    cond: Tensor | None = None  # [len(prompts), D] when the vectors are known (dataset); else encode prompts
    real: Tensor | None = None  # a second real set laid out like the prompts (faces): a perfect generator
    real_labels: list[dict[str, str]] | None = None
    _d_rr: np.ndarray | None = field(default=None, repr=False)

    def d_rr(self) -> np.ndarray:
        """Chamfer distances within the reference set (computed once, reused by every evaluation)."""
        if self._d_rr is None:
            self._d_rr = chamfer_matrix(self.reference)
        return self._d_rr


def renderer_version() -> str:
    """A hash of the face renderer's source: cached renders and scorers are redone when it changes."""
    from pointdiff.data import faces

    path = Path(faces.__file__)
    files = sorted(path.parent.rglob("*.py")) if path.name == "__init__.py" else [path]  # a module or a package
    h = hashlib.sha256()
    for f in files:
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def render_faces(count: int, seed: int, cache_dir: str | Path | None = None, progress: ProgressFn | None = None) -> tuple[PointSampler, list[dict[str, str]]]:
    """Render ``count`` built-in faces for ``seed`` through the real ingest path: (points, labels).

    Going through :func:`pointdiff.data.ingest.ingest` makes these clouds exactly like a
    training dataset's (same image size, threshold, pixel-to-point mapping). With
    ``cache_dir`` the dataset is kept there and reused.
    """
    from pointdiff.data.ingest import IngestConfig, ingest

    tmp = None
    if cache_dir is None:
        tmp = Path(tempfile.mkdtemp(prefix="pointdiff-faces-"))
        root = tmp / "faces"
    else:
        root = Path(cache_dir) / f"faces-{renderer_version()}-n{count}-s{seed}"
    try:
        if not (root / MANIFEST_FILE).exists():
            ingest("builtin:faces", root, IngestConfig(count=count, seed=seed, contact_sheet=0), overwrite=True, progress=progress)
        ds = Dataset(root)
        labels = [{k: str(r.labels[k]) for k in LABELS} for r in ds.records]
        return PointSampler.from_dataset(ds), labels
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _combos() -> list[tuple[str, str]]:
    from pointdiff.data.faces import EXPRESSIONS, ORIENTATIONS

    return [(o, e) for o in ORIENTATIONS for e in EXPRESSIONS]


def faces_eval_set(per_combo: int, num_points: int = 1024, cache_dir: str | Path | None = None, with_real: bool = True, progress: ProgressFn | None = None) -> EvalSet:
    """Held-out faces: ``per_combo`` references per orientation × expression, a held-out prompt each.

    With ``with_real``, a second, independent set of real faces laid out the same way.
    """
    from pointdiff.data.faces import prompt_for

    combos = _combos()
    group_of = {c: k for k, c in enumerate(combos)}

    def balanced(seed: int) -> tuple[Tensor, list[dict[str, str]]]:
        sampler, labels = render_faces(per_combo * len(combos), seed, cache_dir, progress)
        picked = _pick_balanced(labels, combos, per_combo)
        clouds = sampler.sample(torch.tensor(picked), num_points, torch.Generator().manual_seed(POINT_SEED + seed))
        return clouds, [labels[i] for i in picked]

    reference, ref_labels = balanced(REFERENCE_SEED)
    rng = random.Random(PROMPT_SEED)
    prompts = [prompt_for(lab["orientation"], lab["expression"], rng, held_out=True) for lab in ref_labels]
    groups = [group_of[(lab["orientation"], lab["expression"])] for lab in ref_labels]
    real, real_labels = balanced(REAL_SEED) if with_real else (None, None)
    return EvalSet("faces", prompts, groups, reference, groups, ref_labels, ref_labels, None, real, real_labels)


def _pick_balanced(labels: list[dict[str, str]], combos: list[tuple[str, str]], per_combo: int) -> list[int]:
    """Indices of the first ``per_combo`` samples of each combination, combination-major."""
    by: dict[tuple[str, str], list[int]] = {c: [] for c in combos}
    for i, lab in enumerate(labels):
        key = (lab["orientation"], lab["expression"])
        if key in by and len(by[key]) < per_combo:
            by[key].append(i)
    short = [f"{o}/{e}" for (o, e), idx in by.items() if len(idx) < per_combo]
    if short:
        raise PointdiffError(f"the face renderer gave too few faces of {', '.join(short[:5])} for a balanced eval set")
    return [i for c in combos for i in by[c]]


def dataset_eval_set(dataset_root: str | Path, max_prompts: int = 64, num_points: int = 1024) -> EvalSet:
    """Up to ``max_prompts`` pictures of a dataset, spread over it, with their own text vectors."""
    from pointdiff.text.embeddings import load_dataset_embeddings

    root = Path(dataset_root)
    ds = Dataset(root)
    if not (root / EMBEDDINGS_FILE).exists():
        raise PointdiffError(f"{root} has no embeddings; run `pointdiff embed` first")
    emb, _, ids = load_dataset_embeddings(root)
    row = {sid: k for k, sid in enumerate(ds.ids)}
    usable = [(k, row[sid]) for k, sid in enumerate(ids) if sid in row]
    pick = np.unique(np.linspace(0, len(usable) - 1, min(max_prompts, len(usable))).round().astype(int))
    emb_rows = [usable[k][0] for k in pick]
    ds_rows = [usable[k][1] for k in pick]
    all_texts = ds.texts()
    texts = [all_texts[i][0] or ds.ids[i] for i in ds_rows]
    # Identical captions describe each other's pictures too.
    group_of: dict[str, int] = {}
    groups = [group_of.setdefault(t, len(group_of)) for t in texts]
    sampler = PointSampler.from_dataset(ds)
    reference = sampler.sample(torch.tensor(ds_rows), num_points, torch.Generator().manual_seed(POINT_SEED))
    return EvalSet("dataset", texts, groups, reference, groups, cond=emb[emb_rows].float())


# ----------------------------------------------------------------------------- scorer


def get_scorer(kind: str = "classifier", num_faces: int = 1050, cache_dir: str | Path | None = None, progress: ProgressFn | None = None) -> Scorer:
    """The prompt-accuracy scorer, fitted on ``num_faces`` real faces (seed :data:`SCORER_SEED`).

    ``classifier`` is trained once (~20 s on 2 cores) and cached in ``cache_dir``;
    ``nearest`` keeps one 1024-point draw of every face as its bank.
    """
    from pointdiff.metrics import ClassifierConfig, train_classifier

    sampler, labels = render_faces(num_faces, SCORER_SEED, cache_dir)
    if kind == "nearest":
        bank = sampler.sample_all(1024, seed=SCORER_SEED)
        return NearestCloudScorer(bank, labels, LABELS)
    if kind != "classifier":
        raise PointdiffError(f"unknown scorer {kind!r}: use classifier or nearest")
    cfg = ClassifierConfig()
    key = hashlib.sha256(repr((renderer_version(), num_faces, asdict(cfg))).encode()).hexdigest()[:12]
    path = Path(cache_dir) / f"scorer-{key}.safetensors" if cache_dir is not None else None
    if path is not None and path.exists():
        return ClassifierScorer.load(path)
    scorer = train_classifier(sampler, labels, LABELS, cfg, progress)
    if path is not None:
        scorer.save(path)
    return scorer


# ----------------------------------------------------------------------------- metrics


@dataclass
class CloudMetrics:
    """The numbers of one set of clouds (generated, or real for comparison) against the reference."""

    n: int
    chamfer_sets: SetMetrics  # MMD / COV / 1-NNA by Chamfer
    chamfer_to_ref: float  # mean over prompts of Chamfer to the nearest reference the prompt describes
    retrieval: float  # share whose Chamfer-nearest reference is one the prompt describes
    emd_to_ref: float | None = None  # EMD to that same reference cloud (exact, on emd_points-point subsets)
    emd_points: int | None = None  # points per cloud the EMD was computed on (None: all)
    emd_sets: SetMetrics | None = None
    prompt_accuracy: dict[str, float] | None = None  # orientation / expression / joint (faces)
    real: "CloudMetrics | None" = None  # the same for a second real set: the ceiling / floor

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return asdict(self)


def evaluate_clouds(
    clouds: Tensor,
    evalset: EvalSet,
    scorer: Scorer | None = None,
    with_emd: bool = False,
    set_emd: bool = False,
    labels: list[dict[str, str]] | None = None,
    emd_points: int | None = None,
) -> CloudMetrics:
    """Metrics of ``clouds`` (one per prompt of ``evalset``, in order) against its reference set."""
    clouds = clouds.detach().float().cpu()
    if len(clouds) != len(evalset.prompts):
        raise ValueError(f"{len(clouds)} clouds for {len(evalset.prompts)} prompts")
    d_gr = chamfer_matrix(clouds, evalset.reference)
    sets = set_metrics(chamfer_matrix(clouds), evalset.d_rr(), d_gr, "chamfer")
    g = np.asarray(evalset.groups)[:, None] == np.asarray(evalset.reference_groups)[None, :]
    same_group = np.where(g, d_gr, np.inf)
    nearest_ref = same_group.argmin(axis=1)
    out = CloudMetrics(
        n=len(clouds),
        chamfer_sets=sets,
        chamfer_to_ref=float(same_group.min(axis=1).mean()),
        retrieval=float(g[np.arange(len(clouds)), d_gr.argmin(axis=1)].mean()),
    )
    k = emd_points if emd_points is not None and emd_points < clouds.shape[1] else None
    if with_emd:
        out.emd_to_ref = float(emd(clouds, evalset.reference[torch.from_numpy(nearest_ref)], max_points=k).mean())
        out.emd_points = k or clouds.shape[1]
    if set_emd:
        from pointdiff.metrics import emd_matrix

        out.emd_sets = set_metrics(emd_matrix(clouds, max_points=k), emd_matrix(evalset.reference, max_points=k), emd_matrix(clouds, evalset.reference, max_points=k), "emd")
        out.emd_points = k or clouds.shape[1]
    labels = labels if labels is not None else evalset.labels
    if scorer is not None and labels is not None:
        out.prompt_accuracy = label_accuracy(scorer.predict(clouds), labels, LABELS)
    return out


def evaluate_real(evalset: EvalSet, scorer: Scorer | None, with_emd: bool = False, set_emd: bool = False, emd_points: int | None = None) -> CloudMetrics | None:
    """The metrics of the eval set's second real set (what a perfect generator scores), if it has one."""
    if evalset.real is None:
        return None
    return evaluate_clouds(evalset.real, evalset, scorer, with_emd, set_emd, labels=evalset.real_labels, emd_points=emd_points)


# ----------------------------------------------------------------------------- generation


@torch.no_grad()
def generate_clouds(
    model: torch.nn.Module,
    cond: Tensor,
    num_points: int,
    steps: int,
    solver: str,
    guidance: float = 1.0,
    seed: int = 0,
    noise_std: float = 2.0,
    precision: str = "fp32",
    batch: int = 64,
) -> Tensor:
    """One cloud per condition row, in batches; the noise is drawn for all rows at once, so the
    result does not depend on ``batch``."""
    from pointdiff.sample import make_noise, sample_flow

    noise = make_noise(len(cond), num_points, seed, noise_std)
    parts = [sample_flow(model, cond[s : s + batch], num_points, steps, solver, guidance, noise=noise[s : s + batch], precision=precision).x.cpu() for s in range(0, len(cond), batch)]
    return torch.cat(parts)


# ----------------------------------------------------------------------------- whole runs


@dataclass
class EvalResult:
    """What `pointdiff eval` reports and writes."""

    kind: str  # faces | dataset
    run: str
    step: int | None
    settings: dict[str, Any]  # resolved sampling settings
    metrics: CloudMetrics
    scorer: str | None
    notes: list[str]
    prompts: list[str]
    clouds: Tensor  # the generated clouds, one per prompt
    evalset: EvalSet

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: settings, metrics, notes (not the clouds)."""
        return {"kind": self.kind, "run": self.run, "step": self.step, "settings": self.settings, "scorer": self.scorer, "notes": self.notes, "metrics": self.metrics.to_dict(), "num_prompts": len(self.prompts)}


def training_source(meta: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """The data a run was trained on (path) and that dataset's ``dataset.json`` (empty if unknown)."""
    from pointdiff.store import read_json

    source = (meta.get("data") or {}).get("source")
    info: dict[str, Any] = {}
    if source and (Path(source) / "dataset.json").exists():
        info = read_json(Path(source) / "dataset.json")
    return source, info


def is_faces_source(info: dict[str, Any]) -> bool:
    """Was this dataset rendered by the built-in face renderer (so true labels exist)?"""
    return str(info.get("source", "")).startswith("builtin:faces")


def evaluate_run(
    run: Any,
    cfg: EvalConfig | None = None,
    cache_dir: str | Path | None = None,
    dataset: str | Path | None = None,
    encoder: Any = None,
    progress: ProgressFn | None = None,
) -> EvalResult:
    """Evaluate a loaded run (:func:`pointdiff.checkpoint.load_run`).

    Args:
        run: the model, its meta and encoder.
        cfg: what to measure.
        cache_dir: where rendered eval faces and the trained scorer are kept between calls.
        dataset: the dataset to evaluate against when the run's own is not a built-in faces
            set (default: the one it was trained on).
        encoder: a loaded TextEncoder for faces mode (default: load the run's).
        progress: ``progress(done, total, stage=...)`` over the stages.
    """
    cfg = cfg or EvalConfig()
    meta = run.meta
    source, info = training_source(meta)
    notes: list[str] = []
    stages = 5
    report(progress, 0, stages, stage="reference clouds")
    if is_faces_source(info) and dataset is None:
        kind = "faces"
        if info.get("seed") in (SCORER_SEED, REFERENCE_SEED, REAL_SEED):
            notes.append(f"the training set was rendered with seed {info['seed']}, one of the eval's own: held-out numbers are not held out")
        evalset = faces_eval_set(cfg.num_samples, cfg.num_points, cache_dir)
    else:
        kind = "dataset"
        root = dataset or source
        if root is None or not (Path(root) / MANIFEST_FILE).exists():
            raise PointdiffError(f"cannot find the dataset this run was trained on ({source}); pass one with --dataset")
        evalset = dataset_eval_set(root, cfg.max_prompts, cfg.num_points)
        notes.append("prompt accuracy needs labelled pictures (the built-in faces); this dataset gets set metrics and distances only")
    report(progress, 1, stages, stage="prompt vectors")
    if evalset.cond is None:
        from pointdiff.sample import check_encoder_compat
        from pointdiff.text.encoders import load_encoder

        encoder = encoder or load_encoder(run.encoder.id)
        note = check_encoder_compat(run.encoder, encoder.info)
        if note:
            notes.append(note)
        evalset.cond = encoder.encode(evalset.prompts)
    elif evalset.cond.shape[1] != run.encoder.dim:
        raise PointdiffError(f"the dataset's vectors are {evalset.cond.shape[1]}-d, the model's {run.encoder.dim}-d: embed the dataset with {run.encoder.id}")
    sampling = meta.get("sampling") or {}
    steps = int(cfg.steps if cfg.steps is not None else sampling.get("steps", 200))
    solver = cfg.solver or sampling.get("solver", "euler")
    guidance = float(cfg.guidance if cfg.guidance is not None else sampling.get("guidance", 1.0))
    noise_std = float(sampling.get("noise_std", 2.0))
    # Dataset mode: num_samples clouds per picture for the grid, the first of each for the metrics.
    reps = cfg.num_samples if kind == "dataset" else 1
    cond = evalset.cond.repeat_interleave(reps, dim=0)
    report(progress, 2, stages, stage="generating")
    clouds = generate_clouds(run.model, cond, cfg.num_points, steps, solver, guidance, cfg.seed, noise_std, cfg.precision)
    all_clouds = clouds.view(len(evalset.prompts), reps, cfg.num_points, 2)
    report(progress, 3, stages, stage="scorer")
    scorer = get_scorer(cfg.scorer, cfg.scorer_faces, cache_dir) if kind == "faces" else None
    report(progress, 4, stages, stage="metrics")
    metrics = evaluate_clouds(all_clouds[:, 0], evalset, scorer, cfg.emd, cfg.set_emd, emd_points=cfg.emd_points)
    metrics.real = evaluate_real(evalset, scorer, cfg.emd, cfg.set_emd, cfg.emd_points)
    report(progress, 5, stages, stage="done")
    settings = {"steps": steps, "solver": solver, "guidance": guidance, "seed": cfg.seed, "noise_std": noise_std, "num_points": cfg.num_points, "precision": cfg.precision, "num_samples": cfg.num_samples}
    return EvalResult(kind, str(run.path), meta.get("step"), settings, metrics, cfg.scorer if kind == "faces" else None, notes, evalset.prompts, all_clouds, evalset)


def save_grid(result: EvalResult, path: str | Path, rows: int = 12) -> Path:
    """Prompts × samples as a PNG: each row a real reference the prompt describes, then the samples."""
    from pointdiff.plot import save_cloud_grid

    ev = result.evalset
    n_prompts, reps = result.clouds.shape[:2]
    if ev.kind == "faces":
        per_group: dict[int, list[int]] = {}
        for i, grp in enumerate(ev.groups):
            per_group.setdefault(grp, []).append(i)
        groups = sorted(per_group)
        chosen = [groups[k] for k in np.unique(np.linspace(0, len(groups) - 1, min(rows, len(groups))).round().astype(int))]
        cols = 1 + len(per_group[chosen[0]])
        panels, titles = [], []
        for grp in chosen:
            idx = per_group[grp]
            lab = ev.labels[idx[0]] if ev.labels else {}
            panels.append(ev.reference[idx[0]].numpy())
            titles.append(f"real: {lab.get('orientation', '')} · {lab.get('expression', '')}")
            for i in idx:
                panels.append(result.clouds[i, 0].numpy())
                titles.append("\n".join(textwrap.wrap(textwrap.shorten(ev.prompts[i], 60, placeholder="…"), 28)))
    else:
        chosen = np.unique(np.linspace(0, n_prompts - 1, min(rows, n_prompts)).round().astype(int)).tolist()
        cols = 1 + reps
        panels, titles = [], []
        for i in chosen:
            panels.append(ev.reference[i].numpy())
            titles.append("\n".join(textwrap.wrap("real: " + textwrap.shorten(ev.prompts[i], 50, placeholder="…"), 28)))
            for j in range(reps):
                panels.append(result.clouds[i, j].numpy())
                titles.append(f"sample {j + 1}")
    s = result.settings
    title = f"{Path(result.run).name} step {result.step}: {s['solver']} × {s['steps']} steps, guidance {s['guidance']:g}, seed {s['seed']}"
    return save_cloud_grid(path, panels, titles, ncols=cols, panel_inches=1.6, point_size=1.0, suptitle=title)
