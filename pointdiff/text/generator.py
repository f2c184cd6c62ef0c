"""A transformers model that writes text, loaded offline: the base of the captioner and the summariser.

    class Summarizer(TextGenerator):
        auto_model = "AutoModelForCausalLM"        # which Auto classes load it
        auto_processor = "AutoTokenizer"

    lm = Summarizer.load("Qwen/Qwen2.5-0.5B-Instruct", device="cuda")   # or .from_options(cfg)
    texts = lm.generate(lm.tokenizer(prompts, padding=True, return_tensors="pt"), cfg.settings())

Loading goes through :mod:`pointdiff.text.hf` (local files only, remote code only when asked)
and turns a missing optional backend (timm, torchvision) into one line that says what to
install. The tokenizer pads on the left, so a batch's prompts all end where generation starts.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import torch

from pointdiff.device import resolve_device
from pointdiff.errors import PointdiffError
from pointdiff.text import hf
from pointdiff.text.cache import model_fingerprint
from pointdiff.text.generation import GenerationOptions, GenerationSettings, first_line, generate_texts

DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}


def torch_device_dtype(device: str, dtype: str) -> tuple[str, torch.dtype]:
    """Turn ``auto`` choices into a torch device and dtype.

    ``auto`` dtype is bfloat16 on a GPU that has it (float16 on one that does not) and
    float32 on the CPU, where generation quality is the safe default; ``--dtype bfloat16``
    is several times faster on CPUs with AVX-512 BF16.
    """
    device = resolve_device(device)
    if dtype in ("", "auto"):
        if device.startswith("cuda"):
            return device, torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return device, torch.float16 if device.startswith("mps") else torch.float32
    if dtype not in DTYPES:
        raise PointdiffError(f"unknown dtype {dtype!r}; use auto, float32, bfloat16 or float16")
    return device, DTYPES[dtype]


class TextGenerator:
    """A loaded model and its tokenizer (or processor); subclasses say which Auto classes and checks.

    Attributes:
        processor: what prepares inputs (a tokenizer, or a multimodal processor).
        tokenizer: what decodes outputs (the processor itself, or its ``.tokenizer``), left-padding.
        model: the transformers model, in eval mode on ``device``.
        name: the model as the user named it; ``fingerprint``: what identifies its weights.
    """

    auto_processor: ClassVar[str] = "AutoTokenizer"  # transformers class names, imported only when loading
    auto_model: ClassVar[str] = "AutoModelForCausalLM"

    def __init__(self, processor: Any, model: Any, name: str, fingerprint: str, device: str):
        self.processor, self.model, self.name, self.fingerprint, self.device = processor, model, name, fingerprint, device
        tokenizer = self.tokenizer_of(processor, name)
        tokenizer.padding_side = "left"  # batched generation: every prompt must end where generation starts
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.tokenizer = tokenizer

    @classmethod
    def tokenizer_of(cls, processor: Any, name: str) -> Any:
        """The tokenizer inside ``processor``; a subclass refuses one its prompts cannot use."""
        return processor

    @classmethod
    def check_config(cls, name: str, config: dict[str, Any]) -> None:
        """Refuse, before loading, a checkpoint this kind of model cannot drive (``config.json`` as a dict)."""

    @classmethod
    def missing_backend_hint(cls, config: dict[str, Any]) -> str:
        """Appended to the "not installed" message: how to get a missing backend this model needs."""
        return ""

    @classmethod
    def load(cls, model: str, device: str = "auto", dtype: str = "auto", revision: str | None = None, trust_remote_code: bool = False) -> Self:
        """Load ``model``: a hub id (cached, or downloaded now unless offline) or a folder.

        Raises:
            PointdiffError: the model is not here, cannot be driven by this class, needs remote
                code without consent, or needs a package that is not installed.
        """
        path = hf.resolve_model_dir(model, revision=revision, flag="--model")
        config = hf.read_model_config(path)
        cls.check_config(model, config)
        device, torch_dtype = torch_device_dtype(device, dtype)
        import transformers

        try:
            processor = hf.load_pretrained(getattr(transformers, cls.auto_processor), path, name=model, trust_remote_code=trust_remote_code)
            net = hf.load_pretrained(getattr(transformers, cls.auto_model), path, name=model, trust_remote_code=trust_remote_code, dtype=torch_dtype)
        except ImportError as e:  # an optional backend (timm, torchvision) that this model needs
            reason = first_line(e).split(" but it was not found")[0]  # "TimmWrapperModel requires the timm library"
            raise PointdiffError(f"{model!r} cannot be loaded here: {reason}, which is not installed{cls.missing_backend_hint(config)}") from None
        return cls(processor, net.to(device).eval(), model, model_fingerprint(path, model), device)

    @classmethod
    def from_options(cls, opts: GenerationOptions) -> Self:
        """:meth:`load` the model ``opts`` names, where and how ``opts`` says."""
        return cls.load(opts.model, opts.device, opts.dtype, opts.revision, opts.trust_remote_code)

    def generate(self, inputs: Any, settings: GenerationSettings) -> list[tuple[str, bool]]:
        """``(text, stopped)`` per row of prepared inputs (:func:`generate_texts`)."""
        return generate_texts(self.model, self.tokenizer, inputs, settings)
