"""Throughput of the flow recipes: training steps/s and sampling ms per 1024-point cloud.

Separate from the quality runs (benchmarks/flow_recipe.py) because timings need a quiet
machine while quality is compared at equal steps. Random stand-in data and conditions:
speed does not depend on what the points draw.

    python benchmarks/flow_speed.py --threads 2              # train + sample tables
    python benchmarks/flow_speed.py --threads 2 --only sample

Reports, per recipe: steps/s, points/s, achieved GFLOP/s (matmul FLOPs of forward+backward,
3 × 2 × MACs) against the measured matmul peak of the precision, and per sampler the time
of one 1024-point cloud (batch of 1) with the per-cloud conditioning cached.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

from pointdiff.config import load_config, preset_path
from pointdiff.data.sampler import PointSampler
from pointdiff.data.training import TrainingData
from pointdiff.flow.model import VelocityModel
from pointdiff.recipe import TrainConfig
from pointdiff.sample import SamplingSettings, make_noise, sample
from pointdiff.text.embeddings import EncoderInfo
from pointdiff.trainer import Trainer


def stand_in_data(n: int = 300, dim: int = 384, ink: int = 4000) -> TrainingData:
    g = torch.Generator().manual_seed(0)
    clouds = torch.rand(n, ink, 2, generator=g) * 6 - 3
    cond = torch.nn.functional.normalize(torch.randn(n, dim, generator=g), dim=1)
    info = EncoderInfo("stand-in", "sentence", dim, 256, "0" * 64)
    return TrainingData(PointSampler.from_clouds(clouds), cond, info, "stand-in", "random")


def matmul_peak(dtype: torch.dtype, n: int = 2048) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    for _ in range(2):
        a @ b
    t, k = time.perf_counter(), 0
    while time.perf_counter() - t < 1.0:
        a @ b
        k += 1
    return 2 * n**3 * k / (time.perf_counter() - t) / 1e9


def macs_per_point(model: VelocityModel) -> int:
    """Multiply-accumulates per point of the per-point Linear layers (per-cloud work excluded)."""
    per_cloud = {"cond_mlp", "time_mlp", "film"}
    total = 0
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Linear) and name.split(".")[0] not in per_cloud:
            total += mod.in_features * mod.out_features
    if model.arch == "reference":
        total -= model.cond_dim * model.hidden  # the text columns run once per cloud
    return total


def time_training(cfg: TrainConfig, data: TrainingData, seconds: float) -> dict[str, float]:
    tr = Trainer(replace(cfg, steps=10**9), data)
    for _ in range(5):
        tr.train_step()
    tr.elapsed, tr.losses = 0.0, []
    t = time.perf_counter()
    while time.perf_counter() - t < seconds:
        tr.train_step()
    rate = tr.step_rate()
    points = cfg.clouds_per_step * cfg.points_per_cloud
    gflops = 6 * macs_per_point(tr.model) * points * rate / 1e9
    return {"steps_s": rate, "points_s": rate * points, "gflops": gflops}


def time_sampling(model: VelocityModel, dim: int, solver: str, steps: int, precision: str, repeats: int = 5) -> float:
    cond = torch.nn.functional.normalize(torch.randn(1, dim), dim=1)
    settings, noise = SamplingSettings(solver=solver, steps=steps, precision=precision), make_noise(1, 1024, 0, 2.0)
    sample(model, cond, noise, settings)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        sample(model, cond, noise, settings)
        best = min(best, time.perf_counter() - t)
    return best * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=10.0, help="timing window per training recipe")
    ap.add_argument("--only", choices=["train", "sample"], default=None)
    ap.add_argument("--set", nargs="*", default=[], help="overrides of the default recipe KEY=VALUE")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from pointdiff.config import apply

    data = stand_in_data()
    seed = load_config(TrainConfig, preset=preset_path("train", "seed"))
    default = apply(TrainConfig(), dict(kv.split("=", 1) for kv in args.set))
    print(f"threads {args.threads}; matmul peak fp32 {matmul_peak(torch.float32):.0f} GFLOP/s, bf16 {matmul_peak(torch.bfloat16):.0f} GFLOP/s")
    recipes = {
        "seed": seed,
        "default": default,
        "default fp32": replace(default, precision="fp32"),
        "default no-OT": replace(default, pairing="none"),
    }
    if args.only != "sample":
        for name, cfg in recipes.items():
            r = time_training(cfg, data, args.seconds)
            print(f"train {name:16s} {r['steps_s']:7.1f} steps/s {r['points_s'] / 1e3:8.1f} k points/s {r['gflops']:6.0f} GFLOP/s ({cfg.precision})")
    if args.only != "train":
        for name, cfg, samplers in (("seed", seed, [("euler", 200), ("euler", 20)]), ("default", default, [("midpoint", 4), ("euler", 8), ("rk4", 2), ("midpoint", 10)])):
            model = Trainer(cfg, data).model.eval()
            for solver, steps in samplers:
                for precision in ("fp32", "bf16"):
                    ms = time_sampling(model, data.cond.shape[1], solver, steps, precision)
                    print(f"sample {name:8s} {solver:8s} {steps:3d} steps {precision}: {ms:7.1f} ms per 1024-point cloud")


if __name__ == "__main__":
    main()
