"""`pointdiff generate`: pictures (point clouds) from prompts, with a trained model.

    pointdiff generate "left-facing, neutral"                      # newest run of the workspace
    pointdiff generate "smiling" "frowning" --num-samples 4 --seed 1
    pointdiff generate "front-facing" --out face.ply --num-points 4096
    pointdiff generate "turned right" --steps 200 --solver euler   # the reference's sampler
    pointdiff generate "surprised" --animate flow.gif
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from pointdiff.cli import common
from pointdiff.cli.render import console, err_console
from pointdiff.errors import PointdiffError


def register(app: typer.Typer) -> None:
    """Add the ``generate`` command to ``app``."""

    @app.command("generate")
    def generate_cmd(
        prompts: list[str] = typer.Argument(..., help="One or more prompts (each becomes a row of the grid)."),
        model: Optional[Path] = typer.Option(None, "--model", "-m", help="Run folder or checkpoint folder (default: the workspace's newest run)."),
        steps: Optional[int] = typer.Option(None, "--steps", "--num-inference-steps", help="Solver steps (default: the model's; network evaluations = steps × 1/2/2/4 for euler/midpoint/heun/rk4)."),
        solver: Optional[str] = typer.Option(None, "--solver", help="euler | midpoint | heun | rk4 | adaptive (Dormand–Prince 5(4), --rtol/--atol)."),
        guidance: Optional[float] = typer.Option(None, "--guidance", "--guidance-scale", "-g", help="Classifier-free guidance s: uncond + s·(cond − uncond); 1 = off (needs a model trained with cond_dropout > 0)."),
        num_points: Optional[int] = typer.Option(None, "--num-points", "-n", help="Points per picture (any number; default 1024)."),
        num_samples: Optional[int] = typer.Option(None, "--num-samples", "--num-images-per-prompt", help="Pictures per prompt (grid columns)."),
        out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output file: .png (grid), .npy, .csv or .ply (default: workspace outputs/generate-<time>.png). A model trained on colour (ingest --color) draws coloured points: r, g, b columns in .csv, colour properties in .ply."),
        animate: Optional[Path] = typer.Option(None, "--animate", help="Also write a GIF of the flow from noise to picture."),
        encoder: Optional[str] = typer.Option(None, "--encoder", help="Where the model's text encoder is (default: the id stored in the model); must be the same encoder."),
        precision: Optional[str] = typer.Option(None, "--precision", help="auto (bf16 where the hardware has fast bf16, else fp32), bf16 or fp32 (default: the model's; seed: fp32)."),
        rtol: Optional[float] = typer.Option(None, "--rtol", help="Relative tolerance of --solver adaptive."),
        atol: Optional[float] = typer.Option(None, "--atol", help="Absolute tolerance of --solver adaptive."),
        config: Optional[Path] = common.ConfigOpt,
        device: Optional[str] = common.DeviceOpt,
        threads: Optional[int] = common.ThreadsOpt,
        seed: Optional[int] = common.SeedOpt,
        workspace: Optional[Path] = common.WorkspaceOpt,
    ) -> None:
        """Draw point-cloud pictures from prompts and print where they were written.

        The prompts are encoded once with the model's own text encoder (another encoder is refused: its vectors mean nothing to the model). Same --seed, same pictures; each prompt starts from the same noise, so a grid compares prompts fairly.
        """
        from pointdiff.config import load_config
        from pointdiff.pipeline import GenerateConfig, load

        ws = common.workspace(workspace)
        common.set_threads(threads)
        cfg = load_config(
            GenerateConfig,
            workspace_section=ws.section("generate"),
            config_file=config,
            overrides={"steps": steps, "solver": solver, "guidance": guidance, "num_points": num_points, "num_samples": num_samples, "seed": seed, "precision": precision, "rtol": rtol, "atol": atol},
        )
        if model is None:
            model = ws.latest_run()
            if model is None:
                raise PointdiffError(f"no trained model in {ws.root}; run `pointdiff train` first or pass --model RUN_DIR")
        pipe = load(model, device=device, encoder=encoder)
        if pipe.encoder_note:  # loads the encoder now, before the timing
            err_console.print(f"[yellow]note:[/] {pipe.encoder_note}")
        start = time.perf_counter()
        gen = pipe.generate(prompts, cfg, keep_path=animate is not None)
        seconds = time.perf_counter() - start
        if out is None:
            out = ws.outputs / time.strftime("generate-%Y%m%d-%H%M%S.png")
        gen.save(out)
        s, run = gen.settings, pipe.run
        err_console.print(
            f"{len(prompts)} prompt(s) × {cfg.num_samples} sample(s) × {cfg.num_points} points with {run.path} (step {run.meta['step']}): "
            f"{s['solver']} {s['steps']} steps = {s['nfe']} evaluations, guidance {s['guidance']}, seed {s['seed']}, {seconds:.2f} s"
        )
        console.print(str(out))
        if animate is not None:
            gen.save_animation(animate)
            console.print(str(animate))
