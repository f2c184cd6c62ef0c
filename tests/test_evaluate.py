"""The eval core: held-out face sets, the scorer, metrics of known sets, a whole-run evaluation."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from pointdiff.evaluate import LABELS, EvalConfig, evaluate_clouds, evaluate_real, evaluate_run, faces_eval_set, get_scorer, save_grid
from pointdiff.metrics import ClassifierConfig, label_accuracy

SCORER_FACES = 350  # 10 per orientation x expression: renders in ~3 s
SMALL = ClassifierConfig(width=16, epochs=40)  # ~4 s; the default (1050 faces, width 48) takes minutes


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Rendered faces and the scorer, shared by the tests of this module."""
    return tmp_path_factory.mktemp("eval-cache")


@pytest.fixture(scope="module")
def evalset(cache: Path):
    return faces_eval_set(1, 512, cache)


def test_faces_eval_set_covers_every_combination_with_held_out_prompts(evalset) -> None:
    from pointdiff.data.faces import EXPRESSIONS, HELDOUT_PHRASES, ORIENTATIONS

    combos = {(lab["orientation"], lab["expression"]) for lab in evalset.labels}
    assert combos == {(o, e) for o in ORIENTATIONS for e in EXPRESSIONS}
    assert evalset.reference.shape == (35, 512, 2) and evalset.real.shape == (35, 512, 2)
    assert len(set(evalset.groups)) == 35
    # Prompts are written with the held-out phrasings of their own labels.
    for prompt, lab in zip(evalset.prompts, evalset.labels):
        for name in LABELS:
            assert any(phrase in prompt for phrase in HELDOUT_PHRASES[name][lab[name]]), (prompt, lab)
    # The second real set is other faces with the same labels.
    assert evalset.real_labels == evalset.labels
    assert not torch.allclose(evalset.real, evalset.reference)


def test_scorer_reads_real_held_out_faces_far_above_chance(cache: Path, evalset) -> None:
    scorer = get_scorer("classifier", SCORER_FACES, cache, config=SMALL)
    acc = label_accuracy(scorer.predict(evalset.reference), evalset.labels, LABELS)
    # chance: orientation 1/5, expression 1/7, joint 1/35
    assert acc["orientation"] >= 0.8, acc
    assert acc["expression"] >= 0.35, acc
    assert acc["joint"] >= 0.3, acc
    # Cached: the second call loads the same weights instead of training again.
    again = get_scorer("classifier", SCORER_FACES, cache, config=SMALL)
    assert again.predict(evalset.reference) == scorer.predict(evalset.reference)


def test_metrics_of_known_sets(evalset) -> None:
    exact = evaluate_clouds(evalset.reference, evalset)
    assert exact.chamfer_to_ref == 0 and exact.retrieval == 1.0 and exact.chamfer_sets.mmd == 0 and exact.chamfer_sets.cov == 1.0
    noise = evaluate_clouds(torch.randn(35, 512, 2, generator=torch.Generator().manual_seed(0)) * 2, evalset)
    assert noise.chamfer_to_ref > 20 * evaluate_real(evalset, None).chamfer_to_ref
    assert noise.chamfer_sets.nna >= 0.95  # noise is told apart from faces every time
    real = evaluate_real(evalset, None)
    assert 0.2 <= real.chamfer_sets.nna <= 0.8  # other real faces of the same labels are not


def _faces_run(tmp_path: Path) -> Path:
    """A tiny model trained for a few steps on 35 built-in faces embedded with minilm."""
    from pointdiff.data.ingest import IngestConfig, ingest
    from pointdiff.embed import EmbedConfig, embed_dataset
    from pointdiff.train import TrainConfig, load_training_data, train

    root = tmp_path / "faces"
    ingest("builtin:faces", root, IngestConfig(count=35, seed=0, contact_sheet=0))
    embed_dataset(root, EmbedConfig(stats=False, device="cpu"))
    cfg = TrainConfig(hidden=32, depth=1, fourier_features=8, embed_dim=16, clouds_per_step=4, points_per_cloud=64, steps=6, warmup_steps=1, checkpoint_every=6, sample_steps=2, precision="fp32", pairing="none")
    train(cfg, load_training_data(root), run_dir=tmp_path / "run")
    return tmp_path / "run"


def test_evaluate_run_on_faces_reports_every_metric_and_draws_a_grid(tmp_path: Path, cache: Path) -> None:
    from pointdiff.checkpoint import load_run

    run = load_run(_faces_run(tmp_path))
    cfg = EvalConfig(num_samples=1, num_points=256, emd_points=128, scorer_faces=SCORER_FACES, grid_rows=3)
    scorer = get_scorer("classifier", SCORER_FACES, cache, config=SMALL)
    res = evaluate_run(run, cfg, cache_dir=cache, scorer=scorer)
    m = res.metrics
    assert res.kind == "faces" and m.n == 35
    assert set(m.prompt_accuracy) == {"orientation", "expression", "joint"}
    assert m.real is not None and set(m.real.prompt_accuracy) == set(m.prompt_accuracy)
    assert m.emd_to_ref is not None and m.emd_to_ref > m.real.emd_to_ref  # 6 steps of training draw worse than real faces
    assert m.chamfer_to_ref > m.real.chamfer_to_ref
    assert res.settings["steps"] == 2 and res.settings["solver"] == "midpoint"  # the run's own defaults
    grid = save_grid(res, tmp_path / "grid.png", rows=3)
    assert grid.stat().st_size > 1000
    js = res.to_dict()
    assert js["metrics"]["real"]["prompt_accuracy"]["joint"] >= 0
    # Overrides reach the sampler.
    res2 = evaluate_run(run, replace(cfg, steps=1, solver="euler", emd=False), cache_dir=cache, scorer=scorer)
    assert res2.settings["steps"] == 1 and res2.metrics.emd_to_ref is None
