"""Drawing from a trained model: condition vectors -> noise -> ODE solve -> point clouds.

The one way to sample in pointdiff: ``generate``, ``eval``, the public pipeline
(:mod:`pointdiff.pipeline`) and the benchmark all resolve their settings with
:meth:`SamplingSettings.from_meta` and draw with :func:`sample`.

Usage::

    from pointdiff.checkpoint import load_run
    from pointdiff.sample import SamplingSettings, make_noise, sample
    run = load_run("pointdiff-work/runs/demo")
    settings = SamplingSettings.from_meta(run.meta, device="cpu", steps=8)   # None: the run's own
    x = sample(run.model, cond, make_noise(len(cond), 1024, seed=0, noise_std=settings.noise_std), settings).x

Sampling integrates dx/dt = v(x, t, c) from x(0) ~ N(0, σ²I) — σ is the model's training
noise (``meta.sampling.noise_std``; the reference's 2) — to t = 1. The per-cloud
conditioning is computed once per batch (``model.field``), not at every solver step.
The noise comes from a seeded CPU ``torch.Generator``, so the same seed gives the same
picture on any device.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor

from pointdiff.device import resolve_precision
from pointdiff.errors import PointdiffError
from pointdiff.flow.model import VelocityModel
from pointdiff.flow.solvers import SOLVERS, Solution, solve

# What a run that stored no sampling defaults gets: the reference system's sampler.
_REFERENCE_SAMPLING = {"solver": "euler", "steps": 200, "guidance": 1.0, "noise_std": 2.0, "precision": "fp32"}


@dataclass(frozen=True)
class SamplingSettings:
    """How to integrate one model: solver, steps, guidance, start noise and precision, all resolved.

    Build it with :meth:`from_meta` (a run's stored defaults plus the user's overrides), so
    that every command samples a run the same way.
    """

    solver: str = "midpoint"  # euler | midpoint | heun | rk4 | adaptive
    steps: int = 2  # solver steps (network evaluations = steps × 1/2/2/4 for euler/midpoint/heun/rk4)
    guidance: float = 1.0  # classifier-free guidance s: uncond + s·(cond − uncond); 1 = off
    noise_std: float = 2.0  # σ of x(0): must be the σ the model was trained from
    precision: str = "fp32"  # bf16 | fp32, already resolved for the device (never "auto")
    rtol: float = 1e-3  # adaptive solver tolerances (a point moves ~3 units: 1e-3 is sub-pixel)
    atol: float = 1e-3

    def __post_init__(self) -> None:
        if self.solver not in SOLVERS:
            raise PointdiffError(f"unknown solver {self.solver!r}; choose one of {', '.join(SOLVERS)}")
        if self.steps < 1:
            raise PointdiffError("steps must be at least 1")
        if self.precision not in ("bf16", "fp32"):
            raise PointdiffError(f"sampling precision must be resolved to bf16 or fp32, got {self.precision!r}")

    @classmethod
    def from_stored(cls, stored: dict[str, Any], device: torch.device | str = "cpu", **overrides: Any) -> "SamplingSettings":
        """Settings from stored defaults (a meta's ``sampling``) with ``overrides``; None means "stored".

        ``precision`` ``auto`` is resolved for ``device`` (bf16 where it is fast, else fp32).
        """
        unknown = set(overrides) - {f for f in cls.__dataclass_fields__}
        if unknown:
            raise PointdiffError(f"unknown sampling settings: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {**_REFERENCE_SAMPLING, **{k: v for k, v in stored.items() if k in cls.__dataclass_fields__}}
        values.update({k: v for k, v in overrides.items() if v is not None})
        values["precision"] = resolve_precision(str(values["precision"]), device)
        return cls(
            solver=str(values["solver"]),
            steps=int(values["steps"]),
            guidance=float(values["guidance"]),
            noise_std=float(values["noise_std"]),
            precision=values["precision"],
            **{k: float(values[k]) for k in ("rtol", "atol") if k in values},
        )

    @classmethod
    def from_meta(cls, meta: dict[str, Any], device: torch.device | str = "cpu", **overrides: Any) -> "SamplingSettings":
        """A run's sampling defaults (``meta.json``'s ``sampling``) with ``overrides`` (None: the run's)."""
        return cls.from_stored(meta.get("sampling") or {}, device, **overrides)

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for JSON reports and titles."""
        return asdict(self)

def make_noise(num_clouds: int, num_points: int, seed: int, noise_std: float, dim: int = 2) -> Tensor:
    """x(0) ~ N(0, σ²I): [num_clouds, num_points, dim] from a seeded CPU generator (dim: the model's ``point_dim``).

    Cloud k is the k-th draw of the seed's stream, so the first clouds of a longer call equal
    a shorter call's: ``--num-samples 4`` starts with the picture ``--num-samples 1`` gives.
    """
    g = torch.Generator().manual_seed(seed)
    return torch.randn(num_clouds, num_points, dim, generator=g) * noise_std


def prompt_noise(num_prompts: int, num_samples: int, num_points: int, seed: int, noise_std: float, shared: bool = True, dim: int = 2) -> Tensor:
    """Start noise for ``num_samples`` clouds of each of ``num_prompts`` prompts, [prompts × samples, P, dim].

    ``shared``: sample j of every prompt starts from the seed's j-th cloud, so a grid compares
    prompts on equal terms and a prompt's picture does not depend on the other prompts.
    Otherwise every cloud has its own draw (prompt i, sample j: the seed's (i·samples + j)-th),
    which is what set metrics need: independent samples.
    """
    if shared:
        return make_noise(num_samples, num_points, seed, noise_std, dim).repeat(num_prompts, 1, 1)
    return make_noise(num_prompts * num_samples, num_points, seed, noise_std, dim)


@torch.no_grad()
def sample(model: VelocityModel, cond: Tensor, noise: Tensor, settings: SamplingSettings, keep_path: bool = False, batch: int = 64) -> Solution:
    """Solve the flow ODE from ``noise`` [B, P, d] (d: the model's ``point_dim``) under conditions ``cond`` [B, D].

    Clouds are integrated ``batch`` at a time (memory stays bounded for any B); ``batch``
    changes a cloud only by float rounding (matmuls of another shape). With ``keep_path`` every solver step is kept (one
    batch then, so the steps of all clouds line up).

    Returns:
        The :class:`~pointdiff.flow.solvers.Solution`: end points ``x`` [B, P, d] on the CPU,
        evaluations per cloud ``nfe``, and the path when asked.
    """
    if len(cond) != len(noise):
        raise PointdiffError(f"{len(cond)} conditions but {len(noise)} noise clouds")
    if noise.shape[-1] != model.point_dim:
        raise PointdiffError(f"noise has {noise.shape[-1]} values per point but the model draws {model.point_dim} (make_noise(..., dim=model.point_dim))")
    device = next(model.parameters()).device
    size = len(cond) if keep_path else max(1, batch)
    parts = [_solve(model, cond[s : s + size], noise[s : s + size], settings, keep_path, device) for s in range(0, len(cond), size)]
    if len(parts) == 1:
        return parts[0]
    return Solution(x=torch.cat([p.x for p in parts]), nfe=max(p.nfe for p in parts))


def _solve(model: VelocityModel, cond: Tensor, noise: Tensor, settings: SamplingSettings, keep_path: bool, device: torch.device) -> Solution:
    bf16 = settings.precision == "bf16"
    cond = cond.to(device, torch.float32)
    x0 = noise.to(device, torch.float32)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        field_ = model.field(cond, settings.guidance, start=x0)
        f = (lambda x, t: field_(x, t).float()) if bf16 else field_
        sol = solve(f, x0, settings.solver, settings.steps, rtol=settings.rtol, atol=settings.atol, keep_path=keep_path)
    return Solution(x=sol.x.cpu(), nfe=sol.nfe, times=sol.times, path=[p.cpu() for p in sol.path])
