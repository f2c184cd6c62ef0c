"""pointdiff.evaluate.runs: a whole-run evaluation on built-in faces, its JSON and its picture grid."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from pointdiff.evaluate import EvalConfig, evaluate_run, save_grid
from pointdiff.metrics import Scorer

SCORER_FACES = 350  # must match tests/evaluate/conftest.py, so the cached scorer is reused


def _faces_run(tmp_path: Path) -> Path:
    """A tiny model trained for a few steps on 35 built-in faces embedded with minilm."""
    from pointdiff.data.ingest import IngestConfig, ingest
    from pointdiff.data.training import load_training_data
    from pointdiff.embedding import EmbedConfig, embed_dataset
    from pointdiff.recipe import TrainConfig
    from pointdiff.training import train

    root = tmp_path / "faces"
    ingest("builtin:faces", root, IngestConfig(count=35, seed=0, contact_sheet=0))
    embed_dataset(root, EmbedConfig(stats=False, device="cpu"))
    cfg = TrainConfig(arch="film", hidden=32, depth=1, fourier_features=8, embed_dim=16, clouds_per_step=4, points_per_cloud=64, steps=6, warmup_steps=1, checkpoint_every=6, sample_steps=2, precision="fp32", pairing="none")
    train(cfg, load_training_data(root), run_dir=tmp_path / "run")
    return tmp_path / "run"


def test_evaluate_run_on_faces_reports_every_metric_and_draws_a_grid(tmp_path: Path, eval_cache: Path, small_scorer: Callable[[], Scorer]) -> None:
    from pointdiff.checkpoint import load_run

    run = load_run(_faces_run(tmp_path))
    cfg = EvalConfig(num_samples=1, num_points=256, emd_points=128, scorer_count=SCORER_FACES, grid_rows=3)
    scorer = small_scorer()
    res = evaluate_run(run, cfg, cache_dir=eval_cache, scorer=scorer)
    m = res.metrics
    assert res.kind == "faces" and m.n == 35
    assert set(m.prompt_accuracy) == {"orientation", "expression", "joint"}
    assert m.real is not None and set(m.real.prompt_accuracy) == set(m.prompt_accuracy)
    assert m.emd_to_ref is not None and m.emd_to_ref > m.real.emd_to_ref  # 6 steps of training draw worse than real faces
    assert m.chamfer_to_ref > m.real.chamfer_to_ref
    assert res.settings["steps"] == 2 and res.settings["solver"] == "midpoint"  # the run's own defaults
    grid = save_grid(res, tmp_path / "grid.png", rows=3)
    assert grid.stat().st_size > 1000
    # The JSON `eval` writes carries the numbers themselves, and is JSON.
    js = json.loads(json.dumps(res.to_dict()))
    assert js["metrics"]["real"]["prompt_accuracy"] == pytest.approx(m.real.prompt_accuracy)
    assert js["metrics"]["chamfer_to_ref"] == pytest.approx(m.chamfer_to_ref) and js["num_prompts"] == 35
    # Prompt accuracy asked three ways; the held-out row is the main table's.
    assert list(res.prompt_kinds) == ["training captions", "canonical", "held-out paraphrases"]
    own, canon, held = (res.prompt_kinds[k] for k in res.prompt_kinds)
    assert 20 <= own["n"] <= 35 and canon["n"] == 35 and canon["real"] is None  # at most one training face per pair (num_samples=1)
    assert own["real"]["orientation"] > 0.5 and held["generated"] == m.prompt_accuracy
    assert held["nna"] == m.chamfer_sets.nna and own["nna"] is not None and canon["nna"] is not None  # 1-NNA per kind
    assert js["prompt_kinds"]["training captions"]["real"] == pytest.approx(own["real"])
    # Overrides reach the sampler.
    res2 = evaluate_run(run, replace(cfg, steps=1, solver="euler", emd=False, prompt_kinds=False), cache_dir=eval_cache, scorer=scorer)
    assert res2.settings["steps"] == 1 and res2.metrics.emd_to_ref is None
    assert list(res2.prompt_kinds) == ["held-out paraphrases"]
