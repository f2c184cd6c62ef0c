"""Chamfer and EMD (pointdiff.metrics.distances) against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pointdiff.metrics import chamfer, chamfer_matrix, emd, emd_matrix


def grid_cloud(n: int = 8, spacing: float = 0.5) -> torch.Tensor:
    """An n×n grid: every point's nearest other point is ``spacing`` away."""
    a = (torch.arange(n) - (n - 1) / 2) * spacing
    xx, yy = torch.meshgrid(a, a, indexing="xy")
    return torch.stack([xx.ravel(), yy.ravel()], 1)


def test_identical_clouds_are_zero():
    c = torch.randn(3, 200, 2, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(chamfer(c, c), torch.zeros(3))
    assert np.allclose(emd(c, c), 0)
    m = chamfer_matrix(c)
    assert np.allclose(np.diag(m), 0) and (m[~np.eye(3, dtype=bool)] > 0).all()


@pytest.mark.parametrize("shift", [(0.1, 0.0), (0.03, -0.12), (-0.2, 0.05)])
def test_shift_gives_known_value(shift):
    # Spacing 0.5 and |shift| < 0.25: each point's nearest neighbour is its own shifted copy.
    a, b = shift
    cloud = grid_cloud()
    moved = cloud + torch.tensor(shift)
    assert float(chamfer(cloud, moved)) == pytest.approx(2 * (a * a + b * b), rel=1e-5)
    # EMD (mean matched Euclidean distance) of a translation is the shift's length, for any shape.
    assert float(emd(cloud, moved)[0]) == pytest.approx(math.hypot(a, b), rel=1e-6)
    blob = torch.randn(100, 2, generator=torch.Generator().manual_seed(1))
    assert float(emd(blob, blob + torch.tensor([3.0, 4.0]))[0]) == pytest.approx(5.0, rel=1e-6)


def test_chamfer_hand_case_unequal_sizes():
    a = torch.tensor([[0.0, 0.0]])
    b = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    # a->b: 0; b->a: mean(0, 4) = 2.
    assert float(chamfer(a, b)) == pytest.approx(2.0)
    assert chamfer_matrix([a.numpy()], [b.numpy()])[0, 0] == pytest.approx(2.0)


def test_emd_takes_the_best_matching():
    a = np.array([[0.0, 0.0], [3.0, 0.0]])
    b = np.array([[1.0, 0.0], [2.0, 0.0]])
    # 0->1, 3->2 costs 1 + 1; the crossed matching costs 2 + 1.
    assert emd(a, b)[0] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        emd(a, b[:1])


def test_emd_approximation_is_close_on_large_clouds():
    g = np.random.default_rng(0)
    a, b = g.normal(size=(512, 2)), g.normal(size=(512, 2)) + 0.5
    exact = emd(a, b)[0]
    approx = emd(a, b, max_points=128)[0]
    assert abs(approx - exact) < 0.35 * exact
    m = emd_matrix([a[:64], b[:64]])
    assert m[0, 0] == 0 and m[0, 1] == m[1, 0] > 0


def test_chamfer_backends_agree_and_chunking_is_exact():
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(3, 300, 2, generator=g), torch.randn(4, 250, 2, generator=g)
    k = chamfer_matrix(x, y, backend="kdtree")
    t = chamfer_matrix(x, y, backend="torch")
    assert np.allclose(k, t, rtol=1e-4)
    sym = chamfer_matrix(x, backend="torch")
    assert np.allclose(sym, sym.T) and np.allclose(sym, chamfer_matrix(x), rtol=1e-4)
    # A batch large enough to need several row blocks gives the same as one pair at a time.
    big_a, big_b = torch.randn(40, 1024, 2, generator=g), torch.randn(40, 1024, 2, generator=g)
    together = chamfer(big_a, big_b)
    alone = torch.stack([chamfer(big_a[i], big_b[i])[0] for i in (0, 17, 39)])
    assert torch.allclose(together[[0, 17, 39]], alone, rtol=1e-5)
