"""How `caption` and `summarize` generate text: the options both share, and one generate call.

    opts = GenerationOptions(model="Qwen/Qwen2.5-0.5B-Instruct", max_new_tokens=128, batch_size=8, do_sample=True, seed=3)
    settings = opts.settings()                     # the part that decides the words (enters cache keys)
    texts = generate_texts(model, tokenizer, inputs, settings)  # [(text, stopped)], global RNG untouched

:class:`GenerationOptions` is a base class, not a nested section: ``CaptionConfig`` and
``SummarizeConfig`` inherit its fields, so the YAML sections and the flags stay one level deep
(``caption: {model: ..., seed: 3}``) and :func:`pointdiff.config.apply` still refuses unknown keys.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

import torch

from pointdiff.errors import PointdiffError
from pointdiff.text import hf
from pointdiff.text.cache import model_fingerprint

T = TypeVar("T")


@dataclass
class GenerationOptions:
    """Which model, where it runs and how it decodes: the settings every generating command shares.

    A command's config subclasses this and gives ``model``, ``max_new_tokens`` and
    ``batch_size`` its own defaults (a captioner and a summariser differ there); the rest is
    the same for both.
    """

    model: str  # hub id (downloaded on first use) or a folder
    max_new_tokens: int  # longest answer; one that reaches it is counted as cut short
    batch_size: int  # inputs per generate call
    device: str = "auto"  # auto: cuda > mps > cpu
    dtype: str = "auto"  # auto: bfloat16 on GPU, float32 on CPU (bfloat16 is faster on AVX-512 BF16 CPUs)
    do_sample: bool = False  # greedy: the same input always gets the same words
    temperature: float = 0.7  # only when sampling
    top_p: float = 0.9  # only when sampling
    seed: int = 0  # only when sampling
    revision: str | None = None  # hub branch / tag / commit of a hub id
    trust_remote_code: bool = False  # let a model folder run its own Python (off: never silently)

    def check(self) -> None:
        """Refuse settings no run can use.

        Raises:
            PointdiffError: ``batch_size`` or ``max_new_tokens`` below 1.
        """
        for name in ("batch_size", "max_new_tokens"):
            if getattr(self, name) < 1:
                raise PointdiffError(f"{name} must be 1 or more, got {getattr(self, name)}")

    def settings(self) -> GenerationSettings:
        """The generation settings that decide the words (and so enter the cache key)."""
        return GenerationSettings(self.max_new_tokens, self.do_sample, self.temperature, self.top_p, self.seed)

    def fingerprint(self) -> str:
        """What identifies ``model``'s weights (:func:`model_fingerprint`), without loading it.

        Raises:
            PointdiffError: the model is not on this machine.
        """
        return model_fingerprint(hf.resolve_model_dir(self.model, revision=self.revision, flag="--model"), self.model)


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


@contextmanager
def seeded(seed: int, device: str | torch.device = "cpu") -> Iterator[None]:
    """Seed torch's random generators for the block and restore them after it.

    transformers' ``generate`` samples from torch's global generators (it takes no
    ``torch.Generator``), so a seed has to go there; forking them keeps the seed a local
    choice: the caller's random stream continues as if nothing had been drawn. Seeded are
    the CPU generator and the one of ``device`` (the CUDA or MPS device the model runs on),
    the same values ``torch.manual_seed`` would give them.
    """
    dev = torch.device(device)
    accelerator = dev.type in ("cuda", "mps")
    index = (dev.index if dev.index is not None else torch.cuda.current_device()) if dev.type == "cuda" else 0
    with torch.random.fork_rng(devices=[index] if accelerator else [], device_type=dev.type if accelerator else None):
        torch.random.default_generator.manual_seed(seed)
        if dev.type == "cuda":
            with torch.cuda.device(index):
                torch.cuda.manual_seed(seed)
        elif dev.type == "mps":
            torch.mps.manual_seed(seed)
        yield


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

    ``stopped`` is False when a row was cut by ``max_new_tokens``. Sampling is seeded with
    ``settings.seed`` inside :func:`seeded`, so the same seed gives the same words and the
    caller's random state is left as it was.
    """
    gen = settings.generation_config(model, tokenizer.pad_token_id)
    ids = inputs["input_ids"]
    # Greedy decoding draws no random numbers: nothing to seed.
    with seeded(settings.seed, ids.device) if settings.do_sample else nullcontext(), torch.inference_mode(), hf.quiet_transformers():
        out = model.generate(**inputs, generation_config=gen)
    rows = split_generated(out, ids.shape[1], gen.eos_token_id)
    return [(tokenizer.decode(row, skip_special_tokens=True).strip(), stopped) for row, stopped in rows]


def batched(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of ``size`` (the last may be shorter)."""
    size = max(1, size)
    for a in range(0, len(items), size):
        yield items[a : a + size]


def first_line(e: BaseException) -> str:
    """The first line of an exception's message (transformers' errors run to paragraphs)."""
    return (str(e).strip().splitlines() or [type(e).__name__])[0]
