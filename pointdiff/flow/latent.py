"""A latent flow model: text -> a spatial latent per picture -> the picture's points.

Why. A per-point model draws p(point | text). When a prompt matches many pictures, that
density is their mixture — every eye and mouth superposed, a blur (``docs/recipes.md``,
``benchmarks/mixture_ceiling.py``). And even when the condition names exactly one picture,
one pooled vector steering a shared per-point MLP draws its interior strokes late: a learned
feature map per picture, read at each point, more than doubled how often the expression was
drawn right at equal steps (``benchmarks/drawing_ceiling.py --grid``). This model gives each
cloud both, in the way Stable Diffusion splits an image model (Rombach et al., 2022):

* an **autoencoder** learns the pictures. The encoder sees a raster of a cloud of the picture
  (``raster``: a ``res`` × ``res`` log-density), a small CNN gives a posterior
  N(μ, σ²) over a spatial latent z [``latent_channels`` × 8 × 8]; the decoder, a small CNN,
  turns z into a feature map [``map_channels`` × 32 × 32] that every point reads bilinearly
  at its position, and a vector (from z) that drives FiLM. The point network is the default
  :class:`~pointdiff.flow.model.FiLMResNet`, which now draws *one* picture: its points are
  i.i.d. given z, so a per-point model is exact;
* a **prior** — a flow on z conditioned on the text — learns which pictures a prompt means.
  At sampling it turns latent noise into a z (``prior_steps`` Euler steps of a small MLP on
  one vector per cloud, cheap beside the point network), and classifier-free guidance acts
  on it.

Training is one loop and one loss (:meth:`LatentMapFlow.forward` with ``picture``)::

    (μ, log σ²) = E(raster(picture cloud));  z = μ + σ·ε
    loss = ‖v(x_t, t | D(z)) − (x1 − x0)‖²               the points, as in the default
         + β · KL(N(μ, σ²) ‖ N(0, I)) / dim z            keeps z small and smooth (β: ``kl_weight``)
         + ‖u(z_s, s | text) − (μ̄ − z0)‖²               the prior's flow matching, on μ̄ = μ detached

The prior learns the encoder's current latents as they form; the encoder is not moved by it.

The latent noise of a cloud is drawn from its start noise (:func:`latent_noise`): a seeded
generator per cloud, so the same start noise gives the same picture on any device and in
any batch, and every caller of :func:`pointdiff.sample.sample` stays as it is.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pointdiff.flow.model import FiLMResNet, VelocityModel, _times, fourier_time, guided
from pointdiff.flow.solvers import Field

CANVAS = 3.0  # points live in [-3, 3]²
LATENT_RES = 8  # spatial size of z
MAP_RES = 32  # spatial size of the decoded feature map


def cell_index(points: Tensor, res: int) -> Tensor:
    """Row-major index [B, P] of each point's cell in a res × res grid over the canvas, row 0 at the top (y = +3)."""
    col = ((points[..., 0] + CANVAS) * (res / (2 * CANVAS))).floor().clamp(0, res - 1).long()
    row = ((CANVAS - points[..., 1]) * (res / (2 * CANVAS))).floor().clamp(0, res - 1).long()
    return row * res + col


def raster(points: Tensor, res: int) -> Tensor:
    """log(1 + density) of points [B, P, 2] on the canvas as an image [B, 1, res, res], row 0 at the top.

    The density is the fraction of the points in each cell times res², so a picture's raster
    does not depend on how many points were drawn from it (only its noise does).
    """
    b, p, _ = points.shape
    counts = torch.zeros(b, res * res, device=points.device).scatter_add_(1, cell_index(points, res), torch.ones(b, p, device=points.device))
    return torch.log1p(counts * (res * res / p)).view(b, 1, res, res)


def read_map(grid: Tensor, x: Tensor) -> Tensor:
    """Bilinear read of feature maps [B, C, R, R] at points [B, P, 2]: [B, P, C]."""
    at = torch.stack([x[..., 0], -x[..., 1]], dim=-1)[:, :, None, :] / CANVAS  # grid_sample: [-1, 1], rows top down
    return F.grid_sample(grid, at.to(grid.dtype), align_corners=False)[..., 0].transpose(1, 2)


def latent_noise(start: Tensor, dim: int) -> Tensor:
    """N(0, I) latent noise [B, dim], one seeded draw per cloud of start noise ``start`` [B, P, 2].

    Each cloud's seed is a hash of its start noise's bytes, so equal start noise gives equal
    latent noise whatever the batch or device, and different clouds independent draws.
    """
    rows = start.detach().float().cpu().reshape(len(start), -1).numpy()
    out = torch.empty(len(start), dim)
    for k, row in enumerate(rows):
        seed = int.from_bytes(hashlib.blake2b(row.tobytes(), digest_size=8).digest(), "little") >> 1
        out[k] = torch.randn(dim, generator=torch.Generator().manual_seed(seed))
    return out.to(start.device)


PREDICTS = ("velocity", "data")


class LatentPrior(nn.Module):
    """A flow on latents z given text: a residual MLP on the flattened latent with FiLM from text and time.

    On the straight path z_s = (1 − s)·z0 + s·z1 the network predicts either

    * ``predict="velocity"``: u ≈ z1 − z0, trained by ‖u − (z1 − z0)‖²; or
    * ``predict="data"``: ẑ1 ≈ E[z1 | z_s, text], trained by ‖ẑ1 − z1‖² (x-prediction, as in
      Li & He, "Back to Basics: Let Denoising Generative Models Denoise", 2025). The velocity
      the sampler follows is the one that reaches ẑ1 by s = 1, (ẑ1 − z_s) / (1 − s), so an
      Euler step from s never overshoots the guess and the last step lands on it.

    A picture's code lies on a thin set of the code space (a few hundred pictures in 256
    dimensions); a velocity must carry every coordinate of the noise there, and what it
    leaves behind in the faint directions is drawn as scattered points. A guess of the code
    itself falls back to the mean where unsure, so it leaves no noise behind
    (``docs/recipes.md``, "The prior predicts the code").
    """

    def __init__(self, latent_dim: int, cond_dim: int, hidden: int, blocks: int, predict: str = "velocity"):
        super().__init__()
        if predict not in PREDICTS:
            raise ValueError(f"predict must be one of {', '.join(PREDICTS)}, got {predict!r}")
        self.cond_dim, self.blocks, self.hidden, self.predict = cond_dim, blocks, hidden, predict
        self.inp = nn.Linear(latent_dim, hidden)
        self.cond_mlp = nn.Sequential(nn.Linear(cond_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.time_mlp = nn.Sequential(nn.Linear(64, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.film = nn.Linear(hidden, blocks * 2 * hidden)
        self.w1 = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(blocks))
        self.w2 = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(blocks))
        self.out = nn.Linear(hidden, latent_dim)
        for layer in (self.film, self.out):  # unmodulated blocks and u ≡ 0 at initialisation
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def context(self, cond: Tensor) -> Tensor:
        """The text's embedding (√D scaling: unit text vectors get unit-variance coordinates)."""
        return self.cond_mlp(cond * math.sqrt(self.cond_dim))

    def sample(self, cond: Tensor, noise: Tensor, steps: int, guidance: float = 1.0) -> Tensor:
        """Latents [B, D] from latent noise [B, D] under texts ``cond``: ``steps`` Euler steps, with guidance.

        Guidance combines the network's outputs; with ``predict="data"`` that is the same as
        combining velocities, since the velocity is affine in the guess at a given z and s.
        """
        ctx = self.context(cond)
        if guidance != 1.0:
            ctx = torch.cat([ctx, self.context(torch.zeros_like(cond))])
        z, h = noise, 1.0 / steps
        for k in range(steps):
            s = torch.full((len(z),), k * h, device=z.device, dtype=z.dtype)
            u = self(z, s, ctx) if guidance == 1.0 else guided(self, z, s, ctx, guidance)
            if self.predict == "data":  # the network's guess of the end point: the velocity that reaches it
                u = (u - z) / (1 - s[:, None])
            z = z + h * u.to(z.dtype)  # z stays in its own precision under autocast
        return z

    def loss(self, target: Tensor, z0: Tensor, n: Tensor, cond: Tensor) -> Tensor:
        """Flow-matching loss toward latents ``target`` [B, D] from noise ``z0`` [B, D]; ``n`` [B] standard normal gives the times.

        The squared error of the velocity (``predict="velocity"``) or of the guessed latent (``"data"``).
        """
        s = 0.5 * (1 + torch.erf(n / math.sqrt(2)))  # Φ(n): uniform on (0, 1)
        z_s = (1 - s[:, None]) * z0 + s[:, None] * target
        out = self(z_s, s, self.context(cond)).float()
        return F.mse_loss(out, target if self.predict == "data" else target - z0)

    def forward(self, z: Tensor, s: Tensor, ctx: Tensor) -> Tensor:
        e = F.silu(ctx + self.time_mlp(fourier_time(s, 64).to(ctx.dtype)))
        film = self.film(e).view(len(e), self.blocks, 2, self.hidden)
        h = self.inp(z)
        for k in range(self.blocks):
            u = torch.addcmul(film[:, k, 1], self.w1[k](h), 1 + film[:, k, 0])
            h = h + self.w2[k](F.silu(u))
        return self.out(F.silu(h))


class LatentMapFlow(VelocityModel):
    """Text -> prior flow -> spatial latent z -> feature map -> per-point flow (see the module docstring).

    ``cond_dim`` is the text vector's size; the rest size the parts. The point network is a
    :class:`FiLMResNet` whose "condition" is z's global embedding, not the text; ``film``
    are its keyword arguments (hidden, blocks, fourier_features, fourier_scale, embed_dim).
    """

    arch = "latent-map"

    def __init__(
        self,
        cond_dim: int,
        latent_channels: int = 4,
        map_channels: int = 16,
        raster_res: int = 32,
        raster_points: int = 1024,
        kl_weight: float = 1e-3,
        prior_hidden: int = 256,
        prior_blocks: int = 4,
        prior_steps: int = 32,
        **film: Any,
    ):
        super().__init__()
        if raster_res % LATENT_RES or raster_res < LATENT_RES * 4:
            raise ValueError(f"raster_res must be a multiple of {LATENT_RES} and at least {LATENT_RES * 4}, got {raster_res}")
        self.cond_dim = cond_dim
        self.latent_channels, self.map_channels = latent_channels, map_channels
        self.raster_res, self.raster_points, self.kl_weight = raster_res, raster_points, kl_weight
        self.prior_hidden, self.prior_blocks, self.prior_steps = prior_hidden, prior_blocks, prior_steps
        self.latent_dim = latent_channels * LATENT_RES * LATENT_RES
        self.points = FiLMResNet(self.latent_dim, **film)
        self.point_dim = self.points.point_dim  # colour points: the picture raster reads their (x, y)
        downs = int(math.log2(raster_res // LATENT_RES))
        # small convolutions: at full resolution they cost as much as the point network
        enc: list[nn.Module] = [nn.Conv2d(1, 16, 3, padding=1), nn.SiLU()]
        width = 16
        for _ in range(downs):  # halve the size until LATENT_RES, doubling the channels up to 64
            enc += [nn.Conv2d(width, min(64, 2 * width), 4, stride=2, padding=1), nn.SiLU()]
            width = min(64, 2 * width)
        enc.append(nn.Conv2d(width, 2 * latent_channels, 3, padding=1))
        self.encoder = nn.Sequential(*enc)
        self.decoder = nn.Sequential(
            nn.Conv2d(latent_channels, 64, 3, padding=1),
            nn.SiLU(),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(64, 32, 3, padding=1),
            nn.SiLU(),
            nn.Upsample(scale_factor=MAP_RES // (2 * LATENT_RES), mode="nearest"),
            nn.Conv2d(32, map_channels, 3, padding=1),
        )
        self.read = nn.Linear(map_channels, self.points.hidden)
        self.prior = LatentPrior(self.latent_dim, cond_dim, prior_hidden, prior_blocks)

    @property
    def picture_points(self) -> int:  # type: ignore[override]
        """Points of the picture the encoder's raster is drawn from in a training step."""
        return self.raster_points

    def arch_config(self) -> dict[str, Any]:
        return {
            **self.points.arch_config(),  # the point network's settings ...
            "cond_dim": self.cond_dim,  # ... but the text's size, not the latent's
            "latent_channels": self.latent_channels,
            "map_channels": self.map_channels,
            "raster_res": self.raster_res,
            "raster_points": self.raster_points,
            "kl_weight": self.kl_weight,
            "prior_hidden": self.prior_hidden,
            "prior_blocks": self.prior_blocks,
            "prior_steps": self.prior_steps,
        }

    # --- the autoencoder ---
    def encode(self, picture: Tensor) -> tuple[Tensor, Tensor]:
        """(μ, log σ²) [B, latent_dim] of q(z | a cloud [B, N, 2] of the picture)."""
        out = self.encoder(raster(picture.float(), self.raster_res)).flatten(1).float()
        mu, logvar = out.view(len(out), 2, -1).unbind(1)
        return mu, logvar.clamp(-10.0, 4.0)

    def decode(self, z: Tensor) -> Tensor:
        """The per-cloud context of latents z [B, latent_dim]: FiLM embedding and feature map, flattened."""
        grid = self.decoder(z.view(len(z), self.latent_channels, LATENT_RES, LATENT_RES).to(self.read.weight.dtype))
        return torch.cat([self.points.cond_mlp(z), grid.flatten(1).to(z.dtype)], dim=1)  # z ~ N(0, I): no √D scaling

    def condition(self, cond: Tensor) -> Tensor:
        raise TypeError("a latent-map model's context comes from a latent: use field(cond, start=...) or decode(z)")

    def velocity(self, x: Tensor, t: Tensor, ctx: Tensor) -> Tensor:
        e = self.points.embed_dim
        grid = ctx[:, e:].reshape(len(ctx), self.map_channels, MAP_RES, MAP_RES)
        return self.points.velocity(x, t, ctx[:, :e], point_input=self.read(read_map(grid, x).to(x.dtype)))

    # --- the prior ---
    def sample_latent(self, cond: Tensor, noise: Tensor, guidance: float = 1.0) -> Tensor:
        """z [B, latent_dim] from latent noise [B, latent_dim] under texts ``cond``: Euler on the prior's flow."""
        return self.prior.sample(cond, noise, self.prior_steps, guidance)

    def field(self, cond: Tensor, guidance: float = 1.0, start: Tensor | None = None) -> Field:
        """The point flow of the pictures the prior draws for ``cond`` from the clouds' ``start`` noise.

        Guidance acts on the prior (which picture a prompt means); the point flow, given z,
        is the same for every prompt.
        """
        if start is None:
            raise ValueError("a latent-map model draws its latent from the clouds' start noise: pass start")
        # fp32 even under autocast: one vector per cloud, where bf16's casts cost more than they save (28 vs 13 ms here)
        with torch.autocast(start.device.type, enabled=False):
            z = self.sample_latent(cond.float(), latent_noise(start, self.latent_dim), guidance)
        return self.latent_field(z)

    def latent_field(self, z: Tensor) -> Field:
        """The point flow of the pictures of latents z [B, latent_dim] (decoded once, for every solver step)."""
        ctx = self.decode(z)
        return lambda x, t: self.velocity(x, _times(t, x), ctx)

    # --- training: one forward for the point flow, the KL and the prior ---
    @property
    def train_noise(self) -> int:
        """Standard-normal numbers a training step needs per cloud: ε, the prior's z0 and its time."""
        return 2 * self.latent_dim + 1

    def forward(self, x: Tensor, t: Tensor, cond: Tensor, picture: Tensor | None = None, noise: Tensor | None = None) -> Any:
        """Training: (v [B, P, 2] for the posterior z of ``picture`` [B, N, 2], the extra loss: β·KL + prior loss).

        ``noise`` [B, :attr:`train_noise`] is standard normal, drawn by the trainer with the
        batch (so a run is the same on any device and for any number of processes).
        """
        if picture is None or noise is None:
            raise TypeError("a latent-map model trains on (x, t, cond, picture=..., noise=...); draw with field(cond, start=...)")
        mu, logvar = self.encode(picture)
        d = self.latent_dim
        noise = noise.float()
        eps, z0 = noise[:, :d], noise[:, d : 2 * d]
        z = mu + (0.5 * logvar).exp() * eps
        kl = 0.5 * (mu.square() + logvar.exp() - 1 - logvar).mean()
        prior_loss = self.prior.loss(mu.detach(), z0, noise[:, 2 * d], cond)
        v = self.velocity(x, t, self.decode(z))
        return v, self.kl_weight * kl + prior_loss
