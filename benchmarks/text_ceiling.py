"""How much of a prompt's meaning the text vectors alone carry to the training captions.

    python benchmarks/text_ceiling.py DATASET [--k 1 --k 15]

For a built-in labelled DATASET (embedded), it writes eval's prompts — held-out paraphrases
and training-style phrasings, two per label combination, with eval's prompt seed — encodes
them with the dataset's own encoder, and gives each prompt the majority label of its k
nearest training captions (cosine). That is what similarity in the encoder's space alone
carries; a trained model goes past it only by learning which directions of the space matter.
It says how much of "understanding" the encoder hands the model to start from.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from pathlib import Path

from pointdiff.evaluate.sets import PROMPT_SEED
from pointdiff.text.encoders import load_encoder

sys.path.insert(0, str(Path(__file__).resolve().parent))
from labelled_data import open_labelled  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", help="a built-in labelled dataset folder, embedded (`pointdiff embed`)")
    ap.add_argument("--k", type=int, action="append", default=None, help="neighbours voting (repeatable; default 1 and 15)")
    args = ap.parse_args()
    ds, source, data = open_labelled(args.dataset)
    encoder = load_encoder(data.encoder.id)
    labels = [dict(zip(source.combo_labels, combo)) for combo in source.combos() for _ in range(2)]
    picture_labels = [{n: str(ds.records[int(p)].labels[n]) for n in source.combo_labels} for p in data.picture]
    rng = random.Random(PROMPT_SEED)
    print(f"{len(labels)} prompts per kind, {len(data.cond)} training captions, encoder {data.encoder.id}")
    for kind, held_out in (("held-out paraphrases", True), ("training-style phrasings", False)):
        prompts = [source.prompt_for(lab, rng, held_out=held_out) for lab in labels]
        sims = encoder.encode(prompts).float() @ data.cond.float().T
        for k in args.k or [1, 15]:
            top = sims.topk(k, dim=1).indices
            right = Counter()
            for i, lab in enumerate(labels):
                for name in source.combo_labels:
                    votes = Counter(picture_labels[j][name] for j in top[i].tolist())
                    right[name] += votes.most_common(1)[0][0] == lab[name]
            print(f"{kind:>24}, {k:>2}-NN: " + " / ".join(f"{n} {right[n] / len(labels):.1%}" for n in source.combo_labels))


if __name__ == "__main__":
    main()
