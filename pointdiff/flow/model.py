"""Velocity networks v(x, t, c) for conditional flow matching on point clouds.

Every model follows one protocol (as in facebookresearch/flow_matching, conditioning
travels beside x and t)::

    model(x [B, P, d], t [B], cond [B, D]) -> v [B, P, d]

with d = ``point_dim``: 2 for (x, y), 5 for colour points (x, y, r, g, b). One t and one condition per cloud; the P points of a cloud are i.i.d., so the network is
applied to each point independently (a per-point MLP learns p(point | text)).

A model splits its work in two so that samplers pay for the per-cloud part once:

* ``condition(cond) -> ctx [B, C]``: everything that depends on the text alone;
* ``velocity(x, t, ctx) -> v``: the per-point work.

The null condition of classifier-free guidance is the all-zero vector (real conditions
are unit vectors, so zero is never a real caption). A model whose conditioning goes through
a Linear layer maps it to that layer's bias, which is learned: a learned null embedding
for free. Guidance is implemented once, in :func:`guided` (used by :meth:`VelocityModel.field`
and by the latent model's prior).

Example:
    >>> model = build_model("film", cond_dim=8)
    >>> v = model(torch.randn(3, 100, 2), torch.rand(3), torch.randn(3, 8))
    >>> v.shape
    torch.Size([3, 100, 2])
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pointdiff.flow.solvers import Field


class VelocityModel(nn.Module):
    """Base class: ``forward = velocity(x, t, condition(cond))`` plus guidance."""

    arch: str = ""  # registry name, stored in checkpoints
    point_dim: int = 2  # values per point: 2 (x, y), 5 with colour (x, y, r, g, b)
    # Points of the training picture a step shows the model besides x_t (an encoder's input);
    # 0: none. A model with an encoder is called as model(x_t, t, cond, picture=…, noise=…)
    # with ``train_noise`` standard-normal numbers per cloud, and returns (v, its extra loss).
    picture_points: int = 0
    train_noise: int = 0
    # A model that learns a code per picture instead of a point flow (the density model): the
    # trainer calls ``fit(sampler)`` before the first step, then model(None, None, cond,
    # picture=<picture indices>, noise=…), which returns (None, its loss).
    learns_codes: bool = False

    def condition(self, cond: Tensor) -> Tensor:  # pragma: no cover - abstract
        """Per-cloud context [B, C] computed from the text vector alone."""
        raise NotImplementedError

    def velocity(self, x: Tensor, t: Tensor, ctx: Tensor) -> Tensor:  # pragma: no cover - abstract
        """Per-point velocity [B, P, d] at times ``t`` [B] given the context."""
        raise NotImplementedError

    def arch_config(self) -> dict[str, Any]:  # pragma: no cover - abstract
        """Keyword arguments that rebuild this model with :func:`build_model`."""
        raise NotImplementedError

    def forward(self, x: Tensor, t: Tensor, cond: Tensor) -> Tensor:
        return self.velocity(x, t, self.condition(cond))

    def field(self, cond: Tensor, guidance: float = 1.0, start: Tensor | None = None) -> Field:
        """The ODE right-hand side ``f(x, t)`` for fixed conditions, with guidance.

        The per-cloud context is computed here once and reused at every solver step.
        With ``guidance`` = s != 1 (classifier-free guidance)::

            v = v(x, t, ∅) + s · (v(x, t, c) − v(x, t, ∅))

        where ∅ is the all-zero condition; s = 1 is exactly the conditional field, s = 0 the
        unconditional one. Cond and uncond run as one batch of 2B clouds. ``start`` [B, P, d]
        is the clouds' start noise; only a model that draws a per-cloud latent reads it.
        """
        ctx = self.condition(cond)
        if guidance == 1.0:
            return lambda x, t: self.velocity(x, _times(t, x), ctx)
        both = torch.cat([ctx, self.condition(torch.zeros_like(cond))])
        return lambda x, t: guided(self.velocity, x, _times(t, x), both, guidance)

    def num_params(self) -> int:
        """Trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


def guided(fn: Callable[[Tensor, Tensor, Tensor], Tensor], x: Tensor, t: Tensor, both: Tensor, guidance: float) -> Tensor:
    """Classifier-free guidance of ``fn(x, t, ctx)``: ``both`` stacks the conditional and the null
    contexts [2B, C], run as one batch of 2B, then combined as uncond + s·(cond − uncond)."""
    out_cond, out_uncond = fn(torch.cat([x, x]), t.repeat(2), both).chunk(2)
    return out_uncond + guidance * (out_cond - out_uncond)


def _times(t: float | Tensor, x: Tensor) -> Tensor:
    """A scalar or [B] time as a [B] tensor on ``x``'s device."""
    t = torch.as_tensor(t, dtype=torch.float32, device=x.device)
    return t.expand(x.shape[0]) if t.ndim == 0 else t


class ReferenceMLP(VelocityModel):
    """The reference recipe: an MLP on [x, y, t, c], ReLU, ``layers`` Linear layers.

    With hidden 512 and 6 layers: (3 + D)·512 + 512 + 4·(512·512 + 512) + 512·2 + 2
    parameters, 1,250,306 for D = 384 and 1,315,842 for D = 512. Colour points (``point_dim``
    5) put r, g, b after x, y in the input and the output: [x, y, r, g, b, t, c].

    Speed-up, mathematically identical: the first layer's text columns are applied once
    per cloud (``condition``) instead of once per point, since W·[x, y, t, c] =
    W_xyt·[x, y, t] + W_c·c. The weights keep the reference's layout (``net.0`` is one
    Linear of 3 + D inputs in that order).
    """

    arch = "reference"

    def __init__(self, cond_dim: int, hidden: int = 512, layers: int = 6, point_dim: int = 2):
        super().__init__()
        if layers < 2:
            raise ValueError("the reference MLP needs at least 2 layers")
        self.cond_dim, self.hidden, self.layers, self.point_dim = cond_dim, hidden, layers, _point_dim(point_dim)
        dims = [point_dim + 1 + cond_dim] + [hidden] * (layers - 1) + [point_dim]
        mods: list[nn.Module] = []
        for k in range(layers):
            mods.append(nn.Linear(dims[k], dims[k + 1]))
            if k < layers - 1:
                mods.append(nn.ReLU())
        self.net = nn.Sequential(*mods)

    def arch_config(self) -> dict[str, Any]:
        return {"cond_dim": self.cond_dim, "hidden": self.hidden, "layers": self.layers, **_dim_config(self.point_dim)}

    def condition(self, cond: Tensor) -> Tensor:
        first: nn.Linear = self.net[0]  # type: ignore[assignment]
        return F.linear(cond, first.weight[:, self.point_dim + 1 :], first.bias)

    def velocity(self, x: Tensor, t: Tensor, ctx: Tensor) -> Tensor:
        first: nn.Linear = self.net[0]  # type: ignore[assignment]
        xt = torch.cat([x, t[:, None, None].to(x.dtype).expand(*x.shape[:2], 1)], dim=-1)
        h = F.linear(xt, first.weight[:, : self.point_dim + 1]) + ctx[:, None, :]
        return self.net[1:](h)


def fourier_time(t: Tensor, dim: int, max_period: float = 1000.0) -> Tensor:
    """Sinusoidal features of t ∈ [0, 1] (transformer-style, t scaled by 1000): [B, dim]."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    arg = (t.float() * 1000.0)[:, None] * freqs[None]
    return torch.cat([arg.cos(), arg.sin()], dim=-1)


class FiLMResNet(VelocityModel):
    """Our default: Fourier features of (x, y), residual blocks, t and text in every block.

    Per point: φ(p) = [p, sin(2π pB), cos(2π pB)] with a fixed Gaussian B [2, F] of scale
    ``fourier_scale`` (high frequencies let a small MLP draw thin strokes), then
    ``h = W_in φ(p)`` and ``blocks`` residual blocks::

        h ← h + W₂ σ( (W₁ h) ⊙ (1 + γ_k) + β_k )

    where (γ_k, β_k) = A_k σ(e_c + e_t) are per-cloud FiLM parameters from the text
    embedding e_c = MLP(√D · c) and the time embedding e_t = MLP(sinusoid(t)). Scaling the
    unit text vector by √D gives its coordinates unit variance, which a Linear's default
    initialisation expects. The output layer starts at zero (v ≡ 0 at initialisation).

    Colour points (``point_dim`` 5): the Fourier features are of (x, y) only, the colour
    values enter beside them as they are, and the output has a velocity for each of the five.
    """

    arch = "film"

    def __init__(
        self,
        cond_dim: int,
        hidden: int = 256,
        blocks: int = 4,
        fourier_features: int = 64,
        fourier_scale: float = 1.0,
        embed_dim: int = 256,
        point_dim: int = 2,
    ):
        super().__init__()
        self.cond_dim, self.hidden, self.blocks, self.point_dim = cond_dim, hidden, blocks, _point_dim(point_dim)
        self.fourier_features, self.fourier_scale, self.embed_dim = fourier_features, fourier_scale, embed_dim
        g = torch.Generator().manual_seed(0)  # fixed: part of the architecture, saved with the weights
        self.register_buffer("freqs", torch.randn(2, fourier_features, generator=g) * fourier_scale)
        self.inp = nn.Linear(point_dim + 2 * fourier_features, hidden)
        self.cond_mlp = nn.Sequential(nn.Linear(cond_dim, embed_dim), nn.SiLU(), nn.Linear(embed_dim, embed_dim))
        self.time_mlp = nn.Sequential(nn.Linear(64, embed_dim), nn.SiLU(), nn.Linear(embed_dim, embed_dim))
        self.film = nn.Linear(embed_dim, blocks * 2 * hidden)
        self.w1 = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(blocks))
        self.w2 = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(blocks))
        self.out = nn.Linear(hidden, point_dim)
        nn.init.zeros_(self.film.weight)  # blocks start unmodulated: γ = β = 0
        nn.init.zeros_(self.film.bias)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def arch_config(self) -> dict[str, Any]:
        return {
            "cond_dim": self.cond_dim,
            "hidden": self.hidden,
            "blocks": self.blocks,
            "fourier_features": self.fourier_features,
            "fourier_scale": self.fourier_scale,
            "embed_dim": self.embed_dim,
            **_dim_config(self.point_dim),
        }

    def condition(self, cond: Tensor) -> Tensor:
        return self.cond_mlp(cond * math.sqrt(self.cond_dim))

    def velocity(self, x: Tensor, t: Tensor, ctx: Tensor, point_input: Tensor | None = None) -> Tensor:
        """Per-point velocity; ``point_input`` [B, P, hidden] (optional) is added to each point's first layer."""
        e = F.silu(ctx + self.time_mlp(fourier_time(t, 64).to(ctx.dtype)))
        film = self.film(e).view(len(e), self.blocks, 2, 1, self.hidden)  # [B, k, (γ, β), 1, H]
        # elementwise, not a matmul: autocast would round x to bf16 and scramble high-frequency phases
        f = self.freqs.to(x.dtype)
        proj = (2 * math.pi) * (x[..., :1] * f[0] + x[..., 1:2] * f[1])
        h = self.inp(torch.cat([x, proj.sin(), proj.cos()], dim=-1))
        if point_input is not None:
            h = h + point_input
        for k in range(self.blocks):
            u = self.w1[k](h)
            u = torch.addcmul(film[:, k, 1], u, 1 + film[:, k, 0])
            h = h + self.w2[k](F.silu(u))
        return self.out(F.silu(h))


def _point_dim(d: int) -> int:
    if d not in (2, 5):
        raise ValueError(f"point_dim must be 2 (x, y) or 5 (x, y, r, g, b), got {d}")
    return d


def _dim_config(point_dim: int) -> dict[str, int]:
    """``point_dim`` for :meth:`VelocityModel.arch_config`, left out at 2 so grey checkpoints read as before."""
    return {} if point_dim == 2 else {"point_dim": point_dim}


def architectures() -> dict[str, type[VelocityModel]]:
    """The registry: checkpoint ``arch`` name -> model class."""
    from pointdiff.flow.density import DensityFlow  # built from this module's classes
    from pointdiff.flow.latent import LatentMapFlow

    return {"reference": ReferenceMLP, "film": FiLMResNet, LatentMapFlow.arch: LatentMapFlow, DensityFlow.arch: DensityFlow}


def build_model(arch: str, cond_dim: int, **kwargs: Any) -> VelocityModel:
    """A model by registry name (``reference``, ``film``, ``latent-map`` or ``density``) and its keyword arguments."""
    known = architectures()
    if arch not in known:
        raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(known)}")
    return known[arch](cond_dim=cond_dim, **kwargs)
