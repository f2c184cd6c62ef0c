"""The straight path and per-cloud noise-to-point pairing."""

from __future__ import annotations

import itertools

import pytest
import torch

from pointdiff.flow.path import linear_path, pair_noise

pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


def test_linear_path_interpolates_with_one_t_per_cloud() -> None:
    x0, x1 = torch.randn(3, 10, 2), torch.randn(3, 10, 2)
    t = torch.tensor([0.0, 0.25, 1.0])
    ps = linear_path(x0, x1, t)
    torch.testing.assert_close(ps.x_t[0], x0[0])
    torch.testing.assert_close(ps.x_t[1], 0.75 * x0[1] + 0.25 * x1[1])
    torch.testing.assert_close(ps.x_t[2], x1[2])
    torch.testing.assert_close(ps.dx_t, x1 - x0)


def cost(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a - b) ** 2).sum(-1).mean())


def same_points(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal as multisets of rows, per cloud."""
    return all(torch.equal(a[i][torch.argsort(a[i, :, 0])], b[i][torch.argsort(b[i, :, 0])]) for i in range(len(a)))


@pytest.mark.parametrize("method", ["exact", "chunked"])
@pytest.mark.parametrize("n", [64, 256, 200])
def test_pairing_permutes_noise_within_each_cloud_and_shortens_paths(method: str, n: int) -> None:
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(3, n, 2, generator=g) * 2
    x1 = torch.rand(3, n, 2, generator=g) * 6 - 3
    paired = pair_noise(x0, x1, method, chunk=64)
    assert same_points(paired, x0)  # the noise is only reordered, so it is still exactly Gaussian
    assert cost(paired, x1) < 0.2 * cost(x0, x1)


def test_exact_pairing_is_optimal_and_chunked_is_close() -> None:
    g = torch.Generator().manual_seed(1)
    x0, x1 = torch.randn(1, 6, 2, generator=g), torch.randn(1, 6, 2, generator=g)
    best = min(cost(x0[:, list(p)], x1) for p in itertools.permutations(range(6)))
    assert cost(pair_noise(x0, x1, "exact"), x1) == pytest.approx(best)
    x0, x1 = torch.randn(2, 256, 2, generator=g) * 2, torch.rand(2, 256, 2, generator=g) * 6 - 3
    exact = cost(pair_noise(x0, x1, "exact"), x1)
    assert cost(pair_noise(x0, x1, "chunked", chunk=64), x1) < 1.25 * exact


def test_no_pairing_is_identity() -> None:
    x0, x1 = torch.randn(2, 5, 2), torch.randn(2, 5, 2)
    assert pair_noise(x0, x1, "none") is x0
    with pytest.raises(ValueError):
        pair_noise(x0, x1, "sinkhorn")
