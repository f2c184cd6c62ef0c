"""Conventions of image folders that every stage reading one shares.

Which file holds captions beside the images (diffusers' ``metadata.jsonl``), and the order
files are visited in (natural: ``frame2`` before ``frame10``), so that ``ingest`` and
``caption`` see a folder the same way.
"""

from __future__ import annotations

import re
from typing import Any

METADATA_FILE = "metadata.jsonl"  # diffusers' image-folder convention: {"file_name": ..., "text": ...} per line


_DIGITS = re.compile(r"(\d+)")  # split keeps the runs: text, digits, text, ..., text


def natural_key(name: str) -> list[Any]:
    """Sort key that orders digit runs as numbers: ``frame2`` < ``frame10``."""
    # Runs are told by position, not by str.isdigit: "²" is a digit to isdigit, not to int().
    return [int(t) if i % 2 else t.lower() for i, t in enumerate(_DIGITS.split(name))]


def natural_bytes(name: str) -> bytes:
    """:func:`natural_key` as bytes that sort the same way byte by byte, for a sort outside Python (ingest's, in SQLite).

    A text run is its lower-cased UTF-8 and a NUL (which no file name holds, so a shorter run
    sorts first); a digit run is its value's length in two bytes and its digits, so 7 < 10 and
    ``007`` equals ``7`` as in the key.
    """
    out = bytearray()
    for i, t in enumerate(_DIGITS.split(name)):
        if i % 2:
            digits = str(int(t)).encode()  # also ASCII for other scripts' digits: int() reads them
            out += len(digits).to_bytes(2, "big") + digits
        else:
            out += t.lower().encode("utf-8", "surrogatepass") + b"\0"  # code point order, unpaired surrogates too
    return bytes(out)
