"""`pointdiff embed` through the real Typer app: the similarity table, no-op reruns, prompt checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pointdiff import embedding as embed_mod
from pointdiff.cli.app import app
from pointdiff.data.dataset import EMBEDDINGS_FILE, Dataset
from pointdiff.embedding import HISTOGRAM_FILE
from pointdiff.errors import PointdiffError
from pointdiff.text.encoders import TextEncoder, load_encoder

runner = CliRunner(env={"COLUMNS": "200", "POINTDIFF_WORKSPACE": ""})


@pytest.fixture(scope="module")
def minilm() -> TextEncoder:
    """The real default encoder, loaded once for this module."""
    return load_encoder("minilm")


@pytest.fixture
def shared_minilm(minilm: TextEncoder, monkeypatch: pytest.MonkeyPatch) -> TextEncoder:
    """Make the command reuse the loaded encoder instead of loading it per invocation."""
    monkeypatch.setattr(embed_mod, "load_encoder", lambda name, *a, **k: minilm if name == "minilm" else load_encoder(name, *a, **k))
    return minilm


def test_embed_dataset_then_nothing_to_do(shapes_dataset: Dataset, shared_minilm: TextEncoder) -> None:
    root = shapes_dataset.root
    result = runner.invoke(app, ["embed", str(root)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "embedded 8 texts" in out and "pairwise cosine similarity" in out
    assert "0.820" in out and "0.460" in out  # the reference numbers beside ours
    assert "most similar pairs" in out and "least similar pairs" in out and "duplicate texts: 4" in out
    assert (root / EMBEDDINGS_FILE).exists() and (root / HISTOGRAM_FILE).exists()

    again = runner.invoke(app, ["embed", str(root)])
    assert again.exit_code == 0, again.output
    assert "up to date" in again.output and "embedded" not in again.output


def test_embed_uses_the_workspace_dataset(shapes_dataset: Dataset, shared_minilm: TextEncoder, tmp_path: Path) -> None:
    ws = shapes_dataset.root.parent
    shapes_dataset.root.rename(ws / "dataset")
    result = runner.invoke(app, ["embed", "--workspace", str(ws), "--no-stats"])
    assert result.exit_code == 0, result.output
    assert (ws / "dataset" / EMBEDDINGS_FILE).exists() and "pairwise" not in result.output


def test_embed_text_shows_matrix_and_neighbours(shapes_dataset: Dataset, shared_minilm: TextEncoder) -> None:
    root = shapes_dataset.root
    assert runner.invoke(app, ["embed", str(root), "--no-stats"]).exit_code == 0
    result = runner.invoke(app, ["embed", str(root), "--text", "a ring on the left", "--text", "a flat line", "--top", "2"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "cosine similarity" in out and "#1" in out and "#2" in out
    assert "nearest dataset texts" in out and "a small ring on the left" in out and "a horizontal bar" in out


def test_embed_text_without_dataset(tmp_path: Path, shared_minilm: TextEncoder) -> None:
    result = runner.invoke(app, ["embed", "--workspace", str(tmp_path / "empty"), "--text", "left-facing neutral", "--text", "smiling, turned right"])
    assert result.exit_code == 0, result.output
    assert "cosine similarity" in result.output and "nearest" not in result.output


def test_unknown_encoder_is_a_clear_error(shapes_dataset: Dataset, tmp_path: Path) -> None:
    result = runner.invoke(app, ["embed", str(shapes_dataset.root), "--encoder", str(tmp_path / "no-such-model")])
    assert isinstance(result.exception, PointdiffError) and "does not exist" in str(result.exception)


def test_offline_flag_keeps_embed_from_the_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    calls: list[dict] = []

    def download(repo_id: str, **kw: object) -> str:
        calls.append(kw)
        from huggingface_hub.errors import LocalEntryNotFoundError

        raise LocalEntryNotFoundError("not cached")

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(huggingface_hub, "snapshot_download", download)
    runner = CliRunner(env={"COLUMNS": "200", "POINTDIFF_WORKSPACE": ""})
    result = runner.invoke(app, ["embed", "--text", "a face", "--encoder", "someone/encoder", "--offline", "-w", str(tmp_path)])
    assert "downloads are off" in str(result.exception)
    assert [k["local_files_only"] for k in calls] == [True]
