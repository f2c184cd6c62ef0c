"""Conventions of image folders that every stage reading one shares.

Which file holds captions beside the images (diffusers' ``metadata.jsonl``), and the order
files are visited in (natural: ``frame2`` before ``frame10``), so that ``ingest`` and
``caption`` see a folder the same way.
"""

from __future__ import annotations

import re
from typing import Any

METADATA_FILE = "metadata.jsonl"  # diffusers' image-folder convention: {"file_name": ..., "text": ...} per line


def natural_key(name: str) -> list[Any]:
    """Sort key that orders digit runs as numbers: ``frame2`` < ``frame10``."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]
