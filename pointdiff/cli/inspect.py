"""`pointdiff inspect [PATH]`: what a dataset, a run/checkpoint or an embeddings file holds.

    pointdiff inspect                                  # the workspace: dataset + latest run
    pointdiff inspect pointdiff-work/dataset           # a dataset folder
    pointdiff inspect pointdiff-work/runs/demo         # a run (its newest checkpoint) or a checkpoint folder
    pointdiff inspect data/embeddings.safetensors      # an embeddings file
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer
from rich.markup import escape

from pointdiff.cli import common
from pointdiff.cli.render import console, table

if TYPE_CHECKING:  # the core imports torch; load it only when the command runs
    from pointdiff.report import DatasetReport, EmbeddingsReport, RunReport, SimilaritySummary


def _short(text: str, width: int = 48) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _yes_no(value: bool | None, yes: str = "yes", no: str = "[red]no[/]", unknown: str = "unknown") -> str:
    return unknown if value is None else (yes if value else no)


def _similarity(sim: SimilaritySummary | None) -> None:
    from pointdiff.text.similarity import REFERENCE_STATS

    if sim is None:
        return
    rows = [[k, getattr(sim, k), REFERENCE_STATS[k]] for k in ("min", "max", "mean", "std")]
    console.print(table(f"pairwise cosine similarity ({sim.n} vectors)", ["", "this set", "reference (CLIP, 302 summaries)"], rows))
    for title, pairs in (("most similar (different texts)", sim.most_similar), ("least similar", sim.least_similar)):
        if pairs:
            console.print(table(title, ["cosine", "text", "text"], [[c, escape(_short(a)), escape(_short(b))] for a, b, c in pairs]))
    if sim.duplicate_texts:
        console.print(f"{sim.duplicate_texts} samples share their text with another sample")


def _embeddings(r: EmbeddingsReport, title: str = "embeddings") -> None:
    enc = r.encoder
    rows: list[tuple[str, Any]] = [
        ("file", escape(str(r.path))),
        ("encoder", f"{enc['id']} ({enc['family']}, {enc['dim']}-d, {enc['max_tokens']} tokens, weights {enc['weights_sha256'][:8]}…)"),
        ("vectors", f"{r.rows} × {r.dim}"),
        ("unit length", _yes_no(r.unit_norm)),
        ("truncated texts", r.over_budget),
    ]
    if r.up_to_date is not None:
        rows.append(("matches the dataset's texts", "yes" if r.up_to_date else f"[red]no[/] ({r.stale_reason}; run `pointdiff embed`)"))
    console.print(table(title, ["", "value"], rows, justify_numbers=False))
    _similarity(r.similarity)


def _dataset(r: DatasetReport) -> None:
    info = r.info
    ink = r.ink
    rows: list[tuple[str, Any]] = [
        ("folder", escape(str(r.path))),
        ("source", escape(str(info.get("source", "?"))) + (f" (count {info['count']}, seed {info['seed']})" if "seed" in info else "")),
        ("samples", r.num_samples),
        ("rejected inputs", r.rejected),
        ("image sizes", ", ".join(f"{k} ×{n}" for k, n in list(r.image_sizes.items())[:4]) + (" …" if len(r.image_sizes) > 4 else "")),
    ]
    if ink:
        rows.append(("ink pixels min / median / mean / max", f"{ink['min']:,.0f} / {ink['median']:,.0f} / {ink['mean']:,.0f} / {ink['max']:,.0f}"))
        per_point = 20 if info.get("color") else 8  # float32 (x, y), or (x, y, r, g, b)
        rows.append(("ink pixels in all", f"{ink['total']:,.0f} ({ink['total'] * per_point / 2**20:,.1f} MiB as training points)"))
    rows.append(("points", "(x, y, r, g, b): colour (ink_rgb.npy)" if info.get("color") else "(x, y)"))
    ts = r.text_sources
    rows.append(("text used (summary > caption > source)", ", ".join(f"{n} {k}" for k, n in ts.items() if n) or "none"))
    rows.append(("captions.jsonl / summaries.jsonl", f"{r.captions} / {r.summaries}"))
    if r.embeddings is None:
        rows.append(("embeddings", "[yellow]none[/] (run `pointdiff embed`)"))
    else:
        fresh = _yes_no(r.embeddings.up_to_date, "up to date", "[red]out of date[/]")
        rows.append(("embeddings", f"{r.embedded} of {r.num_samples} samples, {r.embeddings.encoder['id']} {r.embeddings.dim}-d, {fresh}"))
    rows.append(("fingerprint", r.fingerprint))
    rows.append(("contact sheet", escape(str(r.contact_sheet)) if r.contact_sheet else "none"))
    console.print(table("dataset", ["", "value"], rows, justify_numbers=False))
    for name, counts in r.labels.items():
        if 1 < len(counts) <= 12:
            console.print(table(f"label: {name}", ["value", "samples"], [[escape(k), v] for k, v in counts.items()]))
    many = [f"{name} ({len(c)} values)" for name, c in r.labels.items() if len(c) > 12]
    if many:
        console.print("other labels: " + ", ".join(many))
    if r.embeddings is not None:
        _similarity(r.embeddings.similarity)


def _run(r: RunReport) -> None:
    enc = r.encoder
    cfg = r.config
    timing = r.meta.get("timing") or {}
    sampling = r.meta.get("sampling") or {}
    rows: list[tuple[str, Any]] = [
        ("checkpoint", escape(str(r.path))),
        ("architecture", f"{r.arch} {json.dumps(r.arch_config)}"),
        ("parameters", f"{r.num_params:,}"),
        ("encoder", f"{enc['id']} ({enc['family']}, {enc['dim']}-d, weights {enc['weights_sha256'][:8] or 'unknown'}…)"),
        ("step", f"{r.step} of {cfg.get('steps', '?')}"),
        ("weights", str(r.meta.get("weights", "?"))),
        ("last loss", f"{r.meta['loss']:.4f}" if isinstance(r.meta.get("loss"), (int, float)) else "?"),
        ("trained on", escape(str(r.dataset)) + f" (fingerprint {r.data_fingerprint})"),
        ("that data now", _yes_no(r.dataset_matches, "unchanged", "[yellow]changed since training[/]", "cannot tell")),
    ]
    if timing:
        rows.append(("training time", f"{timing.get('train_seconds', 0):.1f} s, {timing.get('steps_per_s', 0):.1f} steps/s, {timing.get('points_per_s', 0):,.0f} points/s on {timing.get('device', '?')}"))
    if sampling:
        rows.append(("sampling defaults", f"{sampling.get('solver')} × {sampling.get('steps')} steps, guidance {sampling.get('guidance')}, noise σ {sampling.get('noise_std')}"))
    rows.append(("checkpoints", ", ".join(r.checkpoints[-5:]) + (" …" if len(r.checkpoints) > 5 else "")))
    rows.append(("loss curve", escape(str(r.loss_curve)) if r.loss_curve else "none"))
    console.print(table("run", ["", "value"], rows, justify_numbers=False))
    if cfg:
        console.print(table("config", ["setting", "value"], [[k, escape(str(v))] for k, v in cfg.items()], justify_numbers=False))


def register(app: typer.Typer) -> None:
    """Add the `inspect` command to ``app``."""

    @app.command()
    def inspect(
        path: Optional[Path] = typer.Argument(None, help="A dataset folder, a run or checkpoint folder, or an embeddings file (default: the workspace)."),
        workspace: Optional[Path] = common.WorkspaceOpt,
    ) -> None:
        """Show what a dataset, a training run or an embeddings file holds (default: the workspace's dataset and latest run)."""
        from pointdiff.report import DatasetReport, EmbeddingsReport, RunReport, inspect_path, inspect_workspace

        if path is None:
            ws = common.workspace(workspace)
            rep = inspect_workspace(ws)
            console.print(f"workspace: {escape(str(ws.root))}  ({len(rep.runs)} run{'s' if len(rep.runs) != 1 else ''})")
            if rep.dataset is not None:
                _dataset(rep.dataset)
            else:
                console.print("[yellow]no dataset[/] (run `pointdiff ingest`)")
            if rep.run is not None:
                _run(rep.run)
            else:
                console.print("no runs yet (run `pointdiff train`)")
            return
        found = inspect_path(path)
        if isinstance(found, DatasetReport):
            _dataset(found)
        elif isinstance(found, EmbeddingsReport):
            _embeddings(found)
        elif isinstance(found, RunReport):
            _run(found)
