"""`benchmarks/run.py --quick`: every stage of the benchmark runs and writes its report.

About a minute (it renders ~175 faces and trains both recipes briefly): the CI smoke test of the
benchmark script, so a change that breaks the benchmark fails the suite.
One torch thread: on a shared 2-core machine two OpenMP threads can run 10x slower.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_benchmark_writes_every_section(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out).mkdir()
    (out / "benchmarks.md").write_text("# Benchmarks\n\n<!-- other -->\nkept\n<!-- /other -->\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--threads", "1", "--out", str(out), "--work", str(tmp_path / "work")],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    md = (out / "benchmarks.md").read_text(encoding="utf-8")
    assert "<!-- other -->\nkept\n<!-- /other -->" in md  # other scripts' sections survive
    assert md.count("<!-- run -->") == 1 and "<!-- /run -->" in md
    for heading in ("Training throughput", "Time to quality", "Final quality", "quality vs network evaluations"):
        assert heading in md
    numbers = json.loads((out / "benchmarks_run.json").read_text(encoding="utf-8"))
    assert set(numbers["runs"]) == {"seed", "default"}
    assert numbers["peak_gflops"]["fp32"] > 0 and numbers["runs"]["seed"]["gflops"] > 0
    assert numbers["final"]["default"]["prompt_accuracy"] is not None
    assert {row["solver"] for row in numbers["sweeps"]["default"]} == {"euler", "midpoint"}
    for png in ("benchmarks_time_to_quality.png", "benchmarks_accuracy.png", "benchmarks_nfe.png"):
        assert (out / png).stat().st_size > 1000
    check_compare(out, numbers)


def check_compare(out: Path, numbers: dict) -> None:
    """`benchmarks/compare.py` reads real run files: equal figures read as identical, changed ones show their spread."""
    again = json.loads(json.dumps(numbers))
    again["runs"]["seed"]["steps_per_s"] = numbers["runs"]["seed"]["steps_per_s"] * 1.5
    again["final"]["default"]["prompt_accuracy"]["joint"] = numbers["final"]["default"]["prompt_accuracy"]["joint"] + 0.25
    (out / "again.json").write_text(json.dumps(again), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "compare.py"), str(out / "benchmarks_run.json"), str(out / "again.json"), "--write", str(out / "benchmarks.md")],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    rows = {line.split(" | ")[0].lstrip("| "): line.rstrip(" |").split(" | ")[-1] for line in proc.stdout.splitlines() if line.startswith("| ")}
    assert rows["seed: training steps/s"] == "40.0%"  # (1.5 - 1) / mean(1, 1.5)
    assert rows["default: final joint prompt accuracy"] == "25.0%"
    assert rows["default: final MMD"] == "identical"
    md = (out / "benchmarks.md").read_text(encoding="utf-8")
    assert md.count("<!-- reproduce -->") == 1 and "<!-- run -->" in md


def test_replace_section_keeps_other_sections_and_replaces_its_own(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from report_md import replace_section
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    md = tmp_path / "benchmarks.md"
    md.write_text("# Benchmarks\n\n<!-- other -->\nkept\n<!-- /other -->\n", encoding="utf-8")
    replace_section(md, "run", "first")
    replace_section(md, "run", "second")
    text = md.read_text(encoding="utf-8")
    assert "<!-- other -->\nkept\n<!-- /other -->" in text
    assert text.count("<!-- run -->") == 1 and "second" in text and "first" not in text
