"""pointdiff: images -> captions -> text embeddings -> conditional flow matching on 2-D point clouds.

The Python API is the one the CLI uses; every name below is imported on first use, so
``import pointdiff`` stays fast::

    import pointdiff
    pipe = pointdiff.load("pointdiff-work/runs/demo-run")         # a trained run, ready to draw
    out = pipe("left-facing neutral", num_points=1024, seed=0)    # out.points: [1, 1, 1024, 2]
    out.save("face.png")

    pointdiff.ingest("builtin:faces", "work/dataset", pointdiff.IngestConfig(count=600))
    pointdiff.embed("work/dataset")                               # text vectors (MiniLM, offline)
    result = pointdiff.train(pointdiff.TrainConfig(steps=3000), "work/dataset", run_dir="work/runs/a")

The core package never prints and never imports typer or rich; `pointdiff.cli` is the only
place that talks to a terminal.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> (module, attribute)
_API = {
    "load": ("pointdiff.pipeline", "load"),
    "Pipeline": ("pointdiff.pipeline", "Pipeline"),
    "Generation": ("pointdiff.pipeline", "Generation"),
    "GenerateConfig": ("pointdiff.pipeline", "GenerateConfig"),
    "SamplingSettings": ("pointdiff.sample", "SamplingSettings"),
    "ingest": ("pointdiff.data.ingest", "ingest"),
    "IngestConfig": ("pointdiff.data.ingest", "IngestConfig"),
    "embed": ("pointdiff.embedding", "embed_dataset"),
    "EmbedConfig": ("pointdiff.embedding", "EmbedConfig"),
    "train": ("pointdiff.training", "train"),
    "TrainConfig": ("pointdiff.recipe", "TrainConfig"),
    "load_training_data": ("pointdiff.data.training", "load_training_data"),
    "evaluate_run": ("pointdiff.evaluate", "evaluate_run"),
    "EvalConfig": ("pointdiff.evaluate", "EvalConfig"),
    "PointdiffError": ("pointdiff.errors", "PointdiffError"),
}

__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    """Import a public name on first use (PEP 562)."""
    if name not in _API:
        raise AttributeError(f"module 'pointdiff' has no attribute {name!r}")
    module, attr = _API[name]
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
