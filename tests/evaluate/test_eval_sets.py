"""pointdiff.evaluate.sets: held-out face sets and the cached prompt-accuracy scorer."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from pointdiff import metrics
from pointdiff.evaluate import FACES, EvalSet
from pointdiff.metrics import Scorer, label_accuracy


def test_faces_eval_set_covers_every_combination_with_held_out_prompts(evalset: EvalSet) -> None:
    from pointdiff.data.faces import EXPRESSIONS, HELDOUT_PHRASES, ORIENTATIONS

    combos = {(lab["orientation"], lab["expression"]) for lab in evalset.labels}
    assert combos == {(o, e) for o in ORIENTATIONS for e in EXPRESSIONS}
    assert evalset.reference.shape == (35, 512, 2) and evalset.real.shape == (35, 512, 2)
    assert len(set(evalset.groups)) == 35
    # Prompts are written with the held-out phrasings of their own labels.
    for prompt, lab in zip(evalset.prompts, evalset.labels):
        for name in FACES.labels:
            assert any(phrase in prompt for phrase in HELDOUT_PHRASES[name][lab[name]]), (prompt, lab)
    # The second real set is other faces with the same labels.
    assert evalset.real_labels == evalset.labels
    assert not torch.allclose(evalset.real, evalset.reference)


def test_scorer_reads_real_held_out_faces_far_above_chance(small_scorer: Callable[[], Scorer], evalset: EvalSet, monkeypatch: pytest.MonkeyPatch) -> None:
    scorer = small_scorer()
    acc = label_accuracy(scorer.predict(evalset.reference), evalset.labels, FACES.labels)
    # chance: orientation 1/5, expression 1/7, joint 1/35
    assert acc["orientation"] >= 0.8, acc
    assert acc["expression"] >= 0.35, acc
    assert acc["joint"] >= 0.3, acc

    # Cached: the second call loads the same weights instead of training again.
    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cached scorer was trained again")

    monkeypatch.setattr(metrics, "train_classifier", no_training)
    again = small_scorer()
    assert again.predict(evalset.reference) == scorer.predict(evalset.reference)
