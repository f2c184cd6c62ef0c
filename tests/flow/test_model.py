"""Velocity networks: the reference's exact shape, the split first layer, guidance."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pointdiff.config import load_config, preset_path
from pointdiff.flow.model import FiLMResNet, ReferenceMLP, build_model
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
