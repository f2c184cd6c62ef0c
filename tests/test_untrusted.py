"""Files a user may have been sent: each is refused with a clear PointdiffError, and none runs code.

Every "would run code" file here is a pickle whose ``__reduce__`` creates a marker file when it is
unpickled; each test asserts the marker was never created.
"""

from __future__ import annotations

import json
import pickle
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from tiny_runs import FAKE, add_embeddings

from pointdiff.checkpoint import list_checkpoints, load_run
from pointdiff.data.dataset import Dataset, Rejection
from pointdiff.data.ingest import IngestConfig, ingest
from pointdiff.data.training import load_training_data
from pointdiff.errors import PointdiffError
from pointdiff.recipe import TrainConfig
from pointdiff.report import inspect_path
from pointdiff.store import load_tensors, save_tensors
from pointdiff.text.embeddings import EncoderInfo, read_embeddings, write_embeddings
from pointdiff.training import train

pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py

SMALL = TrainConfig(arch="film", hidden=32, depth=1, fourier_features=8, embed_dim=16, clouds_per_step=4, points_per_cloud=64, steps=8, warmup_steps=1, checkpoint_every=4, sample_steps=2, precision="fp32", pairing="none")


class RunsCode:
    """Unpickling this creates ``marker``: what a malicious checkpoint would do instead."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204 - pickle protocol
        return (open, (str(self.marker), "w"))


def _ink(path: Path, dark: int = 0) -> Path:
    img = Image.new("L", (16, 16), 255)
    img.paste(dark, (4, 4, 12, 12))
    img.save(path)
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(dataset, run): 8 captioned drawings ingested, stand-in vectors, an 8-step run on them; copy before changing."""
    root = tmp_path_factory.mktemp("trained")
    (root / "images").mkdir()
    for k in range(8):
        _ink(root / "images" / f"d{k}.png", dark=10 * k)
        (root / "images" / f"d{k}.txt").write_text(f"drawing number {k}")
    ingest(root / "images", root / "dataset", IngestConfig(contact_sheet=0))
    add_embeddings(Dataset(root / "dataset"))
    train(SMALL, load_training_data(root / "dataset"), run_dir=root / "run")
    return root / "dataset", root / "run"


@pytest.fixture
def run(trained: tuple[Path, Path], tmp_path: Path) -> Path:
    """A fresh copy of the trained run (its meta names the original dataset, which is left alone)."""
    return Path(shutil.copytree(trained[1], tmp_path / "run"))


def newest(run: Path) -> Path:
    return list_checkpoints(run)[-1]


# ----------------------------------------------------------------------------- pickles


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch's note on the raw pickle, before it refuses it
@pytest.mark.parametrize("how", ["torch.save", "pickle"])
def test_a_swapped_state_pt_is_refused_and_runs_nothing(run: Path, trained: tuple[Path, Path], tmp_path: Path, how: str) -> None:
    marker = tmp_path / "pwned"
    state = newest(run) / "state.pt"
    if how == "torch.save":
        torch.save({"step": 8, "optimizer": RunsCode(marker)}, state)
    else:
        state.write_bytes(pickle.dumps(RunsCode(marker)))
    assert not marker.exists()
    with pytest.raises(PointdiffError, match=r"state\.pt cannot be read as a weights-only torch file"):
        train(replace(SMALL, steps=12), trained[0], run_dir=run, resume=run)
    assert not marker.exists()
    assert load_run(run).meta["step"] == 8  # drawing never reads state.pt: the weights are still usable


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".ckpt", ".bin"])
def test_a_pickle_given_as_data_or_model_runs_nothing(tmp_path: Path, suffix: str) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / f"model{suffix}"
    torch.save({"embeddings": RunsCode(marker), "point_clouds": torch.zeros(1, 4, 2)}, evil)
    with pytest.raises(PointdiffError):
        load_training_data(evil)  # train --data
    with pytest.raises(PointdiffError):
        load_run(evil)  # generate --model, eval
    with pytest.raises(PointdiffError):
        inspect_path(evil)  # inspect
    assert not marker.exists()


@pytest.mark.parametrize("name", ["ink_offsets.npy", "ink_xy.npy"])
def test_a_dataset_array_holding_a_pickle_is_refused(trained: tuple[Path, Path], tmp_path: Path, name: str) -> None:
    marker = tmp_path / "pwned"
    root = Path(shutil.copytree(trained[0], tmp_path / "dataset"))
    np.save(root / name, np.array([RunsCode(marker)], dtype=object), allow_pickle=True)
    for use in (Dataset, load_training_data, inspect_path):  # every reader of a dataset folder
        with pytest.raises(PointdiffError, match=f"{name} is not a plain array file"):
            use(root)
    assert not marker.exists()


# ----------------------------------------------------------------------------- checkpoints


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: {**m, "arch": "transformer"}, "does not describe a model"),
        (lambda m: {**m, "arch_config": {**m["arch_config"], "heads": 8}}, "does not describe a model"),
        (lambda m: {k: v for k, v in m.items() if k != "encoder"}, r"does not describe a model .*\(no encoder\)"),
        (lambda m: [m], "is not a checkpoint description"),
        (lambda m: "{not json", "is not valid JSON"),
    ],
    ids=["unknown-arch", "unknown-setting", "no-encoder", "a-list", "not-json"],
)
def test_a_meta_json_that_describes_no_known_model_is_refused(run: Path, trained: tuple[Path, Path], change, message: str) -> None:  # noqa: ANN001
    from pointdiff.pipeline import load

    meta_path = newest(run) / "meta.json"
    new = change(json.loads(meta_path.read_text()))
    meta_path.write_text(new if isinstance(new, str) else json.dumps(new))
    for use in (load_run, inspect_path, lambda p: load(p, device="cpu")):  # eval and generate load through the pipeline
        with pytest.raises(PointdiffError, match=message):
            use(run)
    with pytest.raises(PointdiffError):
        train(replace(SMALL, steps=12), trained[0], run_dir=run, resume=run)


@pytest.mark.parametrize("weights", ["model.safetensors", "ema.safetensors"])
@pytest.mark.parametrize("damage", ["transposed", "missing", "extra"])
def test_weights_that_do_not_fit_the_architecture_are_refused(run: Path, trained: tuple[Path, Path], weights: str, damage: str) -> None:
    path = newest(run) / weights
    tensors, metadata = load_tensors(path)
    name = next(k for k, v in tensors.items() if v.ndim == 2 and v.shape[0] != v.shape[1])
    if damage == "transposed":
        tensors[name] = tensors[name].T.contiguous()
    elif damage == "missing":
        del tensors[name]
    else:
        tensors["backdoor.weight"] = torch.zeros(3)
    save_tensors(path, tensors, metadata)
    use_ema = weights == "ema.safetensors"
    with pytest.raises(PointdiffError, match=rf"{weights} does not fit"):
        load_run(run, use_ema=use_ema)
    if use_ema:
        with pytest.raises(PointdiffError, match=rf"{weights} does not fit"):
            inspect_path(run)
    with pytest.raises(PointdiffError, match=rf"{weights} does not fit"):  # train --resume
        train(replace(SMALL, steps=12), trained[0], run_dir=run, resume=run)


# ----------------------------------------------------------------------------- embeddings


def test_embeddings_of_another_encoder_are_not_trained_on_or_reused(trained: tuple[Path, Path], run: Path, tmp_path: Path) -> None:
    from crash_hook import StandInEncoder

    from pointdiff.embedding import EmbedConfig, embed_dataset

    root = Path(shutil.copytree(trained[0], tmp_path / "dataset"))
    other = EncoderInfo(id=FAKE.id, family=FAKE.family, dim=FAKE.dim, max_tokens=FAKE.max_tokens, weights_sha256="0" * 64)  # same name, other weights
    add_embeddings(Dataset(root), info=other)
    with pytest.raises(PointdiffError, match="was trained on other data"):  # resuming the run on them (the encoder is part of the data's fingerprint)
        train(replace(SMALL, steps=12), root, run_dir=run, resume=run)
    result = embed_dataset(root, EmbedConfig(stats=False), encoder=StandInEncoder())  # `embed` re-encodes, reuses nothing
    assert result.reason.startswith("encoder changed") and result.reused == 0
    assert read_embeddings(root / "embeddings.safetensors").encoder == FAKE


@pytest.mark.parametrize("field, value, message", [
    ("encoder", "not json", "not JSON"),
    ("texts_sha256", json.dumps(["0" * 64] * 8), "out of date"),
    ("ids", json.dumps(["d0"] * 8), "out of date"),
])
def test_embeddings_whose_description_does_not_match_are_refused(trained: tuple[Path, Path], tmp_path: Path, field: str, value: str, message: str) -> None:
    root = Path(shutil.copytree(trained[0], tmp_path / "dataset"))
    path = root / "embeddings.safetensors"
    tensors, metadata = load_tensors(path)
    save_tensors(path, tensors, {**metadata, field: value})
    with pytest.raises(PointdiffError, match=message):
        load_training_data(root)


def test_embeddings_written_for_another_dimension_are_refused(trained: tuple[Path, Path], tmp_path: Path) -> None:
    root = Path(shutil.copytree(trained[0], tmp_path / "dataset"))
    stored = read_embeddings(root / "embeddings.safetensors")
    save_tensors(root / "embeddings.safetensors", {"embeddings": stored.embeddings[:, :8].contiguous()}, load_tensors(root / "embeddings.safetensors")[1])
    with pytest.raises(PointdiffError, match="8-d but encoder fake is 16-d"):
        load_training_data(root)
    write_embeddings(root / "embeddings.safetensors", stored)  # and the honest file loads again
    assert load_training_data(root).cond.shape == (8, 16)


# ----------------------------------------------------------------------------- symlinks


def test_links_that_leave_the_source_folder_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    (outside / "album").mkdir(parents=True)
    _ink(outside / "private.png")
    _ink(outside / "album" / "holiday.png", dark=40)
    (outside / "id_rsa").write_text("-----BEGIN PRIVATE KEY----- secret")
    src = tmp_path / "received"
    src.mkdir()
    _ink(src / "cat.png", dark=20)
    (src / "cat.txt").write_text("a cat")
    _ink(src / "dog.png", dark=60)
    (src / "dog.txt").symlink_to(outside / "id_rsa")  # a caption that would copy a secret into the dataset
    (src / "nice.png").symlink_to(outside / "private.png")  # an image from outside the folder
    (src / "album").symlink_to(outside / "album", target_is_directory=True)  # a folder outside
    (src / "copy-of-cat.png").symlink_to(src / "cat.png")  # a link that stays inside is followed
    (src / "metadata.jsonl").symlink_to(outside / "id_rsa")  # captions file from outside: not read either

    rep = ingest(src, tmp_path / "dataset", IngestConfig(recursive=True, contact_sheet=0))
    ds = Dataset(tmp_path / "dataset")
    assert ds.ids == ["cat", "dog"]
    assert ds.records[0].caption == "a cat" and ds.records[1].caption is None
    everything = "".join(p.read_text(errors="replace") for p in (tmp_path / "dataset").iterdir() if p.suffix in (".json", ".jsonl"))
    assert "secret" not in everything and "PRIVATE" not in everything
    why = {r.source: r for r in rep.rejected}
    for name in ("nice.png", "album", "dog.txt", "metadata.jsonl"):
        assert why[name].kind == Rejection.OUTSIDE and "outside" in why[name].detail, why[name]
    assert why["copy-of-cat.png"].kind == Rejection.DUPLICATE  # read (it is inside), and a copy of cat.png


def test_a_damaged_embeddings_file_is_a_clear_error_everywhere(trained: tuple[Path, Path], tmp_path: Path) -> None:
    root = Path(shutil.copytree(trained[0], tmp_path / "dataset"))
    path = root / "embeddings.safetensors"
    path.write_bytes(path.read_bytes()[:100])  # torn, or never a safetensors file
    with pytest.raises(PointdiffError, match="not a readable safetensors file"):
        load_training_data(root)  # train
    for target in (path, root):  # inspect FILE, inspect DATASET
        with pytest.raises(PointdiffError, match="embeddings.safetensors is not a readable safetensors file"):
            inspect_path(target)
