"""pointdiff.workspace: where the workspace is found, run folders, and which run is the latest."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from pointdiff.errors import PointdiffError
from pointdiff.workspace import DEFAULT_ROOT, ENV_VAR, PROJECT_FILE, Workspace, find_workspace


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder whose pointdiff.yaml names a workspace; no $POINTDIFF_WORKSPACE set."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    (tmp_path / PROJECT_FILE).write_text("workspace: from-yaml\ntrain:\n  steps: 7\n", encoding="utf-8")
    return tmp_path


# ----------------------------------------------------------------------------- finding it


def test_the_flag_wins_over_everything(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(project / "from-env"))
    ws = find_workspace(project / "from-flag", cwd=project)
    assert ws.root == project / "from-flag"
    assert ws.section("train") == {"steps": 7}  # the project's settings still apply


def test_the_environment_wins_over_pointdiff_yaml(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(project / "from-env"))
    assert find_workspace(cwd=project).root == project / "from-env"


def test_pointdiff_yaml_wins_over_the_default(project: Path) -> None:
    assert find_workspace(cwd=project).root == project / "from-yaml"


def test_the_default_is_pointdiff_work_in_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    ws = find_workspace(cwd=tmp_path)
    assert ws.root == tmp_path / DEFAULT_ROOT and ws.settings == {}
    assert (ws.dataset, ws.runs, ws.outputs) == (ws.root / "dataset", ws.root / "runs", ws.root / "outputs")
    monkeypatch.chdir(tmp_path)
    assert find_workspace().root == tmp_path / DEFAULT_ROOT  # cwd defaults to the process's


def test_relative_paths_are_taken_from_the_current_folder(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert find_workspace("rel", cwd=project).root == project / "rel"
    monkeypatch.setenv(ENV_VAR, "env-rel")
    assert find_workspace(cwd=project).root == project / "env-rel"
    assert find_workspace("/abs/place", cwd=project).root == Path("/abs/place")


def test_an_empty_environment_variable_counts_as_unset(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "")
    assert find_workspace(cwd=project).root == project / "from-yaml"


def test_sections_are_mappings_or_absent(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, {"train": {"steps": 3}, "embed": None, "ingest": [1, 2]})
    assert ws.section("train") == {"steps": 3}
    assert ws.section("embed") == {} and ws.section("caption") == {}
    with pytest.raises(PointdiffError, match="section 'ingest' must be a mapping"):
        ws.section("ingest")


# ----------------------------------------------------------------------------- runs


def test_new_run_dir_is_named_by_time_or_by_name_and_never_reused(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "work")
    timed = ws.new_run_dir()
    assert timed.is_dir() and timed.parent == ws.runs
    assert re.fullmatch(r"run-\d{8}-\d{6}", timed.name)
    first = ws.new_run_dir("demo")
    second = ws.new_run_dir("demo")
    third = ws.new_run_dir("demo")
    assert [p.name for p in (first, second, third)] == ["demo", "demo-2", "demo-3"]
    assert all(p.is_dir() for p in (first, second, third))


def test_latest_run_follows_the_marker_then_the_newest_folder(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "work")
    assert ws.latest_run() is None  # no runs folder yet
    ws.runs.mkdir(parents=True)
    assert ws.latest_run() is None  # an empty one
    old, new = ws.new_run_dir("old"), ws.new_run_dir("new")
    os.utime(old, (1_000_000, 1_000_000))
    os.utime(new, (2_000_000, 2_000_000))
    assert ws.latest_run() == new  # no marker: the newest folder
    ws.set_latest(old)
    assert (ws.runs / "LATEST").read_text(encoding="utf-8") == "old\n"  # a plain text file, not a symlink
    assert ws.latest_run() == old  # the marker wins over modification times
    old.rmdir()
    assert ws.latest_run() == new  # a marker naming a deleted run is ignored
