"""Prompt accuracy by kind of prompt: canonical prompts, the run's own training captions, and their scoring."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pointdiff.data.dataset import Dataset
from pointdiff.data.faces import EXPRESSIONS, ORIENTATIONS, canonical_prompt
from pointdiff.data.ingest import IngestConfig, ingest
from pointdiff.evaluate.kinds import CANONICAL, TRAINING, PromptSet, accuracy_by_kind, canonical_prompt_set, training_prompt_set
from pointdiff.evaluate.labelled import FACES
from pointdiff.evaluate.sets import EvalSet
from pointdiff.text.embeddings import dataset_texts, read_embeddings
from tiny_runs import FAKE, add_embeddings


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """70 built-in faces with stand-in vectors."""
    root = tmp_path_factory.mktemp("kinds") / "faces"
    ingest("builtin:faces", root, IngestConfig(count=70, seed=0, contact_sheet=0))
    ds = Dataset(root)
    add_embeddings(ds)
    return ds


def test_canonical_prompts_are_the_references_style() -> None:
    assert canonical_prompt("left", "neutral") == "Left-facing, neutral expression"
    assert canonical_prompt("up", "surprised") == "Looking up, surprised expression"
    labels = [{"orientation": o, "expression": e} for o in ORIENTATIONS for e in EXPRESSIONS for _ in range(2)]
    ps = canonical_prompt_set(labels, FACES)
    assert ps.kind == CANONICAL and len(ps.prompts) == 2 * len(ORIENTATIONS) * len(EXPRESSIONS)
    assert ps.prompts[0] == ps.prompts[1] == "Front-facing, smiling expression" and ps.labels == labels
    assert ps.real is None and ps.cond is None


def test_training_captions_come_with_their_own_vectors_and_faces(faces: Dataset) -> None:
    ps = training_prompt_set(faces.root, FAKE, FACES, per_combo=1, num_points=128)
    assert ps is not None and ps.kind == TRAINING
    pairs = [(lab["orientation"], lab["expression"]) for lab in ps.labels]
    assert len(pairs) == len(set(pairs)) == len(ps.prompts)  # at most one face per pair
    stored = read_embeddings(faces.root / "embeddings.safetensors")
    by_text = dict(zip(dataset_texts(faces).texts, stored.embeddings))  # one row per text, 5 per face
    first = {t for t, _ in faces.texts()}
    for prompt, vec in zip(ps.prompts, ps.cond):
        assert prompt in first and torch.equal(vec, by_text[prompt])  # a face's first caption, with the very vector the run trained on
    assert ps.real is not None and ps.real.shape == (len(ps.prompts), 128, 2)
    assert training_prompt_set(faces.root, FAKE, FACES, per_combo=3) is not None
    assert len(training_prompt_set(faces.root, FAKE, FACES, per_combo=3).prompts) > len(ps.prompts)


def test_training_captions_of_another_encoder_are_not_used(faces: Dataset, tmp_path: Path) -> None:
    from dataclasses import replace

    assert training_prompt_set(faces.root, replace(FAKE, weights_sha256="0" * 64), FACES, per_combo=1) is None
    assert training_prompt_set(tmp_path / "gone", FAKE, FACES, per_combo=1) is None


class Oracle:
    """A scorer that reads every cloud right when its x-mean is positive, else calls it front/neutral."""

    def __init__(self, truth: list[dict[str, str]]):
        self.truth = truth

    def predict(self, clouds: torch.Tensor) -> list[dict[str, str]]:
        return [t if c[:, 0].mean() > 0 else {"orientation": "front", "expression": "neutral"} for c, t in zip(clouds, self.truth)]


def test_accuracy_by_kind_scores_generated_and_real() -> None:
    labels = [{"orientation": "left", "expression": "sad"}, {"orientation": "up", "expression": "angry"}]
    ps = PromptSet("demo", ["a", "b"], labels, real=torch.ones(2, 8, 2))
    drawn = torch.stack([torch.ones(8, 2), -torch.ones(8, 2)])  # the first right, the second wrong
    out = accuracy_by_kind([ps], lambda s: drawn, Oracle(labels), FACES.labels)
    assert out["demo"]["n"] == 2
    assert out["demo"]["generated"] == {"orientation": 0.5, "expression": 0.5, "joint": 0.5}
    assert out["demo"]["real"] == {"orientation": 1.0, "expression": 1.0, "joint": 1.0}
    assert out["demo"]["nna"] is None  # no references given


def test_each_kind_gets_its_1nna_against_the_eval_references() -> None:
    g = torch.Generator().manual_seed(0)
    reference = torch.randn(6, 64, 2, generator=g)
    evalset = EvalSet("faces", ["p"] * 6, [0] * 6, reference, [0] * 6)
    labels = [{"orientation": "left", "expression": "sad"}] * 6
    far = PromptSet("far", ["a"] * 6, labels)
    near = PromptSet("near", ["a"] * 6, labels)
    drawn = {"far": torch.randn(6, 64, 2, generator=g) + 10, "near": reference + 0.01 * torch.randn(6, 64, 2, generator=g)}
    out = accuracy_by_kind([far, near], lambda s: drawn[s.kind], Oracle(labels), FACES.labels, against=evalset)
    assert out["far"]["nna"] == 1.0  # every cloud's nearest neighbour is of its own set: told apart every time
    assert out["near"]["nna"] == 0.0  # every cloud's nearest neighbour is its twin in the other set
