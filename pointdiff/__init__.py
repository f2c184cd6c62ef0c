"""pointdiff: images -> captions -> text embeddings -> conditional flow matching on 2-D point clouds.

The core package never prints and never imports typer or rich; `pointdiff.cli` is the only
place that talks to a terminal.
"""

__version__ = "0.1.0"
