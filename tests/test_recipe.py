"""The training recipe: presets, the reference's epochs, what a resumed run may change, parameter counts."""

from __future__ import annotations

import pytest

from pointdiff.config import load_config, preset_path
from pointdiff.errors import PointdiffError
from pointdiff.flow.model import build_model
from pointdiff.recipe import RESUMABLE, TrainConfig


def test_epochs_are_the_references_clouds_drawn() -> None:
    seed = load_config(TrainConfig, preset=preset_path("train", "seed"))
    assert seed.steps_for_epochs(20000) == 20000 == seed.steps
    film = load_config(TrainConfig, preset=preset_path("train", "film"))  # 64 clouds × 64 points = 4096 points a step: four reference epochs
    assert film.steps_for_epochs(20000) == 5000 and film.steps_for_epochs(20001) == 5001
    assert TrainConfig(arch="film", clouds_per_step=16, points_per_cloud=256).steps_for_epochs(20000) == 5000  # the same data, however it is cut
    assert film.steps_for_epochs(1) == 1
    assert film.describe_epochs(20000) == "--epochs 20000 = the reference's 20000 steps of one 1024-point cloud (20,480,000 training points) = 5000 steps of 64 clouds × 64 points"


def test_a_density_runs_epochs_are_a_share_of_the_references_full_run() -> None:
    default = TrainConfig()
    assert default.arch == "density"
    assert default.steps_for_epochs(20000) == default.steps == 8000  # the reference's whole run is the recipe's whole run
    assert default.steps_for_epochs(5000) == 2000 and default.steps_for_epochs(1) == 1
    assert default.steps_for_epochs(20000) == TrainConfig(clouds_per_step=16).steps_for_epochs(20000)  # points are not the unit
    assert "0.25 of the reference's full 20000-epoch run = 2000 steps" in default.describe_epochs(5000)




def test_seed_preset_is_the_reference_recipe() -> None:
    cfg = load_config(TrainConfig, preset=preset_path("train", "seed"))
    assert (cfg.arch, cfg.hidden, cfg.depth, cfg.clouds_per_step, cfg.points_per_cloud) == ("reference", 512, 6, 1, 1024)
    assert (cfg.lr, cfg.steps, cfg.checkpoint_every, cfg.noise_std) == (2e-4, 20000, 1000, 2.0)
    assert (cfg.pairing, cfg.cond_dropout, cfg.ema_decay, cfg.grad_clip, cfg.warmup_steps, cfg.schedule) == ("none", 0.0, 0.0, 0.0, 0, "constant")
    assert (cfg.precision, cfg.jitter, cfg.sample_solver, cfg.sample_steps) == ("fp32", False, "euler", 200)


def test_resumed_changes_only_length_and_checkpointing() -> None:
    cfg = TrainConfig(lr=0.003)
    longer = cfg.resumed({"steps": 9000, "keep_checkpoints": 5})
    assert (longer.steps, longer.keep_checkpoints, longer.lr) == (9000, 5, 0.003)
    assert set(RESUMABLE) == {"steps", "checkpoint_every", "keep_checkpoints"}
    with pytest.raises(PointdiffError, match="keeps its recipe.*hidden, lr"):
        cfg.resumed({"lr": 0.1, "hidden": 64, "steps": 10})


def test_meta_round_trip_and_unknown_keys() -> None:
    cfg = TrainConfig(hidden=64, sample_steps=6)
    from pointdiff.config import to_dict

    assert TrainConfig.from_meta({"config": to_dict(cfg)}) == cfg
    with pytest.raises(PointdiffError, match="hiden"):
        TrainConfig.from_meta({"config": {"hiden": 64}})


@pytest.mark.parametrize("preset", ["default", "seed", "short", "latent", "film", "density-velocity"])
def test_num_params_counts_the_model_it_builds(preset: str) -> None:
    cfg = load_config(TrainConfig, preset=None if preset == "default" else preset_path("train", preset))
    assert cfg.num_params(384) == build_model(cfg.arch, 384, **cfg.model_kwargs()).num_params()


def test_validate_names_the_bad_setting() -> None:
    for bad, msg in [({"steps": 0}, "steps"), ({"pairing": "greedy"}, "pairing"), ({"arch": "unet"}, "unknown arch"), ({"sample_precision": "fp8"}, "precisions"), ({"prior_predict": "noise"}, "prior_predict"), ({"prior_steps": 0}, "prior_steps")]:
        with pytest.raises(PointdiffError, match=msg):
            TrainConfig(**bad).validate()
