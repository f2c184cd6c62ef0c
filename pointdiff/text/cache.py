"""What `caption` and `summarize` share: a resumable result cache, its keys, and generation settings.

A generated text is worth minutes of model time, so every result is appended to a JSONL
cache the moment it exists (fsynced, :class:`pointdiff.store.JsonlAppender`). A run that is
killed loses at most the batch in flight; the next run looks every input up by its key and
only generates what is missing. A key is the sha256 of everything that decides the output::

    key = make_key(task="caption", image=image_sha256, model=model_fingerprint(path, "KamilaMila/FastVLM-0.5B"),
                   prompt=prompt, generation=settings.key_fields())

Device, dtype and batch size are left out on purpose: they change how fast a text comes,
not what was asked for, and moving from a GPU to a laptop should not redo the work.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from pointdiff.device import resolve_device
from pointdiff.errors import PointdiffError
from pointdiff.store import JsonlAppender, read_jsonl
from pointdiff.text.hf import weights_files, weights_sha256

KEY_FIELD = "key"
_SNAPSHOT = re.compile(r"[/\\]snapshots[/\\]([0-9a-f]{40})(?:[/\\]|$)")


def make_key(**parts: Any) -> str:
    """sha256 of ``parts`` as canonical JSON (sorted keys): same inputs, same key."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def text_digest(text: str) -> str:
    """Short sha256 of a text (prompts and instructions are stored by digest, not repeated per row)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def model_fingerprint(path: str | Path, name: str) -> str:
    """What identifies the weights a run used, for cache keys and output rows.

    A hub model in the Hugging Face cache is identified by its commit (free: it is in the
    snapshot path); a local folder by the sha256 of its weight files (hashed once per
    process; about a second per GB).
    """
    match = _SNAPSHOT.search(str(path))
    if match:
        return f"{name}@{match.group(1)}"
    return f"{name}@sha256:{weights_sha256(weights_files(path))[:16]}"


@dataclass(frozen=True)
class GenerationSettings:
    """How text is generated. Greedy by default: the same input gives the same words."""

    max_new_tokens: int
    do_sample: bool = False
    temperature: float = 0.7
    top_p: float = 0.9
    seed: int = 0

    def key_fields(self) -> dict[str, Any]:
        """The settings that change the output (sampling knobs only matter when sampling)."""
        fields = asdict(self)
        if not self.do_sample:
            for k in ("temperature", "top_p", "seed"):
                fields.pop(k)
        return fields

    def generation_config(self, model: Any, pad_token_id: int | None) -> Any:
        """The model's own ``GenerationConfig`` (eos ids, repetition penalty) with our decoding choice.

        Greedy clears the sampling knobs a checkpoint ships (Qwen's instruct models sample
        by default), so transformers neither warns nor samples behind our back.
        """
        gen = copy.deepcopy(model.generation_config)
        gen.max_new_tokens = self.max_new_tokens
        gen.do_sample = self.do_sample
        if self.do_sample:
            gen.temperature, gen.top_p = self.temperature, self.top_p
        else:
            gen.temperature = gen.top_p = gen.top_k = None
        if gen.pad_token_id is None:
            gen.pad_token_id = pad_token_id if pad_token_id is not None else _first(gen.eos_token_id)
        return gen


def _first(value: int | list[int] | None) -> int | None:
    return value[0] if isinstance(value, (list, tuple)) and value else value  # type: ignore[return-value]


def split_generated(output_ids: torch.Tensor, prompt_length: int, eos_token_id: int | list[int] | None) -> list[tuple[list[int], bool]]:
    """Per row of ``generate``'s output: the new token ids, and whether the model stopped by itself.

    Prompts are left-padded, so every row's new tokens start at ``prompt_length``. A row
    that ends without an end-of-sequence token was cut by ``max_new_tokens``.
    """
    eos = set(eos_token_id if isinstance(eos_token_id, (list, tuple)) else [eos_token_id]) - {None}
    out = []
    for row in output_ids[:, prompt_length:].tolist():
        stop = next((i for i, t in enumerate(row) if t in eos), None)
        # Rows that finished early are padded after their end-of-sequence token: cut there.
        out.append((row, False) if stop is None else (row[:stop], True))
    return out


def generate_texts(model: Any, tokenizer: Any, inputs: Any, settings: GenerationSettings) -> list[tuple[str, bool]]:
    """Run ``model.generate`` on prepared (left-padded) inputs: ``(text, stopped)`` per row.

    ``stopped`` is False when a row was cut by ``max_new_tokens``. Shared by the captioner
    and the summarizer, so both decode, seed and detect truncation the same way.
    """
    from pointdiff.text import hf

    gen = settings.generation_config(model, tokenizer.pad_token_id)
    if settings.do_sample:
        torch.manual_seed(settings.seed)
    with torch.inference_mode(), hf.quiet_transformers():
        out = model.generate(**inputs, generation_config=gen)
    rows = split_generated(out, inputs["input_ids"].shape[1], gen.eos_token_id)
    return [(tokenizer.decode(ids, skip_special_tokens=True).strip(), stopped) for ids, stopped in rows]


def torch_device_dtype(device: str, dtype: str) -> tuple[str, torch.dtype]:
    """Turn ``auto`` choices into a torch device and dtype.

    ``auto`` dtype is bfloat16 on a GPU that has it (float16 on one that does not) and
    float32 on the CPU, where generation quality is the safe default; ``--dtype bfloat16``
    is several times faster on CPUs with AVX-512 BF16.
    """
    device = resolve_device(device)
    names = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}
    if dtype in ("", "auto"):
        if device.startswith("cuda"):
            return device, torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return device, torch.float16 if device.startswith("mps") else torch.float32
    if dtype not in names:
        raise PointdiffError(f"unknown dtype {dtype!r}; use auto, float32, bfloat16 or float16")
    return device, names[dtype]


class ResultCache:
    """An append-only JSONL file of results by key; the last row for a key wins.

    Rows are ``{"key": ..., **fields}``. Reading tolerates the torn last line a kill may
    leave; appending first cuts it off (JsonlAppender), so no row is ever half-written.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._rows: dict[str, dict[str, Any]] = {}
        for row in read_jsonl(self.path):
            if isinstance(row, dict) and KEY_FIELD in row:
                self._rows[row[KEY_FIELD]] = row
        self._appender: JsonlAppender | None = None

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, key: str) -> bool:
        return key in self._rows

    def get(self, key: str) -> dict[str, Any] | None:
        """The row stored under ``key``, or None."""
        return self._rows.get(key)

    def put(self, key: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Store ``fields`` under ``key``; durable on disk when this returns."""
        row = {KEY_FIELD: key, **fields}
        if self._appender is None:
            self._appender = JsonlAppender(self.path)  # opened lazily: a run with nothing to do writes nothing
        self._appender.append(row)
        self._rows[key] = row
        return row

    def close(self) -> None:
        """Close the file (the cache stays readable)."""
        if self._appender is not None:
            self._appender.close()
            self._appender = None

    def __enter__(self) -> "ResultCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LazyAppender:
    """A :class:`JsonlAppender` opened on the first row, so a run with nothing to do touches no file.

    ``path=None`` drops rows (a caller whose output is written another way).
    """

    def __init__(self, path: str | Path | None):
        self._path = Path(path) if path is not None else None
        self._appender: JsonlAppender | None = None

    def append(self, row: dict[str, Any]) -> None:
        """Append one row, durable on return."""
        if self._path is None:
            return
        if self._appender is None:
            self._appender = JsonlAppender(self._path)
        self._appender.append(row)

    def __enter__(self) -> "LazyAppender":
        return self

    def __exit__(self, *exc: object) -> None:
        if self._appender is not None:
            self._appender.close()
