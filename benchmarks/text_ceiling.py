"""How much of a prompt's meaning the text vectors alone carry to the training captions.

    python benchmarks/text_ceiling.py DATASET [--k 1 --k 15] [--tokens] [--probe]

For a built-in labelled DATASET (embedded), it writes eval's prompts — held-out paraphrases
and training-style phrasings, two per label combination, with eval's prompt seed — encodes
them with the dataset's own encoder, and gives each prompt the majority label of its k
nearest training captions (cosine). That is what similarity in the encoder's space alone
carries; a trained model goes past it only by learning which directions of the space matter.
It says how much of "understanding" the encoder hands the model to start from.

``--tokens`` also ranks the captions by token-level similarity (ColBERT's MaxSim: each prompt
token's best cosine among a caption's token states, averaged over the prompt's tokens; [CLS]
and [SEP] left out): what conditioning on the encoder's token states, rather than one pooled
vector, could start from. Sentence encoders only (BERT-like token states).

``--probe`` also fits a linear classifier per label on the training captions' pooled vectors
(softmax regression, L-BFGS, a small L2 penalty) and scores it on the same prompts: what a
network that reads the pooled vector can learn to read from these captions, beyond
similarity — an estimate of the most a text-conditioned model trained on them can
understand of other wordings.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from pointdiff.evaluate.sets import PROMPT_SEED
from pointdiff.text.encoders import load_encoder

sys.path.insert(0, str(Path(__file__).resolve().parent))
from labelled_data import open_labelled  # noqa: E402


def token_states(encoder, texts: list[str], batch: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit token states [N, T, D] of ``texts`` without [CLS] and [SEP], and their mask [N, T]."""
    rows: list[torch.Tensor] = []
    with torch.inference_mode():
        for a in range(0, len(texts), batch):
            b = encoder.tokenizer(texts[a : a + batch], padding=True, truncation=True, max_length=encoder.info.max_tokens, return_tensors="pt")
            h = encoder.model(**b).last_hidden_state
            keep = b["attention_mask"].clone()
            keep[:, 0] = 0
            keep[torch.arange(len(keep)), b["attention_mask"].sum(1) - 1] = 0
            rows += [F.normalize(h[k][keep[k].bool()], dim=-1) for k in range(len(h))]
    longest = max(len(r) for r in rows)
    states, mask = torch.zeros(len(rows), longest, rows[0].shape[1]), torch.zeros(len(rows), longest, dtype=torch.bool)
    for i, r in enumerate(rows):
        states[i, : len(r)], mask[i, : len(r)] = r, True
    return states, mask


def maxsim(prompts: tuple[torch.Tensor, torch.Tensor], captions: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """[prompts, captions]: mean over each prompt's tokens of the best cosine among a caption's tokens."""
    (q, qm), (c, cm) = prompts, captions
    out = torch.empty(len(q), len(c))
    for i in range(len(q)):
        best = torch.einsum("qd,ntd->nqt", q[i][qm[i]], c).masked_fill(~cm[:, None, :], -2.0).amax(2)
        out[i] = best.mean(1)
    return out


def linear_probe(x: torch.Tensor, y: list[str], l2: float = 1e-3) -> Callable[[torch.Tensor], list[str]]:
    """Softmax regression fitted on vectors ``x`` [N, D] with labels ``y`` (deterministic): vectors [Q, D] -> their labels."""
    classes = sorted(set(y))
    target = torch.tensor([classes.index(v) for v in y])
    w = torch.zeros(x.shape[1], len(classes), requires_grad=True)
    b = torch.zeros(len(classes), requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=300, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(x @ w + b, target) + l2 * w.square().sum()
        loss.backward()
        return loss

    opt.step(closure)
    w, b = w.detach(), b.detach()
    return lambda queries: [classes[i] for i in (queries @ w + b).argmax(1).tolist()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", help="a built-in labelled dataset folder, embedded (`pointdiff embed`)")
    ap.add_argument("--k", type=int, action="append", default=None, help="neighbours voting (repeatable; default 1 and 15)")
    ap.add_argument("--tokens", action="store_true", help="also rank captions by token-level MaxSim (sentence encoders)")
    ap.add_argument("--probe", action="store_true", help="also score a linear classifier fitted on the captions' pooled vectors")
    args = ap.parse_args()
    ds, source, data = open_labelled(args.dataset)
    encoder = load_encoder(data.encoder.id)
    scored = source.labels  # faces: orientation, expression; glyphs: character and its style
    picture_labels = [{n: str(ds.records[int(p)].labels[n]) for n in scored} for p in data.picture]
    # two prompts per label combination, each naming every scored label of a training picture of
    # that combination (a glyph's prompt names its style too)
    examples: dict[tuple[str, ...], list[dict[str, str]]] = {}
    for rec in ds.records:
        examples.setdefault(source.combo_of(rec.labels), []).append({n: str(rec.labels[n]) for n in scored})
    labels = [lab for combo in source.combos() for lab in examples.get(combo, [])[:2]]
    rng = random.Random(PROMPT_SEED)
    print(f"{len(labels)} prompts per kind, {len(data.cond)} training captions, encoder {data.encoder.id}")
    captions = token_states(encoder, data.texts) if args.tokens else None
    # fitted once on the captions, read on both kinds of prompt
    probes = {name: linear_probe(data.cond.float(), [lab[name] for lab in picture_labels]) for name in scored} if args.probe else {}
    for kind, held_out in (("held-out paraphrases", True), ("training-style phrasings", False)):
        prompts = [source.prompt_for(lab, rng, held_out=held_out) for lab in labels]
        vectors = encoder.encode(prompts).float()
        ranked = {"pooled": vectors @ data.cond.float().T}
        if captions is not None:
            ranked["tokens"] = maxsim(token_states(encoder, prompts), captions)
        for how, sims in ranked.items():
            for k in args.k or [1, 15]:
                top = sims.topk(k, dim=1).indices
                right = Counter()
                for i, lab in enumerate(labels):
                    for name in scored:
                        votes = Counter(picture_labels[j][name] for j in top[i].tolist())
                        right[name] += votes.most_common(1)[0][0] == lab[name]
                print(f"{kind:>24}, {how:>6}, {k:>2}-NN: " + " / ".join(f"{n} {right[n] / len(labels):.1%}" for n in scored))
        if probes:
            right = Counter()
            for name, probe in probes.items():
                right[name] = sum(g == lab[name] for g, lab in zip(probe(vectors), labels))
            print(f"{kind:>24}, pooled, linear probe: " + " / ".join(f"{n} {right[n] / len(labels):.1%}" for n in scored))


if __name__ == "__main__":
    main()
