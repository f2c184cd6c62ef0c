"""The `pointdiff` executable: one Typer app, one module per subcommand.

Each ``pointdiff/cli/<command>.py`` defines a ``register(app)`` that adds its command;
this file wires them together, adds ``--version``, and turns ``PointdiffError`` into a
one-line message and a non-zero exit instead of a traceback.
"""

from __future__ import annotations

import sys

import typer

from pointdiff import __version__
from pointdiff.errors import PointdiffError

app = typer.Typer(
    name="pointdiff",
    help=(
        "Text-to-picture with flow matching on 2-D point clouds.\n\n"
        "images -> ingest -> caption -> summarize -> embed -> train -> generate.\n\n"
        "Each command reads what the previous one wrote in the workspace "
        "(./pointdiff-work unless --workspace, $POINTDIFF_WORKSPACE or pointdiff.yaml say otherwise)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"pointdiff {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """pointdiff: draw pictures from words with a small flow-matching model."""


def _register_all() -> None:
    import inspect

    from pointdiff.cli import caption, embed, generate, ingest, summarize, train
    from pointdiff.cli import eval as eval_cmd
    from pointdiff.cli import inspect as inspect_cmd
    from pointdiff.cli.render import reflow

    for module in (ingest, caption, summarize, embed, train, generate, inspect_cmd, eval_cmd):
        module.register(app)
    for info in app.registered_commands:  # paragraphs, not the docstrings' source line breaks
        text = info.help or inspect.getdoc(info.callback)
        if text:
            info.help = reflow(text)


_register_all()


def main() -> None:
    """Entry point of the console script."""
    from pointdiff.cli.render import err_console

    try:
        app()
    except PointdiffError as e:
        err_console.print(f"[bold red]error:[/] {e}")
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        sys.exit(130)
