"""Drawing pictures: text -> condition vector -> noise -> ODE solve -> point cloud.

Usage::

    from pointdiff.checkpoint import load_run
    from pointdiff.sample import GenerateConfig, generate
    run = load_run("pointdiff-work/runs/demo")
    out = generate(run, ["left-facing, neutral"], GenerateConfig(num_samples=4, seed=0))
    out.points          # [prompts, samples, P, 2] in [-3, 3]

Sampling integrates dx/dt = v(x, t, c) from x(0) ~ N(0, σ²I) — σ is the model's training
noise (``meta.sampling.noise_std``; the reference's 2) — to t = 1. The per-cloud
conditioning is computed once per call (``model.field``), not at every solver step.
The noise comes from a seeded CPU ``torch.Generator``, so the same seed gives the same
picture on any device, and every prompt of a call starts from the same noise (sample j of
each prompt shares it): prompts are compared on equal terms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from pointdiff.checkpoint import LoadedRun
from pointdiff.device import resolve_precision
from pointdiff.errors import PointdiffError
from pointdiff.flow.model import VelocityModel
from pointdiff.flow.solvers import SOLVERS, Solution, solve
from pointdiff.text.embeddings import EncoderInfo


@dataclass
class GenerateConfig:
    """Sampling knobs; ``None`` takes the value the model was trained to prefer (its meta)."""

    steps: int | None = None  # solver steps (None: the checkpoint's; the reference used 200 Euler)
    solver: str | None = None  # euler | midpoint | heun | rk4 | adaptive (None: the checkpoint's)
    guidance: float | None = None  # classifier-free guidance s: uncond + s·(cond − uncond); 1 = off
    num_points: int = 1024  # points per picture (any number: the model is per point)
    num_samples: int = 1  # pictures per prompt
    seed: int = 0  # same seed, same pictures
    rtol: float = 1e-3  # adaptive solver tolerances (a point moves ~3 units: 1e-3 is sub-pixel)
    atol: float = 1e-3
    precision: str | None = None  # auto (bf16 where fast, else fp32) | bf16 | fp32 (None: the checkpoint's)


def make_noise(num_clouds: int, num_points: int, seed: int, noise_std: float) -> Tensor:
    """x(0) ~ N(0, σ²I): [num_clouds, num_points, 2] from a seeded CPU generator."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(num_clouds, num_points, 2, generator=g) * noise_std


@torch.no_grad()
def sample_flow(
    model: VelocityModel,
    cond: Tensor,
    num_points: int = 1024,
    steps: int = 200,
    solver: str = "euler",
    guidance: float = 1.0,
    seed: int = 0,
    noise_std: float = 2.0,
    noise: Tensor | None = None,
    keep_path: bool = False,
    rtol: float = 1e-3,
    atol: float = 1e-3,
    precision: str = "fp32",
) -> Solution:
    """Solve the flow ODE for each condition; the full :class:`Solution` (path, NFE)."""
    if solver not in SOLVERS:
        raise PointdiffError(f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}")
    device = next(model.parameters()).device
    precision = resolve_precision(precision, device)
    cond = cond.to(device, torch.float32)
    x0 = make_noise(len(cond), num_points, seed, noise_std) if noise is None else noise
    x0 = x0.to(device, torch.float32)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
        field_ = model.field(cond, guidance)
        f = (lambda x, t: field_(x, t).float()) if precision == "bf16" else field_
        return solve(f, x0, solver, steps, rtol=rtol, atol=atol, keep_path=keep_path)


def sample_points(
    model: VelocityModel,
    cond: Tensor,
    num_points: int = 1024,
    steps: int = 200,
    solver: str = "euler",
    guidance: float = 1.0,
    seed: int = 0,
    noise_std: float = 2.0,
    precision: str = "fp32",
) -> Tensor:
    """Point clouds [B, num_points, 2] for conditions ``cond`` [B, D] (see :func:`sample_flow`)."""
    return sample_flow(model, cond, num_points, steps, solver, guidance, seed, noise_std, precision=precision).x


@dataclass
class Generation:
    """Pictures for a list of prompts."""

    prompts: list[str]
    points: Tensor  # [prompts, samples, P, 2]
    nfe: int  # network evaluations spent (per cloud batch)
    settings: dict[str, float | int | str]  # the resolved steps / solver / guidance / seed
    path: list[Tensor] = field(default_factory=list)  # [prompts, samples, P, 2] per solver step (animate)
    times: list[float] = field(default_factory=list)


def check_encoder_compat(trained: EncoderInfo, used: EncoderInfo) -> str | None:
    """Refuse vectors from another encoder; a note when the trained encoder's hash is unknown.

    The reference's data file names its CLIP model but not its weights (``weights_sha256 = ""``):
    then an encoder of the same family and dimension is accepted, and the note says so.
    """
    from pointdiff.text.embeddings import check_encoder

    if trained.weights_sha256 == "":
        if trained.family != used.family or trained.dim != used.dim:
            raise PointdiffError(
                f"this model was trained on {trained.family} {trained.dim}-d vectors ({trained.id}), "
                f"but the encoder in use is {used.describe()}; use --encoder {trained.id}"
            )
        return f"the model's encoder weights are unknown (reference data naming {trained.id}); assuming {used.id} is the same model"
    check_encoder(trained, used, what="this model")
    return None


def generate(
    run: LoadedRun,
    prompts: Sequence[str],
    cfg: GenerateConfig | None = None,
    encoder: object | None = None,
    prompt_embeds: Tensor | None = None,
    keep_path: bool = False,
) -> Generation:
    """Pictures for ``prompts`` from a loaded run (:func:`pointdiff.checkpoint.load_run`).

    Args:
        run: the model, its meta and its encoder info.
        prompts: texts; encoded once, with ``encoder`` (a TextEncoder whose info must match the
            run's) unless ``prompt_embeds`` [len(prompts), D] are given.
        cfg: sampling knobs (None fields: the run's defaults).
        keep_path: keep every solver step (for ``--animate``).
    """
    cfg = cfg or GenerateConfig()
    prompts = list(prompts)
    if not prompts:
        raise PointdiffError("give at least one prompt")
    if cfg.num_points < 1 or cfg.num_samples < 1:
        raise PointdiffError("num_points and num_samples must be at least 1")
    if prompt_embeds is None:
        if encoder is None:
            raise PointdiffError("no text encoder given to encode the prompts")
        check_encoder_compat(run.encoder, encoder.info)  # type: ignore[attr-defined]
        prompt_embeds = encoder.encode(prompts)  # type: ignore[attr-defined]
    if prompt_embeds.shape != (len(prompts), run.encoder.dim):
        raise PointdiffError(f"prompt vectors {tuple(prompt_embeds.shape)} do not fit {len(prompts)} prompts of {run.encoder.dim}-d")
    defaults = run.meta["sampling"]
    steps = int(cfg.steps if cfg.steps is not None else defaults["steps"])
    solver = cfg.solver or defaults["solver"]
    guidance = float(cfg.guidance if cfg.guidance is not None else defaults["guidance"])
    noise_std = float(defaults["noise_std"])
    precision = resolve_precision(cfg.precision or defaults.get("precision", "fp32"), next(run.model.parameters()).device)
    n, s = len(prompts), cfg.num_samples
    noise = make_noise(s, cfg.num_points, cfg.seed, noise_std).repeat(n, 1, 1)  # sample j shares noise across prompts
    cond = prompt_embeds.float().repeat_interleave(s, dim=0)
    sol = sample_flow(run.model, cond, cfg.num_points, steps, solver, guidance, noise=noise, keep_path=keep_path, rtol=cfg.rtol, atol=cfg.atol, precision=precision)
    shape = (n, s, cfg.num_points, 2)
    return Generation(
        prompts=prompts,
        points=sol.x.cpu().reshape(shape),
        nfe=sol.nfe,
        settings={"steps": steps, "solver": solver, "guidance": guidance, "seed": cfg.seed, "noise_std": noise_std, "precision": precision, "nfe": sol.nfe},
        path=[p.cpu().reshape(shape) for p in sol.path],
        times=sol.times,
    )

