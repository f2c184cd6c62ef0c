"""Is the point flow what blurs a latent-map model's pictures, or the latent? Decode it without a flow.

    python benchmarks/density_decoder.py DATASET --steps 1500 --cache pointdiff-work/cache/eval [--png rec.png]

Trains the latent-map model's autoencoder alone, with a *density* decoder in place of the
point flow: the encoder (the model's, reading a 64 × 64 raster of 1024 points) gives z [4 × 8 × 8]; a
CNN upsamples z to logits over ``--res`` × ``--res`` cells of the canvas; the loss is the
negative log-likelihood of a fresh draw of the picture's points under that categorical
distribution (+ the model's KL term). Drawing needs no ODE: 1024 cells from the softmax,
each point uniform in its cell. Reconstructions of 200 pictures (from the encoder's μ) are
scored by eval's classifier beside real clouds. If these are as blurred as the point flow's
reconstructions (``latent_probe.py``), the latent, not the flow, is what has not learned the
pictures' interiors yet.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from pointdiff.evaluate.sets import get_scorer
from pointdiff.flow.latent import LATENT_RES, LatentMapFlow, cell_index
from pointdiff.metrics import label_accuracy
from pointdiff.plot import save_cloud_grid

sys.path.insert(0, str(Path(__file__).resolve().parent))
from labelled_data import open_labelled  # noqa: E402


def density_decoder(latent_channels: int, res: int) -> nn.Sequential:
    """z [B, C, 8, 8] -> logits [B, 1, res, res]: nearest upsampling and 3 × 3 convolutions, halving the width."""
    layers: list[nn.Module] = [nn.Conv2d(latent_channels, 64, 3, padding=1), nn.SiLU()]
    width = 64
    for _ in range(int(math.log2(res // LATENT_RES))):
        layers += [nn.Upsample(scale_factor=2), nn.Conv2d(width, max(16, width // 2), 3, padding=1), nn.SiLU()]
        width = max(16, width // 2)
    layers.append(nn.Conv2d(width, 1, 3, padding=1))
    return nn.Sequential(*layers)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", help="a built-in labelled dataset folder (faces)")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--res", type=int, default=128, help="cells per side of the decoded density")
    ap.add_argument("--clouds", type=int, default=64, help="pictures per step")
    ap.add_argument("--points", type=int, default=256, help="points per picture per step")
    ap.add_argument("--cache", default=None, help="eval's cache folder (reuses its trained scorer)")
    ap.add_argument("--png", default=None, help="save 8 real and 8 reconstructed clouds here")
    args = ap.parse_args()
    ds, source, data = open_labelled(args.dataset)
    torch.manual_seed(0)
    ae = LatentMapFlow(cond_dim=data.cond.shape[1], raster_res=64)  # only its encoder is used
    encoder, decoder = ae.encoder, density_decoder(ae.latent_channels, args.res)
    params = [*encoder.parameters(), *decoder.parameters()]
    opt = torch.optim.Adam(params, lr=1e-3)
    g = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for step in range(args.steps):
        for group in opt.param_groups:  # the recipe's schedule: 200 warm-up steps, cosine to 0
            group["lr"] = 1e-3 * min(1.0, (step + 1) / 200) * 0.5 * (1 + math.cos(math.pi * step / args.steps))
        idx = torch.randint(0, data.num_pictures, (args.clouds,), generator=g)
        picture, x1 = data.sampler.sample(idx, ae.raster_points, g), data.sampler.sample(idx, args.points, g)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mu, logvar = ae.encode(picture)
            z = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=g)
            logits = decoder(z.view(-1, ae.latent_channels, LATENT_RES, LATENT_RES)).flatten(1).float()
        nll = -F.log_softmax(logits, 1).gather(1, cell_index(x1, args.res)).mean()
        kl = 0.5 * (mu.square() + logvar.exp() - 1 - logvar).mean()
        loss = nll + ae.kl_weight * kl
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
    print(f"trained {args.steps} steps in {time.perf_counter() - start:.0f} s; last NLL {float(nll.detach()):.3f} nats per point")
    pictures = torch.tensor(list(range(0, data.num_pictures, max(1, data.num_pictures // 200)))[:200])
    with torch.no_grad():
        real = data.sampler.sample(pictures, 1024, torch.Generator().manual_seed(5))
        mu, _ = ae.encode(data.sampler.sample(pictures, ae.raster_points, g))
        probs = F.softmax(decoder(mu.view(-1, ae.latent_channels, LATENT_RES, LATENT_RES)).flatten(1), 1)
        cell = torch.multinomial(probs, 1024, replacement=True, generator=g)
        u = torch.rand(*cell.shape, 2, generator=g)
        rebuilt = torch.stack([(cell % args.res + u[..., 0]) * 6 / args.res - 3, 3 - (cell // args.res + u[..., 1]) * 6 / args.res], -1)
    scorer = get_scorer(cache_dir=args.cache, source=source)
    truth = [{k: str(ds.records[p].labels[k]) for k in source.labels} for p in pictures.tolist()]
    for name, clouds in (("real clouds", real), ("density reconstructions", rebuilt)):
        acc = label_accuracy(scorer.predict(clouds), truth, source.labels)
        print(f"{name:>24}: " + " / ".join(f"{k} {acc[k]:.1%}" for k in (*source.labels, "joint")))
    if args.png:
        save_cloud_grid(args.png, [c.numpy() for c in torch.cat([real[:8], rebuilt[:8]])], ncols=8)


if __name__ == "__main__":
    main()
