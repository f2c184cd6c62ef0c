"""Runs on disk: checkpoints describe themselves, are written whole, load back, and refuse what does not fit."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from tiny_runs import FAKE, TINY

from pointdiff.checkpoint import FORMAT_VERSION, list_checkpoints, load_run, read_meta, resolve_checkpoint, run_dir_of, save_checkpoint
from pointdiff.data.training import TrainingData
from pointdiff.errors import PointdiffError
from pointdiff.recipe import TrainConfig
from pointdiff.trainer import Trainer
from pointdiff.training import train

pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


def test_checkpoint_is_self_describing_and_pruned(train_data: TrainingData, tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(replace(TINY, steps=60, keep_checkpoints=2), train_data, run_dir=run)
    assert [p.name for p in list_checkpoints(run)] == ["step-0000040", "step-0000060"]
    meta = read_meta(run)
    assert meta["step"] == 60 and meta["arch"] == "film" and meta["weights"] == "ema"
    assert meta["encoder"] == FAKE.to_dict()
    assert meta["data"]["fingerprint"] == train_data.fingerprint and meta["data"]["num_samples"] == 8
    assert meta["num_params"] > 0 and meta["timing"]["steps_per_s"] > 0
    assert meta["config"]["clouds_per_step"] == 4
    assert json.loads((run / "meta.json").read_text())["step"] == 60
    assert (run / "loss.png").stat().st_size > 0
    loaded = load_run(run)
    assert loaded.encoder == FAKE and loaded.path.name == "step-0000060"
    assert not loaded.model.training




def test_resume_refuses_other_data(train_data: TrainingData, tmp_path: Path) -> None:
    train(replace(TINY, steps=20), train_data, run_dir=tmp_path / "run")
    other = replace(train_data, fingerprint="something-else")
    with pytest.raises(PointdiffError, match="other data"):
        train(TINY, other, resume=tmp_path / "run")



def test_a_half_written_checkpoint_is_never_picked_up(train_data: TrainingData, tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(replace(TINY, steps=20), train_data, run_dir=run)
    # what a kill during save_checkpoint leaves: a temporary folder, and a step folder without meta.json
    (run / "checkpoints" / ".step-0000040.tmp-123").mkdir()
    (run / "checkpoints" / ".step-0000040.tmp-123" / "model.safetensors").write_bytes(b"partial")
    (run / "checkpoints" / "step-0000060").mkdir()
    assert [p.name for p in list_checkpoints(run)] == ["step-0000020"]
    assert resolve_checkpoint(run).name == "step-0000020" and load_run(run).meta["step"] == 20


def test_save_replaces_a_checkpoint_of_the_same_step(train_data: TrainingData, tmp_path: Path) -> None:
    trainer = Trainer(replace(TINY, steps=3), train_data)
    trainer.run()
    first = save_checkpoint(tmp_path / "run", trainer)
    again = save_checkpoint(tmp_path / "run", trainer)
    assert first == again and list_checkpoints(tmp_path / "run") == [first]
    assert run_dir_of(first) == tmp_path / "run"
    assert not list((tmp_path / "run" / "checkpoints").glob(".*"))  # no temporary folder left behind


def test_load_run_refuses_what_it_cannot_build(train_data: TrainingData, tmp_path: Path) -> None:
    run = tmp_path / "run"
    ckpt = train(replace(TINY, steps=5), train_data, run_dir=run).checkpoint
    assert ckpt is not None and load_run(run).run_dir == run
    meta = json.loads((ckpt / "meta.json").read_text())
    (ckpt / "meta.json").write_text(json.dumps({**meta, "format_version": FORMAT_VERSION + 1}))
    with pytest.raises(PointdiffError, match="newer pointdiff"):
        load_run(run)
    (ckpt / "meta.json").write_text(json.dumps({**meta, "arch": "transformer"}))
    with pytest.raises(PointdiffError, match="does not describe a model"):
        load_run(run)
    with pytest.raises(PointdiffError, match="no such run"):
        resolve_checkpoint(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PointdiffError, match="holds no checkpoint"):
        resolve_checkpoint(tmp_path / "empty")


def test_resume_refuses_another_architecture(train_data: TrainingData, tmp_path: Path) -> None:
    train(replace(TINY, steps=5), train_data, run_dir=tmp_path / "run")
    with pytest.raises(PointdiffError, match="not the configured"):
        train(replace(TINY, hidden=48), train_data, resume=tmp_path / "run")


def test_the_stored_recipe_reads_back(train_data: TrainingData, tmp_path: Path) -> None:
    cfg = replace(TINY, steps=5, lr=0.004, sample_steps=3)
    train(cfg, train_data, run_dir=tmp_path / "run")
    meta = read_meta(tmp_path / "run")
    assert TrainConfig.from_meta(meta) == cfg
    assert meta["sampling"] == cfg.sampling_defaults() and meta["sampling"]["steps"] == 3
    assert load_run(tmp_path / "run").noise_std == cfg.noise_std
    ema, raw = load_run(tmp_path / "run").model.state_dict(), load_run(tmp_path / "run", use_ema=False).model.state_dict()
    assert ema.keys() == raw.keys() and any(not torch.equal(ema[k], raw[k]) for k in ema)  # the averaged weights by default


def test_a_full_disk_during_a_checkpoint_leaves_the_last_one_whole(train_data: TrainingData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    run = tmp_path / "run"
    train(replace(TINY, steps=4, checkpoint_every=4), train_data, run_dir=run)

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full)  # the optimizer state is the last file a checkpoint writes
    with pytest.raises(PointdiffError, match=r"no space left .* writing step-0000008: it needs more than the .* written"):
        train(replace(TINY, steps=8, checkpoint_every=4), train_data, run_dir=run, resume=run)
    assert [p.name for p in list_checkpoints(run)] == ["step-0000004"]
    assert not [p for p in (run / "checkpoints").iterdir() if p.name.startswith(".")]  # no half checkpoint left
    assert load_run(run).meta["step"] == 4
