"""Evaluating a trained model: prompt accuracy, set metrics, distances to reference, a picture grid.

Usage (``pointdiff eval`` wraps exactly this)::

    from pointdiff.checkpoint import load_run
    from pointdiff.evaluate import EvalConfig, evaluate_run
    result = evaluate_run(load_run("pointdiff-work/runs/demo"), EvalConfig(), cache_dir="pointdiff-work/cache/eval")
    result.metrics.prompt_accuracy    # faces: {"orientation": .., "expression": .., "joint": ..}
    result.metrics.real               # the same numbers for real held-out clouds: the ceiling

Two modes, picked from what the model was trained on:

* **labelled** (a built-in source that knows true labels: ``builtin:faces``,
  ``builtin:glyphs``; the registry is :mod:`pointdiff.evaluate.labelled`). The eval set is
  freshly rendered pictures that no training run saw (fixed seeds far from the usual
  ones), ``num_samples`` per label combination (faces: orientation × expression, 35;
  glyphs: character, 62, each in a random style). For each reference picture the model
  draws one cloud from a *held-out paraphrase* of its labels (the source's
  ``prompt_for(..., held_out=True)``), never a training caption. A scorer fitted on another
  set of real pictures reads the labels off every generated cloud (faces: orientation,
  expression; glyphs: character, family, weight, slant): prompt accuracy. A second set of
  real pictures, scored exactly like the generated ones, gives the row a perfect
  generator would reach (the scorer's ceiling, 1-NNA ≈ 50 %, ...).
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

from pointdiff.evaluate.labelled import FACES, GLYPHS, LABELLED_SOURCES, LabelledSource, labelled_source
from pointdiff.evaluate.runs import EvalConfig, EvalResult, evaluate_run, save_grid, training_source
from pointdiff.evaluate.scoring import CloudMetrics, evaluate_clouds, evaluate_real
from pointdiff.evaluate.sets import POINT_SEED, PROMPT_SEED, REAL_SEED, REFERENCE_SEED, SCORER_SEED, EvalSet, dataset_eval_set, faces_eval_set, get_scorer, labelled_eval_set

__all__ = [
    "FACES", "GLYPHS", "LABELLED_SOURCES", "POINT_SEED", "PROMPT_SEED", "REAL_SEED", "REFERENCE_SEED", "SCORER_SEED",
    "CloudMetrics", "EvalConfig", "EvalResult", "EvalSet", "LabelledSource",
    "dataset_eval_set", "evaluate_clouds", "evaluate_real", "evaluate_run", "faces_eval_set",
    "get_scorer", "labelled_eval_set", "labelled_source", "save_grid", "training_source",
]
