"""Options and helpers every command shares, so they read the same everywhere."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import typer

from pointdiff.workspace import Workspace, find_workspace

WorkspaceOpt = typer.Option(
    None, "--workspace", "-w", help="Project folder (default: $POINTDIFF_WORKSPACE, pointdiff.yaml's 'workspace', else ./pointdiff-work).", show_default=False
)
ConfigOpt = typer.Option(None, "--config", "-c", help="YAML file of settings for this command; flags override it.", exists=False)
DeviceOpt = typer.Option(None, "--device", help="auto, cpu, cuda, cuda:N or mps (default: auto = cuda if available, else mps, else cpu).")
SeedOpt = typer.Option(None, "--seed", help="Random seed: same seed, same output.")
OfflineOpt = typer.Option(
    False, "--offline", help="Use only models already on this machine, like HF_HUB_OFFLINE=1 (default: a hub model not yet cached is downloaded on first use, into the Hugging Face cache)."
)
ThreadsOpt = typer.Option(None, "--threads", help="CPU threads for torch (default: torch's choice, all cores). On a busy shared machine 1 can be far faster than 2.")

# Generation options shared by the commands that run a transformers model (caption, summarize).
DtypeOpt = typer.Option(None, help="auto, float32, bfloat16 or float16. Default: auto = bfloat16 on GPU, float32 on CPU.", show_default=False)
SampleOpt = typer.Option(None, "--sample/--greedy", help="Sample instead of greedy decoding. Default: greedy, deterministic.", show_default=False)
RevisionOpt = typer.Option(None, help="Hub branch, tag or commit of --model.", show_default=False)
TrustRemoteCodeOpt = typer.Option(False, "--trust-remote-code", help="Let the model folder run its own Python code (only for sources you trust).")


# name -> (type, option) of the flags above, in --help order; `generation_options` adds them to a command.
_GENERATION_FLAGS: dict[str, tuple[Any, Any]] = {
    "device": (Optional[str], DeviceOpt),
    "dtype": (Optional[str], DtypeOpt),
    "sample": (Optional[bool], SampleOpt),
    "seed": (Optional[int], SeedOpt),
    "revision": (Optional[str], RevisionOpt),
    "trust_remote_code": (bool, TrustRemoteCodeOpt),
}


def generation_overrides(
    *, device: str | None, dtype: str | None, sample: bool | None, seed: int | None, revision: str | None, trust_remote_code: bool
) -> dict[str, Any]:
    """The shared generation flags as overrides of ``GenerationOptions`` fields (pointdiff.text.generation); None = not given.

    ``--trust-remote-code`` is a plain switch: off means "not given", so a config file's
    ``trust_remote_code: true`` stands.
    """
    return dict(device=device, dtype=dtype, do_sample=sample, seed=seed, revision=revision, trust_remote_code=trust_remote_code or None)


def generation_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command the generation flags `caption` and `summarize` share, in place of its ``generation`` parameter.

    Typer sees ``--device``, ``--dtype``, ``--sample/--greedy``, ``--seed``, ``--revision`` and
    ``--trust-remote-code`` where the command declares ``generation``; the command receives
    them as one dict of ``GenerationOptions`` overrides (:func:`generation_overrides`). So the
    flags, their help and their mapping are written once, here.
    """
    sig = inspect.signature(command)
    params = list(sig.parameters.values())
    at = [p.name for p in params].index("generation")
    shared = [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=opt, annotation=kind) for name, (kind, opt) in _GENERATION_FLAGS.items()]

    @functools.wraps(command)
    def run(**kwargs: Any) -> Any:
        flags = {name: kwargs.pop(name) for name in _GENERATION_FLAGS}
        return command(**kwargs, generation=generation_overrides(**flags))

    run.__signature__ = sig.replace(parameters=[*params[:at], *shared, *params[at + 1 :]])  # type: ignore[attr-defined]
    hints = {k: v for k, v in command.__annotations__.items() if k != "generation"}
    run.__annotations__ = {**hints, **{name: kind for name, (kind, _) in _GENERATION_FLAGS.items()}}
    return run


def workspace(path: Optional[Path]) -> Workspace:
    """The workspace for a command's ``--workspace`` value."""
    return find_workspace(path)


def set_offline(offline: bool) -> None:
    """Apply a command's ``--offline``: the command's process sets HF_HUB_OFFLINE, which every download honours."""
    if offline:
        import os

        os.environ["HF_HUB_OFFLINE"] = "1"


def set_threads(threads: int | None) -> None:
    """Apply a command's ``--threads`` (None: leave torch's choice)."""
    if threads is not None:
        import torch

        torch.set_num_threads(max(1, threads))
