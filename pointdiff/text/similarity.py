"""How alike a set of text embeddings is: pairwise cosine statistics, nearest texts, duplicates.

The reference system showed its users the spread of pairwise cosine similarity over its
caption embeddings (CLIP ViT-B/32, 302 captions: 0.46-1.00, mean 0.82 ± 0.07); a set whose
captions all look alike gives the model little to condition on.

Everything here works in row blocks, so 100k embeddings never need an N x N matrix:
min / max / mean / std and the top pairs are exact; the histogram uses every pair when
there are at most ``hist_pairs`` of them, else that many pairs drawn at random (seeded).
Rows are expected to be unit vectors, so a dot product is the cosine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

# The reference set's numbers (CLIP ViT-B/32 over 302 summaries), shown beside ours for orientation.
REFERENCE_STATS = {"min": 0.46, "max": 1.00, "mean": 0.82, "std": 0.07}
BLOCK_ELEMENTS = 1 << 22  # ~16 MB of float32 similarities per block: cache-friendly, flat memory


@dataclass(frozen=True)
class Pair:
    """Two rows ``i < j`` and their cosine similarity."""

    i: int
    j: int
    cosine: float


@dataclass
class SimilarityStats:
    """Statistics over all pairs ``i < j`` of a set of unit vectors."""

    n: int  # vectors
    num_pairs: int  # n (n - 1) / 2
    min: float
    max: float
    mean: float
    std: float  # population standard deviation over the pairs
    most_similar: list[Pair]  # highest first (with groups: one pair per two distinct groups)
    least_similar: list[Pair]  # lowest first
    histogram_values: np.ndarray = field(repr=False)  # cosines for the histogram
    histogram_exact: bool = True  # False: a random sample of pairs (seeded)


def _merge_top(best: tuple[torch.Tensor, torch.Tensor, torch.Tensor], cand: tuple[torch.Tensor, torch.Tensor, torch.Tensor], k: int, largest: bool):
    vals, ii, jj = (torch.cat([a, b]) for a, b in zip(best, cand))
    if len(vals) > k:
        keep = torch.topk(vals, k, largest=largest).indices
        vals, ii, jj = vals[keep], ii[keep], jj[keep]
    order = torch.argsort(vals, descending=largest, stable=True)
    return vals[order], ii[order], jj[order]


def _empty_top() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return torch.empty(0), torch.empty(0, dtype=torch.long), torch.empty(0, dtype=torch.long)


def _block_top(sims: torch.Tensor, allowed: torch.Tensor, a: int, k: int, largest: bool):
    fill = -math.inf if largest else math.inf
    flat = sims.masked_fill(~allowed, fill).flatten()
    k = min(k, int(allowed.sum()))
    if k == 0:
        return _empty_top()
    top = torch.topk(flat, k, largest=largest)
    cols = sims.shape[1]
    return top.values, top.indices // cols + a, top.indices % cols + a


def pairwise_stats(
    emb: torch.Tensor,
    top_k: int = 5,
    groups: Sequence[int] | None = None,
    hist_pairs: int = 200_000,
    seed: int = 0,
    block_elements: int = BLOCK_ELEMENTS,
) -> SimilarityStats:
    """Cosine statistics over every pair ``i < j`` of the rows of ``emb`` (unit vectors).

    Args:
        emb: ``[N, D]``, N >= 2.
        top_k: how many most / least similar pairs to return.
        groups: optional group per row (e.g. one per distinct text). All pairs count in the
            statistics, but the top pairs then join two different groups, each through its
            first row, so they are not all duplicates at 1.0 nor the same texts repeated.
        hist_pairs: the most pair values kept for the histogram; above it, a seeded sample.
        seed: for the histogram sample.
        block_elements: similarities computed at once (memory bound of the scan).
    """
    emb = emb.float()
    n = emb.shape[0]
    if n < 2:
        raise ValueError(f"need at least 2 vectors for pairwise statistics, got {n}")
    num_pairs = n * (n - 1) // 2
    g = first = None
    if groups is not None:
        g = torch.as_tensor(list(groups))
        first_row: dict[int, int] = {}
        for k, x in enumerate(g.tolist()):
            first_row.setdefault(x, k)
        first = torch.zeros(n, dtype=torch.bool)
        first[list(first_row.values())] = True
    exact_hist = num_pairs <= hist_pairs
    hist: list[torch.Tensor] = []
    total = total_sq = 0.0
    lo, hi = math.inf, -math.inf
    best_hi, best_lo = _empty_top(), _empty_top()
    rows = max(1, block_elements // n)
    for a in range(0, n - 1, rows):
        b = min(n - 1, a + rows)
        sims = (emb[a:b] @ emb[a:].T).clamp_(-1.0, 1.0)  # [m, n - a]; column c is row a + c
        m = b - a
        # pair (a + r, a + c) counts once when c > r
        upper = torch.arange(n - a)[None, :] > torch.arange(m)[:, None]
        vals = sims[upper]
        total += float(vals.sum(dtype=torch.float64))
        total_sq += float((vals.double() ** 2).sum())
        lo, hi = min(lo, float(vals.min())), max(hi, float(vals.max()))
        if exact_hist:
            hist.append(vals)
        allowed = upper
        if g is not None and first is not None:
            allowed = upper & (g[a:b, None] != g[None, a:]) & first[a:b, None] & first[None, a:]
        best_hi = _merge_top(best_hi, _block_top(sims, allowed, a, top_k, True), top_k, True)
        best_lo = _merge_top(best_lo, _block_top(sims, allowed, a, top_k, False), top_k, False)
    mean = total / num_pairs
    std = math.sqrt(max(0.0, total_sq / num_pairs - mean * mean))
    hist_values = torch.cat(hist).numpy() if exact_hist else _sampled_pairs(emb, hist_pairs, seed)

    def pairs(best: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> list[Pair]:
        return [Pair(int(i), int(j), float(v)) for v, i, j in zip(*best)]

    return SimilarityStats(n, num_pairs, lo, hi, mean, std, pairs(best_hi), pairs(best_lo), hist_values, exact_hist)


def _sampled_pairs(emb: torch.Tensor, count: int, seed: int) -> np.ndarray:
    """Cosines of ``count`` pairs ``i != j`` drawn uniformly (with replacement)."""
    gen = torch.Generator().manual_seed(seed)
    n = emb.shape[0]
    i = torch.randint(0, n, (count,), generator=gen)
    j = (i + torch.randint(1, n, (count,), generator=gen)) % n  # never i itself
    out = torch.empty(count)
    step = max(1, BLOCK_ELEMENTS // max(1, emb.shape[1]))  # pairs at a time: all 200k at once held 900 MB of gathered vectors
    for a in range(0, count, step):
        out[a : a + step] = (emb[i[a : a + step]] * emb[j[a : a + step]]).sum(-1)
    return out.clamp_(-1.0, 1.0).numpy()


def cosine_matrix(a: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
    """Cosine similarity of every row of ``a`` with every row of ``b`` (default ``a``): ``[A, B]``."""
    a = torch.nn.functional.normalize(a.float(), dim=-1)
    b = a if b is None else torch.nn.functional.normalize(b.float(), dim=-1)
    return (a @ b.T).clamp_(-1.0, 1.0)


def nearest(queries: torch.Tensor, corpus: torch.Tensor, k: int = 3, block_elements: int = BLOCK_ELEMENTS) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` rows of ``corpus`` most similar to each query: (cosines ``[Q, k]``, indices ``[Q, k]``).

    Both sides are unit vectors; the corpus is scanned in blocks, so it can be large.
    """
    q = queries.float()
    k = min(k, corpus.shape[0])
    best_v = torch.full((q.shape[0], 0), -math.inf)
    best_i = torch.zeros((q.shape[0], 0), dtype=torch.long)
    rows = max(1, block_elements // max(1, q.shape[0]))
    for a in range(0, corpus.shape[0], rows):
        sims = (q @ corpus[a : a + rows].float().T).clamp_(-1.0, 1.0)
        v = torch.cat([best_v, sims], 1)
        i = torch.cat([best_i, torch.arange(a, a + sims.shape[1]).expand(q.shape[0], -1)], 1)
        top = torch.topk(v, min(k, v.shape[1]), dim=1)
        best_v, best_i = top.values, torch.gather(i, 1, top.indices)
    return best_v, best_i


@dataclass
class DuplicateGroup:
    """Rows that share exactly the same text."""

    text: str
    rows: list[int]


def duplicate_texts(texts: Sequence[str]) -> list[DuplicateGroup]:
    """Groups of rows with identical texts, largest first (each group has 2 or more rows)."""
    by_text: dict[str, list[int]] = {}
    for i, t in enumerate(texts):
        by_text.setdefault(t, []).append(i)
    groups = [DuplicateGroup(t, rows) for t, rows in by_text.items() if len(rows) > 1]
    return sorted(groups, key=lambda d: (-len(d.rows), d.rows[0]))


def text_groups(texts: Sequence[str]) -> list[int]:
    """One group number per text; identical texts share a number (for ``pairwise_stats(groups=...)``)."""
    seen: dict[str, int] = {}
    return [seen.setdefault(t, len(seen)) for t in texts]
