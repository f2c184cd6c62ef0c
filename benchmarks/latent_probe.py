"""Where a latent-map run loses: its autoencoder's drawing, or its prior's choice of picture.

    python benchmarks/latent_probe.py RUN DATASET --cache pointdiff-work/cache/eval [--png probe.png]

For 200 pictures of a built-in labelled DATASET (the one RUN trained on), it scores with
eval's classifier three sets of 1024-point clouds:

* real clouds of the pictures (the scorer's ceiling);
* *reconstructions*: the picture's own latent (the encoder's μ of a 1024-point draw),
  decoded and drawn by the point flow — what the autoencoder can draw;
* *prior samples* for one of the picture's own captions — what the whole model draws.

Real minus reconstructed is what the autoencoder and point flow lose; reconstructed minus
prior samples is what the text -> latent prior loses. ``--png`` saves 8 of each, in rows.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from pointdiff.checkpoint import load_run
from pointdiff.evaluate.sets import get_scorer
from pointdiff.flow.latent import LatentMapFlow
from pointdiff.flow.solvers import solve
from pointdiff.metrics import label_accuracy
from pointdiff.plot import save_cloud_grid
from pointdiff.sample import SamplingSettings, make_noise, sample

sys.path.insert(0, str(Path(__file__).resolve().parent))
from labelled_data import open_labelled  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", help="a latent-map run or checkpoint folder")
    ap.add_argument("dataset", help="the built-in labelled dataset it trained on")
    ap.add_argument("--cache", default=None, help="eval's cache folder (reuses its trained scorer)")
    ap.add_argument("--png", default=None, help="save 8 real / reconstructed / prior-sampled clouds here")
    args = ap.parse_args()
    run = load_run(args.run)
    model = run.model.eval()
    if not isinstance(model, LatentMapFlow):
        raise SystemExit(f"{args.run} is a {model.arch} model, not latent-map")
    ds, source, data = open_labelled(args.dataset)
    pictures = torch.tensor(list(range(0, data.num_pictures, max(1, data.num_pictures // 200)))[:200])
    g = torch.Generator().manual_seed(5)
    real = data.sampler.sample(pictures, 1024, g)
    settings = SamplingSettings.from_meta(run.meta, precision="bf16")  # the run's own sampler, as eval draws
    noise = make_noise(len(pictures), 1024, 7, settings.noise_std)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        mu, _ = model.encode(data.sampler.sample(pictures, model.raster_points, g))
        field = model.latent_field(mu)
        rebuilt = solve(lambda x, t: field(x, t).float(), noise, settings.solver, settings.steps).x
    rows = [int((data.picture == p).nonzero()[0]) for p in pictures.tolist()]
    drawn = sample(model, data.cond[rows], noise, settings).x
    scorer = get_scorer(cache_dir=args.cache, source=source)
    truth = [{k: str(ds.records[p].labels[k]) for k in source.labels} for p in pictures.tolist()]
    sets = (("real clouds", real), ("reconstructed from the encoder's latent", rebuilt), ("prior samples for an own caption", drawn))
    for name, clouds in sets:
        acc = label_accuracy(scorer.predict(clouds), truth, source.labels)
        print(f"{name:>40}: " + " / ".join(f"{k} {acc[k]:.1%}" for k in (*source.labels, "joint")))
    if args.png:
        clouds = [c.numpy() for _, s in sets for c in s[:8]]
        titles = [f"{n} {k}" for n in ("real", "reconstructed", "prior") for k in range(8)]
        save_cloud_grid(args.png, clouds, titles, ncols=8)


if __name__ == "__main__":
    main()
