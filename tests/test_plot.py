"""Pictures: a grid of clouds is written, and long prompts wrap inside their own panel."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from pointdiff import plot


def test_long_titles_wrap_to_the_panel_width(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    titles: list[str] = []
    original = plot._save

    def capture(fig, path):  # type: ignore[no-untyped-def]
        titles.extend(ax.get_title() for ax in fig.axes)
        return original(fig, path)

    monkeypatch.setattr(plot, "_save", capture)
    long = "head rotated to the left, with a poker face and a raised eyebrow #1"
    cloud = np.random.default_rng(0).uniform(-3, 3, (64, 2))
    out = plot.save_cloud_grid(tmp_path / "grid.png", [cloud, cloud, cloud], titles=[long, "short", "run @ 3000\nreal: left"], panel_inches=2.0)
    assert out.stat().st_size > 1000
    assert titles[1] == "short"
    assert titles[2] == "run @ 3000\nreal: left"  # the caller's line breaks stay
    lines = titles[0].split("\n")
    assert len(lines) > 1 and max(len(line) for line in lines) <= 36
    assert " ".join(lines) == long  # wrapped, nothing dropped
    plt.close("all")
