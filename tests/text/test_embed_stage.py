"""The embed stage on a tiny dataset: files written, no work when current, partial recompute, prompts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from pointdiff import embedding as embed_mod
from pointdiff.data.dataset import EMBEDDINGS_FILE, SUMMARIES_FILE, Dataset, DatasetWriter, Record
from pointdiff.embedding import HISTOGRAM_FILE, EmbedConfig, compare_prompts, embed_dataset
from pointdiff.errors import PointdiffError
from pointdiff.store import load_tensors
from pointdiff.text.embeddings import check_encoder, load_dataset_embeddings, read_embeddings, text_sha256
from pointdiff.text.encoders import TextEncoder


def _summarize(ds: Dataset, rows: dict[str, str]) -> None:
    with open(ds.root / SUMMARIES_FILE, "a", encoding="utf-8") as f:
        for i, text in rows.items():
            f.write(json.dumps({"id": i, "text": text}) + "\n")


def test_writes_embeddings_and_similarity(shapes_dataset: Dataset, minilm: TextEncoder) -> None:
    r = embed_dataset(shapes_dataset.root, EmbedConfig(), encoder=minilm)
    assert r.encoded == 8 and r.reused == 0 and not r.up_to_date and r.sources == {"source": 8}
    tensors, meta = load_tensors(shapes_dataset.root / EMBEDDINGS_FILE)
    emb = tensors["embeddings"]
    assert emb.shape == (8, 384) and torch.allclose(emb.norm(dim=1), torch.ones(8), atol=1e-5)
    assert json.loads(meta["ids"]) == shapes_dataset.ids
    texts = [t for t, _ in shapes_dataset.texts()]
    assert json.loads(meta["texts_sha256"]) == [text_sha256(t) for t in texts]
    assert json.loads(meta["encoder"])["weights_sha256"] == minilm.info.weights_sha256
    assert torch.allclose(emb, minilm.encode(texts), atol=1e-5)
    sim = r.similarity
    assert sim is not None and sim.stats is not None and sim.stats.num_pairs == 28
    assert sim.stats.max == pytest.approx(1.0, abs=1e-5)  # every shape appears twice
    assert len(sim.duplicates) == 4 and sim.num_duplicate_rows == 8
    assert sim.histogram == shapes_dataset.root / HISTOGRAM_FILE and sim.histogram.stat().st_size > 0


def test_second_run_does_no_work(shapes_dataset: Dataset, minilm: TextEncoder, monkeypatch: pytest.MonkeyPatch) -> None:
    embed_dataset(shapes_dataset.root, EmbedConfig(), encoder=minilm)
    path = shapes_dataset.root / EMBEDDINGS_FILE
    before = path.stat().st_mtime_ns

    def no_load(*a, **k):  # an up-to-date run must not even load the model
        raise AssertionError("encoder loaded")

    monkeypatch.setattr(embed_mod, "load_encoder", no_load)
    r = embed_dataset(shapes_dataset.root, EmbedConfig())
    assert r.up_to_date and r.encoded == 0 and r.reused == 8
    assert path.stat().st_mtime_ns == before
    r = embed_dataset(shapes_dataset.root, EmbedConfig(force=True), encoder=minilm)
    assert r.encoded == 8 and r.reason == "--force"


def test_changed_text_recomputes_only_that_row(shapes_dataset: Dataset, minilm: TextEncoder) -> None:
    embed_dataset(shapes_dataset.root, EmbedConfig(stats=False), encoder=minilm)
    old = read_embeddings(shapes_dataset.root / EMBEDDINGS_FILE)
    _summarize(shapes_dataset, {"shape-003": "a thin upright line"})
    r = embed_dataset(shapes_dataset.root, EmbedConfig(stats=False), encoder=minilm)
    assert r.encoded == 1 and r.reused == 7 and r.reason == "texts: 1 changed" and r.sources == {"source": 7, "summary": 1}
    new = read_embeddings(shapes_dataset.root / EMBEDDINGS_FILE)
    assert torch.allclose(new.embeddings[3], minilm.encode(["a thin upright line"])[0], atol=1e-5)
    keep = [k for k in range(8) if k != 3]
    assert torch.equal(new.embeddings[keep], old.embeddings[keep])


def test_stale_embeddings_are_refused_downstream(shapes_dataset: Dataset, minilm: TextEncoder) -> None:
    embed_dataset(shapes_dataset.root, EmbedConfig(stats=False), encoder=minilm)
    emb, info, ids = load_dataset_embeddings(shapes_dataset.root)
    assert emb.shape == (8, 384) and info == minilm.info and ids == shapes_dataset.ids
    _summarize(shapes_dataset, {"shape-000": "something else"})
    with pytest.raises(PointdiffError, match="out of date.*pointdiff embed"):
        load_dataset_embeddings(shapes_dataset.root)


def test_encoder_change_recomputes_and_mismatch_is_refused(shapes_dataset: Dataset, minilm: TextEncoder, tiny_clip: TextEncoder) -> None:
    embed_dataset(shapes_dataset.root, EmbedConfig(stats=False), encoder=minilm)
    r = embed_dataset(shapes_dataset.root, EmbedConfig(stats=False), encoder=tiny_clip)
    assert r.encoded == 8 and r.reason.startswith("encoder changed")
    stored = read_embeddings(shapes_dataset.root / EMBEDDINGS_FILE)
    assert stored.embeddings.shape == (8, 24) and stored.encoder == tiny_clip.info
    with pytest.raises(PointdiffError, match="dim: expected 24, got 384"):
        check_encoder(stored.encoder, minilm.info, what="run-1")


def test_over_budget_texts_are_reported(shapes_dataset: Dataset, tiny_clip: TextEncoder) -> None:
    r = embed_dataset(shapes_dataset.root, EmbedConfig(stats=False), encoder=tiny_clip)  # 16 tokens: 1 per character
    texts = dict(zip(r.ids, r.texts))
    expected = {i: len(t.replace(" ", "")) + 2 for i, t in texts.items() if len(t.replace(" ", "")) + 2 > 16}
    assert r.over_budget == expected and "shape-000" in expected and "shape-002" not in expected
    assert read_embeddings(shapes_dataset.root / EMBEDDINGS_FILE).over_budget == expected
    again = embed_dataset(shapes_dataset.root, EmbedConfig(stats=False), encoder=tiny_clip)
    assert again.up_to_date and again.over_budget == expected  # still reported without re-encoding


def _dataset_with_a_silent_sample(root: Path) -> Dataset:
    w = DatasetWriter(root)
    px = np.array([[1, 2], [3, 4]], dtype=np.uint16)
    for k, caption in enumerate(["a ring", None, "a bar"]):
        w.add(Record(id=f"s{k}", source=f"s{k}.png", sha256=f"{k:064x}", width=8, height=8, ink_count=0, caption=caption), px)
    w.close()
    return Dataset(root)


def test_missing_text_is_refused_unless_allowed(tmp_path: Path, minilm: TextEncoder) -> None:
    ds = _dataset_with_a_silent_sample(tmp_path / "ds")
    with pytest.raises(PointdiffError, match="1 of 3 samples have no text.*pointdiff caption.*--allow-missing"):
        embed_dataset(ds.root, EmbedConfig(), encoder=minilm)
    r = embed_dataset(ds.root, EmbedConfig(allow_missing=True), encoder=minilm)
    assert r.missing == ["s1"] and r.ids == ["s0", "s2"]
    emb, _, ids = load_dataset_embeddings(ds.root)
    assert ids == ["s0", "s2"] and emb.shape == (2, 384)


def test_compare_prompts_with_dataset(shapes_dataset: Dataset, minilm: TextEncoder, monkeypatch: pytest.MonkeyPatch) -> None:
    embed_dataset(shapes_dataset.root, EmbedConfig(stats=False), encoder=minilm)
    monkeypatch.setattr(embed_mod, "load_encoder", lambda name, *a, **k: minilm if name == "minilm" else pytest.fail(name))
    rep = compare_prompts(["a ring on the left side", "a flat horizontal line"], shapes_dataset.root, top=2)
    assert rep.encoder == minilm.info and rep.similarity.shape == (2, 2)
    assert torch.allclose(rep.similarity.diagonal(), torch.ones(2), atol=1e-5)
    first = rep.neighbours[0][0]
    assert first.text == "a small ring on the left" and first.count == 2  # duplicates collapse into one row
    assert rep.neighbours[1][0].text == "a horizontal bar"
    assert rep.neighbours[0][0].cosine >= rep.neighbours[0][1].cosine


def test_compare_prompts_without_dataset(minilm: TextEncoder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embed_mod, "load_encoder", lambda *a, **k: minilm)
    rep = compare_prompts(["left-facing neutral", "smiling, turned right"])
    assert rep.neighbours == [] and rep.tokens[0] > 2 and rep.similarity.shape == (2, 2)
