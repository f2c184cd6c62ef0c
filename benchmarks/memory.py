"""Peak memory of ingest, embed and train as the image folder grows (issue 13: datasets larger than memory).

    .venv/bin/python benchmarks/memory.py                         # 1k and 100k images, updates docs/benchmarks.md
    .venv/bin/python benchmarks/memory.py --sizes 1000 10000 --no-write

For each size N it writes a folder of N synthetic 64×64 line drawings with one caption each
(``metadata.jsonl``), then runs the real commands in a child process each —
``pointdiff ingest``, ``pointdiff embed`` (the shipped MiniLM) and ``pointdiff train`` for a
few steps — and reads each child's peak resident memory from the kernel (``wait4``). Flat
means: the figure does not grow with N the way the data does; the last line gives what each
stage grows by per image between each two sizes. Linux or macOS only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
SHAPES = ("line", "box", "ring", "cross")


def write_folder(folder: Path, n: int, seed: int = 0) -> None:
    """``n`` 64×64 drawings of 1-3 random shapes, each captioned with what it shows."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    with open(folder / "metadata.jsonl", "w", encoding="utf-8") as meta:
        for k in range(n):
            img = Image.new("L", (64, 64), 255)
            draw = ImageDraw.Draw(img)
            names = [rng.choice(SHAPES) for _ in range(rng.randint(1, 3))]
            for name in names:
                x, y, r = rng.randint(12, 52), rng.randint(12, 52), rng.randint(4, 11)
                if name == "line":
                    draw.line([(x - r, y - r), (x + r, y + r)], fill=0, width=2)
                elif name == "box":
                    draw.rectangle([x - r, y - r, x + r, y + r], outline=0, width=2)
                elif name == "ring":
                    draw.ellipse([x - r, y - r, x + r, y + r], outline=0, width=2)
                else:
                    draw.line([(x - r, y), (x + r, y)], fill=0, width=2)
                    draw.line([(x, y - r), (x, y + r)], fill=0, width=2)
            name = f"{k:06d}.png"
            img.save(folder / name)
            meta.write(json.dumps({"file_name": name, "text": f"a drawing of {k}: " + ", ".join(names)}) + "\n")


def peak_rss(cmd: list[str]) -> tuple[float, float]:
    """(peak resident MB, wall seconds) of one child process running ``cmd``.

    Linux carries a parent's peak over fork and exec, so a child's figure is at least this
    process's own resident memory: this script imports neither torch nor pointdiff to keep
    that floor low (about 30 MB, far below any command's figure).
    """
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr.read().decode() if proc.stderr else ''}")
    # ru_maxrss is kB on Linux, bytes on macOS
    return usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024), wall  # MiB


def growth_per_image(results: dict[int, dict[str, tuple[float, float]]]) -> list[tuple[int, int, dict[str, float]]]:
    """Bytes of peak memory each stage adds per image between each pair of consecutive sizes: ``[(small, large, {stage: bytes})]``."""
    sizes = sorted(results)
    return [
        (small, large, {stage: (results[large][stage][0] - results[small][stage][0]) * 2**20 / (large - small) for stage in results[small]})
        for small, large in zip(sizes, sizes[1:])
    ]


def measure(n: int, work: Path, steps: int) -> dict[str, tuple[float, float]]:
    """Peak MB and wall seconds of ingest, embed and train on ``n`` synthetic images."""
    folder, ws = work / f"images-{n}", work / f"ws-{n}"
    if not (folder / "metadata.jsonl").exists():
        write_folder(folder, n)
    pd = [sys.executable, "-m", "pointdiff"]
    return {
        "ingest": peak_rss([*pd, "ingest", str(folder), "--workspace", str(ws), "--overwrite"]),
        "embed": peak_rss([*pd, "embed", "--workspace", str(ws)]),
        "train": peak_rss([*pd, "train", "--workspace", str(ws), "--steps", str(steps), "--checkpoint-every", str(steps), "--name", "mem"]),
    }


def main() -> None:
    """Measure, print a table, update docs/benchmarks.md."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 100_000], help="image counts to compare")
    p.add_argument("--steps", type=int, default=200, help="training steps per size")
    p.add_argument("--work", type=Path, default=None, help="folder for the images and workspaces (default: a temporary one)")
    p.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        results = {n: measure(n, work, args.steps) for n in args.sizes}
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from report_md import md_table, replace_section  # matplotlib: imported after measuring, to keep this process small

    rows = [[stage, *(f"{results[n][stage][0]:,.0f} MB ({results[n][stage][1]:,.0f} s)" for n in args.sizes)] for stage in ("ingest", "embed", "train")]
    table = md_table(["stage", *(f"{n:,} images" for n in args.sizes)], rows)
    growth = " ".join(
        f"Growth per image from {small:,} to {large:,} images: " + ", ".join(f"{stage} {b:,.0f} bytes" for stage, b in slope.items()) + "."
        for small, large, slope in growth_per_image(results)
    )
    print(table)
    print(growth)
    if not args.no_write:
        body = (
            "## Peak memory as the dataset grows\n\n"
            f"`python benchmarks/memory.py --sizes {' '.join(map(str, args.sizes))} --steps {args.steps}` on {platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} cores: peak resident memory of each command (wall time in brackets) on synthetic 64×64 line "
            "drawings with one caption each, the default recipe training. Ingest streams pictures, manifest rows and its "
            "folder listing to disk and holds each image's hash (for duplicates); training reads the text vectors from "
            "the embeddings file and the density codes from a temporary file by rows, a batch at a time, and the "
            "pictures' pixels when it codes them (the film recipe holds points until 128 MB, `STREAM_ABOVE_POINTS`); "
            f"embed holds one vector per caption.\n\n{table}\n\n{growth}\n"
        )
        replace_section(DOC, "memory", body)


if __name__ == "__main__":
    main()
