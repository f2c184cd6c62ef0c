"""The benchmark: the reference recipe (`seed`) against our default, in one run on one machine.

Usage::

    python benchmarks/run.py                     # the full run (~45-60 min on 2 CPU cores), writes docs/benchmarks.md
    python benchmarks/run.py --quick --out /tmp/b  # smoke test of every stage (~30 s), tiny counts: numbers mean nothing
    python benchmarks/run.py --faces 105 --seed-steps 2000 --default-steps 300 --out /tmp/m   # a medium run (~6 min)

What it does, all on the same built-in dataset (``--faces`` faces, seed 0, embedded with minilm):

1. measures the matmul peak (fp32 and bf16, 2048³, median of 5);
2. trains both recipes; a callback evaluates each on a fixed eval set (one held-out face per
   orientation × expression, a held-out paraphrase each) at points of its *training* clock,
   so evaluation never counts as training time;
3. reports training throughput (steps/s, clouds/s, points/s, achieved GFLOP/s and % of the
   peak of the precision the recipe uses) and time-to-quality: the first training time at
   which each recipe reaches the seed recipe's final Chamfer to reference (and joint prompt
   accuracy);
4. sweeps samplers: quality against network evaluations (NFE) per solver, and latency of one
   1024-point cloud;
5. evaluates both final models on a larger eval set with every metric (prompt accuracy and the
   scorer's ceiling, 1-NNA, MMD, COV, Chamfer and EMD to reference);
6. writes its section of docs/benchmarks.md (between ``<!-- run -->`` markers), plots
   (PNG) and a JSON of every number into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import hardware  # noqa: E402
import quality  # noqa: E402
from report_md import md_table, plot_sweep, plot_training, replace_section  # noqa: E402

RECIPES = ("seed", "default")


def log(msg: str) -> None:
    """Progress on stderr with a clock, so a long run can be followed."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke test: tiny counts, every stage, ~30 s (numbers mean nothing)")
    p.add_argument("--faces", type=int, default=300, help="built-in faces to train on")
    p.add_argument("--data-seed", type=int, default=0, help="seed of the training faces")
    p.add_argument("--seed-steps", type=int, default=None, help="steps of the seed recipe (default: its 20000)")
    p.add_argument("--default-steps", type=int, default=None, help="steps of our default (default: its own)")
    p.add_argument("--seed-evals", default="0.05,0.1,0.25,0.5,1", help="seed recipe: evaluate at these fractions of its steps (its 200-step sampler is slow)")
    p.add_argument("--eval-first", type=float, default=2.0, help="default recipe: first evaluation after this many training seconds")
    p.add_argument("--eval-ratio", type=float, default=1.2, help="default recipe: then each time the training time grows by this factor")
    p.add_argument("--eval-per-combo", type=int, default=1, help="periodic eval set: faces per orientation × expression (35 combinations)")
    p.add_argument("--final-per-combo", type=int, default=2, help="final eval set: faces per combination")
    p.add_argument("--points", type=int, default=1024, help="points per evaluated cloud")
    p.add_argument("--nfes", default="2,4,8,16,32,200", help="network evaluations of the sampler sweep")
    p.add_argument("--solvers", default="euler,midpoint,heun,rk4", help="solvers swept for our default")
    p.add_argument("--seed-solvers", default="euler,midpoint", help="solvers swept for the seed recipe (its NFE are ~3x dearer)")
    p.add_argument("--scorer-faces", type=int, default=1050, help="real faces the prompt-accuracy scorer is fitted on")
    p.add_argument("--peak-size", type=int, default=2048, help="matmul size for the peak")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--work", type=Path, default=None, help="keep datasets, caches and runs here (default: a temp dir, removed)")
    p.add_argument("--out", type=Path, default=None, help="folder for benchmarks.md, plots and JSON (default: docs/; --quick: a temp dir)")
    args = p.parse_args(argv)
    if args.quick:
        args.faces = min(args.faces, 35)
        args.seed_steps = args.seed_steps or 20
        args.default_steps = args.default_steps or 20
        args.eval_first, args.eval_ratio = 1.0, 2.0
        args.seed_evals = "0.5,1"
        args.points = min(args.points, 256)
        args.nfes = "2,4"
        args.solvers = args.seed_solvers = "euler,midpoint"
        args.scorer_faces = 70
        args.final_per_combo = 1
        args.peak_size = 256
    return args


def prepare_data(work: Path, faces: int, seed: int, device: str) -> tuple[Any, Any]:
    """Ingest the built-in faces and embed them with minilm: (TrainingData, TextEncoder)."""
    from pointdiff.data.ingest import IngestConfig, ingest
    from pointdiff.data.training import load_training_data
    from pointdiff.embedding import EmbedConfig, embed_dataset
    from pointdiff.text.encoders import load_encoder

    root = work / f"faces-n{faces}-s{seed}"
    encoder = load_encoder("minilm", device="cpu")
    if not (root / "embeddings.safetensors").exists():
        ingest("builtin:faces", root, IngestConfig(count=faces, seed=seed, contact_sheet=0), overwrite=True)
        embed_dataset(root, EmbedConfig(stats=False, device="cpu"), encoder=encoder)
    return load_training_data(root), encoder


def recipe_config(name: str, steps: int | None, quick: bool, device: str = "cpu") -> Any:
    from pointdiff.config import apply, load_config, preset_path
    from pointdiff.device import resolve_precision
    from pointdiff.recipe import TrainConfig

    cfg = load_config(TrainConfig, preset=preset_path("train", "seed") if name == "seed" else None)
    # "auto" becomes what this machine runs, so FLOPs and the peak are counted for that precision.
    over: dict[str, Any] = {"keep_checkpoints": 1, "precision": resolve_precision(cfg.precision, device)}
    if steps is not None:
        over["steps"] = steps
        over["checkpoint_every"] = max(1, min(cfg.checkpoint_every, steps))
        if cfg.warmup_steps >= steps:
            over["warmup_steps"] = max(0, steps // 10)
    if quick and name == "seed":
        over["sample_steps"] = 10  # 200 Euler steps would dominate a smoke test
    return apply(cfg, over, "benchmark")


def train_recipe(name: str, cfg: Any, data: Any, evalset: Any, scorer: Any, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Train one recipe with periodic evaluation; its throughput and quality curve."""
    from pointdiff.sample import SamplingSettings
    from pointdiff.training import train

    flops = hardware.train_step_flops(cfg, data.cond.shape[1])
    at = sorted({max(1, round(float(f) * cfg.steps)) for f in args.seed_evals.split(",")}) if name == "seed" else ()
    pe = quality.PeriodicEval(
        evalset, scorer, args.points, SamplingSettings.from_stored(cfg.sampling_defaults(), args.device), cfg.steps,
        first=args.eval_first, ratio=args.eval_ratio, at_steps=at,
    )
    log(f"{name}: {cfg.arch}, {cfg.steps} steps × {cfg.clouds_per_step} clouds × {cfg.points_per_cloud} points, {cfg.precision}; {flops / 1e9:.2f} GFLOP/step")
    wall = time.perf_counter()

    def progress(done: int, total: int, **fields: Any) -> None:
        if done % max(1, total // 10) == 0:
            last = pe.points[-1] if pe.points else None
            log(f"  {name} step {done}/{total}  loss {fields.get('loss', float('nan')):.3f}" + (f"  chamfer {last.chamfer_to_ref:.4f} joint {last.joint}" if last else ""))

    result = train(cfg, data, run_dir=work / "runs" / name, callbacks=[pe], progress=progress, device=args.device)
    t = result.trainer
    n_points = cfg.clouds_per_step * cfg.points_per_cloud
    return {
        "trainer": t,
        "run_dir": str(result.run_dir),
        "config": cfg,
        "params": t.model.num_params(),
        "steps": t.step,
        "train_seconds": t.elapsed,
        "wall_seconds": time.perf_counter() - wall,
        "eval_seconds": sum(p.eval_seconds for p in pe.points),
        "steps_per_s": t.step / t.elapsed,
        "clouds_per_s": t.step * cfg.clouds_per_step / t.elapsed,
        "points_per_s": t.step * n_points / t.elapsed,
        "gflop_per_step": flops / 1e9,
        "gflops": flops * t.step / t.elapsed / 1e9,
        "final_loss": sum(t.losses[-100:]) / len(t.losses[-100:]),
        "curve": pe.points,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from pointdiff.evaluate import evaluate_clouds, evaluate_real, faces_eval_set, get_scorer
    from pointdiff.sample import SamplingSettings

    started = time.perf_counter()
    command = "python benchmarks/run.py" + ("" if argv is None and len(sys.argv) == 1 else " " + " ".join(argv if argv is not None else sys.argv[1:]))
    tmp_work = args.work is None
    work = Path(tempfile.mkdtemp(prefix="pointdiff-bench-")) if tmp_work else args.work
    work.mkdir(parents=True, exist_ok=True)
    out = args.out or (Path(tempfile.mkdtemp(prefix="pointdiff-bench-out-")) if args.quick else HERE.parent / "docs")
    out.mkdir(parents=True, exist_ok=True)
    machine = hardware.machine_info(args.device)
    log(f"machine: {machine['cpu']}, {machine['cores']} cores, torch {machine['torch']} ({machine['torch_threads']} threads); work {work}")
    try:
        # 1. the ceilings
        dtypes = (("fp32", torch.float32), ("bf16", torch.bfloat16))
        peak_start = {name: hardware.matmul_peak(args.peak_size, dt, 5, args.device) for name, dt in dtypes}
        log(f"matmul {args.peak_size}³ peak: fp32 {peak_start['fp32']:.0f}, bf16 {peak_start['bf16']:.0f} GFLOP/s")

        # 2. data, eval sets, scorer
        t0 = time.perf_counter()
        data, encoder = prepare_data(work, args.faces, args.data_seed, args.device)
        cache = work / "cache"
        scorer = get_scorer("classifier", args.scorer_faces, cache)
        evalset = faces_eval_set(args.eval_per_combo, args.points, cache)
        evalset.cond = encoder.encode(evalset.prompts)
        final_set = faces_eval_set(args.final_per_combo, args.points, cache)
        final_set.cond = encoder.encode(final_set.prompts)
        real_periodic = evaluate_real(evalset, scorer)
        real_final = evaluate_real(final_set, scorer, with_emd=True)
        log(f"data + eval sets + scorer: {time.perf_counter() - t0:.0f} s; scorer on real held-out faces: {real_final.prompt_accuracy}")

        # 3. training with periodic evaluation
        runs: dict[str, dict[str, Any]] = {}
        for name in RECIPES:
            cfg = recipe_config(name, args.seed_steps if name == "seed" else args.default_steps, args.quick, args.device)
            runs[name] = train_recipe(name, cfg, data, evalset, scorer, args, work)
            r = runs[name]
            log(f"{name}: {r['steps']} steps in {r['train_seconds']:.1f} s training ({r['eval_seconds']:.0f} s eval): {r['steps_per_s']:.1f} steps/s, {r['gflops']:.0f} GFLOP/s")

        # 4. time to quality
        seed_final = runs["seed"]["curve"][-1]
        ttq: dict[str, dict[str, Any]] = {}
        for name, r in runs.items():
            hit = quality.time_to_quality(r["curve"], seed_final.chamfer_to_ref)
            # An accuracy target at chance (1 of 35) is met by luck at step 1: no time-to-quality then.
            acc_target = seed_final.joint is not None and seed_final.joint > 1 / 35 + 1e-9
            hit_acc = quality.time_to_quality(r["curve"], seed_final.joint, "joint", higher_is_better=True) if acc_target else None
            # 1-NNA: closeness to the ideal 50 % (Chamfer alone can be flattered by a blurred, shrunken cloud).
            # A seed at 100 % 1-NNA sets no target (every cloud set meets it).
            gap = [replace(p, nna=abs(p.nna - 0.5)) for p in r["curve"]]
            hit_nna = quality.time_to_quality(gap, abs(seed_final.nna - 0.5), "nna") if seed_final.nna < 1 - 1e-9 else None
            ttq[name] = {
                "chamfer": None if hit is None else {"seconds": hit.train_seconds, "step": hit.step},
                "joint": None if hit_acc is None else {"seconds": hit_acc.train_seconds, "step": hit_acc.step},
                "nna": None if hit_nna is None else {"seconds": hit_nna.train_seconds, "step": hit_nna.step},
            }

        # 5. final evaluation, every metric, each recipe's own sampler
        finals: dict[str, Any] = {}
        for name, r in runs.items():
            cfg, t = r["config"], r["trainer"]
            model = t.sampling_model().eval()
            settings = SamplingSettings.from_stored(cfg.sampling_defaults(), args.device)  # exactly what generate uses
            clouds = quality.draw(model, final_set.cond, args.points, settings)
            finals[name] = evaluate_clouds(clouds, final_set, scorer, with_emd=True)
            finals[name + "_latency_ms"] = quality.latency_ms(model, final_set.cond, settings, 1024, repeats=1 if cfg.sample_steps >= 100 else 5)
            log(f"{name} final: chamfer {finals[name].chamfer_to_ref:.4f}, joint {finals[name].prompt_accuracy}, latency {finals[name + '_latency_ms']:.0f} ms")

        # Measured again after training: a peak taken while something else ran would flatter every ratio.
        peak_end = {name: hardware.matmul_peak(args.peak_size, dt, 5, args.device) for name, dt in dtypes}
        peak = {k: max(peak_start[k], peak_end[k]) for k in peak_start}
        log(f"matmul peak again: fp32 {peak_end['fp32']:.0f}, bf16 {peak_end['bf16']:.0f} GFLOP/s")

        # 6. sampler sweep
        nfes = [int(x) for x in args.nfes.split(",")]
        sweeps: dict[str, list[quality.SweepRow]] = {}
        for name, r in runs.items():
            cfg, t = r["config"], r["trainer"]
            model = t.sampling_model().eval()
            solvers = (args.seed_solvers if name == "seed" else args.solvers).split(",")
            log(f"{name}: sampler sweep {solvers} × NFE {nfes}")
            base = SamplingSettings.from_stored(cfg.sampling_defaults(), args.device, guidance=1.0)
            sweeps[name] = quality.nfe_sweep(model, evalset, scorer, solvers, nfes, args.points, base, log=log)

        results = {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": command,
            "quick": args.quick,
            "machine": machine,
            "peak_gflops": peak,
            "peak_gflops_start": peak_start,
            "peak_gflops_end": peak_end,
            "args": {k: str(v) for k, v in vars(args).items()},
            "runs": {n: {k: (asdict(v) if k == "config" else [asdict(p) for p in v] if k == "curve" else v) for k, v in r.items() if k != "trainer"} for n, r in runs.items()},
            "time_to_quality": ttq,
            "final": {k: (v.to_dict() if hasattr(v, "to_dict") else v) for k, v in finals.items()},
            "real_final": real_final.to_dict(),
            "real_periodic": real_periodic.to_dict(),
            "sweeps": {n: [asdict(row) for row in rows] for n, rows in sweeps.items()},
            "total_seconds": time.perf_counter() - started,
        }
        (out / "benchmarks_run.json").write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
        plot_training(out / "benchmarks_time_to_quality.png", {n: r["curve"] for n, r in runs.items()}, seed_final.chamfer_to_ref)
        plot_training(out / "benchmarks_accuracy.png", {n: r["curve"] for n, r in runs.items()}, seed_final.joint, key="joint", ylabel="joint prompt accuracy (higher is better)")
        ref200 = {n: next((row.chamfer_to_ref for row in rows if row.solver == "euler" and row.nfe == 200), None) for n, rows in sweeps.items()}
        plot_sweep(out / "benchmarks_nfe.png", sweeps, {k: v for k, v in ref200.items() if v is not None})
        body = render_markdown(results, runs, finals, real_final, real_periodic, sweeps, ttq, peak, seed_final, ref200)
        replace_section(out / "benchmarks.md", "run", body)
        log(f"done in {(time.perf_counter() - started) / 60:.1f} min: {out / 'benchmarks.md'}")
        print(out / "benchmarks.md")
    finally:
        if tmp_work:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def render_markdown(results: dict[str, Any], runs: dict[str, Any], finals: dict[str, Any], real_final: Any, real_periodic: Any, sweeps: dict[str, list[Any]], ttq: dict[str, Any], peak: dict[str, float], seed_final: Any, ref200: dict[str, float | None]) -> str:
    """The `run` section of docs/benchmarks.md."""
    from pointdiff.device import resolve_precision

    m = results["machine"]
    s = runs["seed"]
    lines = [
        "## Seed recipe vs our default (`benchmarks/run.py`)",
        "",
        *(["**QUICK SMOKE TEST: tiny counts, the numbers mean nothing.**", ""] if results["quick"] else []),
        f"- Date: {results['date']}; total run time {results['total_seconds'] / 60:.1f} min",
        f"- Machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']} ({m['torch_threads']} threads), device {m['device']}"
        + (f" ({m['gpu']})" if m.get("gpu") else "") + f"; AVX-512 BF16: {'yes' if m['avx512_bf16'] else 'no'}",
        f"- Command: `{results['command']}`",
        f"- Data: {results['args']['faces']} built-in faces (seed {results['args']['data_seed']}), embedded with minilm. "
        f"Eval: freshly rendered held-out faces, held-out paraphrased prompts (see docs/measurement.md).",
        "",
        "### Training throughput",
        "",
        f"Matmul peak measured in this run ({results['args']['peak_size']}³, median of 5, before and after training, the higher kept): "
        f"**fp32 {peak['fp32']:.0f} GFLOP/s, bf16 {peak['bf16']:.0f} GFLOP/s** "
        f"(before: {results['peak_gflops_start']['fp32']:.0f} / {results['peak_gflops_start']['bf16']:.0f}; after: {results['peak_gflops_end']['fp32']:.0f} / {results['peak_gflops_end']['bf16']:.0f}).",
        "",
    ]
    rows = []
    for name, r in runs.items():
        cfg = r["config"]
        rows.append([
            name, f"{cfg.arch} ({r['params']:,} params)", f"{cfg.clouds_per_step} × {cfg.points_per_cloud}", cfg.precision, r["steps"],
            f"{r['train_seconds']:.1f}", f"{r['steps_per_s']:.1f}", f"{r['clouds_per_s']:.1f}", f"{r['points_per_s']:,.0f}",
            f"{r['gflop_per_step']:.2f}", f"{r['gflops']:.0f}", _pct(r["gflops"] / peak[cfg.precision]),
        ])
    lines.append(md_table(["recipe", "model", "clouds × points / step", "precision", "steps", "train s", "steps/s", "clouds/s", "points/s", "GFLOP/step", "GFLOP/s", "% of peak"], rows))
    lines += [
        "",
        "GFLOP/step: matmul FLOPs of one forward + backward as `torch.utils.flop_counter` counts them; achieved GFLOP/s = that × steps / training time "
        "(the time of the steps alone: data drawing, noise pairing and the optimizer included; evaluation and checkpoints excluded). "
        "% of peak is against the peak of the precision the recipe trains in.",
        "",
        "### Time to quality",
        "",
        f"Target: the seed recipe's final quality on the periodic eval set ({evalset_size(results)} held-out prompts, each recipe's own sampler): "
        f"Chamfer to reference **{seed_final.chamfer_to_ref:.4f}**, joint prompt accuracy **{_pct(seed_final.joint)}**, 1-NNA **{_pct(seed_final.nna)}** "
        f"(reached when as close to 50 %) after {s['train_seconds']:.0f} s of training. Speed-up = the seed recipe's full training time / the time to reach it.",
        "",
    ]
    at_chance = seed_final.joint is None or seed_final.joint <= 1 / 35 + 1e-9

    nna_trivial = seed_final.nna >= 1 - 1e-9

    def fmt(hit: dict[str, Any] | None, acc: bool = False, nna: bool = False) -> str:
        if hit is None:
            if acc and at_chance:
                return "— (target at chance)"
            return "— (target is 100 %)" if nna and nna_trivial else "not reached"
        return f"{hit['seconds']:.1f} s (step {hit['step']})"

    def ratio(hit: dict[str, Any] | None) -> str:
        return "—" if hit is None else f"{s['train_seconds'] / hit['seconds']:.1f}×"

    rows = []
    for name, r in runs.items():
        c, j, n = ttq[name]["chamfer"], ttq[name]["joint"], ttq[name]["nna"]
        last = r["curve"][-1]
        rows.append([name, fmt(c), ratio(c), fmt(j, acc=True), ratio(j), fmt(n, nna=True), ratio(n), f"{last.chamfer_to_ref:.4f}", _pct(last.joint), _pct(last.nna)])
    lines.append(md_table(
        ["recipe", "seed's final Chamfer reached at", "speed-up", "seed's final joint accuracy reached at", "speed-up", "seed's final 1-NNA reached at", "speed-up", "final Chamfer", "final joint accuracy", "final 1-NNA"], rows))
    lines += [
        "",
        "Times are training wall time (evaluation excluded), first evaluation at or past the target; resolution is the evaluation schedule "
        f"(seed: at {results['args']['seed_evals']} of its steps; default: from {results['args']['eval_first']} s, every ×{results['args']['eval_ratio']}).",
        "",
        "![quality vs training time](benchmarks_time_to_quality.png)",
        "![joint prompt accuracy vs training time](benchmarks_accuracy.png)",
        "",
        "### Final quality",
        "",
        f"Final models (EMA weights where kept), each with its own default sampler at its own sampling precision (exactly what `pointdiff generate` and `pointdiff eval` use), on {real_final.n} held-out prompts "
        f"({results['args']['final_per_combo']} per orientation × expression). *Real held-out* is a second set of real faces scored the same way: "
        "what a perfect generator would get (its prompt accuracy is the scorer's ceiling). "
        "Chamfer and EMD to reference reward a cloud that lies near the prompt's faces even when its strokes are soft; "
        "1-NNA and prompt accuracy are the strict ones.",
        "",
    ]
    header = ["metric", *[f"{n} ({r['config'].sample_solver} × {r['config'].sample_steps}, {resolve_precision(r['config'].sample_precision, results['args']['device'])})" for n, r in runs.items()], "real held-out"]
    ms = [finals[n] for n in runs]
    rows = []
    for k in ("orientation", "expression", "joint"):
        rows.append([f"prompt accuracy: {k}", *[_pct(x.prompt_accuracy[k]) for x in ms], _pct(real_final.prompt_accuracy[k])])
    rows += [
        ["1-NNA (Chamfer; 50% ideal)", *[_pct(x.chamfer_sets.nna) for x in ms], _pct(real_final.chamfer_sets.nna)],
        ["MMD (Chamfer)", *[f"{x.chamfer_sets.mmd:.4f}" for x in ms], f"{real_final.chamfer_sets.mmd:.4f}"],
        ["COV (Chamfer)", *[_pct(x.chamfer_sets.cov) for x in ms], _pct(real_final.chamfer_sets.cov)],
        ["Chamfer to reference", *[f"{x.chamfer_to_ref:.4f}" for x in ms], f"{real_final.chamfer_to_ref:.4f}"],
        ["EMD to reference", *[f"{x.emd_to_ref:.4f}" for x in ms], f"{real_final.emd_to_ref:.4f}"],
        ["retrieval@1 (Chamfer; chance 2.9 %, low even for real faces: prompts do not name the character)", *[_pct(x.retrieval) for x in ms], _pct(real_final.retrieval)],
        ["latency per 1024-point cloud", *[f"{finals[n + '_latency_ms']:.0f} ms" for n in runs], "—"],
    ]
    lines.append(md_table(header, rows))
    lines += [
        "",
        "### Sampling: quality vs network evaluations",
        "",
        f"Periodic eval set ({evalset_size(results)} prompts); latency = one 1024-point cloud, batch of 1, median. "
        "The dashed line of each panel is that model's own 200-step Euler quality.",
        "",
    ]
    for name, rows_ in sweeps.items():
        best = {}
        for row in rows_:
            ref = ref200.get(name)
            if ref is not None and row.chamfer_to_ref <= 1.05 * ref and row.solver not in best:
                best[row.solver] = row.nfe
        lines.append(f"**{name}**" + (" — fewest NFE within 5% of its 200-step Euler Chamfer: " + ", ".join(f"{k} {v}" for k, v in best.items()) if best else ""))
        lines.append("")
        lines.append(md_table(["solver", "NFE", "steps", "Chamfer to reference", "joint accuracy", "1-NNA", "ms / cloud"],
                              [[r.solver, r.nfe, r.steps, f"{r.chamfer_to_ref:.4f}", _pct(r.joint), _pct(r.nna), f"{r.latency_ms:.1f}"] for r in rows_]))
        lines.append("")
    lines += [
        "![quality vs NFE](benchmarks_nfe.png)",
        "",
        f"Real held-out faces on the periodic set: Chamfer to reference {real_periodic.chamfer_to_ref:.4f}, joint accuracy {_pct(real_periodic.prompt_accuracy['joint'] if real_periodic.prompt_accuracy else None)}.",
    ]
    return "\n".join(line for line in lines)


def evalset_size(results: dict[str, Any]) -> int:
    return 35 * int(results["args"]["eval_per_combo"])


if __name__ == "__main__":
    sys.exit(main())
