"""`pointdiff caption`'s flags and pointdiff.yaml map onto CaptionConfig; what it prints (the core is stubbed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from generation_flags import generation_flags
from typer.testing import CliRunner

from pointdiff.cli.app import app
from pointdiff.errors import PointdiffError
from pointdiff.text import caption as caption_mod
from pointdiff.text.caption import CaptionConfig, CaptionResult

runner = CliRunner(env={"COLUMNS": "200", "POINTDIFF_WORKSPACE": ""})
GENERATION_FLAGS, GENERATION_VALUES = generation_flags("org/vlm")


def stub_caption(monkeypatch: pytest.MonkeyPatch, result: CaptionResult | None = None) -> dict[str, Any]:
    """Replace the core run; returns what it was called with."""
    seen: dict[str, Any] = {}

    def fake(src: Path, cfg: CaptionConfig, **kw: Any) -> CaptionResult:
        seen.update(src=src, cfg=cfg, **kw)
        return result or CaptionResult(Path(src), Path(src) / "captions.jsonl", kw["cache_path"], cfg.model, "m@x", "p", total=1, up_to_date=1)

    monkeypatch.setattr(caption_mod, "caption", fake)
    return seen


def test_generation_flags_map_onto_the_shared_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = stub_caption(monkeypatch)
    result = runner.invoke(app, ["caption", str(tmp_path), *GENERATION_FLAGS, "--prompt", "Describe.", "-r", "-w", str(tmp_path / "ws")])
    assert result.exit_code == 0, result.output
    cfg = seen["cfg"]
    assert {k: getattr(cfg, k) for k in GENERATION_VALUES} == GENERATION_VALUES
    assert (cfg.prompt, cfg.recursive) == ("Describe.", True)
    assert seen["cache_path"] == tmp_path / "ws" / "cache" / "caption.jsonl"


def test_pointdiff_yaml_section_is_read_and_flags_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pointdiff.yaml").write_text("caption:\n  seed: 3\n  do_sample: true\n  dtype: float16\n  prompt: From yaml.\n")
    seen = stub_caption(monkeypatch)
    result = runner.invoke(app, ["caption", str(tmp_path), "--seed", "8"])
    assert result.exit_code == 0, result.output
    cfg = seen["cfg"]
    assert (cfg.seed, cfg.do_sample, cfg.dtype, cfg.prompt, cfg.trust_remote_code) == (8, True, "float16", "From yaml.", False)


def test_unknown_key_in_pointdiff_yaml_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pointdiff.yaml").write_text("caption:\n  sede: 3\n")
    stub_caption(monkeypatch)
    result = runner.invoke(app, ["caption", str(tmp_path)])
    assert isinstance(result.exception, PointdiffError)
    assert "pointdiff.yaml: unknown setting(s) sede for CaptionConfig" in str(result.exception)


def test_new_descriptions_of_a_summarized_dataset_say_to_summarize_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "summaries.jsonl").write_text("")
    done = CaptionResult(tmp_path, tmp_path / "captions.jsonl", tmp_path / "c.jsonl", "m", "m@x", "p", total=1, generated=1, words=[3], is_dataset=True)
    stub_caption(monkeypatch, done)
    out = runner.invoke(app, ["caption", str(tmp_path), "-w", str(tmp_path / "ws")]).output
    assert "summaries.jsonl still summarizes the earlier descriptions" in out and "next: pointdiff summarize" in out
    (tmp_path / "summaries.jsonl").unlink()
    assert "still summarizes" not in runner.invoke(app, ["caption", str(tmp_path), "-w", str(tmp_path / "ws")]).output


def test_image_folder_points_to_ingest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    done = CaptionResult(tmp_path, tmp_path / "metadata.jsonl", tmp_path / "c.jsonl", "m", "m@x", "p", total=1, generated=1, words=[3])
    stub_caption(monkeypatch, done)
    out = " ".join(runner.invoke(app, ["caption", str(tmp_path), "-w", str(tmp_path / "ws")]).output.split())
    assert f"next: pointdiff ingest {tmp_path} reads these as the images' captions" in out
