"""Metrics against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pointdiff.metrics import chamfer, chamfer_matrix, coverage, emd, emd_matrix, label_accuracy, mmd, one_nna, rasterize, set_metrics


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


def test_mmd_and_coverage_hand_case():
    # 2 generated (rows) x 3 references (columns).
    d = np.array([[1.0, 5.0, 9.0], [2.0, 0.5, 7.0]])
    # Nearest generated per reference: 1, 0.5, 7.
    assert mmd(d) == pytest.approx((1 + 0.5 + 7) / 3)
    # gen0 -> ref0, gen1 -> ref1: 2 of 3 references covered.
    assert coverage(d) == pytest.approx(2 / 3)
    # Mode collapse: both generated pick ref0.
    assert coverage(np.array([[1.0, 5.0, 9.0], [0.5, 2.0, 7.0]])) == pytest.approx(1 / 3)


def test_one_nna_hand_cases():
    far, near = 10.0, 1.0
    within = np.array([[0, near], [near, 0]])
    across = np.full((2, 2), far)
    assert one_nna(within, within, across) == 1.0  # each cloud's nearest is in its own set
    within_far = np.array([[0, far], [far, 0]])
    assert one_nna(within_far, within_far, np.full((2, 2), near)) == 0.0  # nearest always in the other set


def _blob_clouds(n: int, centre: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(n, 1, 2, generator=g) * 0.5 + centre
    return centres + 0.3 * torch.randn(n, 64, 2, generator=g)


def test_one_nna_near_half_for_one_distribution_and_near_one_for_two():
    a, b, far = _blob_clouds(40, 0.0, 1), _blob_clouds(40, 0.0, 2), _blob_clouds(40, 5.0, 3)
    same = set_metrics(chamfer_matrix(a), chamfer_matrix(b), chamfer_matrix(a, b))
    apart = set_metrics(chamfer_matrix(far), chamfer_matrix(b), chamfer_matrix(far, b))
    assert 0.35 <= same.nna <= 0.65
    assert apart.nna >= 0.99
    assert apart.mmd > 10 * same.mmd
    assert same.cov > 0.4


def test_label_accuracy():
    pred = [{"o": "left", "e": "sad"}, {"o": "front", "e": "sad"}, {"o": "left", "e": "angry"}]
    true = [{"o": "left", "e": "sad"}, {"o": "left", "e": "sad"}, {"o": "left", "e": "sad"}]
    acc = label_accuracy(pred, true, ["o", "e"])
    assert acc == pytest.approx({"o": 2 / 3, "e": 2 / 3, "joint": 1 / 3})


def test_rasterize_keeps_mass_and_orientation():
    cloud = torch.tensor([[[2.9, 2.9], [-2.9, -2.9], [0.0, 0.0]]])
    img = rasterize(cloud, 12)[0, 0]
    assert float(img.sum()) == pytest.approx(144.0, rel=1e-5)
    assert img[0, -1] > 0 and img[-1, 0] > 0  # top-right is (+x, +y), bottom-left is (-x, -y)
    assert img[0, 0] == 0 and img[-1, -1] == 0
