"""The numbers of a set of clouds against an eval set's references (see :mod:`pointdiff.metrics`).

For generated clouds ``G`` (one per prompt) and the reference set ``R``: MMD, COV and 1-NNA
by Chamfer (EMD optional: O(n²) exact assignments); **Chamfer / EMD to reference**, the mean
over prompts of the distance to the nearest reference the prompt describes (same labels, or
the same text); **retrieval**, the share of prompts whose Chamfer-nearest reference is one
the prompt describes; **prompt accuracy** when a scorer and labels are given.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from pointdiff.evaluate.sets import EvalSet
from pointdiff.metrics import Scorer, chamfer_matrix, emd, label_accuracy, set_metrics
from pointdiff.metrics.sets import SetMetrics


@dataclass
class CloudMetrics:
    """The numbers of one set of clouds (generated, or real for comparison) against the reference."""

    n: int
    chamfer_sets: SetMetrics  # MMD / COV / 1-NNA by Chamfer
    chamfer_to_ref: float  # mean over prompts of Chamfer to the nearest reference the prompt describes
    retrieval: float  # share whose Chamfer-nearest reference is one the prompt describes
    emd_to_ref: float | None = None  # EMD to that same reference cloud (exact, on emd_points-point subsets)
    emd_points: int | None = None  # points per cloud the EMD was computed on (None: all)
    emd_sets: SetMetrics | None = None
    prompt_accuracy: dict[str, float] | None = None  # each scored label + joint (labelled sources)
    real: "CloudMetrics | None" = None  # the same for a second real set: the ceiling / floor

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return asdict(self)


def evaluate_clouds(
    clouds: Tensor,
    evalset: EvalSet,
    scorer: Scorer | None = None,
    with_emd: bool = False,
    set_emd: bool = False,
    labels: list[dict[str, str]] | None = None,
    emd_points: int | None = None,
) -> CloudMetrics:
    """Metrics of ``clouds`` (one per prompt of ``evalset``, in order) against its reference set."""
    clouds = clouds.detach().float().cpu()
    if len(clouds) != len(evalset.prompts):
        raise ValueError(f"{len(clouds)} clouds for {len(evalset.prompts)} prompts")
    d_gr = chamfer_matrix(clouds, evalset.reference)
    sets = set_metrics(chamfer_matrix(clouds), evalset.d_rr(), d_gr, "chamfer")
    g = np.asarray(evalset.groups)[:, None] == np.asarray(evalset.reference_groups)[None, :]
    same_group = np.where(g, d_gr, np.inf)
    nearest_ref = same_group.argmin(axis=1)
    out = CloudMetrics(
        n=len(clouds),
        chamfer_sets=sets,
        chamfer_to_ref=float(same_group.min(axis=1).mean()),
        retrieval=float(g[np.arange(len(clouds)), d_gr.argmin(axis=1)].mean()),
    )
    k = emd_points if emd_points is not None and emd_points < clouds.shape[1] else None
    if with_emd:
        out.emd_to_ref = float(emd(clouds, evalset.reference[torch.from_numpy(nearest_ref)], max_points=k).mean())
        out.emd_points = k or clouds.shape[1]
    if set_emd:
        from pointdiff.metrics import emd_matrix

        out.emd_sets = set_metrics(emd_matrix(clouds, max_points=k), emd_matrix(evalset.reference, max_points=k), emd_matrix(clouds, evalset.reference, max_points=k), "emd")
        out.emd_points = k or clouds.shape[1]
    labels = labels if labels is not None else evalset.labels
    if scorer is not None and labels is not None:
        out.prompt_accuracy = label_accuracy(scorer.predict(clouds), labels, evalset.label_names or scorer.label_names)
    return out


def evaluate_real(evalset: EvalSet, scorer: Scorer | None, with_emd: bool = False, set_emd: bool = False, emd_points: int | None = None) -> CloudMetrics | None:
    """The metrics of the eval set's second real set (what a perfect generator scores), if it has one."""
    if evalset.real is None:
        return None
    return evaluate_clouds(evalset.real, evalset, scorer, with_emd, set_emd, labels=evalset.real_labels, emd_points=emd_points)
