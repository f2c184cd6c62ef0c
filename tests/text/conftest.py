"""Text-encoder fixtures: the real embedded MiniLM (loaded once) and tiny random models.

Tiny models are built from configs, saved with ``save_pretrained`` and loaded back through
the same ``load_encoder(path)`` code a real model id takes.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from tiny_models import tiny_lm_dir, tiny_vlm_dir  # noqa: F401  (session fixtures of the tiny VLM and chat LM)

from pointdiff.text.encoders import TextEncoder, load_encoder

TINY_CLIP_TOKENS = 16  # max_position_embeddings of the tiny CLIP: short, so over-budget texts are easy to make
TINY_CLIP_DIM = 24  # its projection size (differs from its width 32, to catch reading the wrong one)


def tiny_clip_tokenizer():
    """A CLIPTokenizer over the 256 byte-level characters (with and without ``</w>``), no merges."""
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import CLIPTokenizer

    chars = sorted(ByteLevel.alphabet())
    vocab = {c: k for k, c in enumerate(chars)}
    vocab.update({c + "</w>": len(chars) + k for k, c in enumerate(chars)})
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=TINY_CLIP_TOKENS)


def save_tiny_clip(path: Path, seed: int = 0, text_only: bool = False) -> Path:
    """Save a random CLIPModel (or, ``text_only``, a CLIPTextModel without projection) + tokenizer."""
    from transformers import CLIPConfig, CLIPModel, CLIPTextConfig, CLIPTextModel

    tok = tiny_clip_tokenizer()
    eos = tok.convert_tokens_to_ids("<|endoftext|>")
    text = dict(
        vocab_size=len(tok), hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=TINY_CLIP_TOKENS, bos_token_id=tok.bos_token_id, eos_token_id=eos, pad_token_id=eos,
        projection_dim=TINY_CLIP_DIM,
    )
    vision = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4, image_size=32, patch_size=16, projection_dim=TINY_CLIP_DIM)
    torch.manual_seed(seed)
    model = CLIPTextModel(CLIPTextConfig(**text)) if text_only else CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=TINY_CLIP_DIM))
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def save_tiny_sentence_model(path: Path, max_seq_length: int = 8, pooling: str = "mean") -> Path:
    """A random BertModel + WordPiece tokenizer laid out like a sentence-transformers folder."""
    from transformers import BertConfig, BertModel, BertTokenizer

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"abcdefghijklmnopqrstuvwxyz", "face", "left", "right", "smiling", "calm"]
    tok = BertTokenizer(vocab={w: k for k, w in enumerate(words)})
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(words), hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=64)
    BertModel(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    (path / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": max_seq_length}))
    (path / "1_Pooling").mkdir()
    (path / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": 32, "pooling_mode_mean_tokens": pooling == "mean", "pooling_mode_cls_token": pooling == "cls"})
    )
    return path


@pytest.fixture(scope="session")
def minilm() -> TextEncoder:
    """The real embedded encoder, loaded once for the whole test session."""
    return load_encoder("minilm")


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random CLIP checkpoint folder (CLIPModel + CLIPTokenizer)."""
    return save_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture(scope="session")
def tiny_clip(tiny_clip_dir: Path) -> TextEncoder:
    """The tiny CLIP loaded through load_encoder(path)."""
    return load_encoder(str(tiny_clip_dir))


@pytest.fixture
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face cache, so tests never see (or load) models cached on this machine."""
    from huggingface_hub import constants

    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


@pytest.fixture
def put_in_hf_cache(hf_cache: Path) -> Callable[[str, Path], Path]:
    """A function laying a model folder out as a cached hub snapshot (refs/main -> snapshots/<commit>)."""

    def put(repo_id: str, folder: Path, commit: str = "a" * 40) -> Path:
        repo = hf_cache / ("models--" + repo_id.replace("/", "--"))
        (repo / "refs").mkdir(parents=True)
        (repo / "refs" / "main").write_text(commit)
        shutil.copytree(folder, repo / "snapshots" / commit)
        return repo / "snapshots" / commit

    return put


@pytest.fixture
def make_model() -> dict[str, Callable[..., Path]]:
    """The tiny-model builders, for tests that need a variant: ``make_model["clip"](path, ...)``."""
    return {"clip": save_tiny_clip, "sentence": save_tiny_sentence_model}
