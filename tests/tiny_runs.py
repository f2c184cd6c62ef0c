"""A stand-in encoder, stand-in text vectors and a one-second recipe: what the run tests train with."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from pointdiff.data.dataset import Dataset
from pointdiff.data.training import load_training_data
from pointdiff.recipe import TrainConfig
from pointdiff.text.embeddings import EncoderInfo, StoredEmbeddings, dataset_texts, write_embeddings
from pointdiff.training import train
from pointdiff.workspace import Workspace

FAKE = EncoderInfo(id="fake", family="sentence", dim=16, max_tokens=32, weights_sha256="f" * 64)
# a small film model and short schedule: every part of the default recipe, in a second
# The per-point flow (what most tests exercise), small; the density model's tests set arch=density.
TINY = TrainConfig(arch="film", hidden=32, depth=2, fourier_features=16, embed_dim=32, clouds_per_step=4, points_per_cloud=128, steps=40, warmup_steps=5, checkpoint_every=20, cond_noise=0.0, sample_guidance=1.0)


def add_embeddings(ds: Dataset, info: EncoderInfo = FAKE, seed: int = 0, over_budget: dict[str, int] | None = None) -> Path:
    """Stand-in text vectors: one random unit vector per distinct caption (no encoder needed)."""
    texts = dataset_texts(ds)
    g = torch.Generator().manual_seed(seed)
    table = {t: torch.nn.functional.normalize(torch.randn(info.dim, generator=g), dim=0) for t in sorted(set(texts.texts))}
    emb = torch.stack([table[t] for t in texts.texts])
    path = ds.root / "embeddings.safetensors"
    write_embeddings(path, StoredEmbeddings(emb, info, texts.ids, texts.hashes, over_budget or {}))
    return path


def workspace_with_run(root: Path, dataset: Dataset, cfg: TrainConfig = TINY) -> Workspace:
    """A workspace holding a copy of ``dataset`` (embedded) and one run named "tiny", marked latest."""
    w = Workspace(root)
    shutil.copytree(dataset.root, w.dataset)
    add_embeddings(Dataset(w.dataset))
    run_dir = w.new_run_dir("tiny")
    train(cfg, load_training_data(w.dataset), run_dir=run_dir)
    w.set_latest(run_dir)
    return w
