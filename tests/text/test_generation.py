"""The generation options caption and summarize share, and seeded generation (pointdiff/text/generation.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from pointdiff.config import apply, load_config
from pointdiff.errors import PointdiffError
from pointdiff.text.caption import CaptionConfig
from pointdiff.text.generation import GenerationOptions, GenerationSettings, batched, seeded, split_generated
from pointdiff.text.summarize import SummarizeConfig
from pointdiff.text.summarizer import REFERENCE_INSTRUCTION, Summarizer, fill

# One value per shared field, none of them a default of either command.
SHARED = {"model": "some/model", "max_new_tokens": 7, "batch_size": 3, "device": "cpu", "dtype": "bfloat16", "do_sample": True,
          "temperature": 1.5, "top_p": 0.5, "seed": 11, "revision": "v2", "trust_remote_code": True}


def test_shared_options_cover_every_shared_field() -> None:
    assert {f.name for f in dataclasses.fields(GenerationOptions)} == set(SHARED)


@pytest.mark.parametrize("cls", [CaptionConfig, SummarizeConfig])
def test_both_configs_take_the_shared_options_flat_from_yaml(cls: type, tmp_path: Path) -> None:
    (tmp_path / "cfg.yaml").write_text("".join(f"{k}: {v!r}\n" if isinstance(v, str) else f"{k}: {str(v).lower()}\n" for k, v in SHARED.items()))
    cfg = load_config(cls, config_file=tmp_path / "cfg.yaml")
    assert isinstance(cfg, GenerationOptions)
    assert {k: getattr(cfg, k) for k in SHARED} == SHARED
    assert cfg.settings() == GenerationSettings(7, True, 1.5, 0.5, 11)


@pytest.mark.parametrize("cls", [CaptionConfig, SummarizeConfig])
def test_unknown_and_nested_keys_stay_errors(cls: type) -> None:
    with pytest.raises(PointdiffError, match=rf"unknown setting\(s\) sed for {cls.__name__}"):
        apply(cls(), {"sed": 3}, "pointdiff.yaml")
    with pytest.raises(PointdiffError, match="unknown setting\\(s\\) generation"):  # the options are flat, not a section
        apply(cls(), {"generation": {"seed": 3}}, "pointdiff.yaml")
    with pytest.raises(PointdiffError, match="seed: expected an integer"):
        apply(cls(), {"seed": "three"}, "pointdiff.yaml")


def test_each_command_keeps_its_own_defaults() -> None:
    cap, summ = CaptionConfig(), SummarizeConfig()
    assert (cap.model, cap.max_new_tokens, cap.batch_size) == ("KamilaMila/FastVLM-0.5B", 512, 4)
    assert (summ.model, summ.max_new_tokens, summ.batch_size) == ("Qwen/Qwen2.5-7B-Instruct", 128, 8)
    assert {k: getattr(cap, k) for k in ("device", "dtype", "do_sample", "seed")} == {"device": "auto", "dtype": "auto", "do_sample": False, "seed": 0}


@pytest.mark.parametrize("field", ["batch_size", "max_new_tokens"])
def test_check_refuses_sizes_below_one(field: str) -> None:
    with pytest.raises(PointdiffError, match=f"{field} must be 1 or more, got 0"):
        GenerationOptions(**{**SHARED, field: 0}).check()
    GenerationOptions(**SHARED).check()


def test_greedy_keys_ignore_the_sampling_knobs() -> None:
    greedy = GenerationSettings(32, temperature=0.1, seed=5)
    assert greedy.key_fields() == GenerationSettings(32).key_fields() == {"max_new_tokens": 32, "do_sample": False}
    sampled = GenerationSettings(32, do_sample=True, seed=5)
    assert sampled.key_fields()["seed"] == 5 and sampled.key_fields() != GenerationSettings(32, do_sample=True, seed=6).key_fields()


def test_fingerprint_of_a_folder_names_its_weights(tiny_lm_dir: Path) -> None:
    fp = GenerationOptions(str(tiny_lm_dir), 8, 1).fingerprint()
    assert fp.startswith(f"{tiny_lm_dir}@sha256:") and len(fp.split(":")[-1]) == 16
    with pytest.raises(PointdiffError, match="does not exist"):
        GenerationOptions(str(tiny_lm_dir / "nope"), 8, 1).fingerprint()


def test_split_generated_cuts_at_eos_and_flags_rows_that_never_stopped() -> None:
    out = torch.tensor([[0, 0, 5, 6, 9, 1], [0, 4, 5, 6, 7, 8]])
    assert split_generated(out, 3, [9, 2]) == [([6], True), ([6, 7, 8], False)]


def test_batched() -> None:
    assert [list(b) for b in batched([1, 2, 3, 4, 5], 2)] == [[1, 2], [3, 4], [5]]
    assert [list(b) for b in batched([1, 2], 0)] == [[1], [2]]  # a size below 1 still makes progress


def test_seeded_draws_like_manual_seed_and_restores_the_global_stream() -> None:
    torch.manual_seed(4)
    expected = torch.rand(3)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    with seeded(4):
        inside = torch.rand(3)
    assert torch.equal(inside, expected)
    assert torch.equal(torch.get_rng_state(), before)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_seeded_on_cuda_seeds_and_restores_the_device_stream() -> None:
    torch.cuda.manual_seed(4)
    expected = torch.rand(3, device="cuda")
    torch.cuda.manual_seed(123)
    before = torch.cuda.get_rng_state()
    with seeded(4, "cuda"):
        inside = torch.rand(3, device="cuda")
    assert torch.equal(inside, expected)
    assert torch.equal(torch.cuda.get_rng_state(), before)


def test_sampled_generation_is_repeatable_by_seed_and_leaves_the_global_rng_alone(tiny_lm_dir: Path) -> None:
    lm = Summarizer.load(str(tiny_lm_dir))
    prompts = [fill(REFERENCE_INSTRUCTION, "a face turned left, smiling")]
    settings = GenerationSettings(12, do_sample=True, temperature=1.0, top_p=1.0, seed=7)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    first = lm.answer(prompts, settings)
    assert torch.equal(torch.get_rng_state(), before)  # the caller's random stream goes on as if nothing was drawn
    torch.manual_seed(999)  # another global state: the seed alone decides the words
    assert lm.answer(prompts, settings) == first
    others = [lm.answer(prompts, dataclasses.replace(settings, seed=s)) for s in (1, 2, 3)]
    assert any(o != first for o in others)  # it did sample: other seeds, other words
