"""Label scorers: read labels (orientation, expression, ...) off a point cloud.

Prompt accuracy asks whether a generated cloud shows what its prompt says. A scorer,
fitted on *real* labelled clouds only, reads the labels off each generated cloud; the
score is the share of clouds whose read labels match the prompt's. Two scorers:

* :class:`NearestCloudScorer` — the labels of the Chamfer-nearest real cloud (1-NN).
  No training, but Chamfer is dominated by the large strokes (head outline), so it
  reads orientation well and small strokes (mouth, eyes) poorly.
* :class:`ClassifierScorer` — a small CNN on the cloud's point density rasterised to a
  ``grid × grid`` image, one softmax head per label (the 2-D analogue of point-e's
  P-IS PointNet++ classifier). Trained on fresh point draws of real clouds each epoch, so
  it is invariant to which 1024 points were drawn.

Either scorer's accuracy on real held-out clouds is the *ceiling* of prompt accuracy: a
judge that cannot read real clouds cannot judge generated ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from pointdiff.data.sampler import PointSampler
from pointdiff.data.images import HALF_EXTENT
from pointdiff.metrics.distances import chamfer_matrix
from pointdiff.progress import ProgressFn, report
from pointdiff.store import load_tensors, save_tensors

Labels = dict[str, str]


class Scorer(Protocol):
    """Anything that reads labels off clouds."""

    label_names: tuple[str, ...]

    def predict(self, clouds: torch.Tensor) -> list[Labels]:
        """Labels of each cloud in ``clouds`` [B, P, 2]."""
        ...


def label_accuracy(predicted: Sequence[Labels], true: Sequence[Labels], names: Sequence[str]) -> dict[str, float]:
    """Per-label accuracy and ``joint`` (all labels right), as fractions in [0, 1]."""
    if len(predicted) != len(true):
        raise ValueError(f"{len(predicted)} predictions for {len(true)} truths")
    if not true:
        return {**{n: float("nan") for n in names}, "joint": float("nan")}
    out = {n: float(np.mean([p[n] == t[n] for p, t in zip(predicted, true)])) for n in names}
    out["joint"] = float(np.mean([all(p[n] == t[n] for n in names) for p, t in zip(predicted, true)]))
    return out


# ----------------------------------------------------------------------------- 1-NN


class NearestCloudScorer:
    """Labels of the nearest (by Chamfer) of a bank of labelled real clouds."""

    def __init__(self, bank: torch.Tensor, labels: Sequence[Labels], label_names: Sequence[str]):
        self.bank = bank.float().cpu()
        self.labels = list(labels)
        self.label_names = tuple(label_names)

    def predict(self, clouds: torch.Tensor) -> list[Labels]:
        """Labels of the Chamfer-nearest bank cloud, for each of ``clouds`` [B, P, 2]."""
        d = chamfer_matrix(clouds.float().cpu(), self.bank)
        return [{n: self.labels[j][n] for n in self.label_names} for j in d.argmin(axis=1)]


# ----------------------------------------------------------------------------- classifier


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run the small CNN on one thread: its convolutions are too small to share, and with two
    OpenMP threads on a busy 2-core machine training took 10-35x longer (75-240 s vs 7 s)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def rasterize(clouds: torch.Tensor, grid: int) -> torch.Tensor:
    """Point density on a ``grid × grid`` image over [-3, 3]² with bilinear splatting: [B, C, grid, grid].

    Each density image sums to ``grid²`` (mean 1 per cell) whatever the number of points, so
    clouds of any size look alike to the classifier. Row 0 is the top (y = +3). Colour clouds
    [B, P, 5] get three more channels: the same splat of each point's colour value / 3 (so
    density × mean colour in [-1, 1]; an empty cell is 0 in every channel). C = 1 or 4.
    """
    b, p, d = clouds.shape
    # Continuous cell coordinates: cell centres at integers 0 .. grid-1.
    u = (clouds[..., 0] + HALF_EXTENT) / (2 * HALF_EXTENT) * grid - 0.5
    v = (HALF_EXTENT - clouds[..., 1]) / (2 * HALF_EXTENT) * grid - 0.5
    u = u.clamp(0, grid - 1.0001)
    v = v.clamp(0, grid - 1.0001)
    u0, v0 = u.floor(), v.floor()
    fu, fv = u - u0, v - v0
    u0, v0 = u0.long(), v0.long()
    # channel 0: density; then, for colour, each colour value / 3 carried by the same weights
    values = torch.ones(b, p, 1, device=clouds.device)
    if d >= 5:
        values = torch.cat([values, clouds[..., 2:5].float() / HALF_EXTENT], dim=-1)
    c = values.shape[-1]
    img = torch.zeros(b, c, grid * grid, device=clouds.device)
    for du, wu in ((0, 1 - fu), (1, fu)):
        for dv, wv in ((0, 1 - fv), (1, fv)):
            cell = ((v0 + dv) * grid + (u0 + du))[:, None, :].expand(b, c, p)
            img.scatter_add_(2, cell, (wu * wv)[:, None, :] * values.transpose(1, 2))
    return (img * (grid * grid / p)).view(b, c, grid, grid)


class DensityCNN(nn.Module):
    """Three conv blocks on the density image (and colour channels), then one linear head per label."""

    def __init__(self, grid: int, classes: Sequence[int], width: int = 32, point_dim: int = 2):
        super().__init__()
        self.grid = grid
        c = width
        self.features = nn.Sequential(
            nn.Conv2d(4 if point_dim >= 5 else 1, c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c, 2 * c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * c, 2 * c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )  # fmt: skip
        flat = 2 * c * (grid // 8) ** 2  # position matters (a left-facing face is a shifted one): flatten, no global pool
        self.trunk = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(flat, 128), nn.ReLU())
        self.heads = nn.ModuleList(nn.Linear(128, k) for k in classes)

    def forward(self, clouds: torch.Tensor) -> list[torch.Tensor]:
        """Logits per label for clouds [B, P, 2] (or [B, P, 5] for a colour scorer)."""
        if self.features[0].in_channels == 1:  # a shape scorer reads a colour cloud's (x, y) alone
            clouds = clouds[..., :2]
        h = self.trunk(self.features(rasterize(clouds, self.grid)))
        return [head(h) for head in self.heads]


@dataclass
class ClassifierConfig:
    """How the classifier scorer is trained. Defaults chosen on the built-in faces: fitted on
    1050 real faces, tested on 140 others (see docs/measurement.md for the other settings tried)."""

    grid: int = 32  # 0.19 units per cell; 48 was no better on the expressions and 2x dearer
    width: int = 48  # channels of the first conv block: 16 -> 79 %, 32 -> 85 %, 48 -> 90 % expression
    epochs: int = 40  # passes over the real clouds, each with fresh point draws
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    num_points: int = 1024  # points per training draw: what the generator draws
    noise_std: float = 0.05  # max random point blur: generated strokes are soft, real ones are not; keeps the judge fair to them
    seed: int = 0
    point_dim: int = 2  # what it reads: 2 (x, y), 5 (x, y, r, g, b: colour channels too); set from the real clouds


@dataclass
class ClassifierScorer:
    """A trained :class:`DensityCNN` and the label vocabularies it reads."""

    model: DensityCNN
    label_names: tuple[str, ...]
    vocab: dict[str, list[str]]  # label name -> class names, in logit order
    config: ClassifierConfig = field(default_factory=ClassifierConfig)

    @torch.no_grad()
    def predict(self, clouds: torch.Tensor) -> list[Labels]:
        """Most likely class of each label for each of ``clouds`` [B, P, 2] ([B, P, 5] for a colour scorer)."""
        self.model.eval()
        out: list[Labels] = []
        for s in range(0, len(clouds), 256):
            with _one_thread():
                logits = self.model(clouds[s : s + 256].float().cpu())
            idx = [lg.argmax(1).tolist() for lg in logits]
            for k in range(len(idx[0])):
                out.append({n: self.vocab[n][idx[h][k]] for h, n in enumerate(self.label_names)})
        return out

    def save(self, path: str | Path) -> None:
        """Weights as safetensors, vocabularies and config in its metadata."""
        meta = {"label_names": json.dumps(self.label_names), "vocab": json.dumps(self.vocab), "config": json.dumps(asdict(self.config))}
        save_tensors(path, self.model.state_dict(), meta)

    @classmethod
    def load(cls, path: str | Path) -> "ClassifierScorer":
        """Read a scorer written by :meth:`save`."""
        tensors, meta = load_tensors(path)
        names = tuple(json.loads(meta["label_names"]))
        vocab = json.loads(meta["vocab"])
        cfg = ClassifierConfig(**json.loads(meta["config"]))
        model = DensityCNN(cfg.grid, [len(vocab[n]) for n in names], cfg.width, cfg.point_dim)
        model.load_state_dict(tensors)
        model.eval()
        return cls(model, names, vocab, cfg)


def train_classifier(
    sampler: PointSampler,
    labels: Sequence[Labels],
    label_names: Sequence[str],
    cfg: ClassifierConfig | None = None,
    progress: ProgressFn | None = None,
) -> ClassifierScorer:
    """Fit a :class:`ClassifierScorer` on real labelled clouds (fresh draws every epoch).

    Args:
        sampler: the real pictures (all their ink); sample ``i`` has ``labels[i]``.
        labels: true labels per sample.
        label_names: which labels to learn (each a head).
        cfg: training settings.
        progress: called per epoch as ``progress(epoch, epochs, loss=)``.
    """
    cfg = replace(cfg or ClassifierConfig(), point_dim=sampler.dim)  # a colour set's scorer reads colour
    names = tuple(label_names)
    vocab = {n: sorted({lab[n] for lab in labels}) for n in names}
    targets = torch.tensor([[vocab[n].index(lab[n]) for n in names] for lab in labels])
    g = torch.Generator().manual_seed(cfg.seed)
    with torch.random.fork_rng(devices=[]), _one_thread():  # seeded init and dropout; the caller's RNG is left alone
        torch.manual_seed(cfg.seed)
        model = DensityCNN(cfg.grid, [len(vocab[n]) for n in names], cfg.width, cfg.point_dim)
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        steps_per_epoch = max(1, -(-len(sampler) // cfg.batch_size))
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=cfg.epochs * steps_per_epoch)
        model.train()
        _fit(model, opt, sched, sampler, targets, cfg, g, progress)
    model.eval()
    return ClassifierScorer(model, names, vocab, cfg)


def _fit(model: DensityCNN, opt: torch.optim.Optimizer, sched: torch.optim.lr_scheduler.LRScheduler, sampler: PointSampler, targets: torch.Tensor, cfg: ClassifierConfig, g: torch.Generator, progress: ProgressFn | None) -> None:
    for epoch in range(cfg.epochs):
        order = torch.randperm(len(sampler), generator=g)
        total = 0.0
        for s in range(0, len(order), cfg.batch_size):
            idx = order[s : s + cfg.batch_size]
            x = sampler.sample(idx, cfg.num_points, g, jitter=True)
            if cfg.noise_std > 0:
                sigma = torch.rand(len(idx), 1, 1, generator=g) * cfg.noise_std
                x = x + torch.randn(x.shape, generator=g) * sigma
            logits = model(x)
            loss = sum(F.cross_entropy(lg, targets[idx, h]) for h, lg in enumerate(logits))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        report(progress, epoch + 1, cfg.epochs, loss=total / len(sampler))
