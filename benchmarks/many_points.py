"""Time and memory of drawing one cloud of many points (issue 13: 10 000 and 100 000 points).

    .venv/bin/python benchmarks/many_points.py RUN [--points 1024 10000 100000] [--out docs/points_10k.png] [--write]

Loads a trained run (``pointdiff.load``), draws one cloud per size with the run's own sampler
(as ``pointdiff generate`` does), and reports the median wall time of 3 draws after a warm-up,
and the memory the draw adds to the process (peak RSS after minus before, read from the
kernel). The model is per point, so time and memory grow linearly with the points; sampling
batches over clouds, and one cloud of 100 000 points is a single batch.
"""

from __future__ import annotations

import argparse
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import torch

import pointdiff

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report_md import md_table, replace_section  # noqa: E402

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", help="a run folder or checkpoint")
    ap.add_argument("--points", type=int, nargs="+", default=[1024, 10_000, 100_000])
    ap.add_argument("--prompt", default="Front-facing, smiling expression")
    ap.add_argument("--out", default=None, help="also save the largest-but-one size's picture here (.png)")
    ap.add_argument("--write", action="store_true", help="write the table into docs/benchmarks.md")
    args = ap.parse_args()
    pipe = pointdiff.load(args.run)
    machine = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}"
    rows = []
    for n in sorted(args.points):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # sizes run smallest first, so each raises the peak
        pipe(args.prompt, num_points=n, seed=0)  # warm-up
        walls = []
        for _ in range(3):
            start = time.perf_counter()
            pipe(args.prompt, num_points=n, seed=0)
            walls.append(time.perf_counter() - start)
        grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        wall = statistics.median(walls)
        rows.append([f"{n:,}", f"{wall * 1e3:,.0f} ms", f"{wall / n * 1e6:.1f}", f"+{grown:,.0f} MB"])
    table = md_table(["points", "wall (median of 3)", "µs per point", "peak memory added"], rows)
    print(machine + "\n" + table)
    if args.write:
        body = (
            "## Many points per cloud\n\n"
            f"`python benchmarks/many_points.py RUN` on {machine}: one cloud drawn by `pointdiff.load(RUN)(prompt, "
            "num_points=N)` with the run's own sampler, median of 3 after a warm-up; memory is the rise of the "
            "process's peak resident memory (the first row includes loading the text encoder).\n\n" + table + "\n"
        )
        replace_section(DOC, "many_points", body)
    if args.out:
        pipe(args.prompt, num_points=sorted(args.points)[-2] if len(args.points) > 1 else args.points[0], num_samples=2, seed=0).save(args.out)


if __name__ == "__main__":
    main()
