"""Tiny random transformers models, built from configs in well under a second, for offline tests.

They are real checkpoints of the classes the real models use, saved with ``save_pretrained``
and loaded back through pointdiff's own loading code (the Auto classes), so a test exercises
exactly the path a hub id takes:

* :func:`build_chat_lm` — ``Qwen2ForCausalLM`` (Qwen2.5-Instruct's class) with a BPE trained
  in-process by ``tokenizers`` and a ChatML chat template.
* :func:`build_llava_vlm` — ``LlavaForConditionalGeneration`` with a CLIP vision tower and a
  Qwen2 language model (FastVLM's layout: Llava + Qwen2), its ``LlavaProcessor`` with an
  ``<image>`` token, a chat template and ``CLIPImageProcessorPil`` (no torchvision needed).

Weights are random, so outputs are gibberish, but deterministic (greedy decoding) and
different for different images and prompts. Use the session fixtures ``tiny_lm_dir`` and
``tiny_vlm_dir`` (tests/text/conftest.py imports them) to build each model once per test run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pointdiff.text.hf import quiet_transformers

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>"]
# ChatML, as Qwen2.5's template renders it; image parts become the processor's <image> token.
CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for part in message['content'] %}{% if part['type'] == 'image' %}{{ '<image>' }}"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}"
    "{{ '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
CORPUS = [
    "The face is turned to the left and smiles broadly with round eyes.",
    "A cartoon face looks straight at the viewer with a neutral expression.",
    "The head tilts up; the mouth is open in surprise, the brows are raised.",
    "Right-facing, sad expression, short hair and glasses, drawn in black lines.",
    "Describe this image in detail: orientation, expression, other notable features.",
    "Rewrite the description in two or three short sentences under fifty words.",
]


def build_chat_tokenizer(vocab_size: int = 320):
    """A byte-level BPE trained on a few face descriptions, with ChatML specials and template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS * 4, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>", chat_template=CHATML)


def _qwen2_config(tokenizer, seed_scale: float = 0.5):
    from transformers import Qwen2Config

    return Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
        # a wide init makes greedy outputs depend visibly on the input (tests compare them)
        initializer_range=seed_scale, tie_word_embeddings=True,
        bos_token_id=None, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )


def build_chat_lm(path: str | Path, seed: int = 0) -> Path:
    """Save a tiny ``Qwen2ForCausalLM`` + ChatML tokenizer to ``path``; returns ``path``."""
    import torch
    from transformers import Qwen2ForCausalLM

    path = Path(path)
    tokenizer = build_chat_tokenizer()
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(_qwen2_config(tokenizer))
    with quiet_transformers():  # no "Writing model shards" bars in test output
        model.save_pretrained(path)
        tokenizer.save_pretrained(path)
    return path


def build_llava_vlm(path: str | Path, seed: int = 0, image_size: int = 32, patch_size: int = 8) -> Path:
    """Save a tiny Llava (CLIP vision + Qwen2 LM) with its processor to ``path``; returns ``path``."""
    import torch
    from transformers import CLIPVisionConfig, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    path = Path(path)
    tokenizer = build_chat_tokenizer()
    vision = CLIPVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        image_size=image_size, patch_size=patch_size, projection_dim=32, initializer_range=0.5,
    )
    config = LlavaConfig(
        vision_config=vision, text_config=_qwen2_config(tokenizer),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"), image_seq_length=(image_size // patch_size) ** 2,
        # "default" drops CLIP's CLS token, so each image is (size / patch)^2 tokens as the processor counts
        vision_feature_select_strategy="default", vision_feature_layer=-1,
    )
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config)
    image_processor = CLIPImageProcessorPil(size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size})
    processor = LlavaProcessor(
        image_processor=image_processor, tokenizer=tokenizer, patch_size=patch_size,
        vision_feature_select_strategy="default", num_additional_image_tokens=1, chat_template=CHATML,
    )
    with quiet_transformers():
        model.save_pretrained(path)
        processor.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny chat LM folder, built once per test session."""
    return build_chat_lm(tmp_path_factory.mktemp("tiny-qwen2") / "model")


@pytest.fixture(scope="session")
def tiny_vlm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Llava-layout VLM folder with its processor, built once per test session."""
    return build_llava_vlm(tmp_path_factory.mktemp("tiny-llava") / "model")
