"""Where things live, so that commands need no paths.

A workspace is one folder (default ``./pointdiff-work``) holding what each stage wrote::

    pointdiff-work/
      dataset/         ingest -> caption -> summarize -> embed write here
      runs/<name>/     one training run each: checkpoints, metadata, loss curve
      runs/LATEST      the name of the newest run (a text file, portable where symlinks are not)
      outputs/         generated pictures

It is found in this order: the ``--workspace`` flag, ``$POINTDIFF_WORKSPACE``, the
``workspace:`` key of a ``pointdiff.yaml`` in the current directory, ``./pointdiff-work``.
``pointdiff.yaml`` may also hold one section of settings per command (``train:``, ...).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pointdiff.config import read_yaml
from pointdiff.errors import PointdiffError
from pointdiff.store import atomic_write_text

PROJECT_FILE = "pointdiff.yaml"
DEFAULT_ROOT = "pointdiff-work"
ENV_VAR = "POINTDIFF_WORKSPACE"


@dataclass
class Workspace:
    """A project folder and the settings of its ``pointdiff.yaml`` (if any)."""

    root: Path
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def dataset(self) -> Path:
        """The default dataset directory."""
        return self.root / "dataset"

    @property
    def runs(self) -> Path:
        """Where training runs go."""
        return self.root / "runs"

    @property
    def outputs(self) -> Path:
        """Where generated pictures go."""
        return self.root / "outputs"

    def section(self, command: str) -> dict[str, Any]:
        """The settings ``pointdiff.yaml`` gives for one command (empty if none)."""
        value = self.settings.get(command) or {}
        if not isinstance(value, dict):
            raise PointdiffError(f"{PROJECT_FILE}: section {command!r} must be a mapping")
        return value

    def new_run_dir(self, name: str | None = None) -> Path:
        """A fresh run folder, named by time unless ``name`` is given."""
        name = name or time.strftime("run-%Y%m%d-%H%M%S")
        path = self.runs / name
        n = 1
        while path.exists():
            n += 1
            path = self.runs / f"{name}-{n}"
        path.mkdir(parents=True)
        return path

    def set_latest(self, run_dir: Path) -> None:
        """Record ``run_dir`` as the newest run."""
        atomic_write_text(self.runs / "LATEST", Path(run_dir).name + "\n")

    def latest_run(self) -> Path | None:
        """The newest run folder, or None if nothing was trained here yet."""
        marker = self.runs / "LATEST"
        if marker.exists():
            path = self.runs / marker.read_text(encoding="utf-8").strip()
            if path.is_dir():
                return path
        runs = [p for p in self.runs.glob("*") if p.is_dir()] if self.runs.exists() else []
        return max(runs, key=lambda p: p.stat().st_mtime) if runs else None


def find_workspace(explicit: str | Path | None = None, cwd: str | Path | None = None) -> Workspace:
    """Locate the workspace (see module docstring for the order)."""
    cwd = Path(cwd or os.getcwd())
    project = cwd / PROJECT_FILE
    settings = read_yaml(project) if project.exists() else {}
    if explicit is not None:
        root = Path(explicit)
    elif os.environ.get(ENV_VAR):
        root = Path(os.environ[ENV_VAR])
    elif settings.get("workspace"):
        root = Path(settings["workspace"])
    else:
        root = Path(DEFAULT_ROOT)
    if not root.is_absolute():
        root = cwd / root
    return Workspace(root=root, settings=settings)
