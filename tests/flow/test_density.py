"""The density model: grids, the principal-component codes, the Knothe–Rosenblatt transport, training and sampling."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pointdiff.data import rows
from pointdiff.data.rows import DiskRows
from pointdiff.data.sampler import PointSampler
from pointdiff.flow.density import DensityBasis, DensityFlow, density_grid, transport
from pointdiff.flow.model import build_model
from pointdiff.sample import SamplingSettings, make_noise, sample

pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


def pictures(n: int = 12, seed: int = 0) -> PointSampler:
    """n pictures of 300 points each: a blob at its own place, so the pictures differ."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.rand(n, 1, 2, generator=g) * 4 - 2
    return PointSampler.from_clouds(centres + 0.3 * torch.randn(n, 300, 2, generator=g))


def tiny(**kw: object) -> DensityFlow:
    torch.manual_seed(0)
    return DensityFlow(cond_dim=6, **{"res": 8, "components": 5, "prior_hidden": 16, "prior_blocks": 2, "prior_steps": 4, **kw})  # type: ignore[arg-type]


def test_density_grid_splits_each_point_between_its_cells_top_row_first_with_mean_one() -> None:
    # res 4: cell centres at ±0.75, ±2.25; the top-left corner is clamped into cell (0, 0)
    pts = torch.tensor([[-2.9, 2.9], [2.25, -2.25], [2.25, -2.25], [0.0, 0.75]])
    grid = density_grid(pts, 4).view(4, 4)
    torch.testing.assert_close(grid.sum(), torch.tensor(16.0))
    assert grid[0, 0] == 4.0 and grid[3, 3] == 8.0  # whole points at cell centres
    torch.testing.assert_close(grid[1, 1:3], torch.tensor([2.0, 2.0]))  # halfway between two centres: half each
    assert int((grid > 0).sum()) == 4
    torch.testing.assert_close(density_grid(pts.repeat(3, 1), 4), density_grid(pts, 4))  # the same picture, more points


def test_basis_round_trips_the_fitted_grids_when_it_has_enough_components() -> None:
    grids = torch.rand(6, 16) * (torch.rand(6, 16) > 0.5)
    basis = DensityBasis(4, 8)  # 8 > 5 = rank of 6 centred grids: nothing is lost
    basis.fit(grids)
    codes = basis.encode(grids)
    torch.testing.assert_close(basis.decode(codes), grids, rtol=0, atol=1e-5)
    torch.testing.assert_close(codes[:, :5].std(0), torch.ones(5), rtol=0, atol=1e-4)  # unit variance per fitted direction
    assert torch.equal(basis.directions[5:], torch.zeros(3, 16))  # directions past the rank stay empty
    again = DensityBasis(4, 8)
    again.fit(grids)
    assert torch.equal(again.directions, basis.directions)  # deterministic, signs included
    assert (basis.decode(torch.randn(10, 8) * 3) >= 0).all()  # any code decodes to a density


def test_basis_with_fewer_components_keeps_the_largest_variation() -> None:
    g = torch.Generator().manual_seed(0)
    big = torch.randn(40, 1, generator=g) * 5 * torch.eye(9)[0]  # the picture's first cell varies most
    grids = (2 + big + 0.1 * torch.randn(40, 9, generator=g)).square()
    basis = DensityBasis(3, 1)
    basis.fit(grids)
    assert float(basis.directions[0].abs().argmax()) == 0


@pytest.mark.parametrize("whiten", [0.0, 0.5, 1.0])
def test_whiten_sets_how_codes_share_their_variance_and_keeps_the_round_trip(whiten: float) -> None:
    g = torch.Generator().manual_seed(1)
    grids = (torch.randn(30, 16, generator=g) * torch.linspace(3, 0.1, 16) + 4).square()  # cells vary by different amounts
    basis = DensityBasis(4, 16, whiten=whiten)
    basis.fit(grids)
    codes = basis.encode(grids)
    torch.testing.assert_close(basis.decode(codes), grids, rtol=0, atol=1e-3)
    torch.testing.assert_close(codes.var(0).mean(), torch.tensor(1.0), rtol=0, atol=1e-4)  # mean variance 1, whatever whiten
    spread = basis.scale * codes.std(0)  # each direction's own standard deviation over the grids
    kept = codes.std(0) / spread ** (1 - whiten)  # codes keep spread^(1 - whiten), up to one common factor
    torch.testing.assert_close(kept / kept[0], torch.ones(16), rtol=1e-3, atol=0)


def test_the_floor_clears_faint_cells_and_lowers_the_rest() -> None:
    basis = DensityBasis(2, 1)
    basis.mean.copy_(torch.tensor([0.1, 0.5, 1.0, 2.0]))  # √density, with a zero code
    zero = torch.zeros(1, 1)
    torch.testing.assert_close(basis.decode(zero), torch.tensor([[0.01, 0.25, 1.0, 4.0]]))
    torch.testing.assert_close(basis.decode(zero, floor=0.2), torch.tensor([[0.0, 0.09, 0.64, 3.24]]))


def test_transport_puts_every_point_in_the_density_and_keeps_its_order() -> None:
    res = 4
    one = torch.zeros(1, res * res)
    one[0, 1 * res + 2] = 1.0  # row 1 from the top, column 2: x in [0, 1.5], y in [0, 1.5]
    start = make_noise(1, 500, seed=0, noise_std=2.0)
    x = transport(one, start, 2.0)[0]
    assert (x[:, 0] >= 0).all() and (x[:, 0] <= 1.5).all() and (x[:, 1] >= 0).all() and (x[:, 1] <= 1.5).all()
    # monotone: a point further right in the noise lands further right (one column: the same for y)
    order = start[0, :, 0].argsort()
    assert (x[order, 0].diff() >= -1e-6).all()
    order = start[0, :, 1].argsort()
    assert (x[order, 1].diff() >= -1e-6).all()


def test_transport_gives_each_cell_its_share_of_the_points() -> None:
    res = 2
    d = torch.tensor([[1.0, 3.0, 0.0, 4.0]])  # top-left 1/8, top-right 3/8, bottom-right 1/2
    x = transport(d, make_noise(1, 40000, seed=1, noise_std=1.5), 1.5)[0]
    left, top = x[:, 0] < 0, x[:, 1] > 0
    shares = torch.stack([(left & top).float().mean(), (~left & top).float().mean(), (left & ~top).float().mean(), (~left & ~top).float().mean()])
    torch.testing.assert_close(shares, torch.tensor([0.125, 0.375, 0.0, 0.5]), rtol=0, atol=0.01)
    inside = x[~left & top]
    assert abs(float(inside[:, 0].mean()) - 1.5) < 0.03 and abs(float(inside[:, 1].mean()) - 1.5) < 0.03  # uniform within a cell


def test_an_empty_density_is_read_as_uniform() -> None:
    x = transport(torch.zeros(2, 16), make_noise(2, 4000, seed=0, noise_std=2.0), 2.0)
    assert torch.isfinite(x).all() and x.abs().max() <= 3
    assert abs(float(x[..., 0].mean())) < 0.1 and abs(float(x[..., 0].std()) - 6 / 12**0.5) < 0.05  # uniform on [-3, 3]


def test_fit_codes_every_picture_and_training_gives_the_prior_loss_only() -> None:
    model = tiny()
    data = pictures()
    model.fit(data)
    assert model.codes is not None and model.codes.shape == (12, 5)
    torch.testing.assert_close(model.codes[torch.arange(12)], model.basis.encode(torch.stack([density_grid(data.all_points(i), 8) for i in range(12)])))  # read back from disk
    v, loss = model(None, None, torch.randn(3, 6), picture=torch.tensor([0, 4, 4]), noise=torch.randn(3, model.train_noise))
    assert v is None and loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in model.prior.parameters())
    with pytest.raises(TypeError, match="fit"):
        tiny()(None, None, torch.randn(3, 6), picture=torch.tensor([0]), noise=torch.randn(1, 6))


def test_every_solver_lands_on_the_transported_points_and_the_noise_decides_the_picture() -> None:
    model = tiny()
    model.fit(pictures())
    for p in model.prior.parameters():  # non-trivial weights (the output layer starts at zero)
        nn.init.normal_(p, std=0.2)
    cond, noise = torch.randn(3, 6), make_noise(3, 256, seed=2, noise_std=2.0)
    runs = [sample(model, cond, noise, SamplingSettings(solver=s, steps=n, precision="fp32")).x for s, n in (("euler", 1), ("midpoint", 2), ("rk4", 3))]
    torch.testing.assert_close(runs[1], runs[0], rtol=0, atol=1e-5)
    torch.testing.assert_close(runs[2], runs[0], rtol=0, atol=1e-5)
    assert runs[0].abs().max() <= 3
    torch.testing.assert_close(sample(model, cond[1:], noise[1:], SamplingSettings(precision="fp32")).x, runs[1][1:], rtol=0, atol=1e-5)  # a cloud's picture is its own
    guided = sample(model, cond, noise, SamplingSettings(guidance=2.0, precision="fp32")).x
    assert not torch.allclose(guided, runs[1])


def test_a_saved_model_rebuilds_with_its_basis() -> None:
    model = tiny()
    model.fit(pictures())
    again = build_model("density", **model.arch_config())
    again.load_state_dict(model.state_dict())
    assert torch.equal(again.basis.directions, model.basis.directions) and torch.equal(again.basis.scale, model.basis.scale)
    noise = make_noise(2, 64, seed=0, noise_std=2.0)
    cond = torch.randn(2, 6)
    assert torch.equal(sample(again, cond, noise, SamplingSettings()).x, sample(model, cond, noise, SamplingSettings()).x)
    saved_before_whiten = {k: v for k, v in tiny(whiten=0.0).arch_config().items() if k != "whiten"}
    assert build_model("density", **saved_before_whiten).whiten == 1.0  # what such runs were fitted with


def test_colour_clouds_are_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="colour"):
        DensityFlow(cond_dim=6, point_dim=5)


def test_a_data_predicting_prior_lands_on_its_last_guess_and_guides_like_velocities() -> None:
    model = tiny(predict="data", prior_steps=3)
    model.fit(pictures())
    for p in model.prior.parameters():
        nn.init.normal_(p, std=0.2)
    model.double()
    prior = model.prior
    cond, noise = torch.randn(2, 6, dtype=torch.float64), torch.randn(2, 5, dtype=torch.float64)
    guess = lambda z, s, c: prior(z, torch.full((2,), s, dtype=torch.float64), prior.context(c))  # noqa: E731
    # the Euler steps by hand: velocity (guess - z) / (1 - s), so the last step (s = 2/3) ends on that step's guess
    z = noise
    for k in range(2):
        z = z + (guess(z, k / 3, cond) - z) / 3 / (1 - k / 3)
    torch.testing.assert_close(model.sample_codes(cond, noise), guess(z, 2 / 3, cond))
    # guidance combines guesses; one step from s = 0 lands on the guided guess
    model.prior_steps = 1
    null = torch.zeros_like(cond)
    expected = guess(noise, 0.0, null) + 2.5 * (guess(noise, 0.0, cond) - guess(noise, 0.0, null))
    torch.testing.assert_close(model.sample_codes(cond, noise, guidance=2.5), expected)


def test_the_data_predicting_prior_is_trained_on_the_code_itself() -> None:
    model = tiny(predict="data")
    model.fit(pictures())
    for p in model.prior.parameters():
        nn.init.normal_(p, std=0.2)
    cond, picture, noise = torch.randn(3, 6), torch.tensor([0, 4, 4]), torch.randn(3, model.train_noise)
    _, loss = model(None, None, cond, picture=picture, noise=noise)
    target, z0 = model.codes[picture], noise[:, :5]
    s = 0.5 * (1 + torch.erf(noise[:, 5] / 2**0.5))
    out = model.prior((1 - s[:, None]) * z0 + s[:, None] * target, s, model.prior.context(cond))
    torch.testing.assert_close(loss, (out - target).square().mean())
    velocity = tiny()  # the same weights predicting velocities are scored against z1 - z0
    velocity.load_state_dict(model.state_dict())
    velocity.codes = model.codes
    torch.testing.assert_close(velocity(None, None, cond, picture=picture, noise=noise)[1], (out - (target - z0)).square().mean())
    with pytest.raises(ValueError, match="predict"):
        tiny(predict="epsilon")


def test_runs_saved_before_the_prior_could_predict_codes_load_as_velocity_priors() -> None:
    saved_before = {k: v for k, v in tiny(predict="data").arch_config().items() if k != "predict"}
    assert build_model("density", **saved_before).prior.predict == "velocity"
    from pointdiff.config import to_dict
    from pointdiff.recipe import TrainConfig

    old = {k: v for k, v in to_dict(TrainConfig()).items() if k != "prior_predict"}
    assert TrainConfig.from_meta({"config": old}).prior_predict == "velocity"


@pytest.mark.parametrize("n", [7, 40])  # fewer pictures than cells (their Gram matrix), more (the cells' covariance)
def test_basis_directions_are_the_singular_vectors_of_the_centred_root_grids(n: int) -> None:
    g = torch.Generator().manual_seed(n)
    grids = (torch.randn(n, 16, generator=g) * torch.linspace(3, 0.1, 16) + 4).square()
    basis = DensityBasis(4, 5)
    basis.fit(grids)
    x = grids.double().sqrt()
    _, s, vh = torch.linalg.svd(x - x.mean(0), full_matrices=False)
    torch.testing.assert_close((basis.directions.double() * vh[:5]).sum(1).abs(), torch.ones(5, dtype=torch.float64), rtol=0, atol=1e-6)  # same axes, either sign
    torch.testing.assert_close(basis.directions @ basis.directions.T, torch.eye(5), rtol=0, atol=1e-5)


def test_codes_of_a_large_set_are_read_from_disk_with_the_same_loss(monkeypatch: pytest.MonkeyPatch) -> None:
    held = tiny()
    held.fit(pictures())
    monkeypatch.setattr(rows, "HELD_BELOW_BYTES", 0)  # every set counts as large
    on_disk = tiny()
    on_disk.fit(pictures())
    assert isinstance(held.codes, torch.Tensor) and isinstance(on_disk.codes, DiskRows)
    cond, picture, noise = torch.randn(3, 6), torch.tensor([0, 4, 4]), torch.randn(3, held.train_noise)
    assert torch.equal(on_disk(None, None, cond, picture=picture, noise=noise)[1], held(None, None, cond, picture=picture, noise=noise)[1])
