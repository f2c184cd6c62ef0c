"""The summariser's prompts and what it refuses (pointdiff/text/summarizer.py)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from pointdiff.errors import PointdiffError
from pointdiff.text.summarizer import REFERENCE_INSTRUCTION, STRICT_INSTRUCTION, Summarizer, fill


def test_fill_puts_the_text_and_word_limit_in_place() -> None:
    assert fill("Shorten: {text}", "a long text") == "Shorten: a long text"
    assert fill("Under {words} words: {text}", "a long text", words=20) == "Under 20 words: a long text"
    assert fill("Shorten this.", "a long text") == "Shorten this.\n\na long text"  # no {text}: appended
    strict = fill(STRICT_INSTRUCTION, "DESCRIPTION", words=17)
    assert "under 17 words" in strict and strict.endswith("DESCRIPTION") and "{" not in strict
    assert fill(REFERENCE_INSTRUCTION, "DESCRIPTION").endswith("Description:\nDESCRIPTION")


def test_tokenizer_without_chat_template_is_refused() -> None:
    plain = SimpleNamespace(chat_template=None, padding_side="right", pad_token=None, eos_token="</s>")
    with pytest.raises(PointdiffError, match="'gpt2' has no chat template; `summarize` needs an instruction-tuned"):
        Summarizer(plain, model=None, name="gpt2", fingerprint="gpt2@x", device="cpu")


def test_answers_in_a_batch_match_answers_alone(tiny_lm_dir: Path) -> None:
    from pointdiff.text.generation import GenerationSettings

    lm = Summarizer.load(str(tiny_lm_dir))
    prompts = [fill(REFERENCE_INSTRUCTION, "left"), fill(REFERENCE_INSTRUCTION, "a face turned to the right, frowning, with glasses")]
    settings = GenerationSettings(8)
    assert lm.answer(prompts, settings) == [lm.answer([p], settings)[0] for p in prompts]  # left padding: lengths differ
