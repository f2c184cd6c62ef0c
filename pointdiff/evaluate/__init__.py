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

from pointdiff.evaluate.runs import EvalConfig, EvalResult, evaluate_run, is_faces_source, save_grid, training_source
from pointdiff.evaluate.scoring import CloudMetrics, evaluate_clouds, evaluate_real
from pointdiff.evaluate.sets import LABELS, POINT_SEED, PROMPT_SEED, REAL_SEED, REFERENCE_SEED, SCORER_SEED, EvalSet, dataset_eval_set, faces_eval_set, get_scorer, render_faces, renderer_version

__all__ = [
    "LABELS", "POINT_SEED", "PROMPT_SEED", "REAL_SEED", "REFERENCE_SEED", "SCORER_SEED",
    "CloudMetrics", "EvalConfig", "EvalResult", "EvalSet",
    "dataset_eval_set", "evaluate_clouds", "evaluate_real", "evaluate_run", "faces_eval_set",
    "get_scorer", "is_faces_source", "render_faces", "renderer_version",
    "save_grid", "training_source",
]
