"""The token budget a summary must fit: how many tokens the text encoder reads, counted its way.

    budget = TokenBudget.of_encoder(dataset_encoder("pointdiff-work/dataset") or "minilm")
    budget.count(["a face turned left, smiling"])     # tokens per text, special tokens included, nothing cut
    stats = TextStats(words=[5, 7], tokens=[9, 12]); stats.over(budget.max_tokens)

CLIP reads at most 77 tokens and MiniLM 256; a summary longer than that would be cut
silently when embedded, so `summarize` counts with the tokenizer of the encoder that will
embed it.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pointdiff.data.dataset import EMBEDDINGS_FILE


@dataclass(frozen=True)
class TokenBudget:
    """How many tokens the encoder reads, and how it counts them."""

    encoder: str
    max_tokens: int
    count: Callable[[Sequence[str]], list[int]]  # tokens per text, special tokens included, nothing truncated

    @classmethod
    def of_encoder(cls, name: str) -> "TokenBudget":
        """The budget of a real encoder (``minilm``, ``clip``, hub id or folder)."""
        from pointdiff.text.encoders import load_encoder

        enc = load_encoder(name)
        return cls(enc.info.id, enc.info.max_tokens, enc.count_tokens)

    def strict_words(self) -> int:
        """The word limit the strict retry asks for: about 2/3 of a word per token, at most 40."""
        return max(5, min(40, (self.max_tokens - 2) * 2 // 3))


def dataset_encoder(dataset_root: str | Path) -> str | None:
    """The encoder id of the dataset's embeddings, or None when it has none yet."""
    path = Path(dataset_root) / EMBEDDINGS_FILE
    if not path.exists():
        return None
    from pointdiff.text.embeddings import read_embeddings

    return read_embeddings(path).encoder.id


@dataclass
class TextStats:
    """Words and tokens of a set of texts."""

    words: list[int] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)

    @staticmethod
    def describe(values: list[int]) -> tuple[float, float, int] | None:
        """Mean, median, max (None when empty)."""
        return (statistics.fmean(values), statistics.median(values), max(values)) if values else None

    def over(self, budget: int) -> int:
        """How many texts have more than ``budget`` tokens."""
        return sum(n > budget for n in self.tokens)
