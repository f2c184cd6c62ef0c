"""Where a density run loses: its codes, its prior's samples, or the prior's steps.

    python benchmarks/density_probe.py RUN DATASET [--cache DIR] [-n 6] [--prior-steps 4 --prior-steps 8]

For a density RUN and the built-in labelled DATASET it trained on, three measurements:

* **codes** — held-out real pictures (eval's second real set, every ink pixel) coded by the
  run's basis, decoded and drawn by transport, then read by eval's scorer with 1-NNA against
  eval's references: what the codes can draw at best, beside the real clouds' own figures;
* **bands** — the prior's codes for 300 training captions (guidance as the run samples)
  against the codes of those captions' own pictures: mean energy per band of components, and
  the error to the own picture. A prior that leaves noise in the faint components shows
  generated energy well above the real one there, and its clouds carry scattered points;
* **prior steps** (``--prior-steps N``, repeatable) — eval's prompt accuracy (three kinds of
  prompt, no EMD) with the prior's Euler steps set to N, without retraining.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from pointdiff.checkpoint import load_run
from pointdiff.evaluate.runs import EvalConfig, evaluate_run
from pointdiff.evaluate.scoring import evaluate_clouds
from pointdiff.evaluate.sets import REAL_SEED, _pick_balanced, get_scorer, labelled_eval_set
from pointdiff.flow.density import DensityFlow, density_grid, transport
from pointdiff.sample import make_noise

sys.path.insert(0, str(Path(__file__).resolve().parent))
from labelled_data import open_labelled  # noqa: E402

BANDS = ((0, 8), (8, 32), (32, 64), (64, 128), (128, 256), (256, 1024))


def _row(name: str, metrics) -> str:  # noqa: ANN001 - CloudMetrics
    acc = " / ".join(f"{v:.1%}" for v in metrics.prompt_accuracy.values())
    return f"| {name} | {acc} | {metrics.chamfer_sets.nna:.1%} |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", help="a density run or checkpoint folder")
    ap.add_argument("dataset", help="the built-in labelled dataset it trained on")
    ap.add_argument("--cache", default="pointdiff-work/cache/eval", help="eval's cache of rendered pictures and the scorer")
    ap.add_argument("-n", "--num-samples", type=int, default=6, help="eval pictures per label combination")
    ap.add_argument("--prior-steps", type=int, action="append", default=[], help="also run eval with the prior's Euler steps set to N")
    args = ap.parse_args()
    run = load_run(args.run)
    model = run.model
    if not isinstance(model, DensityFlow):
        raise SystemExit(f"{args.run} is a {model.arch} run; this probe reads density runs")
    ds, source, data = open_labelled(args.dataset)

    # codes: held-out real pictures through the basis
    evalset = labelled_eval_set(source, args.num_samples, 1024, args.cache)
    scorer = get_scorer("classifier", None, args.cache, source=source)
    sampler, labels = source.render(args.num_samples * len(source.combos()), REAL_SEED, args.cache)
    picked = _pick_balanced(source, labels, source.combos(), args.num_samples)
    grids = torch.stack([density_grid(sampler.all_points(i), model.res) for i in picked])
    noise = make_noise(len(picked), 1024, 0, model.noise_std)
    coded = transport(model.basis.decode(model.basis.encode(grids), model.floor), noise, model.noise_std)
    print(f"\ncodes: {len(picked)} held-out pictures; {' / '.join(source.labels)} / all, and 1-NNA against eval's references\n")
    print("| clouds | prompt accuracy | 1-NNA |\n|---|---|---|")
    print(_row("real (1024-point draws)", evaluate_clouds(evalset.real, evalset, scorer, labels=evalset.real_labels)))
    print(_row(f"the {model.res}² density grid itself", evaluate_clouds(transport(grids, noise, model.noise_std), evalset, scorer, labels=evalset.real_labels)))
    print(_row(f"coded by {model.components} components, floor {model.floor}", evaluate_clouds(coded, evalset, scorer, labels=evalset.real_labels)))

    # bands: the prior's samples against the codes of their own pictures
    model.fit(data.sampler)
    rows = torch.randperm(len(data.cond), generator=torch.Generator().manual_seed(0))[:300]
    guidance = float(run.meta.get("sampling", {}).get("guidance", 1.0))
    with torch.no_grad():
        drawn = model.sample_codes(data.cond[rows], torch.randn(len(rows), model.components, generator=torch.Generator().manual_seed(1)), guidance)
    own = model.codes[data.picture[rows]]
    print(f"\nbands: the prior's codes for {len(rows)} training captions (guidance {guidance:g}, {model.prior_steps} steps), mean energy per band\n")
    print("| components | real | drawn | error to the own picture |\n|---|---|---|---|")
    for a, b in BANDS:
        if a >= model.components:
            break
        b = min(b, model.components)
        energy = lambda c: float(c[:, a:b].square().sum(1).mean())  # noqa: E731
        print(f"| {a}-{b - 1} | {energy(own):.1f} | {energy(drawn):.1f} | {energy(drawn - own):.1f} |")

    # prior steps: eval without retraining
    if args.prior_steps:
        print(f"\nprior steps: eval, {args.num_samples} per combination, no EMD; orientation-style labels / ... / all per kind of prompt\n")
    for steps in args.prior_steps:
        model.prior_steps = steps
        result = evaluate_run(run, EvalConfig(num_samples=args.num_samples, emd=False), cache_dir=args.cache)
        kinds = " | ".join(f"{k}: " + " / ".join(f"{v:.1%}" for v in d["generated"].values()) for k, d in result.prompt_kinds.items())
        print(f"- {steps} steps: {kinds}; 1-NNA {result.metrics.chamfer_sets.nna:.1%}")


if __name__ == "__main__":
    main()
