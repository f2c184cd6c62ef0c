"""Every `--help` reads as paragraphs at any width: no line broken where the next word would have fit."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from typer.testing import CliRunner

from pointdiff import pipeline
from pointdiff.cli.app import app
from pointdiff.cli.render import reflow
from pointdiff.pipeline import GenerateConfig, Generation

COMMANDS = [[], ["ingest"], ["caption"], ["summarize"], ["embed"], ["train"], ["generate"], ["inspect"], ["eval"]]
BOX = set("│┃╭╮╰╯┏┓┗┛━─")


def bad_breaks(text: str, width: int) -> list[str]:
    """Pairs of prose lines where the second's first word would have fit on the first (a source line break)."""
    prose = [line.rstrip() for line in text.splitlines() if not (set(line) & BOX)]
    found = []
    for prev, cur in zip(prose, prose[1:]):
        # Prose sits at one space of indent; deeper lines (examples) are verbatim by design.
        if not prev.strip() or not cur.strip() or prev.startswith("  ") or cur.startswith("  "):
            continue
        if len(prev) + 1 + len(cur.split()[0]) <= width - 4:
            found.append(f"{prev!r} / {cur!r}")
    return found


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0] if c else "pointdiff")
def test_help_has_no_orphan_words(command: list[str], width: int) -> None:
    result = CliRunner(env={"COLUMNS": str(width), "POINTDIFF_WORKSPACE": ""}).invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.output.splitlines()) <= width  # rendered at the width asked
    assert bad_breaks(result.output, width) == []


def test_the_check_finds_a_hard_wrapped_paragraph() -> None:
    assert bad_breaks(" SRC is a folder of images, a folder of\n video frames (with --every).\n", 80)
    assert not bad_breaks(" a line\n\n another paragraph\n   pointdiff ingest x\n", 80)


def test_reflow_joins_paragraph_lines_and_keeps_examples() -> None:
    text = "Summary.\n\nA paragraph wrapped\nat the source.\n\nExamples:\n  pointdiff a\n  pointdiff b\n"
    assert reflow(text) == "Summary.\n\nA paragraph wrapped at the source.\n\nExamples:\n  pointdiff a\n  pointdiff b"


def test_diffusers_names_are_aliases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner(env={"COLUMNS": "200", "POINTDIFF_WORKSPACE": ""})
    for command in (["generate", "x"], ["eval"]):
        out = runner.invoke(app, [*command, "--help"]).output
        assert "--num-inference-steps" in out and "--guidance-scale" in out and "--num-images-per-prompt" in out
    seen: dict[str, GenerateConfig] = {}

    class Recorder:  # the pipeline, reduced to what the CLI hands it
        encoder_note = None
        run = SimpleNamespace(path=tmp_path, meta={"step": 1})

        def generate(self, prompts: list[str], cfg: GenerateConfig, keep_path: bool = False) -> Generation:
            seen["cfg"] = cfg
            return Generation(list(prompts), torch.zeros(len(prompts), cfg.num_samples, 4, 2), 1, {"solver": "euler", "steps": cfg.steps, "nfe": 1, "guidance": cfg.guidance, "seed": 0})

    monkeypatch.setattr(pipeline, "load", lambda *a, **k: Recorder())
    args = ["generate", "x", "-w", str(tmp_path), "--model", str(tmp_path), "--out", str(tmp_path / "x.npy")]
    result = runner.invoke(app, [*args, "--num-inference-steps", "3", "--guidance-scale", "1.5", "--num-images-per-prompt", "2"])
    assert result.exit_code == 0, result.output
    assert (seen["cfg"].steps, seen["cfg"].guidance, seen["cfg"].num_samples) == (3, 1.5, 2)
