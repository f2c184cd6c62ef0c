"""pointdiff.report: what `inspect` knows about a dataset, an embeddings file, a run, a workspace."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from tiny_runs import FAKE, add_embeddings, workspace_with_run

from pointdiff.checkpoint import load_run
from pointdiff.data.dataset import Dataset
from pointdiff.data.training import load_training_data
from pointdiff.errors import PointdiffError
from pointdiff.recipe import TrainConfig
from pointdiff.report import DatasetReport, EmbeddingsReport, RunReport, inspect_path, inspect_workspace
from pointdiff.store import save_tensors, write_json
from pointdiff.text.embeddings import EncoderInfo, StoredEmbeddings, dataset_texts, write_embeddings
from pointdiff.workspace import Workspace

OTHER = EncoderInfo(id="other", family="sentence", dim=16, max_tokens=32, weights_sha256="e" * 64)
TINY = TrainConfig(arch="film", hidden=32, depth=1, fourier_features=8, embed_dim=16, clouds_per_step=4, points_per_cloud=64, steps=8, warmup_steps=1, checkpoint_every=4, sample_steps=2, precision="fp32", pairing="none")


@pytest.fixture
def ws(tmp_path: Path, shapes_dataset: Dataset) -> Workspace:
    """A workspace holding the shapes dataset (embedded) and one 8-step run, marked latest."""
    return workspace_with_run(tmp_path / "work", shapes_dataset, TINY)


# ----------------------------------------------------------------------------- datasets


def test_a_dataset_folder_without_embeddings(shapes_dataset: Dataset) -> None:
    rep = inspect_path(shapes_dataset.root)
    assert isinstance(rep, DatasetReport)
    assert rep.path == shapes_dataset.root and rep.num_samples == 8 and rep.rejected == 0
    assert rep.image_sizes == {"64x64": 8}
    inks = sorted(r.ink_count for r in shapes_dataset.records)
    assert rep.ink["total"] == sum(inks) == rep.info["total_ink"]
    assert (rep.ink["min"], rep.ink["max"], rep.ink["mean"]) == (inks[0], inks[-1], sum(inks) / 8)
    assert rep.text_sources == {"summary": 0, "caption": 0, "source": 8, "none": 0}
    assert (rep.captions, rep.summaries) == (0, 0)
    assert rep.labels == {"shape": {"a big ring in the middle": 2, "a horizontal bar": 2, "a small ring on the left": 2, "a vertical bar": 2}}
    assert rep.embeddings is None and rep.embedded == 0
    assert rep.contact_sheet is None and rep.fingerprint == shapes_dataset.fingerprint()


def test_a_dataset_folder_with_embeddings(shapes_dataset: Dataset) -> None:
    add_embeddings(shapes_dataset)
    rep = inspect_path(shapes_dataset.root)
    assert isinstance(rep, DatasetReport) and rep.embedded == 8
    assert rep.embeddings is not None and rep.embeddings.up_to_date is True
    sim = rep.embeddings.similarity
    assert sim is not None and sim.n == 8 and sim.duplicate_texts == 8  # every shape is there twice
    assert sim.max == pytest.approx(1.0)  # the copies share a vector
    assert all(a != b for a, b, _ in sim.most_similar)  # "most similar" pairs are different texts
    assert {a for a, _, _ in sim.most_similar + sim.least_similar} <= set(rep.labels["shape"])  # texts, not ids


# ----------------------------------------------------------------------------- embeddings files


def test_an_embeddings_file_beside_its_dataset(shapes_dataset: Dataset) -> None:
    path = add_embeddings(shapes_dataset, over_budget={"shape-000": 40})
    rep = inspect_path(path)
    assert isinstance(rep, EmbeddingsReport)
    assert (rep.rows, rep.dim, rep.over_budget, rep.unit_norm) == (8, 16, 1, True)
    assert rep.encoder == FAKE.to_dict()
    assert rep.up_to_date is True and rep.stale_reason is None
    # One sample's text changes after `embed`: the file says so.
    stored = dataset_texts(shapes_dataset)
    hashes = list(stored.hashes)
    hashes[3] = "0" * 64
    write_embeddings(path, StoredEmbeddings(torch.eye(8, 16), FAKE, stored.ids, hashes))
    rep = inspect_path(path)
    assert isinstance(rep, EmbeddingsReport)
    assert rep.up_to_date is False and rep.stale_reason == "texts: 1 changed"
    assert rep.unit_norm is True


def test_an_embeddings_file_on_its_own(shapes_dataset: Dataset, tmp_path: Path) -> None:
    alone = tmp_path / "elsewhere" / "vectors.safetensors"
    alone.parent.mkdir()
    shutil.copy(add_embeddings(shapes_dataset), alone)
    rep = inspect_path(alone)
    assert isinstance(rep, EmbeddingsReport)
    assert rep.up_to_date is None and rep.stale_reason is None  # nothing to compare with
    assert rep.similarity is not None and rep.similarity.most_similar[0][0].startswith("shape-")  # ids stand in for texts


# ----------------------------------------------------------------------------- runs


def test_a_run_and_one_of_its_checkpoints(ws: Workspace) -> None:
    run_dir = ws.latest_run()
    assert run_dir is not None
    rep = inspect_path(run_dir)
    assert isinstance(rep, RunReport)
    assert rep.path.name == "step-0000008" and rep.step == 8
    assert rep.checkpoints == ["step-0000004", "step-0000008"]
    assert rep.num_params == sum(p.numel() for p in load_run(run_dir).model.parameters())
    assert rep.encoder == FAKE.to_dict() and rep.config["points_per_cloud"] == 64
    assert rep.loss_curve == run_dir / "loss.png" and rep.loss_curve.exists()
    assert rep.dataset == str(ws.dataset) and rep.data_fingerprint == load_training_data(ws.dataset).fingerprint
    assert rep.dataset_matches is True  # the check recomputes the fingerprint training recorded
    assert not {"arch", "config", "encoder", "step", "data"} & set(rep.meta)  # shown above, not again
    early = inspect_path(run_dir / "checkpoints" / "step-0000004")
    assert isinstance(early, RunReport) and early.step == 4 and early.checkpoints == rep.checkpoints


def test_a_run_notices_when_its_data_changed_or_is_gone(ws: Workspace) -> None:
    run_dir = ws.latest_run()
    add_embeddings(Dataset(ws.dataset), info=OTHER, seed=1)  # re-embedded with another encoder
    changed = inspect_path(run_dir)
    assert isinstance(changed, RunReport) and changed.dataset_matches is False
    save_tensors(ws.dataset / "embeddings.safetensors", {"embeddings": torch.zeros(8, 16)}, {"encoder": FAKE.to_json()})
    unreadable = inspect_path(run_dir)  # an embeddings file without its ids
    assert isinstance(unreadable, RunReport) and unreadable.dataset_matches is None
    shutil.rmtree(ws.dataset)
    gone = inspect_path(run_dir)
    assert isinstance(gone, RunReport) and gone.dataset_matches is None  # cannot tell


# ----------------------------------------------------------------------------- anything else


def test_something_else_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PointdiffError, match="nothing at .*absent"):
        inspect_path(tmp_path / "absent")
    what = "is not a dataset folder, an embeddings file, or a training run/checkpoint"
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    (tmp_path / "empty").mkdir()
    write_json(tmp_path / "meta.json", {"step": 3})
    for thing in ("notes.txt", "empty", "meta.json"):
        with pytest.raises(PointdiffError, match=what) as err:
            inspect_path(tmp_path / thing)
        assert str(err.value).startswith(str(tmp_path / thing))


def test_a_safetensors_file_that_is_not_embeddings_is_not_taken_for_one(tmp_path: Path) -> None:
    save_tensors(tmp_path / "weights.safetensors", {"w": torch.zeros(2)}, {"encoder": "{}"})
    with pytest.raises(PointdiffError, match="is not a dataset folder, an embeddings file"):
        inspect_path(tmp_path / "weights.safetensors")


def test_the_workspace_report(ws: Workspace, tmp_path: Path) -> None:
    rep = inspect_workspace(ws)
    assert rep.root == ws.root and rep.runs == ["tiny"]
    assert rep.dataset is not None and rep.dataset.num_samples == 8
    assert rep.run is not None and rep.run.step == 8
    only_data = Workspace(tmp_path / "only-data")
    shutil.copytree(ws.dataset, only_data.dataset)
    rep = inspect_workspace(only_data)
    assert rep.dataset is not None and rep.run is None and rep.runs == []
    with pytest.raises(PointdiffError, match="nothing to inspect in workspace .*no dataset .*no runs"):
        inspect_workspace(Workspace(tmp_path / "empty"))
