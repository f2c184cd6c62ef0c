"""Quality during training and quality per network evaluation, on a fixed eval set.

* :class:`PeriodicEval` is a training callback: it evaluates the model (the EMA weights
  when the recipe keeps them, as `generate` would) whenever the *training* clock
  (``trainer.elapsed``, which counts only the steps) passes the next point of a schedule,
  so evaluation time never counts as training time.
* :func:`time_to_quality` reads off the first training time at which a curve reaches a
  target value.
* :func:`nfe_sweep` samples one model with each solver at several numbers of network
  evaluations, and times one 1024-point cloud for each.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from pointdiff.evaluate import EvalSet, evaluate_clouds
from pointdiff.flow.solvers import NFE_PER_STEP
from pointdiff.metrics import Scorer
from pointdiff.sample import SamplingSettings, make_noise, sample


@dataclass
class Point:
    """One evaluation: when, and how good."""

    step: int
    train_seconds: float
    chamfer_to_ref: float
    joint: float | None
    orientation: float | None
    expression: float | None
    nna: float
    mmd: float
    cov: float
    eval_seconds: float  # what this evaluation itself took (not training time)


def draw(model: torch.nn.Module, cond: torch.Tensor, num_points: int, settings: SamplingSettings, seed: int = 0) -> torch.Tensor:
    """One cloud per condition row, each its own noise: what ``pointdiff eval`` draws."""
    return sample(model, cond, make_noise(len(cond), num_points, seed, settings.noise_std), settings).x


def quick_metrics(model: torch.nn.Module, evalset: EvalSet, scorer: Scorer | None, num_points: int, settings: SamplingSettings, seed: int = 0) -> dict[str, Any]:
    """Generate one cloud per prompt of ``evalset`` and score it (no EMD: it is the slow part)."""
    clouds = draw(model, evalset.cond, num_points, settings, seed)
    m = evaluate_clouds(clouds, evalset, scorer)
    acc = m.prompt_accuracy or {}
    return {
        "chamfer_to_ref": m.chamfer_to_ref,
        "joint": acc.get("joint"),
        "orientation": acc.get("orientation"),
        "expression": acc.get("expression"),
        "nna": m.chamfer_sets.nna,
        "mmd": m.chamfer_sets.mmd,
        "cov": m.chamfer_sets.cov,
    }


@dataclass
class PeriodicEval:
    """Training callback: evaluate at training times ``first, first·ratio, ...`` and at the last step.

    ``max_evals`` caps the count for slow samplers (the reference's 200 Euler steps): the
    schedule then thins out so that at most that many evaluations happen.
    """

    evalset: EvalSet
    scorer: Scorer | None
    num_points: int
    settings: SamplingSettings  # the recipe's own sampler, as generate would use it
    total_steps: int
    first: float = 2.0  # seconds of training before the first evaluation
    ratio: float = 1.2  # next evaluation after ratio × the training time so far
    at_steps: Sequence[int] = ()  # evaluate at these steps instead of on the time schedule
    points: list[Point] = field(default_factory=list)
    _next: float = 0.0

    def __post_init__(self) -> None:
        self._next = self.first

    def __call__(self, trainer: Any) -> None:
        last = trainer.step >= self.total_steps
        if self.at_steps:
            due = trainer.step in self.at_steps
        else:
            due = trainer.elapsed >= self._next
        if not (due or last):
            return
        self.evaluate(trainer)
        while self._next <= trainer.elapsed:
            self._next *= self.ratio

    def evaluate(self, trainer: Any) -> Point:
        """Evaluate now and record the point."""
        model = trainer.sampling_model()
        was_training = model.training
        model.eval()
        t = time.perf_counter()
        m = quick_metrics(model, self.evalset, self.scorer, self.num_points, self.settings)
        model.train(was_training)
        p = Point(trainer.step, trainer.elapsed, eval_seconds=time.perf_counter() - t, **m)
        self.points.append(p)
        return p


def time_to_quality(points: Sequence[Point], target: float, key: str = "chamfer_to_ref", higher_is_better: bool = False) -> Point | None:
    """The first evaluation at which ``key`` reached ``target`` (None: never)."""
    for p in points:
        v = getattr(p, key)
        if v is None:
            continue
        if (v >= target) if higher_is_better else (v <= target):
            return p
    return None


@dataclass
class SweepRow:
    """One solver at one number of network evaluations."""

    solver: str
    nfe: int
    steps: int
    chamfer_to_ref: float
    joint: float | None
    nna: float
    latency_ms: float  # one 1024-point cloud (batch of 1), median


def latency_ms(model: torch.nn.Module, cond: torch.Tensor, settings: SamplingSettings, num_points: int = 1024, repeats: int = 3) -> float:
    """Median wall time of drawing one cloud (prompt vector already encoded)."""
    times = []
    for k in range(repeats + 1):
        t = time.perf_counter()
        draw(model, cond[:1], num_points, settings, seed=k)
        if k:  # the first call warms up
            times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def nfe_sweep(
    model: torch.nn.Module,
    evalset: EvalSet,
    scorer: Scorer | None,
    solvers: Sequence[str],
    nfes: Sequence[int],
    num_points: int,
    settings: SamplingSettings,
    latency_points: int = 1024,
    log: Any = None,
) -> list[SweepRow]:
    """Quality and latency for each solver at each NFE it can hit exactly (NFE divisible by its evaluations per step)."""
    rows = []
    per_eval = 2 if settings.guidance != 1.0 else 1  # guidance runs cond and uncond in one batch: count both
    for solver in solvers:
        for nfe in nfes:
            k = NFE_PER_STEP[solver] * per_eval
            if nfe % k:
                continue
            steps = nfe // k
            st = replace(settings, solver=solver, steps=steps)  # __post_init__ checks the copy too
            m = quick_metrics(model, evalset, scorer, num_points, st)
            lat = latency_ms(model, evalset.cond, st, latency_points, repeats=1 if nfe >= 100 else 3)
            rows.append(SweepRow(solver, nfe, steps, m["chamfer_to_ref"], m["joint"], m["nna"], lat))
            if log:
                log(f"  {solver:8s} NFE {nfe:4d}: chamfer {m['chamfer_to_ref']:.4f}  joint {m['joint'] if m['joint'] is None else round(m['joint'], 3)}  {lat:8.1f} ms/cloud")
    return rows
