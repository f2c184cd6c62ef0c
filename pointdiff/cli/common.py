"""Options and helpers every command shares, so they read the same everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from pointdiff.workspace import Workspace, find_workspace

WorkspaceOpt = typer.Option(
    None, "--workspace", "-w", help="Project folder (default: $POINTDIFF_WORKSPACE, pointdiff.yaml's 'workspace', else ./pointdiff-work).", show_default=False
)
ConfigOpt = typer.Option(None, "--config", "-c", help="YAML file of settings for this command; flags override it.", exists=False)
DeviceOpt = typer.Option(None, "--device", help="auto, cpu, cuda, cuda:N or mps (default: auto = cuda if available, else cpu).")
SeedOpt = typer.Option(None, "--seed", help="Random seed: same seed, same output.")
ThreadsOpt = typer.Option(None, "--threads", help="CPU threads for torch (default: torch's choice, all cores). On a busy shared machine 1 can be far faster than 2.")

# Generation options shared by the commands that run a transformers model (caption, summarize).
DtypeOpt = typer.Option(None, help="auto, float32, bfloat16 or float16. Default: auto = bfloat16 on GPU, float32 on CPU.", show_default=False)
SampleOpt = typer.Option(None, "--sample/--greedy", help="Sample instead of greedy decoding. Default: greedy, deterministic.", show_default=False)
RevisionOpt = typer.Option(None, help="Hub branch, tag or commit of --model.", show_default=False)
TrustRemoteCodeOpt = typer.Option(False, "--trust-remote-code", help="Let the model folder run its own Python code (only for sources you trust).")


def workspace(path: Optional[Path]) -> Workspace:
    """The workspace for a command's ``--workspace`` value."""
    return find_workspace(path)


def set_threads(threads: int | None) -> None:
    """Apply a command's ``--threads`` (None: leave torch's choice)."""
    if threads is not None:
        import torch

        torch.set_num_threads(max(1, threads))
