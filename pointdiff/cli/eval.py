"""`pointdiff eval [MODEL]`: how well a trained model draws what it is asked.

    pointdiff eval                                   # the workspace's latest run
    pointdiff eval pointdiff-work/runs/demo --steps 8 --solver midpoint
    pointdiff eval RUN --num-samples 4 --seed 1 --out eval/
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer
from rich.markup import escape

from pointdiff.cli import common
from pointdiff.cli.render import console, err_console, progress_bar, table
from pointdiff.errors import PointdiffError

if TYPE_CHECKING:
    from pointdiff.evaluate import CloudMetrics, EvalResult, LabelledSource

HELP = (
    "Evaluate a trained model: metrics table, picture grid (PNG) and numbers (JSON).\n\n"
    "For a model trained on the built-in faces, it draws from held-out paraphrased prompts of every "
    "orientation x expression and compares with freshly rendered faces no run has seen: prompt accuracy "
    "(a scorer reads orientation and expression off each cloud; its accuracy on real held-out faces is shown "
    "beside it as the ceiling), 1-NNA (50% is ideal), MMD, COV, Chamfer and EMD to the nearest reference face "
    "of the prompt's labels. The 'real held-out' column is a second set of real faces scored the same way: "
    "what a perfect generator would get. A second table scores the same orientation x expression pairs "
    "asked three ways: the run's own training captions (their real faces give the ceiling: the gap is what "
    "drawing loses), canonical prompts in the reference's style ('Left-facing, neutral expression') and the "
    "held-out paraphrases (the drop from training captions is what understanding loses).\n\n"
    "A model trained on the built-in glyphs is measured the same way, with one prompt per character "
    "(62, each in a random style) and a scorer that reads character, family, weight and slant.\n\n"
    "For any other dataset it draws from the dataset's own texts and compares with its own pictures "
    "(set metrics and distances; prompt accuracy needs labels)."
)


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _num(x: float | None, digits: int = 4) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _chance(p: float) -> str:
    return f"{100 * p:.1f}".removesuffix(".0") + "%"


# Face prompts name orientation and expression but not the character, and the nearest face by
# Chamfer is mostly the same character: retrieval sits near chance (2.9 %) even for real faces.
_RETRIEVAL_FACES = "higher; near chance even for real faces (prompts do not name the character)"
# A glyph prompt's group is its character (any style), but glyphs are jittered in size and place, which
# Chamfer sees before the shape: the nearest real glyph is seldom the same character, even for real ones.
_RETRIEVAL = {"faces": _RETRIEVAL_FACES, "faces-color": "higher; near chance even for real faces (prompts name only the colours)", "glyphs": "higher; low even for real glyphs (Chamfer sees size and place before shape)"}


def metrics_rows(m: CloudMetrics, kind: str) -> list[list[Any]]:
    """The metrics table of an eval of ``kind`` (faces, glyphs, dataset): metric, generated, real (perfect generator), what is better."""
    r = m.real
    rows: list[list[Any]] = []
    if m.prompt_accuracy is not None:
        for k in m.prompt_accuracy:  # each scored label, then joint
            rows.append([f"prompt accuracy: {k}", _pct(m.prompt_accuracy[k]), _pct(r.prompt_accuracy[k]) if r and r.prompt_accuracy else "—", "higher; real = scorer's ceiling"])
    cs, rs = m.chamfer_sets, r.chamfer_sets if r else None
    rows += [
        ["1-NNA (Chamfer)", _pct(cs.nna), _pct(rs.nna) if rs else "—", "50% ideal"],
        ["MMD (Chamfer)", _num(cs.mmd), _num(rs.mmd) if rs else "—", "lower"],
        ["COV (Chamfer)", _pct(cs.cov), _pct(rs.cov) if rs else "—", "higher"],
        ["Chamfer to reference", _num(m.chamfer_to_ref), _num(r.chamfer_to_ref) if r else "—", "lower"],
        [f"EMD to reference ({m.emd_points or '—'} points)", _num(m.emd_to_ref), _num(r.emd_to_ref) if r else "—", "lower"],
        ["retrieval@1 (Chamfer)", _pct(m.retrieval), _pct(r.retrieval) if r else "—", _RETRIEVAL.get(kind, "higher") if m.prompt_accuracy is not None else "higher"],
    ]
    if m.emd_sets is not None:
        es, res = m.emd_sets, r.emd_sets if r else None
        rows += [
            [f"1-NNA (EMD, {m.emd_points} points)", _pct(es.nna), _pct(res.nna) if res else "—", "50% ideal"],
            ["MMD (EMD)", _num(es.mmd), _num(res.mmd) if res else "—", "lower"],
            ["COV (EMD)", _pct(es.cov), _pct(res.cov) if res else "—", "higher"],
        ]
    return rows


def kind_rows(kinds: dict[str, Any]) -> list[list[Any]]:
    """One row per kind of prompt: its count, accuracy generated vs on real pictures (each label / joint), and 1-NNA."""

    def each(acc: dict[str, float] | None) -> str:
        return "—" if acc is None else " / ".join(_pct(v) for v in acc.values())

    return [[kind, str(v["n"]), each(v["generated"]), each(v["real"]), _pct(v.get("nna"))] for kind, v in kinds.items()]


def chance_text(source: LabelledSource) -> str:
    """``"orientation 20%, expression 14.3%, joint 2.9%"``: what guessing scores on each label."""
    sizes = {n: len(v) for n, v in source.classes().items() if n in source.labels}
    joint = 1.0
    for n in source.labels:
        joint /= sizes[n]
    return ", ".join([*(f"{n} {_chance(1 / sizes[n])}" for n in source.labels), f"joint {_chance(joint)}"])


def _render(res: EvalResult, grid: Path, numbers: Path) -> None:
    from pointdiff.evaluate import LABELLED_SOURCES

    s = res.settings
    source = LABELLED_SOURCES.get(res.kind)
    console.print(
        f"model: {escape(res.run)} (step {res.step}); {res.kind} eval, {res.metrics.n} prompts; "
        f"{s['solver']} × {s['steps']} steps, guidance {s['guidance']:g}, seed {s['seed']}, {s['num_points']} points"
    )
    real = "real held-out" if source is not None else "real"
    console.print(table("evaluation", ["metric", "generated", real, "better"], metrics_rows(res.metrics, res.kind), justify_numbers=False))
    if source is not None and len(res.prompt_kinds) > 1:
        labels = " / ".join([*source.labels, "both" if len(source.labels) == 2 else "all"])
        console.print(table(f"prompt accuracy by kind of prompt: {labels}", ["prompts", "n", "generated", f"real {source.noun}", "1-NNA"], kind_rows(res.prompt_kinds), justify_numbers=False))
        style = "the reference's prompt style" if source.name == "faces" else "a fixed short form in training words"
        console.print(
            f"Real {source.noun} minus generated, for the training captions, is what drawing loses; training captions minus "
            f"held-out paraphrases is what understanding loses (canonical: {style}). 1-NNA: each kind's clouds against the real "
            f"held-out {source.noun} (50% ideal)."
        )
    if res.scorer and source is not None:
        console.print(f"scorer: {res.scorer} (fitted on other real {source.noun}); chance: {chance_text(source)}")
    for note in res.notes:
        err_console.print(f"[yellow]note:[/] {escape(note)}")
    console.print(f"grid: {escape(str(grid))}")
    console.print(f"numbers: {escape(str(numbers))}")


def register(app: typer.Typer) -> None:
    """Add the `eval` command to ``app``."""

    @app.command("eval", help=HELP)
    def eval_cmd(
        model: Optional[Path] = typer.Argument(None, help="Run or checkpoint folder (default: the workspace's latest run)."),
        num_samples: int = typer.Option(2, "--num-samples", "--num-images-per-prompt", "-n", help="Built-in labelled data: clouds per label combination (faces: 35 orientation × expression pairs; glyphs: 62 characters); other data: samples per picture in the grid."),
        steps: Optional[int] = typer.Option(None, "--steps", "--num-inference-steps", help="Solver steps (default: the run's own)."),
        solver: Optional[str] = typer.Option(None, "--solver", help="euler, midpoint, heun, rk4 or adaptive (default: the run's own)."),
        guidance: Optional[float] = typer.Option(None, "--guidance", "--guidance-scale", help="Classifier-free guidance scale, 1 = off (default: the run's own)."),
        seed: int = typer.Option(0, "--seed", help="Noise seed of the generated clouds."),
        precision: Optional[str] = typer.Option(None, "--precision", help="auto, bf16 or fp32 (default: the run's own, as generate samples)."),
        device: Optional[str] = common.DeviceOpt,
        scorer: str = typer.Option("classifier", "--scorer", help="Prompt-accuracy judge: classifier (density CNN) or nearest (1-NN by Chamfer)."),
        max_prompts: int = typer.Option(64, "--max-prompts", help="Other data: pictures evaluated, spread over the dataset."),
        dataset: Optional[Path] = typer.Option(None, "--dataset", help="Evaluate against this dataset instead of the one the model was trained on."),
        prompt_kinds: bool = typer.Option(True, "--prompt-kinds/--no-prompt-kinds", help="Built-in labelled data: also score the run's training captions and canonical prompts, beside the held-out paraphrases."),
        set_emd: bool = typer.Option(False, "--set-emd", help="Also MMD / COV / 1-NNA by exact EMD (slow: minutes)."),
        no_emd: bool = typer.Option(False, "--no-emd", help="Skip EMD to reference."),
        emd_points: int = typer.Option(512, "--emd-points", help="EMD on this many points per cloud (exact assignment, O(n³): 1024 takes ~0.1-1 s per cloud)."),
        out: Optional[Path] = typer.Option(None, "--out", help="Folder for the grid and JSON (default: workspace/outputs/eval-<run>-<step>)."),
        workspace: Optional[Path] = common.WorkspaceOpt,
    ) -> None:
        from pointdiff.evaluate import EvalConfig, evaluate_run, save_grid
        from pointdiff.pipeline import load
        from pointdiff.store import write_json

        ws = common.workspace(workspace)
        path = model or ws.latest_run()
        if path is None:
            raise PointdiffError(f"no model to evaluate: no runs in {ws.runs}; train one with `pointdiff train` or name a run folder")
        pipe = load(path, device=device)
        cfg = EvalConfig(num_samples=num_samples, steps=steps, solver=solver, guidance=guidance, seed=seed, precision=precision, scorer=scorer, prompt_kinds=prompt_kinds, max_prompts=max_prompts, emd=not no_emd, set_emd=set_emd, emd_points=emd_points)
        if num_samples < 1:
            raise PointdiffError("--num-samples must be at least 1")
        with progress_bar("eval", 5) as bar:
            res = evaluate_run(pipe, cfg, cache_dir=ws.root / "cache" / "eval", dataset=dataset, progress=lambda d, t, **f: bar(d, t, **f))
        folder = out or ws.outputs / f"eval-{res.run_name}-{pipe.run.path.name}"
        grid = save_grid(res, Path(folder) / "grid.png", cfg.grid_rows)
        numbers = Path(folder) / "eval.json"
        write_json(numbers, res.to_dict())
        _render(res, grid, numbers)
