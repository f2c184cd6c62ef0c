"""Eval on the built-in glyphs: the labelled-source registry, held-out glyph sets, the scorer, a whole run, the CLI's words."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from pointdiff.checkpoint import LoadedRun, load_run
from pointdiff.cli.eval import _render, chance_text
from pointdiff.cli.render import console
from pointdiff.data.faces.words import mentions
from pointdiff.data.glyphs import CHARACTERS, HELDOUT_PHRASES, canonical_prompt
from pointdiff.errors import PointdiffError
from pointdiff.evaluate import FACES, GLYPHS, EvalConfig, EvalSet, evaluate_run, labelled_source, save_grid
from pointdiff.evaluate.kinds import canonical_prompt_set
from pointdiff.metrics import NearestCloudScorer, Scorer, label_accuracy


@pytest.fixture(scope="module")
def glyph_run(tmp_path_factory: pytest.TempPathFactory) -> LoadedRun:
    """A tiny model trained for a few steps on 124 built-in glyphs embedded with minilm."""
    from pointdiff.data.ingest import IngestConfig, ingest
    from pointdiff.data.training import load_training_data
    from pointdiff.embedding import EmbedConfig, embed_dataset
    from pointdiff.recipe import TrainConfig
    from pointdiff.training import train

    tmp = tmp_path_factory.mktemp("glyph-run")
    ingest("builtin:glyphs", tmp / "glyphs", IngestConfig(count=124, seed=0, contact_sheet=0))
    embed_dataset(tmp / "glyphs", EmbedConfig(stats=False, device="cpu"))
    cfg = TrainConfig(arch="film", hidden=32, depth=1, fourier_features=8, embed_dim=16, clouds_per_step=4, points_per_cloud=64, steps=6, warmup_steps=1, checkpoint_every=6, sample_steps=2, precision="fp32", pairing="none")
    train(cfg, load_training_data(tmp / "glyphs"), run_dir=tmp / "run")
    return load_run(tmp / "run")


def test_the_source_of_a_run_is_told_by_its_dataset_json() -> None:
    assert labelled_source({"source": "builtin:faces"}) is FACES
    assert labelled_source({"source": "builtin:faces-video"}) is FACES
    assert labelled_source({"source": "builtin:glyphs"}) is GLYPHS
    assert labelled_source({"source": "/data/glyphs"}) is None and labelled_source({}) is None
    assert GLYPHS.combos() == [(c,) for c in CHARACTERS] and FACES.combos()[:2] == [("front", "smiling"), ("front", "laughing")]
    assert GLYPHS.version() != FACES.version() and GLYPHS.version() == GLYPHS.version()


def test_glyph_eval_set_has_one_held_out_prompt_per_character_in_a_random_style(glyph_evalset: EvalSet) -> None:
    ev = glyph_evalset
    assert ev.kind == "glyphs" and ev.label_names == GLYPHS.labels
    assert [lab["character"] for lab in ev.labels] == list(CHARACTERS) and ev.groups == list(range(62))
    assert ev.reference.shape == (62, 512, 2) and ev.real.shape == (62, 512, 2)
    assert len({lab["family"] for lab in ev.labels}) == 3 and len({(lab["weight"], lab["slant"]) for lab in ev.labels}) == 4
    for prompt, lab in zip(ev.prompts, ev.labels):
        assert re.search(rf" {re.escape(lab['character'])}(?![\w-])", prompt), (prompt, lab)
        for name in ("family", "weight", "slant"):
            assert any(mentions(prompt, p) for p in HELDOUT_PHRASES[name][lab[name]]), (prompt, name, lab)
    # The second real set: the same characters, other pictures in other styles.
    assert [lab["character"] for lab in ev.real_labels] == list(CHARACTERS) and ev.real_labels != ev.labels
    assert not torch.allclose(ev.real, ev.reference)
    canon = canonical_prompt_set(ev.labels, GLYPHS)
    assert canon.prompts == [canonical_prompt(lab) for lab in ev.labels] and canon.labels == ev.labels


def test_glyph_scorer_reads_real_held_out_glyphs_far_above_chance(small_glyph_scorer: Scorer, glyph_evalset: EvalSet) -> None:
    assert small_glyph_scorer.label_names == GLYPHS.labels
    acc = label_accuracy(small_glyph_scorer.predict(glyph_evalset.reference), glyph_evalset.labels, GLYPHS.labels)
    # chance: character 1/62, weight 1/2, slant 1/2 (family, 1/3, is read less well by so small a scorer)
    assert acc["character"] >= 0.15, acc
    assert acc["weight"] >= 0.65 and acc["slant"] >= 0.55, acc


def test_evaluate_run_on_glyphs_scores_character_and_style_three_ways(glyph_run: LoadedRun, eval_cache: Path, small_glyph_scorer: Scorer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = EvalConfig(num_samples=1, num_points=256, emd_points=128, grid_rows=3)
    res = evaluate_run(glyph_run, cfg, cache_dir=eval_cache, scorer=small_glyph_scorer)
    m = res.metrics
    assert res.kind == "glyphs" and m.n == 62 and len(res.prompts) == 62
    assert list(m.prompt_accuracy) == ["character", "family", "weight", "slant", "joint"]
    assert m.real is not None and m.real.prompt_accuracy["character"] >= 0.15  # the ceiling, beside the generated number
    assert m.chamfer_to_ref > m.real.chamfer_to_ref  # 6 steps of training draw worse than real glyphs
    assert list(res.prompt_kinds) == ["training captions", "canonical", "held-out paraphrases"]
    own, canon, held = res.prompt_kinds.values()
    assert 40 <= own["n"] <= 62 and canon["n"] == 62 and canon["real"] is None and held["generated"] == m.prompt_accuracy
    assert own["real"]["character"] >= 0.15
    js = json.loads(json.dumps(res.to_dict()))
    assert js["kind"] == "glyphs" and js["prompt_kinds"]["canonical"]["n"] == 62
    assert save_grid(res, tmp_path / "grid.png", rows=3).stat().st_size > 1000
    # The CLI's tables speak of glyphs and their labels, never of faces.
    monkeypatch.setattr(console, "_width", 300)  # no cell wrapped
    with console.capture() as cap:
        _render(res, tmp_path / "grid.png", tmp_path / "eval.json")
    out = re.sub(r"\s+", " ", cap.get())
    for words in ("glyphs eval, 62 prompts", "prompt accuracy: character", "prompt accuracy: slant", "character / family / weight / slant / all", "real glyphs", "fitted on other real glyphs", "low even for real glyphs"):
        assert words in out, words
    assert "face" not in out and "orientation" not in out


def test_a_scorer_that_cannot_read_the_sources_labels_is_refused(glyph_run: LoadedRun, eval_cache: Path) -> None:
    faces_judge = NearestCloudScorer(torch.zeros(1, 8, 2), [{"orientation": "left", "expression": "sad"}], FACES.labels)
    with pytest.raises(PointdiffError, match="the scorer reads orientation, expression; a run trained on builtin:glyphs is scored on character, family, weight, slant"):
        evaluate_run(glyph_run, EvalConfig(num_samples=1, num_points=64), cache_dir=eval_cache, scorer=faces_judge)


def test_chance_is_said_per_label() -> None:
    assert chance_text(FACES) == "orientation 20%, expression 14.3%, joint 2.9%"  # what the faces table always said
    assert chance_text(GLYPHS) == "character 1.6%, family 33.3%, weight 50%, slant 50%, joint 0.1%"
