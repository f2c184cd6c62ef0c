"""Set metrics of point-cloud generation: MMD, COV and 1-NNA.

They compare a set of generated clouds ``S_g`` with a set of reference clouds ``S_r``
through a pairwise distance ``D`` (Chamfer or EMD), as defined by Achlioptas et al.
(2018) and Yang et al. (PointFlow, 2019), and used by Luo & Hu (2021):

* **MMD** (minimum matching distance, lower is better): how close the generated set comes
  to each reference cloud — fidelity::

      MMD = 1/|S_r| Σ_{Y ∈ S_r} min_{X ∈ S_g} D(X, Y)

* **COV** (coverage, higher is better, at most 1): the share of reference clouds that are
  the nearest neighbour of at least one generated cloud — diversity, mode collapse shows
  as low COV::

      COV = |{ argmin_{Y ∈ S_r} D(X, Y) : X ∈ S_g }| / |S_r|

* **1-NNA** (1-nearest-neighbour accuracy, **50 % is ideal**): pool both sets, classify
  every cloud by the set of its nearest other cloud (leave-one-out), report the accuracy.
  Near 50 % means a 1-NN classifier cannot tell generated from real (both fidelity and
  diversity); near 100 % means the two sets are separable::

      1-NNA = ( Σ_{X ∈ S_g} 1[N_X ∈ S_g] + Σ_{Y ∈ S_r} 1[N_Y ∈ S_r] ) / (|S_g| + |S_r|)

  where ``N_Z`` is the nearest neighbour of ``Z`` in ``S_g ∪ S_r \\ {Z}``.

Every function takes precomputed distance matrices (see ``distances.chamfer_matrix``),
so one matrix serves all three metrics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class SetMetrics:
    """MMD, COV and 1-NNA of one generated set against one reference set, for one distance."""

    distance: str  # "chamfer" or "emd"
    mmd: float
    cov: float  # fraction in [0, 1]
    nna: float  # 1-NNA, fraction in [0, 1]; 0.5 is ideal
    num_generated: int
    num_reference: int


def mmd(d_gr: np.ndarray) -> float:
    """Minimum matching distance from a [|S_g|, |S_r|] distance matrix (mean over references of the nearest generated)."""
    d_gr = np.asarray(d_gr, dtype=np.float64)
    return float(d_gr.min(axis=0).mean())


def coverage(d_gr: np.ndarray) -> float:
    """Coverage from a [|S_g|, |S_r|] matrix: share of references that are some generated cloud's nearest."""
    d_gr = np.asarray(d_gr, dtype=np.float64)
    return float(len(np.unique(d_gr.argmin(axis=1))) / d_gr.shape[1])


def one_nna(d_gg: np.ndarray, d_rr: np.ndarray, d_gr: np.ndarray) -> float:
    """Leave-one-out 1-NN accuracy of telling generated from reference (0.5 is ideal).

    Args:
        d_gg: [|S_g|, |S_g|] distances within the generated set.
        d_rr: [|S_r|, |S_r|] distances within the reference set.
        d_gr: [|S_g|, |S_r|] distances between them.
    """
    d_gg, d_rr, d_gr = (np.array(m, dtype=np.float64) for m in (d_gg, d_rr, d_gr))
    n_g, n_r = d_gr.shape
    full = np.block([[d_gg, d_gr], [d_gr.T, d_rr]])
    np.fill_diagonal(full, np.inf)  # leave one out: a cloud is not its own neighbour
    is_generated = np.r_[np.ones(n_g, bool), np.zeros(n_r, bool)]
    nearest = full.argmin(axis=1)
    return float((is_generated[nearest] == is_generated).mean())


def set_metrics(d_gg: np.ndarray, d_rr: np.ndarray, d_gr: np.ndarray, distance: str = "chamfer") -> SetMetrics:
    """MMD, COV and 1-NNA from the three distance matrices of one distance."""
    return SetMetrics(distance, mmd(d_gr), coverage(d_gr), one_nna(d_gg, d_rr, d_gr), d_gr.shape[0], d_gr.shape[1])
