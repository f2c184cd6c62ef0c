"""Recipe experiments for the flow model: judge by samples, not by loss.

Trains one recipe for ``--steps`` steps on a captioned dataset and, at each ``--eval-at``
step, draws one cloud per evaluation caption with the EMA weights (or the raw weights when
the recipe keeps no EMA) and scores it against real clouds of the dataset:

* ``cd``: mean Chamfer distance (squared form, pointdiff.metrics) between the generated
  cloud and a fresh real draw of the same image (lower is better);
* ``acc`` / ``top5``: retrieval accuracy, the fraction of generated clouds whose
  Chamfer-nearest real cloud among *all* images is the right image (real vs real: the ceiling).

Usage (the numbers of the recipe table in the flow report come from runs like these)::

    pointdiff ingest builtin:faces --count 300 --seed 0 --out /tmp/fl/data
    pointdiff embed /tmp/fl/data
    python benchmarks/flow_recipe.py --data /tmp/fl/data --name default --steps 2000 --eval-at 1000 2000
    python benchmarks/flow_recipe.py --data /tmp/fl/data --name seed --preset seed --steps 2000
    python benchmarks/flow_recipe.py --data /tmp/fl/data --name no-ot --set pairing=none \\
        --samplers euler:200 midpoint:4 euler:8
    python benchmarks/flow_recipe.py --data /tmp/fl/data --test-run        # smoke: seconds

Results are appended as JSON lines to ``--results`` (default /tmp/fl/results.jsonl).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import torch

from pointdiff.config import apply, load_config, preset_path, to_dict
from pointdiff.data.training import TrainingData, load_training_data
from pointdiff.metrics import chamfer, chamfer_matrix
from pointdiff.recipe import TrainConfig
from pointdiff.sample import SamplingSettings, make_noise, sample
from pointdiff.trainer import Trainer


class Evaluator:
    """Scores a model on a fixed subset of captions against a fixed bank of real clouds."""

    def __init__(self, data: TrainingData, num_eval: int = 100, points: int = 512, seed: int = 1234):
        n = len(data.cond)
        rows = torch.arange(0, n, max(1, n // num_eval))[:num_eval]  # text rows; several may share a picture
        self.idx = data.picture[rows]
        self.points = points
        self.bank = data.sampler.sample_all(points, seed=seed)  # one real draw of every image
        self.fresh = data.sampler.sample_all(points, seed=seed + 1)[self.idx]  # another draw: the ceiling
        self.cond = data.cond[rows]

    def score(self, clouds: torch.Tensor) -> dict[str, float]:
        """cd / acc / top5 of clouds [len(idx), P, 2] (row k drawn for caption idx[k])."""
        cd = float(chamfer(clouds, self.bank[self.idx]).mean())
        d = torch.from_numpy(chamfer_matrix(clouds, self.bank))
        rank = (d < d[torch.arange(len(self.idx)), self.idx][:, None]).sum(1)  # how many images beat the right one
        return {"cd": round(cd, 5), "acc": round(float((rank == 0).float().mean()), 4), "top5": round(float((rank < 5).float().mean()), 4)}

    def ceiling(self) -> dict[str, float]:
        """Real clouds scored the same way."""
        return self.score(self.fresh)

    def evaluate(self, model: torch.nn.Module, solver: str, steps: int, noise_std: float, guidance: float = 1.0, precision: str = "fp32") -> dict[str, float]:
        t = time.perf_counter()
        settings = SamplingSettings(solver=solver, steps=steps, guidance=guidance, noise_std=noise_std, precision=precision)
        sol = sample(model, self.cond, make_noise(len(self.cond), self.points, 0, noise_std), settings)
        seconds = time.perf_counter() - t
        return {**self.score(sol.x), "nfe": sol.nfe, "sample_s": round(seconds, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="/tmp/fl/data")
    ap.add_argument("--name", default="run")
    ap.add_argument("--preset", default="default")
    ap.add_argument("--set", nargs="*", default=[], help="TrainConfig overrides KEY=VALUE")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--eval-at", type=int, nargs="*", default=None)
    ap.add_argument("--samplers", nargs="*", default=["midpoint:4", "euler:100"],
                    help="solver:steps[:g=S][:raw][:bf16] to evaluate (guidance S, raw = non-EMA weights); the first at every eval step, all at the last")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--num-eval", type=int, default=50)
    ap.add_argument("--points", type=int, default=256, help="points per evaluated cloud (generated and real)")
    ap.add_argument("--results", default="/tmp/fl/results.jsonl")
    ap.add_argument("--save", default=None, help="save the final trainer (model+EMA) here as a run folder")
    ap.add_argument("--test-run", action="store_true", help="tiny smoke run")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_config(TrainConfig, preset=None if args.preset == "default" else preset_path("train", args.preset))
    cfg = apply(cfg, dict(kv.split("=", 1) for kv in args.set), "--set")
    cfg = replace(cfg, steps=args.steps)
    if args.test_run:
        cfg = replace(cfg, steps=20, hidden=32, embed_dim=32, depth=2)
        args.num_eval, args.samplers, args.eval_at = 10, ["midpoint:2"], [20]
    data = load_training_data(args.data)
    ev = Evaluator(data, args.num_eval, args.points)
    eval_at = sorted(set(args.eval_at or [args.steps]))
    trainer = Trainer(cfg, data)
    out = Path(args.results)
    out.parent.mkdir(parents=True, exist_ok=True)
    base = {"name": args.name, "config": to_dict(cfg), "ceiling": ev.ceiling(), "threads": args.threads}
    for at in eval_at:
        trainer.run(at)
        for spec in args.samplers if at == eval_at[-1] else args.samplers[:1]:  # all samplers at the end only
            solver, steps, *opts = spec.split(":")
            guidance = float(next((o[2:] for o in opts if o.startswith("g=")), 1.0))
            model = trainer.model if "raw" in opts else trainer.sampling_model()
            model.eval()
            r = ev.evaluate(model, solver, int(steps), cfg.noise_std, guidance, "bf16" if "bf16" in opts else "fp32")
            model.train()
            row = {**base, "step": at, "sampler": spec, **r, "loss100": round(sum(trainer.losses[-100:]) / min(100, len(trainer.losses)), 4), "train_s": round(trainer.elapsed, 1), "steps_per_s": round(trainer.step_rate(), 2)}
            with open(out, "a") as f:
                f.write(json.dumps(row) + "\n")
            print(f"{args.name:24s} step {at:6d} {spec:16s} cd {r['cd']:.4f} acc {r['acc']:.2f} top5 {r['top5']:.2f} nfe {r['nfe']:4d} "
                  f"loss {row['loss100']:.3f} train {row['train_s']:.0f}s ({row['steps_per_s']:.1f} st/s) sample {r['sample_s']}s", flush=True)
    if args.save:
        from pointdiff.checkpoint import save_checkpoint

        save_checkpoint(args.save, trainer)


if __name__ == "__main__":
    main()
