"""Several captions of one picture: more phrasings drawn until they differ.

A model trained on one sentence per picture learns those sentences; given several phrasings
of the same picture it has to learn what the words mean (issue 10: the built-in faces drew
their own captions' orientation 99.5 % right and other wordings' 63 %).
"""

from __future__ import annotations

from collections.abc import Callable


def more_phrasings(first: str, draw: Callable[[], str], count: int, tries_each: int = 20) -> list[str]:
    """Up to ``count`` captions from ``draw()`` that repeat neither ``first`` nor each other.

    Gives up after ``tries_each × count`` draws, so a source with few phrasings returns fewer.
    """
    out: list[str] = []
    for _ in range(tries_each * count):
        if len(out) >= count:
            break
        text = draw()
        if text != first and text not in out:
            out.append(text)
    return out
