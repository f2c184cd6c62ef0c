"""Shared by the eval tests: one cache of rendered pictures, held-out face and glyph sets, small scorers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pointdiff.evaluate import GLYPHS, EvalSet, faces_eval_set, get_scorer, labelled_eval_set
from pointdiff.metrics import ClassifierConfig, Scorer

SCORER_FACES = 350  # 10 per orientation x expression: renders in ~3 s
SMALL = ClassifierConfig(width=16, epochs=40)  # ~4 s; the default (1050 faces, width 48) takes minutes
SCORER_GLYPHS = 372  # 6 per character
SMALL_GLYPHS = ClassifierConfig(width=16, epochs=30)  # ~6 s with the rendering; reads ~30 % of characters (chance 1.6 %)


@pytest.fixture(scope="session")
def eval_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Rendered faces and the cached scorer, shared by every eval test (rendering takes seconds)."""
    return tmp_path_factory.mktemp("eval-cache")


@pytest.fixture(scope="session")
def evalset(eval_cache: Path) -> EvalSet:
    """One face per orientation × expression, 512 points each."""
    return faces_eval_set(1, 512, eval_cache)


@pytest.fixture(scope="session")
def small_scorer(eval_cache: Path) -> Callable[[], Scorer]:
    """``get_scorer`` with small settings: the first call trains the classifier, later ones load it."""
    return lambda: get_scorer("classifier", SCORER_FACES, eval_cache, config=SMALL)


@pytest.fixture(scope="session")
def glyph_evalset(eval_cache: Path) -> EvalSet:
    """One glyph per character, 512 points each."""
    return labelled_eval_set(GLYPHS, 1, 512, eval_cache)


@pytest.fixture(scope="session")
def small_glyph_scorer(eval_cache: Path) -> Scorer:
    """A glyph scorer with small settings, trained once per session."""
    return get_scorer("classifier", SCORER_GLYPHS, eval_cache, config=SMALL_GLYPHS, source=GLYPHS)
