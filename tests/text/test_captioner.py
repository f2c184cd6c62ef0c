"""The image-text-to-text model wrapper: what it refuses and how it says so (pointdiff/text/captioner.py)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from pointdiff.errors import PointdiffError
from pointdiff.text.captioner import Captioner


def test_apple_original_checkpoint_points_to_the_native_port(tmp_path: Path) -> None:
    model = tmp_path / "FastVLM-0.5B"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "llava_qwen2", "auto_map": {"AutoModelForCausalLM": "llava_qwen.LlavaQwen2ForCausalLM"}}')
    with pytest.raises(PointdiffError, match="KamilaMila/FastVLM-0.5B"):
        Captioner.load(str(model), trust_remote_code=True)


def test_fast_vlm_without_timm_says_what_to_install(tmp_path: Path, tiny_vlm_dir: Path) -> None:
    pytest.importorskip("transformers").FastVlmConfig  # noqa: B018
    if __import__("importlib").util.find_spec("timm") is not None:
        pytest.skip("timm is installed here")
    from transformers import FastVlmConfig

    model = tmp_path / "fastvlm"
    model.mkdir()
    for f in tiny_vlm_dir.iterdir():  # the tiny processor and some weights; the config is FastVLM's
        (model / f.name).write_bytes(f.read_bytes())
    FastVlmConfig(text_config={"model_type": "qwen2", "vocab_size": 320, "hidden_size": 32, "intermediate_size": 64,
                               "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2}).save_pretrained(model)
    with pytest.raises(PointdiffError, match="pip install timm torchvision"):
        Captioner.load(str(model))


def test_only_fast_vlm_gets_the_timm_hint() -> None:
    assert "pip install timm" in Captioner.missing_backend_hint({"model_type": "fast_vlm"})
    assert "pip install timm" in Captioner.missing_backend_hint({"vision_config": {"model_type": "timm_wrapper"}})
    assert Captioner.missing_backend_hint({"model_type": "llava", "vision_config": {"model_type": "clip_vision_model"}}) == ""


@pytest.mark.parametrize("processor", [SimpleNamespace(apply_chat_template=lambda *a, **k: ""), SimpleNamespace(tokenizer=SimpleNamespace())])
def test_processor_without_tokenizer_or_chat_templating_is_refused(processor: object) -> None:
    with pytest.raises(PointdiffError, match="needs an image-text-to-text model"):
        Captioner(processor, model=None, name="some/model", fingerprint="some/model@x", device="cpu")
