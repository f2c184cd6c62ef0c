"""`pointdiff summarize`: parse flags, call :func:`pointdiff.text.summarize.summarize`, render the before/after table.

    pointdiff summarize                                  # Qwen2.5-7B-Instruct, minilm's budget
    pointdiff summarize --encoder clip --model Qwen/Qwen2.5-1.5B-Instruct
    pointdiff summarize --pass-through                   # copy texts that already fit; model only for the rest
    torchrun --nproc_per_node 4 -m pointdiff summarize --device cuda   # 4 GPUs share the texts; process 0 writes
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
    from pointdiff.text.summarize import SummarizeResult

HELP = """Shorten each long description to fit the text encoder's token budget.

An instruction-tuned LLM rewrites every description of DATASET (default: the workspace
dataset) as 2-3 short sentences that keep face orientation and expression (the
reference's instruction). Each summary is counted with the tokenizer of the encoder
that will embed it (--encoder; default: the dataset's embeddings encoder, else minilm;
CLIP reads 77 tokens). One over budget is rewritten with a stricter instruction
(--retries); one still over is written and flagged, never cut.

Any chat model transformers loads with AutoModelForCausalLM works: a hub id (downloaded
into the Hugging Face cache on first use, unless --offline or HF_HUB_OFFLINE=1), or a
folder. The default is the
reference's Qwen/Qwen2.5-7B-Instruct; Qwen/Qwen2.5-0.5B-, 1.5B- and 3B-Instruct are
faster.

Writes DATASET/summaries.jsonl; resumable through WORKSPACE/cache/summarize.jsonl.
Under torchrun (`torchrun --nproc_per_node N -m pointdiff summarize ...`) the N
processes each summarize a share of the texts; process 0 writes, the same rows one
process writes.

\b
Examples:
  pointdiff summarize
  pointdiff summarize --encoder clip --model Qwen/Qwen2.5-1.5B-Instruct --device cuda
  pointdiff summarize --pass-through
"""


def _fmt(stats: tuple[float, float, int] | None) -> tuple[str, str, str]:
    return ("-", "-", "-") if stats is None else (f"{stats[0]:.1f}", f"{stats[1]:.0f}", str(stats[2]))


def _render(r: SummarizeResult) -> None:
    """Print what a summarize run did, with words and tokens before -> after."""
    if r.total == 0:
        err_console.print(f"[yellow]no sample of {escape(str(r.dataset))} has a text to summarize[/]; run `pointdiff caption` first")
        return
    if r.nothing_to_do:
        console.print(f"[green]up to date[/]: all {r.total} summaries in {escape(str(r.output))} match these settings; nothing to do")
    else:
        parts = [f"{n} {what}" for n, what in ((r.generated, "by the model now"), (r.from_cache, "from the cache"),
                                               (r.passed_through, "passed through"), (r.up_to_date, "already up to date")) if n]
        console.print(f"summarized {r.total} texts in {r.seconds:.1f} s: {', '.join(parts) or 'nothing new'} -> {escape(str(r.output))}")
    rows = []
    for name, stats in (("before", r.before), ("after", r.after)):
        rows.append((name, *_fmt(stats.describe(stats.words)), *_fmt(stats.describe(stats.tokens)), stats.over(r.budget)))
    title = f"words and {r.encoder} tokens (budget {r.budget})"
    console.print(table(title, ["", "words mean", "median", "max", "tokens mean", "median", "max", "over budget"], rows))
    if r.example:
        sid, long, short = r.example
        console.print(f"[bold]{escape(sid)}[/]: {len(long.split())} words -> [italic]{escape(short)}[/]")
    if r.all_fit_before:
        fit = f"every text already fits the {r.budget}-token budget of {escape(r.encoder)}"
        if r.passed_through:
            console.print(f"{fit}: copied unchanged (--pass-through), no model needed")
        else:
            console.print(f"note: {fit}; --pass-through copies such texts unchanged, without a model")
    if r.retried:
        console.print(f"{len(set(r.retried))} summaries were over budget and rewritten with the stricter instruction")
    if r.over_budget:
        shown = ", ".join(r.over_budget[:6]) + (" …" if len(r.over_budget) > 6 else "")
        err_console.print(
            f"[red]{len(r.over_budget)} summaries are still over the budget (or empty)[/]: {escape(shown)}. They are written "
            f"unchanged with \"over_budget\": true, not truncated; try a stronger --model or edit {escape(r.output.name)}"
        )
    if r.missing:
        err_console.print(f"[yellow]{len(r.missing)} samples have no text[/] and were skipped; `pointdiff caption` describes them")


def register(app: typer.Typer) -> None:
    """Add the ``summarize`` command to ``app``."""

    @app.command("summarize", help=HELP)
    @common.generation_options
    def summarize_cmd(
        dataset: Optional[Path] = typer.Argument(None, help="Dataset folder. Default: WORKSPACE/dataset.", show_default=False),
        model: Optional[str] = typer.Option(None, "--model", "-m", help="Hub id (downloaded on first use) or model folder. Default: Qwen/Qwen2.5-7B-Instruct.", show_default=False),
        encoder: Optional[str] = typer.Option(None, "--encoder", "-e", help="Whose token budget: minilm, clip, a hub id or folder. Default: the dataset's embeddings encoder, else minilm.", show_default=False),
        pass_through: Optional[bool] = typer.Option(None, "--pass-through/--no-pass-through", help="Copy texts that already fit the budget unchanged. Default: no.", show_default=False),
        retries: Optional[int] = typer.Option(None, help="Rewrites of a summary over budget before it is flagged. Default: 1.", show_default=False),
        instruction: Optional[str] = typer.Option(None, help="The instruction; {text} stands for the description. Default: the reference's.", show_default=False),
        max_new_tokens: Optional[int] = typer.Option(None, "--max-new-tokens", help="Longest answer in tokens. Default: 128.", show_default=False),
        batch_size: Optional[int] = typer.Option(None, "--batch-size", "-b", help="Descriptions per generate call. Default: 8.", show_default=False),
        generation: Optional[dict[str, Any]] = None,  # --device, --dtype, --sample, --seed, --revision, --trust-remote-code
        cache: Optional[Path] = typer.Option(None, "--cache", help="Result cache file. Default: WORKSPACE/cache/summarize.jsonl.", show_default=False),
        offline: bool = common.OfflineOpt,
        workspace: Optional[Path] = common.WorkspaceOpt,
        config: Optional[Path] = common.ConfigOpt,
    ) -> None:
        from pointdiff.config import load_config
        from pointdiff.device import resolve_device
        from pointdiff.distributed import launch
        from pointdiff.text.summarize import SummarizeConfig, summarize

        common.set_offline(offline)
        ws = common.workspace(workspace)
        overrides = {**(generation or {}), "model": model, "max_new_tokens": max_new_tokens, "batch_size": batch_size,
                     "encoder": encoder, "pass_through": pass_through, "retries": retries, "instruction": instruction}
        cfg = load_config(SummarizeConfig, workspace_section=ws.section("summarize"), config_file=config, overrides=overrides)
        root, cache_path = dataset or ws.dataset, cache or ws.root / "cache" / "summarize.jsonl"
        with launch(resolve_device(cfg.device)) as dist:  # torchrun's process group; none in a plain process
            if not dist.is_main:  # every process summarizes its share; process 0 writes and talks
                summarize(root, cfg, cache_path=cache_path, dist=dist)
                return
            with ExitStack() as stack:  # process 0's bar counts every process's batches
                result = summarize(root, cfg, cache_path=cache_path, progress=LazyBar(stack, "summarize"), dist=dist)
        _render(result)
