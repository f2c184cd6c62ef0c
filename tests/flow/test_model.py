"""Velocity networks: the reference's exact shape, the split first layer, guidance."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pointdiff.config import load_config, preset_path
from pointdiff.flow.model import FiLMResNet, LatentFiLMResNet, ReferenceMLP, build_model
from pointdiff.recipe import TrainConfig

pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


def reference_params(d: int) -> int:
    # by hand: Linear(3 + d, 512), 4 × Linear(512, 512), Linear(512, 2), weights + biases
    return (3 + d) * 512 + 512 + 4 * (512 * 512 + 512) + 512 * 2 + 2


@pytest.mark.parametrize("d, expected", [(384, 1_250_306), (512, 1_315_842)])
def test_seed_preset_model_has_reference_shape_and_count(d: int, expected: int) -> None:
    assert reference_params(d) == expected
    cfg = load_config(TrainConfig, preset=preset_path("train", "seed"))
    model = build_model(cfg.arch, d, **cfg.model_kwargs())
    assert isinstance(model, ReferenceMLP)
    linears = [m for m in model.net if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(3 + d, 512)] + [(512, 512)] * 4 + [(512, 2)]
    assert sum(isinstance(m, nn.ReLU) for m in model.net) == 5
    assert model.num_params() == expected


def test_reference_split_first_layer_equals_plain_mlp_on_x_y_t_c() -> None:
    torch.manual_seed(0)
    model = ReferenceMLP(cond_dim=7, hidden=32, layers=4)
    x, t, c = torch.randn(3, 50, 2), torch.rand(3), torch.randn(3, 7)
    inputs = torch.cat([x, t[:, None, None].expand(3, 50, 1), c[:, None, :].expand(3, 50, 7)], dim=-1)  # [x, y, t, c]
    torch.testing.assert_close(model(x, t, c), model.net(inputs), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("arch", ["reference", "film"])
def test_guidance_one_is_conditional_and_combines_as_documented(arch: str) -> None:
    torch.manual_seed(0)
    model = build_model(arch, 6, hidden=32, **({"embed_dim": 16} if arch == "film" else {}))
    for p in model.parameters():  # the film model starts with a zero output layer: make it non-trivial
        nn.init.normal_(p, std=0.3)
    model.double()  # exact comparisons: the guided batch is computed in another shape
    x, c = torch.randn(2, 40, 2, dtype=torch.float64), torch.randn(2, 6, dtype=torch.float64)
    t = torch.full((2,), 0.3, dtype=torch.float64)
    v_cond = model(x, t, c)
    v_uncond = model(x, t, torch.zeros_like(c))
    assert not torch.allclose(v_cond, v_uncond)
    torch.testing.assert_close(model.field(c, 1.0)(x, 0.3), v_cond)
    torch.testing.assert_close(model.field(c, 0.0)(x, 0.3), v_uncond)
    torch.testing.assert_close(model.field(c, 2.5)(x, 0.3), v_uncond + 2.5 * (v_cond - v_uncond))


def test_film_model_is_per_point_and_starts_at_zero() -> None:
    model = FiLMResNet(cond_dim=5, hidden=16, blocks=2, fourier_features=8, embed_dim=8)
    x, t, c = torch.randn(2, 30, 2), torch.rand(2), torch.randn(2, 5)
    assert torch.count_nonzero(model(x, t, c)) == 0  # zero-initialised output layer
    for p in model.parameters():
        nn.init.normal_(p, std=0.2)
    v = model(x, t, c)
    assert v.shape == (2, 30, 2)
    # per point: a cloud's velocities do not depend on its other points
    torch.testing.assert_close(model(x[:, :7], t, c), v[:, :7], rtol=1e-5, atol=1e-5)


def test_unknown_architecture_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model("unet", 4)


# ----------------------------------------------------------------------------- latent model


def _latent(seed: int = 0) -> "LatentFiLMResNet":
    torch.manual_seed(seed)
    model = LatentFiLMResNet(cond_dim=5, latent_dim=4, hidden=16, blocks=2, fourier_features=8, embed_dim=8)
    for p in model.parameters():  # zero-initialised layers would hide the latent's effect
        nn.init.normal_(p, std=0.3)
    return model.double()


def test_latent_encoder_sees_a_cloud_as_a_set() -> None:
    model = _latent()
    x1, c = torch.randn(2, 64, 2, dtype=torch.float64), torch.randn(2, 5, dtype=torch.float64)
    ctx = model.condition(c)
    mu, logvar = model.encode(x1, ctx)
    assert mu.shape == logvar.shape == (2, 4)
    mu_p, logvar_p = model.encode(x1[:, torch.randperm(64)], ctx)  # order of points: irrelevant
    torch.testing.assert_close((mu_p, logvar_p), (mu, logvar))
    mu_2, _ = model.encode(x1.repeat(1, 3, 1), ctx)  # the same points three times: the same mean
    torch.testing.assert_close(mu_2, mu)
    assert not torch.allclose(model.encode(x1.flip(0), ctx)[0], mu)  # another cloud, another posterior


def test_latent_kl_is_the_gaussian_kl_and_zero_at_the_prior() -> None:
    model = _latent()
    x_t, x1 = torch.randn(3, 20, 2, dtype=torch.float64), torch.randn(3, 20, 2, dtype=torch.float64)
    t, c = torch.rand(3, dtype=torch.float64), torch.randn(3, 5, dtype=torch.float64)
    mu, logvar = model.encode(x1, model.condition(c))
    _, kl = model.training_velocity(x_t, t, c, x1, torch.Generator().manual_seed(0))
    expected = (0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(-1)).mean()  # KL(N(μ, σ²) ‖ N(0, I)) by hand
    torch.testing.assert_close(kl, expected)
    last: nn.Linear = model.enc_out[-1]  # type: ignore[assignment]
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)  # μ = 0, log σ² = 0: the posterior is the prior
    assert float(model.training_velocity(x_t, t, c, x1, torch.Generator().manual_seed(0))[1].detach()) == 0.0


def test_latent_is_read_from_the_start_noise_and_changes_the_picture() -> None:
    model = _latent()
    c = torch.randn(2, 5, dtype=torch.float64)
    start = torch.randn(2, 30, 2, dtype=torch.float64)
    x, t = torch.randn(2, 30, 2, dtype=torch.float64), torch.full((2,), 0.4, dtype=torch.float64)
    torch.testing.assert_close(model.latent_of(start), start[:, :2].reshape(2, 4))  # latent_dim / 2 points
    v = model.field(c, 1.0, start=start)(x, 0.4)
    torch.testing.assert_close(v, model(x, t, c, z=start[:, :2].reshape(2, 4)))
    assert torch.equal(v, model.field(c, 1.0, start=start.clone())(x, 0.4))  # same noise, same field
    other = start.clone()
    other[:, 0] += 1.0
    assert not torch.allclose(v, model.field(c, 1.0, start=other)(x, 0.4))  # another latent, another picture
    v_uncond = model(x, t, torch.zeros_like(c), z=start[:, :2].reshape(2, 4))  # guidance keeps the latent
    torch.testing.assert_close(model.field(c, 2.0, start=start)(x, 0.4), v_uncond + 2.0 * (v - v_uncond))
    with pytest.raises(ValueError, match="at least 2 points"):
        model.latent_of(start[:, :1])
