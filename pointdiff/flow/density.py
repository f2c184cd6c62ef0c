"""A flow on picture codes: text -> the code of a picture's ink density -> its points.

Why. A per-point model draws p(point | text): for a prompt that matches many pictures that
is their mixture, every eye and mouth superposed (``benchmarks/mixture_ceiling.py``), and
even for one picture a per-point network learns the thin interior strokes last
(``docs/recipes.md``). The learned autoencoder of the latent-map model fixed the mixture
but, in the time two CPU cores give, not the blur: its reconstructions read the right
expression for ~44 % of faces where real clouds read 83 %. A *linear* autoencoder needs no
training and keeps the strokes: the principal components of the pictures' ink densities.
On the built-in faces, 128 components of a 64 × 64 √density read 75 % (256: 85 %). So this
model splits the work the way Stable Diffusion does, with the autoencoder solved in closed
form:

* **codes** (:class:`DensityBasis`, fitted once before training, :meth:`DensityFlow.fit`):
  every picture's ink density on a ``res`` × ``res`` grid, square-rooted (so faint strokes
  weigh more beside the head's outline), projected on its first ``components`` principal
  directions; the recipe divides all codes by one number (``whiten`` 0), so that the prior's
  error on a code is its error on the √density, and a faint direction does not cost as much
  as the head's outline (``whiten`` 1, unit variance per direction, drew worse);
* **prior**: a flow-matching network (:class:`~pointdiff.flow.latent.LatentPrior`) learns
  p(code | text) by conditional flow matching — the one thing that is trained. The recipe's
  network predicts the code itself rather than the velocity toward it (``predict="data"``):
  a velocity left noise in the faint components, drawn as scattered points. Since a
  sample is one picture's code, the points of a cloud agree on one picture: no mixture.
  Classifier-free guidance acts here;
* **points**: the code decodes to a density (basis, less a small floor, clipped at 0 and
  squared), and each start-noise point is carried to it by the density's Knothe–Rosenblatt
  map (:func:`transport`): the point's x goes to the same quantile of the density's column
  marginal, then its y to the same quantile within its column. It is a deterministic,
  monotone transport of N(0, σ²I) onto the density, so a point's path from its noise is a
  straight line at constant velocity and every ODE solver lands on the map exactly.

Training is flow matching on one vector per caption: ``loss = ‖ẑ1(z_s, s | text) − z1‖²``
(``predict="data"``) or ``‖u(z_s, s | text) − (z1 − z0)‖²`` (``"velocity"``), ``z1`` the
caption's picture's code. The trainer calls :meth:`DensityFlow.fit` before the
first step and :meth:`DensityFlow.forward` with the pictures' indices in place of points.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor, nn

from pointdiff.data.rows import DiskRows
from pointdiff.flow.latent import CANVAS, LatentPrior, latent_noise
from pointdiff.flow.model import VelocityModel
from pointdiff.flow.solvers import Field
from pointdiff.progress import ProgressFn, report

_FIT_CHUNK = 256  # pictures rasterised at a time while fitting (their points are in memory together)


def density_grid(points: Tensor, res: int) -> Tensor:
    """The share of ``points`` [N, 2] in each cell of a ``res`` × ``res`` grid over the canvas, times res²: [res²].

    Row-major, row 0 at the top (y = +3), mean 1 per cell: a picture's grid does not depend on
    how many points it has. Each point is split bilinearly between the four cells around it
    (as the scorer's raster does): smoother grids are coded better by a few components — 128
    components read the faces' expressions 75.5 % of the time against 73.5 % for whole cells.
    """
    # continuous cell coordinates, cell centres at integers 0 .. res - 1
    u = ((points[:, 0] + CANVAS) / (2 * CANVAS) * res - 0.5).clamp(0, res - 1)
    v = ((CANVAS - points[:, 1]) / (2 * CANVAS) * res - 0.5).clamp(0, res - 1)
    u0, v0 = u.floor().clamp_max(res - 2), v.floor().clamp_max(res - 2)  # the last centre: all weight on the right/lower cell
    fu, fv = (u - u0).double(), (v - v0).double()
    u0, v0 = u0.long(), v0.long()
    grid = torch.zeros(res * res, dtype=torch.float64)
    for du, wu in ((0, 1 - fu), (1, fu)):
        for dv, wv in ((0, 1 - fv), (1, fv)):
            grid.index_add_(0, (v0 + dv) * res + u0 + du, wu * wv)
    return (grid * (res * res / max(1, len(points)))).float()


class DensityBasis(nn.Module):
    """Principal directions of √density grids: codes [k] <-> densities [res²].

    ``mean`` [res²], ``directions`` [k, res²] (orthonormal rows) and ``scale`` [k] are
    buffers: saved with the model's weights, set by :meth:`fit`. ``whiten`` sets the scale:
    1 divides each code by its standard deviation over the fitted pictures (unit variance
    each); 0 divides all by one number (code distances = √density distances); in between,
    std^whiten. Codes' mean variance is 1 whatever ``whiten`` is.
    """

    def __init__(self, res: int, components: int, whiten: float = 1.0):
        super().__init__()
        self.res, self.components, self.whiten = res, components, whiten
        self.register_buffer("mean", torch.zeros(res * res))
        self.register_buffer("directions", torch.zeros(components, res * res))
        self.register_buffer("scale", torch.ones(components))

    @torch.no_grad()
    def fit(self, grids: Tensor) -> None:
        """Fit to density grids [N, res²] of N ≥ 2 pictures (deterministic: an SVD, no random numbers).

        Directions beyond the grids' rank (fewer pictures than components) stay zero, with scale 1.
        """
        if len(grids) < 2:
            raise ValueError("fitting a density basis needs at least 2 pictures")
        x = grids.to(torch.float64, copy=True).clamp_min_(0).sqrt_()  # in place on the copy: 2048 pictures' grids are 64 MB
        mean = x.mean(0)
        x -= mean
        s, vh = _principal_directions(x, self.components)
        k = min(self.components, int((s > 1e-6 * s[0]).sum()))  # directions with no variation stay zero
        # An SVD's directions are defined up to sign: fix it (largest entry positive) so that any
        # LAPACK gives the same codes.
        vh = vh[:k] * torch.sign(vh[:k].gather(1, vh[:k].abs().argmax(1, keepdim=True)))
        self.mean.copy_(mean.float())
        self.directions.zero_()
        self.directions[:k] = vh.float()
        std = s[:k] / math.sqrt(len(x) - 1)
        rest = std ** (1 - self.whiten)  # each code's standard deviation after dividing by std^whiten
        self.scale.fill_(1.0)
        self.scale[:k] = (std**self.whiten * rest.square().mean().sqrt()).float()

    def encode(self, grids: Tensor) -> Tensor:
        """Codes [B, k] of density grids [B, res²]."""
        return ((grids.clamp_min(0).sqrt() - self.mean) @ self.directions.T) / self.scale

    def decode(self, codes: Tensor, floor: float = 0.0) -> Tensor:
        """Density grids [B, res²] (≥ 0; not normalised) of codes [B, k].

        ``floor`` is taken off every cell's √density first: a truncated basis leaves a faint
        haze over the background, which would otherwise draw scattered points.
        """
        return ((codes * self.scale) @ self.directions + self.mean - floor).clamp_min(0).square()


def _principal_directions(x: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Singular values [min(n, d)] (descending) and the first ``k`` right singular vectors [≤ k, d] of centred rows ``x`` [n, d].

    From the eigenvectors of the smaller of x xᵀ and xᵀx rather than an SVD of x: the same
    directions to float32 precision without LAPACK's SVD workspace (fitting 2048 pictures of
    64 × 64 cells peaked 400 MB above their grids; this, 200 MB).
    """
    n, d = x.shape
    if n <= d:  # pictures' Gram matrix: v = xᵀu / s
        lam, u = torch.linalg.eigh(x @ x.T)  # ascending
        s = lam.flip(0).clamp_min(0).sqrt()
        top = u[:, max(0, n - k) :].flip(1)  # the last k columns only: flipping all would copy n × n
        vh = (top.T @ x) / s[: top.shape[1], None].clamp_min(torch.finfo(x.dtype).tiny)
    else:  # cells' covariance: its eigenvectors are the directions
        lam, v = torch.linalg.eigh(x.T @ x)
        s = lam.flip(0).clamp_min(0).sqrt()
        vh = v[:, max(0, d - k) :].flip(1).T
    return s, vh


def transport(density: Tensor, start: Tensor, noise_std: float) -> Tensor:
    """Carry start noise [B, P, 2] (~ N(0, σ²I)) onto densities [B, res²] by their Knothe–Rosenblatt map: [B, P, 2].

    Each point's x goes to the same quantile of the density's marginal over columns, its y
    to the same quantile of the density within that column; within a cell the mass is
    uniform, so the map is continuous and monotone. A density with no mass anywhere is
    read as uniform.
    """
    b, p, _ = start.shape
    res = math.isqrt(density.shape[1])
    d = density.double().view(b, res, res)  # [B, row, col], row 0 at the top
    d = torch.where(d.sum((1, 2), keepdim=True) > 0, d, torch.ones_like(d))
    u = 0.5 * (1 + torch.erf(start.double() / (noise_std * math.sqrt(2))))  # Φ: uniform on (0, 1)
    cols = d.sum(1)  # [B, col]
    col, frac_x = _quantile(cols / cols.sum(1, keepdim=True), u[..., 0])
    # rows bottom to top, so that a higher noise y lands higher on the canvas
    within = d.flip(1).transpose(1, 2)  # [B, col, row from the bottom]
    column = within.gather(1, col[..., None].expand(b, p, res))  # [B, P, row]
    column = torch.where(column.sum(-1, keepdim=True) > 0, column, torch.ones_like(column))
    row, frac_y = _quantile(column / column.sum(-1, keepdim=True), u[..., 1], per_point=True)
    cell = 2 * CANVAS / res
    x = -CANVAS + (col + frac_x) * cell
    y = -CANVAS + (row + frac_y) * cell
    return torch.stack([x, y], dim=-1).float()


def _quantile(mass: Tensor, u: Tensor, per_point: bool = False) -> tuple[Tensor, Tensor]:
    """Cell index and position within it (0..1) of quantiles ``u`` [B, P] of piecewise-uniform ``mass`` ([B, n], or [B, P, n] per point)."""
    cdf = mass.cumsum(-1)
    cdf = cdf / cdf[..., -1:]
    n = mass.shape[-1]
    if per_point:
        idx = torch.searchsorted(cdf, u[..., None].contiguous(), right=True)[..., 0].clamp_max(n - 1)
    else:
        idx = torch.searchsorted(cdf, u.contiguous(), right=True).clamp_max(n - 1)
    take = (lambda t: t.gather(-1, idx[..., None])[..., 0]) if per_point else (lambda t: t.gather(-1, idx))
    below = take(cdf) - take(mass)
    width = take(mass)
    frac = torch.where(width > 0, (u - below) / width.clamp_min(1e-300), torch.full_like(u, 0.5)).clamp(0, 1)
    return idx, frac


class DensityFlow(VelocityModel):
    """Text -> flow prior -> density code -> points by transport (see the module docstring).

    ``cond_dim`` is the text vector's size; ``res`` and ``components`` size the codes;
    ``prior_hidden`` / ``prior_blocks`` the prior network; ``prior_steps`` its Euler steps at
    sampling; ``predict`` what that network predicts (:class:`~pointdiff.flow.latent.LatentPrior`;
    the default "velocity" is what runs saved before the knob existed used); ``noise_std`` is
    σ of the start noise the points are carried from (the recipe's); ``floor`` is taken off each cell's decoded √density (:meth:`DensityBasis.decode`);
    ``whiten`` scales the codes (:class:`DensityBasis`; the default 1, unit variance each, is
    what runs saved before the knob existed used); ``fit_pictures`` caps the pictures the basis
    is fitted on (spread over the set).
    """

    arch = "density"
    learns_codes = True

    def __init__(
        self,
        cond_dim: int,
        res: int = 64,
        components: int = 128,
        prior_hidden: int = 256,
        prior_blocks: int = 4,
        prior_steps: int = 32,
        noise_std: float = 2.0,
        floor: float = 0.0,
        whiten: float = 1.0,
        fit_pictures: int = 2048,
        predict: str = "velocity",
        point_dim: int = 2,
    ):
        super().__init__()
        if point_dim != 2:
            raise ValueError("the density model draws (x, y) points only; train colour clouds with arch film")
        if res < 4 or components < 1:
            raise ValueError(f"res must be at least 4 and components at least 1, got {res} and {components}")
        self.cond_dim, self.res, self.components = cond_dim, res, components
        self.prior_hidden, self.prior_blocks, self.prior_steps = prior_hidden, prior_blocks, prior_steps
        self.noise_std, self.floor, self.whiten, self.fit_pictures = noise_std, floor, whiten, fit_pictures
        self.basis = DensityBasis(res, components, whiten)
        self.predict = predict
        self.prior = LatentPrior(components, cond_dim, prior_hidden, prior_blocks, predict)
        # [pictures, k] of the training set, set by fit (not saved); on disk above 32 MB, so that a large
        # set's codes (1 KB a picture) do not grow training's memory: a step reads its batch's rows
        self.codes: Tensor | DiskRows | None = None

    def arch_config(self) -> dict[str, Any]:
        return {
            "cond_dim": self.cond_dim,
            "res": self.res,
            "components": self.components,
            "prior_hidden": self.prior_hidden,
            "prior_blocks": self.prior_blocks,
            "prior_steps": self.prior_steps,
            "noise_std": self.noise_std,
            "floor": self.floor,
            "whiten": self.whiten,
            "fit_pictures": self.fit_pictures,
            "predict": self.predict,
        }

    # --- before training: the codes ---
    @torch.no_grad()
    def fit(self, sampler: Any, progress: ProgressFn | None = None) -> None:
        """Fit the basis to the density grids of (up to ``fit_pictures``) pictures of ``sampler``, then code every picture.

        Deterministic: every ink point of a picture counts (:meth:`~pointdiff.data.sampler.PointSampler.all_points`).
        Each picture is read once more to be coded (a streamed sampler reads it from disk); the
        codes go to a temporary file (:meth:`DiskRows.spill`), read back by rows as steps draw
        them, or whole into memory when they are small (:meth:`DiskRows.held_if_small`).
        """
        n = len(sampler)
        grids = lambda rows: torch.stack([density_grid(sampler.all_points(i), self.res) for i in rows])  # noqa: E731
        chosen = torch.linspace(0, n - 1, min(n, self.fit_pictures)).round().long().unique().tolist()
        fitted = torch.empty(len(chosen), self.res * self.res)  # filled in place: no second copy of the grids
        for a in range(0, len(chosen), _FIT_CHUNK):
            fitted[a : a + _FIT_CHUNK] = grids(chosen[a : a + _FIT_CHUNK])
        self.basis.fit(fitted)
        del fitted

        def coded() -> Iterator[Tensor]:
            for a in range(0, n, _FIT_CHUNK):
                yield self.basis.encode(grids(range(a, min(n, a + _FIT_CHUNK))).to(self.basis.mean.device))
                report(progress, min(n, a + _FIT_CHUNK), n)

        self.codes = DiskRows.spill(coded(), self.components).held_if_small().to(self.basis.mean.device)

    # --- training ---
    @property
    def train_noise(self) -> int:  # type: ignore[override]
        """Standard-normal numbers a training step needs per caption: the code's noise z0 and its time."""
        return self.components + 1

    def forward(self, x: Tensor | None, t: Tensor | None, cond: Tensor, picture: Tensor | None = None, noise: Tensor | None = None) -> Any:
        """Training: (None — no point network —, the prior's flow-matching loss) for captions ``cond`` of pictures ``picture`` [B] (indices)."""
        if picture is None or noise is None or self.codes is None:
            raise TypeError("a density model trains on (cond, picture=indices, noise=...) after fit(sampler); draw with field(cond, start=...)")
        noise = noise.float()
        k = self.components
        return None, self.prior.loss(self.codes[picture.to(self.codes.device)].to(noise.device), noise[:, :k], noise[:, k], cond)

    # --- sampling ---
    def sample_codes(self, cond: Tensor, noise: Tensor, guidance: float = 1.0) -> Tensor:
        """Codes [B, k] from code noise [B, k] under texts ``cond``: Euler steps on the prior's flow."""
        return self.prior.sample(cond, noise, self.prior_steps, guidance)

    def field(self, cond: Tensor, guidance: float = 1.0, start: Tensor | None = None) -> Field:
        """The straight paths from the clouds' ``start`` noise to the transported points of the codes the prior draws for ``cond``.

        The velocity of a point is its target minus its start, whatever x and t: every solver
        (any steps) ends on the targets.
        """
        if start is None:
            raise ValueError("a density model carries the clouds' start noise to its picture: pass start")
        with torch.autocast(start.device.type, enabled=False):  # one vector per cloud: fp32 costs nothing
            codes = self.sample_codes(cond.float(), latent_noise(start, self.components), guidance)
            step = transport(self.basis.decode(codes, self.floor), start.float(), self.noise_std) - start.float()
        return lambda x, t: step.to(x.dtype)
