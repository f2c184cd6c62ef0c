"""examples/fastvlm_smoke.py runs wherever the fastvlm extra is installed (skipped without timm)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "fastvlm_smoke.py"


def test_fastvlm_smoke_example_runs() -> None:
    pytest.importorskip("timm")
    pytest.importorskip("torchvision.ops")
    out = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "generated torch.Size([1," in out.stdout
