"""The machine and its ceilings: CPU/GPU description, matmul peak, FLOPs of a training step.

Achieved GFLOP/s only mean something against what the same machine can do in the same run,
so the peak is measured here, not quoted: a square matmul (the densest work there is), the
median of a few timed repetitions after a warm-up.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from typing import Any

import torch


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or platform's guess elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> set[str]:
    """CPU feature flags (empty off Linux)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def machine_info(device: str) -> dict[str, Any]:
    """What the numbers were measured on."""
    flags = cpu_flags()
    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "avx512_bf16": "avx512_bf16" in flags,
        "amx": "amx_bf16" in flags,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": device,
    }
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def matmul_peak(size: int = 2048, dtype: torch.dtype = torch.float32, repeats: int = 5, device: str = "cpu") -> float:
    """GFLOP/s of a ``size³`` matmul in ``dtype``: median of ``repeats`` after one warm-up."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=g).to(device, dtype)
    b = torch.randn(size, size, generator=g).to(device, dtype)
    flops = 2 * size**3
    a @ b  # warm-up: thread pool, packing buffers
    times = []
    for _ in range(repeats):
        _sync(device)
        t = time.perf_counter()
        a @ b
        _sync(device)
        times.append(time.perf_counter() - t)
    return flops / statistics.median(times) / 1e9


def train_step_flops(cfg: Any, cond_dim: int) -> float:
    """FLOPs of one training step's forward and backward (matmuls, as PyTorch counts them).

    Counted on a fresh model with the recipe's batch shape ([clouds_per_step,
    points_per_cloud, 2]) and precision; the optimizer, data drawing and noise pairing are
    real work but not FLOPs of the model, so achieved GFLOP/s = these FLOPs / step time.
    """
    from torch.utils.flop_counter import FlopCounterMode

    from pointdiff.flow.model import build_model

    model = build_model(cfg.arch, cond_dim, **cfg.model_kwargs())
    b, p = cfg.clouds_per_step, cfg.points_per_cloud
    x, t, c = torch.randn(b, p, 2), torch.rand(b), torch.randn(b, cond_dim)
    with FlopCounterMode(display=False) as counter:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.precision == "bf16"):
            if model.learns_codes:  # no point network: its prior on one code per caption is the step
                v = model.prior(torch.randn(b, model.components), t, model.prior.context(c))
            else:
                v = model(x, t, c)
        v.float().square().mean().backward()
    return float(counter.get_total_flops())


def sample_flops_per_nfe(model: torch.nn.Module, cond_dim: int, num_points: int = 1024) -> float:
    """FLOPs of one network evaluation on one ``num_points`` cloud."""
    from torch.utils.flop_counter import FlopCounterMode

    x, t, c = torch.randn(1, num_points, 2), torch.rand(1), torch.randn(1, cond_dim)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x, t, c)
    return float(counter.get_total_flops())
