"""EncoderInfo round trips and mismatch checks; the embeddings file format."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pointdiff.errors import PointdiffError
from pointdiff.store import load_tensors
from pointdiff.text.embeddings import EncoderInfo, StoredEmbeddings, check_encoder, read_embeddings, text_sha256, write_embeddings

INFO = EncoderInfo("minilm", "minilm", 4, 256, "ab" * 32)


def test_encoder_info_round_trips_through_json() -> None:
    assert EncoderInfo.from_json(INFO.to_json()) == INFO
    assert EncoderInfo.from_dict(INFO.to_dict()) == INFO


def test_malformed_encoder_info_is_refused() -> None:
    with pytest.raises(PointdiffError, match="lacks dim"):
        EncoderInfo.from_dict({"id": "x", "family": "clip", "max_tokens": 77, "weights_sha256": "0"})
    with pytest.raises(PointdiffError, match="not JSON"):
        EncoderInfo.from_json("{nope")


def test_same_encoder_passes() -> None:
    check_encoder(INFO, EncoderInfo(**INFO.to_dict()))


def test_different_weights_are_refused_naming_the_field() -> None:
    other = EncoderInfo("minilm", "minilm", 4, 256, "cd" * 32)
    with pytest.raises(PointdiffError, match="weights_sha256: expected abab.*--encoder minilm"):
        check_encoder(INFO, other, what="run-1")


def test_different_encoder_names_every_difference() -> None:
    clip = EncoderInfo("openai/clip-vit-base-patch32", "clip", 512, 77, "cd" * 32)
    with pytest.raises(PointdiffError) as e:
        check_encoder(INFO, clip)
    msg = str(e.value)
    assert "id: expected minilm" in msg and "dim: expected 4, got 512" in msg and "weights_sha256" in msg and "family" in msg


def test_same_weights_under_another_id_is_the_same_encoder() -> None:
    local = EncoderInfo("/models/minilm", "sentence", 4, 256, INFO.weights_sha256)
    check_encoder(INFO, local)
    with pytest.raises(PointdiffError, match="id: expected minilm"):
        check_encoder(INFO, local, strict_id=True)


def test_embeddings_file_round_trip(tmp_path: Path) -> None:
    emb = torch.nn.functional.normalize(torch.randn(3, 4), dim=1)
    stored = StoredEmbeddings(emb, INFO, ["a", "b", "c"], [text_sha256(t) for t in "xyz"], {"b": 300})
    path = tmp_path / "embeddings.safetensors"
    write_embeddings(path, stored)
    back = read_embeddings(path)
    assert torch.equal(back.embeddings, emb) and back.encoder == INFO
    assert back.ids == ["a", "b", "c"] and back.texts_sha256 == stored.texts_sha256 and back.over_budget == {"b": 300}
    tensors, meta = load_tensors(path)  # plain safetensors a user can open: documented names
    assert set(tensors) == {"embeddings"} and {"encoder", "ids", "texts_sha256"} <= set(meta)
    assert EncoderInfo.from_json(meta["encoder"]) == INFO


def test_shape_mismatch_is_refused() -> None:
    with pytest.raises(PointdiffError, match="do not match"):
        StoredEmbeddings(torch.zeros(2, 4), INFO, ["a"], ["h"])
    with pytest.raises(PointdiffError, match="4-d"):
        StoredEmbeddings(torch.zeros(1, 5), INFO, ["a"], ["h"])


def test_missing_or_foreign_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PointdiffError, match="pointdiff embed"):
        read_embeddings(tmp_path / "none.safetensors")
    from pointdiff.store import save_tensors

    save_tensors(tmp_path / "other.safetensors", {"x": torch.zeros(1)})
    with pytest.raises(PointdiffError, match="not a pointdiff embeddings file"):
        read_embeddings(tmp_path / "other.safetensors")
