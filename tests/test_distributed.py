"""Several processes under torchrun: two CPU processes (gloo) train, embed, caption and summarize what one process does, and only rank 0 writes.

Each launch runs the real ``pointdiff`` command in 2 processes with ``python -m
torch.distributed.run --standalone`` (a free port), most through ``tests/crash_hook.py`` with no
fault (``none``): it reports on exit what its process wrote (``@events write=.. rename=..``).
``--tee 3`` prefixes every line with its process (``[default1]:``). The results are compared
with one in-process run of the same recipe and global batch: equal up to float rounding
(another split of the batch sums the gradients in another order). Caption and summarize
make the same words batch for batch, so their files are equal byte for byte.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch
import yaml
from tiny_runs import TINY

from pointdiff.checkpoint import EMA_FILE, MODEL_FILE, STATE_FILE, list_checkpoints
from pointdiff.config import to_dict
from pointdiff.data.dataset import CAPTIONS_FILE, EMBEDDINGS_FILE, SUMMARIES_FILE, Dataset, DatasetWriter, Record
from pointdiff.data.training import TrainingData
from pointdiff.distributed import SINGLE, Distributed, from_env
from pointdiff.embedding import HISTOGRAM_FILE, EmbedConfig, embed_dataset
from pointdiff.errors import PointdiffError
from pointdiff.store import load_tensors, read_json, read_jsonl
from pointdiff.text.caption import CaptionConfig, caption
from pointdiff.text.embeddings import read_embeddings
from pointdiff.text.summarize import SummarizeConfig, summarize
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


def test_one_process_does_every_round_in_order() -> None:
    assert list(SINGLE.in_rounds(["a", "b", "c"], str.upper)) == [[(0, "A")], [(1, "B")], [(2, "C")]]
    assert list(SINGLE.in_rounds([], str.upper)) == [] and SINGLE.on_each(lambda: 7) == [7]
    with pytest.raises(KeyError):  # one process's own error comes through as it is
        SINGLE.on_each(lambda: {}["missing"])


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


def text_tests(name: str) -> ModuleType:
    """A module of tests/text (its conftest, tiny_models), imported with its own imports."""
    text = Path(__file__).with_name("text")
    sys.path.insert(0, str(text))  # their own imports (tiny_models)
    try:
        spec = importlib.util.spec_from_file_location(f"text_tests_{name}", text / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(text))
    return module


def tiny_clip(folder: Path) -> Path:
    """The tiny random CLIP of tests/text/conftest.py (built from configs, saved with save_pretrained)."""
    return text_tests("conftest").save_tiny_clip(folder)


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


def pictured_dataset(root: Path, picks: Sequence[int] = range(8)) -> Path:
    """Samples ``picks`` of 8: rings of 7 sizes with a caption each, and sample 7 a copy of sample 0.

    Their image files are not there, so `caption` describes their ink; the copy is one image
    (and one text) for two samples.
    """
    w = DatasetWriter(root, {"source": "test:rings"})
    for k in picks:
        size = k % 7
        yy, xx = np.mgrid[0:32, 0:32]
        rows, cols = np.nonzero(np.abs(np.hypot(xx - 16, yy - 16) - (4 + 1.5 * size)) < 1)
        text = f"A ring of size {size} in the middle of the picture, drawn in one thin black line; " * 3
        w.add(Record(id=f"ring-{k}", source=f"ring-{k}.png", sha256=f"{k:064x}", width=32, height=32, ink_count=0, caption=text.strip()),
              np.stack([cols, rows], 1).astype(np.uint16))
    w.close()
    return root


def test_two_processes_caption_what_one_process_captions(tmp_path: Path) -> None:
    vlm = text_tests("tiny_models").build_llava_vlm(tmp_path / "vlm")
    one, two = pictured_dataset(tmp_path / "one"), pictured_dataset(tmp_path / "two")
    # 7 distinct pictures in batches of 2: [0 1] [2 3] | [4 5] [6]. Sampling is seeded once per
    # batch, so the words match only if each process describes exactly the batches one process makes.
    flags = ["--model", vlm, "--max-new-tokens", 8, "--batch-size", 2, "--sample", "--seed", 3, "--workspace", tmp_path / "ws"]
    out = torchrun(tmp_path, "caption", two, *flags, "--cache", tmp_path / "two.jsonl")
    assert re.search(r"described now\W+8\b", out[0]) and "described" not in out[1]
    assert "@events write=0 rename=0 delete=0" in out[1]  # rank 1 wrote nothing, not even the cache

    res = caption(one, CaptionConfig(model=str(vlm), max_new_tokens=8, batch_size=2, do_sample=True, seed=3), cache_path=tmp_path / "one.jsonl")
    assert res.generated == 8
    assert (two / CAPTIONS_FILE).read_bytes() == (one / CAPTIONS_FILE).read_bytes()
    assert len({r["text"] for r in read_jsonl(one / CAPTIONS_FILE)}) > 1
    # Rank 0 stored each round's descriptions as they came: rank 0's batch, then rank 1's.
    keys = [r["key"] for r in read_jsonl(tmp_path / "one.jsonl")]
    assert [r["key"] for r in read_jsonl(tmp_path / "two.jsonl")] == keys[0:2] + keys[4:6] + keys[2:4] + keys[6:7]


def test_two_processes_summarize_what_one_process_summarizes_and_reuse_its_cache(tmp_path: Path) -> None:
    lm, clip = text_tests("tiny_models").build_chat_lm(tmp_path / "lm"), tiny_clip(tmp_path / "clip")
    cfg = SummarizeConfig(model=str(lm), max_new_tokens=12, batch_size=2, do_sample=True, seed=3, encoder=str(clip))
    # An earlier run summarized the texts of rings 1 and 4 (retries included: the tiny CLIP reads 16 tokens).
    summarize(pictured_dataset(tmp_path / "earlier", picks=[1, 4]), cfg, cache_path=tmp_path / "earlier.jsonl")
    for name in ("one", "two"):
        shutil.copy(tmp_path / "earlier.jsonl", tmp_path / f"{name}.jsonl")
    one, two = pictured_dataset(tmp_path / "one"), pictured_dataset(tmp_path / "two")
    # batches [0 1] [2 3] | [4 5] [6]: both processes have a batch whose first text is cached and one that is not
    flags = ["--model", lm, "--encoder", clip, "--max-new-tokens", 12, "--batch-size", 2, "--sample", "--seed", 3, "--workspace", tmp_path / "ws"]
    out = torchrun(tmp_path, "summarize", two, *flags, "--cache", tmp_path / "two.jsonl")
    assert "summarized 8 texts" in out[0] and "6 by the model now, 2 from the cache" in out[0] and "summarized" not in out[1]
    assert "@events write=0 rename=0 delete=0" in out[1]

    res = summarize(one, cfg, cache_path=tmp_path / "one.jsonl")
    assert (res.generated, res.from_cache) == (6, 2) and res.retried  # the strict retry ran too
    assert (two / SUMMARIES_FILE).read_bytes() == (one / SUMMARIES_FILE).read_bytes()
    shared, single = read_jsonl(tmp_path / "two.jsonl"), read_jsonl(tmp_path / "one.jsonl")
    assert max(Counter(r["key"] for r in shared).values()) == 1  # nothing the earlier run answered was asked again
    key = lambda r: r["key"]  # noqa: E731
    assert sorted(shared, key=key) == sorted(single, key=key) and shared != single  # the same answers, stored as each round came


@pytest.mark.parametrize("command", ["caption", "summarize"])
def test_caption_and_summarize_refuse_a_torchrun_process_outside_the_group(command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # One of several processes that joined no group would describe everything into the others' files.
    run = {"caption": lambda: caption(tmp_path, cache_path=tmp_path / "c.jsonl"), "summarize": lambda: summarize(tmp_path, cache_path=tmp_path / "s.jsonl")}[command]
    for name, value in {"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1"}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(PointdiffError, match=f"`{command}` runs in process 1 of the 2 torchrun started, which joined no process group"):
        run()
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "0")
    with pytest.raises(PointdiffError) as one:  # one process under torchrun is fine: it fails on the empty folder instead
        run()
    assert "joined no process group" not in str(one.value)
    assert not list(tmp_path.iterdir())  # nothing written either way
