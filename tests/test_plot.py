"""Pictures: a grid of clouds is written, long prompts wrap inside their own panel, and drawing
leaves the process's matplotlib setup alone."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

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


def test_importing_and_drawing_keep_the_backend_and_pyplot_untouched(tmp_path: Path) -> None:
    # A fresh interpreter: this one may have imported pyplot or picked a backend already.
    # The application chose "svg"; pointdiff must draw its PNGs and GIFs without switching it
    # and without registering figures with pyplot.
    script = textwrap.dedent(
        """
        import sys
        import matplotlib
        matplotlib.use("svg")
        import numpy as np
        from pointdiff import export, plot

        assert matplotlib.get_backend() == "svg", "import switched the backend"
        out = sys.argv[1]
        cloud = np.random.default_rng(0).uniform(-3, 3, (1, 2, 64, 2))
        plot.save_cloud_grid(out + "/grid.png", [cloud[0, 0], cloud[0, 1]], titles=["a", "b"])
        plot.save_curve(out + "/curve.png", [0, 1, 2], [3.0, 2.0, 1.0], "step", "loss")
        plot.save_histogram(out + "/hist.png", cloud.ravel(), "x")
        export.save_points(out + "/points.png", cloud, ["a prompt"])
        export.save_animation(out + "/flow.gif", [cloud, cloud * 0.5], ["a prompt"], min_frames=2)
        assert matplotlib.get_backend() == "svg", "drawing switched the backend"
        assert "matplotlib.pyplot" not in sys.modules, "pyplot was imported"
        """
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for name in ("grid.png", "curve.png", "hist.png", "points.png", "flow.gif"):
        assert (tmp_path / name).stat().st_size > 500, name
