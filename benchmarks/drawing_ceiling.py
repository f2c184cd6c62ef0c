"""How well the model draws when its condition names exactly one picture.

    python benchmarks/drawing_ceiling.py pointdiff-work/demo/dataset --steps 3000 --cache pointdiff-work/demo/cache/eval
    python benchmarks/drawing_ceiling.py DATASET --steps 3000 --set fourier_scale=3.0
    python benchmarks/drawing_ceiling.py DATASET --steps 3000 --pool 1024

Captions that name only labels ("left-facing, smiling") match many faces, so a per-point
model draws their mixture (``mixture_ceiling.py``). This script takes that out: it trains
the recipe (``TrainConfig`` defaults, changed by ``--set``) with one random unit vector per
*picture* in place of its captions, so every condition means one picture. It then draws
one 1024-point cloud for each of 200 pictures from its vector and reads its labels with
eval's scorer, beside the same pictures' real clouds. A built-in labelled dataset
(faces) is needed for the labels.

``--pool N`` pairs noise to N points of each picture (Knothe–Rosenblatt order: sort by x
into strips, each strip by y) and trains on a random ``points_per_cloud`` of those pairs:
a coupling closer to the deterministic transport map than pairing 64 points.

``--grid C`` gives each picture its own learned C × 32 × 32 feature map (an auto-decoder:
a table indexed by the picture, as DeepSDF learns its codes), which each point reads
bilinearly at its position and adds to its first layer: what per-picture *spatial* capacity,
the kind a latent flow model's spatial latent would give, does for drawing.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from pointdiff import trainer as trainer_module
from pointdiff.config import apply
from pointdiff.data.training import TrainingData
from pointdiff.evaluate.sets import get_scorer
from pointdiff.flow.model import FiLMResNet
from pointdiff.flow.path import _cells
from pointdiff.metrics import label_accuracy
from pointdiff.recipe import TrainConfig
from pointdiff.sample import SamplingSettings, make_noise, sample
from pointdiff.trainer import Trainer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from labelled_data import open_labelled  # noqa: E402


def kr_pair(x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
    """x0 reordered so that its k-th point in Knothe–Rosenblatt order meets x1's k-th.

    The order is the chunked pairing's cell order (``flow.path._cells``) with cells of one point.
    """
    b, n, _ = x1.shape
    oa, ob = _cells(x0, 1).reshape(b, n), _cells(x1, 1).reshape(b, n)
    perm = torch.empty_like(ob).scatter_(1, ob, oa)
    return torch.gather(x0, 1, perm[..., None].expand_as(x0))


class PoolTrainer(Trainer):
    """The recipe's trainer, pairing noise on ``pool`` points per picture and keeping a subset."""

    def __init__(self, cfg: TrainConfig, data: TrainingData, pool: int):
        super().__init__(cfg, data)
        self.pool = pool

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, None]:
        cfg, g = self.cfg, self.generator
        idx = self.clouds_at(step)
        x1 = self.data.sampler.sample(self.data.picture[idx], self.pool, g, jitter=cfg.jitter)
        x0 = kr_pair(torch.randn(x1.shape, generator=g) * cfg.noise_std, x1)
        keep = torch.argsort(torch.rand(x1.shape[:2], generator=g), dim=1)[:, : cfg.points_per_cloud, None].expand(-1, -1, 2)
        t = torch.rand(len(idx), generator=g)
        drop = (torch.rand(len(idx), generator=g) >= cfg.cond_dropout).float()
        return torch.gather(x0, 1, keep), torch.gather(x1, 1, keep), t, self.cond[idx] * drop[:, None], None


class GridFiLM(FiLMResNet):
    """The default network plus a learned feature map per picture, read at each point.

    The condition is a one-hot picture vector (zero: the null condition, which reads a
    zero map); the map of picture k is row k of ``table``.
    """

    arch = "grid-table"
    channels, res = 16, 32

    def __init__(self, cond_dim: int, **kwargs: object):
        super().__init__(cond_dim, **kwargs)  # type: ignore[arg-type]
        self.table = torch.nn.Parameter(torch.zeros(cond_dim, self.channels * self.res * self.res))
        self.read = torch.nn.Linear(self.channels, self.hidden)

    def condition(self, cond: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.cond_mlp(cond * math.sqrt(self.cond_dim)), cond @ self.table], dim=1)

    def velocity(self, x: torch.Tensor, t: torch.Tensor, ctx: torch.Tensor, point_input: torch.Tensor | None = None) -> torch.Tensor:
        e, grid = ctx[:, : self.embed_dim], ctx[:, self.embed_dim :].reshape(len(ctx), self.channels, self.res, self.res)
        # the canvas is [-3, 3]: grid_sample wants [-1, 1]; rows run top to bottom, y up
        at = torch.stack([x[..., 0], -x[..., 1]], dim=-1)[:, :, None, :] / 3
        feats = F.grid_sample(grid.to(x.dtype), at.to(grid.dtype), align_corners=False)[..., 0].transpose(1, 2)
        return super().velocity(x, t, e, point_input=self.read(feats.to(x.dtype)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", help="a built-in labelled dataset folder, embedded (`pointdiff embed`)")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE", help="a TrainConfig setting")
    ap.add_argument("--pool", type=int, default=0, help="pair noise on this many points per picture (0: the recipe's pairing)")
    ap.add_argument("--grid", type=int, default=0, help="give each picture a learned feature map of this many channels (0: none)")
    ap.add_argument("--cache", default=None, help="eval's cache folder (reuses its trained scorer)")
    args = ap.parse_args()
    ds, source, data = open_labelled(args.dataset)
    g = torch.Generator().manual_seed(123)
    ids = torch.nn.functional.normalize(torch.randn(data.num_pictures, data.cond.shape[1], generator=g), dim=1)
    if args.grid:  # one-hot picture vectors index the map table
        ids = torch.eye(data.num_pictures)
        GridFiLM.channels = args.grid
        trainer_module.build_model = lambda arch, cond_dim, **kw: GridFiLM(cond_dim, **kw)  # the recipe's film settings
    data.cond = ids[data.picture]  # every caption of a picture gets the picture's own vector
    cfg = apply(TrainConfig(steps=args.steps), dict(s.split("=", 1) for s in args.sets), "--set")
    trainer = PoolTrainer(cfg, data, args.pool) if args.pool else Trainer(cfg, data)
    start = time.perf_counter()
    trainer.run()
    print(f"trained {cfg.steps} steps in {time.perf_counter() - start:.0f} s ({trainer.step_rate():.1f} steps/s)", flush=True)
    scorer = get_scorer(cache_dir=args.cache, source=source)
    pictures = list(range(0, data.num_pictures, max(1, data.num_pictures // 200)))[:200]
    rows = [int((data.picture == p).nonzero()[0]) for p in pictures]
    drawn = sample(trainer.sampling_model().eval(), data.cond[rows], make_noise(len(rows), 1024, 7, cfg.noise_std), SamplingSettings(precision="bf16")).x
    real = data.sampler.sample(torch.tensor(pictures), 1024, torch.Generator().manual_seed(1))
    truth = [{k: str(ds.records[p].labels[k]) for k in source.labels} for p in pictures]
    for name, clouds in (("drawn from the picture's vector", drawn), ("real clouds of the same pictures", real)):
        acc = label_accuracy(scorer.predict(clouds), truth, source.labels)
        print(f"{name:>34}: " + " / ".join(f"{k} {acc[k]:.1%}" for k in (*source.labels, "joint")))


if __name__ == "__main__":
    main()
