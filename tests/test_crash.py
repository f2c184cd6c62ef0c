"""kill -9 at the worst moments: training resumes exactly, datasets and embeddings are never lost.

Each test runs a real ``pointdiff`` process through ``tests/crash_hook.py``, which kills it with
SIGKILL (no cleanup, no ``finally``) at a chosen step of a write: a torn file, just before a
rename into place, half-way through deleting a folder, or after a training step. The short tests
below are part of the suite; ``test_a_kill_loop_*`` (marked slow, ``pytest -m slow``) kill one
run many times at moments drawn by a seeded RNG.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from tiny_runs import TINY, add_embeddings, workspace_with_run

from pointdiff.checkpoint import STATE_FILE, list_checkpoints, load_run
from pointdiff.data.dataset import Dataset
from pointdiff.data.ingest import IngestConfig, ingest
from pointdiff.data.training import load_training_data
from pointdiff.recipe import TrainConfig
from pointdiff.report import inspect_path
from pointdiff.store import read_jsonl, write_jsonl
from pointdiff.text.embeddings import read_embeddings
from pointdiff.training import plan_training, train
from pointdiff.workspace import Workspace

pytestmark = pytest.mark.usefixtures("one_thread")  # the in-process runs match the hook's --threads 1 bit for bit

HOOK = Path(__file__).with_name("crash_hook.py")


@dataclass
class Outcome:
    """How a hooked process ended."""

    returncode: int  # -9: killed
    steps: int  # the last training step it reported finishing (0: none)
    output: str

    @property
    def killed(self) -> bool:
        return self.returncode == -signal.SIGKILL


def hook(cwd: Path, spec: str, *args: object, kill_at_step: int | None = None, timeout: float = 300) -> Outcome:
    """Run ``pointdiff ARGS`` under the crash hook (see crash_hook.py); ``kill_at_step``: SIGKILL it from here once it reports that step."""
    proc = subprocess.Popen(
        [sys.executable, str(HOOK), spec, *map(str, args)], cwd=cwd, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "200", "POINTDIFF_WORKSPACE": ""},
    )
    lines, steps = [], 0
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            lines.append(line)
            if m := re.search(r"@step (\d+)", line):
                steps = int(m.group(1))
                if kill_at_step is not None and steps >= kill_at_step and proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
        proc.wait(timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return Outcome(proc.returncode, steps, "".join(lines))


def train_flags(cfg: TrainConfig) -> list[str]:
    """`pointdiff train` flags giving recipe ``cfg``: each setting that differs from the default as ``--set``."""
    base = TrainConfig()
    return [a for f in fields(cfg) if getattr(cfg, f.name) != getattr(base, f.name) for a in ("--set", f"{f.name}={getattr(cfg, f.name)}")]


def files_of(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by relative path (what "intact" compares)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def hidden(folder: Path) -> list[str]:
    """The hidden entries of ``folder`` (temporaries, half-built folders), lock files aside."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and not p.name.endswith(".lock"))


def assert_only_whole_checkpoints(run: Path) -> None:
    """What generate, eval and inspect can pick up: each listed checkpoint loads whole, and the newest is what a run folder means."""
    found = list_checkpoints(run)
    for ckpt in found:
        meta = load_run(ckpt, use_ema=False).meta  # the weights load (EMA and raw) ...
        load_run(ckpt)
        with open(ckpt / STATE_FILE, "rb") as f:
            state = torch.load(f, weights_only=True)  # ... and so does the state a resume needs
        assert int(state["step"]) == meta["step"] == int(ckpt.name.split("-")[1]) == len(state["losses"])
    if found:
        assert load_run(run).path == found[-1] and inspect_path(run).checkpoints == [p.name for p in found]


# ----------------------------------------------------------------------------- train


def test_a_train_killed_while_writing_a_checkpoint_resumes_from_the_last_whole_one_exactly(tmp_path: Path, shapes_dataset: Dataset) -> None:
    ws = workspace_with_run(tmp_path / "ws", shapes_dataset, replace(TINY, steps=2, checkpoint_every=2))  # an older finished run: LATEST names it
    cfg = replace(TINY, steps=30, checkpoint_every=10)
    out = hook(tmp_path, r"write:step-0000020.*state\.pt$", "train", "-w", ws.root, "--name", "crash", "--threads", 1, *train_flags(cfg))
    assert out.killed and out.steps == 20, out.output  # killed writing its second checkpoint: state.pt torn in half
    run, ckpts = ws.runs / "crash", ws.runs / "crash" / "checkpoints"
    assert [p.name for p in list_checkpoints(run)] == ["step-0000010"]
    assert [n for n in hidden(ckpts) if n.startswith(".step-0000020.tmp-")]  # the half-written one lies hidden
    assert_only_whole_checkpoints(run)

    plan = plan_training(ws, resume="latest")  # what `pointdiff train --resume latest` runs
    assert plan.resume_from == ckpts / "step-0000010"  # the killed run (not the finished one LATEST names), one interval back
    resumed = plan.run()
    whole = train(plan.cfg, plan.data)  # the same recipe, never interrupted
    assert resumed.losses == whole.losses  # the loss sequence continues exactly
    assert all(torch.equal(a, b) for a, b in zip(resumed.model.state_dict().values(), whole.model.state_dict().values()))
    assert sorted(p.name for p in ckpts.iterdir()) == ["step-0000010", "step-0000020", "step-0000030"]  # nothing half-written left


# ----------------------------------------------------------------------------- embed


def test_an_embed_killed_mid_write_leaves_the_old_embeddings_and_a_rerun_completes(tmp_path: Path, shapes_dataset: Dataset) -> None:
    from crash_hook import StandInEncoder

    from pointdiff.embedding import EmbedConfig, embed_dataset

    root = shapes_dataset.root
    add_embeddings(shapes_dataset)
    before = (root / "embeddings.safetensors").read_bytes()
    write_jsonl(root / "summaries.jsonl", [{"id": "shape-000", "text": "a ring, small, to the left"}])  # one text changed: embed must rewrite
    out = hook(tmp_path, "write:embeddings", "--stand-in-encoder", "embed", root, "--no-stats")
    assert out.killed, out.output  # died with a torn temporary file
    assert (root / "embeddings.safetensors").read_bytes() == before  # the previous embeddings, intact
    assert [n for n in hidden(root) if n.startswith(".embeddings.safetensors.")]
    result = embed_dataset(root, EmbedConfig(stats=False), encoder=StandInEncoder())  # the rerun
    assert result.encoded == 1 and result.reused == 7 and not hidden(root)  # done (the changed text only), and the torn file is gone
    assert read_embeddings(root / "embeddings.safetensors").encoder == StandInEncoder().info
    assert load_training_data(root).texts[0] == "a ring, small, to the left"


# ----------------------------------------------------------------------------- ingest


def _drawing(path: Path, k: int) -> None:
    img = np.full((24, 24), 255, np.uint8)
    img[4 + k % 8 : 12 + k % 8, 3:20] = 0
    Image.fromarray(img).save(path)


def _source(root: Path, count: int) -> Path:
    root.mkdir(exist_ok=True)
    for k in range(count):
        if not (root / f"d{k}.png").exists():
            _drawing(root / f"d{k}.png", k)
            (root / f"d{k}.txt").write_text(f"drawing number {k}")
    return root


def _without_time(files: dict[str, bytes]) -> dict[str, bytes]:
    return {k: re.sub(rb'"created": "[^"]*"', b"", v) for k, v in files.items()}


def test_an_ingest_killed_mid_build_leaves_the_old_dataset_and_a_rerun_completes(tmp_path: Path) -> None:
    src, out = _source(tmp_path / "images", 3), tmp_path / "ws" / "dataset"
    ingest(src, out, IngestConfig(contact_sheet=0))
    before = files_of(out)
    _source(src, 5)  # two more drawings: the new dataset differs
    killed = hook(tmp_path, "write:manifest", "ingest", src, "--out", out, "--overwrite", "--contact-sheet", 0)
    assert killed.killed, killed.output  # died writing the new manifest, beside the old dataset
    assert files_of(out) == before  # the previous dataset, intact
    assert [n for n in hidden(out.parent) if n.startswith(".dataset.ingest-")]  # the half-built one lies hidden
    ingest(src, out, IngestConfig(contact_sheet=0), overwrite=True)  # the rerun
    assert Dataset(out).ids == [f"d{k}" for k in range(5)] and not hidden(out.parent)


def test_an_ingest_killed_part_way_continues_from_its_record_and_ends_byte_identical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pointdiff.data.ingest as ingest_mod

    src, out = _source(tmp_path / "images", 80), tmp_path / "ws" / "dataset"  # 8 distinct drawings: duplicates too
    reference = tmp_path / "reference"
    ingest(src, reference, IngestConfig(contact_sheet=0, workers=1))
    # Killed as it makes its progress record durable the second time (64 images read): the record is torn in half.
    killed = hook(tmp_path, r"write@2:\.resume\.jsonl$", "ingest", src, "--out", out, "--contact-sheet", 0, "--workers", 2)
    assert killed.killed, killed.output
    (staging,) = [p for p in out.parent.iterdir() if p.name.startswith(".dataset.ingest-")]
    whole_rows = (staging / ".resume.jsonl").read_bytes().count(b"\n")  # the rows that survived the tear
    assert 16 <= whole_rows < 64
    read, real = [], ingest_mod.read_ink
    monkeypatch.setattr(ingest_mod, "read_ink", lambda path, *a: read.append(path.name) or real(path, *a))
    rep = ingest(src, out, IngestConfig(contact_sheet=0, workers=1))  # the rerun, same source and settings
    assert rep.resumed == whole_rows and read == [f"d{k}.png" for k in range(whole_rows, 80)]  # nothing on record read again
    assert _without_time(files_of(out)) == _without_time(files_of(reference)) and not hidden(out.parent)


# ----------------------------------------------------------------------------- kill loops (slow)


@pytest.mark.slow
def test_a_kill_loop_on_train_never_loses_more_than_one_interval_and_ends_exactly(tmp_path: Path, shapes_dataset: Dataset) -> None:
    rng = random.Random(12)
    ws = Workspace(tmp_path / "ws")
    shutil.copytree(shapes_dataset.root, ws.dataset)
    add_embeddings(Dataset(ws.dataset))
    cfg = replace(TINY, steps=60, checkpoint_every=6, keep_checkpoints=3)
    args = ["train", "-w", ws.root, "--threads", 1]
    calibration = hook(tmp_path, "none", *args, "--name", "whole", *train_flags(cfg))
    assert calibration.returncode == 0, calibration.output
    events = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", calibration.output.split("@events")[-1])}
    whole = load_run(ws.runs / "whole", use_ema=False)
    whole_losses = torch.load(list_checkpoints(ws.runs / "whole")[-1] / STATE_FILE, weights_only=True)["losses"]

    run, done, kills = ws.runs / "crash", 0, []
    first = [*args, "--name", "crash", *train_flags(cfg)]
    moments = ["step", "write", "rename", "delete"]
    rng.shuffle(moments)  # each kind of moment once, then two more at random
    for event in moments + [rng.choice(moments) for _ in range(2)]:
        left = (cfg.steps - done) / cfg.steps  # a resumed process does this share of the calibration's work
        if event == "step":
            spec, at = "none", rng.randint(done + 1, cfg.steps - 1)
        else:
            spec, at = f"{event}@{rng.randint(1, max(1, int(events[event] * left * 0.8)))}", None
            if event == "delete":
                spec += r":step-\d{7}(\.old-\d+)?$"  # deleting an old checkpoint (not a dead run's leftovers)
        resuming = (run / "checkpoints").exists() and list_checkpoints(run)
        out = hook(tmp_path, spec, *(first if not resuming else [*args, "--resume", "latest"]), kill_at_step=at)
        kills.append((spec if at is None else f"step {at}", out.returncode, out.steps))
        if not out.killed:
            assert out.returncode == 0, out.output
            break
        assert_only_whole_checkpoints(run)
        kept = list_checkpoints(run)
        resumable = int(kept[-1].name.split("-")[1]) if kept else 0
        assert out.steps - resumable <= cfg.checkpoint_every, (kills, resumable)  # at most one interval lost
        done = resumable
        if not kept:  # killed before its first checkpoint: nothing to resume, start it again
            shutil.rmtree(run)
    else:
        out = hook(tmp_path, "none", *args, "--resume", "latest")  # the last resume, left to finish
        assert out.returncode == 0, out.output
    assert sum(rc == -signal.SIGKILL for _, rc, _ in kills) >= 4, kills
    final = list_checkpoints(run)[-1]
    losses = torch.load(final / STATE_FILE, weights_only=True)["losses"]
    assert torch.equal(losses, whole_losses), kills  # the loss sequence of the uninterrupted run, step for step
    model = load_run(run, use_ema=False).model.state_dict()
    assert all(torch.equal(model[k], v) for k, v in whole.model.state_dict().items())
    assert not hidden(run / "checkpoints")


@pytest.mark.slow
def test_a_kill_loop_on_ingest_and_embed_never_loses_the_previous_data(tmp_path: Path) -> None:
    from crash_hook import StandInEncoder

    from pointdiff.embedding import EmbedConfig, embed_dataset

    rng = random.Random(5)
    src, out = _source(tmp_path / "images", 4), tmp_path / "ws" / "dataset"
    ingest(src, out, IngestConfig(contact_sheet=0))
    embed_dataset(out, EmbedConfig(stats=False), encoder=StandInEncoder())
    _source(src, 7)
    reference = tmp_path / "reference"
    ingest(src, reference, IngestConfig(contact_sheet=0))  # what the new dataset must be, once complete
    moments = ["write", "write:manifest", "rename", f"rename:^{re.escape(str(out))}$", "delete"]
    previous = files_of(out)  # the dataset as it stands: at out, or moved aside by a kill mid-swap
    for round in range(8):
        spec = rng.choice(moments) if round else f"rename:^{re.escape(str(out))}$"  # the first: between the swap's two renames
        if ":" not in spec:
            spec += f"@{rng.randint(1, 6)}"
        killed = hook(tmp_path, spec, "ingest", src, "--out", out, "--overwrite", "--contact-sheet", 0)
        if not killed.killed:
            assert killed.returncode == 0, killed.output
            assert _without_time(files_of(out)) == _without_time(files_of(reference))
            previous = files_of(out)
        elif out.exists():  # the previous dataset, untouched, or the new one, complete
            now = files_of(out)
            assert now == previous or _without_time(now) == _without_time(files_of(reference)), spec
            previous = now
        else:  # killed between the two renames: the previous one waits beside it, and the next ingest puts it back
            (aside,) = [p / "dataset" for p in out.parent.glob(".dataset.old-*") if (p / "dataset").is_dir()]
            assert files_of(aside) == previous, spec
    ingest(src, out, IngestConfig(contact_sheet=0), overwrite=True)
    assert _without_time(files_of(out)) == _without_time(files_of(reference)) and not hidden(out.parent)

    embed_dataset(out, EmbedConfig(stats=False), encoder=StandInEncoder())
    for round in range(6):
        old = (out / "embeddings.safetensors").read_bytes()
        rows = read_jsonl(out / "summaries.jsonl") + [{"id": "d0", "text": f"drawing zero, take {round}"}]
        write_jsonl(out / "summaries.jsonl", rows)  # a changed text: embed must write again
        spec = rng.choice(["write:embeddings", "rename:embeddings.safetensors$"])
        killed = hook(tmp_path, spec, "--stand-in-encoder", "embed", out, "--no-stats")
        assert killed.killed, killed.output
        assert (out / "embeddings.safetensors").read_bytes() == old
    result = embed_dataset(out, EmbedConfig(stats=False), encoder=StandInEncoder())
    assert result.encoded >= 1 and load_training_data(out).texts[0] == "drawing zero, take 5" and not hidden(out)
