"""Loading a text-generating model: dtype choice, left padding, refusals and missing backends (pointdiff/text/generator.py)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from pointdiff.errors import PointdiffError
from pointdiff.text import hf
from pointdiff.text.generation import GenerationOptions
from pointdiff.text.generator import TextGenerator, torch_device_dtype


def test_dtype_auto_is_float32_on_cpu_and_names_are_understood() -> None:
    assert torch_device_dtype("cpu", "auto") == ("cpu", torch.float32)
    assert torch_device_dtype("cpu", "bf16") == ("cpu", torch.bfloat16)
    assert torch_device_dtype("cpu", "float16") == ("cpu", torch.float16)
    with pytest.raises(PointdiffError, match="unknown dtype 'int8'"):
        torch_device_dtype("cpu", "int8")


def test_tokenizer_pads_on_the_left_with_eos_when_it_has_no_pad() -> None:
    tok = SimpleNamespace(padding_side="right", pad_token=None, eos_token="</s>")
    gen = TextGenerator(tok, model=None, name="m", fingerprint="m@x", device="cpu")
    assert (gen.tokenizer.padding_side, gen.tokenizer.pad_token) == ("left", "</s>")
    kept = TextGenerator(SimpleNamespace(padding_side="right", pad_token="<pad>", eos_token="</s>"), None, "m", "m@x", "cpu")
    assert kept.tokenizer.pad_token == "<pad>"


@pytest.fixture
def model_folder(tmp_path: Path) -> Path:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "odd"}))
    return tmp_path


class _Picky(TextGenerator):
    @classmethod
    def check_config(cls, name: str, config: dict[str, Any]) -> None:
        if config.get("model_type") == "odd":
            raise PointdiffError(f"{name} is odd")

    @classmethod
    def missing_backend_hint(cls, config: dict[str, Any]) -> str:
        return f" (a {config['model_type']} model needs it)"


def test_check_config_refuses_before_anything_is_loaded(model_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hf, "load_pretrained", lambda *a, **k: pytest.fail("refused models are not loaded"))
    with pytest.raises(PointdiffError, match="is odd"):
        _Picky.load(str(model_folder))


def test_missing_backend_is_one_line_with_the_subclass_hint(model_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def needs_timm(*a: Any, **k: Any) -> Any:
        raise ImportError("TimmWrapperModel requires the timm library but it was not found in your environment.\nSee the docs.")

    monkeypatch.setattr(hf, "load_pretrained", needs_timm)
    monkeypatch.setattr(_Picky, "check_config", classmethod(lambda cls, name, config: None))
    with pytest.raises(PointdiffError) as e:
        _Picky.load(str(model_folder))
    assert str(e.value) == f"{str(model_folder)!r} cannot be loaded here: TimmWrapperModel requires the timm library, which is not installed (a odd model needs it)"


def test_from_options_loads_what_the_options_say(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}
    monkeypatch.setattr(TextGenerator, "load", classmethod(lambda cls, *a: seen.setdefault("args", a)))
    opts = GenerationOptions("org/m", 8, 2, device="cpu", dtype="bf16", revision="v1", trust_remote_code=True)
    TextGenerator.from_options(opts)
    assert seen["args"] == ("org/m", "cpu", "bf16", "v1", True)
