"""The latent-map model: raster and map reading geometry, latent noise, the prior's guidance, training and sampling."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pointdiff.flow.latent import LATENT_RES, LatentMapFlow, latent_noise, raster, read_map
from pointdiff.flow.model import build_model
from pointdiff.recipe import TrainConfig
from pointdiff.sample import SamplingSettings, make_noise, sample

pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


def tiny(**kw: object) -> LatentMapFlow:
    torch.manual_seed(0)
    args = dict(hidden=16, blocks=2, fourier_features=8, embed_dim=8, latent_channels=2, map_channels=4, prior_hidden=16, prior_blocks=2, prior_steps=4)
    return LatentMapFlow(cond_dim=6, **{**args, **kw})  # type: ignore[arg-type]


def randomise(model: nn.Module) -> None:
    """Non-trivial weights (the output layers start at zero)."""
    for p in model.parameters():
        nn.init.normal_(p, std=0.2)


def test_raster_puts_points_in_their_cells_top_row_up_and_does_not_depend_on_the_count() -> None:
    pts = torch.tensor([[[-2.9, 2.9], [2.9, -2.9], [2.9, -2.9], [0.1, 0.1]]])  # top-left, bottom-right twice, centre
    img = raster(pts, 8)[0, 0]
    assert img.shape == (8, 8)
    hot = {(int(r), int(c)) for r, c in img.nonzero()}
    assert hot == {(0, 0), (7, 7), (3, 4)}
    assert img[7, 7] > img[0, 0] == img[3, 4]  # twice the points, more density
    torch.testing.assert_close(raster(pts.repeat(1, 5, 1), 8), raster(pts, 8))  # same picture, more draws


def test_read_map_reads_bilinearly_in_canvas_coordinates() -> None:
    res = 32
    # channel 0 holds each cell centre's x, channel 1 its y (row 0 at the top: y = +3)
    centres = (torch.arange(res) + 0.5) / res * 6 - 3
    grid = torch.stack([centres[None, :].expand(res, res), centres.flip(0)[:, None].expand(res, res)])[None]
    x = torch.tensor([[[0.4, -1.3], [-2.0, 2.2], [1.7, 0.05]]])
    torch.testing.assert_close(read_map(grid, x), x, rtol=0, atol=1e-5)


def test_latent_noise_is_fixed_by_each_clouds_start_noise_alone() -> None:
    start = make_noise(5, 64, seed=3, noise_std=2.0)
    z = latent_noise(start, 128)
    assert z.shape == (5, 128)
    torch.testing.assert_close(latent_noise(start[2:4], 128), z[2:4], rtol=0, atol=0)  # any batch gives a cloud the same draw
    assert not torch.equal(z[0], z[1])
    big = latent_noise(make_noise(400, 8, seed=0, noise_std=1.0), 64)
    assert abs(float(big.mean())) < 0.02 and abs(float(big.std()) - 1) < 0.02  # N(0, I)


def test_training_forward_gives_velocities_and_a_finite_extra_loss_per_point() -> None:
    model = tiny()
    x, t, c, picture = torch.randn(3, 20, 2), torch.rand(3), torch.randn(3, 6), torch.rand(3, 200, 2) * 4 - 2
    noise = torch.randn(3, model.train_noise)
    v, extra = model(x, t, c, picture=picture, noise=noise)
    assert v.shape == (3, 20, 2) and torch.count_nonzero(v) == 0  # zero-initialised output layer
    assert extra.ndim == 0 and torch.isfinite(extra) and extra > 0
    extra.backward()  # the KL reaches the encoder, the prior loss the prior
    assert model.encoder[0].weight.grad is not None and model.prior.inp.weight.grad is not None
    randomise(model)
    v, _ = model(x, t, c, picture=picture, noise=noise)
    v7, _ = model(x[:, :7], t, c, picture=picture, noise=noise)
    torch.testing.assert_close(v7, v[:, :7], rtol=1e-5, atol=1e-5)  # given z, points are independent
    with pytest.raises(TypeError, match="picture"):
        model(x, t, c)
    assert model.train_noise == 2 * model.latent_dim + 1


def test_guidance_acts_on_the_prior_as_documented() -> None:
    model = tiny()
    randomise(model)
    model.double()
    c, noise = torch.randn(2, 6, dtype=torch.float64), torch.randn(2, model.latent_dim, dtype=torch.float64)
    cond, uncond = model.sample_latent(c, noise, 1.0), model.sample_latent(torch.zeros_like(c), noise, 1.0)
    assert not torch.allclose(cond, uncond)
    torch.testing.assert_close(model.sample_latent(c, noise, 0.0), uncond)
    # one Euler step is linear in the guided velocity
    model.prior_steps = 1
    u = lambda cc: model.prior(noise, torch.zeros(2, dtype=torch.float64), model.prior.context(cc))  # noqa: E731
    torch.testing.assert_close(model.sample_latent(c, noise, 2.5), noise + u(torch.zeros_like(c)) + 2.5 * (u(c) - u(torch.zeros_like(c))))


def test_sampling_is_deterministic_and_a_cloud_does_not_depend_on_its_batch() -> None:
    model = tiny()
    randomise(model)
    model.eval()
    c, noise = torch.randn(4, 6), make_noise(4, 50, seed=0, noise_std=2.0)
    settings = SamplingSettings(precision="fp32")
    x = sample(model, c, noise, settings).x
    assert x.shape == (4, 50, 2) and torch.isfinite(x).all()
    torch.testing.assert_close(sample(model, c, noise, settings).x, x, rtol=0, atol=0)
    # alone or in a batch: the same picture up to float rounding (which these random weights amplify) ...
    torch.testing.assert_close(sample(model, c[1:2], noise[1:2], settings).x, x[1:2], rtol=0, atol=1e-2)
    # ... and exactly the same latent, computed in float64
    model.double()
    z = model.sample_latent(c.double(), latent_noise(noise, model.latent_dim).double())
    z1 = model.sample_latent(c[1:2].double(), latent_noise(noise[1:2], model.latent_dim).double())
    torch.testing.assert_close(z1, z[1:2], rtol=0, atol=1e-12)
    model.float()
    other = sample(model, c, make_noise(4, 50, seed=1, noise_std=2.0), settings).x
    assert not torch.allclose(other, x)
    with pytest.raises(ValueError, match="start"):
        model.field(c)


def test_the_recipe_builds_it_and_its_config_rebuilds_it() -> None:
    cfg = TrainConfig(arch="latent-map", hidden=16, depth=2, fourier_features=8, embed_dim=8, latent_channels=2, map_channels=4)
    model = build_model(cfg.arch, 6, **cfg.model_kwargs())
    assert isinstance(model, LatentMapFlow) and model.latent_dim == 2 * LATENT_RES**2
    again = build_model(model.arch, **model.arch_config())
    assert again.arch_config() == model.arch_config()
    assert {k: v.shape for k, v in again.state_dict().items()} == {k: v.shape for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match="raster_res"):
        tiny(raster_res=12)
