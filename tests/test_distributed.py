"""Several processes under torchrun: two CPU processes (gloo) train and embed what one process does, and only rank 0 writes.

Each launch runs the real ``pointdiff`` command in 2 processes with ``python -m
torch.distributed.run --standalone`` (a free port), most through ``tests/crash_hook.py`` with no
fault (``none``): it reports on exit what its process wrote (``@events write=.. rename=..``).
``--tee 3`` prefixes every line with its process (``[default1]:``). The results are compared
with one in-process run of the same recipe and global batch: equal up to float rounding
(another split of the batch sums the gradients in another order).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import yaml
from tiny_runs import TINY

from pointdiff.checkpoint import EMA_FILE, MODEL_FILE, STATE_FILE, list_checkpoints
from pointdiff.config import to_dict
from pointdiff.data.dataset import EMBEDDINGS_FILE, Dataset
from pointdiff.data.training import TrainingData
from pointdiff.distributed import SINGLE, Distributed, from_env
from pointdiff.embedding import HISTOGRAM_FILE, EmbedConfig, embed_dataset
from pointdiff.errors import PointdiffError
from pointdiff.store import load_tensors, read_json
from pointdiff.text.embeddings import read_embeddings
from pointdiff.trainer import Trainer, local_clouds
from pointdiff.training import plan_training, train
from pointdiff.workspace import Workspace

pytestmark = pytest.mark.usefixtures("one_thread")  # the in-process runs on one thread, like the launched ones

HOOK = Path(__file__).with_name("crash_hook.py")
# every part of the default recipe (EMA, cosine schedule, OT pairing, condition dropout), 2 clouds
# in each of 2 processes; fp32, so that the tolerance does not depend on the CPU's bf16
CFG = replace(TINY, steps=4, checkpoint_every=2, points_per_cloud=64, precision="fp32")
ATOL = 1e-5  # float rounding of a batch split in two; a wrong split moves weights by ~1e-3


def torchrun(cwd: Path, *args: object, hook: bool = True) -> dict[int, str]:
    """``pointdiff ARGS`` in 2 processes under torchrun; each rank's output (stdout and stderr)."""
    target = [str(HOOK), "none"] if hook else ["-m", "pointdiff"]  # -m pointdiff: what the README tells users
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "--tee", "3", *target, *map(str, args)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200", "POINTDIFF_WORKSPACE": "", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    ranks: dict[int, list[str]] = {0: [], 1: []}
    for line in output.splitlines():
        if m := re.match(r"\[\D*(\d+)\]:(.*)", line):
            ranks[int(m[1])].append(m[2])
    return {rank: "\n".join(lines) for rank, lines in ranks.items()}


def largest_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    """max |a − b| over every tensor of two state dicts with the same names."""
    assert a.keys() == b.keys()
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)


def weights(checkpoint: Path, name: str) -> dict[str, torch.Tensor]:
    return load_tensors(checkpoint / name)[0]


def recipe_file(folder: Path) -> Path:
    """CFG as a --config YAML file."""
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(to_dict(CFG)))
    return path


def test_torchrun_environment_is_read_and_shares_are_contiguous() -> None:
    assert from_env({}) is SINGLE and not SINGLE.active and SINGLE.is_main
    d = from_env({"WORLD_SIZE": "4", "RANK": "2", "LOCAL_RANK": "0"})
    assert (d.rank, d.world_size, d.local_rank, d.is_main, d.active) == (2, 4, 0, False, True)
    assert d.place("cuda") == "cuda:0" and d.place("cuda:3") == "cuda:3" and d.place("cpu") == "cpu" and SINGLE.place("cuda") == "cuda"
    shares = [Distributed(rank=r, world_size=3).shard(list(range(7))) for r in range(3)]
    assert shares == [[0, 1], [2, 3], [4, 5, 6]]
    with pytest.raises(PointdiffError, match="do not fit together"):
        from_env({"WORLD_SIZE": "2", "RANK": "2"})


def test_the_global_batch_must_divide_among_the_processes(train_data: TrainingData, tmp_path: Path) -> None:
    assert [local_clouds(CFG, Distributed(rank=r, world_size=2)) for r in (0, 1)] == [slice(0, 2), slice(2, 4)]
    odd = replace(CFG, clouds_per_step=3)
    with pytest.raises(PointdiffError, match=r"clouds_per_step \(3\) is the batch of all 2 processes.*--clouds-per-step 4 or 2"):
        Trainer(odd, train_data, dist=Distributed(rank=1, world_size=2))
    ws = Workspace(tmp_path / "ws")
    with pytest.raises(PointdiffError, match="must be divisible by 2"):
        plan_training(ws, data=train_data.source, overrides={"clouds_per_step": 3}, dist=Distributed(rank=0, world_size=2))
    assert not ws.runs.exists()  # refused before a run folder was made
    Trainer(odd, train_data)  # one process takes any batch


def test_two_processes_train_what_one_process_trains(train_data: TrainingData, tmp_path: Path) -> None:
    out = torchrun(tmp_path, "train", "--data", train_data.source, "--workspace", tmp_path / "ws", "--config", recipe_file(tmp_path), "--name", "r", "--threads", "1")
    runs = tmp_path / "ws" / "runs"
    assert sorted(p.name for p in runs.iterdir()) == ["LATEST", "r"]  # one run folder, named once for both
    run = runs / "r"
    assert [p.name for p in list_checkpoints(run)] == ["step-0000002", "step-0000004"]
    # rank 0 wrote every file and said everything; rank 1 wrote nothing and said nothing
    assert re.search(r"@events write=[1-9]\d* rename=[1-9]", out[0]) and "trained 4 steps" in out[0] and "2 in each of 2 processes" in out[0]
    assert "@events write=0 rename=0 delete=0" in out[1] and "trained" not in out[1] and "checkpoint" not in out[1]
    assert read_json(run / "meta.json")["timing"]["processes"] == 2

    single = train(CFG, train_data).trainer  # one process, the same global batch of 4 clouds
    last = run / "checkpoints" / "step-0000004"
    assert largest_difference(weights(last, MODEL_FILE), single.model.state_dict()) < ATOL
    assert largest_difference(weights(last, EMA_FILE), single.ema.model.state_dict()) < ATOL  # type: ignore[union-attr]
    with open(last / STATE_FILE, "rb") as f:
        losses = torch.load(f, weights_only=True)["losses"]
    torch.testing.assert_close(losses, torch.tensor(single.losses, dtype=torch.float64), rtol=1e-5, atol=0)  # the whole batch's loss

    # the 2-process checkpoint of step 2 continues in one process as if one process had made it
    resumed = train(CFG, train_data, resume=run / "checkpoints" / "step-0000002").trainer
    assert resumed.step == 4
    assert largest_difference(resumed.model.state_dict(), single.model.state_dict()) < ATOL
    assert largest_difference(resumed.ema.model.state_dict(), single.ema.model.state_dict()) < ATOL  # type: ignore[union-attr]


def test_torchrun_resumes_the_latest_run_of_one_process(train_data: TrainingData, tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")

    def stop(trainer: Trainer) -> None:  # one process stopped after the checkpoint of step 2
        if trainer.step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(CFG, train_data, run_dir=ws.new_run_dir("solo"), callbacks=[stop])
    out = torchrun(tmp_path, "train", "--workspace", ws.root, "--resume", "latest", "--threads", "1", hook=False)
    assert "resuming step-0000002" in out[0] and "trained 4 steps" in out[0] and "trained" not in out[1]
    last = list_checkpoints(ws.runs / "solo")[-1]
    assert last.name == "step-0000004"
    single = train(CFG, train_data).trainer
    assert largest_difference(weights(last, MODEL_FILE), single.model.state_dict()) < ATOL
    assert largest_difference(weights(last, EMA_FILE), single.ema.model.state_dict()) < ATOL  # type: ignore[union-attr]


def tiny_clip(folder: Path) -> Path:
    """The tiny random CLIP of tests/text/conftest.py (built from configs, saved with save_pretrained)."""
    text_tests = Path(__file__).with_name("text")
    sys.path.insert(0, str(text_tests))  # its own imports (tiny_models)
    try:
        spec = importlib.util.spec_from_file_location("text_test_fixtures", text_tests / "conftest.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(text_tests))
    return module.save_tiny_clip(folder)


def test_two_processes_embed_what_one_process_embeds(shapes_dataset: Dataset, tmp_path: Path) -> None:
    clip = tiny_clip(tmp_path / "clip")
    two = shutil.copytree(shapes_dataset.root, tmp_path / "two")
    out = torchrun(tmp_path, "embed", two, "--encoder", clip)
    assert "embedded 8 texts" in out[0] and "pairwise cosine similarity" in out[0] and "embedded" not in out[1]
    assert "@events write=0 rename=0 delete=0" in out[1] and (two / HISTOGRAM_FILE).exists()

    embed_dataset(shapes_dataset.root, EmbedConfig(encoder=str(clip), stats=False))  # one process
    one, shared = read_embeddings(shapes_dataset.root / EMBEDDINGS_FILE), read_embeddings(two / EMBEDDINGS_FILE)
    assert (shared.ids, shared.texts_sha256, shared.encoder) == (one.ids, one.texts_sha256, one.encoder)
    assert shared.over_budget == one.over_budget and one.over_budget  # the tiny CLIP reads 16 tokens: token counts were gathered too
    assert float((shared.embeddings - one.embeddings).abs().max()) < ATOL  # 4 distinct captions: 2 encoded by each process


@pytest.mark.parametrize("command", ["caption", "summarize"])
def test_caption_and_summarize_refuse_several_processes(command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # They do not share their work yet: every process would describe everything into the same files.
    from pointdiff.text.caption import caption
    from pointdiff.text.summarize import summarize

    run = {"caption": lambda: caption(tmp_path, cache_path=tmp_path / "c.jsonl"), "summarize": lambda: summarize(tmp_path, cache_path=tmp_path / "s.jsonl")}[command]
    for name, value in {"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1"}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(PointdiffError, match=f"`pointdiff {command}` runs in one process.*2 processes"):
        run()
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "0")
    with pytest.raises(PointdiffError) as one:  # one process under torchrun is fine: it fails on the empty folder instead
        run()
    assert "runs in one process" not in str(one.value)
    assert not list(tmp_path.iterdir())  # nothing written either way
