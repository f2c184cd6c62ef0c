"""`pointdiff caption`: parse flags, call :func:`pointdiff.text.caption.caption`, render what it did.

    pointdiff caption                                   # the workspace dataset, FastVLM 0.5B
    pointdiff caption images/                           # a plain folder -> images/metadata.jsonl
    pointdiff caption --model HuggingFaceTB/SmolVLM-256M-Instruct --batch-size 8 --device cuda
    torchrun --nproc_per_node 4 -m pointdiff caption --device cuda   # 4 GPUs share the images; process 0 writes
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer
from rich.markup import escape

from pointdiff.cli import common
from pointdiff.cli.render import LazyBar, console, err_console, table

if TYPE_CHECKING:  # the core imports torch; load it only when the command runs, so --help stays fast
    from pointdiff.text.caption import CaptionResult

HELP = """Describe every image in words with a vision-language model (long descriptions).

SRC is a dataset folder (default: the workspace dataset) or a plain folder of images.
A dataset gets one row per image in DATASET/captions.jsonl; a folder gets
FOLDER/metadata.jsonl (file_name + text), which `pointdiff ingest FOLDER` then reads
as the images' captions.

Any image-text-to-text model transformers supports works (Llava family, Qwen2-VL,
SmolVLM, ...): a hub id (downloaded into the Hugging Face cache on first use, unless
--offline or HF_HUB_OFFLINE=1), or a folder. The default is FastVLM 0.5B, the reference's captioner, through
transformers' native port (its vision tower needs the timm extra).

Resumable: every description is stored in a cache (WORKSPACE/cache/caption.jsonl)
under the image's sha256, the model, the prompt and the generation settings, the
moment it is made. An interrupted run continues where it stopped; a finished one
does nothing.

Under torchrun (`torchrun --nproc_per_node N -m pointdiff caption ...`) the N
processes each describe a share of the images (--device cuda: one GPU each); process
0 writes the cache and the output, the same rows one process writes.

\b
Examples:
  pointdiff caption
  pointdiff caption images/ --recursive
  pointdiff caption --model /models/FastVLM-0.5B --device cuda --batch-size 16
  pointdiff caption --prompt "Describe this face in one sentence."
"""


def _render(r: CaptionResult) -> None:
    """Print what a caption run did."""
    if r.nothing_to_do:
        console.print(
            f"[green]up to date[/]: all {r.total} images already described by {escape(r.model)} with this prompt "
            f"and settings in {escape(str(r.output))}; nothing to do"
        )
        return
    rows: list[tuple[str, object]] = [
        ("source", escape(str(r.source))),
        ("images", r.total),
        ("described now", r.generated),
        ("from the cache", r.from_cache),
        ("already up to date", r.up_to_date),
    ]
    stats = r.word_stats()
    if stats:
        rows.append(("words mean / median / max", f"{stats[0]:.0f} / {stats[1]:.0f} / {stats[2]}"))
    rows += [("model", escape(f"{r.model} ({r.fingerprint.split('@', 1)[-1]})")), ("prompt sha", r.prompt_sha)]
    if r.generated and r.seconds:
        rows.append(("time", f"{r.seconds:.1f} s ({r.generated / r.seconds:.2f} images/s)"))
    rows += [("output", escape(str(r.output))), ("cache", escape(str(r.cache)))]
    console.print(table("caption", ["", "value"], rows, justify_numbers=False))
    if r.example:
        sid, text = r.example
        console.print(f"[bold]{escape(sid)}[/]: {escape(text[:400])}{'…' if len(text) > 400 else ''}")
    if r.cut_short:
        shown = ", ".join(r.cut_short[:5]) + (" …" if len(r.cut_short) > 5 else "")
        err_console.print(f"[yellow]{len(r.cut_short)} descriptions stopped at --max-new-tokens[/] ({escape(shown)}); raise it for complete ones")
    if r.from_ink:
        err_console.print(f"[yellow]{len(r.from_ink)} images were no longer at their source path[/]: described from their ink pixels (black on white)")
    if r.summaries_outdated():
        console.print("note: summaries.jsonl still summarizes the earlier descriptions (summaries win over captions); rerun `pointdiff summarize`")
    if r.feeds_ingest:
        console.print(f"next: [bold]pointdiff ingest {escape(str(r.source))}[/] reads these as the images' captions")
    else:
        console.print("next: [bold]pointdiff summarize[/] shortens them to the text encoder's budget")


def register(app: typer.Typer) -> None:
    """Add the ``caption`` command to ``app``."""

    @app.command("caption", help=HELP)
    @common.generation_options
    def caption_cmd(
        src: Optional[Path] = typer.Argument(None, help="Dataset folder or image folder. Default: WORKSPACE/dataset.", show_default=False),
        model: Optional[str] = typer.Option(None, "--model", "-m", help="Hub id (downloaded on first use) or model folder. Default: KamilaMila/FastVLM-0.5B.", show_default=False),
        prompt: Optional[str] = typer.Option(None, help="What to ask about each image. Default: the reference prompt: orientation, expression, other features, 200-300 words.", show_default=False),
        max_new_tokens: Optional[int] = typer.Option(None, "--max-new-tokens", help="Longest description in tokens. Default: 512.", show_default=False),
        batch_size: Optional[int] = typer.Option(None, "--batch-size", "-b", help="Images per generate call. Default: 4.", show_default=False),
        generation: Optional[dict[str, Any]] = None,  # --device, --dtype, --sample, --seed, --revision, --trust-remote-code
        recursive: Optional[bool] = typer.Option(None, "--recursive/--no-recursive", "-r", help="Image folders: also caption subfolders. Default: no.", show_default=False),
        out: Optional[Path] = typer.Option(None, "--out", "-o", help="Image folders: write metadata rows here. Default: SRC/metadata.jsonl.", show_default=False),
        cache: Optional[Path] = typer.Option(None, "--cache", help="Result cache file. Default: WORKSPACE/cache/caption.jsonl.", show_default=False),
        offline: bool = common.OfflineOpt,
        workspace: Optional[Path] = common.WorkspaceOpt,
        config: Optional[Path] = common.ConfigOpt,
    ) -> None:
        from pointdiff.config import load_config
        from pointdiff.device import resolve_device
        from pointdiff.distributed import launch
        from pointdiff.text.caption import CaptionConfig, caption

        common.set_offline(offline)
        ws = common.workspace(workspace)
        overrides = {**(generation or {}), "model": model, "max_new_tokens": max_new_tokens, "batch_size": batch_size, "prompt": prompt, "recursive": recursive}
        cfg = load_config(CaptionConfig, workspace_section=ws.section("caption"), config_file=config, overrides=overrides)
        target = src if src is not None else ws.dataset
        cache_path = cache or ws.root / "cache" / "caption.jsonl"
        with launch(resolve_device(cfg.device)) as dist:  # torchrun's process group; none in a plain process
            if not dist.is_main:  # every process describes its share; process 0 writes and talks
                caption(target, cfg, cache_path=cache_path, out=out, dist=dist)
                return
            with ExitStack() as stack:
                bar = LazyBar(stack, "caption")  # process 0 counts every process's batches
                result = caption(target, cfg, cache_path=cache_path, out=out, progress=bar, dist=dist)
        _render(result)

