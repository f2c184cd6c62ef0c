"""Evaluating a trained run end to end: prompts -> clouds -> metrics, and the picture grid.

Usage (``pointdiff eval`` wraps exactly this)::

    from pointdiff.checkpoint import load_run
    from pointdiff.evaluate import EvalConfig, evaluate_run, save_grid
    result = evaluate_run(load_run("pointdiff-work/runs/demo"), EvalConfig(), cache_dir="pointdiff-work/cache/eval")
    save_grid(result, "grid.png")
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from pointdiff.checkpoint import LoadedRun
from pointdiff.data.dataset import MANIFEST_FILE
from pointdiff.errors import PointdiffError
from pointdiff.evaluate.kinds import HELD_OUT, accuracy_by_kind, canonical_prompt_set, training_prompt_set
from pointdiff.evaluate.labelled import LABELLED_SOURCES, labelled_source
from pointdiff.evaluate.scoring import CloudMetrics, evaluate_clouds, evaluate_real
from pointdiff.evaluate.sets import REAL_SEED, REFERENCE_SEED, SCORER_SEED, EvalSet, dataset_eval_set, get_scorer, labelled_eval_set
from pointdiff.metrics import ClassifierScorer, NearestCloudScorer, Scorer
from pointdiff.pipeline import Generation, Pipeline
from pointdiff.progress import ProgressFn, report


@dataclass
class EvalConfig:
    """What `pointdiff eval` measures and how; ``None`` sampling fields take the run's defaults."""

    num_samples: int = 2  # labelled: clouds per combination (faces: 35 orientation × expression; glyphs: 62 characters); dataset: per picture
    steps: int | None = None  # solver steps (None: the run's own default)
    solver: str | None = None  # euler | midpoint | heun | rk4 | adaptive
    guidance: float | None = None  # classifier-free guidance scale (1 = off)
    seed: int = 0  # noise of the generated clouds
    precision: str | None = None  # auto | bf16 | fp32 (None: the run's own, as generate samples)
    num_points: int = 1024  # points per cloud, generated and reference (the reference recipe's)
    max_prompts: int = 64  # dataset mode: pictures evaluated (spread over the dataset)
    scorer: str = "classifier"  # classifier (chosen by measurement, see docs/measurement.md) | nearest
    scorer_count: int | None = None  # real pictures the scorer learns from (None: the source's own scorer_count)
    emd: bool = True  # EMD to reference (one exact assignment per cloud)
    # Exact assignment on 1024 points takes 0.1-1 s per pair here (it depends on the shapes);
    # on 512-point subsets 10-20x less. None: all points.
    emd_points: int | None = 512
    set_emd: bool = False  # MMD / COV / 1-NNA by EMD too (O(n²) exact assignments: minutes)
    grid_rows: int = 12  # prompts shown in the picture grid
    prompt_kinds: bool = True  # labelled: also score training captions and canonical prompts (drawing vs understanding)


@dataclass
class EvalResult:
    """What `pointdiff eval` reports and writes."""

    kind: str  # a labelled source's name (faces, glyphs) | dataset
    run: str  # the checkpoint folder
    run_name: str  # its run folder's name
    step: int | None
    settings: dict[str, Any]  # resolved sampling settings
    metrics: CloudMetrics
    scorer: str | None
    notes: list[str]
    prompts: list[str]
    clouds: Tensor  # the generated clouds, one per prompt
    evalset: EvalSet
    # labelled: prompt accuracy per kind of prompt (training captions / canonical / held-out paraphrases),
    # each {"n", "generated", "real"}: which of drawing and understanding fails
    prompt_kinds: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: settings, metrics, notes (not the clouds)."""
        return {"kind": self.kind, "run": self.run, "step": self.step, "settings": self.settings, "scorer": self.scorer, "notes": self.notes, "metrics": self.metrics.to_dict(), "prompt_kinds": self.prompt_kinds, "num_prompts": len(self.prompts)}


def training_source(meta: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """The data a run was trained on (path) and that dataset's ``dataset.json`` (empty if unknown)."""
    from pointdiff.store import read_json

    source = (meta.get("data") or {}).get("source")
    info: dict[str, Any] = {}
    if source and (Path(source) / "dataset.json").exists():
        info = read_json(Path(source) / "dataset.json")
    return source, info


def evaluate_run(
    run: LoadedRun | Pipeline,
    cfg: EvalConfig | None = None,
    cache_dir: str | Path | None = None,
    dataset: str | Path | None = None,
    encoder: Any = None,
    progress: ProgressFn | None = None,
    scorer: Scorer | None = None,
) -> EvalResult:
    """Evaluate a loaded run (:func:`pointdiff.checkpoint.load_run`) or a :class:`~pointdiff.pipeline.Pipeline`.

    The clouds are drawn by the pipeline exactly as ``generate`` draws them (same settings,
    same seed: same clouds), except that every cloud gets its own noise.

    Args:
        run: the model, its meta and encoder.
        cfg: what to measure.
        cache_dir: where rendered eval pictures and the trained scorer are kept between calls.
        dataset: the dataset to evaluate against instead of the one the run was trained on
            (always in dataset mode: set metrics and distances, no prompt accuracy).
        encoder: a loaded TextEncoder for labelled mode (default: load the run's); ignored for a Pipeline.
        progress: ``progress(done, total, stage=...)`` over the stages.
        scorer: a fitted scorer to use instead of ``cfg.scorer`` (labelled mode); it must read
            every label the source scores.

    A run trained on a built-in labelled source (:mod:`pointdiff.evaluate.labelled`: faces,
    glyphs; told by its dataset's ``dataset.json``) is evaluated on freshly rendered pictures
    of that source, with prompt accuracy; any other in dataset mode.
    """
    cfg = cfg or EvalConfig()
    pipe = run if isinstance(run, Pipeline) else Pipeline(run, encoder=encoder)
    meta = pipe.run.meta
    source, info = training_source(meta)
    notes: list[str] = []
    stages = 5
    report(progress, 0, stages, stage="reference clouds")
    labelled = labelled_source(info) if dataset is None else None
    if labelled is not None:
        kind = labelled.name
        if info.get("seed") in (SCORER_SEED, REFERENCE_SEED, REAL_SEED):
            notes.append(f"the training set was rendered with seed {info['seed']}, one of the eval's own: held-out numbers are not held out")
        if scorer is not None and not set(labelled.labels) <= set(scorer.label_names):
            raise PointdiffError(f"the scorer reads {', '.join(scorer.label_names)}; a run trained on builtin:{kind} is scored on {', '.join(labelled.labels)}")
        evalset = labelled_eval_set(labelled, cfg.num_samples, cfg.num_points, cache_dir)
    else:
        kind = "dataset"
        root = dataset or source
        if root is None or not (Path(root) / MANIFEST_FILE).exists():
            raise PointdiffError(f"cannot find the dataset this run was trained on ({source}); pass one with --dataset")
        evalset = dataset_eval_set(root, cfg.max_prompts, cfg.num_points)
        known = ", ".join(f"builtin:{n}" for n in LABELLED_SOURCES)
        notes.append(f"prompt accuracy needs labelled pictures (a built-in labelled source: {known}); this dataset gets set metrics and distances only")
    report(progress, 1, stages, stage="prompt vectors")
    if evalset.cond is None:
        evalset.cond = pipe.encode(evalset.prompts)
        if pipe.encoder_note:
            notes.append(pipe.encoder_note)
    elif evalset.cond.shape[1] != pipe.run.encoder.dim:
        raise PointdiffError(f"the dataset's vectors are {evalset.cond.shape[1]}-d, the model's {pipe.run.encoder.dim}-d: embed the dataset with {pipe.run.encoder.id}")

    def draw(prompts: list[str], cond: Tensor | None, reps: int = 1) -> Generation:
        # Every cloud its own noise: the set metrics assume independent samples.
        return pipe(
            prompts, num_points=cfg.num_points, num_samples=reps, seed=cfg.seed, steps=cfg.steps, solver=cfg.solver,
            guidance=cfg.guidance, precision=cfg.precision, prompt_embeds=cond, shared_noise=False,
        )  # fmt: skip

    # Dataset mode: num_samples clouds per picture for the grid, the first of each for the metrics.
    report(progress, 2, stages, stage="generating")
    gen = draw(evalset.prompts, evalset.cond, cfg.num_samples if kind == "dataset" else 1)
    all_clouds = gen.points
    report(progress, 3, stages, stage="scorer")
    if labelled is not None and scorer is None:
        scorer = get_scorer(cfg.scorer, cfg.scorer_count, cache_dir, source=labelled)
    elif labelled is None:
        scorer = None
    report(progress, 4, stages, stage="metrics")
    metrics = evaluate_clouds(all_clouds[:, 0], evalset, scorer, cfg.emd, cfg.set_emd, emd_points=cfg.emd_points)
    metrics.real = evaluate_real(evalset, scorer, cfg.emd, cfg.set_emd, cfg.emd_points)
    by_kind: dict[str, Any] = {}
    if labelled is not None and scorer is not None and metrics.prompt_accuracy is not None:
        real_acc = metrics.real.prompt_accuracy if metrics.real is not None else None
        by_kind[HELD_OUT] = {"n": metrics.n, "generated": metrics.prompt_accuracy, "real": real_acc, "nna": metrics.chamfer_sets.nna}
        if cfg.prompt_kinds:
            sets = [canonical_prompt_set(evalset.labels or [], labelled)]
            own = training_prompt_set(source, pipe.run.encoder, labelled, cfg.num_samples, cfg.num_points) if source else None
            if own is None:
                notes.append("training-caption accuracy needs the run's training dataset with its embeddings; not found, so not measured")
            else:
                sets.insert(0, own)
            by_kind = {**accuracy_by_kind(sets, lambda ps: draw(ps.prompts, ps.cond).points[:, 0], scorer, labelled.labels, evalset), **by_kind}
    report(progress, 5, stages, stage="done")
    settings = {**gen.settings, "num_points": cfg.num_points, "num_samples": cfg.num_samples}
    scorer_name = (cfg.scorer if isinstance(scorer, (ClassifierScorer, NearestCloudScorer)) else type(scorer).__name__) if scorer is not None else None
    return EvalResult(kind, str(pipe.run.path), pipe.run.run_dir.name, meta.get("step"), settings, metrics, scorer_name, notes, evalset.prompts, all_clouds, evalset, by_kind)


def save_grid(result: EvalResult, path: str | Path, rows: int = 12) -> Path:
    """Prompts × samples as a PNG: each row a real reference the prompt describes, then the samples."""
    from pointdiff.plot import save_cloud_grid

    ev = result.evalset
    n_prompts, reps = result.clouds.shape[:2]
    if ev.labels is not None:  # a labelled source: one row per label combination
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
            titles.append("real: " + " · ".join(str(lab.get(n, "")) for n in ev.label_names))
            for i in idx:
                panels.append(result.clouds[i, 0].numpy())
                titles.append(textwrap.shorten(ev.prompts[i], 60, placeholder="…"))  # save_cloud_grid wraps it to the panel
    else:
        chosen = np.unique(np.linspace(0, n_prompts - 1, min(rows, n_prompts)).round().astype(int)).tolist()
        cols = 1 + reps
        panels, titles = [], []
        for i in chosen:
            panels.append(ev.reference[i].numpy())
            titles.append("real: " + textwrap.shorten(ev.prompts[i], 50, placeholder="…"))
            for j in range(reps):
                panels.append(result.clouds[i, j].numpy())
                titles.append(f"sample {j + 1}")
    s = result.settings
    # The settings go in the first panel's title: plot.save_cloud_grid's suptitle overlaps the top row.
    titles[0] = f"{result.run_name} @ {result.step}, {s['solver']} × {s['steps']}\n{titles[0]}"
    return save_cloud_grid(path, panels, titles, ncols=cols, panel_inches=1.6, point_size=1.0)
