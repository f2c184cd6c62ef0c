"""`pointdiff ingest`: parse flags, call :func:`pointdiff.data.ingest.ingest`, render the report."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from pointdiff.cli import common
from pointdiff.cli.render import console, err_console, progress_bar, table
from pointdiff.config import load_config
from pointdiff.data.ingest import IngestConfig, IngestReport, NothingUsableError, ingest
from pointdiff.progress import ProgressFn

HELP = """Turn images into a dataset of point clouds (every ink pixel kept).

SRC is a folder of images (png, jpg, jpeg, webp, bmp, gif first frame), a folder of
video frames (with --every), or a built-in labelled source: the face renderer
(builtin:faces or builtin:faces-video; builtin:faces-color draws them in colour, with
hair, eye and skin colours in the captions) or letters and digits set in real fonts
(builtin:glyphs).

With --color every ink pixel keeps its colour: clouds of (x, y, r, g, b) points, and a
model trained on them draws in colour. Ink is still a pixel darker than --threshold.

Captions are picked up from a metadata.jsonl in the folder (file_name + text, the
diffusers image-folder convention; other keys become labels) or from sidecar
IMAGE.txt / IMAGE.caption files (kohya). Files that cannot be used are listed in
DATASET/rejected.jsonl with a reason; only a source with nothing usable is an error.

Writes DATASET/manifest.jsonl (one readable line per sample), dataset.json, the ink
arrays, and contact_sheet.png (sampled clouds, for a quick look). An ingest of a
folder that was killed or interrupted continues where it stopped when run again
with the same source and settings.

Examples:
  pointdiff ingest builtin:faces --count 600
  pointdiff ingest builtin:faces-video --count 1800 --every 6 --out data/video
  pointdiff ingest photos/ --recursive --out data/photos
  pointdiff ingest frames/ --every 6 --threshold 100
  pointdiff ingest builtin:faces --descriptions --overwrite
  pointdiff ingest builtin:glyphs --count 620 --out data/glyphs
  pointdiff ingest builtin:faces-color --out data/color
  pointdiff ingest paintings/ --color
"""


def _render(rep: IngestReport, to_err: bool = False) -> None:
    """Print the summary tables of an ingest report."""
    out = err_console if to_err else console
    stats = rep.ink_stats()
    rows: list[tuple[str, object]] = [
        ("source", escape(rep.source)),
        ("files seen", rep.files_seen),
        ("taken", rep.taken),
        ("rejected", len(rep.rejected)),
    ]
    if rep.skipped_by_every:
        rows.append(("skipped by --every", rep.skipped_by_every))
    if rep.resumed:
        rows.append(("continued", f"{rep.resumed} image(s) read by an interrupted run were not read again"))
    if rep.taken:
        rows.append(("captions", ", ".join(f"{n} none" if k == "none" else f"{n} from {k}" for k, n in rep.captions.most_common())))
        if rep.alt_captions:
            rows.append(("more captions", f"{rep.alt_captions} beyond each picture's first (each trains as another phrasing of its picture)"))
        rows.append(("with labels", rep.labelled))
    if rep.caption_files:
        rows.append(("caption files read", rep.caption_files))
    if rep.resized:
        rows.append(("shrunk to --max-size", rep.resized))
    if stats:
        rows.append(("ink pixels min / median / max", f"{stats[0]:,} / {stats[1]:,} / {stats[2]:,}"))
    if rep.descriptions:
        rows.append(("long descriptions", f"{rep.descriptions} -> captions.jsonl"))
    if rep.taken:
        rows.append(("dataset", escape(str(rep.out))))
    if rep.contact_sheet:
        rows.append(("contact sheet", escape(str(rep.contact_sheet))))
    if rep.seconds:
        rows.append(("time", f"{rep.seconds:.1f} s" + (f" ({rep.workers} worker processes)" if rep.workers > 1 else "")))
    out.print(table("ingest", ["", "value"], rows, justify_numbers=False))
    groups = rep.rejected_by_kind()
    if groups:
        rej = [(kind, len(items), escape("; ".join(f"{r.source} ({r.detail})" for r in items[:3]) + (" ..." if len(items) > 3 else ""))) for kind, items in groups.items()]
        out.print(table("rejected (all in rejected.jsonl)" if rep.taken else "rejected", ["reason", "count", "examples"], rej))
    for note in rep.notes[:10]:
        out.print(f"[yellow]note:[/] {escape(note)}")
    if len(rep.notes) > 10:
        out.print(f"[yellow]note:[/] ... and {len(rep.notes) - 10} more")


def register(app: typer.Typer) -> None:
    """Add the ``ingest`` command to ``app``."""

    @app.command("ingest", help=HELP)
    def ingest_cmd(
        src: str = typer.Argument(..., metavar="SRC", help="Folder of images / frames, or builtin:faces, builtin:faces-video, builtin:glyphs.", show_default=False),
        out: Optional[Path] = typer.Option(None, "--out", "-o", help="Dataset folder to create. Default: WORKSPACE/dataset.", show_default=False),
        threshold: Optional[int] = typer.Option(None, help="Ink is a gray pixel (0-255) darker than this; default 128. Raise it for faint pencil, lower it for grey paper or noisy scans.", show_default=False),
        max_size: Optional[int] = typer.Option(None, "--max-size", help="Shrink the longer side to this many pixels first, so a photo keeps its shape without millions of ink pixels. Default 512.", show_default=False),
        recursive: Optional[bool] = typer.Option(None, "--recursive/--no-recursive", "-r", help="Also read subfolders; ids keep them (sub/photo). Default: no.", show_default=False),
        every: Optional[int] = typer.Option(None, help="Keep every Nth file per folder in natural order (frame2 before frame10); default 1. For video frames, e.g. --every 6 like the reference.", show_default=False),
        count: Optional[int] = typer.Option(None, help="builtin only: faces, glyphs (or video frames, before --every) to render. Default 600.", show_default=False),
        seed: Optional[int] = common.SeedOpt,
        descriptions: Optional[bool] = typer.Option(None, "--descriptions/--no-descriptions", help="builtin:faces only: also write each face's long description to captions.jsonl, as `pointdiff caption` would. Default: no.", show_default=False),
        captions: Optional[int] = typer.Option(None, "--captions", help="builtin only: short captions per picture, each another phrasing of the same labels; training draws one per use, so the model learns words rather than sentences. Default 5 (COCO has 5 per image).", show_default=False),
        workers: Optional[int] = typer.Option(None, "--workers", help="Processes that open and threshold a folder's images in parallel; the dataset is the same for any number. 1 reads in this process. Default: all cores.", show_default=False),
        color: Optional[bool] = typer.Option(None, "--color/--no-color", help="Keep each ink pixel's RGB: (x, y, r, g, b) clouds, drawn in colour. Default: no, except builtin:faces-color.", show_default=False),
        contact_sheet: Optional[int] = typer.Option(None, "--contact-sheet", help="Clouds drawn on contact_sheet.png, spread over the dataset; 0 for none. Default 36.", show_default=False),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing dataset at --out, with everything in it (captions, embeddings)."),
        workspace: Optional[Path] = common.WorkspaceOpt,
        config: Optional[Path] = common.ConfigOpt,
    ) -> None:
        ws = common.workspace(workspace)
        overrides = dict(threshold=threshold, max_size=max_size, recursive=recursive, every=every, count=count, seed=seed, descriptions=descriptions, captions=captions, contact_sheet=contact_sheet, workers=workers, color=color)
        cfg = load_config(IngestConfig, workspace_section=ws.section("ingest"), config_file=config, overrides=overrides)
        target = out if out is not None else ws.dataset
        try:
            with ExitStack() as stack:
                bar: list[ProgressFn] = []

                def progress(done: int, total: int, **fields: float | str) -> None:
                    if not bar:  # opened on first use, so a refusal up front prints no empty bar
                        bar.append(stack.enter_context(progress_bar("ingest", total)))
                    bar[0](done, total, **fields)

                rep = ingest(src, target, cfg, overwrite=overwrite, progress=progress)
        except NothingUsableError as e:
            if e.report.files_seen:  # show what was seen and why none of it was usable
                _render(e.report, to_err=True)
            raise
        _render(rep)
