"""`benchmarks/memory.py`'s parts: the synthetic folder it ingests and the peak-memory reading."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


def _load():
    spec = importlib.util.spec_from_file_location("memory_bench", ROOT / "benchmarks" / "memory.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_synthetic_folder_is_captioned_drawings_and_repeats_for_a_seed(tmp_path: Path) -> None:
    bench = _load()
    bench.write_folder(tmp_path / "a", 6)
    bench.write_folder(tmp_path / "b", 6)
    rows = [json.loads(line) for line in (tmp_path / "a" / "metadata.jsonl").read_text().splitlines()]
    assert [r["file_name"] for r in rows] == [f"{k:06d}.png" for k in range(6)]
    for r in rows:
        ink = np.asarray(Image.open(tmp_path / "a" / r["file_name"])) < 128
        assert 0 < ink.sum() < ink.size // 2  # line art: some ink, mostly paper
        assert set(r["text"].split(": ")[1].split(", ")) <= set(bench.SHAPES)
        assert (tmp_path / "a" / r["file_name"]).read_bytes() == (tmp_path / "b" / r["file_name"]).read_bytes()


def test_peak_rss_reads_what_the_child_touched() -> None:
    bench = _load()
    # Linux carries the parent's peak over fork and exec, so the child must outgrow pytest's
    big, _ = bench.peak_rss([sys.executable, "-c", "b = bytearray(600_000_000); b[::4096] = b'x' * len(b[::4096])"])
    assert 570 <= big < 900  # MiB: the 572 MiB the child touched, plus the interpreter


def test_growth_per_image_is_the_slope_between_each_two_sizes() -> None:
    bench = _load()
    results = {
        10_000: {"ingest": (300.0, 9.0), "train": (500.0, 1.0)},
        1000: {"ingest": (291.0, 4.0), "train": (500.0, 1.0)},
        100_000: {"ingest": (300.0, 60.0), "train": (590.0, 9.0)},
    }
    (a, b, first), (c, d, second) = bench.growth_per_image(results)
    assert (a, b, c, d) == (1000, 10_000, 10_000, 100_000)  # in order of size, whatever the dict's
    assert first == {"ingest": 9 * 2**20 / 9000, "train": 0.0}  # 9 MiB over 9,000 images: 1,048.6 bytes each
    assert second == {"ingest": 0.0, "train": 90 * 2**20 / 90_000}
    assert bench.growth_per_image({1000: results[1000]}) == []  # one size: no slope
