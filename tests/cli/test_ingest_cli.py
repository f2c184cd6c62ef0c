"""`pointdiff ingest` through the real Typer app: exit codes, summary, workspace and config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from pointdiff.cli.app import app
from pointdiff.store import read_json, read_jsonl

runner = CliRunner(env={"COLUMNS": "200", "POINTDIFF_WORKSPACE": ""})


def draw(path: Path, k: int) -> None:
    img = np.full((40, 40), 255, np.uint8)
    img[2 + k : 8 + k, 4:30] = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path)


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """Three good images, a corrupt PNG, an all-white PNG and a text file."""
    src = tmp_path / "mixed"
    for k in range(3):
        draw(src / f"good{k}.png", k * 8)
    (src / "broken.png").write_bytes((src / "good0.png").read_bytes()[:70])
    Image.new("L", (40, 40), 255).save(src / "blank.png")
    (src / "readme.txt").write_text("these are my drawings")
    return src


def test_good_images_taken_bad_ones_reported_exit_0(mixed: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    result = runner.invoke(app, ["ingest", str(mixed), "--out", str(out), "--contact-sheet", "0"])
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in read_jsonl(out / "manifest.jsonl")] == ["good0", "good1", "good2"]
    rejected = {r["source"]: r["reason"] for r in read_jsonl(out / "rejected.jsonl")}
    assert set(rejected) == {"broken.png", "blank.png", "readme.txt"}
    assert rejected["broken.png"].startswith("corrupt image")
    assert rejected["blank.png"].startswith("no ink")
    assert rejected["readme.txt"].startswith("not an image")
    for word in ("taken", "corrupt image", "no ink", "not an image", "broken.png", "blank.png", "readme.txt"):
        assert word in result.output


def test_nothing_usable_exits_non_zero(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["ingest", str(tmp_path / "empty"), "--out", str(tmp_path / "ds")])
    assert result.exit_code != 0
    assert "no usable image" in str(result.exception)


def test_refuses_existing_dataset_without_overwrite(mixed: Path, tmp_path: Path) -> None:
    args = ["ingest", str(mixed), "--out", str(tmp_path / "ds"), "--contact-sheet", "0"]
    assert runner.invoke(app, args).exit_code == 0
    again = runner.invoke(app, args)
    assert again.exit_code != 0 and "--overwrite" in str(again.exception)
    assert runner.invoke(app, [*args, "--overwrite"]).exit_code == 0


def test_workspace_default_yaml_section_config_file_and_flags(mixed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pointdiff.yaml").write_text("workspace: proj\ningest:\n  threshold: 60\n  contact_sheet: 0\n")
    assert runner.invoke(app, ["ingest", str(mixed)]).exit_code == 0
    assert read_json(tmp_path / "proj" / "dataset" / "dataset.json")["threshold"] == 60  # pointdiff.yaml section
    (tmp_path / "cfg.yaml").write_text("threshold: 70\nmax_size: 32\n")
    r = runner.invoke(app, ["ingest", str(mixed), "--config", "cfg.yaml", "--threshold", "80", "--overwrite"])
    assert r.exit_code == 0, r.output
    info = read_json(tmp_path / "proj" / "dataset" / "dataset.json")
    assert (info["threshold"], info["max_size"]) == (80, 32)  # flag > config file > pointdiff.yaml


def test_builtin_only_flags_rejected_for_folders(mixed: Path, tmp_path: Path) -> None:
    r = runner.invoke(app, ["ingest", str(mixed), "--out", str(tmp_path / "ds"), "--count", "5", "--no-descriptions"])
    assert r.exit_code != 0
    assert str(r.exception) == "--count, --descriptions: only for a built-in source (builtin:faces, builtin:faces-video, builtin:faces-color, builtin:glyphs), not for a folder"
    assert not (tmp_path / "ds").exists()


def test_help_explains_options_with_examples() -> None:
    r = runner.invoke(app, ["ingest", "--help"])
    assert r.exit_code == 0
    for word in ("--every", "--threshold", "--max-size", "--recursive", "--count", "--descriptions", "--overwrite", "metadata.jsonl", "pointdiff ingest builtin:faces"):
        assert word in r.output


def test_builtin_through_cli(tmp_path: Path) -> None:
    out = tmp_path / "faces"
    r = runner.invoke(app, ["ingest", "builtin:faces", "--count", "3", "--seed", "1", "--descriptions", "--out", str(out), "--contact-sheet", "2"])
    assert r.exit_code == 0, r.output
    assert len(read_jsonl(out / "manifest.jsonl")) == 3 and len(read_jsonl(out / "captions.jsonl")) == 3
    assert (out / "contact_sheet.png").exists() and len(list((out / "images").glob("*.png"))) == 3
    assert read_json(out / "dataset.json")["seed"] == 1
