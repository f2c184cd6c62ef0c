"""`pointdiff embed`: texts -> vectors, the similarity table, and prompt checks.

    pointdiff embed                                   # the workspace dataset, default encoder (minilm)
    pointdiff embed DATASET --encoder clip            # the reference's CLIP ViT-B/32 (must be on this machine)
    pointdiff embed --text "left-facing neutral" --text "smiling, turned right" --top 3
    torchrun --nproc_per_node 2 -m pointdiff embed    # 2 processes share the texts; process 0 writes and reports
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from pointdiff.cli import common
from pointdiff.cli.render import LazyBar, console, err_console, table
from pointdiff.progress import ProgressFn

if TYPE_CHECKING:  # the core imports torch; load it only when the command runs, so --help stays fast
    from pointdiff.embedding import EmbedResult, PromptReport


def _n(count: int, word: str) -> str:
    """``1 text`` / ``3 texts``."""
    return f"{count} {word}" + ("" if count == 1 else "s")


def _short(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _render_embed(r: EmbedResult) -> None:
    from pointdiff.text.similarity import REFERENCE_STATS

    console.print(f"encoder: {r.encoder.describe()}")
    sources = ", ".join(f"{n} {k}" for k, n in sorted(r.sources.items()))
    if r.up_to_date:
        console.print(f"[green]up to date[/]: {len(r.ids)} embeddings in {r.path} match the texts and encoder; nothing to do (--force redoes it)")
    else:
        console.print(f"embedded {_n(r.encoded, 'text')} ({r.reason}; {r.reused} reused) in {r.seconds:.1f} s -> {r.path}")
    console.print(f"texts: {sources}")
    if r.missing:
        shown = ", ".join(r.missing[:8]) + (" …" if len(r.missing) > 8 else "")
        err_console.print(f"[yellow]{_n(len(r.missing), 'sample')} without text left out[/] ({shown}); `pointdiff caption` describes them")
    if r.over_budget:
        items = sorted(r.over_budget.items(), key=lambda kv: -kv[1])
        shown = ", ".join(f"{i} ({n})" for i, n in items[:8]) + (" …" if len(items) > 8 else "")
        err_console.print(
            f"[yellow]{_n(len(items), 'text')} longer than the encoder's {r.encoder.max_tokens} tokens, truncated[/]: "
            f"{shown}; shorten them with `pointdiff summarize`"
        )
    sim = r.similarity
    if sim is None:
        return
    if sim.stats is not None:
        s = sim.stats
        rows = [
            ["min", s.min, REFERENCE_STATS["min"]],
            ["max", s.max, REFERENCE_STATS["max"]],
            ["mean", s.mean, REFERENCE_STATS["mean"]],
            ["std", s.std, REFERENCE_STATS["std"]],
            ["pairs", f"{s.num_pairs:,}", f"{302 * 301 // 2:,}"],
        ]
        t = table("pairwise cosine similarity", ["", f"this set ({r.encoder.id})", "reference (CLIP ViT-B/32, 302 summaries)"], rows)
        if r.encoder.family != "clip":
            t.caption = "levels differ between encoders (CLIP's cosines run high): compare the spread, not the values"
        console.print(t)
        for title, pairs in (("most similar pairs (different texts)", s.most_similar), ("least similar pairs", s.least_similar)):
            if pairs:
                prow = [[p.cosine, r.ids[p.i], _short(r.texts[p.i], 50), r.ids[p.j], _short(r.texts[p.j], 50)] for p in pairs]
                console.print(table(title, ["cosine", "id", "text", "id", "text"], prow))
    if sim.duplicates:
        console.print(f"duplicate texts: {_n(len(sim.duplicates), 'text')} shared by {sim.num_duplicate_rows} samples, e.g.")
        for d in sim.duplicates[:3]:
            ids = ", ".join(r.ids[k] for k in d.rows[:4]) + (" …" if len(d.rows) > 4 else "")
            console.print(f"  ×{len(d.rows)}  {_short(d.text)!r}  ({ids})")
    else:
        console.print("duplicate texts: none")
    if sim.histogram is not None:
        exact = sim.stats is None or sim.stats.histogram_exact
        console.print(f"histogram: {sim.histogram}" + ("" if exact else f" ({len(sim.stats.histogram_values):,} randomly drawn pairs, seeded)"))


def _render_prompts(r: PromptReport) -> None:
    console.print(f"encoder: {r.encoder.describe()}")
    labels = [f"#{k + 1}" for k in range(len(r.prompts))]
    console.print(table("prompts", ["", "prompt", "tokens"], [[lab, p, n] for lab, p, n in zip(labels, r.prompts, r.tokens)]))
    over = [lab for lab, n in zip(labels, r.tokens) if n > r.encoder.max_tokens]
    if over:
        err_console.print(f"[yellow]{', '.join(over)} exceed the encoder's {r.encoder.max_tokens} tokens and are truncated[/]")
    if len(r.prompts) > 1:
        rows = [[lab, *[float(v) for v in r.similarity[k]]] for k, lab in enumerate(labels)]
        console.print(table("cosine similarity", ["", *labels], rows))
    for lab, prompt, near in zip(labels, r.prompts, r.neighbours):
        rows = [[n.cosine, n.id + (f" (+{n.count - 1})" if n.count > 1 else ""), _short(n.text, 80)] for n in near]
        console.print(table(f"{lab} {_short(prompt, 50)!r}: nearest dataset texts", ["cosine", "sample", "text"], rows))
    if r.note:
        err_console.print(f"[yellow]{r.note}[/]")


def register(app: typer.Typer) -> None:
    """Add the `embed` command to ``app``."""

    @app.command()
    def embed(
        dataset: Optional[Path] = typer.Argument(None, help="Dataset folder (default: the workspace's dataset)."),
        text: Optional[list[str]] = typer.Option(None, "--text", "-t", help="A prompt to compare (repeat for several); nothing is written."),
        top: int = typer.Option(3, "--top", help="With --text: how many nearest dataset texts to show per prompt."),
        encoder: Optional[str] = typer.Option(None, "--encoder", "-e", help="minilm (default, shipped with pointdiff), clip, a hub id (downloaded on first use), or a model folder."),
        batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Texts per forward pass (default 64)."),
        device: Optional[str] = common.DeviceOpt,
        trust_remote_code: bool = typer.Option(False, "--trust-remote-code", help="Let the encoder's folder run its own Python code."),
        allow_missing: bool = typer.Option(False, "--allow-missing", help="Embed only samples that have text; training leaves the rest out."),
        force: bool = typer.Option(False, "--force", help="Re-encode everything even if the embeddings are current."),
        stats: Optional[bool] = typer.Option(None, "--stats/--no-stats", help="Show the similarity table and write the histogram (default: on)."),
        config: Optional[Path] = common.ConfigOpt,
        offline: bool = common.OfflineOpt,
        workspace: Optional[Path] = common.WorkspaceOpt,
    ) -> None:
        """Embed each sample's text (summary > caption), show how alike they are; or compare prompts with --text.

        Writes DATASET/embeddings.safetensors (one unit vector per sample, with the encoder's id,
        size and weights hash) and DATASET/similarity_hist.png. Rows whose text and encoder did
        not change are reused: a second run does no work. Texts longer than the encoder reads
        (MiniLM 256 tokens, CLIP 77) are truncated and listed.

        Under torchrun (`torchrun --nproc_per_node N -m pointdiff embed`) the N processes each
        encode a share of the texts; process 0 writes the file and reports.

        Examples:
          pointdiff embed
          pointdiff embed data/photos --encoder clip
          pointdiff embed --text "left-facing neutral" --text "smiling, turned right" --top 3
        """
        from pointdiff.config import load_config
        from pointdiff.device import resolve_device
        from pointdiff.distributed import from_env, launch
        from pointdiff.embedding import EmbedConfig, compare_prompts, embed_dataset

        common.set_offline(offline)
        ws = common.workspace(workspace)
        root = dataset or ws.dataset
        overrides = {
            "encoder": encoder, "batch_size": batch_size, "device": device, "stats": stats,
            # an unset switch must not override a config file that turns it on
            "trust_remote_code": trust_remote_code or None, "allow_missing": allow_missing or None, "force": force or None,
        }
        cfg = load_config(EmbedConfig, workspace_section=ws.section("embed"), config_file=config, overrides=overrides)
        if text:
            if not from_env().is_main:  # a few prompts are no work to share: process 0 answers alone
                return
            with err_console.status("encoding prompts"):
                rep = compare_prompts(
                    list(text), root if root.is_dir() else None, encoder=encoder, top=top, device=cfg.device,
                    trust_remote_code=cfg.trust_remote_code, fallback_encoder=cfg.encoder,
                )
            _render_prompts(rep)
            return
        with launch(resolve_device(cfg.device)) as dist:  # torchrun's process group; none in a plain process
            if not dist.is_main:  # every process encodes its share; process 0 talks
                embed_dataset(root, cfg, dist=dist)
                return
            console.print(f"dataset: {root}")
            with ExitStack() as stack:
                bar: ProgressFn = LazyBar(stack, "embed" + (" (process 0's share)" if dist.active else ""))
                result = embed_dataset(root, cfg, progress=bar, dist=dist)
        _render_embed(result)
