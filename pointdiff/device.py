"""Where tensors live and in which precision: ``--device`` and ``--precision``, resolved once.

Every stage takes a device name from the user (``auto``, ``cpu``, ``cuda``, ``cuda:N``,
``mps``) and, for the flow model, a precision (``auto``, ``bf16``, ``fp32``). This module is
the only place that turns ``auto`` into a concrete choice, so all commands agree on it.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch

from pointdiff.errors import PointdiffError

PRECISIONS = ("auto", "bf16", "fp32")


def resolve_device(name: str | None = "auto") -> str:
    """``auto`` (or None / empty) -> ``cuda`` if available, else ``mps`` if available, else ``cpu``.

    Any other name is returned unchanged: torch reports a device it does not know.
    """
    if name in (None, "", "auto"):
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        return "mps" if mps is not None and mps.is_available() else "cpu"
    return str(name)


@functools.lru_cache(maxsize=None)
def fast_bf16(device_type: str) -> bool:
    """Whether bf16 matmuls are native here: CUDA with bf16, or a CPU with AVX-512 BF16 / AMX.

    Elsewhere autocast to bf16 is emulated and slower than fp32.
    """
    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device_type == "cpu":
        try:
            flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return False
        return "avx512_bf16" in flags or "amx_bf16" in flags
    return False


def resolve_precision(precision: str, device: torch.device | str) -> str:
    """``auto`` -> ``bf16`` where it is fast (:func:`fast_bf16`), else ``fp32``; others unchanged."""
    if precision not in PRECISIONS:
        raise PointdiffError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision != "auto":
        return precision
    return "bf16" if fast_bf16(torch.device(device).type) else "fp32"
