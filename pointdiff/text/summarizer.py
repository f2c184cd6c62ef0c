"""A chat LM that rewrites long descriptions: the instructions it gets, and the model wrapper.

    lm = Summarizer.load("Qwen/Qwen2.5-0.5B-Instruct")
    [(short, stopped)] = lm.answer([fill(REFERENCE_INSTRUCTION, long_text)], settings)
    retry = fill(STRICT_INSTRUCTION, long_text, words=20)    # the stricter rewrite, {words} filled in

Any chat model transformers loads with ``AutoModelForCausalLM`` works, prompted through its
tokenizer's chat template.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pointdiff.errors import PointdiffError
from pointdiff.text import hf
from pointdiff.text.generation import GenerationSettings
from pointdiff.text.generator import TextGenerator

DEFAULT_MODEL = "Qwen/Qwen2.5-7B-Instruct"  # the reference's; 0.5B / 1.5B / 3B-Instruct are faster
REFERENCE_INSTRUCTION = (
    "Summarize the following description of a face in 2-3 short sentences, under 50 words in total. "
    "You MUST keep the face orientation (front, left, right, up or down) and the facial expression. "
    "Reply with the summary only.\n\nDescription:\n{text}"
)
# The retry for a summary over the token budget; {words} is derived from the budget.
STRICT_INSTRUCTION = (
    "Rewrite the following description of a face as at most 2 very short sentences, under {words} words in total. "
    "Keep only the face orientation (front, left, right, up or down), the facial expression and at most one other feature. "
    "Reply with the rewrite only.\n\nDescription:\n{text}"
)


def fill(instruction: str, text: str, words: int | None = None) -> str:
    """The prompt for one description: ``{text}`` (and ``{words}``) filled in; text appended if absent."""
    out = instruction.replace("{words}", str(words)) if words is not None else instruction
    return out.replace("{text}", text) if "{text}" in out else f"{out}\n\n{text}"


class Summarizer(TextGenerator):
    """A loaded chat LM and its tokenizer: instructions in, answers out."""

    auto_processor = "AutoTokenizer"
    auto_model = "AutoModelForCausalLM"

    @classmethod
    def tokenizer_of(cls, processor: Any, name: str) -> Any:
        """The tokenizer itself; refuses one without a chat template (not an instruction-tuned model)."""
        if not getattr(processor, "chat_template", None):
            raise PointdiffError(f"{name!r} has no chat template; `summarize` needs an instruction-tuned (chat) model")
        return processor

    def answer(self, prompts: Sequence[str], settings: GenerationSettings) -> list[tuple[str, bool]]:
        """The model's reply to each prompt: ``(text, stopped)``; ``stopped`` is False when cut by ``max_new_tokens``."""
        chats = [self.tokenizer.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False) for p in prompts]
        with hf.quiet_transformers():
            inputs = self.tokenizer(chats, padding=True, add_special_tokens=False, return_tensors="pt").to(self.device)
        return self.generate(inputs, settings)
