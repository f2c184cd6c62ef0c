"""`pointdiff inspect` and `pointdiff eval` through Typer's CliRunner, on tiny data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from pointdiff.cli.app import app
from pointdiff.data.dataset import Dataset
from pointdiff.text.embeddings import EncoderInfo, StoredEmbeddings, dataset_texts, write_embeddings
from pointdiff.train import TrainConfig, load_training_data, train
from pointdiff.workspace import Workspace

FAKE = EncoderInfo(id="fake", family="sentence", dim=16, max_tokens=32, weights_sha256="f" * 64)
TINY = TrainConfig(hidden=32, depth=1, fourier_features=8, embed_dim=16, clouds_per_step=4, points_per_cloud=64, steps=8, warmup_steps=1, checkpoint_every=4, sample_steps=2, precision="fp32", pairing="none")

runner = CliRunner()


def _embed(ds: Dataset, seed: int = 0, info: EncoderInfo = FAKE) -> None:
    """Stand-in text vectors (one random unit vector per distinct caption): no encoder needed."""
    texts = dataset_texts(ds)
    g = torch.Generator().manual_seed(seed)
    table = {t: torch.nn.functional.normalize(torch.randn(info.dim, generator=g), dim=0) for t in sorted(set(texts.texts))}
    emb = torch.stack([table[t] for t in texts.texts])
    write_embeddings(ds.root / "embeddings.safetensors", StoredEmbeddings(emb, info, texts.ids, texts.hashes))


@pytest.fixture
def ws(tmp_path: Path, shapes_dataset: Dataset) -> Workspace:
    """A workspace holding the shapes dataset (embedded) and one short run marked latest."""
    w = Workspace(tmp_path / "work")
    shutil.copytree(shapes_dataset.root, w.dataset)
    _embed(Dataset(w.dataset))
    run_dir = w.new_run_dir("tiny")
    train(TINY, load_training_data(w.dataset), run_dir=run_dir)
    w.set_latest(run_dir)
    return w


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Long temp paths must not wrap inside table cells, or the assertions would miss them."""
    # COLUMNS, not console.width: setting the width pins it, and undoing the patch would pin
    # the old value for every later test in the session.
    monkeypatch.setenv("COLUMNS", "250")


def _run(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_inspect_dataset(ws: Workspace) -> None:
    out = _run("inspect", str(ws.dataset))
    assert "samples" in out and "8" in out
    assert "label: shape" in out  # the label distribution
    assert "8 of 8 samples, fake 16-d, up to date" in out
    assert "pairwise cosine similarity" in out


def test_inspect_run_and_checkpoint(ws: Workspace) -> None:
    run = ws.latest_run()
    out = _run("inspect", str(run))
    assert "film" in out and "parameters" in out and "step" in out
    assert "unchanged" in out  # the dataset is still what the run trained on
    assert "loss.png" in out and "points_per_cloud" in out
    ckpt = sorted((run / "checkpoints").iterdir())[0]
    assert "step-0000004" in _run("inspect", str(ckpt)) or "step-0000008" in _run("inspect", str(ckpt))
    # Re-embed with another encoder: inspect notices the run was trained on something else.
    _embed(Dataset(ws.dataset), seed=1, info=EncoderInfo(id="other", family="sentence", dim=16, max_tokens=32, weights_sha256="e" * 64))
    assert "changed since training" in _run("inspect", str(run))


def test_inspect_embeddings_file_and_workspace(ws: Workspace) -> None:
    out = _run("inspect", str(ws.dataset / "embeddings.safetensors"))
    assert "8 × 16" in out and "matches the dataset's texts" in out
    out = _run("inspect", "--workspace", str(ws.root))
    assert "dataset" in out and "run" in out and "1 run" in out


def test_inspect_nothing_there(tmp_path: Path) -> None:
    result = runner.invoke(app, ["inspect", "--workspace", str(tmp_path / "empty")])
    assert result.exit_code != 0


def test_eval_other_dataset_gives_set_metrics_and_says_why_no_accuracy(ws: Workspace, tmp_path: Path) -> None:
    out_dir = tmp_path / "eval"
    out = _run("eval", "--workspace", str(ws.root), "--steps", "2", "--solver", "euler", "--num-samples", "2", "--seed", "3", "--out", str(out_dir))
    assert "1-NNA" in out and "MMD" in out and "COV" in out and "Chamfer to reference" in out and "EMD to reference" in out
    assert "prompt accuracy needs labelled pictures" in out
    numbers = json.loads((out_dir / "eval.json").read_text())
    assert numbers["kind"] == "dataset" and numbers["settings"]["steps"] == 2 and numbers["settings"]["seed"] == 3
    assert numbers["metrics"]["prompt_accuracy"] is None
    assert 0 <= numbers["metrics"]["chamfer_sets"]["nna"] <= 1
    assert (out_dir / "grid.png").stat().st_size > 1000


def test_eval_without_runs_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", "--workspace", str(tmp_path / "empty")])
    assert result.exit_code != 0
