"""Image-folder conventions shared by ingest and caption."""

from __future__ import annotations

from pointdiff.data.folders import natural_key


def test_natural_sort_key() -> None:
    names = ["frame10.png", "frame2.png", "frame1.png", "Frame3.png"]
    assert sorted(names, key=natural_key) == ["frame1.png", "frame2.png", "Frame3.png", "frame10.png"]
