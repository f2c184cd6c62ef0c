"""`pointdiff summarize`'s flags and pointdiff.yaml map onto SummarizeConfig; what it prints (the core is stubbed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from generation_flags import generation_flags
from typer.testing import CliRunner

from pointdiff.cli.app import app
from pointdiff.errors import PointdiffError
from pointdiff.text import summarize as summarize_mod
from pointdiff.text.budget import TextStats
from pointdiff.text.summarize import SummarizeConfig, SummarizeResult

runner = CliRunner(env={"COLUMNS": "200", "POINTDIFF_WORKSPACE": ""})
GENERATION_FLAGS, GENERATION_VALUES = generation_flags("org/lm")


def stub_summarize(monkeypatch: pytest.MonkeyPatch, result: SummarizeResult | None = None) -> dict[str, Any]:
    """Replace the core run; returns what it was called with."""
    seen: dict[str, Any] = {}

    def fake(dataset: Path, cfg: SummarizeConfig, **kw: Any) -> SummarizeResult:
        seen.update(dataset=dataset, cfg=cfg, **kw)
        return result or SummarizeResult(Path(dataset), Path(dataset) / "summaries.jsonl", kw["cache_path"], cfg.model, "minilm", 256, total=1, up_to_date=1)

    monkeypatch.setattr(summarize_mod, "summarize", fake)
    return seen


def test_generation_flags_map_onto_the_shared_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = stub_summarize(monkeypatch)
    args = ["summarize", str(tmp_path), *GENERATION_FLAGS, "--encoder", "clip", "--pass-through", "--retries", "2", "--instruction", "Cut: {text}"]
    result = runner.invoke(app, [*args, "-w", str(tmp_path / "ws")])
    assert result.exit_code == 0, result.output
    cfg = seen["cfg"]
    assert {k: getattr(cfg, k) for k in GENERATION_VALUES} == GENERATION_VALUES
    assert (cfg.encoder, cfg.pass_through, cfg.retries, cfg.instruction) == ("clip", True, 2, "Cut: {text}")
    assert seen["cache_path"] == tmp_path / "ws" / "cache" / "summarize.jsonl"


def test_pointdiff_yaml_section_is_read_and_flags_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pointdiff.yaml").write_text("summarize:\n  seed: 3\n  batch_size: 2\n  trust_remote_code: true\n  retries: 0\n")
    seen = stub_summarize(monkeypatch)
    result = runner.invoke(app, ["summarize", str(tmp_path), "--batch-size", "16"])
    assert result.exit_code == 0, result.output
    cfg = seen["cfg"]
    assert (cfg.seed, cfg.batch_size, cfg.trust_remote_code, cfg.retries, cfg.max_new_tokens) == (3, 16, True, 0, 128)


def test_unknown_key_in_pointdiff_yaml_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pointdiff.yaml").write_text("summarize:\n  temprature: 0.5\n")
    stub_summarize(monkeypatch)
    result = runner.invoke(app, ["summarize", str(tmp_path)])
    assert isinstance(result.exception, PointdiffError)
    assert "pointdiff.yaml: unknown setting(s) temprature for SummarizeConfig" in str(result.exception)


def test_over_budget_summaries_name_the_file_to_edit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    done = SummarizeResult(tmp_path, tmp_path / "summaries.jsonl", tmp_path / "c.jsonl", "m", "minilm", 4, total=1, generated=1,
                           over_budget=["s0"], before=TextStats([9], [12]), after=TextStats([6], [8]))
    stub_summarize(monkeypatch, done)
    out = " ".join(runner.invoke(app, ["summarize", str(tmp_path), "-w", str(tmp_path / "ws")]).output.split())
    assert "1 summaries are still over the budget (or empty): s0" in out and "or edit summaries.jsonl" in out
