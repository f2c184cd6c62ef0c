"""`pointdiff train`: a flow-matching model from the dataset's points and text vectors.

    pointdiff train                                  # the workspace dataset, our default recipe
    pointdiff train --preset film                    # the per-point flow, the default before the density model
    pointdiff train --preset density-velocity        # the density model as it was before its prior predicted codes
    pointdiff train --preset seed                    # the reference recipe exactly (20000 one-cloud steps)
    pointdiff train --preset seed --epochs 20000     # the same, in the reference's own words
    pointdiff train --data data.pt --steps 5000      # the reference system's data file
    pointdiff train --resume latest --steps 6000     # continue the newest run, exactly
    torchrun --nproc_per_node 4 -m pointdiff train   # 4 processes share each step's clouds (rank 0 writes)
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Optional

import typer

from pointdiff.cli import common
from pointdiff.cli.render import console, err_console, progress_bar
from pointdiff.device import resolve_device
from pointdiff.errors import PointdiffError

EPOCHS_HELP = (
    "Training length in the reference's unit: its 'epoch' was one step on one cloud of 1024 points. "
    "For the point flows (presets seed, film, latent) N epochs = as many training points: "
    "ceil(N × 1024 / (clouds_per_step × points_per_cloud)) steps, so `--preset seed --epochs 20000` is the reference's run. "
    "The default density model learns codes of whole pictures, not points: there N epochs = the same share of a full run "
    "(20000 epochs = its full 8000 steps). Not passes over the dataset; the command says what it means before training starts."
)


def _parse_sets(items: list[str] | None) -> dict[str, str]:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise PointdiffError(f"--set expects KEY=VALUE, got {item!r}")
        out[key.strip().replace("-", "_")] = value.strip()
    return out


def register(app: typer.Typer) -> None:
    """Add the ``train`` command to ``app``."""

    @app.command("train")
    def train_cmd(
        data: Optional[Path] = typer.Option(None, "--data", "-d", help="Dataset folder with embeddings (default: the workspace's), or the reference's data .pt file."),
        preset: str = typer.Option("default", "--preset", "-p", help="Recipe: 'default' (ours, measured: the density model, 8000 steps, ~3 min on 2 cores), 'short' (the same for 3000 steps), 'density-velocity' (the default before its prior predicted codes), 'film' (the per-point flow that was the default before the density model, ~9 min), 'seed' (the reference recipe exactly) or 'latent' (experimental: the latent-map model, 4200 steps, ~8 min)."),
        config: Optional[Path] = common.ConfigOpt,
        steps: Optional[int] = typer.Option(None, "--steps", "-s", help="Optimizer steps (each on clouds_per_step clouds). Default: the recipe's."),
        epochs: Optional[int] = typer.Option(None, "--epochs", help=EPOCHS_HELP),
        checkpoint_every: Optional[int] = typer.Option(None, "--checkpoint-every", help="Steps between checkpoints (the last step is always saved)."),
        keep: Optional[int] = typer.Option(None, "--keep", help="Keep the newest N checkpoints (0 = all)."),
        resume: Optional[str] = typer.Option(None, "--resume", help="Continue a run exactly: 'latest', a run folder or a checkpoint folder."),
        name: Optional[str] = typer.Option(None, "--name", help="Run name (default: run-<date>-<time>) under the workspace's runs/."),
        out: Optional[Path] = typer.Option(None, "--out", help="Run folder to write (instead of workspace/runs/<name>)."),
        lr: Optional[float] = typer.Option(None, "--lr", help="Peak learning rate."),
        clouds_per_step: Optional[int] = typer.Option(None, "--clouds-per-step", help="Clouds (captions) per optimizer step, all processes together under torchrun (must divide by their number)."),
        points_per_cloud: Optional[int] = typer.Option(None, "--points-per-cloud", help="Fresh points drawn per cloud per step."),
        precision: Optional[str] = typer.Option(None, "--precision", help="auto (bf16 where the hardware has fast bf16, else fp32), bf16 (autocast) or fp32."),
        sets: Optional[list[str]] = typer.Option(None, "--set", help="Any TrainConfig setting, KEY=VALUE (repeatable), e.g. --set ema_decay=0.99."),
        device: Optional[str] = common.DeviceOpt,
        threads: Optional[int] = common.ThreadsOpt,
        seed: Optional[int] = common.SeedOpt,
        workspace: Optional[Path] = common.WorkspaceOpt,
    ) -> None:
        """Train a text-conditioned flow-matching model on the dataset's point clouds.

        Settings come from, in increasing precedence: the recipe (--preset), the `train:` section of pointdiff.yaml, --config FILE.yaml, --set, then the named flags.

        Checkpoints (safetensors weights + meta.json + optimizer/RNG state) go to the run folder every --checkpoint-every steps, with loss.png; `pointdiff generate` uses the newest run.

        Under torchrun (`torchrun --nproc_per_node N -m pointdiff train ...`) the N processes share each step's clouds and train one run; process 0 writes it and reports.
        """
        from pointdiff.checkpoint import LOSS_PLOT
        from pointdiff.distributed import launch
        from pointdiff.training import plan_training

        ws = common.workspace(workspace)
        common.set_threads(threads)
        flags = {"lr": lr, "clouds_per_step": clouds_per_step, "points_per_cloud": points_per_cloud, "precision": precision, "seed": seed, "checkpoint_every": checkpoint_every, "keep_checkpoints": keep, "steps": steps}
        overrides = {**_parse_sets(sets), **{k: v for k, v in flags.items() if v is not None}}  # named flags win over --set
        asked = resolve_device(device)
        with launch(asked) as dist:  # torchrun's process group; none in a plain process
            plan = plan_training(ws, data=data, preset=preset, config_file=config, overrides=overrides, epochs=epochs, resume=resume, out=out, name=name, dist=dist)
            cfg, training_data, dev = plan.cfg, plan.data, dist.place(asked)
            if dist.is_main:  # every process runs this command; one of them talks
                for note in (plan.recipe_note, plan.epochs_note):
                    if note:
                        err_console.print(note)
                shared = f" ({cfg.clouds_per_step // dist.world_size} in each of {dist.world_size} processes)" if dist.active else ""
                err_console.print(
                    f"training [bold]{cfg.arch}[/] ({plan.num_params:,} parameters) on {training_data.num_pictures} pictures"
                    + (f" ({len(training_data.cond)} texts)" if len(training_data.cond) != training_data.num_pictures else "")
                    + f" from {training_data.source} "
                    f"({training_data.encoder.id}, {training_data.encoder.dim}-d) for {cfg.steps} steps × {cfg.clouds_per_step} "
                    + (f"captions' picture codes{shared}" if cfg.arch == "density" else f"clouds{shared} × {cfg.points_per_cloud} points")
                    + f", {cfg.precision} on {dev}{' (rank 0)' if dist.active else ''} -> {plan.run_dir}"
                    + (f" (resuming {plan.resume_from.name})" if plan.resume_from else "")
                )
            with progress_bar("train", cfg.steps) if dist.is_main else nullcontext(None) as bar:
                result = plan.run(device=dev, progress=bar, dist=dist)
        if not dist.is_main:
            return
        t = result.trainer
        console.print(f"trained {t.step} steps in {t.elapsed:.0f} s ({t.step_rate():.1f} steps/s); last loss {t.last_loss:.3f}")
        console.print(f"checkpoint: {result.checkpoint}")
        console.print(f"loss curve: {plan.run_dir / LOSS_PLOT}")
        console.print(f'next: pointdiff generate "your prompt" --model {plan.run_dir}')
