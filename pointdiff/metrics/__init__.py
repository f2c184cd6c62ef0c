"""Measuring generated point clouds: distances, set metrics and label scorers.

* :mod:`.distances` — Chamfer (squared, mean each way, summed) and EMD (mean matched
  Euclidean distance, exact by assignment), paired and all-pairs.
* :mod:`.sets` — MMD, COV and 1-NNA (50 % ideal) of a generated set against a reference set.
* :mod:`.scorer` — read labels off clouds (1-NN by Chamfer, or a small density CNN) for
  prompt accuracy.

Pure PyTorch / NumPy / SciPy: no printing, no terminal.
"""

from pointdiff.metrics.distances import chamfer, chamfer_matrix, emd, emd_matrix
from pointdiff.metrics.scorer import ClassifierConfig, ClassifierScorer, NearestCloudScorer, Scorer, label_accuracy, rasterize, train_classifier
from pointdiff.metrics.sets import SetMetrics, coverage, mmd, one_nna, set_metrics

__all__ = [
    "chamfer",
    "chamfer_matrix",
    "emd",
    "emd_matrix",
    "SetMetrics",
    "mmd",
    "coverage",
    "one_nna",
    "set_metrics",
    "Scorer",
    "NearestCloudScorer",
    "ClassifierScorer",
    "ClassifierConfig",
    "train_classifier",
    "label_accuracy",
    "rasterize",
]
