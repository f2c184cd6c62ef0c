"""`pointdiff inspect` and `pointdiff eval` through Typer's CliRunner, on tiny data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tiny_runs import add_embeddings, workspace_with_run
from typer.testing import CliRunner

from pointdiff.cli.app import app
from pointdiff.data.dataset import Dataset
from pointdiff.errors import PointdiffError
from pointdiff.recipe import TrainConfig
from pointdiff.text.embeddings import EncoderInfo
from pointdiff.workspace import Workspace

TINY = TrainConfig(arch="film", hidden=32, depth=1, fourier_features=8, embed_dim=16, clouds_per_step=4, points_per_cloud=64, steps=8, warmup_steps=1, checkpoint_every=4, sample_steps=2, precision="fp32", pairing="none")

runner = CliRunner()


@pytest.fixture
def ws(tmp_path: Path, shapes_dataset: Dataset) -> Workspace:
    """A workspace holding the shapes dataset (embedded) and one short run marked latest."""
    return workspace_with_run(tmp_path / "work", shapes_dataset, TINY)


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
    assert "8 of 8" in out  # a run folder shows its newest checkpoint
    ckpt = run / "checkpoints" / "step-0000004"
    out = _run("inspect", str(ckpt))
    assert str(ckpt) in out and "4 of 8" in out  # a checkpoint folder shows that checkpoint
    # Re-embed with another encoder: inspect notices the run was trained on something else.
    add_embeddings(Dataset(ws.dataset), seed=1, info=EncoderInfo(id="other", family="sentence", dim=16, max_tokens=32, weights_sha256="e" * 64))
    assert "changed since training" in _run("inspect", str(run))


def test_inspect_embeddings_file_and_workspace(ws: Workspace) -> None:
    out = _run("inspect", str(ws.dataset / "embeddings.safetensors"))
    assert "8 × 16" in out and "matches the dataset's texts" in out
    out = _run("inspect", "--workspace", str(ws.root))
    assert "dataset" in out and "run" in out and "1 run" in out


def _fails_with(message: str, *args: str) -> None:
    """The command stops with a PointdiffError (one line, no traceback, in `pointdiff`) saying ``message``."""
    result = runner.invoke(app, list(args))
    assert result.exit_code != 0
    assert isinstance(result.exception, PointdiffError), repr(result.exception)
    assert message in str(result.exception), str(result.exception)


def test_inspect_nothing_there(tmp_path: Path) -> None:
    _fails_with(f"nothing to inspect in workspace {tmp_path / 'empty'}: no dataset", "inspect", "--workspace", str(tmp_path / "empty"))


def test_inspect_something_else(tmp_path: Path) -> None:
    _fails_with(f"nothing at {tmp_path / 'absent'}", "inspect", str(tmp_path / "absent"))
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    _fails_with("is not a dataset folder, an embeddings file, or a training run/checkpoint", "inspect", str(tmp_path / "notes.txt"))


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
    _fails_with("no model to evaluate: no runs in", "eval", "--workspace", str(tmp_path / "empty"))
