"""pointdiff.evaluate.scoring: the numbers of known sets of clouds against the reference."""

from __future__ import annotations

import torch

from pointdiff.evaluate import EvalSet, evaluate_clouds, evaluate_real


def test_metrics_of_known_sets(evalset: EvalSet) -> None:
    exact = evaluate_clouds(evalset.reference, evalset)
    assert exact.chamfer_to_ref == 0 and exact.retrieval == 1.0 and exact.chamfer_sets.mmd == 0 and exact.chamfer_sets.cov == 1.0
    noise = evaluate_clouds(torch.randn(35, 512, 2, generator=torch.Generator().manual_seed(0)) * 2, evalset)
    assert noise.chamfer_to_ref > 20 * evaluate_real(evalset, None).chamfer_to_ref
    assert noise.chamfer_sets.nna >= 0.95  # noise is told apart from faces every time
    real = evaluate_real(evalset, None)
    assert 0.2 <= real.chamfer_sets.nna <= 0.8  # other real faces of the same labels are not
