"""The public Python API for drawing: a trained run and its text encoder behind one call.

Usage (``pointdiff generate`` and ``pointdiff eval`` go through exactly this)::

    import pointdiff
    pipe = pointdiff.load("pointdiff-work/runs/demo-run")
    out = pipe("left-facing neutral", num_points=1024, seed=0)
    out.points            # tensor [prompts, samples, num_points, 2] in [-3, 3] ([.., 5] for a colour run: x, y, r, g, b)
    out.save("face.png")  # or .npy / .csv / .ply

The names follow diffusers where one exists: ``num_inference_steps`` is ``steps``,
``guidance_scale`` is ``guidance``, ``num_images_per_prompt`` is ``num_samples``, and
precomputed ``prompt_embeds`` skip the text encoder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from pointdiff.checkpoint import LoadedRun, load_run
from pointdiff.device import resolve_device
from pointdiff.errors import PointdiffError
from pointdiff.sample import SamplingSettings, prompt_noise, sample
from pointdiff.text.embeddings import check_encoder


@dataclass
class GenerateConfig:
    """``pointdiff generate``'s settings; ``None`` takes the value the run was trained to prefer (its meta)."""

    steps: int | None = None  # solver steps (None: the checkpoint's; the reference used 200 Euler)
    solver: str | None = None  # euler | midpoint | heun | rk4 | adaptive (None: the checkpoint's)
    guidance: float | None = None  # classifier-free guidance s: uncond + s·(cond − uncond); 1 = off
    num_points: int = 1024  # points per picture (any number: the model is per point)
    num_samples: int = 1  # pictures per prompt
    seed: int = 0  # same seed, same pictures
    rtol: float | None = None  # adaptive solver tolerances (None: 1e-3; a point moves ~3 units, 1e-3 is sub-pixel)
    atol: float | None = None
    precision: str | None = None  # auto (bf16 where fast, else fp32) | bf16 | fp32 (None: the checkpoint's)


@dataclass
class Generation:
    """Pictures for a list of prompts."""

    prompts: list[str]
    points: Tensor  # [prompts, samples, P, d]: d = 2, or 5 for a colour run (x, y, r, g, b)
    nfe: int  # network evaluations per cloud
    settings: dict[str, Any]  # the resolved sampling settings, seed and nfe
    path: list[Tensor] = field(default_factory=list)  # [prompts, samples, P, d] per solver step (animate)
    times: list[float] = field(default_factory=list)

    def numpy(self) -> np.ndarray:
        """The points as a float32 array [prompts, samples, P, d]."""
        return self.points.numpy()

    def save(self, path: str | Path) -> Path:
        """Write the pictures: ``.png`` (a grid, one row per prompt), ``.npy``, ``.csv`` or ``.ply``."""
        from pointdiff.export import save_points

        return save_points(path, self.points, self.prompts)

    def save_animation(self, path: str | Path) -> Path:
        """A GIF of the flow from noise to picture (needs ``keep_path=True``)."""
        from pointdiff.export import save_animation

        if not self.path:
            raise PointdiffError("no path kept: generate with keep_path=True to animate")
        return save_animation(path, self.path, self.prompts, self.times)


class Pipeline:
    """A trained run ready to draw from prompts; the text encoder is loaded on first use.

    Args:
        run: the loaded model (:func:`pointdiff.checkpoint.load_run`).
        encoder: a loaded TextEncoder, or where to load one (hub id or folder); default the
            id stored in the run. Another encoder than the run's is refused.
    """

    def __init__(self, run: LoadedRun, encoder: Any = None):
        self.run = run
        if isinstance(encoder, (str, Path)):  # where to load it from, on first use
            self._encoder, self._encoder_source = None, str(encoder)
        else:
            self._encoder, self._encoder_source = encoder, run.encoder.id
        self._note: str | None = None
        if self._encoder is not None:
            self._note = check_encoder(run.encoder, self._encoder.info)

    @property
    def device(self) -> torch.device:
        """Where the model runs."""
        return next(self.run.model.parameters()).device

    @property
    def encoder(self) -> Any:
        """The run's text encoder (loaded and checked on first use)."""
        if self._encoder is None:
            from pointdiff.text.encoders import load_encoder

            enc = load_encoder(self._encoder_source, device=str(self.device))
            self._note = check_encoder(self.run.encoder, enc.info)
            self._encoder = enc
        return self._encoder

    @property
    def encoder_note(self) -> str | None:
        """A note for the user when the encoder's match with the run could only be assumed (loads it)."""
        _ = self.encoder
        return self._note

    def encode(self, prompts: Sequence[str]) -> Tensor:
        """Unit text vectors [len(prompts), D] from the run's encoder."""
        return self.encoder.encode(list(prompts))

    def settings(self, **overrides: Any) -> SamplingSettings:
        """The run's sampling defaults with ``overrides`` (None: the run's), resolved for this device."""
        return SamplingSettings.from_meta(self.run.meta, self.device, **overrides)

    def __call__(
        self,
        prompts: str | Sequence[str],
        num_points: int = 1024,
        num_samples: int = 1,
        seed: int = 0,
        steps: int | None = None,
        solver: str | None = None,
        guidance: float | None = None,
        precision: str | None = None,
        rtol: float | None = None,
        atol: float | None = None,
        prompt_embeds: Tensor | None = None,
        keep_path: bool = False,
        shared_noise: bool = True,
    ) -> Generation:
        """Draw ``num_samples`` pictures of ``num_points`` points for each prompt.

        Args:
            prompts: one text or several; encoded once, unless ``prompt_embeds``
                [len(prompts), D] are given.
            seed: same seed, same pictures (on any device).
            steps, solver, guidance, precision, rtol, atol: sampling overrides (None: the run's).
            keep_path: keep every solver step (for :meth:`Generation.save_animation`).
            shared_noise: sample j of every prompt starts from the same noise (grids compare
                prompts fairly; a prompt's picture does not depend on the others). False gives
                every cloud its own noise, as set metrics need.
        """
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        if not prompts:
            raise PointdiffError("give at least one prompt")
        if num_points < 1 or num_samples < 1:
            raise PointdiffError("num_points and num_samples must be at least 1")
        if prompt_embeds is None:
            prompt_embeds = self.encode(prompts)
        if tuple(prompt_embeds.shape) != (len(prompts), self.run.encoder.dim):
            raise PointdiffError(f"prompt vectors {tuple(prompt_embeds.shape)} do not fit {len(prompts)} prompts of {self.run.encoder.dim}-d")
        st = self.settings(steps=steps, solver=solver, guidance=guidance, precision=precision, rtol=rtol, atol=atol)
        n, s = len(prompts), num_samples
        dim = self.run.model.point_dim
        noise = prompt_noise(n, s, num_points, seed, st.noise_std, shared=shared_noise, dim=dim)
        sol = sample(self.run.model, prompt_embeds.float().repeat_interleave(s, dim=0), noise, st, keep_path=keep_path)
        shape = (n, s, num_points, dim)
        return Generation(
            prompts=prompts,
            points=sol.x.reshape(shape),
            nfe=sol.nfe,
            settings={**st.to_dict(), "seed": seed, "nfe": sol.nfe},
            path=[p.reshape(shape) for p in sol.path],
            times=sol.times,
        )

    def generate(self, prompts: Sequence[str], cfg: GenerateConfig, keep_path: bool = False) -> Generation:
        """:meth:`__call__` with a :class:`GenerateConfig` (the CLI's settings object)."""
        return self(
            prompts, num_points=cfg.num_points, num_samples=cfg.num_samples, seed=cfg.seed, steps=cfg.steps, solver=cfg.solver,
            guidance=cfg.guidance, precision=cfg.precision, rtol=cfg.rtol, atol=cfg.atol, keep_path=keep_path,
        )  # fmt: skip


def load(path: str | Path, device: str | None = "auto", encoder: Any = None, use_ema: bool = True) -> Pipeline:
    """A :class:`Pipeline` for a run folder or one of its checkpoints.

    Args:
        path: ``RUN`` (its newest checkpoint) or ``RUN/checkpoints/step-N``.
        device: ``auto`` (cuda, else mps, else cpu), ``cpu``, ``cuda:N``, ``mps``.
        encoder: a loaded TextEncoder or where to load the run's encoder from (default: its stored id).
        use_ema: the EMA weights when the run kept them (they sample better).
    """
    return Pipeline(load_run(path, device=resolve_device(device), use_ema=use_ema), encoder=encoder)
