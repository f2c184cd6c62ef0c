"""How long a trained run takes to draw one 1024-point cloud, sampled the way `generate` samples it.

    python benchmarks/run_latency.py RUN [--guidance 1 --guidance 2] [--repeats 25]

One prompt vector, batch of one, the run's own solver, steps and precision; a fresh noise
seed per repeat (a latent model's prior then starts elsewhere each time). Prints the median
of the repeats after 5 warm-up draws. Time it on a quiet machine.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from pointdiff.checkpoint import load_run
from pointdiff.sample import SamplingSettings, make_noise, sample


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", help="a run or checkpoint folder")
    ap.add_argument("--guidance", type=float, action="append", default=None, help="guidance scales to time (repeatable; default: the run's)")
    ap.add_argument("--repeats", type=int, default=25)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    run = load_run(args.run)
    model = run.model.eval()
    cond = torch.nn.functional.normalize(torch.randn(1, run.meta["arch_config"]["cond_dim"], generator=torch.Generator().manual_seed(0)), dim=1)
    for guidance in args.guidance or [None]:
        settings = SamplingSettings.from_meta(run.meta, guidance=guidance)
        times = []
        for k in range(args.repeats + 5):
            noise = make_noise(1, 1024, k, settings.noise_std)
            start = time.perf_counter()
            sample(model, cond, noise, settings)
            times.append(time.perf_counter() - start)
        print(
            f"{run.meta['arch']}, guidance {settings.guidance:g}, {settings.solver} × {settings.steps}, {settings.precision}: "
            f"{1000 * statistics.median(times[5:]):.1f} ms per 1024-point cloud (median of {args.repeats})"
        )


if __name__ == "__main__":
    main()
