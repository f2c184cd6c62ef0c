"""Pairwise cosine statistics (exact and chunked), nearest neighbours, duplicates."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pointdiff.text import similarity
from pointdiff.text.similarity import cosine_matrix, duplicate_texts, nearest, pairwise_stats, text_groups


def _unit(angles_deg: list[float]) -> torch.Tensor:
    a = torch.tensor(angles_deg) * math.pi / 180
    return torch.stack([a.cos(), a.sin()], 1)


def test_known_cosines() -> None:
    # 0°, 60°, 90°: cos 60 = 0.5 (0,1), cos 90 = 0 (0,2), cos 30 = 0.866 (1,2)
    s = pairwise_stats(_unit([0, 60, 90]), top_k=3)
    values = np.array([0.5, 0.0, math.sqrt(3) / 2])
    assert s.n == 3 and s.num_pairs == 3
    assert s.min == pytest.approx(0.0, abs=1e-6) and s.max == pytest.approx(values.max(), abs=1e-6)
    assert s.mean == pytest.approx(values.mean(), abs=1e-6) and s.std == pytest.approx(values.std(), abs=1e-6)
    assert [(p.i, p.j) for p in s.most_similar] == [(1, 2), (0, 1), (0, 2)]
    assert [(p.i, p.j) for p in s.least_similar] == [(0, 2), (0, 1), (1, 2)]
    assert s.histogram_exact and sorted(s.histogram_values) == pytest.approx(sorted(values), abs=1e-6)


def _dense(emb: torch.Tensor) -> np.ndarray:
    sims = (emb @ emb.T).numpy()
    iu = np.triu_indices(len(emb), 1)
    return sims[iu]


def test_chunked_equals_dense() -> None:
    g = torch.Generator().manual_seed(0)
    emb = torch.nn.functional.normalize(torch.randn(57, 8, generator=g), dim=1)
    dense = _dense(emb)
    for block in (1, 64, 500, 1 << 22):  # one row per block ... everything at once
        s = pairwise_stats(emb, top_k=4, block_elements=block)
        assert s.num_pairs == len(dense)
        assert s.min == pytest.approx(dense.min(), abs=1e-6) and s.max == pytest.approx(dense.max(), abs=1e-6)
        assert s.mean == pytest.approx(dense.mean(), abs=1e-6) and s.std == pytest.approx(dense.std(), abs=1e-6)
        assert [p.cosine for p in s.most_similar] == pytest.approx(sorted(dense)[::-1][:4], abs=1e-6)
        assert [p.cosine for p in s.least_similar] == pytest.approx(sorted(dense)[:4], abs=1e-6)
        for p in s.most_similar:
            assert p.i < p.j and float(emb[p.i] @ emb[p.j]) == pytest.approx(p.cosine, abs=1e-6)
        assert np.sort(s.histogram_values) == pytest.approx(np.sort(dense), abs=1e-6)


def test_groups_keep_duplicates_out_of_top_pairs() -> None:
    emb = _unit([0, 0, 10, 80])  # rows 0 and 1: the same text
    s = pairwise_stats(emb, top_k=10, groups=[0, 0, 1, 2])
    assert s.max == pytest.approx(1.0)  # the duplicate still counts in the statistics
    pairs = [(p.i, p.j) for p in s.most_similar]
    assert (0, 1) not in pairs and (1, 2) not in pairs and (1, 3) not in pairs  # each text pair once
    assert pairs[0] == (0, 2) and len(pairs) == 3


def test_large_sets_sample_the_histogram() -> None:
    emb = torch.nn.functional.normalize(torch.randn(100, 5, generator=torch.Generator().manual_seed(1)), dim=1)
    a = pairwise_stats(emb, hist_pairs=1000, seed=3)
    b = pairwise_stats(emb, hist_pairs=1000, seed=3)
    assert not a.histogram_exact and len(a.histogram_values) == 1000
    assert np.array_equal(a.histogram_values, b.histogram_values)
    assert a.histogram_values.max() < 1.0 - 1e-6  # never a row with itself


def test_nearest_chunked_equals_dense() -> None:
    g = torch.Generator().manual_seed(2)
    corpus = torch.nn.functional.normalize(torch.randn(40, 6, generator=g), dim=1)
    queries = torch.nn.functional.normalize(torch.randn(3, 6, generator=g), dim=1)
    ref = torch.topk(queries @ corpus.T, 5, dim=1)
    for block in (3, 10_000):
        v, i = nearest(queries, corpus, k=5, block_elements=block)
        assert torch.equal(i, ref.indices) and torch.allclose(v, ref.values)


def test_cosine_matrix_normalises() -> None:
    m = cosine_matrix(torch.tensor([[2.0, 0.0], [0.0, 3.0], [1.0, 1.0]]))
    assert torch.allclose(m.diagonal(), torch.ones(3)) and float(m[0, 1]) == pytest.approx(0.0)


def test_duplicates_and_groups() -> None:
    texts = ["a", "b", "a", "c", "b", "a"]
    dups = duplicate_texts(texts)
    assert [(d.text, d.rows) for d in dups] == [("a", [0, 2, 5]), ("b", [1, 4])]
    assert text_groups(texts) == [0, 1, 0, 2, 1, 0]


def test_sampled_histogram_pairs_are_the_cosines_of_seeded_pairs_whatever_the_block(monkeypatch: pytest.MonkeyPatch) -> None:
    emb = torch.nn.functional.normalize(torch.randn(30, 8, generator=torch.Generator().manual_seed(0)), dim=-1)
    whole = similarity._sampled_pairs(emb, 500, seed=3)
    monkeypatch.setattr(similarity, "BLOCK_ELEMENTS", 8 * 7)  # 7 pairs at a time
    assert np.allclose(similarity._sampled_pairs(emb, 500, seed=3), whole, atol=1e-6)
    gen = torch.Generator().manual_seed(3)
    i = torch.randint(0, 30, (500,), generator=gen)
    j = (i + torch.randint(1, 30, (500,), generator=gen)) % 30
    assert (i != j).all() and np.allclose(whole, (emb[i] * emb[j]).sum(-1).numpy(), atol=1e-6)
