"""``--device`` and ``--precision``: ``auto`` is resolved in one place, the same way for every command."""

from __future__ import annotations

import pytest
import torch

from pointdiff import device
from pointdiff.device import resolve_device, resolve_precision
from pointdiff.errors import PointdiffError


def test_auto_device_prefers_cuda_then_mps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto") == resolve_device(None) == resolve_device("") == "cpu"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto") == "mps"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cuda"
    assert resolve_device("cuda:1") == "cuda:1" and resolve_device("cpu") == "cpu"  # explicit names pass through


def test_auto_precision_follows_fast_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device, "fast_bf16", lambda kind: kind == "cpu")
    assert resolve_precision("auto", "cpu") == "bf16"
    assert resolve_precision("auto", "meta") == "fp32"
    assert resolve_precision("fp32", "cpu") == "fp32" and resolve_precision("bf16", "meta") == "bf16"
    with pytest.raises(PointdiffError, match="precision must be one of"):
        resolve_precision("fp16", "cpu")


def test_fast_bf16_reads_the_cpu_flags(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # noqa: ANN001
    device.fast_bf16.cache_clear()
    real_read = device.Path.read_text
    monkeypatch.setattr(device.Path, "read_text", lambda self, *a, **k: "flags : fpu avx512f avx512_bf16\n" if str(self) == "/proc/cpuinfo" else real_read(self, *a, **k))
    assert device.fast_bf16("cpu") is True
    device.fast_bf16.cache_clear()
    monkeypatch.setattr(device.Path, "read_text", lambda self, *a, **k: "flags : fpu avx2\n" if str(self) == "/proc/cpuinfo" else real_read(self, *a, **k))
    assert device.fast_bf16("cpu") is False
    device.fast_bf16.cache_clear()
