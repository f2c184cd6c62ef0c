"""Does the benchmark reproduce? Headline numbers of two (or more) runs of ``benchmarks/run.py`` side by side.

Usage::

    python benchmarks/compare.py A/benchmarks_run.json B/benchmarks_run.json            # print the table
    python benchmarks/compare.py A.json B.json --write docs/benchmarks.md                # and write its section

Each run writes every number to ``benchmarks_run.json``. This reads them and prints, per
headline figure, each run's value and the spread (largest minus smallest, relative to the
mean for timings). Training is seeded, so on one machine the *quality* of a final model
should repeat exactly; *timings* move with the machine's load, and time-to-quality also
with the evaluation schedule (the default recipe is evaluated at points of its training
clock, so which step gets evaluated depends on speed).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from report_md import md_table, replace_section  # noqa: E402

Getter = Callable[[dict[str, Any]], float | None]


def _get(*keys: str) -> Getter:
    def get(run: dict[str, Any]) -> float | None:
        x: Any = run
        for k in keys:
            if not isinstance(x, dict) or x.get(k) is None:
                return None
            x = x[k]
        return float(x)

    return get


def _peak_share(name: str) -> Getter:
    def get(run: dict[str, Any]) -> float | None:
        r = run["runs"][name]
        return r["gflops"] / run["peak_gflops"][r["config"]["precision"]]

    return get


def _speedup(name: str, target: str) -> Getter:
    def get(run: dict[str, Any]) -> float | None:
        hit = run["time_to_quality"][name][target]
        return None if hit is None else run["runs"]["seed"]["train_seconds"] / hit["seconds"]

    return get


# (label, getter, format, timing?) -- timings get a relative spread, quality an absolute one.
def headline_rows(recipes: list[str]) -> list[tuple[str, Getter, str, bool]]:
    """The figures compared: the ones the README quotes, and what they rest on."""
    rows: list[tuple[str, Getter, str, bool]] = [
        ("matmul peak fp32 (GFLOP/s)", _get("peak_gflops", "fp32"), "{:.0f}", True),
        ("matmul peak bf16 (GFLOP/s)", _get("peak_gflops", "bf16"), "{:.0f}", True),
    ]
    for n in recipes:
        rows += [
            (f"{n}: training steps/s", _get("runs", n, "steps_per_s"), "{:.2f}", True),
            (f"{n}: % of peak", _peak_share(n), "{:.1%}", True),
            (f"{n}: training seconds", _get("runs", n, "train_seconds"), "{:.0f}", True),
        ]
    for n in recipes:
        if n == "seed":
            continue
        rows += [
            (f"{n}: time-to-quality speed-up, Chamfer", _speedup(n, "chamfer"), "{:.1f}×", True),
            (f"{n}: time-to-quality speed-up, joint accuracy", _speedup(n, "joint"), "{:.1f}×", True),
            (f"{n}: time-to-quality speed-up, 1-NNA", _speedup(n, "nna"), "{:.1f}×", True),
        ]
    for n in recipes:
        rows += [
            (f"{n}: final joint prompt accuracy", _get("final", n, "prompt_accuracy", "joint"), "{:.1%}", False),
            (f"{n}: final orientation accuracy", _get("final", n, "prompt_accuracy", "orientation"), "{:.1%}", False),
            (f"{n}: final expression accuracy", _get("final", n, "prompt_accuracy", "expression"), "{:.1%}", False),
            (f"{n}: final 1-NNA", _get("final", n, "chamfer_sets", "nna"), "{:.1%}", False),
            (f"{n}: final MMD", _get("final", n, "chamfer_sets", "mmd"), "{:.4f}", False),
            (f"{n}: final COV", _get("final", n, "chamfer_sets", "cov"), "{:.1%}", False),
            (f"{n}: final Chamfer to reference", _get("final", n, "chamfer_to_ref"), "{:.4f}", False),
            (f"{n}: latency per 1024-point cloud (ms)", _get("final", f"{n}_latency_ms"), "{:.1f}", True),
        ]
    rows.append(("total run time (min)", lambda run: run["total_seconds"] / 60, "{:.1f}", True))
    return rows


def _fmt(fmt: str, x: float | None) -> str:
    return "—" if x is None else fmt.format(x)


def compare(runs: list[dict[str, Any]]) -> list[list[str]]:
    """One row per headline figure: label, each run's value, spread."""
    recipes = [n for n in runs[0]["runs"] if all(n in r["runs"] for r in runs)]
    table = []
    for label, get, fmt, timing in headline_rows(recipes):
        vals = [get(r) for r in runs]
        known = [v for v in vals if v is not None]
        if len(known) < 2:
            spread = "—"
        elif timing:
            mean = statistics.fmean(known)
            spread = f"{(max(known) - min(known)) / mean:.1%}" if mean else "—"
        else:
            d = max(known) - min(known)
            spread = "identical" if d == 0 else _fmt(fmt, d).replace("×", "")
        table.append([label, *[_fmt(fmt, v) for v in vals], spread])
    return table


def render(paths: list[Path], runs: list[dict[str, Any]]) -> str:
    """The markdown section: what was compared, the table, how to read it."""
    names = [chr(ord("A") + i) for i in range(len(runs))]
    lines = [
        "## Reproducibility (`benchmarks/compare.py`)",
        "",
        "The same command run again on the same machine; each run's headline figures and their spread "
        "(timings: (max − min) / mean; quality: max − min).",
        "",
    ]
    for name, path, run in zip(names, paths, runs):
        lines.append(f"- Run {name}: `{path.as_posix()}`, {run['date']}, `{run['command']}`")
    lines += ["", md_table(["figure", *[f"run {n}" for n in names], "spread"], compare(runs)), ""]
    args = runs[-1]["args"]
    lines.append(
        "Training and sampling are seeded, so final quality on one machine with the same thread count repeats "
        "to the last digit; timings move with the machine's load. Time-to-quality moves more than throughput: "
        f"the default recipe is evaluated at points of its training clock (first at {args['eval_first']} s, then every ×{args['eval_ratio']}), "
        "so the step that gets evaluated, and with it the quality seen, shifts with speed."
    )
    lines += ["", f"Reproduce: `python benchmarks/compare.py {' '.join(p.as_posix() for p in paths)}`"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", type=Path, help="benchmarks_run.json files of runs of the same command")
    p.add_argument("--write", type=Path, default=None, help="also write the section into this markdown file")
    args = p.parse_args(argv)
    if len(args.runs) < 2:
        p.error("need at least two runs to compare")
    runs = [json.loads(path.read_text(encoding="utf-8")) for path in args.runs]
    settings = [{k: v for k, v in r["args"].items() if k not in ("work", "out")} for r in runs]
    if any(s != settings[0] for s in settings[1:]):
        print("warning: the runs used different settings; their numbers need not agree", file=sys.stderr)
    body = render(args.runs, runs)
    print(body)
    if args.write is not None:
        replace_section(args.write, "reproduce", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
