"""An image-text-to-text model and its processor: images in, descriptions out.

    vlm = Captioner.load("KamilaMila/FastVLM-0.5B", device="cuda")
    [(text, stopped)] = vlm.describe([open_rgb("face.png")], "Describe this face.", settings)

Loaded with ``AutoProcessor`` + ``AutoModelForImageTextToText`` and prompted through the
processor's chat template, so the Llava family (FastVLM, the reference's captioner, has
Llava's layout), Qwen2-VL, SmolVLM, ... all work the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PIL import Image

from pointdiff.errors import PointdiffError
from pointdiff.text import hf
from pointdiff.text.generation import GenerationSettings, first_line
from pointdiff.text.generator import TextGenerator

# transformers' native port of FastVLM 0.5B (Apple's weights converted by the port's author);
# its vision tower runs in timm, an optional extra. See docs/captioning.md.
DEFAULT_MODEL = "KamilaMila/FastVLM-0.5B"


class Captioner(TextGenerator):
    """A loaded image-text-to-text model and its processor: images in, descriptions out."""

    auto_processor = "AutoProcessor"
    auto_model = "AutoModelForImageTextToText"

    @classmethod
    def tokenizer_of(cls, processor: Any, name: str) -> Any:
        """The processor's tokenizer; refuses a processor without one or without chat templating."""
        tokenizer = getattr(processor, "tokenizer", None)
        if tokenizer is None or not callable(getattr(processor, "apply_chat_template", None)):
            raise PointdiffError(f"{name!r} has no processor with a tokenizer; `caption` needs an image-text-to-text model")
        return tokenizer

    @classmethod
    def check_config(cls, name: str, config: dict[str, Any]) -> None:
        """Refuse, with what to do instead, checkpoints that AutoModelForImageTextToText cannot drive."""
        if config.get("model_type") == "llava_qwen2":
            raise PointdiffError(
                f"{name!r} is Apple's original FastVLM checkpoint (model_type llava_qwen2): its own Python code and "
                "prompt format, written for transformers 4, not an AutoModelForImageTextToText model. Use transformers' "
                f"native port instead: --model {DEFAULT_MODEL} (see docs/captioning.md)"
            )

    @classmethod
    def missing_backend_hint(cls, config: dict[str, Any]) -> str:
        """FastVLM's vision tower needs timm: say how to install it, or which models need nothing extra."""
        if config.get("model_type") == "fast_vlm" or (config.get("vision_config") or {}).get("model_type") == "timm_wrapper":
            return (
                ". FastVLM's vision tower runs in timm: `pip install timm torchvision` with a torchvision built for "
                "your torch (see docs/captioning.md), or caption with a model whose vision tower is native to "
                "transformers (e.g. a Llava, Qwen2-VL or SmolVLM checkpoint)"
            )
        return ""

    def describe(self, images: Sequence[Image.Image], prompt: str, settings: GenerationSettings) -> list[tuple[str, bool]]:
        """One description per image: ``(text, stopped)``; ``stopped`` is False when cut by ``max_new_tokens``."""
        conversation = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]
        try:
            text = self.processor.apply_chat_template(conversation, add_generation_prompt=True)
        except ValueError as e:  # no chat template
            raise PointdiffError(f"{self.name!r} cannot format a prompt ({first_line(e)}); it needs a chat template") from None
        with hf.quiet_transformers():
            inputs = self.processor(images=list(images), text=[text] * len(images), padding=True, return_tensors="pt")
        inputs = inputs.to(self.device, self.model.dtype)  # casts only floating tensors (pixel values)
        return self.generate(inputs, settings)
