"""The training recipe: one ``TrainConfig`` holds everything that defines a run.

Every default says what it beat, measured on the benchmark (``docs/benchmarks.md``);
``configs/train-seed.yaml`` is the reference system's recipe exactly. A checkpoint stores
its recipe in ``meta.json``, and :meth:`TrainConfig.from_meta` reads it back, so a run can be
resumed or described without the code that trained it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pointdiff.config import apply
from pointdiff.device import PRECISIONS
from pointdiff.errors import PointdiffError
from pointdiff.flow.path import PAIRINGS

# What a resumed run may change: how long it trains and how it keeps checkpoints. Anything
# else would make the continuation a different run than the one its checkpoints describe.
RESUMABLE = ("steps", "checkpoint_every", "keep_checkpoints")
# The reference's "epoch" was one optimizer step on one cloud of 1024 points.
REFERENCE_EPOCH_POINTS = 1024


@dataclass
class TrainConfig:
    """Everything that defines a training run.

    The defaults are our recipe, chosen by measurement (``benchmarks/flow_recipe.py``);
    ``configs/train-seed.yaml`` is the reference's recipe exactly.
    """

    # --- model ---
    arch: str = "film"  # film: Fourier features + FiLM residual blocks; reference: the plain MLP on [x, y, t, c]
    hidden: int = 256  # width per point; 256 with Fourier features beat the reference's 512 at equal steps
    depth: int = 4  # film: residual blocks (2 Linear each); reference: Linear layers (6)
    fourier_features: int = 64  # film: sin/cos pairs of random projections of (x, y): thin strokes need high frequencies
    fourier_scale: float = 1.0  # film: std of the projections' frequencies (cycles per unit; canvas 6 units); 2 was worse
    embed_dim: int = 256  # film: size of the text and time embeddings that drive FiLM
    latent_channels: int = 4  # latent-map: channels of the 8 × 8 latent per picture
    map_channels: int = 16  # latent-map: channels of the 32 × 32 feature map every point reads
    kl_weight: float = 1e-3  # latent-map: β of the latent's KL (per dimension) beside the flow loss
    prior_steps: int = 32  # latent-map: Euler steps of the text -> latent flow at sampling (one small MLP call per cloud each)
    # --- data ---
    clouds_per_step: int = 64  # captions per step: at equal points per step, 64x64 beat 16x256 and 4x1024 (Chamfer)
    points_per_cloud: int = 64  # fresh points per cloud per step (the reference: 1024 of one cloud)
    jitter: bool = False  # spread each point uniformly over its pixel (dequantisation); measured neutral
    # --- path ---
    noise_std: float = 2.0  # σ of x0 ~ N(0, σ²I); the reference's 2 covers [-3, 3]; sampling uses the same σ
    pairing: str = "chunked"  # noise-to-point pairing within a cloud: none | exact | chunked (OT, straighter paths)
    pairing_chunk: int = 16  # chunked: Hungarian on cells of this many points (16: as good as 64 here, 3x cheaper)
    cond_dropout: float = 0.1  # probability of training on the null (zero) condition, enables --guidance
    # --- optimisation ---
    # Optimizer steps: 548 s on 2 CPU cores (14.6 steps/s). Faces, 5 captions each, 8000 vs 3000
    # steps: own captions' expression 40 vs 23 %, held-out paraphrases' 29 vs 16 %, 1-NNA 67 vs 78 %
    # (docs/recipes.md; preset `short` keeps 3000).
    steps: int = 8000
    lr: float = 1e-3  # peak learning rate (Adam)
    warmup_steps: int = 200  # linear warm-up: large early updates diverged in probes without it
    schedule: str = "cosine"  # cosine (decay to 0 at the last step) | constant (the reference)
    weight_decay: float = 0.0  # AdamW decay; 0 = plain Adam
    grad_clip: float = 1.0  # max gradient norm (0 = off): a probe without it diverged after ~400 s
    ema_decay: float = 0.999  # EMA of the weights (0 = off); generate uses the EMA weights
    precision: str = "auto"  # auto (bf16 where the hardware has fast bf16, else fp32) | bf16 (autocast) | fp32; bf16 trained as well as fp32, 2x faster here
    seed: int = 0  # model init, data order, points, noise, t: all from this
    # --- checkpoints ---
    checkpoint_every: int = 500  # steps between checkpoints (the last step is always saved)
    keep_checkpoints: int = 3  # newest checkpoints kept on disk (0 = keep all)
    # --- sampling defaults stored with the model (generate's defaults) ---
    sample_solver: str = "midpoint"  # euler | midpoint | heun | rk4 | adaptive; midpoint beat euler at equal evaluations
    sample_steps: int = 2  # midpoint x 2 = 4 evaluations: as good as 6, 8 or 200 (docs/benchmarks.md), ~40 ms per cloud
    sample_guidance: float = 1.0  # classifier-free guidance scale (1 = off); 1.5 and 2 scored worse on the faces
    sample_precision: str = "auto"  # auto | bf16 | fp32: bf16 sampled as well as fp32 at half the time here

    def model_kwargs(self) -> dict[str, Any]:
        """The architecture's keyword arguments (for :func:`build_model`)."""
        if self.arch == "reference":
            return {"hidden": self.hidden, "layers": self.depth}
        if self.arch in ("film", "latent-map"):
            film = {
                "hidden": self.hidden,
                "blocks": self.depth,
                "fourier_features": self.fourier_features,
                "fourier_scale": self.fourier_scale,
                "embed_dim": self.embed_dim,
            }
            if self.arch == "film":
                return film
            latent = {
                "latent_channels": self.latent_channels,
                "map_channels": self.map_channels,
                "kl_weight": self.kl_weight,
                "prior_steps": self.prior_steps,
            }
            return {**film, **latent}
        raise PointdiffError(f"unknown arch {self.arch!r}; known: film, latent-map, reference")

    def validate(self) -> None:
        """Raise PointdiffError on settings that cannot work."""
        self.model_kwargs()
        checks = [
            (self.steps >= 1, "steps must be at least 1"),
            (self.clouds_per_step >= 1, "clouds_per_step must be at least 1"),
            (self.points_per_cloud >= 1, "points_per_cloud must be at least 1"),
            (self.noise_std > 0, "noise_std must be positive"),
            (self.pairing in PAIRINGS, f"pairing must be one of {', '.join(PAIRINGS)}"),
            (0 <= self.cond_dropout < 1, "cond_dropout must be in [0, 1)"),
            (self.schedule in ("cosine", "constant"), "schedule must be cosine or constant"),
            (0 <= self.ema_decay < 1, "ema_decay must be in [0, 1)"),
            (self.precision in PRECISIONS and self.sample_precision in PRECISIONS, f"precisions must be one of {', '.join(PRECISIONS)}"),
            (self.checkpoint_every >= 1, "checkpoint_every must be at least 1"),
        ]
        for ok, msg in checks:
            if not ok:
                raise PointdiffError(msg)

    def steps_for_epochs(self, epochs: int) -> int:
        """Steps that see as many training points as the reference's ``--epochs N``.

        The reference called its steps epochs: one step on one cloud of 1024 points. Counting
        points makes the unit mean the same amount of data in every recipe: N epochs =
        ceil(N × 1024 / (clouds_per_step × points_per_cloud)) steps (the seed recipe: N steps).
        """
        return max(1, math.ceil(epochs * REFERENCE_EPOCH_POINTS / (self.clouds_per_step * self.points_per_cloud)))

    def describe_epochs(self, epochs: int) -> str:
        """What ``--epochs N`` means for this recipe, in words (shown before training starts)."""
        steps = self.steps_for_epochs(epochs)
        return (
            f"--epochs {epochs} = the reference's {epochs} steps of one {REFERENCE_EPOCH_POINTS}-point cloud "
            f"({epochs * REFERENCE_EPOCH_POINTS:,} training points) = {steps} steps of {self.clouds_per_step} clouds × {self.points_per_cloud} points"
        )

    def sampling_defaults(self) -> dict[str, Any]:
        """The sampler this recipe's model prefers, as stored in ``meta.json`` (``sampling``)."""
        return {"solver": self.sample_solver, "steps": self.sample_steps, "guidance": self.sample_guidance, "noise_std": self.noise_std, "precision": self.sample_precision}

    def num_params(self, cond_dim: int) -> int:
        """Parameters of the model this recipe builds for ``cond_dim``-d text vectors.

        Built on the meta device: shapes only, no memory and no random numbers drawn.
        """
        import torch

        from pointdiff.flow.model import build_model

        with torch.device("meta"):
            return build_model(self.arch, cond_dim, **self.model_kwargs()).num_params()

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> "TrainConfig":
        """The recipe stored in a checkpoint's ``meta.json``."""
        return apply(cls(), meta["config"], "checkpoint meta.json")

    def resumed(self, overrides: dict[str, Any]) -> "TrainConfig":
        """This recipe continued with ``overrides``, which may only touch :data:`RESUMABLE` settings.

        Raises:
            PointdiffError: an override would change the recipe itself.
        """
        changed = sorted(set(overrides) - set(RESUMABLE))
        if changed:
            raise PointdiffError(f"a resumed run keeps its recipe; only --steps/--epochs, --checkpoint-every and --keep may change (got {', '.join(changed)})")
        return apply(self, overrides, "command-line flags")
