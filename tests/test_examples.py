"""The examples are smoke-tested: configs load into their commands, the demo runs end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pointdiff.config import load_config, read_yaml
from pointdiff.data.ingest import IngestConfig
from pointdiff.embedding import EmbedConfig
from pointdiff.pipeline import GenerateConfig
from pointdiff.recipe import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
BIN = str(Path(sys.executable).parent)
SECTIONS = {"ingest": IngestConfig, "embed": EmbedConfig, "train": TrainConfig, "generate": GenerateConfig}


def test_project_file_sections_load_into_their_commands() -> None:
    settings = read_yaml(ROOT / "examples" / "pointdiff.yaml")
    assert settings["workspace"]
    for name, cls in SECTIONS.items():
        cfg = load_config(cls, workspace_section=settings[name])
        for key, value in settings[name].items():
            assert getattr(cfg, key) == value, (name, key)


@pytest.mark.parametrize("path", sorted((ROOT / "examples" / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_example_configs_load(path: Path) -> None:
    stage = path.stem.split("-")[0]
    load_config(SECTIONS[stage], config_file=path)  # unknown keys would raise


def test_demo_runs_end_to_end_offline(tmp_path: Path) -> None:
    """`make demo`'s script on a small scale: ingest -> embed -> train -> generate -> PNG."""
    ws = tmp_path / "ws"
    env = {**os.environ, "PYTHON_BIN": BIN, "DEMO_WORKSPACE": str(ws), "DEMO_COUNT": "35", "DEMO_STEPS": "20", "HF_HUB_OFFLINE": "1"}
    run = subprocess.run(["bash", str(ROOT / "examples" / "demo.sh")], env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    png = ws / "outputs" / "demo.png"
    assert png.exists() and png.stat().st_size > 10_000
    assert str(png) in run.stdout
