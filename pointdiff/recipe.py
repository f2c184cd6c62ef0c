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
from pointdiff.flow.latent import PREDICTS
from pointdiff.flow.path import PAIRINGS

# What a resumed run may change: how long it trains and how it keeps checkpoints. Anything
# else would make the continuation a different run than the one its checkpoints describe.
RESUMABLE = ("steps", "checkpoint_every", "keep_checkpoints")
# The reference's "epoch" was one optimizer step on one cloud of 1024 points.
REFERENCE_EPOCH_POINTS = 1024
# The density model learns from one code per caption, not from points, so points seen cannot
# measure it. There an epoch is a share of a whole run: the reference's full run (20000 epochs)
# is the density recipe's full schedule (8000 steps).
REFERENCE_RUN_EPOCHS, DENSITY_RUN_STEPS = 20000, 8000


@dataclass
class TrainConfig:
    """Everything that defines a training run.

    The defaults are our recipe, chosen by measurement (``benchmarks/flow_recipe.py``);
    ``configs/train-seed.yaml`` is the reference's recipe exactly.
    """

    # --- model ---
    # density: a flow on principal-component codes of each picture's ink density, points carried
    # there by transport (flow/density.py). Against the film recipe (preset `film`), one session,
    # eval's 70 prompts, faces' expression: own captions 83 vs 40 %, canonical 86 vs 30, held-out
    # paraphrases 46 vs 29 (orientation 77 vs 67); glyphs' character, own captions 72 vs 61 %;
    # 130 vs 366 s of training (README, Recipes).
    # film: Fourier features + FiLM residual blocks per point; reference: the plain MLP on [x, y, t, c];
    # latent-map: a learned autoencoder and prior (preset `latent`)
    arch: str = "density"
    # width per point (density: of the prior); 256 with Fourier features beat the reference's 512
    # at equal steps. Density prior 512: own captions' expression 85 vs 79 %, held-out
    # paraphrases' 46 vs 57 (it memorises), 2x the time
    hidden: int = 256
    depth: int = 4  # film: residual blocks (2 Linear each); density: the prior's blocks; reference: Linear layers (6)
    fourier_features: int = 64  # film: sin/cos pairs of random projections of (x, y): thin strokes need high frequencies
    fourier_scale: float = 1.0  # film: std of the projections' frequencies (cycles per unit; canvas 6 units); 2 was worse
    embed_dim: int = 256  # film: size of the text and time embeddings that drive FiLM
    latent_channels: int = 4  # latent-map: channels of the 8 × 8 latent per picture
    map_channels: int = 16  # latent-map: channels of the 32 × 32 feature map every point reads
    kl_weight: float = 1e-3  # latent-map: β of the latent's KL (per dimension) beside the flow loss
    # latent-map, density: Euler steps of the text -> latent flow at sampling (one small MLP call per
    # cloud each, conditional and null rows batched). Density, the code-predicting prior, mean of seeds
    # 0 and 1, 210 prompts: 8 steps drew as 32 did (own captions' expression 85 vs 86 %, held-out
    # paraphrases 73 / 56 vs 71 / 55); 4 steps: own 86 %, paraphrases' expression 53. `latent` keeps 32
    prior_steps: int = 8
    # density: cells per side of the ink-density grid the codes describe (4 × 4 pixels of a 256-pixel
    # picture); 128 components of 64² read the faces' expressions 75 % of the time, of 32² 74-77 %
    density_res: int = 64
    # density: principal components per code, and how each is scaled (codes divided by std^whiten).
    # Faces, 210 prompts per kind, mean of seeds 0 and 1, expression: 256 unwhitened (whiten 0) against
    # 128 whitened: held-out paraphrases 52 vs 44 % (orientation 76 vs 69), canonical 80 vs 74, own
    # captions 76 vs 77; at seed 0 (70 prompts) 256 whitened by std^0.5 drew 67 % of its own
    # captions' expressions, 512 unwhitened 63 %, 256 whitened fully 46 % (a prototype). Whitening
    # makes a faint direction cost the prior's loss as much as the head's outline; unwhitened,
    # code error = √density error.
    components: int = 256
    density_whiten: float = 0.0
    # density: taken off each decoded √density cell (mean density 1) against background haze. Faces'
    # expressions read off 200 reconstructions (128 components): 0.2: 76.0 %, 0: 75.5, 0.3: 74.0, 0.5: 71.5
    density_floor: float = 0.2
    # density: what the prior's network predicts, the code itself (data) or the velocity toward it.
    # Faces, 210 prompts per kind, mean of seeds 0 and 1, 32 prior steps each, data vs velocity:
    # own captions' expression 86 vs 76 % (real faces 86), 1-NNA 72 vs 79 %, canonical 82 vs 80,
    # held-out paraphrases 71 / 55 vs 76 / 52 (orientation / expression). A velocity leaves noise
    # in the faint components, drawn as scattered points; a guess of the code does not
    # (docs/recipes.md). Preset `density-velocity` keeps the velocity prior
    prior_predict: str = "data"
    # --- data ---
    # Captions per step. Density: 256 (a code per caption, cheap); film: at equal points per step,
    # 64x64 beat 16x256 and 4x1024 (Chamfer), preset `film` keeps 64
    clouds_per_step: int = 256
    points_per_cloud: int = 64  # fresh points per cloud per step (the reference: 1024 of one cloud)
    jitter: bool = False  # spread each point uniformly over its pixel (dequantisation); measured neutral
    # --- path ---
    noise_std: float = 2.0  # σ of x0 ~ N(0, σ²I); the reference's 2 covers [-3, 3]; sampling uses the same σ
    pairing: str = "chunked"  # noise-to-point pairing within a cloud: none | exact | chunked (OT, straighter paths)
    pairing_chunk: int = 16  # chunked: Hungarian on cells of this many points (16: as good as 64 here, 3x cheaper)
    cond_dropout: float = 0.1  # probability of training on the null (zero) condition, enables --guidance
    # σ of Gaussian noise added to each text vector (norm ≈ σ, then renormalised), so that nearby
    # wordings mean the same. Density, held-out paraphrases, orientation / expression (guidance 2):
    # 0.5: 77 / 41 %, 1.0: 71 / 50 %, none: 67 / 33 %; own captions 77-81 % expression for all three.
    # With 256 unwhitened components (210 prompts): 0.5: 76 / 57 %, 1.0: 69 / 54 %
    cond_noise: float = 0.5
    # --- optimisation ---
    # Optimizer steps. Density: 130 s on 2 CPU cores (62 steps/s), `short` trains 3000; 16000 steps drew
    # no better (paraphrases' expression 50 vs 57 %, own 77 vs 79). Film: 366 s (22 steps/s); 8000 vs
    # 3000 steps: own captions' expression 40 vs 23 %, held-out paraphrases' 29 vs 16 %, 1-NNA 67 vs 78 %.
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
    # Classifier-free guidance scale (1 = off). Density: 2 on its prior, canonical prompts' expression
    # 80 vs 71 % at 1, paraphrases' 33 vs 21 %; film: 1.5 and 2 scored worse (preset `film` keeps 1).
    # 256 unwhitened codes, 210 prompts, expression own / canonical / paraphrases: 2: 79 / 84 / 57 %,
    # 1.5: 75 / 79 / 49, 3: 74 / 89 / 54
    sample_guidance: float = 2.0
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
        if self.arch == "density":  # hidden and depth size the prior, the one network it trains
            return {
                "res": self.density_res,
                "components": self.components,
                "prior_hidden": self.hidden,
                "prior_blocks": self.depth,
                "prior_steps": self.prior_steps,
                "noise_std": self.noise_std,
                "floor": self.density_floor,
                "whiten": self.density_whiten,
                "predict": self.prior_predict,
            }
        raise PointdiffError(f"unknown arch {self.arch!r}; known: density, film, latent-map, reference")

    def validate(self) -> None:
        """Raise PointdiffError on settings that cannot work."""
        self.model_kwargs()
        checks = [
            (self.steps >= 1, "steps must be at least 1"),
            (self.clouds_per_step >= 1, "clouds_per_step must be at least 1"),
            (self.points_per_cloud >= 1, "points_per_cloud must be at least 1"),
            (self.noise_std > 0, "noise_std must be positive"),
            (self.pairing in PAIRINGS, f"pairing must be one of {', '.join(PAIRINGS)}"),
            (self.prior_predict in PREDICTS, f"prior_predict must be one of {', '.join(PREDICTS)}"),
            (self.prior_steps >= 1, "prior_steps must be at least 1"),
            (0 <= self.cond_dropout < 1, "cond_dropout must be in [0, 1)"),
            (self.cond_noise >= 0, "cond_noise must be at least 0"),
            (self.schedule in ("cosine", "constant"), "schedule must be cosine or constant"),
            (0 <= self.ema_decay < 1, "ema_decay must be in [0, 1)"),
            (self.precision in PRECISIONS and self.sample_precision in PRECISIONS, f"precisions must be one of {', '.join(PRECISIONS)}"),
            (self.checkpoint_every >= 1, "checkpoint_every must be at least 1"),
        ]
        for ok, msg in checks:
            if not ok:
                raise PointdiffError(msg)

    def steps_for_epochs(self, epochs: int) -> int:
        """Steps that see as many training points as the reference's ``--epochs N`` (density: the same share of a full run).

        The reference called its steps epochs: one step on one cloud of 1024 points. Counting
        points makes the unit mean the same amount of data in every point-flow recipe: N epochs =
        ceil(N × 1024 / (clouds_per_step × points_per_cloud)) steps (the seed recipe: N steps).
        The density model sees codes, not points: N epochs = ceil(N × 8000 / 20000) steps, so that
        the reference's full run is its full run.
        """
        if self.arch == "density":
            return max(1, math.ceil(epochs * DENSITY_RUN_STEPS / REFERENCE_RUN_EPOCHS))
        return max(1, math.ceil(epochs * REFERENCE_EPOCH_POINTS / (self.clouds_per_step * self.points_per_cloud)))

    def describe_epochs(self, epochs: int) -> str:
        """What ``--epochs N`` means for this recipe, in words (shown before training starts)."""
        steps = self.steps_for_epochs(epochs)
        if self.arch == "density":
            return (
                f"--epochs {epochs} = {epochs / REFERENCE_RUN_EPOCHS:.3g} of the reference's full {REFERENCE_RUN_EPOCHS}-epoch run = "
                f"{steps} steps of {self.clouds_per_step} captions' codes (this recipe's full run is {DENSITY_RUN_STEPS} steps; "
                "it learns codes of whole pictures, not points, so points seen do not measure it)"
            )
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
        # A run saved before a setting existed trained without it: not with today's default.
        before = {"cond_noise": 0.0, "prior_predict": "velocity"}
        return apply(cls(), {**before, **meta["config"]}, "checkpoint meta.json")

    def resumed(self, overrides: dict[str, Any]) -> "TrainConfig":
        """This recipe continued with ``overrides``, which may only touch :data:`RESUMABLE` settings.

        Raises:
            PointdiffError: an override would change the recipe itself.
        """
        changed = sorted(set(overrides) - set(RESUMABLE))
        if changed:
            raise PointdiffError(f"a resumed run keeps its recipe; only --steps/--epochs, --checkpoint-every and --keep may change (got {', '.join(changed)})")
        return apply(self, overrides, "command-line flags")
