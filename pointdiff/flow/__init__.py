"""Conditional flow matching on point clouds: the model, the path, the solvers.

Split by concept as in facebookresearch/flow_matching: :mod:`.model` (v(x, t, c)),
:mod:`.path` (how a training pair becomes x_t and a target), :mod:`.solvers` (ODE
integration). ``pointdiff.training`` and ``pointdiff.sample`` put them together.
"""

from pointdiff.flow.model import architectures, FiLMResNet, ReferenceMLP, VelocityModel, build_model
from pointdiff.flow.path import PAIRINGS, PathSample, linear_path, pair_noise
from pointdiff.flow.solvers import NFE_PER_STEP, SOLVERS, Solution, solve

__all__ = [
    "architectures",
    "FiLMResNet",
    "ReferenceMLP",
    "VelocityModel",
    "build_model",
    "PAIRINGS",
    "PathSample",
    "linear_path",
    "pair_noise",
    "NFE_PER_STEP",
    "SOLVERS",
    "Solution",
    "solve",
]
