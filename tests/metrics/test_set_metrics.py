"""MMD, COV and 1-NNA (pointdiff.metrics.sets) on hand-made distance matrices and known sets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pointdiff.metrics import chamfer_matrix, coverage, mmd, one_nna, set_metrics


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
