"""Training a run: the recipe, the data and a run folder put together, with checkpoints.

Usage (``pointdiff train`` wraps exactly this)::

    from pointdiff.recipe import TrainConfig
    from pointdiff.training import train
    result = train(TrainConfig(steps=3000), "pointdiff-work/dataset", run_dir="runs/demo")
    result.model, result.ema                                    # EMA weights are what generate uses

or, deciding recipe, data and run folder the way the CLI does (presets, ``pointdiff.yaml``,
``--resume latest``)::

    plan = plan_training(find_workspace(), overrides={"steps": 500})
    result = plan.run(device="cpu")

The loop itself is :class:`pointdiff.trainer.Trainer`; this module attaches the
:class:`~pointdiff.checkpoint.Checkpointer` and any other callbacks to it.

Under ``torchrun`` (:mod:`pointdiff.distributed`) every process runs the same calls: rank 0
decides the run folder, takes its lock and writes every file, the others use what it decided
and wait where it writes; all of them train their share of each step's global batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pointdiff import checkpoint as ckpt
from pointdiff.config import apply, load_config, preset_path
from pointdiff.data.training import TrainingData, load_training_data
from pointdiff.distributed import Distributed, current
from pointdiff.errors import PointdiffError
from pointdiff.lock import exclusive
from pointdiff.flow.model import VelocityModel
from pointdiff.progress import ProgressFn
from pointdiff.recipe import TrainConfig
from pointdiff.trainer import Callback, Trainer, TrainingDiverged, local_clouds
from pointdiff.workspace import Workspace


@dataclass
class TrainResult:
    """A finished run."""

    trainer: Trainer
    run_dir: Path | None
    checkpoint: Path | None  # the last checkpoint written

    @property
    def model(self) -> VelocityModel:
        """The trained weights."""
        return self.trainer.model

    @property
    def ema(self) -> VelocityModel | None:
        """Their moving average (what generate uses), or None when the run keeps none."""
        return self.trainer.ema.model if self.trainer.ema is not None else None

    @property
    def losses(self) -> list[float]:
        """One loss per step."""
        return self.trainer.losses


def train(
    cfg: TrainConfig,
    data: TrainingData | str | Path,
    run_dir: str | Path | None = None,
    callbacks: Sequence[Callback] = (),
    progress: ProgressFn | None = None,
    device: str = "cpu",
    resume: str | Path | None = None,
    dist: Distributed | None = None,
) -> TrainResult:
    """Train (or resume) a run; with ``run_dir``, checkpoint into it as it goes.

    Args:
        cfg: the recipe.
        data: points, condition vectors and encoder (:func:`load_training_data`), or the
            dataset folder / reference ``.pt`` file to load them from.
        run_dir: where checkpoints, ``meta.json`` and ``loss.png`` go (None: nothing written).
        callbacks: ``callback(trainer)`` after every step (evaluation, logging, early stop).
        progress: ``progress(step, steps, loss=…, steps/s=…)``.
        device: ``cpu``, ``cuda``, ``cuda:N``.
        resume: a checkpoint folder to continue from exactly (model, EMA, optimizer, RNG, step).
        dist: this process's place among several (every one calls ``train`` alike; rank 0
            writes); default: the process group this process joined, if any
            (:func:`pointdiff.distributed.current`).
    """
    if not isinstance(data, TrainingData):
        data = load_training_data(data)
    trainer = Trainer(cfg, data, device, dist)
    with ExitStack() as held:
        if run_dir is not None:  # one writer per run folder: rank 0, for all the processes of this run
            trainer.dist.on_main(lambda: held.enter_context(exclusive(run_dir, "train")))
        if resume is not None:  # every process loads the same checkpoint
            ckpt.restore_trainer(trainer, resume)
        callbacks = list(callbacks)
        saver = None
        if run_dir is not None:
            saver = ckpt.Checkpointer(Path(run_dir), every=cfg.checkpoint_every, keep=cfg.keep_checkpoints)
            callbacks.append(saver)
        try:
            trainer.run(cfg.steps, callbacks, progress)
        except TrainingDiverged as e:
            kept = ckpt.list_checkpoints(run_dir) if run_dir is not None else []
            where = f"The last good checkpoint, {kept[-1]}, is kept and draws as before" if kept else "No checkpoint was written before it"
            raise PointdiffError(f"{e}. {where}. To train past it, start a new run with {e.hints}.") from None
        finally:
            trainer.release()  # no DDP wrapper outlives the training (the process may leave the group next)
        last = None
        if saver is not None:
            last = saver.save(trainer)  # the final state, even between checkpoints (no-op if just saved)
            saver.plot_losses(trainer)
    return TrainResult(trainer=trainer, run_dir=Path(run_dir) if run_dir is not None else None, checkpoint=last)


@dataclass
class TrainPlan:
    """A run decided but not started: recipe, data, where it goes, what it continues."""

    cfg: TrainConfig
    data: TrainingData
    run_dir: Path
    resume_from: Path | None  # the checkpoint a resumed run continues
    workspace: Workspace
    epochs_note: str | None = None  # what --epochs meant, in words, when it was given
    recipe_note: str | None = None  # why the recipe is not the one asked for (colour data under the default)

    @property
    def num_params(self) -> int:
        """Parameters of the model this plan trains."""
        return self.cfg.num_params(self.data.cond.shape[1])

    def run(self, device: str = "cpu", progress: ProgressFn | None = None, callbacks: Sequence[Callback] = (), dist: Distributed | None = None) -> TrainResult:
        """Train as planned; a run under the workspace's runs/ becomes its latest (rank 0 marks it)."""
        dist = dist if dist is not None else current()
        result = train(self.cfg, self.data, run_dir=self.run_dir, callbacks=callbacks, progress=progress, device=device, resume=self.resume_from, dist=dist)
        if self.run_dir.resolve().parent == self.workspace.runs.resolve():
            dist.on_main(lambda: self.workspace.set_latest(self.run_dir))
        return result


def plan_training(
    ws: Workspace,
    *,
    data: str | Path | None = None,
    preset: str = "default",
    config_file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    epochs: int | None = None,
    resume: str | Path | None = None,
    out: str | Path | None = None,
    name: str | None = None,
    dist: Distributed | None = None,
) -> TrainPlan:
    """Decide a run the way ``pointdiff train`` does.

    A new run's recipe comes from, in increasing precedence: the preset, the workspace's
    ``train:`` section, ``config_file``, then ``overrides``. A resumed run (``resume``:
    ``latest``, a run folder or a checkpoint) keeps its stored recipe and folder; only the
    settings in :data:`pointdiff.recipe.RESUMABLE` may change. ``epochs`` is the reference's
    unit (:meth:`TrainConfig.steps_for_epochs`) and replaces ``steps``.

    With several processes (``dist``; default: the group this process joined, if any) every
    one plans alike, and rank 0 alone picks the checkpoint ``latest`` means and creates the
    run folder: the others take its answer, so all of them train into one run.

    Raises:
        PointdiffError: conflicting choices, nothing to resume, a batch the processes cannot
            share, or data that cannot be trained on.
    """
    dist = dist if dist is not None else current()
    overrides = dict(overrides or {})
    if epochs is not None and "steps" in overrides:
        raise PointdiffError("give --steps or --epochs, not both")
    resume_from = None
    if resume is not None:
        if config_file is not None or preset != "default":
            raise PointdiffError("a resumed run keeps its recipe; --preset and --config cannot change it")
        resume_from = dist.on_main(lambda: _resolve_resume(resume, ws))  # "latest" must mean one checkpoint for all
        meta = ckpt.read_meta(resume_from)
        cfg = TrainConfig.from_meta(meta).resumed(overrides)
        data_path = Path(data) if data is not None else Path(meta["data"]["source"])
        run_dir = ckpt.run_dir_of(resume_from)
    else:
        cfg = load_config(
            TrainConfig,
            preset=None if preset == "default" else preset_path("train", preset),
            workspace_section=ws.section("train"),
            config_file=config_file,
            overrides=overrides,
        )
        data_path = Path(data) if data is not None else ws.dataset
        run_dir = None
    # The density model reads each picture once, to code it: its points need not stay in memory.
    training_data = load_training_data(data_path, stream=True if cfg.arch == "density" else None)
    recipe_note = None
    if cfg.arch == "density" and training_data.sampler.dim != 2:
        chosen = "arch" in overrides or config_file is not None or "arch" in (ws.section("train") or {}) or preset != "default"
        if resume_from is not None or chosen:
            raise PointdiffError("the density model draws (x, y) points only; train colour clouds with --preset film")
        # The default recipe on colour data: the per-point flow, which draws colour (the density model cannot yet).
        cfg = load_config(TrainConfig, preset=preset_path("train", "film"), workspace_section=ws.section("train"), overrides=overrides)
        recipe_note = "colour clouds: training the film recipe (--preset film), since the default density model draws (x, y) only"
    epochs_note = None
    if epochs is not None:
        cfg = apply(cfg, {"steps": cfg.steps_for_epochs(epochs)})
        epochs_note = cfg.describe_epochs(epochs)
    cfg.validate()
    local_clouds(cfg, dist)  # refuse a batch the processes cannot share before a run folder is made
    if run_dir is None:
        run_dir = dist.on_main(lambda: _make_run_dir(ws, out, name))  # one folder (a name by the time) for all
    return TrainPlan(cfg=cfg, data=training_data, run_dir=Path(run_dir), resume_from=resume_from, workspace=ws, epochs_note=epochs_note, recipe_note=recipe_note)


def _make_run_dir(ws: Workspace, out: str | Path | None, name: str | None) -> Path:
    """Create a new run's folder: ``out``, or a fresh one under the workspace's runs/."""
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        return Path(out)
    return ws.new_run_dir(name)


def _resolve_resume(value: str | Path, ws: Workspace) -> Path:
    """The checkpoint ``--resume`` names: ``latest`` is the newest checkpoint of the workspace's runs.

    Not ``runs/LATEST``: a run is marked that only when it finishes, and the run to resume is
    usually one that was stopped before it could.
    """
    if str(value) == "latest":
        runs = sorted(p for p in ws.runs.iterdir() if p.is_dir()) if ws.runs.is_dir() else []
        newest = [found[-1] for run in runs if (found := ckpt.list_checkpoints(run))]
        if not newest:
            raise PointdiffError(f"nothing to resume: no checkpoint in {ws.runs}")
        return max(newest, key=lambda c: (c / ckpt.META_FILE).stat().st_mtime_ns)
    return ckpt.resolve_checkpoint(Path(value))
