"""What the best per-point model can draw for a prompt that names only labels.

A per-point model draws each point independently from p(point | text). When the text names
only some of a picture ("left-facing, smiling"), that density is the *mixture* of every
picture it matches: all characters, hair, glasses and exact poses superposed. This script
builds such mixture clouds from real faces — each point from a randomly chosen one of ``k``
real faces with the prompt's labels — and reads them with eval's scorer, for k = 1 (one real
face: the scorer's ceiling) up to every matching face (a perfect per-point model)::

    python benchmarks/mixture_ceiling.py pointdiff-work/demo/dataset --cache pointdiff-work/demo/cache/eval

Measured on the built-in faces (600, seed 0, 4 clouds per pair), 2026-11-29: orientation
stays 100 % at every k; expression falls from 90 % (k = 1) to 76 % (2), 66 % (4), 57 % (8)
and 54 % (all 17 or so): no per-point model, however well trained, gets past ~54 % on
label-only prompts, short of issue 10's 70 %. Look at the mixtures and they are the default's
blur: eyes and mouths of many faces on top of each other.
"""

from __future__ import annotations

import argparse

import torch

from pointdiff.data.dataset import Dataset
from pointdiff.data.sampler import PointSampler
from pointdiff.evaluate.labelled import FACES
from pointdiff.evaluate.sets import get_scorer
from pointdiff.metrics import label_accuracy


def mixture_clouds(sampler: PointSampler, members: list[torch.Tensor], num_points: int, g: torch.Generator) -> torch.Tensor:
    """One cloud per member list: each point drawn from a uniformly chosen member picture."""
    clouds = []
    for idx in members:
        which = idx[torch.randint(len(idx), (num_points,), generator=g)]
        # one point from each chosen picture: sample() draws per row, so ask for 1 point of each
        clouds.append(sampler.sample(which, 1, g)[:, 0])
    return torch.stack(clouds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", help="a built-in faces dataset folder (its labels say which faces match)")
    ap.add_argument("--cache", default=None, help="eval's cache folder (reuses its trained scorer)")
    ap.add_argument("--repeats", type=int, default=4, help="mixture clouds per orientation × expression")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    ds = Dataset(args.dataset)
    sampler = PointSampler.from_dataset(ds)
    labels = [{k: str(r.labels[k]) for k in FACES.labels} for r in ds.records]
    scorer = get_scorer(cache_dir=args.cache)
    g = torch.Generator().manual_seed(args.seed)
    combos = sorted({tuple(lab[k] for k in FACES.labels) for lab in labels})
    print(f"{'faces mixed':>12} | " + " | ".join(f"{k:>11}" for k in (*FACES.labels, "joint")))
    for k in (1, 2, 4, 8, 0):
        members, truth = [], []
        for combo in combos:
            idx = torch.tensor([i for i, lab in enumerate(labels) if tuple(lab[n] for n in FACES.labels) == combo])
            for _ in range(args.repeats):
                members.append(idx[torch.randperm(len(idx), generator=g)[:k]] if k else idx)
                truth.append(dict(zip(FACES.labels, combo)))
        acc = label_accuracy(scorer.predict(mixture_clouds(sampler, members, 1024, g)), truth, FACES.labels)
        print(f"{'all' if k == 0 else k:>12} | " + " | ".join(f"{acc[n]:>10.1%}" for n in (*FACES.labels, "joint")))


if __name__ == "__main__":
    main()
