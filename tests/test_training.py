"""Training a run: learns, repeats itself from a seed, resumes exactly; runs planned the way the CLI plans them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from tiny_runs import FAKE, TINY, add_embeddings

from pointdiff.checkpoint import list_checkpoints, load_run
from pointdiff.config import load_config, preset_path
from pointdiff.data.dataset import Dataset
from pointdiff.data.training import TrainingData
from pointdiff.errors import PointdiffError
from pointdiff.recipe import TrainConfig
from pointdiff.training import plan_training, train
from pointdiff.workspace import find_workspace

pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


@pytest.fixture
def data(train_data: TrainingData) -> TrainingData:
    return train_data


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


@pytest.mark.parametrize("preset", ["default", "seed", "latent-map", "density"])
def test_resume_continues_exactly(data: TrainingData, tmp_path: Path, preset: str) -> None:
    if preset == "default":
        cfg = TINY  # EMA, cosine schedule, OT pairing, bf16, condition dropout: all must resume
    elif preset == "latent-map":
        cfg = replace(TINY, arch="latent-map")  # its encoder's draws and the prior's noise too
    elif preset == "density":
        cfg = replace(TINY, arch="density", density_res=8, components=4)  # the fitted codes: the same after a resume
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
        for pa, pb in zip(resumed.ema.model.parameters(), whole.ema.model.parameters()):
            assert torch.equal(pa, pb)


def workspace_with_embeddings(shapes_dataset: Dataset, root: Path):  # noqa: ANN201 - a Workspace
    """A workspace whose dataset is the shapes dataset with stand-in vectors."""
    import shutil

    shutil.copytree(shapes_dataset.root, root / "dataset")
    add_embeddings(Dataset(root / "dataset"))
    return find_workspace(root)


def test_plan_new_run_takes_settings_in_order(shapes_dataset: Dataset, tmp_path: Path) -> None:
    ws = workspace_with_embeddings(shapes_dataset, tmp_path / "ws")
    (tmp_path / "pointdiff.yaml").write_text("train:\n  lr: 0.005\n  steps: 7\n")  # the project file of the current folder
    ws = find_workspace(tmp_path / "ws", cwd=tmp_path)
    plan = plan_training(ws, overrides={"steps": 9}, name="first")
    assert (plan.cfg.lr, plan.cfg.steps) == (0.005, 9)  # the workspace's section, then the flags
    assert plan.run_dir == ws.runs / "first" and plan.resume_from is None
    assert plan.num_params == plan.cfg.num_params(FAKE.dim) > 0
    seed = plan_training(ws, preset="seed", epochs=3, out=tmp_path / "elsewhere")
    assert seed.cfg.arch == "reference" and seed.cfg.steps == 3 and seed.run_dir == tmp_path / "elsewhere"
    with pytest.raises(PointdiffError, match="--steps or --epochs"):
        plan_training(ws, overrides={"steps": 3}, epochs=3)


def test_plan_resume_keeps_the_recipe_and_the_folder(shapes_dataset: Dataset, tmp_path: Path) -> None:
    ws = workspace_with_embeddings(shapes_dataset, tmp_path / "ws")
    with pytest.raises(PointdiffError, match="nothing to resume"):
        plan_training(ws, resume="latest")
    first = plan_training(ws, overrides={**{k: getattr(TINY, k) for k in ("hidden", "depth", "fourier_features", "embed_dim", "clouds_per_step", "points_per_cloud")}, "steps": 10}, name="r")
    first.run()
    assert (ws.runs / "LATEST").read_text().strip() == "r" and ws.latest_run() == ws.runs / "r"  # a run under runs/ becomes the latest
    plan = plan_training(ws, resume="latest", overrides={"steps": 15})
    assert plan.run_dir == ws.runs / "r" and plan.resume_from is not None and plan.resume_from.name == "step-0000010"
    assert plan.cfg.steps == 15 and plan.cfg.hidden == TINY.hidden  # the stored recipe, continued
    assert plan.run().trainer.step == 15
    with pytest.raises(PointdiffError, match="keeps its recipe.*lr"):
        plan_training(ws, resume="latest", overrides={"lr": 0.1})
    with pytest.raises(PointdiffError, match="keeps its recipe"):
        plan_training(ws, resume="latest", preset="seed")


def test_a_diverging_run_stops_at_the_step_and_keeps_the_last_good_checkpoint(data: TrainingData, tmp_path: Path) -> None:
    def poison(trainer: object) -> None:  # what a blow-up does to the weights, at a step between checkpoints
        if trainer.step == 5:  # type: ignore[attr-defined]
            with torch.no_grad():
                next(trainer.model.parameters()).fill_(float("nan"))  # type: ignore[attr-defined]

    cfg = replace(TINY, steps=20, checkpoint_every=4)
    with pytest.raises(PointdiffError, match=r"diverged at step 6: the loss is nan\. The last good checkpoint, .*step-0000004, is kept.*lower learning rate"):
        train(cfg, data, run_dir=tmp_path / "run", callbacks=[poison])
    assert [p.name for p in list_checkpoints(tmp_path / "run")] == ["step-0000004"]
    kept = load_run(tmp_path / "run", use_ema=False)
    assert all(torch.isfinite(p).all() for p in kept.model.parameters())


def test_an_absurd_learning_rate_is_stopped_with_advice(data: TrainingData, tmp_path: Path) -> None:
    cfg = replace(TINY, lr=1e30, warmup_steps=0, grad_clip=0.0, ema_decay=0.0, steps=50)
    with pytest.raises(PointdiffError, match=r"diverged at step \d+: the (loss|gradient norm) is (nan|inf).*--lr 1e\+29.*grad_clip=1\.0.*warmup_steps=200"):
        train(cfg, data, run_dir=tmp_path / "run")
