"""The training loop: learns, repeats itself from a seed, resumes exactly, reads the reference's data."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from pointdiff.checkpoint import list_checkpoints, load_run, read_meta
from pointdiff.config import load_config, preset_path
from pointdiff.data.dataset import Dataset
from pointdiff.errors import PointdiffError
from pointdiff.text.embeddings import EncoderInfo, StoredEmbeddings, dataset_texts, write_embeddings
from pointdiff.train import TrainConfig, TrainingData, load_reference_data, load_training_data, train

FAKE = EncoderInfo(id="fake", family="sentence", dim=16, max_tokens=32, weights_sha256="f" * 64)
# a small film model and short schedule: every part of the default recipe, in a second
TINY = TrainConfig(hidden=32, depth=2, fourier_features=16, embed_dim=32, clouds_per_step=4, points_per_cloud=128, steps=40, warmup_steps=5, checkpoint_every=20)


def add_embeddings(ds: Dataset, info: EncoderInfo = FAKE, seed: int = 0) -> None:
    """Stand-in text vectors: one random unit vector per distinct caption."""
    texts = dataset_texts(ds)
    g = torch.Generator().manual_seed(seed)
    table = {t: torch.nn.functional.normalize(torch.randn(info.dim, generator=g), dim=0) for t in sorted(set(texts.texts))}
    emb = torch.stack([table[t] for t in texts.texts])
    write_embeddings(ds.root / "embeddings.safetensors", StoredEmbeddings(emb, info, texts.ids, texts.hashes))


pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


@pytest.fixture
def data(shapes_dataset: Dataset) -> TrainingData:
    add_embeddings(shapes_dataset)
    return load_training_data(shapes_dataset.root)


def test_short_training_drives_the_loss_down(data: TrainingData) -> None:
    cfg = replace(TINY, steps=150, lr=3e-3, hidden=64, ema_decay=0.0)
    losses = train(cfg, data).losses
    assert len(losses) == 150
    first, last = sum(losses[:15]) / 15, sum(losses[-15:]) / 15
    assert last < 0.5 * first, (first, last)


def test_same_seed_same_model_other_seed_other_model(data: TrainingData) -> None:
    a = train(TINY, data).trainer
    b = train(TINY, data).trainer
    c = train(replace(TINY, seed=1), data).trainer
    assert a.losses == b.losses
    for pa, pb in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(pa, pb)
    assert a.losses != c.losses


@pytest.mark.parametrize("preset", ["default", "seed"])
def test_resume_continues_exactly(data: TrainingData, tmp_path: Path, preset: str) -> None:
    if preset == "default":
        cfg = TINY  # EMA, cosine schedule, OT pairing, bf16, condition dropout: all must resume
    else:
        cfg = replace(load_config(TrainConfig, preset=preset_path("train", "seed")), hidden=32, points_per_cloud=64, steps=40, checkpoint_every=20)
    whole = train(cfg, data, run_dir=tmp_path / "whole").trainer
    steps = [int(p.name.split("-")[1]) for p in list_checkpoints(tmp_path / "whole")]
    assert steps == [20, 40]

    def crash(trainer: object) -> None:  # killed just after the checkpoint of step 20
        if trainer.step == 21:  # type: ignore[attr-defined]
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(cfg, data, run_dir=tmp_path / "half", callbacks=[crash])
    resumed = train(cfg, data, run_dir=tmp_path / "half", resume=tmp_path / "half").trainer
    assert resumed.losses == whole.losses  # bit-identical continuation
    for pa, pb in zip(resumed.model.parameters(), whole.model.parameters()):
        assert torch.equal(pa, pb)
    if whole.ema is not None:
        for pa, pb in zip(resumed.ema.parameters(), whole.ema.parameters()):
            assert torch.equal(pa, pb)


def test_checkpoint_is_self_describing_and_pruned(data: TrainingData, tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(replace(TINY, steps=60, keep_checkpoints=2), data, run_dir=run)
    assert [p.name for p in list_checkpoints(run)] == ["step-0000040", "step-0000060"]
    meta = read_meta(run)
    assert meta["step"] == 60 and meta["arch"] == "film" and meta["weights"] == "ema"
    assert meta["encoder"] == FAKE.to_dict()
    assert meta["data"]["fingerprint"] == data.fingerprint and meta["data"]["num_samples"] == 8
    assert meta["num_params"] > 0 and meta["timing"]["steps_per_s"] > 0
    assert meta["config"]["clouds_per_step"] == 4
    assert json.loads((run / "meta.json").read_text())["step"] == 60
    assert (run / "loss.png").stat().st_size > 0
    loaded = load_run(run)
    assert loaded.encoder == FAKE and loaded.path.name == "step-0000060"
    assert not loaded.model.training


def test_resume_refuses_other_data(data: TrainingData, tmp_path: Path) -> None:
    train(replace(TINY, steps=20), data, run_dir=tmp_path / "run")
    other = replace(data, fingerprint="something-else")
    with pytest.raises(PointdiffError, match="other data"):
        train(TINY, other, resume=tmp_path / "run")


def test_epochs_are_the_references_clouds_drawn() -> None:
    seed = load_config(TrainConfig, preset=preset_path("train", "seed"))
    assert seed.steps_for_epochs(20000) == 20000 == seed.steps
    assert TrainConfig(clouds_per_step=16).steps_for_epochs(20000) == 1250
    assert TrainConfig(clouds_per_step=16).steps_for_epochs(20001) == 1251


def test_seed_preset_is_the_reference_recipe() -> None:
    cfg = load_config(TrainConfig, preset=preset_path("train", "seed"))
    assert (cfg.arch, cfg.hidden, cfg.depth, cfg.clouds_per_step, cfg.points_per_cloud) == ("reference", 512, 6, 1, 1024)
    assert (cfg.lr, cfg.steps, cfg.checkpoint_every, cfg.noise_std) == (2e-4, 20000, 1000, 2.0)
    assert (cfg.pairing, cfg.cond_dropout, cfg.ema_decay, cfg.grad_clip, cfg.warmup_steps, cfg.schedule) == ("none", 0.0, 0.0, 0.0, 0, "constant")
    assert (cfg.precision, cfg.jitter, cfg.sample_solver, cfg.sample_steps) == ("fp32", False, "euler", 200)


def test_reference_pt_data_file_loads(tmp_path: Path) -> None:
    g = torch.Generator().manual_seed(0)
    blob = {
        "image_paths": [f"frames/{k:04d}.png" for k in range(5)],
        "embeddings": torch.randn(5, 512, generator=g),
        "point_clouds": torch.rand(5, 1024, 2, generator=g) * 6 - 3,
        "model": "ViT-B/32",
        "num_points": 1024,
        "num_samples": 5,
    }
    torch.save(blob, tmp_path / "data.pt")
    data = load_training_data(tmp_path / "data.pt")
    assert data.encoder == EncoderInfo("openai/clip-vit-base-patch32", "clip", 512, 77, "")
    assert len(data.sampler) == 5 and data.cond.shape == (5, 512)
    torch.testing.assert_close(data.cond.norm(dim=1), torch.ones(5))
    assert set(data.sampler.sample(torch.tensor([2]), 50)[0].flatten().tolist()) <= set(blob["point_clouds"][2].flatten().tolist())
    result = train(replace(TINY, steps=5), data, run_dir=tmp_path / "run")
    assert result.checkpoint is not None and read_meta(tmp_path / "run")["encoder"]["weights_sha256"] == ""
    torch.save({"embeddings": torch.zeros(2, 4)}, tmp_path / "bad.pt")
    with pytest.raises(PointdiffError, match="point_clouds"):
        load_reference_data(tmp_path / "bad.pt")


def test_dataset_without_embeddings_points_to_embed(shapes_dataset: Dataset) -> None:
    with pytest.raises(PointdiffError, match="pointdiff embed"):
        load_training_data(shapes_dataset.root)
