"""Token budgets and word/token statistics (pointdiff/text/budget.py)."""

from __future__ import annotations

import pytest

from pointdiff.data.dataset import Dataset
from pointdiff.text.budget import TextStats, TokenBudget, dataset_encoder


@pytest.mark.parametrize(("max_tokens", "words"), [(3, 5), (32, 20), (77, 40), (512, 40)])
def test_strict_word_limit_is_two_thirds_of_the_budget_within_5_and_40(max_tokens: int, words: int) -> None:
    assert TokenBudget("x", max_tokens, lambda ts: [0] * len(ts)).strict_words() == words


def test_text_stats() -> None:
    stats = TextStats(words=[3, 5, 10], tokens=[4, 9, 12])
    assert TextStats.describe(stats.words) == (6.0, 5, 10)
    assert TextStats.describe([]) is None
    assert (stats.over(9), stats.over(12), stats.over(3)) == (1, 0, 3)


def test_dataset_without_embeddings_has_no_encoder(shapes_dataset: Dataset) -> None:
    assert dataset_encoder(shapes_dataset.root) is None


def test_budget_of_the_real_default_encoder(minilm) -> None:
    budget = TokenBudget.of_encoder("minilm")
    assert (budget.encoder, budget.max_tokens) == (minilm.info.id, minilm.info.max_tokens)
    assert budget.count(["a face turned left"]) == minilm.count_tokens(["a face turned left"])
