"""Shared by the eval tests: one cache of rendered faces, one held-out face set, one small scorer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pointdiff.evaluate import EvalSet, faces_eval_set, get_scorer
from pointdiff.metrics import ClassifierConfig, Scorer

SCORER_FACES = 350  # 10 per orientation x expression: renders in ~3 s
SMALL = ClassifierConfig(width=16, epochs=40)  # ~4 s; the default (1050 faces, width 48) takes minutes


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
